/*
 * api_tx.h — a request's transactions, and what the API answers when the
 * store layer reports a failure.
 *
 * api_tx_run() is tx_run() (store/db.h) for a request: it fills the
 * session from the request (its id, pool, start time and, for a verified
 * token, the revocation check as the preamble of every transaction), sums
 * the attempts into the request for the access log, and turns each
 * failure into the one answer it deserves:
 *   unavailable            503 database_unavailable + Retry-After
 *   retries exhausted      503 contention + Retry-After
 *   the token revoked      401 token_revoked
 *   SQLSTATE 22003         422 amount_out_of_range (a sum past bigint that
 *                          no C check caught first; rolled back)
 *   anything else          500 internal_error
 */
#ifndef ZS_API_TX_H
#define ZS_API_TX_H

#include <json-c/json.h>

#include "api/http.h"
#include "store/db.h"

/* 0 when fn's decision was carried out (*decision says which), or -1 after answering. */
int api_tx_run(struct request *r, int flags, tx_fn fn, void *arg, enum tx_decision *decision);

/*
 * Finish a read handler after api_tx_run() (rc is its result), taking
 * ownership of out: rc < 0 means the request was answered already and out
 * is released; a NULL out answers 404 with missing_code; otherwise 200
 * with {key: out}, or out itself when key is NULL.
 */
void api_answer_read(struct request *r, int rc, struct json_object *out, const char *key,
                     const char *missing_code, const char *missing_detail);

#endif
