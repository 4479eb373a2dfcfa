/*
 * auction.c — the auction's names and pure rules (see auction.h): no
 * database, no HTTP, nothing but a lot's numbers and states.
 */
#include "domain/auction.h"

#include <string.h>

static const char *const kind_names[] = { "english", "dutch", "drop" };
static const char *const status_names[] = { "live", "settled", "unsold", "sold_out" };
static const char *const bid_status_names[] = { "leading", "outbid", "won", "lost", "claimed" };
static const char *const hold_state_names[] = { "active", "released", "captured" };

#define NAMES(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The index of s in names[0..n), or -1 (also for NULL). */
static int name_index(const char *const *names, int n, const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

/* names[i] for a valid i, else "?" (an enum value out of range). */
static const char *index_name(const char *const *names, int n, int i)
{
    return i >= 0 && i < n ? names[i] : "?";
}

int auction_kind_parse(const char *s, enum lot_kind *out)
{
    int i = name_index(kind_names, NAMES(kind_names), s);

    if (i < 0)
        return -1;
    *out = (enum lot_kind)i;
    return 0;
}

int auction_status_parse(const char *s, enum lot_status *out)
{
    int i = name_index(status_names, NAMES(status_names), s);

    if (i < 0)
        return -1;
    *out = (enum lot_status)i;
    return 0;
}

int auction_bid_status_parse(const char *s, enum bid_status *out)
{
    int i = name_index(bid_status_names, NAMES(bid_status_names), s);

    if (i < 0)
        return -1;
    *out = (enum bid_status)i;
    return 0;
}

int auction_hold_state_parse(const char *s, enum hold_state *out)
{
    int i = name_index(hold_state_names, NAMES(hold_state_names), s);

    if (i < 0)
        return -1;
    *out = (enum hold_state)i;
    return 0;
}

const char *auction_kind_name(enum lot_kind k)
{
    return index_name(kind_names, NAMES(kind_names), (int)k);
}

const char *auction_status_name(enum lot_status s)
{
    return index_name(status_names, NAMES(status_names), (int)s);
}

const char *auction_bid_status_name(enum bid_status s)
{
    return index_name(bid_status_names, NAMES(bid_status_names), (int)s);
}

const char *auction_hold_state_name(enum hold_state s)
{
    return index_name(hold_state_names, NAMES(hold_state_names), (int)s);
}

/* ---- bidding ------------------------------------------------------------- */

int auction_min_next_bid(const struct lot *l, int64_t *min)
{
    if (!l->high_bidder[0]) {
        *min = l->start_price;
        return 1;
    }
    return !__builtin_add_overflow(l->high_amount, l->increment, min);
}

int auction_min_next_bid_shown(const struct lot *l, int64_t *min)
{
    return l->kind == LOT_ENGLISH && l->status == LOT_LIVE && !l->ended
        && auction_min_next_bid(l, min);
}

int auction_is_leader(const struct lot *l, const char *bidder)
{
    return l->high_bidder[0] && strcmp(l->high_bidder, bidder) == 0;
}

int64_t auction_extra_hold(const struct lot *l, const char *bidder, int64_t amount)
{
    /* amount >= min > high_amount for the leader: the difference is positive */
    return auction_is_leader(l, bidder) ? amount - l->high_amount : amount;
}

int auction_funds_cover(const struct ledger_account *a, int64_t need)
{
    /* the ledger's rule: balance - held - need >= -credit_limit */
    return ledger_funds_cover(a, need);
}

int auction_units_left(const struct lot *l)
{
    return l->qty_total - l->qty_claimed;
}

enum auction_closed auction_lot_closed(const struct lot *l, const char *bidder)
{
    if (l->status == LOT_SOLD_OUT || (l->kind == LOT_DROP && auction_units_left(l) <= 0))
        return AUCTION_SOLD_OUT;
    if (l->status != LOT_LIVE)
        return AUCTION_ENDED;
    if (!l->started)
        return AUCTION_NOT_STARTED;
    if (strcmp(l->seller, bidder) == 0)
        return AUCTION_OWN_LOT;
    return AUCTION_OPEN;
}

enum auction_claim_refusal auction_claim_terms(const struct lot *l, int has_max, int64_t max_price,
                                               int has_quantity, int64_t quantity,
                                               struct auction_claim *c)
{
    c->cost = 0;
    if (l->kind == LOT_DUTCH) {
        c->unit = l->current_price;
        c->quantity = 1;
        if (has_max && c->unit > max_price)
            return AUCTION_CLAIM_ABOVE_MAX;
    } else {
        c->unit = l->price;
        c->quantity = has_quantity ? quantity : 1;
        if (l->max_per_claim > 0 && c->quantity > l->max_per_claim)
            return AUCTION_CLAIM_OVER_LIMIT;
        if (c->quantity > auction_units_left(l))
            return AUCTION_CLAIM_UNITS_LEFT;
    }
    if (__builtin_mul_overflow(c->unit, c->quantity, &c->cost))
        return AUCTION_CLAIM_OUT_OF_RANGE;
    return AUCTION_CLAIM_OK;
}

/* ---- settling ------------------------------------------------------------ */

int auction_reserve_met(int64_t reserve, int64_t amount)
{
    return reserve <= 0 || amount >= reserve;
}

enum auction_settlement auction_settlement_decide(const struct lot *l)
{
    if (l->kind != LOT_ENGLISH || l->status != LOT_LIVE || !l->ended)
        return AUCTION_SETTLE_NOT_DUE;
    if (!l->high_bidder[0])
        return AUCTION_SETTLE_NO_BIDS;
    if (!auction_reserve_met(l->reserve, l->high_amount))
        return AUCTION_SETTLE_RESERVE_NOT_MET;
    return AUCTION_SETTLE_CAPTURE;
}

/* ---- lot specs ------------------------------------------------------------ */

static const struct auction_spec_field english_fields[] = {
    { "start", AUCTION_SPEC_START, 1, AUCTION_PRICE_MAX, 1 },
    { "increment", AUCTION_SPEC_INCREMENT, 1, AUCTION_PRICE_MAX, 1 },
    { "ends_in", AUCTION_SPEC_ENDS_IN, 1, AUCTION_DURATION_MAX_S, 1 },
    { "reserve", AUCTION_SPEC_RESERVE, 1, AUCTION_PRICE_MAX, 0 },
    { "snipe_window", AUCTION_SPEC_SNIPE_WINDOW, 0, AUCTION_SNIPE_MAX_S, 0 },
    { "snipe_extend", AUCTION_SPEC_SNIPE_EXTEND, 0, AUCTION_SNIPE_MAX_S, 0 },
    { NULL, AUCTION_SPEC__COUNT, 0, 0, 0 },
};

static const struct auction_spec_field dutch_fields[] = {
    { "start", AUCTION_SPEC_START, 1, AUCTION_PRICE_MAX, 1 },
    { "floor", AUCTION_SPEC_FLOOR, 1, AUCTION_PRICE_MAX, 1 },
    { "step", AUCTION_SPEC_STEP, 1, AUCTION_PRICE_MAX, 1 },
    { "interval", AUCTION_SPEC_INTERVAL, 1, AUCTION_DURATION_MAX_S, 1 },
    { NULL, AUCTION_SPEC__COUNT, 0, 0, 0 },
};

static const struct auction_spec_field drop_fields[] = {
    { "price", AUCTION_SPEC_PRICE, 1, AUCTION_PRICE_MAX, 1 },
    { "quantity", AUCTION_SPEC_QUANTITY, 1, AUCTION_UNITS_MAX, 1 },
    { "max_per_claim", AUCTION_SPEC_MAX_PER_CLAIM, 1, AUCTION_UNITS_MAX, 0 },
    { NULL, AUCTION_SPEC__COUNT, 0, 0, 0 },
};

/* The members only one kind takes ("start" is English and Dutch). */
static const char *const english_only[] = { "increment",    "reserve",      "ends_in",
                                            "snipe_window", "snipe_extend", NULL };
static const char *const dutch_only[] = { "floor", "step", "interval", NULL };
static const char *const drop_only[] = { "price", "quantity", "max_per_claim", NULL };

const struct auction_spec_field *auction_spec_fields(enum lot_kind kind)
{
    switch (kind) {
    case LOT_ENGLISH:
        return english_fields;
    case LOT_DUTCH:
        return dutch_fields;
    case LOT_DROP:
        return drop_fields;
    }
    return drop_fields + NAMES(drop_fields) - 1; /* no fields */
}

const char *const *auction_spec_foreign(enum lot_kind kind, int k)
{
    static const char *const *const foreign[3][2] = {
        [LOT_ENGLISH] = { dutch_only, drop_only },
        [LOT_DUTCH] = { english_only, drop_only },
        [LOT_DROP] = { english_only, dutch_only },
    };

    if ((int)kind < 0 || (int)kind > LOT_DROP || k < 0 || k > 1)
        return english_only + NAMES(english_only) - 1; /* none */
    return foreign[kind][k];
}

int auction_dutch_spec_ok(int64_t start, int64_t floor_price)
{
    return floor_price <= start;
}
