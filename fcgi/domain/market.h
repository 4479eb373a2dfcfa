/*
 * market.h — markets: their kinds, states and outcomes (parsed once, from
 * the request or the row), the row every order locks first, the pure
 * rules of cost basis and payout, and resolution (domain/resolve.c).
 */
#ifndef ZS_DOMAIN_MARKET_H
#define ZS_DOMAIN_MARKET_H

#include <stdint.h>

#include "store/db.h"
#include "util.h"

enum market_kind {
    MARKET_SHARES, /* a fixed supply of shares, owned by one account */
    MARKET_EVENT,  /* YES/NO contracts minted in pairs against escrow */
};

enum market_status {
    MARKET_OPEN,
    MARKET_RESOLVING,
    MARKET_RESOLVED,
    MARKET_CANCELLED,
};

/* What a position (or an order) is in: the shares of a shares market, or
 * one side of an event market. */
enum market_outcome {
    OUTCOME_SHARES,
    OUTCOME_YES,
    OUTCOME_NO,
};

/* How an event market ends: one side wins, or it is cancelled (50 per contract). */
enum market_resolution {
    RESOLUTION_NONE,
    RESOLUTION_YES,
    RESOLUTION_NO,
    RESOLUTION_CANCEL,
};

/* The index of s in names[0..n) (the texts of an enum, in its order), or
 * -1 when s is NULL or none of them: the one parser behind every enum here. */
int market_enum_lookup(const char *const *names, int n, const char *s);

/* Parse a kind/status/outcome/resolution text; 0, or -1 if it names none. */
int market_kind_parse(const char *s, enum market_kind *out);
int market_status_parse(const char *s, enum market_status *out);
int market_outcome_parse(const char *s, enum market_outcome *out);
/* "" parses as RESOLUTION_NONE (a market not resolved). */
int market_resolution_parse(const char *s, enum market_resolution *out);

/* The texts the API and the database use. */
const char *market_kind_name(enum market_kind k);
const char *market_status_name(enum market_status s);
const char *market_outcome_name(enum market_outcome o);
const char *market_resolution_name(enum market_resolution r);

/* YES ↔ NO (SHARES stays SHARES). */
enum market_outcome market_outcome_complement(enum market_outcome o);

/* The status a resolution closes the market with: cancelled or resolved. */
enum market_status market_resolution_status(enum market_resolution r);

/* The locked market row (market_lock). */
struct market {
    char id[UUID_STR_LEN + 1];
    enum market_kind kind;
    enum market_status status;
    enum market_resolution outcome;
    char owner[UUID_STR_LEN + 1];
    char escrow[UUID_STR_LEN + 1]; /* "" for shares markets */
    int tick_min, tick_max;
    int64_t seq;
};

/* SELECT … FOR UPDATE the market. 1 found, 0 not found, -1 failed statement. */
int market_lock(struct tx *tx, const char *id, struct market *m);

/* Fill m from one market row (the market_lock/market_get columns); 0, or -1
 * on a kind, status or outcome the schema does not allow. */
int market_row_parse(struct market *m, PGresult *res, int row);

/*
 * The cost basis that travels with f of a seller's qty contracts whose
 * basis is cost: the floor share, or all of it when f takes the last of
 * them, so the basis moves exactly and none is left on an empty position.
 */
int64_t market_cost_share(int64_t qty, int64_t cost, int64_t f);

/* What a YES+NO pair is worth: escrow holds this per outstanding pair. */
#define MARKET_PAIR_VALUE 100

/* What a cancelled event market pays per contract, YES and NO alike (the
 * "invalid" outcome of a conditional-token market): two of them make a pair. */
#define MARKET_CANCEL_PAYOUT 50

/* The most pairs one split or merge moves (POST /markets/{id}/split|merge). */
#define MARKET_PAIRS_MAX 1000000000LL

/*
 * What resolving with r pays a position of qty contracts in outcome o:
 * 100 per winning contract, 0 for a losing one, 50 per contract of either
 * side on a cancel (so escrow, 100 per pair, pays out exactly). 0 with
 * *pay set, or -1 when it overflows bigint or qty is negative (only
 * corrupt data gets either).
 */
int market_payout(enum market_resolution r, enum market_outcome o, int64_t qty, int64_t *pay);

/*
 * What splitting (or merging) qty pairs moves: 100 x qty into (or out of)
 * escrow. 0 with *amount set, or -1 when qty is not from 1 to
 * MARKET_PAIRS_MAX (the request is refused 422 invalid_quantity).
 */
int market_pairs_amount(int64_t qty, int64_t *amount);

#endif
