/*
 * order.c — POST /order and DELETE /order/{id}: limit orders matched by
 * price, then time, with every fill settled as double entry in the same
 * transaction.
 *
 * One transaction per order: claim the idempotency key, lock the market
 * row (the market's serialisation point: a taker can never fill against
 * quantity another taker already consumed), read the crossing resting
 * orders best first, lock every account involved in id order, check the
 * taker's cash or contracts, then apply the fills:
 *   - transfer fill: contracts (or shares) move seller → buyer, cash buyer →
 *     seller at the maker's price, one `trade` transfer;
 *   - mint fill (event markets): a YES buy at p meets a resting NO buy at
 *     q ≥ 100 − p; the taker pays 100 − q and the maker q into the market's
 *     escrow (two `mint` transfers, 100 per pair) and each gets one contract.
 * Self-trade prevention: a resting order of the taker's own account that
 * would match is cancelled (its holds released) and matching continues.
 * A resting buy holds remaining × price on accounts.held; a resting sell
 * holds its contracts on positions.held. At most ORDER_MAX_MAKERS resting
 * orders are consumed per incoming order; the rest of it rests (gtc) or is
 * cancelled (ioc).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_tx.h"
#include "api/auth.h"
#include "api/idempotency.h"
#include "domain/ledger.h"
#include "api/market.h"
#include "api/routes.h"
#include "util.h"

#define ORDER_MAX_MAKERS 200

struct order_req {
    char market[UUID_STR_LEN + 1];
    char side[8];                 /* buy | sell */
    char outcome[8];              /* shares | yes | no ("" until the market's kind is known) */
    int64_t price, quantity;
    char tif[4];                  /* gtc | ioc */
};

struct maker {
    char id[UUID_STR_LEN + 1];
    char account[UUID_STR_LEN + 1];
    char side[8], outcome[8];
    int64_t price, remaining, hold;
    int64_t seq;
    int64_t cost;                 /* per unit, for the taker */
    int mint;                     /* complement buy → mint a pair */
    int64_t fill;                 /* units filled (0: skipped or cancelled) */
    int stp;                      /* cancelled by self-trade prevention */
};

struct order_tx {
    struct request *r;
    const struct order_req *q;
    struct idem *idem;
    int status;
    char *body;
};

static enum tx_decision reject(struct tx *tx, struct order_tx *o, int store, int status,
                               const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* store=1: terminal, kept under the key and committed; 0: rolled back, nothing written. */
static enum tx_decision reject(struct tx *tx, struct order_tx *o, int store, int status,
                               const char *code, const char *fmt, ...)
{
    char detail[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    o->status = status;
    o->body = util_json_take_text(http_problem_object(o->r, status, code, detail));
    if (!o->body)
        return TX_ERROR;
    if (!store)
        return TX_ROLLBACK;
    if (idem_finish(tx, o->idem, status, o->body) < 0)
        return TX_ERROR;
    return TX_COMMIT;
}

static const char *i64(char *buf, int64_t v)
{
    sprintf(buf, "%" PRId64, v);
    return buf;
}

static int order_parse(struct request *r, struct order_req *q)
{
    static const char *const allowed[] = { "market", "side", "outcome", "price", "quantity",
                                           "time_in_force", NULL };
    struct json_object *v;
    const char *unknown = util_json_unknown_member(r->json, allowed), *s;

    memset(q, 0, sizeof(*q));
    if (unknown) {
        http_problem(r, 422, "unknown_field", "unknown field \"%.64s\"", unknown);
        return -1;
    }
    if (!json_object_object_get_ex(r->json, "market", &v) || !json_object_is_type(v, json_type_string)
        || !util_uuid_parse(json_object_get_string(v), q->market)) {
        http_problem(r, 422, "invalid_market_id", "\"market\" must be a market id");
        return -1;
    }
    if (!json_object_object_get_ex(r->json, "side", &v) || !json_object_is_type(v, json_type_string)
        || (strcmp(json_object_get_string(v), "buy") != 0
            && strcmp(json_object_get_string(v), "sell") != 0)) {
        http_problem(r, 422, "invalid_side", "\"side\" must be \"buy\" or \"sell\"");
        return -1;
    }
    snprintf(q->side, sizeof(q->side), "%s", json_object_get_string(v));
    if (json_object_object_get_ex(r->json, "outcome", &v) && !json_object_is_type(v, json_type_null)) {
        s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
        if (strcmp(s, "yes") != 0 && strcmp(s, "no") != 0) {
            http_problem(r, 422, "invalid_outcome", "\"outcome\" must be \"yes\" or \"no\"");
            return -1;
        }
        snprintf(q->outcome, sizeof(q->outcome), "%s", s);
    }
    if (!json_object_object_get_ex(r->json, "price", &v) || util_json_int64(v, 1, &q->price) < 0
        || q->price > 1000000000) {
        http_problem(r, 422, "invalid_price", "\"price\" must be an integer within the market's ticks");
        return -1;
    }
    if (!json_object_object_get_ex(r->json, "quantity", &v) || util_json_int64(v, 1, &q->quantity) < 0
        || q->quantity > 1000000000) {
        http_problem(r, 422, "invalid_quantity", "\"quantity\" must be an integer from 1 to 1000000000");
        return -1;
    }
    snprintf(q->tif, sizeof(q->tif), "gtc");
    if (json_object_object_get_ex(r->json, "time_in_force", &v)) {
        s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
        if (strcmp(s, "gtc") != 0 && strcmp(s, "ioc") != 0) {
            http_problem(r, 422, "invalid_time_in_force", "\"time_in_force\" must be \"gtc\" or \"ioc\"");
            return -1;
        }
        snprintf(q->tif, sizeof(q->tif), "%s", s);
    }
    return 0;
}

/* Append rows of res (id, account_id, side, outcome, price, remaining, hold_amount, seq) to m. */
static void load_makers(PGresult *res, struct maker *m, int *n, int mint)
{
    for (int i = 0; i < PQntuples(res) && *n < ORDER_MAX_MAKERS; i++) {
        struct maker *k = &m[(*n)++];
        memset(k, 0, sizeof(*k));
        snprintf(k->id, sizeof(k->id), "%s", PQgetvalue(res, i, 0));
        snprintf(k->account, sizeof(k->account), "%s", PQgetvalue(res, i, 1));
        snprintf(k->side, sizeof(k->side), "%s", PQgetvalue(res, i, 2));
        snprintf(k->outcome, sizeof(k->outcome), "%s", PQgetvalue(res, i, 3));
        k->price = strtoll(PQgetvalue(res, i, 4), NULL, 10);
        k->remaining = strtoll(PQgetvalue(res, i, 5), NULL, 10);
        k->hold = strtoll(PQgetvalue(res, i, 6), NULL, 10);
        k->seq = strtoll(PQgetvalue(res, i, 7), NULL, 10);
        k->mint = mint;
        k->cost = mint ? 100 - k->price : k->price;
    }
}

/* Best first for the taker: a buy wants the lowest cost, a sell the highest price; then time. */
static int taker_is_buy;

static int best_first(const void *a, const void *b)
{
    const struct maker *x = a, *y = b;

    if (x->cost != y->cost)
        return taker_is_buy ? (x->cost < y->cost ? -1 : 1) : (x->cost > y->cost ? -1 : 1);
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

#define ORDER_COLS "id, account_id, side, outcome, price, remaining, hold_amount, seq"

/* Release a resting order's reservation and mark it cancelled. 0 / -1. */
static int cancel_resting(struct tx *tx, const char *market, const struct maker *k)
{
    char b[24];
    const char *p[1] = { k->id };

    if (strcmp(k->side, "buy") == 0) {
        if (k->hold > 0 && ledger_adjust_held(tx, k->account, -k->hold) < 0)
            return -1;
    } else {
        const char *pp[4] = { market, k->account, k->outcome, i64(b, k->remaining) };
        if (tx_exec_void(tx, "UPDATE positions SET held = held - $4::bigint WHERE market_id = $1"
                             " AND account_id = $2 AND outcome = $3", 4, pp) < 0)
            return -1;
    }
    return tx_exec_void(tx, "UPDATE orders SET status = 'cancelled', hold_amount = 0, updated_at = now()"
                            " WHERE id = $1", 1, p);
}

/* Move f contracts (and their share of cost basis) from seller to buyer. 0 / -1. */
static int move_contracts(struct tx *tx, const char *market, const char *outcome, const char *seller,
                          const char *buyer, int64_t f, int release_held, int64_t added_cost)
{
    char fb[24], cb[24], rb[24];
    PGresult *res;
    int64_t qty, cost, share;
    const char *p[3] = { market, seller, outcome };

    res = tx_exec(tx, "SELECT quantity, cost FROM positions WHERE market_id = $1 AND account_id = $2"
                      " AND outcome = $3", 3, p);
    if (!res)
        return -1;
    qty = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    cost = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 1), NULL, 10) : 0;
    PQclear(res);
    /* the cost basis travels with the contracts, exactly: floor share, all of it at the end */
    share = qty <= f ? cost : (int64_t)((__int128)cost * f / qty);
    {
        const char *pp[6] = { market, seller, outcome, i64(fb, f), i64(cb, share),
                              i64(rb, release_held ? f : 0) };
        if (tx_exec_void(tx, "UPDATE positions SET quantity = quantity - $4::bigint, cost = cost - $5::bigint,"
                             " held = held - $6::bigint"
                             " WHERE market_id = $1 AND account_id = $2 AND outcome = $3", 6, pp) < 0)
            return -1;
    }
    {
        char ab[24];
        const char *pp[5] = { market, buyer, outcome, fb, i64(ab, share + added_cost) };
        if (tx_exec_void(tx, "INSERT INTO positions (market_id, account_id, outcome, quantity, cost)"
                             " VALUES ($1, $2, $3, $4, $5)"
                             " ON CONFLICT (market_id, account_id, outcome) DO UPDATE SET"
                             " quantity = positions.quantity + EXCLUDED.quantity,"
                             " cost = positions.cost + EXCLUDED.cost", 5, pp) < 0)
            return -1;
    }
    return 0;
}

static int add_contracts(struct tx *tx, const char *market, const char *outcome, const char *who,
                         int64_t f, int64_t cost)
{
    char fb[24], cb[24];
    const char *pp[5] = { market, who, outcome, i64(fb, f), i64(cb, cost) };

    return tx_exec_void(tx, "INSERT INTO positions (market_id, account_id, outcome, quantity, cost)"
                            " VALUES ($1, $2, $3, $4, $5)"
                            " ON CONFLICT (market_id, account_id, outcome) DO UPDATE SET"
                            " quantity = positions.quantity + EXCLUDED.quantity,"
                            " cost = positions.cost + EXCLUDED.cost", 5, pp);
}

static int insert_trade(struct tx *tx, const char *market, int64_t seq, const char *kind,
                        const char *outcome, int64_t price, int64_t qty, const char *buyer,
                        const char *seller, const char *taker, const char *maker, const char *cash_a,
                        const char *cash_b)
{
    char id[UUID_STR_LEN + 1], sb[24], pb[24], qb[24];
    const char *p[13] = { id, market, i64(sb, seq), kind, outcome, i64(pb, price), i64(qb, qty),
                          buyer, seller, taker, maker, cash_a, cash_b };

    if (util_uuid_v4(id) < 0)
        return -1;
    return tx_exec_void(tx, "INSERT INTO trades (id, market_id, seq, kind, outcome, price, quantity, buyer,"
                            " seller, taker_order, maker_order, cash_a, cash_b)"
                            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)", 13, p);
}

static enum tx_decision order_tx(struct tx *tx, void *arg)
{
    struct order_tx *o = arg;
    const struct order_req *q = o->q;
    const char *me = o->r->caller.sub;
    struct market mk;
    struct maker *m = NULL;
    int n = 0, rc, buy = strcmp(q->side, "buy") == 0;
    char outcome[8], b1[24], b2[24], b3[24], b4[24], order_id[UUID_STR_LEN + 1];
    int64_t left, need = 0, rest, hold = 0, trade_seq, released = 0, cost;
    int overflow = 0;
    enum tx_decision d = TX_ERROR;
    struct ledger_account *acc = NULL;
    struct json_object *fills = NULL;

    free(o->body);
    o->body = NULL;
    if (idem_claim(tx, o->idem) < 0)
        return TX_ERROR;
    if (o->idem->outcome != IDEM_NEW)
        return TX_ROLLBACK;
    rc = market_lock(tx, q->market, &mk);
    if (rc < 0)
        return TX_ERROR;
    if (rc == 0)
        return reject(tx, o, 1, 404, "market_not_found", "no such market");
    if (strcmp(mk.kind, "event") == 0) {
        if (!q->outcome[0])
            return reject(tx, o, 0, 422, "missing_field", "an event market order needs \"outcome\"");
        snprintf(outcome, sizeof(outcome), "%s", q->outcome);
    } else {
        if (q->outcome[0])
            return reject(tx, o, 0, 422, "field_not_applicable",
                          "a shares market takes no \"outcome\"");
        snprintf(outcome, sizeof(outcome), "shares");
    }
    if (q->price < mk.tick_min || q->price > mk.tick_max)
        return reject(tx, o, 0, 422, "price_out_of_range", "price must be from %d to %d",
                      mk.tick_min, mk.tick_max);
    if (strcmp(mk.status, "open") != 0)
        return reject(tx, o, 1, 409, "market_closed", "the market is %s", mk.status);
    if (strcmp(me, mk.escrow) == 0)
        return reject(tx, o, 1, 403, "escrow_cannot_trade", "the escrow account cannot trade");

    if (!buy) {
        const char *p[3] = { q->market, me, outcome };
        PGresult *res = tx_exec(tx, "SELECT quantity - held FROM positions WHERE market_id = $1"
                                    " AND account_id = $2 AND outcome = $3", 3, p);
        int64_t avail;
        if (!res)
            return TX_ERROR;
        avail = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
        PQclear(res);
        if (avail < q->quantity)
            return reject(tx, o, 1, 422, "insufficient_position",
                          "you hold %" PRId64 " available %s, the order sells %" PRId64,
                          avail, outcome, q->quantity);
    }

    /* The crossing resting orders, best first. */
    m = calloc(2 * ORDER_MAX_MAKERS, sizeof(*m));
    if (!m)
        return TX_ERROR;
    {
        PGresult *res;
        const char *p[4] = { q->market, outcome, i64(b1, q->price), i64(b2, ORDER_MAX_MAKERS) };
        if (buy)
            res = tx_exec(tx, "SELECT " ORDER_COLS " FROM orders WHERE market_id = $1 AND status = 'open'"
                              " AND side = 'sell' AND outcome = $2 AND price <= $3::int"
                              " ORDER BY price, seq LIMIT $4::int", 4, p);
        else
            res = tx_exec(tx, "SELECT " ORDER_COLS " FROM orders WHERE market_id = $1 AND status = 'open'"
                              " AND side = 'buy' AND outcome = $2 AND price >= $3::int"
                              " ORDER BY price DESC, seq LIMIT $4::int", 4, p);
        if (!res)
            goto out;
        load_makers(res, m, &n, 0);
        PQclear(res);
        if (buy && strcmp(mk.kind, "event") == 0) {
            /* complement buys that, with ours, make 100 per pair */
            const char *pc[4] = { q->market, strcmp(outcome, "yes") == 0 ? "no" : "yes",
                                  i64(b3, 100 - q->price), b2 };
            int added = 0;          /* up to ORDER_MAX_MAKERS more, after the sells */
            res = tx_exec(tx, "SELECT " ORDER_COLS " FROM orders WHERE market_id = $1 AND status = 'open'"
                              " AND side = 'buy' AND outcome = $2 AND price >= $3::int"
                              " ORDER BY price DESC, seq LIMIT $4::int", 4, pc);
            if (!res)
                goto out;
            load_makers(res, m + n, &added, 1);
            n += added;
            PQclear(res);
        }
    }
    taker_is_buy = buy;
    qsort(m, (size_t)n, sizeof(*m), best_first);
    if (n > ORDER_MAX_MAKERS)
        n = ORDER_MAX_MAKERS;

    /* Every sum below is checked: price and quantity are capped at 1e9 each,
     * but a sum past bigint must be a refusal, never a wrapped amount. The
     * fills' own products (maker price x fill) are bounded by need, or for
     * a taker sell by the maker's hold. */
    left = q->quantity;
    for (int i = 0; i < n && left > 0; i++) {
        if (strcmp(m[i].account, me) == 0) {
            m[i].stp = 1;           /* self-trade prevention: cancel the resting order */
            if (strcmp(m[i].side, "buy") == 0
                && __builtin_add_overflow(released, m[i].hold, &released))
                overflow = 1; /* its cash comes back before we pay */
            continue;
        }
        m[i].fill = m[i].remaining < left ? m[i].remaining : left;
        left -= m[i].fill;
        if (buy
            && (__builtin_mul_overflow(m[i].fill, m[i].cost, &cost)
                || __builtin_add_overflow(need, cost, &need)))
            overflow = 1;
    }
    rest = strcmp(q->tif, "gtc") == 0 ? left : 0;
    if (buy
        && (__builtin_mul_overflow(rest, q->price, &hold)
            || __builtin_add_overflow(need, hold, &need)))
        overflow = 1;
    if (overflow) {
        d = reject(tx, o, 0, 422, "amount_out_of_range",
                   "the order's cost exceeds the largest representable amount");
        goto out;
    }

    /* Lock every account we touch, in id order: me, makers, escrow. */
    acc = calloc((size_t)n + 2, sizeof(*acc));
    if (!acc)
        goto out;
    {
        int na = 0;
        memcpy(acc[na++].id, me, UUID_STR_LEN + 1);
        for (int i = 0; i < n; i++)
            if (m[i].fill > 0 || m[i].stp)
                memcpy(acc[na++].id, m[i].account, UUID_STR_LEN + 1);
        if (mk.escrow[0])
            memcpy(acc[na++].id, mk.escrow, UUID_STR_LEN + 1);
        if (ledger_lock(tx, acc, na) < 0)
            goto out;
    }
    if (!acc[0].found) {
        d = reject(tx, o, 1, 422, "account_not_found", "the token's account does not exist");
        goto out;
    }
    if (acc[0].issuer || acc[0].escrow) {
        d = reject(tx, o, 1, 403, "issuer_cannot_trade", "the issuer cannot trade");
        goto out;
    }
    if (buy && acc[0].balance - acc[0].held + released < need) {
        d = reject(tx, o, 1, 422, "insufficient_funds", "available %" PRId64 ", needed %" PRId64,
                   acc[0].balance - acc[0].held + released, need);
        goto out;
    }
    /* Self-trade prevention first: the released holds fund what follows. */
    for (int i = 0; i < n; i++)
        if (m[i].stp && cancel_resting(tx, q->market, &m[i]) < 0)
            goto out;

    if (util_uuid_v4(order_id) < 0)
        goto out;
    trade_seq = mk.seq + 1;
    {
        /* The taker's order row first: trades reference it. */
        const char *status = left == 0 ? "filled" : rest > 0 ? "open" : "cancelled";
        const char *p[12] = { order_id, q->market, me, q->side, outcome, i64(b1, q->price),
                              i64(b2, q->quantity), i64(b3, rest), q->tif, status, i64(b4, hold),
                              o->idem->scoped };
        char sb[24];
        const char *pp[13];
        memcpy(pp, p, sizeof(p));
        pp[12] = i64(sb, trade_seq);
        if (tx_exec_void(tx, "INSERT INTO orders (id, market_id, account_id, side, outcome, price, quantity,"
                             " remaining, time_in_force, status, hold_amount, idem_key, seq)"
                             " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)", 13, pp) < 0)
            goto out;
        if (rest > 0) {
            if (buy) {
                if (ledger_adjust_held(tx, me, hold) < 0)
                    goto out;
            } else {
                const char *ph[4] = { q->market, me, outcome, b3 };
                if (tx_exec_void(tx, "UPDATE positions SET held = held + $4::bigint WHERE market_id = $1"
                                     " AND account_id = $2 AND outcome = $3", 4, ph) < 0)
                    goto out;
            }
        }
    }

    fills = json_object_new_array();
    for (int i = 0; i < n; i++) {
        struct maker *k = &m[i];
        char cash_a[UUID_STR_LEN + 1], cash_b[UUID_STR_LEN + 1], memo[64];
        int64_t f = k->fill;
        const char *mo[1] = { k->id };

        if (f == 0)
            continue;
        snprintf(memo, sizeof(memo), "market %s", q->market);
        if (k->mint) {
            /* taker buys `outcome` at 100 - k->price; maker buys the complement at k->price */
            int64_t taker_px = 100 - k->price;
            if (ledger_move(tx, me, mk.escrow, taker_px * f, 0, "mint", o->idem->caller, memo,
                            NULL, cash_a, NULL) < 0
                || ledger_move(tx, k->account, mk.escrow, k->price * f, k->price * f, "mint",
                               "system", memo, NULL, cash_b, NULL) < 0
                || add_contracts(tx, q->market, outcome, me, f, taker_px * f) < 0
                || add_contracts(tx, q->market, k->outcome, k->account, f, k->price * f) < 0)
                goto out;
            {
                int yes_taker = strcmp(outcome, "yes") == 0;
                if (insert_trade(tx, q->market, trade_seq, "mint", "yes",
                                 yes_taker ? taker_px : k->price, f,
                                 yes_taker ? me : k->account, yes_taker ? k->account : me,
                                 order_id, k->id, yes_taker ? cash_a : cash_b,
                                 yes_taker ? cash_b : cash_a) < 0)
                    goto out;
            }
            k->hold -= k->price * f;
        } else if (buy) {
            /* maker sells to us at its price */
            if (ledger_move(tx, me, k->account, k->price * f, 0, "trade", o->idem->caller, memo,
                            NULL, cash_a, NULL) < 0
                || move_contracts(tx, q->market, outcome, k->account, me, f, 1, 0) < 0
                || insert_trade(tx, q->market, trade_seq, "transfer", outcome, k->price, f, me,
                                k->account, order_id, k->id, cash_a, NULL) < 0)
                goto out;
        } else {
            /* maker buys from us at its price, paying out of its hold */
            if (ledger_move(tx, k->account, me, k->price * f, k->price * f, "trade", "system", memo,
                            NULL, cash_a, NULL) < 0
                || move_contracts(tx, q->market, outcome, me, k->account, f, 0, 0) < 0
                || insert_trade(tx, q->market, trade_seq, "transfer", outcome, k->price, f,
                                k->account, me, order_id, k->id, cash_a, NULL) < 0)
                goto out;
            k->hold -= k->price * f;
        }
        {
            const char *pm[3] = { k->id, i64(b1, f), i64(b2, k->hold) };
            if (tx_exec_void(tx, "UPDATE orders SET remaining = remaining - $2::bigint,"
                                 " hold_amount = $3::bigint,"
                                 " status = CASE WHEN remaining - $2::bigint = 0 THEN 'filled' ELSE status END,"
                                 " updated_at = now() WHERE id = $1", 3, pm) < 0)
                goto out;
            (void)mo;
        }
        {
            struct json_object *fo = json_object_new_object();
            json_object_object_add(fo, "maker_order", json_object_new_string(k->id));
            json_object_object_add(fo, "kind", json_object_new_string(k->mint ? "mint" : "transfer"));
            json_object_object_add(fo, "price", json_object_new_int64(buy ? k->cost : k->price));
            json_object_object_add(fo, "quantity", json_object_new_int64(f));
            json_object_array_add(fills, fo);
        }
    }
    {
        int64_t last = -1;
        for (int i = 0; i < n; i++)
            if (m[i].fill > 0)
                last = buy ? m[i].cost : m[i].price;
        const char *p[3] = { q->market, i64(b1, trade_seq), last >= 0 ? i64(b2, last) : NULL };
        if (tx_exec_void(tx, "UPDATE markets SET seq = $2::bigint, last_price = coalesce($3::int, last_price)"
                             " WHERE id = $1", 3, p) < 0)
            goto out;
    }
    {
        struct json_object *res = json_object_new_object(), *ord = json_object_new_object();
        json_object_object_add(ord, "id", json_object_new_string(order_id));
        json_object_object_add(ord, "market", json_object_new_string(q->market));
        json_object_object_add(ord, "side", json_object_new_string(q->side));
        json_object_object_add(ord, "outcome", json_object_new_string(outcome));
        json_object_object_add(ord, "price", json_object_new_int64(q->price));
        json_object_object_add(ord, "quantity", json_object_new_int64(q->quantity));
        json_object_object_add(ord, "filled", json_object_new_int64(q->quantity - left));
        json_object_object_add(ord, "remaining", json_object_new_int64(rest));
        json_object_object_add(ord, "time_in_force", json_object_new_string(q->tif));
        json_object_object_add(ord, "status", json_object_new_string(
                                   left == 0 ? "filled" : rest > 0 ? "open" : "cancelled"));
        json_object_object_add(ord, "fills", fills);
        fills = NULL;
        json_object_object_add(res, "order", ord);
        o->status = 201;
        o->body = util_json_take_text(res);
        if (!o->body || idem_finish(tx, o->idem, 201, o->body) < 0)
            goto out;
    }
    d = TX_COMMIT;
out:
    if (fills)
        json_object_put(fills);
    free(acc);
    free(m);
    return d;
}

void handle_order_create(struct request *r)
{
    struct order_req q;
    struct idem idem;
    struct order_tx o;
    enum tx_decision d;

    if (order_parse(r, &q) < 0)
        return;
    if (r->caller.scope == JWT_SCOPE_ADMIN) {
        http_problem(r, 403, "user_token_required", "orders are placed with the trader's own token");
        return;
    }
    if (idem_prepare(r, &idem) < 0)
        return;
    memset(&o, 0, sizeof(o));
    o.r = r;
    o.q = &q;
    o.idem = &idem;
    if (api_tx_run(r, 0, order_tx, &o, &d) == 0)
        idem_answer(r, d, &idem, o.status, o.body);
    free(o.body);
    idem_free(&idem);
}

/* ---- DELETE /order/{id} -------------------------------------------------- */

struct cancel_tx {
    struct request *r;
    const char *id;
    struct idem *idem;
    int status;
    char *body;
};

static enum tx_decision cancel_tx(struct tx *tx, void *arg)
{
    struct cancel_tx *c = arg;
    struct order_tx o = { c->r, NULL, c->idem, 0, NULL };
    struct market mk;
    struct maker k;
    char market[UUID_STR_LEN + 1];
    PGresult *res;
    const char *p[1] = { c->id };
    enum tx_decision d;
    int rc;

    free(c->body);
    c->body = NULL;
    if (idem_claim(tx, c->idem) < 0)
        return TX_ERROR;
    if (c->idem->outcome != IDEM_NEW)
        return TX_ROLLBACK;
    res = tx_exec(tx, "SELECT market_id FROM orders WHERE id = $1", 1, p);
    if (!res)
        return TX_ERROR;
    if (PQntuples(res) == 0) {
        PQclear(res);
        d = reject(tx, &o, 1, 404, "order_not_found", "no such order");
        goto done;
    }
    snprintf(market, sizeof(market), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    rc = market_lock(tx, market, &mk);       /* market first, as every order does */
    if (rc <= 0)
        return TX_ERROR;
    res = tx_exec(tx, "SELECT " ORDER_COLS ", status FROM orders WHERE id = $1 FOR UPDATE", 1, p);
    if (!res)
        return TX_ERROR;
    {
        int n = 0;
        load_makers(res, &k, &n, 0);
        int mine = strcmp(k.account, c->r->caller.sub) == 0;
        int open = strcmp(PQgetvalue(res, 0, 8), "open") == 0;
        PQclear(res);
        /* Someone else's order is answered exactly as a missing one. */
        if (!mine && !auth_is_admin(c->r)) {
            d = reject(tx, &o, 1, 404, "order_not_found", "no such order");
            goto done;
        }
        if (!open) {
            d = reject(tx, &o, 1, 409, "order_not_open", "the order is already filled or cancelled");
            goto done;
        }
    }
    {
        struct ledger_account acc[1];
        memset(acc, 0, sizeof(acc));
        memcpy(acc[0].id, k.account, sizeof(acc[0].id));
        if (ledger_lock(tx, acc, 1) < 0 || cancel_resting(tx, market, &k) < 0)
            return TX_ERROR;
    }
    {
        struct json_object *out = json_object_new_object(), *ord = json_object_new_object();
        json_object_object_add(ord, "id", json_object_new_string(k.id));
        json_object_object_add(ord, "market", json_object_new_string(market));
        json_object_object_add(ord, "status", json_object_new_string("cancelled"));
        json_object_object_add(ord, "released_quantity", json_object_new_int64(k.remaining));
        json_object_object_add(ord, "released_cash", json_object_new_int64(
                                   strcmp(k.side, "buy") == 0 ? k.hold : 0));
        json_object_object_add(out, "order", ord);
        o.status = 200;
        o.body = util_json_take_text(out);
        if (!o.body || idem_finish(tx, c->idem, 200, o.body) < 0) {
            free(o.body);
            return TX_ERROR;
        }
        d = TX_COMMIT;
    }
done:
    c->status = o.status;
    c->body = o.body;
    return d;
}

void handle_order_cancel(struct request *r)
{
    char id[UUID_STR_LEN + 1];
    struct idem idem;
    struct cancel_tx c;
    enum tx_decision d;

    if (!util_uuid_parse(r->path_params[0], id)) {
        http_problem(r, 404, "order_not_found", "no such order");
        return;
    }
    if (idem_prepare(r, &idem) < 0)
        return;
    memset(&c, 0, sizeof(c));
    c.r = r;
    c.id = id;
    c.idem = &idem;
    if (api_tx_run(r, 0, cancel_tx, &c, &d) == 0)
        idem_answer(r, d, &idem, c.status, c.body);
    free(c.body);
    idem_free(&idem);
}
