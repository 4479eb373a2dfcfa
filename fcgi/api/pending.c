/*
 * pending.c — pending (two-phase) transfers over HTTP: POST /transfer with
 * "pending": true, POST /transfers/{id}/post and POST /transfers/{id}/void.
 *
 * Creating one holds the amount on the payer and moves nothing (two round
 * trips, as an immediate transfer: claim + both accounts locked in id
 * order, then the hold, the row, the answer and COMMIT). Post and void lock
 * the pending row first (so post, void and expiry serialise on it and
 * exactly one closes it), decide with domain/pending.h, and close it in the
 * same transaction as the money: a post moves the posted amount as one
 * ordinary transfer and releases the whole hold; a void releases it. One
 * whose deadline has passed is expired on the spot and refused.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/pending.h"
#include "api/routes.h"
#include "api/validate.h"
#include "domain/ledger.h"
#include "domain/pending.h"
#include "util.h"

#define TS_LEN 40
#define MEMO_BYTES (LEDGER_MEMO_MAX * 4 + 1)

/* The API's view of a pending transfer. */
struct pending_view {
    const char *id, *from, *to, *memo, *created_at, *expires_at, *resolved_at;
    const char *posted_transfer;
    int64_t amount, posted_amount; /* posted_amount 0: null */
    enum pending_status status;
};

static struct json_object *view_json(const struct pending_view *v)
{
    struct json_object *t = json_object_new_object();

    json_object_object_add(t, "id", json_object_new_string(v->id));
    json_object_object_add(t, "from", json_object_new_string(v->from));
    json_object_object_add(t, "to", json_object_new_string(v->to));
    json_object_object_add(t, "amount", json_object_new_int64(v->amount));
    json_object_object_add(t, "memo", util_json_string_or_null(v->memo));
    json_object_object_add(t, "kind", json_object_new_string("pending"));
    json_object_object_add(t, "status", json_object_new_string(pending_status_name(v->status)));
    json_object_object_add(t, "posted_amount",
                           v->posted_amount ? json_object_new_int64(v->posted_amount) : NULL);
    json_object_object_add(t, "posted_transfer", util_json_string_or_null(v->posted_transfer));
    json_object_object_add(t, "created_at", json_object_new_string(v->created_at));
    json_object_object_add(t, "expires_at", json_object_new_string(v->expires_at));
    json_object_object_add(t, "resolved_at", util_json_string_or_null(v->resolved_at));
    return t;
}

static struct json_object *view_answer(const struct pending_view *v)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "transfer", view_json(v));
    return o;
}

static const char *col_or_null(PGresult *res, int c)
{
    return PQgetisnull(res, 0, c) ? NULL : PQgetvalue(res, 0, c);
}

struct json_object *pending_row_json(PGresult *res)
{
    struct pending_view v = {
        .id = PQgetvalue(res, 0, 0),
        .from = PQgetvalue(res, 0, 1),
        .to = PQgetvalue(res, 0, 2),
        .amount = strtoll(PQgetvalue(res, 0, 3), NULL, 10),
        .status = pending_status_parse(PQgetvalue(res, 0, 4)),
        .posted_amount = PQgetisnull(res, 0, 5) ? 0 : strtoll(PQgetvalue(res, 0, 5), NULL, 10),
        .posted_transfer = col_or_null(res, 6),
        .memo = col_or_null(res, 7),
        .created_at = PQgetvalue(res, 0, 8),
        .expires_at = PQgetvalue(res, 0, 9),
        .resolved_at = col_or_null(res, 10),
    };

    return view_json(&v);
}

/* ---- POST /transfer with "pending": true --------------------------------- */

int pending_create_prepare(struct pending_create_stmts *p, const struct transfer_req *q,
                           const char *caller, const char *scoped_key, const char *now)
{
    if (util_uuid_v4(p->id) < 0 || pending_deadline_text(now, q->timeout, p->expires) < 0)
        return -1;
    snprintf(p->amt, sizeof(p->amt), "%" PRId64, q->amount);
    snprintf(p->tmo, sizeof(p->tmo), "%" PRId64, q->timeout);
    p->p_held[0] = q->from;
    p->p_held[1] = p->amt;
    p->p_rec[0] = p->id;
    p->p_rec[1] = q->from;
    p->p_rec[2] = q->to;
    p->p_rec[3] = p->amt;
    p->p_rec[4] = caller;
    p->p_rec[5] = q->memo;
    p->p_rec[6] = scoped_key;
    p->p_rec[7] = now;
    p->p_rec[8] = p->tmo;
    p->st[0] = tx_stmt_named(SQL_LEDGER_ADJUST_HELD, p->p_held);
    p->st[1] = tx_stmt_named(SQL_PENDING_CREATE, p->p_rec);
    return 0;
}

struct json_object *pending_new_json(const struct transfer_req *q, const char *id,
                                     const char *created_at, const char *expires_at)
{
    struct pending_view v = { .id = id,
                              .from = q->from,
                              .to = q->to,
                              .memo = q->memo,
                              .created_at = created_at,
                              .expires_at = expires_at,
                              .amount = q->amount,
                              .status = PENDING_STATUS_PENDING };

    return view_json(&v);
}

/*
 * Two round trips:
 *   1. BEGIN; claim the key (returning now()); lock the lower id; lock the higher id
 *   2. raise the payer's held; record the pending transfer; store the answer; COMMIT
 */
static enum tx_decision create_apply(struct mutation *m, struct tx *tx, void *req)
{
    const struct transfer_req *q = req;
    struct ledger_account acc[2]; /* [0] from, [1] to */
    struct pending_create_stmts pc;
    struct json_object *o;
    enum tx_decision d;

    if (!transfer_begin(m, tx, q, acc, &d))
        return d;
    if (acc[0].kind != LEDGER_KIND_USER)
        return mut_refuse(m, tx, MUT_STORED, 422, "pending_from_issuer", NULL,
                          "the issuer holds nothing: money is issued by immediate transfers only");
    if (!ledger_funds_cover(&acc[0], q->amount))
        return mut_refuse(m, tx, MUT_STORED, 422, "insufficient_funds", NULL,
                          "available %" PRId64 ", needed %" PRId64, ledger_available(&acc[0]),
                          q->amount);
    if (pending_create_prepare(&pc, q, mut_caller(m), mut_scoped_key(m), mut_now(m)) < 0)
        return TX_ERROR;
    o = json_object_new_object();
    json_object_object_add(o, "transfer", pending_new_json(q, pc.id, mut_now(m), pc.expires));
    if (mut_event(m, "transfer.pending", json_object_get(o), "accounts/%s accounts/%s", q->from,
                  q->to)
        < 0) {
        json_object_put(o);
        return TX_ERROR;
    }
    return mut_commit(m, tx, pc.st, 2, 201, o);
}

static int create_parse(struct request *r, void *req)
{
    return transfer_parse(r, req);
}

const struct mutation_ops pending_create_ops = {
    .name = "pending transfer",
    .req_size = sizeof(struct transfer_req),
    .parse = create_parse,
    .authorize = transfer_authorize,
    .apply = create_apply,
};

/* ---- POST /transfers/{id}/post and /void ---------------------------------- */

struct close_req {
    char id[UUID_STR_LEN + 1];
    enum pending_action action;
    int64_t amount; /* post: 0 = all */
};

/* The locked row (SQL_PENDING_LOCK), copied out of its result. */
struct locked {
    char from[UUID_STR_LEN + 1], to[UUID_STR_LEN + 1];
    char memo[MEMO_BYTES], created_at[TS_LEN], expires_at[TS_LEN];
    int has_memo, due;
    int64_t amount;
    enum pending_status status;
};

static void locked_parse(struct locked *l, PGresult *res)
{
    snprintf(l->from, sizeof(l->from), "%s", PQgetvalue(res, 0, 0));
    snprintf(l->to, sizeof(l->to), "%s", PQgetvalue(res, 0, 1));
    l->amount = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    l->status = pending_status_parse(PQgetvalue(res, 0, 3));
    l->due = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
    l->has_memo = !PQgetisnull(res, 0, 5);
    snprintf(l->memo, sizeof(l->memo), "%s", PQgetvalue(res, 0, 5));
    snprintf(l->created_at, sizeof(l->created_at), "%s", PQgetvalue(res, 0, 6));
    snprintf(l->expires_at, sizeof(l->expires_at), "%s", PQgetvalue(res, 0, 7));
}

static int close_parse(struct request *r, void *req, enum pending_action action)
{
    static const char *const post_allowed[] = { "amount", NULL };
    static const char *const void_allowed[] = { NULL };
    struct close_req *q = req;
    struct json_object *v;

    q->action = action;
    if (!util_uuid_parse(r->path_params[0], q->id)) {
        http_problem(r, 404, "transfer_not_found", "no such transfer");
        return -1;
    }
    if (http_json_refuse_unknown(r, action == PENDING_POST ? post_allowed : void_allowed) < 0)
        return -1;
    if (action == PENDING_POST && json_object_object_get_ex(r->json, "amount", &v)
        && !json_object_is_type(v, json_type_null) && util_json_int64(v, 1, &q->amount) < 0) {
        http_problem(
            r, 422, "invalid_amount",
            "\"amount\" must be a JSON integer from 1 to 9223372036854775807 (minor units)");
        return -1;
    }
    return 0;
}

static int post_parse(struct request *r, void *req)
{
    return close_parse(r, req, PENDING_POST);
}

static int void_parse(struct request *r, void *req)
{
    return close_parse(r, req, PENDING_VOID);
}

/* The refusal a verdict other than GO stands for (EXPIRE_NOW: after expiring). */
static enum tx_decision refuse_verdict(struct mutation *m, struct tx *tx, enum pending_verdict v,
                                       const struct close_req *q, const struct locked *l)
{
    switch (v) {
    case PENDING_NOT_FOUND:
        return mut_refuse(m, tx, MUT_ROLLBACK, 404, "transfer_not_found", NULL, "no such transfer");
    case PENDING_NOT_PAYER:
        return mut_refuse(m, tx, MUT_ROLLBACK, 403, "not_payer", NULL,
                          "only the payer (or an admin) may post a pending transfer");
    case PENDING_ALREADY_POSTED:
        return mut_refuse(m, tx, MUT_STORED, 409, "transfer_already_posted", NULL,
                          "the pending transfer has been posted");
    case PENDING_ALREADY_VOIDED:
        return mut_refuse(m, tx, MUT_STORED, 409, "transfer_already_voided", NULL,
                          "the pending transfer has been voided");
    case PENDING_EXPIRE_NOW:
        if (pending_expire_locked(tx, q->id, l->from, l->to, l->amount, mut_caller(m)) < 0)
            return TX_ERROR;
        return mut_refuse(m, tx, MUT_STORED, 409, "transfer_expired", NULL,
                          "the pending transfer expired at %s", l->expires_at);
    case PENDING_EXPIRED:
        return mut_refuse(m, tx, MUT_STORED, 409, "transfer_expired", NULL,
                          "the pending transfer expired at %s", l->expires_at);
    case PENDING_AMOUNT_EXCEEDS:
        return mut_refuse(m, tx, MUT_STORED, 422, "post_amount_exceeds_pending", NULL,
                          "\"amount\" %" PRId64 " is more than the %" PRId64 " pending", q->amount,
                          l->amount);
    case PENDING_GO:
        break;
    }
    return TX_ERROR;
}

/*
 * Post: three round trips (the accounts are known only from the row):
 *   1. BEGIN; claim the key; lock the pending row
 *   2. lock payer and payee in id order
 *   3. the move (releasing the whole hold); close the row; store the answer; COMMIT
 * Void: two (1, then the release, the close, the answer and COMMIT).
 */
static enum tx_decision close_apply(struct mutation *m, struct tx *tx, void *req)
{
    const struct close_req *q = req;
    const char *p_id[1] = { q->id };
    struct tx_stmt r1[1] = { tx_stmt_named(SQL_PENDING_LOCK, p_id) };
    struct request *r = mut_request(m);
    struct ledger_account acc[2];
    struct ledger_move_stmts mv;
    struct tx_stmt last[MUT_LAST_MAX];
    struct pending_view view;
    struct locked l;
    enum pending_verdict verdict;
    enum tx_decision d;
    int64_t post_amount, moved, released, returned;
    char posted[24], rel[24];
    const char *p_res[6], *p_held[2];
    int n = 0;

    if (!mut_begin(m, tx, r1, 1, &d))
        return d;
    if (PQntuples(r1[0].res) != 1) {
        PQclear(r1[0].res);
        return mut_refuse(m, tx, MUT_ROLLBACK, 404, "transfer_not_found", NULL, "no such transfer");
    }
    memset(&l, 0, sizeof(l));
    locked_parse(&l, r1[0].res);
    PQclear(r1[0].res);

    post_amount = q->action == PENDING_POST ? (q->amount ? q->amount : l.amount) : 0;
    verdict =
        pending_decide(q->action, pending_party_of(r->caller.sub, auth_is_admin(r), l.from, l.to),
                       l.status, l.due, l.amount, post_amount);
    if (verdict != PENDING_GO)
        return refuse_verdict(m, tx, verdict, q, &l);
    if (pending_close_split(l.amount, post_amount, &moved, &released, &returned) < 0)
        return TX_ERROR;

    view = (struct pending_view){ .id = q->id,
                                  .from = l.from,
                                  .to = l.to,
                                  .memo = l.has_memo ? l.memo : NULL,
                                  .created_at = l.created_at,
                                  .expires_at = l.expires_at,
                                  .resolved_at = mut_now(m),
                                  .amount = l.amount };
    p_res[0] = q->id;
    p_res[4] = mut_now(m);
    p_res[5] = mut_caller(m);
    if (q->action == PENDING_VOID) {
        snprintf(rel, sizeof(rel), "%" PRId64, -released);
        p_held[0] = l.from;
        p_held[1] = rel;
        p_res[1] = "voided";
        p_res[2] = NULL;
        p_res[3] = NULL;
        last[n++] = tx_stmt_named(SQL_LEDGER_ADJUST_HELD, p_held);
        last[n++] = tx_stmt_named(SQL_PENDING_RESOLVE, p_res);
        view.status = PENDING_STATUS_VOIDED;
        if (mut_event(m, "transfer.voided", view_answer(&view), "accounts/%s accounts/%s", l.from,
                      l.to)
            < 0)
            return TX_ERROR;
        return mut_commit(m, tx, last, n, 200, view_answer(&view));
    }

    /* Post: both accounts, then the checked move. */
    memset(acc, 0, sizeof(acc));
    memcpy(acc[0].id, l.from, sizeof(acc[0].id));
    memcpy(acc[1].id, l.to, sizeof(acc[1].id));
    if (ledger_lock(tx, acc, 2) < 0)
        return TX_ERROR;
    if (!acc[0].found || !acc[1].found || acc[0].held < released)
        return TX_ERROR; /* the row names accounts that do not hold it: never move */
    if (!ledger_move_fits(&acc[0], &acc[1], moved))
        return mut_refuse(m, tx, MUT_ROLLBACK, 422, "amount_out_of_range", NULL,
                          "the payee's balance would exceed the largest representable amount");
    if (ledger_move_prepare(&mv, tx->cfg, l.from, l.to, moved, released,
                            ledger_transfer_kind(&acc[0]), mut_caller(m), view.memo,
                            mut_scoped_key(m))
        < 0)
        return TX_ERROR;
    for (int i = 0; i < mv.n; i++)
        last[n++] = mv.st[i];
    snprintf(posted, sizeof(posted), "%" PRId64, moved);
    p_res[1] = "posted";
    p_res[2] = posted;
    p_res[3] = mv.id;
    last[n++] = tx_stmt_named(SQL_PENDING_RESOLVE, p_res);
    view.status = PENDING_STATUS_POSTED;
    view.posted_amount = moved;
    view.posted_transfer = mv.id;
    if (mut_event(m, "transfer.posted", view_answer(&view), "accounts/%s accounts/%s", l.from, l.to)
        < 0)
        return TX_ERROR;
    return mut_commit(m, tx, last, n, 200, view_answer(&view));
}

static const struct mutation_ops post_ops = {
    .name = "pending post",
    .req_size = sizeof(struct close_req),
    .parse = post_parse,
    .apply = close_apply,
};

static const struct mutation_ops void_ops = {
    .name = "pending void",
    .req_size = sizeof(struct close_req),
    .parse = void_parse,
    .apply = close_apply,
};

void handle_transfer_post(struct request *r)
{
    mutation_run(r, &post_ops);
}

void handle_transfer_void(struct request *r)
{
    mutation_run(r, &void_ops);
}
