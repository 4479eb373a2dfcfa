/*
 * vreplay_int.h — the replay's state, shared by vreplay.c (adding and
 * folding records) and vreplay_rules.c (the checks at the end). Private to
 * fcgi/verify/.
 */
#ifndef ZS_VREPLAY_INT_H
#define ZS_VREPLAY_INT_H

#include <stdint.h>

#include "verify/vmap.h"
#include "verify/vrecord.h"
#include "verify/vreplay.h"

/* A rule's tally: how many records broke it, and the first one's position and why. */
struct rule {
    uint64_t bad;
    uint64_t first_index;
    char first[200];
};

enum rule_id {
    RULE_RECORDS,   /* parse, order, unique refs */
    RULE_BALANCED,  /* transfer entries */
    RULE_OVERSELL,  /* claims vs qty_total / qty_claimed */
    RULE_HOLDS,     /* captured holds vs capture transfers */
    RULE_PURCHASES, /* claims vs purchase transfers */
    RULE_FILLS,     /* fills' cash legs */
    RULE_PENDING,   /* pending transfers released */
    RULE_OVERFLOW,  /* a sum that does not fit in int64 */
    RULE_ESCROW,    /* event-market escrow: pairs of 100, payouts of 100 or 50 per contract */
    N_RULES
};

struct acct {
    int64_t balance, entries;
    int64_t limit;                /* the credit limit of its latest limit record; 0 before one */
    uint16_t kinds_in, kinds_out; /* bit k: a transfer of kind k paid it / it paid one */
};

struct xfer {
    uint32_t from, to; /* account indexes */
    int64_t amount;
    uint8_t kind;     /* index into the transfer kind words */
    uint8_t captures; /* captured holds naming it */
    uint8_t claims;   /* claim bids naming it */
    uint8_t posts;    /* posted pending transfers naming it */
};

struct lot {
    int64_t claimed, captured, bids, captures;
    int64_t qty_total, qty_claimed, clearing_price;
    unsigned char seller[32];
    uint8_t seen, touched, settled_english;
};

struct market {
    int64_t fills, quantity, pairs;
};

/* A check that needs the lot's seller, kept until the end. */
struct deferred {
    uint32_t lot, xfer;
    uint64_t index;
};

#define MAX_WANT 8

struct vreplay {
    uint64_t size;
    unsigned char stack[64][32]; /* compact range: perfect subtrees, largest first */
    int levels[64], depth;
    uint64_t want[MAX_WANT];
    unsigned char want_root[MAX_WANT][32];
    int nwant;

    unsigned char issuer[32];
    struct vmap seen;       /* every record's ref */
    struct vmap acct_map;   /* A(id) */
    struct vmap xfer_map;   /* R(transfer,id) */
    struct vmap lot_map;    /* R(lot,id) */
    struct vmap market_map; /* R(market,id) */
    struct acct *accts;
    struct xfer *xfers;
    struct lot *lots;
    struct market *markets;
    size_t accts_cap, xfers_cap, lots_cap, markets_cap;
    struct deferred *captures, *claims;
    size_t ncaptures, captures_cap, nclaims, claims_cap;
    uint64_t kinds[VREC_KINDS]; /* records per vrec_kind */
    struct rule rules[N_RULES];
    int oom;
};

/* Count a broken rule for the record at index, keeping the first reason. */
void vreplay_break(struct vreplay *r, enum rule_id rule, uint64_t index, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Index of the transfer with ref hex, or -1 when no such record came before. */
long vreplay_xfer(const struct vreplay *r, const char *hex);

/* Transfer kind word index ("transfer"=0 ... "merge"=9, XK_*), or -1. */
int vreplay_xfer_kind(const char *word);

enum {
    XK_TRANSFER,
    XK_ISSUE,
    XK_CAPTURE,
    XK_PURCHASE,
    XK_TRADE,
    XK_MINT,
    XK_PAYOUT,
    XK_REFUND,
    XK_SPLIT,
    XK_MERGE,
    XK_KINDS
};

/* What flows into an event market's escrow (mint legs, splits) and out of
 * it (merges, payouts, cancel payouts): an account that takes part in one
 * takes part in no other kind. */
#define XK_ESCROW_IN ((1u << XK_MINT) | (1u << XK_SPLIT))
#define XK_ESCROW_OUT ((1u << XK_MERGE) | (1u << XK_PAYOUT) | (1u << XK_REFUND))

#endif
