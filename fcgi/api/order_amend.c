/*
 * order_amend.c — PATCH /order/{id} {"price"?, "quantity"?}: amend a
 * resting order (its owner's token only), in one transaction.
 *
 * "quantity" is the order's new total (what it filled already counts); it
 * must stay above what filled. The rule on time priority, as Binance's
 * keep-priority amendment and its cancel-replace define it: an amendment
 * that only lowers the quantity keeps the order's place in the queue (its
 * seq) and releases the hold it no longer needs; any other change (a new
 * price, a larger quantity) re-places the order under the same id with a
 * new priority stamp: its old hold is released and the order is matched
 * against the book like a new order (its own time in force, post-only and
 * self-trade mode), its remainder resting with a fresh hold. Locks as a
 * cancel does: the market, the order, then the accounts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/mutation.h"
#include "api/order.h"
#include "api/routes.h"
#include "domain/book.h"
#include "domain/ledger.h"

struct amend_req {
    char id[UUID_STR_LEN + 1];
    int has_price, has_quantity;
    int64_t price, quantity;
};

static const char *i64(char *buf, int64_t v)
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

static int amend_parse(struct request *r, void *req)
{
    static const char *const allowed[] = { "price", "quantity", NULL };
    struct amend_req *a = req;
    struct json_object *v;

    if (!util_uuid_parse(r->path_params[0], a->id)) {
        http_problem(r, 404, "order_not_found", "no such order");
        return -1;
    }
    if (http_json_refuse_unknown(r, allowed) < 0)
        return -1;
    if ((a->has_price = json_object_object_get_ex(r->json, "price", &v))
        && (util_json_int64(v, 1, &a->price) < 0 || a->price > 1000000000)) {
        http_problem(r, 422, "invalid_price",
                     "\"price\" must be an integer within the market's ticks");
        return -1;
    }
    if ((a->has_quantity = json_object_object_get_ex(r->json, "quantity", &v))
        && (util_json_int64(v, 1, &a->quantity) < 0 || a->quantity > 1000000000)) {
        http_problem(r, 422, "invalid_quantity",
                     "\"quantity\" must be an integer from 1 to 1000000000");
        return -1;
    }
    if (!a->has_price && !a->has_quantity) {
        http_problem(r, 422, "missing_field", "an amendment needs \"price\" or \"quantity\"");
        return -1;
    }
    return 0;
}

/* Only the owner amends, with its own token. */
static int amend_authorize(struct request *r, const void *req)
{
    (void)req;
    if (r->caller.scope == JWT_SCOPE_ADMIN) {
        http_problem(r, 403, "user_token_required", "an order is amended with its owner's token");
        return -1;
    }
    return 0;
}

/* The locked order row (order_lock), parsed once. */
struct amend_row {
    struct match_order k;
    enum order_status status;
    char expiry[8];
    int64_t quantity;
    enum order_tif tif;
    enum order_stp stp;
    int post_only;
    char expires_at[32];
};

static int row_parse(PGresult *res, struct amend_row *w)
{
    int n = 0;

    if (PQntuples(res) != 1 || book_load_makers(res, &w->k, &n, 1, 0) < 0 || n != 1
        || order_status_parse(PQgetvalue(res, 0, 8), &w->status) < 0
        || order_tif_parse(PQgetvalue(res, 0, 11), &w->tif) < 0
        || order_stp_parse(PQgetvalue(res, 0, 12), &w->stp) < 0)
        return -1;
    snprintf(w->expiry, sizeof(w->expiry), "%s", PQgetvalue(res, 0, 9));
    w->quantity = strtoll(PQgetvalue(res, 0, 10), NULL, 10);
    w->post_only = strcmp(PQgetvalue(res, 0, 13), "t") == 0;
    snprintf(w->expires_at, sizeof(w->expires_at), "%s", PQgetvalue(res, 0, 14));
    return 0;
}

int order_amend_row(struct tx *tx, struct order_run *o, int64_t seq)
{
    const struct order_req *q = o->q;
    char b1[24], b2[24], b3[24], b4[24], b5[24];
    const char *p[7] = { o->order_id,
                         i64(b1, q->price),
                         i64(b2, o->prior_filled + q->quantity),
                         i64(b3, o->res.rest),
                         order_status_name(o->res.status),
                         i64(b4, o->res.hold),
                         i64(b5, seq) };

    if (tx_exec_named_void(tx, SQL_ORDER_AMEND, p) < 0)
        return -1;
    return book_hold_rest(tx, q->market, o->me, q->side, o->outcome, o->res.rest, o->res.hold);
}

/* Lower the quantity in place: the same price and seq, the hold reduced. */
static enum tx_decision amend_reduce(struct tx *tx, struct order_run *o)
{
    const struct match_order *k = &o->old;
    const struct order_req *q = o->q;
    int64_t rem = q->quantity, hold = k->side == SIDE_BUY ? rem * k->price : 0;
    char b1[24], b2[24], b3[24], b4[24], b5[24], b6[24];
    const char *pa[7] = {
        k->id,         i64(b1, k->price), i64(b2, o->prior_filled + rem), i64(b3, rem), "open",
        i64(b4, hold), i64(b5, k->seq)
    };
    const char *pr[4] = { q->market, k->account, market_outcome_name(k->outcome),
                          i64(b6, k->remaining - rem) };
    struct ledger_account acc[1];

    memset(acc, 0, sizeof(acc));
    memcpy(acc[0].id, k->account, sizeof(acc[0].id));
    if (ledger_lock(tx, acc, 1) < 0)
        return TX_ERROR;
    if (k->side == SIDE_BUY ? ledger_adjust_held(tx, k->account, hold - k->hold) < 0
                            : tx_exec_named_void(tx, SQL_ORDER_POSITION_RELEASE, pr) < 0)
        return TX_ERROR;
    if (tx_exec_named_void(tx, SQL_ORDER_AMEND, pa) < 0)
        return TX_ERROR;
    o->res.left = o->res.rest = rem;
    o->res.hold = hold;
    o->res.status = ORDER_OPEN;
    return mut_commit(o->mu, tx, NULL, 0, 200, order_answer(o, json_object_new_array()));
}

/* The order's refusals on its locked row. 0 to go on, or -1 with *d. */
static int amend_check(struct tx *tx, struct order_run *o, const struct amend_row *w,
                       enum tx_decision *d)
{
    const struct request *r = mut_request(o->mu);

    *d = TX_ERROR;
    if (strcmp(w->k.account, r->caller.sub) != 0) {
        *d = mut_refuse(o->mu, tx, MUT_STORED, 404, "order_not_found", NULL, "no such order");
        return -1;
    }
    if (strcmp(w->expiry, "expired") == 0 || strcmp(w->expiry, "due") == 0) {
        struct ledger_account acc[1];

        memset(acc, 0, sizeof(acc));
        memcpy(acc[0].id, w->k.account, sizeof(acc[0].id));
        /* past its deadline: expired now, committed with the answer */
        if (strcmp(w->expiry, "due") == 0
            && (ledger_lock(tx, acc, 1) < 0 || book_expire_resting(tx, o->q->market, &w->k) < 0))
            return -1;
        *d = mut_refuse(o->mu, tx, MUT_STORED, 409, "order_expired", NULL,
                        "the order expired at its deadline");
        return -1;
    }
    if (w->status != ORDER_OPEN) {
        *d = mut_refuse(o->mu, tx, MUT_STORED, 409, "order_not_open", NULL,
                        "the order is already filled or cancelled");
        return -1;
    }
    if (o->mk.status != MARKET_OPEN) {
        *d = mut_refuse(o->mu, tx, MUT_STORED, 409, "market_closed", NULL, "the market is %s",
                        market_status_name(o->mk.status));
        return -1;
    }
    if (o->prior_filled + o->q->quantity <= o->prior_filled || o->q->quantity <= 0) {
        *d = mut_refuse(o->mu, tx, MUT_STORED, 409, "quantity_below_filled", NULL,
                        "the order filled %" PRId64 " already; its quantity must exceed that",
                        o->prior_filled);
        return -1;
    }
    return 0;
}

/* The request the amended order is re-placed as (its own terms kept). */
static void amend_order(const struct amend_req *a, const struct amend_row *w, const char *market,
                        struct order_req *q)
{
    memset(q, 0, sizeof(*q));
    snprintf(q->market, sizeof(q->market), "%s", market);
    q->side = w->k.side;
    q->outcome = w->k.outcome;
    q->has_outcome = w->k.outcome != OUTCOME_SHARES;
    q->price = a->has_price ? a->price : w->k.price;
    q->quantity = (a->has_quantity ? a->quantity : w->quantity) - (w->quantity - w->k.remaining);
    q->terms.type = ORDER_LIMIT;
    q->terms.has_price = q->terms.has_tif = 1;
    q->terms.tif = w->tif;
    q->terms.post_only = w->post_only;
    q->stp = w->stp;
    snprintf(q->expires_at, sizeof(q->expires_at), "%s", w->expires_at);
}

/*
 * Round 1: BEGIN, the key and the order's market. Then the market lock,
 * the order's lock, the checks; then the reduction in place, or the
 * re-placement through the order steps (api/order.c).
 */
static enum tx_decision amend_apply(struct mutation *mu, struct tx *tx, void *req)
{
    const struct amend_req *a = req;
    const char *p[1] = { a->id };
    struct tx_stmt st[1] = { tx_stmt_named(SQL_ORDER_MARKET_OF, p) };
    struct order_req q;
    struct amend_row w;
    struct order_run o;
    enum tx_decision d;
    PGresult *res;
    int bad;

    memset(&o, 0, sizeof(o));
    memset(&w, 0, sizeof(w));
    if (!mut_begin(mu, tx, st, 1, &d))
        return d;
    if (PQntuples(st[0].res) == 0) {
        PQclear(st[0].res);
        return mut_refuse(mu, tx, MUT_STORED, 404, "order_not_found", NULL, "no such order");
    }
    snprintf(q.market, sizeof(q.market), "%s", PQgetvalue(st[0].res, 0, 0));
    PQclear(st[0].res);
    if (market_lock(tx, q.market, &o.mk) <= 0 || !(res = tx_exec_named(tx, SQL_ORDER_LOCK, p)))
        return TX_ERROR;
    bad = row_parse(res, &w) < 0;
    PQclear(res);
    if (bad) {
        tx->err = DB_FAILED;
        return TX_ERROR;
    }
    amend_order(a, &w, o.mk.id, &q);
    o.mu = mu;
    o.q = &q;
    o.me = mut_request(mu)->caller.sub;
    o.amend = 1;
    o.old = w.k;
    o.prior_filled = w.quantity - w.k.remaining;
    snprintf(o.order_id, sizeof(o.order_id), "%s", a->id);
    if (amend_check(tx, &o, &w, &d) < 0)
        return d;
    if (q.price < o.mk.tick_min || q.price > o.mk.tick_max)
        return mut_refuse(mu, tx, MUT_ROLLBACK, 422, "price_out_of_range", NULL,
                          "price must be from %d to %d", o.mk.tick_min, o.mk.tick_max);
    if (q.price == w.k.price && q.quantity <= w.k.remaining)
        return amend_reduce(tx, &o);
    o.credit_cash = w.k.side == SIDE_BUY ? w.k.hold : 0;
    o.credit_units = w.k.side == SIDE_SELL ? w.k.remaining : 0;
    o.m = calloc(2 * MATCH_MAX_MAKERS, sizeof(*o.m));
    if (!o.m)
        return TX_ERROR;
    d = TX_ERROR;
    if (order_check(tx, &o, &d) == 0 && order_match(tx, &o, &d) == 0
        && order_lock_accounts(tx, &o, &d) == 0)
        d = order_write(tx, &o);
    free(o.acc);
    free(o.m);
    return d;
}

static const struct mutation_ops amend_ops = {
    .name = "order_amend",
    .req_size = sizeof(struct amend_req),
    .parse = amend_parse,
    .authorize = amend_authorize,
    .apply = amend_apply,
};

void handle_order_amend(struct request *r)
{
    mutation_run(r, &amend_ops);
}
