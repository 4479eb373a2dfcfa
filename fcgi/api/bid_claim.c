/*
 * bid_claim.c — POST /bid on a Dutch or drop lot: a claim that pays now.
 *
 * The lot row is locked (round 1 of bid.c); the claim's terms are checked
 * against it (domain/auction.h), the buyer's and the seller's accounts are
 * locked (in round 1 already on the postgres dialect) and the payment, the
 * claim row and the lot's update go with the stored answer and COMMIT in
 * one round trip: the answer's lot is computed from the locked row, as the
 * update will leave it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/bid_int.h"
#include "api/lots.h"
#include "api/mutation.h"
#include "domain/auction.h"
#include "domain/ledger.h"
#include "util.h"

/* Refuse a claim whose terms are not met (r != AUCTION_CLAIM_OK). */
static enum tx_decision refuse_terms(struct mutation *m, struct tx *tx, const struct bid_req *q,
                                     const struct lot *l, const struct auction_claim *c,
                                     enum auction_claim_refusal r)
{
    switch (r) {
    case AUCTION_CLAIM_ABOVE_MAX:
        return mut_refuse(
            m, tx, MUT_STORED, 409, "price_above_max", mut_extra_i64("price", c->unit),
            "the price is %" PRId64 ", above max_price %" PRId64, c->unit, q->max_price);
    case AUCTION_CLAIM_OVER_LIMIT:
        return mut_refuse(m, tx, MUT_STORED, 422, "quantity_over_limit",
                          mut_extra_i64("max_per_claim", l->max_per_claim),
                          "at most %d units per claim", l->max_per_claim);
    case AUCTION_CLAIM_UNITS_LEFT:
        return mut_refuse(m, tx, MUT_STORED, 409, "sold_out",
                          mut_extra_i64("units_left", auction_units_left(l)), "only %d units left",
                          auction_units_left(l));
    case AUCTION_CLAIM_OUT_OF_RANGE:
    case AUCTION_CLAIM_OK:
        break;
    }
    return mut_refuse(m, tx, MUT_ROLLBACK, 422, "amount_out_of_range", NULL,
                      "price x quantity exceeds the largest representable amount");
}

/* Input that does not fit a Dutch or drop lot: refused, rolled back. NULL when it fits. */
const char *bid_claim_input_error(const struct bid_req *q, const struct lot *l, char *buf, size_t n)
{
    if (q->has_amount || q->has_max_amount || q->buy_now) {
        snprintf(buf, n, "a %s lot is claimed, not bid on: omit \"%s\"", auction_kind_name(l->kind),
                 q->has_amount    ? "amount"
                     : q->buy_now ? "buy_now"
                                  : "max_amount");
        return buf;
    }
    if (l->kind == LOT_DUTCH && q->has_quantity)
        return "a Dutch lot has one unit: omit \"quantity\"";
    if (l->kind == LOT_DROP && q->has_max_price)
        return "a drop has a fixed price: omit \"max_price\"";
    return NULL;
}

/* Set column name of row 0 of res to v: 1, or 0 (no such column, out of memory). */
static int set_col(PGresult *res, const char *name, const char *v)
{
    int c = PQfnumber(res, name);

    return c >= 0 && PQsetvalue(res, 0, c, (char *)v, (int)strlen(v));
}

/*
 * The lot as bid_dutch_sold or bid_drop_claimed leave it, from its locked
 * row before (pre, row 0, read in this transaction: its now() is the one
 * those statements see) and the claim b by me: what their RETURNING would
 * answer, so the answer can ride with the writes and COMMIT. NULL on
 * failure (out of memory).
 */
static struct json_object *claimed_lot(PGresult *pre, const struct lot *l, const struct bid_row *b,
                                       const char *me)
{
    PGresult *c = PQcopyResult(pre, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
    char now[40], seq[24], qty[24], cost[24];
    int now_col = c ? PQfnumber(c, "db_now") : -1, ok;
    int64_t claimed = l->kind == LOT_DUTCH ? 1 : (int64_t)l->qty_claimed + b->quantity;
    struct json_object *o = NULL;

    if (now_col < 0) {
        PQclear(c);
        return NULL;
    }
    snprintf(now, sizeof(now), "%s", PQgetvalue(c, 0, now_col));
    snprintf(seq, sizeof(seq), "%" PRId64, b->seq);
    snprintf(qty, sizeof(qty), "%" PRId64, claimed);
    snprintf(cost, sizeof(cost), "%" PRId64, b->amount);
    ok = set_col(c, "seq", seq) && set_col(c, "qty_claimed", qty);
    if (l->kind == LOT_DUTCH)
        ok = ok && set_col(c, "status", "settled") && set_col(c, "settled_at", now)
            && set_col(c, "winner", me) && set_col(c, "clearing_price", cost)
            && set_col(c, "high_amount", cost) && set_col(c, "high_bidder", me)
            && set_col(c, "high_bid", b->id);
    else if (claimed >= l->qty_total)
        ok = ok && set_col(c, "status", "sold_out") && set_col(c, "settled_at", now);
    if (ok)
        o = lots_json(c, 0);
    PQclear(c);
    return o;
}

/*
 * The claim's writes (w: the payment, the claim row, the lot), then the
 * 201 answer and COMMIT. With the locked row of round 1 (pre->lot) the
 * answer's lot is computed and everything rides in one round trip;
 * otherwise (the lot was locked later) the writes return the lot first.
 */
static enum tx_decision claim_finish(struct mutation *m, struct tx *tx, const struct bid_req *q,
                                     struct bid_writes *w, const struct bid_row *b,
                                     const struct bid_claim_pre *pre)
{
    struct json_object *lot;

    if (!pre->lot)
        return bid_finish(m, tx, q, w, b);
    if (w->overflow) {
        tx->err = DB_FAILED;
        return TX_ERROR;
    }
    lot = claimed_lot(pre->lot, b->before, b, mut_request(m)->caller.sub);
    return bid_answer_with(m, tx, q, lot, b, w->st, w->n);
}

enum tx_decision bid_purchase(struct mutation *m, struct tx *tx, const struct bid_req *q,
                              const struct lot *l, const struct bid_claim_pre *pre)
{
    const char *me = mut_request(m)->caller.sub;
    char bid_id[UUID_STR_LEN + 1], memo[64], buf[96];
    const char *bad = bid_claim_input_error(q, l, buf, sizeof(buf));
    enum auction_claim_refusal refusal;
    enum auction_closed closed;
    struct auction_claim c;
    struct ledger_account acc[2];
    struct ledger_move_stmts mv;
    struct bid_writes w;
    struct bid_row b;
    enum tx_decision d;

    if (bad)
        return mut_refuse(m, tx, MUT_ROLLBACK, 422, "field_not_applicable", NULL, "%s", bad);
    closed = auction_lot_closed(l, me);
    if (closed != AUCTION_OPEN)
        return bid_refuse_closed(m, tx, l, closed, "buy");
    refusal =
        auction_claim_terms(l, q->has_max_price, q->max_price, q->has_quantity, q->quantity, &c);
    if (refusal != AUCTION_CLAIM_OK)
        return refuse_terms(m, tx, q, l, &c, refusal);

    memset(acc, 0, sizeof(acc));
    memcpy(acc[0].id, me, sizeof(acc[0].id));
    memcpy(acc[1].id, l->seller, sizeof(acc[1].id));
    /* both locked in round 1 already (postgres), or locked now */
    if (ledger_lock_parse_rows(acc, 2, pre->accounts) < 2 && ledger_lock(tx, acc, 2) < 0)
        return TX_ERROR;
    if (bid_refuse_account(m, tx, &acc[0], c.cost, "buy", &d))
        return d;
    if (!ledger_move_fits(&acc[0], &acc[1], c.cost))
        return mut_refuse(m, tx, MUT_ROLLBACK, 422, "amount_out_of_range", NULL,
                          "the seller's balance would exceed the largest representable amount");
    snprintf(memo, sizeof(memo), "lot %s", l->id);
    if (ledger_move_prepare(&mv, tx->cfg, me, l->seller, c.cost, 0, "purchase", mut_caller(m), memo,
                            mut_scoped_key(m))
            < 0
        || util_uuid_v4(bid_id) < 0)
        return TX_ERROR;
    b = (struct bid_row){ bid_id, c.cost, c.quantity, l->seq + 1, BID_CLAIMED, mv.id, l };
    /* The payment, the claim row and the lot: with the answer and COMMIT
     * when round 1 locked the lot (claim_finish). */
    memset(&w, 0, sizeof(w));
    for (int i = 0; i < mv.n; i++)
        bid_w_add_stmt(&w, mv.st[i]);
    bid_add_row(&w, m, q, &b);
    if (l->kind == LOT_DUTCH)
        bid_w_add(&w, SQL_BID_DUTCH_SOLD, l->id, me, bid_id, bid_w_i64(&w, b.seq),
                  bid_w_i64(&w, c.cost));
    else
        bid_w_add(&w, SQL_BID_DROP_CLAIMED, l->id, bid_w_i64(&w, c.quantity), bid_w_i64(&w, b.seq));
    return claim_finish(m, tx, q, &w, &b, pre);
}
