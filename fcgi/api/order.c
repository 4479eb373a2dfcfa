/*
 * order.c — POST /order and DELETE /order/{id}: limit orders matched by
 * price, then time, with every fill settled as double entry in the same
 * transaction.
 *
 * One transaction per order (the mutation runner, api/mutation.h): claim
 * the idempotency key and lock the market row in the first round trip (the
 * market's serialisation point: a taker can never fill against quantity
 * another taker already consumed), read the crossing resting orders, match
 * them (domain/matching.c, pure), lock every account involved in id order,
 * check the taker's cash or contracts, then apply the fills
 * (domain/book.c):
 *   - transfer fill: contracts (or shares) move seller → buyer, cash buyer →
 *     seller at the maker's price, one `trade` transfer;
 *   - mint fill (event markets): a YES buy at p meets a resting NO buy at
 *     q ≥ 100 − p; the taker pays 100 − q and the maker q into the market's
 *     escrow (two `mint` transfers, 100 per pair) and each gets one contract.
 * Self-trade prevention (the order's "stp", domain/matching.h): by default
 * a resting order of the taker's own account that would match is cancelled
 * (its holds released) and matching continues; cancel_taker stops the
 * taker there instead, cancel_both does both.
 * The terms (api/order_parse.c, domain/order_terms.c): a market order is
 * an ioc (or fok) order at its protection price; fok is refused 409
 * order_killed, nothing written but the stored answer, unless it fills
 * completely; post-only is refused 409 would_take when anything crosses
 * it; gtd rests until its expires_at (jobs child: domain/book_expiry.c).
 * A resting buy holds remaining × price on accounts.held; a resting sell
 * holds its contracts on positions.held. At most MATCH_MAX_MAKERS resting
 * orders are consumed per incoming order; the rest of it rests (gtc) or is
 * cancelled (ioc).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/mutation.h"
#include "api/order.h"
#include "api/routes.h"
#include "domain/events.h"
#include "domain/book.h"
#include "domain/ledger.h"
#include "domain/market.h"
#include "domain/matching.h"
#include "util.h"

static const char *i64(char *buf, int64_t v)
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

/* Orders are placed with the trader's own token. */
static int order_authorize(struct request *r, const void *req)
{
    (void)req;
    if (r->caller.scope == JWT_SCOPE_ADMIN) {
        http_problem(r, 403, "user_token_required",
                     "orders are placed with the trader's own token");
        return -1;
    }
    return 0;
}

/* The checks on the locked market and the seller's contracts. 0 to go on,
 * or -1 with *d the decision to return. */
int order_check(struct tx *tx, struct order_run *o, enum tx_decision *d)
{
    const struct order_req *q = o->q;
    struct mutation *mu = o->mu;

    *d = TX_ERROR;
    if (o->mk.kind == MARKET_EVENT) {
        if (!q->has_outcome) {
            *d = mut_refuse(mu, tx, MUT_ROLLBACK, 422, "missing_field", NULL,
                            "an event market order needs \"outcome\"");
            return -1;
        }
        o->outcome = q->outcome;
    } else {
        if (q->has_outcome) {
            *d = mut_refuse(mu, tx, MUT_ROLLBACK, 422, "field_not_applicable", NULL,
                            "a shares market takes no \"outcome\"");
            return -1;
        }
        o->outcome = OUTCOME_SHARES;
    }
    if (q->price < o->mk.tick_min || q->price > o->mk.tick_max) {
        *d = mut_refuse(mu, tx, MUT_ROLLBACK, 422, "price_out_of_range", NULL,
                        "%s must be from %d to %d",
                        q->terms.type == ORDER_MARKET ? "protection_price" : "price",
                        o->mk.tick_min, o->mk.tick_max);
        return -1;
    }
    if (o->mk.status != MARKET_OPEN) {
        *d = mut_refuse(mu, tx, MUT_STORED, 409, "market_closed", NULL, "the market is %s",
                        market_status_name(o->mk.status));
        return -1;
    }
    if (strcmp(o->me, o->mk.escrow) == 0) {
        *d = mut_refuse(mu, tx, MUT_STORED, 403, "escrow_cannot_trade", NULL,
                        "the escrow account cannot trade");
        return -1;
    }
    if (q->side == SIDE_SELL) {
        const char *p[3] = { q->market, o->me, market_outcome_name(o->outcome) };
        PGresult *res = tx_exec_named(tx, SQL_ORDER_POSITION_AVAILABLE, p);
        int64_t avail;

        if (!res)
            return -1;
        avail = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
        PQclear(res);
        avail += o->credit_units; /* an amended sell's own held contracts */
        if (avail < q->quantity) {
            *d = mut_refuse(mu, tx, MUT_STORED, 422, "insufficient_position", NULL,
                            "you hold %" PRId64 " available %s, the order sells %" PRId64, avail,
                            market_outcome_name(o->outcome), q->quantity);
            return -1;
        }
    }
    return 0;
}

/* Read the crossing resting orders into o->m and match them. 0 to go on,
 * or -1 with *d the decision to return. */
int order_match(struct tx *tx, struct order_run *o, enum tx_decision *d)
{
    const struct order_req *q = o->q;
    int buy = q->side == SIDE_BUY;
    char b1[24], b2[24], b3[24];
    const char *p[4] = { q->market, market_outcome_name(o->outcome), i64(b1, q->price),
                         i64(b2, MATCH_MAX_MAKERS) };
    struct match_taker t = { o->me, q->side, q->terms.tif, q->price, q->quantity, q->stp };
    PGresult *res;
    int bad;

    *d = TX_ERROR;
    res = tx_exec_named(tx, buy ? SQL_ORDER_MAKERS_SELLS : SQL_ORDER_MAKERS_BUYS, p);
    if (!res)
        return -1;
    bad = book_load_makers(res, o->m, &o->n, MATCH_MAX_MAKERS, 0);
    PQclear(res);
    if (!bad && buy && o->mk.kind == MARKET_EVENT) {
        /* complement buys that, with ours, make 100 per pair: up to
         * MATCH_MAX_MAKERS more, after the sells */
        const char *pc[4] = { q->market, market_outcome_name(market_outcome_complement(o->outcome)),
                              i64(b3, 100 - q->price), b2 };
        int added = 0;

        res = tx_exec_named(tx, SQL_ORDER_MAKERS_BUYS, pc);
        if (!res)
            return -1;
        bad = book_load_makers(res, o->m + o->n, &added, MATCH_MAX_MAKERS, 1);
        o->n += added;
        PQclear(res);
    }
    if (bad) {
        tx->err = DB_FAILED;
        return -1;
    }
    /* every row read crosses the order: a post-only one would take */
    if (q->terms.post_only && o->n > 0) {
        *d = mut_refuse(o->mu, tx, MUT_STORED, 409, "would_take", NULL,
                        "a post-only order must not match on arrival: %d resting order%s "
                        "cross%s it",
                        o->n, o->n == 1 ? "" : "s", o->n == 1 ? "es" : "");
        return -1;
    }
    match_run(&t, o->m, o->n, &o->res);
    o->n = o->res.n;
    if (o->res.overflow) {
        *d = mut_refuse(o->mu, tx, MUT_ROLLBACK, 422, "amount_out_of_range", NULL,
                        "the order's cost exceeds the largest representable amount");
        return -1;
    }
    if (o->res.killed) {
        *d = mut_refuse(o->mu, tx, MUT_STORED, 409, "order_killed",
                        mut_extra_i64("fillable", q->quantity - o->res.left),
                        "fill or kill: only %" PRId64 " of %" PRId64
                        " could fill now, so nothing was done",
                        q->quantity - o->res.left, q->quantity);
        return -1;
    }
    return 0;
}

/* Lock every account the order touches, in id order (me, makers, escrow),
 * and check the taker's own. 0 to go on, or -1 with *d the decision. */
int order_lock_accounts(struct tx *tx, struct order_run *o, enum tx_decision *d)
{
    const struct ledger_account *me;
    int na = 0;

    *d = TX_ERROR;
    o->acc = calloc((size_t)o->n + 2, sizeof(*o->acc));
    if (!o->acc)
        return -1;
    memcpy(o->acc[na++].id, o->me, UUID_STR_LEN + 1);
    for (int i = 0; i < o->n; i++)
        if (o->m[i].fill > 0 || o->m[i].stp)
            memcpy(o->acc[na++].id, o->m[i].account, UUID_STR_LEN + 1);
    if (o->mk.escrow[0])
        memcpy(o->acc[na++].id, o->mk.escrow, UUID_STR_LEN + 1);
    if (ledger_lock(tx, o->acc, na) < 0)
        return -1;
    me = &o->acc[0];
    if (!me->found) {
        *d = mut_refuse(o->mu, tx, MUT_STORED, 422, "account_not_found", NULL,
                        "the token's account does not exist");
        return -1;
    }
    if (me->issuer || me->escrow) {
        *d = mut_refuse(o->mu, tx, MUT_STORED, 403, "issuer_cannot_trade", NULL,
                        "the issuer cannot trade");
        return -1;
    }
    /* what this order releases of its own (a replaced hold) and the cash its
     * sells credit first count as available */
    if (o->q->side == SIDE_BUY
        && !ledger_funds_cover(me, o->res.need - o->res.released - o->credit_cash)) {
        *d = mut_refuse(o->mu, tx, MUT_STORED, 422, "insufficient_funds", NULL,
                        "available %" PRId64 ", needed %" PRId64,
                        me->balance - me->held + o->res.released + o->credit_cash, o->res.need);
        return -1;
    }
    return 0;
}

/* The taker's order row first (trades reference it), with its hold. 0 / -1. */
static int order_insert(struct tx *tx, struct order_run *o, int64_t trade_seq)
{
    const struct order_req *q = o->q;
    char b1[24], b2[24], b3[24], b4[24], b5[24];
    const char *p[18] = { o->order_id,
                          q->market,
                          o->me,
                          order_side_name(q->side),
                          market_outcome_name(o->outcome),
                          i64(b1, q->price),
                          i64(b2, q->quantity),
                          i64(b3, o->res.rest),
                          order_tif_rests(q->terms.tif) ? "gtc" : "ioc",
                          order_status_name(o->res.status),
                          i64(b4, o->res.hold),
                          mut_scoped_key(o->mu),
                          i64(b5, trade_seq),
                          order_tif_name(q->terms.tif),
                          order_type_name(q->terms.type),
                          q->terms.tif == TIF_GTD ? q->expires_at : NULL,
                          q->terms.post_only ? "true" : "false",
                          order_stp_name(q->stp) };

    if (tx_exec_named_void(tx, SQL_ORDER_INSERT, p) < 0)
        return -1;
    return book_hold_rest(tx, q->market, o->me, q->side, o->outcome, o->res.rest, o->res.hold);
}

struct json_object *order_answer(const struct order_run *o, struct json_object *fills)
{
    const struct order_req *q = o->q;
    struct json_object *res = json_object_new_object(), *ord = json_object_new_object();

    json_object_object_add(ord, "id", json_object_new_string(o->order_id));
    json_object_object_add(ord, "market", json_object_new_string(q->market));
    json_object_object_add(ord, "side", json_object_new_string(order_side_name(q->side)));
    json_object_object_add(ord, "outcome", json_object_new_string(market_outcome_name(o->outcome)));
    json_object_object_add(ord, "price", json_object_new_int64(q->price));
    json_object_object_add(ord, "quantity", json_object_new_int64(o->prior_filled + q->quantity));
    json_object_object_add(ord, "filled",
                           json_object_new_int64(o->prior_filled + q->quantity - o->res.left));
    json_object_object_add(ord, "remaining", json_object_new_int64(o->res.rest));
    json_object_object_add(ord, "time_in_force",
                           json_object_new_string(order_tif_name(q->terms.tif)));
    json_object_object_add(ord, "status", json_object_new_string(order_status_name(o->res.status)));
    json_object_object_add(ord, "type", json_object_new_string(order_type_name(q->terms.type)));
    if (q->terms.type == ORDER_MARKET)
        json_object_object_add(ord, "protection_price", json_object_new_int64(q->price));
    if (q->terms.tif == TIF_GTD)
        json_object_object_add(ord, "expires_at", json_object_new_string(q->expires_at));
    json_object_object_add(ord, "post_only", json_object_new_boolean(q->terms.post_only));
    json_object_object_add(ord, "stp", json_object_new_string(order_stp_name(q->stp)));
    json_object_object_add(ord, "fills", fills);
    json_object_object_add(res, "order", ord);
    return res;
}

/* One fill, as the answer lists it. */
static struct json_object *fill_json(const struct order_run *o, const struct match_order *k)
{
    struct json_object *fo = json_object_new_object();
    struct match_taker t = { o->me,       o->q->side,     o->q->terms.tif,
                             o->q->price, o->q->quantity, o->q->stp };

    json_object_object_add(fo, "maker_order", json_object_new_string(k->id));
    json_object_object_add(fo, "kind", json_object_new_string(k->mint ? "mint" : "transfer"));
    json_object_object_add(fo, "price", json_object_new_int64(match_fill_price(&t, k)));
    json_object_object_add(fo, "quantity", json_object_new_int64(k->fill));
    return fo;
}

/* One maker's event: order.filled (its last unit filled) or order.cancelled (self-trade). */
static int maker_event(struct order_run *o, const struct match_order *k)
{
    const char *type = k->stp ? "order.cancelled" : "order.filled";
    struct json_object *ord;

    if (!k->stp && (k->fill == 0 || k->fill < k->remaining))
        return 0;
    ord = json_object_new_object();
    json_object_object_add(ord, "id", json_object_new_string(k->id));
    json_object_object_add(ord, "market", json_object_new_string(o->q->market));
    json_object_object_add(ord, "status", json_object_new_string(k->stp ? "cancelled" : "filled"));
    json_object_object_add(ord, "filled", json_object_new_int64(k->fill));
    return mut_event(o->mu, type, events_wrap("order", ord), "markets/%s accounts/%s", o->q->market,
                     k->account);
}

/* The events of a placed order: the makers it filled or cancelled, then its own
 * order.filled or order.cancelled (an ioc remainder) when it is not left open. */
static int order_events(struct order_run *o, struct json_object *fills)
{
    const char *type = o->res.status == ORDER_FILLED ? "order.filled"
        : o->res.status == ORDER_CANCELLED           ? "order.cancelled"
                                                     : NULL;

    for (int i = 0; i < o->n; i++)
        if (maker_event(o, &o->m[i]) < 0)
            return -1;
    if (!type)
        return 0;
    json_object_get(fills); /* order_answer() takes a reference; the answer keeps its own */
    return mut_event(o->mu, type, order_answer(o, fills), "markets/%s accounts/%s", o->q->market,
                     o->me);
}

/* Apply what matching decided: self-trade cancellations (their released
 * holds fund what follows), the order row, the fills; then the market's
 * sequence, the stored answer and COMMIT in the last round trip. */
enum tx_decision order_write(struct tx *tx, struct order_run *o)
{
    const struct order_req *q = o->q;
    int64_t trade_seq = o->mk.seq + 1;
    struct book_taker t = { q->market,    o->me,   o->order_id, mut_caller(o->mu),
                            o->mk.escrow, q->side, o->outcome,  trade_seq };
    char b1[24], b2[24];
    const char *p[3] = { q->market, i64(b1, trade_seq),
                         o->res.last_price >= 0 ? i64(b2, o->res.last_price) : NULL };
    struct tx_stmt adv[1] = { tx_stmt_named(SQL_ORDER_MARKET_ADVANCE, p) };
    struct json_object *fills;

    if (o->amend && book_release_hold(tx, q->market, &o->old) < 0)
        return TX_ERROR;
    for (int i = 0; i < o->n; i++)
        if (o->m[i].stp && book_cancel_resting(tx, q->market, &o->m[i]) < 0)
            return TX_ERROR;
    if (o->amend ? order_amend_row(tx, o, trade_seq) < 0
                 : util_uuid_v4(o->order_id) < 0 || order_insert(tx, o, trade_seq) < 0)
        return TX_ERROR;
    fills = json_object_new_array();
    for (int i = 0; i < o->n; i++) {
        if (o->m[i].fill == 0)
            continue;
        if (book_settle_fill(tx, &t, &o->m[i]) < 0) {
            json_object_put(fills);
            return TX_ERROR;
        }
        json_object_array_add(fills, fill_json(o, &o->m[i]));
    }
    return order_events(o, fills) < 0
        ? TX_ERROR
        : mut_commit(o->mu, tx, adv, 1, o->amend ? 200 : 201, order_answer(o, fills));
}

/*
 * Round 1: BEGIN and the key; then the market lock. Then the checks, the book,
 * the accounts and the writes, one statement at a time (each depends on
 * the last); the market's sequence rides with the stored answer and COMMIT.
 */
static enum tx_decision order_apply(struct mutation *mu, struct tx *tx, void *req)
{
    const struct order_req *q = req;
    const char *p[1] = { q->market };
    struct order_run o;
    enum tx_decision d;
    PGresult *res;
    int found, bad = 0;

    memset(&o, 0, sizeof(o));
    o.mu = mu;
    o.q = q;
    o.me = mut_request(mu)->caller.sub;
    /* The key alone first: a replay or a duplicate in flight is answered
     * without queueing on the market lock behind every active taker. */
    if (!mut_begin(mu, tx, NULL, 0, &d))
        return d;
    if (q->terms.tif == TIF_GTD) {
        int64_t now_us;

        /* in the future by the database clock: the claim's now() */
        if (order_time_parse(mut_now(mu), &now_us) < 0) {
            tx->err = DB_FAILED;
            return TX_ERROR;
        }
        if (q->expires_us <= now_us)
            return mut_refuse(mu, tx, MUT_ROLLBACK, 422, "invalid_expires_at", NULL,
                              "\"expires_at\" must be in the future (the database clock says %s)",
                              mut_now(mu));
    }
    res = tx_exec_named(tx, SQL_MARKET_LOCK, p);
    if (!res)
        return TX_ERROR;
    found = PQntuples(res) == 1;
    if (found)
        bad = market_row_parse(&o.mk, res, 0) < 0;
    PQclear(res);
    if (bad) {
        tx->err = DB_FAILED;
        return TX_ERROR;
    }
    if (!found)
        return mut_refuse(mu, tx, MUT_STORED, 404, "market_not_found", NULL, "no such market");
    if (order_check(tx, &o, &d) < 0)
        return d;
    o.m = calloc(2 * MATCH_MAX_MAKERS, sizeof(*o.m));
    if (!o.m)
        return TX_ERROR;
    if (order_match(tx, &o, &d) == 0 && order_lock_accounts(tx, &o, &d) == 0)
        d = order_write(tx, &o);
    free(o.acc);
    free(o.m);
    return d;
}

static const struct mutation_ops order_ops = {
    .name = "order",
    .req_size = sizeof(struct order_req),
    .parse = order_parse,
    .authorize = order_authorize,
    .apply = order_apply,
};

void handle_order_create(struct request *r)
{
    mutation_run(r, &order_ops);
}
