/*
 * test_proxy.c — unit tests for the pure proxy-bidding rules of
 * fcgi/domain/auction.c: the increment table (validation, its stored text,
 * the step at a price, the minimum next bid), the leader's maximum and
 * extra hold, auction_bid_decide() case by case (a proxy's first bid, a
 * proxy beating a plain leader, a bid the leader's maximum beats, a tie,
 * a leader's plain raise and higher maximum, buy-now), and a replay: a
 * sequence of bids applied through the rule as the handler applies them
 * must end with the winner and price the maxima alone give.
 */
#include "tap.h"

#include "domain/auction.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ALICE "11111111-1111-4111-8111-111111111111"
#define BOB "22222222-2222-4222-8222-222222222222"
#define CAROL "44444444-4444-4444-8444-444444444444"
#define SELLER "33333333-3333-4333-8333-333333333333"

static struct lot english(void)
{
    struct lot l;

    memset(&l, 0, sizeof(l));
    l.kind = LOT_ENGLISH;
    l.status = LOT_LIVE;
    l.started = 1;
    strcpy(l.seller, SELLER);
    l.start_price = 100;
    l.increment = 10;
    return l;
}

static enum auction_bid_outcome bid(const struct lot *l, const char *who, int proxy, int64_t v,
                                    struct auction_bid_terms *t)
{
    struct auction_bid_in in = { proxy, 0, v, 0 };
    return auction_bid_decide(l, who, &in, t);
}

/* What the handler does with a decision to the lot row. */
static void apply(struct lot *l, const char *who, const struct auction_bid_terms *t)
{
    if (t->outcome == AUCTION_BID_LEAD || t->outcome == AUCTION_BID_BUY_NOW) {
        if (!auction_is_leader(l, who) || t->price != l->high_amount)
            l->seq++;
        strcpy(l->high_bidder, who);
        strcpy(l->high_bid, "b");
    } else if (t->outcome == AUCTION_BID_OUTBID_BY_PROXY) {
        l->seq += 2;
    } else {
        return;
    }
    l->high_amount = t->price;
    l->high_max = t->max;
}

static void test_increments(void)
{
    int64_t from[3] = { 0, 1000, 5000 }, step[3] = { 10, 50, 100 };
    int64_t bad_from[2] = { 0, 0 }, dec_step[2] = { 50, 10 }, zero[1] = { 0 };
    int64_t one_from[1] = { 5 }, one_step[1] = { 1 };
    struct lot l = english();
    char buf[128];
    int64_t min;

    is_int(auction_increments_check(from, step, 3), AUCTION_INC_OK, "a valid table");
    is_int(auction_increments_check(from, step, 0), AUCTION_INC_COUNT, "no row");
    is_int(auction_increments_check(from, step, AUCTION_INCREMENTS_MAX + 1), AUCTION_INC_COUNT,
           "too many rows");
    is_int(auction_increments_check(one_from, one_step, 1), AUCTION_INC_FIRST_NOT_ZERO,
           "first from must be 0");
    is_int(auction_increments_check(bad_from, step, 2), AUCTION_INC_NOT_ASCENDING,
           "from must strictly ascend");
    is_int(auction_increments_check(from, dec_step, 2), AUCTION_INC_STEP_DECREASES,
           "steps never decrease");
    is_int(auction_increments_check(from, zero, 1), AUCTION_INC_STEP, "a step of 0");
    ok(auction_increments_format(from, step, 3, buf, sizeof(buf)) == 0, "formats");
    is_str(buf, "0:10,1000:50,5000:100", "stored text");
    ok(auction_increments_parse(buf, &l) == 0 && l.n_inc == 3 && l.inc_step[2] == 100,
       "parses back");
    ok(auction_increments_format(from, step, 3, buf, 8) < 0, "too small a buffer");
    ok(auction_increments_parse("0:10,x", &l) < 0, "malformed text refused");
    ok(auction_increments_parse("0:10,1000:5", &l) < 0, "a decreasing stored table refused");
    ok(auction_increments_parse(NULL, &l) == 0 && l.n_inc == 0, "NULL: no table");
    ok(auction_increments_parse("0:10,1000:50,5000:100", &l) == 0, "table again");
    is_int(auction_step_at(&l, 0), 10, "step at 0");
    is_int(auction_step_at(&l, 999), 10, "step at 999");
    is_int(auction_step_at(&l, 1000), 50, "step at 1000");
    is_int(auction_step_at(&l, 7000), 100, "step at 7000");
    strcpy(l.high_bidder, ALICE);
    l.high_amount = 1200;
    ok(auction_min_next_bid(&l, &min) && min == 1250, "min next bid uses the table");
    l.n_inc = 0;
    ok(auction_min_next_bid(&l, &min) && min == 1210, "without a table: the fixed increment");
}

static void test_decide(void)
{
    struct lot l = english();
    struct auction_bid_terms t;

    /* a proxy's first bid: the start price, holding the maximum */
    is_int(bid(&l, ALICE, 1, 500, &t), AUCTION_BID_LEAD, "first proxy leads");
    ok(t.price == 100 && t.max == 500 && t.hold == 500, "at the start price, holding 500");
    is_int(bid(&l, ALICE, 1, 99, &t), AUCTION_BID_TOO_LOW, "a maximum below the start");
    apply(&l, ALICE, &(struct auction_bid_terms){ AUCTION_BID_LEAD, 100, 100, 500, 500, 0, 0 });
    is_int(auction_leader_max(&l), 500, "leader's maximum");
    is_int(auction_extra_hold(&l, ALICE, 700), 200, "a raise holds the difference");
    is_int(auction_extra_hold(&l, BOB, 700), 700, "another bidder holds it all");

    /* a plain bid the maximum beats: the counter-bid at bid + increment */
    is_int(bid(&l, BOB, 0, 200, &t), AUCTION_BID_OUTBID_BY_PROXY, "plain 200 < max 500");
    ok(t.price == 210 && t.amount == 200 && t.minimum == 220 && t.max == 500,
       "counter at 210, next minimum 220");
    is_int(bid(&l, BOB, 0, 105, &t), AUCTION_BID_TOO_LOW, "below the minimum 110");
    is_int(t.minimum, 110, "minimum 110");
    /* a tie goes to the earlier maximum, at that maximum */
    is_int(bid(&l, BOB, 1, 500, &t), AUCTION_BID_OUTBID_BY_PROXY, "tie: the leader keeps it");
    is_int(t.price, 500, "at the maximum");
    /* capped at the leader's maximum */
    is_int(bid(&l, BOB, 1, 495, &t), AUCTION_BID_OUTBID_BY_PROXY, "495 < 500");
    is_int(t.price, 500, "495 + 10 capped at 500");
    /* a proxy that beats the maximum: the maximum + increment, capped at its own */
    is_int(bid(&l, BOB, 1, 800, &t), AUCTION_BID_LEAD, "proxy 800 beats 500");
    ok(t.price == 510 && t.max == 800 && t.hold == 800, "leads at 510");
    is_int(bid(&l, BOB, 1, 505, &t), AUCTION_BID_LEAD, "proxy 505 beats 500");
    is_int(t.price, 505, "capped at its own maximum");
    /* a plain bid that beats it is a bid of exactly its amount */
    is_int(bid(&l, BOB, 0, 600, &t), AUCTION_BID_LEAD, "plain 600 beats 500");
    ok(t.price == 600 && t.max == 0 && t.hold == 600, "at 600, no hidden maximum");

    /* the leader's own bids */
    is_int(bid(&l, ALICE, 1, 500, &t), AUCTION_BID_MAX_NOT_RAISED, "same maximum again");
    is_int(t.minimum, 501, "must exceed 500");
    is_int(bid(&l, ALICE, 1, 900, &t), AUCTION_BID_LEAD, "a higher maximum");
    ok(t.price == 100 && t.max == 900 && t.hold == 900, "the high stays without rivals");
    {
        struct auction_bid_in in = { 1, 0, 900, 500 };
        struct lot capped = l;
        capped.high_amount = 500; /* capped at the old maximum by a rival's 500 */
        auction_bid_decide(&capped, ALICE, &in, &t);
        is_int(t.price, 510, "capped high moves to the rival's maximum + increment");
    }
    is_int(bid(&l, ALICE, 0, 300, &t), AUCTION_BID_LEAD, "a plain raise below the maximum");
    ok(t.price == 300 && t.max == 500 && t.hold == 500, "at 300, the maximum kept");
    is_int(bid(&l, ALICE, 0, 700, &t), AUCTION_BID_LEAD, "a plain raise above it");
    ok(t.price == 700 && t.max == 0 && t.hold == 700, "at 700, no hidden maximum");
}

static void test_buy_now(void)
{
    struct lot l = english();
    struct auction_bid_terms t;
    struct auction_bid_in now = { 0, 1, 0, 0 };

    is_int(auction_bid_decide(&l, ALICE, &now, &t), AUCTION_BID_NO_BUY_NOW, "no buy-now price");
    l.buy_now = 1000;
    is_int(auction_bid_decide(&l, ALICE, &now, &t), AUCTION_BID_BUY_NOW, "buy_now: true");
    is_int(t.price, 1000, "at the buy-now price");
    is_int(bid(&l, ALICE, 0, 1500, &t), AUCTION_BID_BUY_NOW, "a bid above it");
    is_int(t.price, 1000, "pays the buy-now price");
    is_int(bid(&l, ALICE, 1, 1500, &t), AUCTION_BID_LEAD, "a maximum above it is a proxy bid");
    is_int(bid(&l, ALICE, 0, 999, &t), AUCTION_BID_LEAD, "below it: a plain bid");
    apply(&l, ALICE, &t);
    is_int(auction_bid_decide(&l, BOB, &now, &t), AUCTION_BID_BUY_NOW_GONE, "after a bid");
    is_int(bid(&l, BOB, 0, 2000, &t), AUCTION_BID_LEAD, "then a high bid is only a bid");
}

/* The winner and price the maxima give: the highest maximum (the earliest
 * on a tie) wins at max(start, its own plain bids, second + step capped). */
static void oracle(const struct lot *l, const char *const *who, const int64_t *max, int n,
                   const char **winner, int64_t *price)
{
    int w = -1, s = -1;

    for (int i = 0; i < n; i++)
        if (w < 0 || max[i] > max[w])
            w = i;
    for (int i = 0; i < n; i++)
        if (strcmp(who[i], who[w]) != 0 && (s < 0 || max[i] > max[s]))
            s = i;
    *winner = who[w];
    *price = l->start_price;
    if (s >= 0) {
        int64_t p = max[s] + auction_step_at(l, max[s]);
        *price = p < max[w] ? p : max[w];
    }
}

static void test_replay(void)
{
    const char *who[6] = { ALICE, BOB, CAROL, BOB, CAROL, ALICE };
    int64_t max[6] = { 430, 290, 1020, 1010, 1020, 1500 };
    const char *winner;
    int64_t price, fmax[3] = { 0, 1000, 5000 }, fstep[3] = { 10, 50, 100 };
    struct lot l = english();
    struct auction_bid_terms t;
    char text[64];

    auction_increments_format(fmax, fstep, 3, text, sizeof(text));
    auction_increments_parse(text, &l);
    for (int k = 4; k <= 6; k += 2) {
        struct lot r = l;
        for (int i = 0; i < k; i++) {
            struct auction_bid_in in = { 1, 0, max[i], 0 };
            if (auction_is_leader(&r, who[i]))
                continue; /* a leader's own maximum: not in this replay */
            auction_bid_decide(&r, who[i], &in, &t);
            apply(&r, who[i], &t);
        }
        oracle(&l, who, max, k, &winner, &price);
        char name[64];
        snprintf(name, sizeof(name), "replay of %d maxima: winner", k);
        is_str(r.high_bidder, winner, name);
        snprintf(name, sizeof(name), "replay of %d maxima: price", k);
        is_int(r.high_amount, price, name);
    }
}

int main(void)
{
    test_increments();
    test_decide();
    test_buy_now();
    test_replay();
    return done_testing();
}
