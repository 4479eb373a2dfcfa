/*
 * book.c — the order book's writes (see book.h).
 */
#include "domain/book.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/events.h"
#include "domain/ledger.h"

static const char *i64(char *buf, int64_t v)
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

int book_load_makers(PGresult *res, struct match_order *m, int *n, int max, int mint)
{
    for (int i = 0; i < PQntuples(res) && *n < max; i++) {
        struct match_order *k = &m[(*n)++];

        memset(k, 0, sizeof(*k));
        snprintf(k->id, sizeof(k->id), "%s", PQgetvalue(res, i, 0));
        snprintf(k->account, sizeof(k->account), "%s", PQgetvalue(res, i, 1));
        if (order_side_parse(PQgetvalue(res, i, 2), &k->side) < 0
            || market_outcome_parse(PQgetvalue(res, i, 3), &k->outcome) < 0)
            return -1;
        k->price = strtoll(PQgetvalue(res, i, 4), NULL, 10);
        k->remaining = strtoll(PQgetvalue(res, i, 5), NULL, 10);
        k->hold = strtoll(PQgetvalue(res, i, 6), NULL, 10);
        k->seq = strtoll(PQgetvalue(res, i, 7), NULL, 10);
        match_order_kind(k, mint);
    }
    return 0;
}

int book_release_hold(struct tx *tx, const char *market, const struct match_order *k)
{
    char b[24];

    if (k->side == SIDE_BUY) {
        if (k->hold > 0 && ledger_adjust_held(tx, k->account, -k->hold) < 0)
            return -1;
    } else {
        const char *pp[4] = { market, k->account, market_outcome_name(k->outcome),
                              i64(b, k->remaining) };
        if (tx_exec_named_void(tx, SQL_ORDER_POSITION_RELEASE, pp) < 0)
            return -1;
    }
    return 0;
}

/* Release a resting order's hold and close it with statement close. */
static int release_resting(struct tx *tx, const char *market, const struct match_order *k,
                           enum sql_id close)
{
    const char *p[1] = { k->id };

    if (book_release_hold(tx, market, k) < 0)
        return -1;
    return tx_exec_named_void(tx, close, p);
}

int book_cancel_resting(struct tx *tx, const char *market, const struct match_order *k)
{
    return release_resting(tx, market, k, SQL_ORDER_CANCEL);
}

int book_expire_resting(struct tx *tx, const char *market, const struct match_order *k)
{
    struct events_buf ev = { 0 };
    struct json_object *o =
        events_obj("id", k->id, "market", market, "status", "cancelled", "reason", "expired", NULL);
    int rc;

    if (release_resting(tx, market, k, SQL_ORDER_EXPIRE) < 0) {
        json_object_put(o);
        return -1;
    }
    json_object_object_add(o, "released_quantity", json_object_new_int64(k->remaining));
    json_object_object_add(o, "released_cash",
                           json_object_new_int64(k->side == SIDE_BUY ? k->hold : 0));
    /* the expiry announces itself in its own transaction, as a cancel does */
    rc = events_add(&ev, "order.cancelled", events_wrap("order", o), "markets/%s accounts/%s",
                    market, k->account);
    if (rc == 0)
        rc = events_exec(tx, &ev);
    else
        tx->err = DB_FAILED;
    events_reset(&ev);
    return rc;
}

int book_hold_rest(struct tx *tx, const char *market, const char *account, enum order_side side,
                   enum market_outcome outcome, int64_t rest, int64_t hold)
{
    char b[24];
    const char *p[4] = { market, account, market_outcome_name(outcome), i64(b, rest) };

    if (rest <= 0)
        return 0;
    if (side == SIDE_BUY)
        return ledger_adjust_held(tx, account, hold);
    return tx_exec_named_void(tx, SQL_ORDER_POSITION_HOLD, p);
}

/* Move f contracts (and their share of cost basis) from seller to buyer. 0 / -1. */
static int move_contracts(struct tx *tx, const char *market, const char *outcome,
                          const char *seller, const char *buyer, int64_t f, int release_held)
{
    char fb[24], cb[24], rb[24];
    const char *p[3] = { market, seller, outcome };
    PGresult *res = tx_exec_named(tx, SQL_ORDER_POSITION_READ, p);
    int64_t qty, cost, share;

    if (!res)
        return -1;
    qty = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    cost = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 1), NULL, 10) : 0;
    PQclear(res);
    share = market_cost_share(qty, cost, f);
    {
        const char *pt[6] = { market,     seller,         outcome,
                              i64(fb, f), i64(cb, share), i64(rb, release_held ? f : 0) };
        const char *pa[5] = { market, buyer, outcome, fb, cb };

        if (tx_exec_named_void(tx, SQL_ORDER_POSITION_TAKE, pt) < 0
            || tx_exec_named_void(tx, SQL_ORDER_POSITION_ADD, pa) < 0)
            return -1;
    }
    return 0;
}

/* Add f contracts with cost of basis to who's position. 0 / -1. */
static int add_contracts(struct tx *tx, const char *market, enum market_outcome outcome,
                         const char *who, int64_t f, int64_t cost)
{
    char fb[24], cb[24];
    const char *p[5] = { market, who, market_outcome_name(outcome), i64(fb, f), i64(cb, cost) };

    return tx_exec_named_void(tx, SQL_ORDER_POSITION_ADD, p);
}

/* One trade row: buyer/seller and the cash transfers that paid it. 0 / -1. */
struct trade_row {
    const char *kind, *outcome, *buyer, *seller, *cash_a, *cash_b;
    int64_t price, qty;
};

static int insert_trade(struct tx *tx, const struct book_taker *t, const struct match_order *k,
                        const struct trade_row *w)
{
    char id[UUID_STR_LEN + 1], sb[24], pb[24], qb[24];
    const char *p[13] = { id,
                          t->market,
                          i64(sb, t->trade_seq),
                          w->kind,
                          w->outcome,
                          i64(pb, w->price),
                          i64(qb, w->qty),
                          w->buyer,
                          w->seller,
                          t->order_id,
                          k->id,
                          w->cash_a,
                          w->cash_b };

    if (util_uuid_v4(id) < 0)
        return -1;
    return tx_exec_named_void(tx, SQL_ORDER_TRADE_INSERT, p);
}

/* A mint: the taker buys t->outcome at 100 - k->price, the maker the
 * complement at k->price; both pay escrow, 100 per pair. */
static int settle_mint(struct tx *tx, const struct book_taker *t, struct match_order *k,
                       const char *memo)
{
    char cash_a[UUID_STR_LEN + 1], cash_b[UUID_STR_LEN + 1];
    int64_t f = k->fill, taker_px = 100 - k->price;
    int yes_taker = t->outcome == OUTCOME_YES;
    struct trade_row w = { "mint",
                           "yes",
                           yes_taker ? t->account : k->account,
                           yes_taker ? k->account : t->account,
                           yes_taker ? cash_a : cash_b,
                           yes_taker ? cash_b : cash_a,
                           yes_taker ? taker_px : k->price,
                           f };

    if (ledger_move(tx, t->account, t->escrow, taker_px * f, 0, "mint", t->caller, memo, NULL,
                    cash_a, NULL)
            < 0
        || ledger_move(tx, k->account, t->escrow, k->price * f, k->price * f, "mint", "system",
                       memo, NULL, cash_b, NULL)
            < 0
        || add_contracts(tx, t->market, t->outcome, t->account, f, taker_px * f) < 0
        || add_contracts(tx, t->market, k->outcome, k->account, f, k->price * f) < 0
        || insert_trade(tx, t, k, &w) < 0)
        return -1;
    k->hold -= k->price * f;
    return 0;
}

/* A transfer at the maker's price: a buying taker pays the seller; a
 * selling taker is paid out of the maker's hold. */
static int settle_transfer(struct tx *tx, const struct book_taker *t, struct match_order *k,
                           const char *memo)
{
    char cash[UUID_STR_LEN + 1];
    int64_t f = k->fill, amount = k->price * f;
    int buy = t->side == SIDE_BUY;
    const char *outcome = market_outcome_name(t->outcome);
    const char *buyer = buy ? t->account : k->account, *seller = buy ? k->account : t->account;
    struct trade_row w = { "transfer", outcome, buyer, seller, cash, NULL, k->price, f };

    if (ledger_move(tx, buyer, seller, amount, buy ? 0 : amount, "trade",
                    buy ? t->caller : "system", memo, NULL, cash, NULL)
            < 0
        || move_contracts(tx, t->market, outcome, seller, buyer, f, buy) < 0
        || insert_trade(tx, t, k, &w) < 0)
        return -1;
    if (!buy)
        k->hold -= amount;
    return 0;
}

int book_settle_fill(struct tx *tx, const struct book_taker *t, struct match_order *k)
{
    char memo[64], b1[24], b2[24];
    const char *p[3] = { k->id, b1, b2 };

    snprintf(memo, sizeof(memo), "market %s", t->market);
    if ((k->mint ? settle_mint(tx, t, k, memo) : settle_transfer(tx, t, k, memo)) < 0)
        return -1;
    i64(b1, k->fill);
    i64(b2, k->hold);
    return tx_exec_named_void(tx, SQL_ORDER_MAKER_FILL, p);
}
