/*
 * account_credit.c — PATCH /accounts/{id} {"credit_limit": N} (admin):
 * set how far below zero a user account's available funds may go.
 *
 * Two round trips, as every mutation: BEGIN, the key claim, the account
 * row locked (ledger_lock_account, the lock every debit and hold of the
 * account takes first) and read; then the new limit, its history row (the
 * verifiable log's `limit` record once sealed), the stored answer and
 * COMMIT. The rule (domain/ledger.h ledger_limit_check()): only a user
 * account has a limit, and a limit is never lowered below what the account
 * already owes — that is refused with 409 credit_limit_in_use and nothing
 * changes, rather than leaving an account beyond its limit.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/accounts.h"
#include "api/mutation.h"
#include "api/routes.h"
#include "domain/ledger.h"
#include "util.h"

struct credit_req {
    char id[UUID_STR_LEN + 1];
    int64_t limit;
};

/* {id} a UUID (else 404 account_not_found, as for GET); the body exactly
 * {"credit_limit": integer 0..2^63-1} (else 422). */
static int credit_parse(struct request *r, void *req)
{
    static const char *const allowed[] = { "credit_limit", NULL };
    struct credit_req *q = req;
    struct json_object *v;

    if (!util_uuid_parse(r->path_params[0], q->id)) {
        http_problem(r, 404, "account_not_found", "no such account");
        return -1;
    }
    if (http_json_refuse_unknown(r, allowed) < 0)
        return -1;
    if (!json_object_object_get_ex(r->json, "credit_limit", &v)) {
        http_problem(r, 422, "missing_field", "\"credit_limit\" is required");
        return -1;
    }
    if (util_json_int64(v, 0, &q->limit) < 0) {
        http_problem(r, 422, "invalid_credit_limit",
                     "\"credit_limit\" must be a JSON integer from 0 to 9223372036854775807"
                     " (minor units)");
        return -1;
    }
    return 0;
}

/* The refusal of limit for the locked account a (found). */
static enum tx_decision credit_refuse(struct mutation *m, struct tx *tx,
                                      const struct ledger_account *a, int64_t limit,
                                      enum ledger_limit_refusal why)
{
    switch (why) {
    case LEDGER_LIMIT_NOT_USER:
        return mut_refuse(m, tx, MUT_STORED, 409, "credit_limit_not_allowed", NULL,
                          "only a user account has a credit limit (this one is %s)",
                          ledger_kind_name(a->kind));
    case LEDGER_LIMIT_IN_USE:
        return mut_refuse(m, tx, MUT_STORED, 409, "credit_limit_in_use",
                          mut_extra_i64("credit_used", ledger_credit_used(a)),
                          "the account already uses %" PRId64 " of credit, more than %" PRId64,
                          ledger_credit_used(a), limit);
    case LEDGER_LIMIT_NEGATIVE: /* parse refused it */
    case LEDGER_LIMIT_OK:
        break;
    }
    return TX_ERROR;
}

/* Lock and read the account (with the key claim), check the new limit
 * against it, then write it with the stored answer and COMMIT. */
static enum tx_decision credit_apply(struct mutation *m, struct tx *tx, void *req)
{
    const struct credit_req *q = req;
    const char *p_id[1] = { q->id };
    char lim[24], hid[UUID_STR_LEN + 1];
    const char *p_set[2] = { q->id, lim };
    const char *p_log[3] = { hid, q->id, lim };
    struct tx_stmt first[2] = { tx_stmt_named(SQL_LEDGER_LOCK_ACCOUNT, p_id),
                                tx_stmt_named(SQL_ACCOUNT_GET, p_id) };
    struct tx_stmt last[2] = { tx_stmt_named(SQL_ACCOUNT_SET_CREDIT_LIMIT, p_set),
                               tx_stmt_named(SQL_ACCOUNT_LOG_CREDIT_LIMIT, p_log) };
    struct ledger_account a;
    struct json_object *acct, *o;
    enum ledger_limit_refusal why;
    enum tx_decision d;

    memset(&a, 0, sizeof(a));
    if (!mut_begin(m, tx, first, 2, &d))
        return d;
    ledger_lock_parse(&a, first[0].res);
    acct = a.found && PQntuples(first[1].res) == 1 ? account_json(first[1].res, 0) : NULL;
    PQclear(first[0].res);
    PQclear(first[1].res);
    if (!a.found)
        return mut_refuse(m, tx, MUT_STORED, 404, "account_not_found", NULL, "no such account");
    if (!acct)
        return TX_ERROR;
    why = ledger_limit_check(&a, q->limit);
    if (why != LEDGER_LIMIT_OK) {
        json_object_put(acct);
        return credit_refuse(m, tx, &a, q->limit, why);
    }
    snprintf(lim, sizeof(lim), "%" PRId64, q->limit);
    if (util_uuid_v4(hid) < 0) {
        json_object_put(acct);
        return TX_ERROR;
    }
    json_object_object_add(acct, "credit_limit", json_object_new_int64(q->limit));
    o = json_object_new_object();
    json_object_object_add(o, "account", acct);
    return mut_commit(m, tx, last, 2, 200, o);
}

static const struct mutation_ops credit_ops = {
    .name = "account_credit_limit",
    .req_size = sizeof(struct credit_req),
    .parse = credit_parse,
    .apply = credit_apply,
};

/* PATCH /accounts/{id} (admin, by the route table). */
void handle_account_patch(struct request *r)
{
    mutation_run(r, &credit_ops);
}
