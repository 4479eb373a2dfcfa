/*
 * test_matching.c — unit tests for fcgi/domain/matching.c, the pure
 * matching engine: price then time priority for buys and sells, mint
 * complements on event markets, partial fills, self-trade prevention and
 * the cash it releases and its three modes, gtc/ioc/fok/gtd remainders and
 * their hold, the maker cap, checked sums, and the enum parsers.
 */
#include "tap.h"

#include "domain/matching.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ME "00000000-0000-0000-0000-00000000000a"
#define OTHER "00000000-0000-0000-0000-00000000000b"

static struct match_order maker(const char *id, const char *account, enum order_side side,
                                int64_t price, int64_t remaining, int64_t seq, int mint)
{
    struct match_order k;

    memset(&k, 0, sizeof(k));
    snprintf(k.id, sizeof(k.id), "%s", id);
    snprintf(k.account, sizeof(k.account), "%s", account);
    k.side = side;
    k.outcome = OUTCOME_YES;
    k.price = price;
    k.remaining = remaining;
    k.hold = side == SIDE_BUY ? price * remaining : 0;
    k.seq = seq;
    match_order_kind(&k, mint);
    return k;
}

static void test_buy_priority(void)
{
    struct match_order m[3] = { maker("a", OTHER, SIDE_SELL, 50, 5, 3, 0),
                                maker("b", OTHER, SIDE_SELL, 40, 5, 9, 0),
                                maker("c", OTHER, SIDE_SELL, 50, 5, 1, 0) };
    struct match_taker t = { ME, SIDE_BUY, TIF_GTC, 60, 12, STP_CANCEL_MAKER };
    struct match_result r;

    match_run(&t, m, 3, &r);
    is_str(m[0].id, "b", "buy: the lowest price first");
    is_str(m[1].id, "c", "buy: equal prices in time order (seq 1 before 3)");
    is_str(m[2].id, "a", "buy: the later one last");
    is_int(m[0].fill, 5, "first maker filled fully");
    is_int(m[1].fill, 5, "second maker filled fully");
    is_int(m[2].fill, 2, "third maker filled partially");
    is_int(r.left, 0, "nothing left");
    is_int(r.rest, 0, "nothing rests");
    is_int(r.status, ORDER_FILLED, "the taker is filled");
    is_int(r.need, 5 * 40 + 5 * 50 + 2 * 50, "need: each fill at the maker's price");
    is_int(r.hold, 0, "no hold");
    is_int(r.last_price, 50, "last price: the last fill's");
    is_int(r.overflow, 0, "no overflow");
}

static void test_sell_priority(void)
{
    struct match_order m[3] = { maker("a", OTHER, SIDE_BUY, 30, 4, 1, 0),
                                maker("b", OTHER, SIDE_BUY, 45, 4, 5, 0),
                                maker("c", OTHER, SIDE_BUY, 45, 4, 2, 0) };
    struct match_taker t = { ME, SIDE_SELL, TIF_IOC, 10, 10, STP_CANCEL_MAKER };
    struct match_result r;

    match_run(&t, m, 3, &r);
    is_str(m[0].id, "c", "sell: the highest price first, earliest of equals");
    is_str(m[1].id, "b", "sell: then the later equal price");
    is_str(m[2].id, "a", "sell: the lowest last");
    is_int(m[2].fill, 2, "sell: the last maker partially");
    is_int(match_fill_price(&t, &m[0]), 45, "a sell reports the maker's price");
    is_int(r.need, 0, "a sell needs no cash");
    is_int(r.status, ORDER_FILLED, "filled");
}

static void test_remainder(void)
{
    struct match_order m[1] = { maker("a", OTHER, SIDE_SELL, 20, 3, 1, 0) };
    struct match_taker t = { ME, SIDE_BUY, TIF_GTC, 25, 10, STP_CANCEL_MAKER };
    struct match_result r;

    match_run(&t, m, 1, &r);
    is_int(r.left, 7, "gtc: 7 left");
    is_int(r.rest, 7, "gtc: 7 rest");
    is_int(r.hold, 7 * 25, "gtc buy: the rest held at the taker's price");
    is_int(r.need, 3 * 20 + 7 * 25, "need: fills plus hold");
    is_int(r.status, ORDER_OPEN, "gtc with a remainder: open");

    m[0] = maker("a", OTHER, SIDE_SELL, 20, 3, 1, 0);
    t.tif = TIF_IOC;
    match_run(&t, m, 1, &r);
    is_int(r.rest, 0, "ioc: nothing rests");
    is_int(r.hold, 0, "ioc: no hold");
    is_int(r.need, 60, "ioc: need is the fills only");
    is_int(r.status, ORDER_CANCELLED, "ioc with a remainder: cancelled");

    match_run(&t, m, 0, &r);
    is_int(r.last_price, -1, "no fill: no last price");
    is_int(r.status, ORDER_CANCELLED, "ioc, empty book: cancelled");
}

static void test_mint(void)
{
    /* a YES buy at 60 meets a NO buy at 45 (cost 55) and a YES sell at 58 */
    struct match_order m[2] = { maker("sell", OTHER, SIDE_SELL, 58, 5, 1, 0),
                                maker("no", OTHER, SIDE_BUY, 45, 5, 2, 1) };
    struct match_taker t = { ME, SIDE_BUY, TIF_GTC, 60, 6, STP_CANCEL_MAKER };
    struct match_result r;

    is_int(m[1].cost, 55, "a complement buy at 45 costs the taker 55");
    is_int(m[1].mint, 1, "…and is a mint");
    match_run(&t, m, 2, &r);
    is_str(m[0].id, "no", "the cheaper mint goes first");
    is_int(m[0].fill, 5, "mint filled");
    is_int(m[1].fill, 1, "then the sell");
    is_int(match_fill_price(&t, &m[0]), 55, "a buy reports its cost");
    is_int(r.need, 5 * 55 + 58, "need: 5 at 55, 1 at 58");
}

static void test_self_trade(void)
{
    struct match_order m[3] = { maker("mine", ME, SIDE_BUY, 50, 4, 1, 0),
                                maker("theirs", OTHER, SIDE_BUY, 40, 4, 2, 0),
                                maker("mine2", ME, SIDE_BUY, 10, 4, 3, 0) };
    struct match_taker t = { ME, SIDE_SELL, TIF_GTC, 10, 3, STP_CANCEL_MAKER };
    struct match_result r;

    match_run(&t, m, 3, &r);
    is_int(m[0].stp, 1, "my own resting order is cancelled");
    is_int(m[0].fill, 0, "…not filled");
    is_int(r.released, 200, "…and its cash hold released");
    is_int(m[1].fill, 3, "matching goes on with the next maker");
    is_int(m[2].stp, 0, "a maker past the fill is untouched");
    is_int(r.left, 0, "filled");
}

static void test_cap_and_overflow(void)
{
    static struct match_order m[MATCH_MAX_MAKERS + 5];
    struct match_taker t = { ME, SIDE_BUY, TIF_GTC, 100, 1000, STP_CANCEL_MAKER };
    struct match_result r;
    char id[16];

    for (int i = 0; i < MATCH_MAX_MAKERS + 5; i++) {
        snprintf(id, sizeof(id), "m%d", i);
        m[i] = maker(id, OTHER, SIDE_SELL, 100 - i % 7, 1, i, 0);
    }
    match_run(&t, m, MATCH_MAX_MAKERS + 5, &r);
    is_int(r.n, MATCH_MAX_MAKERS, "at most MATCH_MAX_MAKERS makers kept");
    is_int(r.left, 1000 - MATCH_MAX_MAKERS, "one unit from each kept maker");
    is_int(m[0].price, 94, "the cheapest kept first");

    m[0] = maker("big", OTHER, SIDE_SELL, 1, 1, 1, 0);
    m[0].cost = INT64_MAX;
    t.quantity = 1;
    match_run(&t, m, 1, &r);
    is_int(r.overflow, 0, "one unit at INT64_MAX fits");
    t.quantity = 2;
    m[0].remaining = 2;
    match_run(&t, m, 1, &r);
    is_int(r.overflow, 1, "two units at INT64_MAX overflow");

    t.price = INT64_MAX;
    t.quantity = 2;
    match_run(&t, m, 0, &r);
    is_int(r.overflow, 1, "a hold past bigint overflows");

    m[0] = maker("mine", ME, SIDE_BUY, 1, 1, 1, 0);
    m[1] = maker("mine", ME, SIDE_BUY, 1, 1, 2, 0);
    m[0].hold = m[1].hold = INT64_MAX;
    t.side = SIDE_SELL;
    t.price = 1;
    match_run(&t, m, 2, &r);
    is_int(r.overflow, 1, "released holds past bigint overflow");
}

static void test_enums(void)
{
    enum order_side s;
    enum order_tif f;
    enum order_status st;

    is_int(order_side_parse("buy", &s), 0, "buy parses");
    is_int(s, SIDE_BUY, "…as SIDE_BUY");
    is_int(order_side_parse("sell", &s), 0, "sell parses");
    is_int(s, SIDE_SELL, "…as SIDE_SELL");
    is_int(order_side_parse("Buy", &s), -1, "case matters");
    is_int(order_side_parse(NULL, &s), -1, "NULL refused");
    is_int(order_tif_parse("ioc", &f), 0, "ioc parses");
    is_int(f, TIF_IOC, "…as TIF_IOC");
    is_int(order_tif_parse("fok", &f), 0, "fok parses");
    is_int(f, TIF_FOK, "…as TIF_FOK");
    is_int(order_tif_parse("gtd", &f), 0, "gtd parses");
    is_int(f, TIF_GTD, "…as TIF_GTD");
    is_int(order_tif_parse("day", &f), -1, "day refused");
    is_str(order_tif_name(TIF_FOK), "fok", "fok's name");
    is_str(order_tif_name(TIF_GTD), "gtd", "gtd's name");
    is_int(order_tif_rests(TIF_GTD), 1, "gtd rests");
    is_int(order_tif_rests(TIF_FOK), 0, "fok never rests");
    {
        enum order_stp p;

        is_int(order_stp_parse("cancel_both", &p), 0, "cancel_both parses");
        is_int(p, STP_CANCEL_BOTH, "…as STP_CANCEL_BOTH");
        is_int(order_stp_parse("expire_maker", &p), -1, "Binance's own names refused");
        is_str(order_stp_name(STP_CANCEL_TAKER), "cancel_taker", "cancel_taker's name");
        is_str(order_stp_name(STP_CANCEL_MAKER), "cancel_maker", "cancel_maker's name");
    }
    is_int(order_status_parse("cancelled", &st), 0, "cancelled parses");
    is_int(st, ORDER_CANCELLED, "…as ORDER_CANCELLED");
    is_str(order_side_name(SIDE_SELL), "sell", "sell's name");
    is_str(order_tif_name(TIF_GTC), "gtc", "gtc's name");
    is_str(order_status_name(ORDER_FILLED), "filled", "filled's name");
    is_str(order_status_name(ORDER_OPEN), "open", "open's name");
}

/* Fill or kill: killed exactly when it cannot fill completely now. */
static void test_fok(void)
{
    struct match_order m[2] = { maker("a", OTHER, SIDE_SELL, 10, 4, 1, 0),
                                maker("b", OTHER, SIDE_SELL, 11, 4, 2, 0) };
    struct match_taker t = { ME, SIDE_BUY, TIF_FOK, 11, 9, STP_CANCEL_MAKER };
    struct match_result r;

    match_run(&t, m, 2, &r);
    is_int(r.killed, 1, "fok 9 against 8: killed");
    is_int(r.rest, 0, "fok: nothing rests");
    t.quantity = 8;
    match_run(&t, m, 2, &r);
    is_int(r.killed, 0, "fok 8 against 8: not killed");
    is_int(r.status, ORDER_FILLED, "…and filled");
    is_int(r.need, 4 * 10 + 4 * 11, "…needing both fills' cost");
    t.tif = TIF_IOC;
    t.quantity = 9;
    match_run(&t, m, 2, &r);
    is_int(r.killed, 0, "ioc 9 against 8 is never killed");
    t.tif = TIF_GTD;
    match_run(&t, m, 2, &r);
    is_int(r.rest, 1, "gtd: the remainder rests");
    is_int(r.hold, 11, "…holding rest x price");
    is_int(r.status, ORDER_OPEN, "…open");
}

/* The three self-trade prevention modes, as Binance's EXPIRE_*. */
static void test_stp_modes(void)
{
    struct match_order m[3];
    struct match_taker t = { ME, SIDE_SELL, TIF_GTC, 5, 6, STP_CANCEL_TAKER };
    struct match_result r;

    m[0] = maker("other7", OTHER, SIDE_BUY, 7, 2, 1, 0);
    m[1] = maker("mine6", ME, SIDE_BUY, 6, 2, 2, 0);
    m[2] = maker("other5", OTHER, SIDE_BUY, 5, 2, 3, 0);
    match_run(&t, m, 3, &r);
    is_int(m[0].fill, 2, "cancel_taker: fills before the own order stand");
    is_int(m[1].stp + m[1].fill, 0, "cancel_taker: the own maker is left alone");
    is_int(m[2].fill, 0, "cancel_taker: nothing after it is reached");
    is_int(r.taker_stopped, 1, "cancel_taker: the taker is stopped");
    is_int(r.rest, 0, "cancel_taker: a gtc remainder does not rest");
    is_int(r.status, ORDER_CANCELLED, "cancel_taker: the taker ends cancelled");
    is_int(r.released, 0, "cancel_taker: no hold released");

    t.stp = STP_CANCEL_BOTH;
    match_run(&t, m, 3, &r);
    is_int(m[1].stp, 1, "cancel_both: the own maker is cancelled");
    is_int(m[2].fill, 0, "cancel_both: and the taker stops there");
    is_int(r.taker_stopped, 1, "cancel_both: taker stopped");
    is_int(r.released, 12, "cancel_both: the own buy's hold comes back");
    is_int(r.rest, 0, "cancel_both: nothing rests");

    t.stp = STP_CANCEL_MAKER;
    match_run(&t, m, 3, &r);
    is_int(m[1].stp, 1, "cancel_maker: the own maker is cancelled");
    is_int(m[2].fill, 2, "cancel_maker: matching goes on past it");
    is_int(r.taker_stopped, 0, "cancel_maker: taker not stopped");
    is_int(r.rest, 2, "cancel_maker: the gtc remainder rests");

    t.stp = STP_CANCEL_TAKER;
    t.tif = TIF_FOK;
    t.quantity = 4;
    match_run(&t, m, 3, &r);
    is_int(r.killed, 1, "cancel_taker stopping a fok short kills it");
}

int main(void)
{
    test_fok();
    test_stp_modes();
    test_buy_priority();
    test_sell_priority();
    test_remainder();
    test_mint();
    test_self_trade();
    test_cap_and_overflow();
    test_enums();
    return done_testing();
}
