/*
 * auction.c — the auction's names and pure rules (see auction.h): no
 * database, no HTTP, nothing but a lot's numbers and states.
 */
#include "domain/auction.h"

#include <stdio.h>
#include <stdlib.h>
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

int64_t auction_step_at(const struct lot *l, int64_t p)
{
    int64_t step = l->increment;

    for (int i = 0; i < l->n_inc && l->inc_from[i] <= p; i++)
        step = l->inc_step[i];
    return step;
}

enum auction_inc_error auction_increments_check(const int64_t *from, const int64_t *step, int n)
{
    if (n < 1 || n > AUCTION_INCREMENTS_MAX)
        return AUCTION_INC_COUNT;
    for (int i = 0; i < n; i++) {
        if (from[i] < 0 || from[i] > AUCTION_PRICE_MAX)
            return AUCTION_INC_FROM_RANGE;
        if (step[i] < 1 || step[i] > AUCTION_PRICE_MAX)
            return AUCTION_INC_STEP;
        if (i == 0 && from[0] != 0)
            return AUCTION_INC_FIRST_NOT_ZERO;
        if (i > 0 && from[i] <= from[i - 1])
            return AUCTION_INC_NOT_ASCENDING;
        if (i > 0 && step[i] < step[i - 1])
            return AUCTION_INC_STEP_DECREASES;
    }
    return AUCTION_INC_OK;
}

int auction_increments_format(const int64_t *from, const int64_t *step, int n, char *buf,
                              size_t len)
{
    size_t used = 0;

    if (len == 0)
        return -1;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        int k = snprintf(buf + used, len - used, "%s%lld:%lld", i ? "," : "", (long long)from[i],
                         (long long)step[i]);
        if (k < 0 || (size_t)k >= len - used)
            return -1;
        used += (size_t)k;
    }
    return 0;
}

int auction_increments_parse(const char *text, struct lot *l)
{
    const char *p = text;

    l->n_inc = 0;
    if (!p || !*p)
        return 0;
    while (*p) {
        char *end;
        long long f, st;

        if (l->n_inc >= AUCTION_INCREMENTS_MAX)
            return -1;
        f = strtoll(p, &end, 10);
        if (end == p || *end != ':')
            return -1;
        p = end + 1;
        st = strtoll(p, &end, 10);
        if (end == p || (*end != ',' && *end != '\0'))
            return -1;
        l->inc_from[l->n_inc] = f;
        l->inc_step[l->n_inc++] = st;
        p = *end ? end + 1 : end;
    }
    return auction_increments_check(l->inc_from, l->inc_step, l->n_inc) == AUCTION_INC_OK ? 0 : -1;
}

int auction_min_next_bid(const struct lot *l, int64_t *min)
{
    if (!l->high_bidder[0]) {
        *min = l->start_price;
        return 1;
    }
    return !__builtin_add_overflow(l->high_amount, auction_step_at(l, l->high_amount), min);
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

int64_t auction_leader_max(const struct lot *l)
{
    if (!l->high_bidder[0])
        return 0;
    return l->high_max > l->high_amount ? l->high_max : l->high_amount;
}

/* p plus the increment at p, capped at cap (also when the sum is past bigint). */
static int64_t raise_capped(const struct lot *l, int64_t p, int64_t cap)
{
    int64_t v;

    if (__builtin_add_overflow(p, auction_step_at(l, p), &v) || v > cap)
        return cap;
    return v;
}

/* The terms of a bid that must be at least the minimum next bid min. */
static enum auction_bid_outcome too_low(struct auction_bid_terms *t, int64_t min)
{
    t->minimum = min;
    t->minimum_shown = 1;
    return t->outcome = AUCTION_BID_TOO_LOW;
}

/* The leader's own bid: a plain raise of the visible high, or a higher maximum. */
static enum auction_bid_outcome leader_bid(const struct lot *l, const struct auction_bid_in *in,
                                           int64_t min, struct auction_bid_terms *t)
{
    int64_t m = auction_leader_max(l);

    if (in->proxy) {
        if (in->value <= m) {
            t->minimum = m < INT64_MAX ? m + 1 : m;
            t->minimum_shown = 1;
            return t->outcome = AUCTION_BID_MAX_NOT_RAISED;
        }
        /* The rule again, with the leader's new maximum: the high moves only
         * where it was capped at the old one. */
        t->price = l->high_amount;
        if (in->second_max > 0) {
            int64_t p = raise_capped(l, in->second_max, in->value);
            if (p > t->price)
                t->price = p;
        }
        t->amount = t->price;
        t->max = t->hold = in->value;
        return t->outcome = AUCTION_BID_LEAD;
    }
    if (in->value < min)
        return too_low(t, min);
    t->price = t->amount = in->value;
    t->max = m > in->value ? m : 0;
    t->hold = m > in->value ? m : in->value;
    return t->outcome = AUCTION_BID_LEAD;
}

enum auction_bid_outcome auction_bid_decide(const struct lot *l, const char *bidder,
                                            const struct auction_bid_in *in,
                                            struct auction_bid_terms *t)
{
    int64_t min, m;

    memset(t, 0, sizeof(*t));
    if (in->buy_now
        || (!in->proxy && l->buy_now > 0 && !l->high_bidder[0] && in->value >= l->buy_now)) {
        if (l->buy_now <= 0)
            return t->outcome = AUCTION_BID_NO_BUY_NOW;
        if (l->high_bidder[0])
            return t->outcome = AUCTION_BID_BUY_NOW_GONE;
        t->price = t->amount = t->hold = l->buy_now;
        return t->outcome = AUCTION_BID_BUY_NOW;
    }
    if (!auction_min_next_bid(l, &min))
        return t->outcome = AUCTION_BID_OUT_OF_RANGE;
    if (auction_is_leader(l, bidder))
        return leader_bid(l, in, min, t);
    if (in->value < min)
        return too_low(t, min);
    t->hold = in->value;
    t->max = in->proxy ? in->value : 0;
    if (!l->high_bidder[0]) {
        t->price = in->proxy ? l->start_price : in->value;
        t->amount = t->price;
        return t->outcome = AUCTION_BID_LEAD;
    }
    m = auction_leader_max(l);
    if (in->value > m) {
        /* beats the leader's maximum: a proxy leads at the rule's price (at
         * least min, as the steps never decrease), a plain bid at its amount */
        t->price = in->proxy ? raise_capped(l, m, in->value) : in->value;
        if (t->price < min)
            t->price = min;
        t->amount = t->price;
        return t->outcome = AUCTION_BID_LEAD;
    }
    /* The leader's maximum stands (a tie goes to it, the earlier): their
     * counter-bid is the rule's price, the bidder's row shows its value. */
    t->amount = in->value;
    t->price = raise_capped(l, in->value, m);
    t->max = l->high_max;
    t->hold = m;
    t->minimum_shown = !__builtin_add_overflow(t->price, auction_step_at(l, t->price), &t->minimum);
    return t->outcome = AUCTION_BID_OUTBID_BY_PROXY;
}

int64_t auction_extra_hold(const struct lot *l, const char *bidder, int64_t amount)
{
    /* the leader holds their maximum already: only the difference is new */
    return auction_is_leader(l, bidder) ? amount - auction_leader_max(l) : amount;
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
    { "increment", AUCTION_SPEC_INCREMENT, 1, AUCTION_PRICE_MAX, 0 }, /* or "increments" */
    { "ends_in", AUCTION_SPEC_ENDS_IN, 1, AUCTION_DURATION_MAX_S, 1 },
    { "reserve", AUCTION_SPEC_RESERVE, 1, AUCTION_PRICE_MAX, 0 },
    { "snipe_window", AUCTION_SPEC_SNIPE_WINDOW, 0, AUCTION_SNIPE_MAX_S, 0 },
    { "snipe_extend", AUCTION_SPEC_SNIPE_EXTEND, 0, AUCTION_SNIPE_MAX_S, 0 },
    { "buy_now", AUCTION_SPEC_BUY_NOW, 1, AUCTION_PRICE_MAX, 0 },
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
static const char *const english_only[] = { "increment",    "reserve",    "ends_in", "snipe_window",
                                            "snipe_extend", "increments", "buy_now", NULL };
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
