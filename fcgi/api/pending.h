/*
 * pending.h — the HTTP side of pending (two-phase) transfers: POST /transfer
 * with "pending": true (its mutation ops), the post and void routes
 * (routes.h), and GET /transfers/{id}'s view of one.
 */
#ifndef ZS_API_PENDING_H
#define ZS_API_PENDING_H

#include <json-c/json.h>
#include <libpq-fe.h>

#include "api/mutation.h"
#include "util.h"

/* POST /transfer with "pending": true (parse and authorize are transfer.c's). */
extern const struct mutation_ops pending_create_ops;

struct transfer_req;

/* The statements that create one pending transfer (its hold on the payer,
 * then its row), with the values they need; they live as long as it does. */
struct pending_create_stmts {
    char id[UUID_STR_LEN + 1], amt[24], tmo[24], expires[40];
    const char *p_held[2], *p_rec[9];
    struct tx_stmt st[2];
};

/*
 * Fill p for pending transfer q (a fresh id, its deadline now + q->timeout)
 * recorded by caller under scoped_key at now (the claim's now()). The
 * payer must be locked and checked. 0, or -1.
 */
int pending_create_prepare(struct pending_create_stmts *p, const struct transfer_req *q,
                           const char *caller, const char *scoped_key, const char *now);

/* A pending transfer just created, as the API shows it (owned by the caller). */
struct json_object *pending_new_json(const struct transfer_req *q, const char *id,
                                     const char *created_at, const char *expires_at);

/* A SQL_PENDING_GET row as the API shows a pending transfer (owned by the caller). */
struct json_object *pending_row_json(PGresult *res);

#endif
