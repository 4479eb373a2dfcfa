/*
 * matching.h — the matching engine, pure: an incoming (taker) limit order
 * against the resting (maker) orders that cross it, into fills, self-trade
 * cancellations, the remainder that rests and the cash it must hold. No
 * database and no I/O: the caller reads the makers, runs match_run(), and
 * applies what it decided (api/order.c, domain/book.c).
 *
 * Price, then time: a buy takes the lowest cost first, a sell the highest
 * price; equal prices go in sequence order. On an event market a YES buy
 * at p also meets a resting NO buy at q >= 100 - p (and NO likewise): the
 * pair is minted, the taker paying 100 - q per contract. A maker of the
 * taker's own account is cancelled instead of filled (self-trade
 * prevention, the default mode; see enum order_stp for the others), and
 * its cash hold comes back before the taker pays. At most
 * MATCH_MAX_MAKERS resting orders are considered per incoming order.
 */
#ifndef ZS_DOMAIN_MATCHING_H
#define ZS_DOMAIN_MATCHING_H

#include <stdint.h>

#include "domain/market.h"
#include "util.h"

#define MATCH_MAX_MAKERS 200

enum order_side {
    SIDE_BUY,
    SIDE_SELL,
};

enum order_tif {
    TIF_GTC, /* good till cancelled: the remainder rests */
    TIF_IOC, /* immediate or cancel: the remainder is cancelled */
    TIF_FOK, /* fill or kill: fills completely now, or nothing is written */
    TIF_GTD, /* good till date: rests until its expires_at (database clock) */
};

/* Self-trade prevention, as Binance's EXPIRE_MAKER / EXPIRE_TAKER /
 * EXPIRE_BOTH: when the taker meets a resting order of its own account,
 * cancel that maker and go on; or stop the taker there (its remainder is
 * cancelled, whatever its time in force); or both. Fills made before the
 * meeting stand. */
enum order_stp {
    STP_CANCEL_MAKER, /* the default, and the only mode before it was a choice */
    STP_CANCEL_TAKER,
    STP_CANCEL_BOTH,
};

enum order_status {
    ORDER_OPEN,
    ORDER_FILLED,
    ORDER_CANCELLED,
};

/* Parse a side/time-in-force/status text; 0, or -1 if it names none. */
int order_side_parse(const char *s, enum order_side *out);
int order_tif_parse(const char *s, enum order_tif *out);
int order_status_parse(const char *s, enum order_status *out);
int order_stp_parse(const char *s, enum order_stp *out);

const char *order_side_name(enum order_side s);
const char *order_tif_name(enum order_tif t);
const char *order_status_name(enum order_status s);
const char *order_stp_name(enum order_stp s);

/* 1 when a remainder of an order with this time in force rests (gtc, gtd). */
int order_tif_rests(enum order_tif t);

/* A resting order, as read from the book, and what matching decided for it. */
struct match_order {
    char id[UUID_STR_LEN + 1];
    char account[UUID_STR_LEN + 1];
    enum order_side side;
    enum market_outcome outcome;
    int64_t price, remaining, hold, seq;
    int mint;     /* a complement buy: the fill mints a pair */
    int64_t cost; /* per unit, for the taker (100 - price for a mint) */
    int64_t fill; /* out: units filled (0: not reached, or cancelled) */
    int stp;      /* out: cancelled by self-trade prevention */
};

/* Set k->mint and the per-unit cost it has for the taker. */
void match_order_kind(struct match_order *k, int mint);

/* The incoming order. */
struct match_taker {
    const char *account;
    enum order_side side;
    enum order_tif tif;
    int64_t price, quantity;
    enum order_stp stp; /* zero: cancel_maker */
};

struct match_result {
    int n;                    /* makers kept, best first (at most MATCH_MAX_MAKERS) */
    int64_t left;             /* units not filled */
    int64_t rest;             /* units that rest (gtc), 0 for ioc */
    int64_t hold;             /* a resting buy's cash hold: rest × price */
    int64_t need;             /* cash a buy needs: its fills' cost plus hold */
    int64_t released;         /* cash the self-trade cancellations release */
    int overflow;             /* a sum past bigint: the order must be refused */
    enum order_status status; /* the taker's status once applied */
    int64_t last_price;       /* the last fill's price for the tape, -1 if none */
    int killed;               /* fok not filled completely: nothing may be applied */
    int taker_stopped;        /* stp cancel_taker/cancel_both stopped the taker */
};

/*
 * Match t against m[0..n): sorts m best first for t, keeps the first
 * MATCH_MAX_MAKERS, marks each kept maker's fill or stp, and fills *r.
 * Every sum is checked: on overflow r->overflow is set and nothing it
 * computed may be applied.
 */
void match_run(const struct match_taker *t, struct match_order *m, int n, struct match_result *r);

/* The price a fill reports to the taker: a buy's per-unit cost, a sell's maker price. */
int64_t match_fill_price(const struct match_taker *t, const struct match_order *k);

#endif
