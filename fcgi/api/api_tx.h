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
 * The pieces of api_tx_run(), for a driver that runs several transactions
 * on one session (market resolution): fill s for r (iat: the preamble's
 * parameter text, living as long as s), and answer r for a tx_run()
 * result — 0 for TX_RESULT_DONE (nothing answered), or -1 after answering.
 * The caller adds s->attempts into r->attempts.
 */
void api_tx_session(struct request *r, struct db_session *s, char iat[24]);
int api_tx_answer(struct request *r, enum tx_result res, const struct db_session *s);

/*
 * Finish a read handler after api_tx_run() (rc is its result), taking
 * ownership of out: rc < 0 means the request was answered already and out
 * is released; a NULL out answers 404 with missing_code; otherwise 200
 * with {key: out}, or out itself when key is NULL.
 */
void api_answer_read(struct request *r, int rc, struct json_object *out, const char *key,
                     const char *missing_code, const char *missing_detail);

#endif
