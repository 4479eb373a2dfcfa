/*
 * bid_english.c — POST /bid on an English lot: plain bids, proxy bids
 * (a hidden maximum; the leader's automatic counter-bid) and buy-now.
 *
 * The lot row is locked already (api/bid.c, round 1) and not due to
 * settle. The rule is the auction domain's pure auction_bid_decide(); this
 * file locks the accounts it involves in id order, checks the bidder's
 * funds, and writes what the rule decided in one round trip: holds, bid
 * rows, the lot. A bid that the leader's maximum beats is still written
 * (its row, outbid at once, and the leader's counter-bid marked proxy),
 * and answered 409 outbid_by_proxy, stored under the key; buy-now settles
 * the lot in the same transaction.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/bid_int.h"
#include "api/lots.h"
#include "api/routes.h"

/* The leader's hidden maximum as a parameter: NULL when there is none. */
static const char *max_param(struct bid_writes *w, int64_t max)
{
    return max > 0 ? bid_w_i64(w, max) : NULL;
}

/* Append bid row b by bidder, with hidden maximum max (0: none), a
 * counter-bid when proxy. Without either it is the plain SQL_BID_INSERT. */
static void add_row(struct bid_writes *w, struct mutation *m, const struct bid_req *q,
                    const char *bidder, const struct bid_row *b, int64_t max, int proxy)
{
    if (max <= 0 && !proxy && strcmp(bidder, mut_request(m)->caller.sub) == 0) {
        bid_add_row(w, m, q, b);
        return;
    }
    bid_w_add(w, SQL_BID_INSERT_PROXY, b->id, q->lot, bidder, bid_w_i64(w, b->amount),
              bid_w_i64(w, b->quantity), bid_w_i64(w, b->seq), auction_bid_status_name(b->status),
              b->transfer_id, proxy ? NULL : mut_scoped_key(m), max_param(w, max),
              proxy ? "true" : NULL);
}

/* The lot's new leader (the last statement: it returns the lot). */
static void add_lead(struct bid_writes *w, const struct lot *l, int64_t price, const char *who,
                     const char *bid_id, int64_t seq, int64_t max)
{
    if (max > 0)
        bid_w_add(w, SQL_BID_ENGLISH_LEAD_MAX, l->id, bid_w_i64(w, price), who, bid_id,
                  bid_w_i64(w, seq), bid_w_i64(w, max));
    else
        bid_w_add(w, SQL_BID_ENGLISH_LEAD, l->id, bid_w_i64(w, price), who, bid_id,
                  bid_w_i64(w, seq));
}

/* The previous leader (someone else) is released; a proxy leader's hold first
 * comes down to the high, so its record shows the price, never the maximum. */
static void release_leader(struct bid_writes *w, const struct lot *l)
{
    int64_t held = auction_leader_max(l);

    if (held > l->high_amount)
        bid_w_add(w, SQL_BID_HOLD_SET_AMOUNT, l->id, l->high_bidder, bid_w_i64(w, l->high_amount));
    bid_w_add(w, SQL_BID_ADJUST_HELD, l->high_bidder, bid_w_i64(w, -held));
    bid_w_add(w, SQL_BID_RELEASE_HOLD, l->id, l->high_bidder);
}

/* The holds and rows of a bid that leads (a new leader, or the leader's own raise). */
static enum tx_decision lead(struct mutation *m, struct tx *tx, const struct bid_req *q,
                             const struct lot *l, const struct auction_bid_terms *t, int64_t extra)
{
    const char *me = mut_request(m)->caller.sub;
    char bid_id[UUID_STR_LEN + 1], hold_id[UUID_STR_LEN + 1];
    struct bid_row b = { bid_id, t->amount, 1, l->seq + 1, BID_LEADING, NULL, l };
    int leader = auction_is_leader(l, me);
    /* a leader's higher maximum that leaves the high where it is adds no row */
    int new_row = !(leader && q->has_max_amount && t->price == l->high_amount);
    struct bid_writes w;

    if (util_uuid_v4(bid_id) < 0 || util_uuid_v4(hold_id) < 0)
        return TX_ERROR;
    memset(&w, 0, sizeof(w));
    if (l->high_bidder[0] && !leader)
        release_leader(&w, l);
    if (l->high_bid[0] && new_row)
        bid_w_add(&w, SQL_BID_MARK_OUTBID, l->high_bid);
    if (extra > 0)
        bid_w_add(&w, SQL_BID_ADJUST_HELD, me, bid_w_i64(&w, extra));
    if (new_row) {
        /* The bid row first (the hold references it), then the hold, then the lot. */
        add_row(&w, m, q, me, &b, q->has_max_amount ? q->max_amount : 0, 0);
    } else {
        snprintf(bid_id, sizeof(bid_id), "%s", l->high_bid);
        b.seq = l->seq;
        bid_w_add(&w, SQL_BID_SET_MAX, l->high_bid, bid_w_i64(&w, q->max_amount));
    }
    if (leader)
        bid_w_add(&w, SQL_BID_RAISE_HOLD, l->id, me, bid_w_i64(&w, extra), bid_id);
    else
        bid_w_add(&w, SQL_BID_INSERT_HOLD, hold_id, me, l->id, bid_id, bid_w_i64(&w, t->hold));
    /* Anti-snipe: the statement pushes an end inside the window to now + extension. */
    add_lead(&w, l, t->price, me, bid_id, b.seq, t->max);
    return bid_finish(m, tx, q, &w, &b);
}

/*
 * The leader's maximum stands: the bidder's row (outbid at once), the
 * leader's automatic counter-bid at the rule's price (marked proxy; their
 * hold, which covers their maximum, now backs it), the lot; then 409
 * outbid_by_proxy with the new minimum, stored under the key and committed.
 */
static enum tx_decision outbid_by_proxy(struct mutation *m, struct tx *tx, const struct bid_req *q,
                                        const struct lot *l, const struct auction_bid_terms *t)
{
    const char *me = mut_request(m)->caller.sub;
    char bid_id[UUID_STR_LEN + 1], counter_id[UUID_STR_LEN + 1];
    struct bid_row mine = { bid_id, t->amount, 1, l->seq + 1, BID_OUTBID, NULL, l };
    struct bid_row counter = { counter_id, t->price, 1, l->seq + 2, BID_LEADING, NULL, l };
    struct json_object *o;
    struct bid_writes w;

    if (util_uuid_v4(bid_id) < 0 || util_uuid_v4(counter_id) < 0)
        return TX_ERROR;
    memset(&w, 0, sizeof(w));
    add_row(&w, m, q, me, &mine, q->has_max_amount ? q->max_amount : 0, 0);
    bid_w_add(&w, SQL_BID_MARK_OUTBID, l->high_bid);
    add_row(&w, m, q, l->high_bidder, &counter, 0, 1);
    bid_w_add(&w, SQL_BID_RAISE_HOLD, l->id, l->high_bidder, bid_w_i64(&w, 0), counter_id);
    add_lead(&w, l, t->price, l->high_bidder, counter_id, counter.seq, t->max);
    if (bid_w_send(tx, &w) < 0)
        return TX_ERROR;
    bid_w_clear(&w);
    o = http_problem_object(mut_request(m), 409, "outbid_by_proxy",
                            "the leader's maximum beats this bid: the high is now the leader's"
                            " automatic counter-bid");
    json_object_object_add(o, "high_amount", json_object_new_int64(t->price));
    if (t->minimum_shown) /* absent when no higher bid fits a bigint */
        json_object_object_add(o, "minimum", json_object_new_int64(t->minimum));
    return mut_commit(m, tx, NULL, 0, 409, o);
}

/*
 * Buy-now: the bid leads at the buy-now price (row, hold, lot) and the lot
 * settles at once in this transaction as its end would settle it.
 */
static enum tx_decision buy_now(struct mutation *m, struct tx *tx, const struct bid_req *q,
                                const struct lot *l, const struct auction_bid_terms *t)
{
    const char *me = mut_request(m)->caller.sub;
    char bid_id[UUID_STR_LEN + 1], hold_id[UUID_STR_LEN + 1];
    const char *p[1] = { l->id };
    struct bid_row b = { bid_id, t->price, 1, l->seq + 1, BID_LEADING, NULL, l };
    struct bid_writes w;
    struct lot now = *l;
    PGresult *res;
    int rc;

    if (util_uuid_v4(bid_id) < 0 || util_uuid_v4(hold_id) < 0)
        return TX_ERROR;
    memset(&w, 0, sizeof(w));
    bid_w_add(&w, SQL_BID_ADJUST_HELD, me, bid_w_i64(&w, t->price));
    bid_add_row(&w, m, q, &b);
    bid_w_add(&w, SQL_BID_INSERT_HOLD, hold_id, me, l->id, bid_id, bid_w_i64(&w, t->price));
    add_lead(&w, l, t->price, me, bid_id, b.seq, 0);
    if (bid_w_send(tx, &w) < 0)
        return TX_ERROR;
    bid_w_clear(&w);
    now.high_amount = t->price;
    now.high_max = 0;
    snprintf(now.high_bidder, sizeof(now.high_bidder), "%.36s", me);
    snprintf(now.high_bid, sizeof(now.high_bid), "%s", bid_id);
    now.seq = b.seq;
    rc = auction_settle_now(tx, &now);
    if (rc == AUCTION_SETTLE_OUT_OF_RANGE)
        return mut_refuse(m, tx, MUT_ROLLBACK, 422, "amount_out_of_range", NULL,
                          "the seller's balance would exceed the largest representable amount");
    if (rc < 0)
        return TX_ERROR;
    res = tx_exec_named(tx, SQL_LOT_GET, p);
    if (!res)
        return TX_ERROR;
    b.status = BID_WON;
    {
        struct json_object *lot = PQntuples(res) == 1 ? lots_json(res, 0) : NULL;
        PQclear(res);
        return bid_answer(m, tx, q, lot, &b);
    }
}

/* The refusals auction_bid_decide() can give (t->outcome not a bid to write). */
static enum tx_decision refuse_terms(struct mutation *m, struct tx *tx,
                                     const struct auction_bid_terms *t)
{
    switch (t->outcome) {
    case AUCTION_BID_TOO_LOW:
        return mut_refuse(m, tx, MUT_STORED, 409, "bid_too_low",
                          mut_extra_i64("minimum", t->minimum), "the minimum bid is %" PRId64,
                          t->minimum);
    case AUCTION_BID_MAX_NOT_RAISED:
        return mut_refuse(m, tx, MUT_STORED, 409, "max_not_raised",
                          mut_extra_i64("minimum", t->minimum),
                          "you lead: a new maximum must exceed your own");
    case AUCTION_BID_NO_BUY_NOW:
        return mut_refuse(m, tx, MUT_ROLLBACK, 422, "field_not_applicable", NULL,
                          "this lot has no buy-now price");
    case AUCTION_BID_BUY_NOW_GONE:
        return mut_refuse(m, tx, MUT_STORED, 409, "buy_now_unavailable", NULL,
                          "buy-now is offered only until the first bid");
    default:
        break;
    }
    return mut_refuse(m, tx, MUT_ROLLBACK, 422, "amount_out_of_range", NULL,
                      "the leading bid plus the increment exceeds the largest representable"
                      " amount: no higher bid is possible");
}

/* The others' highest maximum, for a leader raising their own: 0 when none, -1 on failure. */
static int64_t others_max(struct tx *tx, const struct lot *l, const char *me)
{
    const char *p[2] = { l->id, me };
    PGresult *res = tx_exec_named(tx, SQL_BID_OTHERS_MAX, p);
    int64_t v;

    if (!res)
        return -1;
    v = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return v;
}

enum tx_decision bid_english(struct mutation *m, struct tx *tx, const struct bid_req *q,
                             const struct lot *l)
{
    const char *me = mut_request(m)->caller.sub;
    struct auction_bid_in in = { q->has_max_amount, q->buy_now,
                                 q->has_max_amount ? q->max_amount : q->amount, 0 };
    struct auction_bid_terms t;
    struct ledger_account acc[2];
    enum auction_closed closed;
    enum tx_decision d;
    int64_t need;
    int nacc = 1;

    if (!q->has_amount && !q->has_max_amount && !q->buy_now)
        return mut_refuse(m, tx, MUT_ROLLBACK, 422, "missing_field", NULL,
                          "an English bid needs \"amount\", \"max_amount\" or \"buy_now\"");
    if (q->has_max_price || q->has_quantity)
        return mut_refuse(m, tx, MUT_ROLLBACK, 422, "field_not_applicable", NULL,
                          "English bids take only \"lot\" and \"amount\", \"max_amount\" or"
                          " \"buy_now\"");
    closed = auction_lot_closed(l, me);
    if (closed != AUCTION_OPEN)
        return bid_refuse_closed(m, tx, l, closed, "bid on");
    if (in.proxy && auction_is_leader(l, me) && (in.second_max = others_max(tx, l, me)) < 0)
        return TX_ERROR;
    switch (auction_bid_decide(l, me, &in, &t)) {
    case AUCTION_BID_LEAD:
    case AUCTION_BID_OUTBID_BY_PROXY:
    case AUCTION_BID_BUY_NOW:
        break;
    default:
        return refuse_terms(m, tx, &t);
    }
    memset(acc, 0, sizeof(acc));
    memcpy(acc[0].id, me, sizeof(acc[0].id));
    if (t.outcome == AUCTION_BID_LEAD && l->high_bidder[0] && !auction_is_leader(l, me)) {
        memcpy(acc[1].id, l->high_bidder, sizeof(acc[1].id));
        nacc = 2;
    } else if (t.outcome == AUCTION_BID_BUY_NOW) {
        memcpy(acc[1].id, l->seller, sizeof(acc[1].id));
        nacc = 2;
    }
    if (ledger_lock(tx, acc, nacc) < 0)
        return TX_ERROR;
    /* A bid the leader's maximum beats must still be one its bidder could
     * pay, or anyone could push a leader's price up for free. */
    need = t.outcome == AUCTION_BID_OUTBID_BY_PROXY ? t.amount
        : t.outcome == AUCTION_BID_BUY_NOW          ? t.price
                                                    : auction_extra_hold(l, me, t.hold);
    /* held + need <= balance + credit_limit follows: the new held cannot overflow. */
    if (bid_refuse_account(m, tx, &acc[0], need, "bid", &d))
        return d;
    if (t.outcome == AUCTION_BID_OUTBID_BY_PROXY)
        return outbid_by_proxy(m, tx, q, l, &t);
    if (t.outcome == AUCTION_BID_BUY_NOW)
        return buy_now(m, tx, q, l, &t);
    return lead(m, tx, q, l, &t, need);
}
