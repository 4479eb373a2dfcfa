/*
 * transfer.c — POST /transfer and GET /transfers/{id}.
 *
 * One transaction per transfer (READ COMMITTED on PostgreSQL, snapshot
 * isolation on the dsql dialect): claim the idempotency key, lock both
 * accounts in id order (so opposite transfers cannot deadlock), check
 * existence and available funds, move the balances, append the transfer and
 * its two entries, store the answer under the key, commit. Rejections after
 * the key is claimed (unknown account, insufficient funds) are stored too,
 * so a retry replays them instead of succeeding later by accident.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_tx.h"
#include "api/auth.h"
#include "store/db.h"
#include "api/idempotency.h"
#include "domain/ledger.h"
#include "log.h"
#include "api/mutation.h"
#include "api/pending.h"
#include "domain/pending.h"
#include "api/routes.h"
#include "util.h"
#include "api/validate.h"

/* Code points in a valid UTF-8 string (json-c validated it). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* Record a refusal of one transfer's fields: status, code and detail. Returns -1. */
__attribute__((format(printf, 4, 5))) static int refuse(struct transfer_refusal *e, int status,
                                                        const char *code, const char *fmt, ...)
{
    va_list ap;

    e->status = status;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_account(struct json_object *o, const char *field, char out[UUID_STR_LEN + 1],
                         struct transfer_refusal *e)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, field, &v))
        return refuse(e, 422, "missing_field", "\"%s\" is required", field);
    if (!json_object_is_type(v, json_type_string)
        || !util_uuid_parse(json_object_get_string(v), out))
        return refuse(e, 422, "invalid_account_id", "\"%s\" must be an account id (a UUID string)",
                      field);
    return 0;
}

/* "pending" (a boolean, default false) and "timeout" (seconds, only with
 * "pending": true). 0, or -1 with *e filled (422). */
static int parse_pending(struct json_object *o, struct transfer_req *q, struct transfer_refusal *e)
{
    struct json_object *v;

    if (json_object_object_get_ex(o, "pending", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_boolean))
            return refuse(e, 422, "invalid_pending", "\"pending\" must be true or false");
        q->pending = json_object_get_boolean(v);
    }
    q->timeout = PENDING_TIMEOUT_DEFAULT;
    if (!json_object_object_get_ex(o, "timeout", &v) || json_object_is_type(v, json_type_null))
        return 0;
    if (!q->pending)
        return refuse(e, 422, "timeout_without_pending",
                      "\"timeout\" applies only to a transfer with \"pending\": true");
    if (util_json_int64(v, PENDING_TIMEOUT_MIN, &q->timeout) < 0
        || !pending_timeout_valid(q->timeout))
        return refuse(e, 422, "invalid_timeout",
                      "\"timeout\" must be a JSON integer from %d to %d (seconds)",
                      PENDING_TIMEOUT_MIN, PENDING_TIMEOUT_MAX);
    return 0;
}

int transfer_fields_parse(struct json_object *o, struct transfer_req *q, struct transfer_refusal *e)
{
    static const char *const allowed[] = { "from",    "to",      "amount", "memo",
                                           "pending", "timeout", NULL };
    struct json_object *v;
    const char *unknown;

    memset(q, 0, sizeof(*q));
    if (!json_object_is_type(o, json_type_object))
        return refuse(e, 422, "invalid_transfer", "a transfer must be a JSON object");
    if ((unknown = util_json_unknown_member(o, allowed)))
        return refuse(e, 422, "unknown_field", "unknown field \"%.64s\"", unknown);
    if (parse_account(o, "from", q->from, e) < 0 || parse_account(o, "to", q->to, e) < 0)
        return -1;
    if (!json_object_object_get_ex(o, "amount", &v))
        return refuse(e, 422, "missing_field", "\"amount\" is required");
    if (util_json_int64(v, 1, &q->amount) < 0)
        return refuse(
            e, 422, "invalid_amount",
            "\"amount\" must be a JSON integer from 1 to 9223372036854775807 (minor units)");
    if (json_object_object_get_ex(o, "memo", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_string)
            || utf8_chars(json_object_get_string(v)) > LEDGER_MEMO_MAX)
            return refuse(e, 422, "invalid_memo",
                          "\"memo\" must be a string of at most %d characters", LEDGER_MEMO_MAX);
        q->memo = json_object_get_string(v);
    }
    if (strcmp(q->from, q->to) == 0)
        return refuse(e, 422, "same_account", "\"from\" and \"to\" must be different accounts");
    return parse_pending(o, q, e);
}

/* Validate the body into q; answers 422 and returns -1 on bad input. */
int transfer_parse(struct request *r, struct transfer_req *q)
{
    struct transfer_refusal e;

    if (transfer_fields_parse(r->json, q, &e) < 0) {
        http_problem(r, e.status, e.code, "%s", e.detail);
        return -1;
    }
    return 0;
}

int transfer_may(const struct jwt_claims *caller, const struct transfer_req *q,
                 struct transfer_refusal *e)
{
    if (caller->scope == JWT_SCOPE_ADMIN) {
        if (strcmp(q->from, LEDGER_ISSUER_ID) != 0)
            return refuse(e, 403, "not_account_owner",
                          "an admin token moves money only from the issuer");
    } else if (strcmp(caller->sub, q->from) != 0) {
        return refuse(e, 403, "not_account_owner", "the token does not own the \"from\" account");
    }
    return 0;
}

/* A user moves only their own money; an admin moves money only out of the issuer.
 * Decided before touching the database. */
int transfer_authorize(struct request *r, const void *req)
{
    struct transfer_refusal e;

    if (transfer_may(&r->caller, req, &e) < 0) {
        http_problem(r, e.status, e.code, "%s", e.detail);
        return -1;
    }
    return 0;
}

static int transfer_parse_req(struct request *r, void *req)
{
    return transfer_parse(r, req);
}

struct json_object *transfer_json(const struct transfer_req *q, const char *id, const char *kind,
                                  const char *created_at)
{
    struct json_object *tr = json_object_new_object();

    json_object_object_add(tr, "id", json_object_new_string(id));
    json_object_object_add(tr, "from", json_object_new_string(q->from));
    json_object_object_add(tr, "to", json_object_new_string(q->to));
    json_object_object_add(tr, "amount", json_object_new_int64(q->amount));
    json_object_object_add(tr, "memo", util_json_string_or_null(q->memo));
    json_object_object_add(tr, "kind", json_object_new_string(kind));
    json_object_object_add(tr, "created_at", json_object_new_string(created_at));
    return tr;
}

/* The answer of a transfer that moved: its created_at is the transaction's
 * now(), which the first round trip returned. */
static struct json_object *transfer_answer(const struct transfer_req *q, const char *id,
                                           const char *kind, const char *created_at)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "transfer", transfer_json(q, id, kind, created_at));
    return o;
}

int transfer_begin(struct mutation *m, struct tx *tx, const struct transfer_req *q,
                   struct ledger_account acc[2], enum tx_decision *d)
{
    int from_first = strcmp(q->from, q->to) < 0;
    const char *p_lo[1] = { from_first ? q->from : q->to };
    const char *p_hi[1] = { from_first ? q->to : q->from };
    struct tx_stmt r1[2] = { tx_stmt_named(SQL_LEDGER_LOCK_ACCOUNT, p_lo),
                             tx_stmt_named(SQL_LEDGER_LOCK_ACCOUNT, p_hi) };

    memset(acc, 0, 2 * sizeof(*acc));
    /* the key, then both rows locked in id order (opposite transfers wait
     * for each other, never deadlock) */
    if (!mut_begin(m, tx, r1, 2, d))
        return 0;
    ledger_lock_parse(&acc[from_first ? 0 : 1], r1[0].res);
    ledger_lock_parse(&acc[from_first ? 1 : 0], r1[1].res);
    PQclear(r1[0].res);
    PQclear(r1[1].res);
    if (!acc[0].found)
        *d = mut_refuse(m, tx, MUT_STORED, 422, "from_account_not_found", NULL,
                        "the \"from\" account does not exist");
    else if (!acc[1].found)
        *d = mut_refuse(m, tx, MUT_STORED, 422, "to_account_not_found", NULL,
                        "the \"to\" account does not exist");
    else if (acc[0].kind == LEDGER_KIND_ESCROW || acc[1].kind == LEDGER_KIND_ESCROW)
        *d = mut_refuse(m, tx, MUT_STORED, 403, "escrow_account", NULL,
                        "a market's escrow account moves only with its market's fills and payouts");
    else
        return 1;
    return 0;
}

/*
 * Two round trips in all:
 *   1. BEGIN; claim the key (returning now()); lock the lower id; lock the higher id
 *   2. move the balances; append the transfer and its entries; store the answer; COMMIT
 * The locks are held for one round trip, which is what a hot pair of
 * accounts serialises on. Rejections after the claim are stored.
 */
static enum tx_decision transfer_apply(struct mutation *m, struct tx *tx, void *req)
{
    const struct transfer_req *q = req;
    struct ledger_account acc[2]; /* [0] from, [1] to */
    struct ledger_move_stmts mv;
    enum tx_decision d;
    const char *kind;

    if (!transfer_begin(m, tx, q, acc, &d))
        return d;
    if (acc[0].kind == LEDGER_KIND_ISSUER && mut_request(m)->caller.scope != JWT_SCOPE_ADMIN)
        return mut_refuse(m, tx, MUT_STORED, 403, "admin_required", NULL,
                          "only an admin may issue money");
    if (!ledger_funds_cover(&acc[0], q->amount))
        return mut_refuse(m, tx, MUT_STORED, 422, "insufficient_funds", NULL,
                          "available %" PRId64 ", needed %" PRId64, ledger_available(&acc[0]),
                          q->amount);
    if (!ledger_move_fits(&acc[0], &acc[1], q->amount))
        /* An issue past -2^63 or a credit past 2^63 - 1: refused and rolled
         * back (not stored under the key: nothing is written). */
        return mut_refuse(m, tx, MUT_ROLLBACK, 422, "amount_out_of_range", NULL, "%s",
                          acc[0].kind == LEDGER_KIND_ISSUER
                              ? "issuing this amount would take the money supply"
                                " beyond the largest representable amount"
                              : "the payee's balance would exceed the largest"
                                " representable amount");

    /* Round 2: the move, the stored answer and COMMIT. */
    kind = ledger_transfer_kind(&acc[0]);
    if (ledger_move_prepare(&mv, tx->cfg, q->from, q->to, q->amount, 0, kind, mut_caller(m),
                            q->memo, mut_scoped_key(m))
        < 0)
        return TX_ERROR;
    if (mut_event(m, "transfer.created", transfer_answer(q, mv.id, kind, mut_now(m)),
                  "accounts/%s accounts/%s", q->from, q->to)
        < 0)
        return TX_ERROR;
    return mut_commit(m, tx, mv.st, mv.n, 201, transfer_answer(q, mv.id, kind, mut_now(m)));
}

static const struct mutation_ops transfer_ops = {
    .name = "transfer",
    .req_size = sizeof(struct transfer_req),
    .parse = transfer_parse_req,
    .authorize = transfer_authorize,
    .apply = transfer_apply,
};

/* "pending": true sends the request to the two-phase path (api/pending.c);
 * both parse the same body with transfer_parse(). */
void handle_transfer_create(struct request *r)
{
    struct json_object *v;
    int pending = json_object_object_get_ex(r->json, "pending", &v)
        && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);

    mutation_run(r, pending ? &pending_create_ops : &transfer_ops);
}

struct transfer_get {
    const char *id;
    struct json_object *out; /* the transfer object, or NULL if not found */
    char from[UUID_STR_LEN + 1], to[UUID_STR_LEN + 1];
};

static enum tx_decision transfer_get_tx(struct tx *tx, void *arg)
{
    struct transfer_get *g = arg;
    const char *p[1] = { g->id };
    PGresult *res;

    if (g->out) {
        json_object_put(g->out);
        g->out = NULL;
    }
    res = tx_exec_named(tx, SQL_LEDGER_TRANSFER_GET, p);
    if (!res)
        return TX_ERROR;
    if (PQntuples(res) == 0) {
        /* Not a transfer that moved: perhaps a pending one (a second round
         * trip only for ids the ledger does not know). */
        PQclear(res);
        res = tx_exec_named(tx, SQL_PENDING_GET, p);
        if (!res)
            return TX_ERROR;
        if (PQntuples(res) == 1) {
            g->out = pending_row_json(res);
            snprintf(g->from, sizeof(g->from), "%s", PQgetvalue(res, 0, 1));
            snprintf(g->to, sizeof(g->to), "%s", PQgetvalue(res, 0, 2));
        }
    } else if (PQntuples(res) == 1) {
        g->out = json_object_new_object();
        json_object_object_add(g->out, "id", json_object_new_string(PQgetvalue(res, 0, 0)));
        json_object_object_add(g->out, "from", json_object_new_string(PQgetvalue(res, 0, 1)));
        json_object_object_add(g->out, "to", json_object_new_string(PQgetvalue(res, 0, 2)));
        json_object_object_add(g->out, "amount",
                               json_object_new_int64(strtoll(PQgetvalue(res, 0, 3), NULL, 10)));
        json_object_object_add(g->out, "kind", json_object_new_string(PQgetvalue(res, 0, 4)));
        json_object_object_add(
            g->out, "memo",
            PQgetisnull(res, 0, 5) ? NULL : json_object_new_string(PQgetvalue(res, 0, 5)));
        json_object_object_add(g->out, "created_at", json_object_new_string(PQgetvalue(res, 0, 6)));
        snprintf(g->from, sizeof(g->from), "%s", PQgetvalue(res, 0, 1));
        snprintf(g->to, sizeof(g->to), "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return TX_COMMIT;
}

void handle_transfer_get(struct request *r)
{
    char id[UUID_STR_LEN + 1];
    struct transfer_get g;
    enum tx_decision d;
    struct json_object *o;

    if (!util_uuid_parse(r->path_params[0], id)) {
        http_problem(r, 404, "transfer_not_found", "no such transfer");
        return;
    }
    memset(&g, 0, sizeof(g));
    g.id = id;
    if (api_tx_run(r, TX_READ_ONLY, transfer_get_tx, &g, &d) < 0) {
        if (g.out)
            json_object_put(g.out);
        return;
    }
    if (!g.out) {
        http_problem(r, 404, "transfer_not_found", "no such transfer");
        return;
    }
    /* A stranger gets exactly the answer for an id that does not exist:
     * a 403 would tell them it does. */
    if (!auth_is_admin(r) && strcmp(r->caller.sub, g.from) != 0
        && strcmp(r->caller.sub, g.to) != 0) {
        json_object_put(g.out);
        http_problem(r, 404, "transfer_not_found", "no such transfer");
        return;
    }
    o = json_object_new_object();
    json_object_object_add(o, "transfer", g.out);
    http_respond_json(r, 200, o, NULL);
}
