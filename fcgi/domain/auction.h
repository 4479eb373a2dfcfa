/*
 * auction.h — the auction domain: lots (English, Dutch, drop), their
 * states, the pure rules of bidding, claiming and settling, and the lot
 * operations that run inside a caller's transaction.
 *
 * Kinds and states are enums, parsed once from the database row
 * (auction_lot_parse) or the request (auction_kind_parse); the rules below
 * are pure functions of a lot and numbers, unit-tested in
 * tests/unit/test_auction.c. Where the database clock decides (a lot's
 * start and end, the anti-snipe extension, the Dutch price now) the SQL in
 * sql/queries/auction.sql is authoritative and the row carries its answer.
 *
 * Lock order everywhere: the lot row first, then accounts by id.
 */
#ifndef ZS_AUCTION_H
#define ZS_AUCTION_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "domain/ledger.h"
#include "store/db.h"
#include "util.h"

enum lot_kind { LOT_ENGLISH, LOT_DUTCH, LOT_DROP };
enum lot_status { LOT_LIVE, LOT_SETTLED, LOT_UNSOLD, LOT_SOLD_OUT };
enum bid_status { BID_LEADING, BID_OUTBID, BID_WON, BID_LOST, BID_CLAIMED };
enum hold_state { HOLD_ACTIVE, HOLD_RELEASED, HOLD_CAPTURED };

/* Each parse returns 0 and sets *out for a name the schema allows, or -1. */
int auction_kind_parse(const char *s, enum lot_kind *out);
int auction_status_parse(const char *s, enum lot_status *out);
int auction_bid_status_parse(const char *s, enum bid_status *out);
int auction_hold_state_parse(const char *s, enum hold_state *out);

/* The schema's name of each value ("english", "sold_out", "leading", "active" …). */
const char *auction_kind_name(enum lot_kind k);
const char *auction_status_name(enum lot_status s);
const char *auction_bid_status_name(enum bid_status s);
const char *auction_hold_state_name(enum hold_state s);

struct lot {
    char id[UUID_STR_LEN + 1];
    enum lot_kind kind;
    char seller[UUID_STR_LEN + 1];
    enum lot_status status;
    int64_t start_price, increment, reserve, floor_price, step, price;
    int interval_s, snipe_window, snipe_extend, max_per_claim;
    int qty_total, qty_claimed;
    int64_t high_amount;                /* 0 when no bid */
    char high_bidder[UUID_STR_LEN + 1]; /* "" when no bid */
    char high_bid[UUID_STR_LEN + 1];
    int64_t seq;
    int started;           /* now() >= starts_at */
    int ended;             /* english: now() >= ends_at */
    int64_t current_price; /* dutch: the schedule's price now */
    int64_t high_max;      /* the leader's hidden maximum; 0: their bid is plain */
    int64_t buy_now;       /* 0: none */
    int n_inc;             /* rows of the increment table; 0: the fixed increment */
    int64_t inc_from[16], inc_step[16];
    char ends_at[40]; /* RFC 3339 UTC, "" when none (a lot.extended event compares it) */
};

/* The longest increment table a lot may have. */
#define AUCTION_INCREMENTS_MAX 16

/* ---- pure rules ---------------------------------------------------------- */

/* The increment at price p: the step of the table's last row whose from is
 * at most p, or the lot's fixed increment without a table. */
int64_t auction_step_at(const struct lot *l, int64_t p);

/* Why an increment table is refused (auction_increments_check). */
enum auction_inc_error {
    AUCTION_INC_OK,
    AUCTION_INC_COUNT,          /* no row, or more than AUCTION_INCREMENTS_MAX */
    AUCTION_INC_FIRST_NOT_ZERO, /* the first row's from is not 0 */
    AUCTION_INC_NOT_ASCENDING,  /* a from not above the one before it */
    AUCTION_INC_STEP,           /* a step below 1 or above AUCTION_PRICE_MAX */
    AUCTION_INC_STEP_DECREASES, /* a step below the one before it */
    AUCTION_INC_FROM_RANGE,     /* a from below 0 or above AUCTION_PRICE_MAX */
};

/* Whether the table (from[i], step[i]), n rows, is one a lot may take:
 * first from 0, from strictly ascending, steps positive and never
 * decreasing (so the minimum next bid rises with the price). */
enum auction_inc_error auction_increments_check(const int64_t *from, const int64_t *step, int n);

/* The table as stored ("from:step,…") into buf; 0, or -1 if it does not fit. */
int auction_increments_format(const int64_t *from, const int64_t *step, int n, char *buf,
                              size_t len);

/* The stored text (NULL or "": no table) into l's table; 0, or -1 when malformed. */
int auction_increments_parse(const char *text, struct lot *l);

/*
 * The smallest acceptable English bid: the start price without a leader,
 * else the leading amount plus the increment at that amount. 1 with *min set, or 0 when
 * that sum is past bigint (no higher bid is possible: 422
 * amount_out_of_range, and min_next_bid shows null).
 */
int auction_min_next_bid(const struct lot *l, int64_t *min);

/* What a lot's public min_next_bid is: 1 with *min for a live English lot
 * that has not ended and whose next bid is representable, else 0 (null). */
int auction_min_next_bid_shown(const struct lot *l, int64_t *min);

/* 1 if bidder leads lot l already (a raise), else 0. */
int auction_is_leader(const struct lot *l, const char *bidder);

/* How much more bidder must hold to hold amount in all: the difference
 * from their maximum for the leader, the whole amount for anyone else. */
int64_t auction_extra_hold(const struct lot *l, const char *bidder, int64_t amount);

/* The leader's maximum: their hidden maximum, else the visible high (0: no leader). */
int64_t auction_leader_max(const struct lot *l);

/* What an English bid does (auction_bid_decide). */
enum auction_bid_outcome {
    AUCTION_BID_LEAD,            /* the bidder leads (or, leading, raises) at price */
    AUCTION_BID_OUTBID_BY_PROXY, /* the leader's maximum stands: their counter-bid at price */
    AUCTION_BID_BUY_NOW,         /* the lot ends at once at its buy-now price */
    AUCTION_BID_TOO_LOW,         /* below minimum */
    AUCTION_BID_MAX_NOT_RAISED,  /* the leader's new maximum must exceed their own */
    AUCTION_BID_OUT_OF_RANGE,    /* no higher bid fits a bigint */
    AUCTION_BID_NO_BUY_NOW,      /* buy_now asked of a lot without a buy-now price */
    AUCTION_BID_BUY_NOW_GONE,    /* buy_now asked after the first bid */
};

/* An English bid: a plain amount, a proxy maximum, or buy-now. */
struct auction_bid_in {
    int proxy;          /* value is a hidden maximum */
    int buy_now;        /* {"buy_now": true}: value is unused */
    int64_t value;      /* the amount, or the maximum */
    int64_t second_max; /* a proxy raise by the leader: the others' highest maximum, 0: none */
};

struct auction_bid_terms {
    enum auction_bid_outcome outcome;
    int64_t price;     /* the visible high after the bid (LEAD, OUTBID, BUY_NOW) */
    int64_t amount;    /* the amount the bidder's own bid row shows */
    int64_t max;       /* the leader's hidden maximum after the bid, 0: none */
    int64_t hold;      /* what the leader holds after the bid */
    int64_t minimum;   /* TOO_LOW, MAX_NOT_RAISED, OUTBID: the least the next bid may be */
    int minimum_shown; /* 0: no next bid fits a bigint (minimum is meaningless) */
};

/*
 * The proxy rule (README, "Auctions"), for bidder on open English lot l:
 * the visible high is the second-highest maximum plus the increment at it,
 * capped at the highest maximum; the earlier maximum wins a tie; a plain
 * bid is a bid of exactly its amount (its maximum too); buy-now is offered
 * until the first bid. Pure: fills *t and returns its outcome.
 */
enum auction_bid_outcome auction_bid_decide(const struct lot *l, const char *bidder,
                                            const struct auction_bid_in *in,
                                            struct auction_bid_terms *t);

/* 1 if the account can put need more on hold or pay it: ledger_funds_cover()
 * (balance - held - need >= -credit_limit). */
int auction_funds_cover(const struct ledger_account *a, int64_t need);

/* Why a lot takes no bid or claim now (checked in this order). */
enum auction_closed {
    AUCTION_OPEN,
    AUCTION_SOLD_OUT, /* a Dutch lot sold, or a drop with no unit left */
    AUCTION_ENDED,    /* settled, unsold, or sold out */
    AUCTION_NOT_STARTED,
    AUCTION_OWN_LOT, /* the seller bidding on or buying their own lot */
};

/* Whether bidder may bid on (English) or claim (Dutch, drop) lot l now. */
enum auction_closed auction_lot_closed(const struct lot *l, const char *bidder);

/* A claim's terms: what it costs and why not. */
enum auction_claim_refusal {
    AUCTION_CLAIM_OK,
    AUCTION_CLAIM_ABOVE_MAX,    /* Dutch: the price now exceeds max_price */
    AUCTION_CLAIM_OVER_LIMIT,   /* drop: more than max_per_claim units */
    AUCTION_CLAIM_UNITS_LEFT,   /* drop: more units than are left */
    AUCTION_CLAIM_OUT_OF_RANGE, /* price x quantity past bigint */
};

struct auction_claim {
    int64_t unit, quantity, cost;
};

/*
 * The terms of a claim on an open Dutch or drop lot: a Dutch lot sells its
 * one unit at the current price (refused above max_price when has_max), a
 * drop sells quantity units (1 when !has_quantity) at its fixed price,
 * within max_per_claim (0: no limit) and the units left. Fills *c (unit
 * and quantity even when refused) and says why not.
 */
enum auction_claim_refusal auction_claim_terms(const struct lot *l, int has_max, int64_t max_price,
                                               int has_quantity, int64_t quantity,
                                               struct auction_claim *c);

/* Units of a drop not yet claimed. */
int auction_units_left(const struct lot *l);

/* What settling a lot does now. */
enum auction_settlement {
    AUCTION_SETTLE_NOT_DUE,         /* not a live English lot past its end */
    AUCTION_SETTLE_NO_BIDS,         /* unsold: nobody bid */
    AUCTION_SETTLE_RESERVE_NOT_MET, /* unsold: the leader's hold is released */
    AUCTION_SETTLE_CAPTURE,         /* sold: the leader's hold pays the seller */
};

enum auction_settlement auction_settlement_decide(const struct lot *l);

/* 1 if a leading amount meets the reserve (0: no reserve), else 0. */
int auction_reserve_met(int64_t reserve, int64_t amount);

/*
 * The numbers of a new lot, by kind, as the API validates them: each
 * field's range and whether it is required. auction_spec_fields(kind)
 * returns the kind's fields in the order they are checked, ended by a
 * NULL name; auction_spec_foreign(kind, k) the fields of the other kinds
 * (k = 0, 1; NULL-terminated), which a lot of this kind must not carry.
 */
enum auction_spec_slot {
    AUCTION_SPEC_START,
    AUCTION_SPEC_INCREMENT,
    AUCTION_SPEC_RESERVE,
    AUCTION_SPEC_ENDS_IN,
    AUCTION_SPEC_SNIPE_WINDOW,
    AUCTION_SPEC_SNIPE_EXTEND,
    AUCTION_SPEC_FLOOR,
    AUCTION_SPEC_STEP,
    AUCTION_SPEC_INTERVAL,
    AUCTION_SPEC_PRICE,
    AUCTION_SPEC_QUANTITY,
    AUCTION_SPEC_MAX_PER_CLAIM,
    AUCTION_SPEC_BUY_NOW,
    AUCTION_SPEC__COUNT
};

struct auction_spec_field {
    const char *name; /* the JSON member */
    enum auction_spec_slot slot;
    int64_t lo, hi;
    int required;
};

/* The largest price a lot may be created with, and its longest duration. */
#define AUCTION_PRICE_MAX (INT64_MAX / 4)
#define AUCTION_DURATION_MAX_S (366 * 86400)
#define AUCTION_SNIPE_MAX_S 86400
#define AUCTION_UNITS_MAX 1000000

const struct auction_spec_field *auction_spec_fields(enum lot_kind kind);
const char *const *auction_spec_foreign(enum lot_kind kind, int k);

/* The cross-field rule of a Dutch lot: its floor must not exceed its start. */
int auction_dutch_spec_ok(int64_t start, int64_t floor_price);

/* ---- lots in a transaction (auction_store.c) ------------------------------ */

/*
 * Fill *l from row `row` of a result that selected the lot columns (every
 * lot statement of sql/queries/auction.sql). 0, or -1 when a kind or
 * status is not one the schema allows.
 */
int auction_lot_parse(PGresult *res, int row, struct lot *l);

/* SQL_LOT_LOCK into *l: 1 found, 0 not found, -1 on a failed statement. */
int auction_lot_lock(struct tx *tx, const char *id, struct lot *l);

/* SQL_LOT_GET (the lot unlocked, as it is now) into *l: as auction_lot_lock. */
int auction_lot_read(struct tx *tx, const char *id, struct lot *l);

/*
 * Settle the (locked) live English lot l now at its high amount, as its
 * end would (the buy-now path): capture, pay the seller, mark bids won and
 * lost and the lot settled. 0, -1 on a failed statement, or
 * AUCTION_SETTLE_OUT_OF_RANGE (nothing written).
 */
int auction_settle_now(struct tx *tx, struct lot *l);

/*
 * If the (locked) lot is a live English lot whose end has passed, settle
 * it exactly once: capture the winner's hold as a transfer to the seller
 * (or, below the reserve or without bids, release and mark it unsold),
 * mark bids won/lost. Returns 1 if it settled now, 0 if nothing was due,
 * -1 on a failed statement, AUCTION_SETTLE_OUT_OF_RANGE if the capture
 * would take the seller's balance beyond bigint (checked before anything
 * is written: the lot stays live and ended). l->status is updated.
 */
#define AUCTION_SETTLE_OUT_OF_RANGE (-2)
int auction_settle_if_due(struct tx *tx, struct lot *l);

/*
 * One sweep: settle up to `limit` due English lots, each in its own
 * transaction of session s. A lot that cannot settle (out of range, a
 * failed statement) is logged, counted (zerosum_settlement_skipped_total)
 * and skipped for a minute; the lots after it still settle. Returns how
 * many were settled, or -1 (the due list could not be read, or the
 * database is unavailable).
 */
int auction_sweep(struct db_session *s, int limit);

#endif
