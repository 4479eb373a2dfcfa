/*
 * test_auction.c — unit tests for the pure rules of fcgi/domain/auction.c:
 * the names of kinds and states, the English minimum next bid (null once
 * unrepresentable), the leader's extra hold, the reserve, when a lot takes
 * bids or claims, Dutch and drop claim terms (limits, units left, price x
 * quantity past bigint), the settlement decision and the lot spec tables.
 */
#include "tap.h"

#include "domain/auction.h"

#include <stdint.h>
#include <string.h>

#define ALICE "11111111-1111-4111-8111-111111111111"
#define BOB "22222222-2222-4222-8222-222222222222"
#define SELLER "33333333-3333-4333-8333-333333333333"

/* A live, started lot of kind k sold by SELLER, with no bid. */
static struct lot lot_of(enum lot_kind k)
{
    struct lot l;

    memset(&l, 0, sizeof(l));
    l.kind = k;
    l.status = LOT_LIVE;
    l.started = 1;
    strcpy(l.seller, SELLER);
    l.start_price = 100;
    l.increment = 10;
    l.price = 50;
    l.qty_total = 10;
    l.current_price = 80;
    return l;
}

static void lead(struct lot *l, const char *who, int64_t amount)
{
    strcpy(l->high_bidder, who);
    l->high_amount = amount;
}

static void test_names(void)
{
    static const char *const kinds[] = { "english", "dutch", "drop" };
    static const char *const statuses[] = { "live", "settled", "unsold", "sold_out" };
    static const char *const bids[] = { "leading", "outbid", "won", "lost", "claimed" };
    static const char *const holds[] = { "active", "released", "captured" };
    enum lot_kind k;
    enum lot_status s;
    enum bid_status b;
    enum hold_state h;

    for (int i = 0; i < 3; i++) {
        ok(auction_kind_parse(kinds[i], &k) == 0 && (int)k == i, kinds[i]);
        is_str(auction_kind_name(k), kinds[i], "kind name round-trips");
    }
    for (int i = 0; i < 4; i++) {
        ok(auction_status_parse(statuses[i], &s) == 0 && (int)s == i, statuses[i]);
        is_str(auction_status_name(s), statuses[i], "status name round-trips");
    }
    for (int i = 0; i < 5; i++) {
        ok(auction_bid_status_parse(bids[i], &b) == 0 && (int)b == i, bids[i]);
        is_str(auction_bid_status_name(b), bids[i], "bid status name round-trips");
    }
    for (int i = 0; i < 3; i++) {
        ok(auction_hold_state_parse(holds[i], &h) == 0 && (int)h == i, holds[i]);
        is_str(auction_hold_state_name(h), holds[i], "hold state name round-trips");
    }
    ok(auction_kind_parse("English", &k) < 0, "kinds are case-sensitive");
    ok(auction_kind_parse("", &k) < 0 && auction_kind_parse(NULL, &k) < 0,
       "empty/NULL kind refused");
    ok(auction_status_parse("sold", &s) < 0, "unknown status refused");
    ok(auction_bid_status_parse("winning", &b) < 0, "unknown bid status refused");
    ok(auction_hold_state_parse("held", &h) < 0, "unknown hold state refused");
    is_str(auction_kind_name((enum lot_kind)7), "?", "out-of-range kind has no name");
}

static void test_min_next_bid(void)
{
    struct lot l = lot_of(LOT_ENGLISH);
    int64_t min = -1;

    ok(auction_min_next_bid(&l, &min) && min == 100, "no leader: the start price");
    lead(&l, ALICE, 150);
    ok(auction_min_next_bid(&l, &min) && min == 160, "a leader: high + increment");
    lead(&l, ALICE, INT64_MAX - 10);
    ok(auction_min_next_bid(&l, &min) && min == INT64_MAX, "exactly INT64_MAX is representable");
    lead(&l, ALICE, INT64_MAX - 9);
    ok(!auction_min_next_bid(&l, &min), "one past INT64_MAX: no higher bid");

    l = lot_of(LOT_ENGLISH);
    ok(auction_min_next_bid_shown(&l, &min) && min == 100, "shown on a live lot");
    l.ended = 1;
    ok(!auction_min_next_bid_shown(&l, &min), "null once ended");
    l = lot_of(LOT_ENGLISH);
    l.status = LOT_SETTLED;
    ok(!auction_min_next_bid_shown(&l, &min), "null once settled");
    l = lot_of(LOT_ENGLISH);
    lead(&l, BOB, INT64_MAX);
    ok(!auction_min_next_bid_shown(&l, &min), "null when unrepresentable");
    l = lot_of(LOT_DUTCH);
    ok(!auction_min_next_bid_shown(&l, &min), "not for a Dutch lot");
}

static void test_holds(void)
{
    struct lot l = lot_of(LOT_ENGLISH);
    struct ledger_account a;

    ok(!auction_is_leader(&l, ALICE), "nobody leads a lot without bids");
    is_int(auction_extra_hold(&l, ALICE, 120), 120, "a first bid holds it all");
    lead(&l, ALICE, 120);
    ok(auction_is_leader(&l, ALICE) && !auction_is_leader(&l, BOB), "the leader leads");
    is_int(auction_extra_hold(&l, ALICE, 200), 80, "the leader raising holds the difference");
    is_int(auction_extra_hold(&l, BOB, 200), 200, "someone else holds the whole amount");

    memset(&a, 0, sizeof(a));
    a.balance = 100;
    a.held = 30;
    ok(auction_funds_cover(&a, 70), "available exactly covers");
    ok(!auction_funds_cover(&a, 71), "one more does not");
    a.held = 100;
    ok(auction_funds_cover(&a, 0) && !auction_funds_cover(&a, 1), "all held: nothing available");
}

static void test_closed(void)
{
    struct lot l = lot_of(LOT_ENGLISH);

    is_int(auction_lot_closed(&l, ALICE), AUCTION_OPEN, "a live started lot is open");
    is_int(auction_lot_closed(&l, SELLER), AUCTION_OWN_LOT, "not to its seller");
    l.started = 0;
    is_int(auction_lot_closed(&l, ALICE), AUCTION_NOT_STARTED, "not before its start");
    l.status = LOT_UNSOLD;
    is_int(auction_lot_closed(&l, ALICE), AUCTION_ENDED, "ended before not started");

    l = lot_of(LOT_DROP);
    l.qty_claimed = 10;
    is_int(auction_lot_closed(&l, SELLER), AUCTION_SOLD_OUT, "a drop with no unit left");
    l = lot_of(LOT_DUTCH);
    l.status = LOT_SOLD_OUT;
    is_int(auction_lot_closed(&l, ALICE), AUCTION_SOLD_OUT, "a sold-out status");
    l.status = LOT_SETTLED;
    is_int(auction_lot_closed(&l, ALICE), AUCTION_ENDED, "a sold Dutch lot has ended");
    l = lot_of(LOT_ENGLISH);
    l.qty_total = 0;
    is_int(auction_lot_closed(&l, ALICE), AUCTION_OPEN, "units do not matter to an English lot");
}

static void test_claims(void)
{
    struct lot l = lot_of(LOT_DUTCH);
    struct auction_claim c;

    is_int(auction_claim_terms(&l, 0, 0, 0, 0, &c), AUCTION_CLAIM_OK, "Dutch at the price now");
    ok(c.unit == 80 && c.quantity == 1 && c.cost == 80, "one unit at the current price");
    is_int(auction_claim_terms(&l, 1, 80, 0, 0, &c), AUCTION_CLAIM_OK, "max_price equal: ok");
    is_int(auction_claim_terms(&l, 1, 79, 0, 0, &c), AUCTION_CLAIM_ABOVE_MAX, "above max_price");
    is_int(c.unit, 80, "the refusal tells the price");

    l = lot_of(LOT_DROP);
    is_int(auction_claim_terms(&l, 0, 0, 0, 0, &c), AUCTION_CLAIM_OK,
           "a drop: one unit by default");
    ok(c.cost == 50 && c.quantity == 1, "at the fixed price");
    is_int(auction_claim_terms(&l, 0, 0, 1, 4, &c), AUCTION_CLAIM_OK, "four units");
    is_int(c.cost, 200, "cost is price x quantity");
    l.max_per_claim = 3;
    is_int(auction_claim_terms(&l, 0, 0, 1, 4, &c), AUCTION_CLAIM_OVER_LIMIT, "over max_per_claim");
    is_int(auction_claim_terms(&l, 0, 0, 1, 3, &c), AUCTION_CLAIM_OK, "at max_per_claim");
    l.max_per_claim = 0;
    l.qty_claimed = 7;
    is_int(auction_units_left(&l), 3, "units left");
    is_int(auction_claim_terms(&l, 0, 0, 1, 4, &c), AUCTION_CLAIM_UNITS_LEFT, "more than are left");
    is_int(auction_claim_terms(&l, 0, 0, 1, 3, &c), AUCTION_CLAIM_OK, "exactly what is left");
    l = lot_of(LOT_DROP);
    l.price = INT64_MAX / 2 + 1;
    is_int(auction_claim_terms(&l, 0, 0, 1, 2, &c), AUCTION_CLAIM_OUT_OF_RANGE,
           "price x quantity past bigint");
    l.price = INT64_MAX / 2;
    is_int(auction_claim_terms(&l, 0, 0, 1, 2, &c), AUCTION_CLAIM_OK, "just inside bigint");
}

static void test_settlement(void)
{
    struct lot l = lot_of(LOT_ENGLISH);

    is_int(auction_settlement_decide(&l), AUCTION_SETTLE_NOT_DUE, "not due before the end");
    l.ended = 1;
    is_int(auction_settlement_decide(&l), AUCTION_SETTLE_NO_BIDS, "ended without bids: unsold");
    lead(&l, ALICE, 150);
    is_int(auction_settlement_decide(&l), AUCTION_SETTLE_CAPTURE, "ended with a leader: sold");
    l.reserve = 151;
    is_int(auction_settlement_decide(&l), AUCTION_SETTLE_RESERVE_NOT_MET, "below the reserve");
    l.reserve = 150;
    is_int(auction_settlement_decide(&l), AUCTION_SETTLE_CAPTURE, "at the reserve: sold");
    l.status = LOT_SETTLED;
    is_int(auction_settlement_decide(&l), AUCTION_SETTLE_NOT_DUE, "settled once only");
    l = lot_of(LOT_DUTCH);
    l.ended = 1;
    is_int(auction_settlement_decide(&l), AUCTION_SETTLE_NOT_DUE, "Dutch lots do not settle so");
    ok(auction_reserve_met(0, 1) && auction_reserve_met(-1, 0), "no reserve is always met");
    ok(auction_reserve_met(10, 10) && !auction_reserve_met(10, 9), "reserve is inclusive");
}

static int has_field(const struct auction_spec_field *f, const char *name, int required)
{
    for (; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f->required == required;
    return 0;
}

static void test_specs(void)
{
    const struct auction_spec_field *e = auction_spec_fields(LOT_ENGLISH);
    const struct auction_spec_field *d = auction_spec_fields(LOT_DUTCH);
    const struct auction_spec_field *p = auction_spec_fields(LOT_DROP);

    is_str(e[0].name, "start", "English checks start first");
    /* increment or an increment table ("increments", api/lots.c) is required */
    ok(has_field(e, "increment", 0) && has_field(e, "ends_in", 1) && has_field(e, "reserve", 0),
       "English: ends_in required, increment (or increments) and reserve optional");
    ok(has_field(e, "buy_now", 0), "English: buy_now optional");
    ok(has_field(e, "snipe_window", 0) && has_field(e, "snipe_extend", 0), "anti-snipe optional");
    for (const struct auction_spec_field *f = e; f->name; f++)
        if (f->slot == AUCTION_SPEC_SNIPE_WINDOW)
            ok(f->lo == 0 && f->hi == 86400, "the snipe window is 0 (off) to a day");
    ok(has_field(d, "floor", 1) && has_field(d, "step", 1) && has_field(d, "interval", 1),
       "Dutch: floor, step, interval required");
    ok(!has_field(d, "increment", 0) && !has_field(d, "increment", 1), "no increment for Dutch");
    ok(has_field(p, "price", 1) && has_field(p, "quantity", 1) && has_field(p, "max_per_claim", 0),
       "drop: price, quantity required, max_per_claim optional");
    ok(!has_field(p, "start", 1) && !has_field(p, "start", 0), "no start for a drop");
    is_str(auction_spec_foreign(LOT_ENGLISH, 0)[0], "floor", "English refuses Dutch fields");
    is_str(auction_spec_foreign(LOT_DUTCH, 0)[0], "increment", "Dutch refuses English fields");
    is_str(auction_spec_foreign(LOT_DROP, 1)[0], "floor", "drop refuses Dutch fields");
    ok(auction_spec_foreign((enum lot_kind)9, 0)[0] == NULL, "an unknown kind has no list");
    ok(auction_dutch_spec_ok(100, 100) && auction_dutch_spec_ok(100, 1), "floor up to start");
    ok(!auction_dutch_spec_ok(100, 101), "floor above start refused");
}

int main(void)
{
    test_names();
    test_min_next_bid();
    test_holds();
    test_closed();
    test_claims();
    test_settlement();
    test_specs();
    return done_testing();
}
