/*
 * resolve.h — resolving an event market, exactly once under its key,
 * across several transactions.
 *
 * The claim (one transaction, run by the API with the key's claim) marks
 * the market resolving under the key, with a lease; the driver then runs
 * the batches each in its own transaction under the market lock, recording
 * what they paid on the market row: cancel resting orders (releasing their
 * holds), pay every position from escrow (100 per winning contract, 0 per
 * losing one; or, when cancelled, 50 per contract of either side: a pair
 * pays back its 100 whoever holds its halves); and
 * finally closes the market and finishes the key in one transaction once
 * escrow is 0. Every step is resumable from the database alone, so a retry
 * with the same key, or the jobs child (market_resolve_stale), finishes a
 * resolution whose owner died, and every interleaving of two drivers pays
 * each position once (each batch pays only positions not yet zeroed, under
 * the lock). Batches keep every transaction far below Aurora DSQL's
 * 3,000-row limit.
 */
#ifndef ZS_DOMAIN_RESOLVE_H
#define ZS_DOMAIN_RESOLVE_H

#include <stdint.h>

#include "config.h"
#include "domain/market.h"
#include "store/db.h"
#include "util.h"

/* The longest idempotency key a resolution runs under. */
#define RESOLVE_KEY_MAX 255

/* One resolution being driven. */
struct market_resolve {
    char id[UUID_STR_LEN + 1];
    enum market_resolution outcome;
    char caller[80], key[RESOLVE_KEY_MAX + 1]; /* the key it runs under ("": none) */
    int lease;                                 /* seconds */
    char owner[UUID_STR_LEN + 1]; /* this driver (set at its first lease): only it releases */
    /* out, once RESOLVE_DONE */
    char *body;   /* the 200 answer (malloc'd; the caller frees it) */
    int replayed; /* body is the answer another driver stored */
};

/* What the claim found (market_resolve_claim). */
enum resolve_claim {
    RESOLVE_CLAIMED,   /* the market is resolving under the key: commit, then drive */
    RESOLVE_IN_FLIGHT, /* its owner still runs: roll back, answer in flight */
    RESOLVE_NOT_FOUND, /* refusals, stored under the key by the caller: */
    RESOLVE_NOT_EVENT,
    RESOLVE_CLOSED,
};

/*
 * Inside the caller's transaction, the key just claimed (new, or pending
 * when resuming our own resolution begun earlier): look at the market and
 * mark it resolving under v's key with a fresh lease, or say why not.
 * 0 with *out set, or -1 on a failed statement or a pending key the market
 * does not name.
 */
int market_resolve_claim(struct tx *tx, struct market_resolve *v, int pending,
                         enum resolve_claim *out);

enum resolve_outcome {
    RESOLVE_DONE,        /* closed: v->body is the answer (v->replayed: not ours) */
    RESOLVE_OVERFLOW,    /* a payout past bigint: rolled back, left resolving */
    RESOLVE_ESCROW_LEFT, /* escrow not 0 after paying every position: halted */
    RESOLVE_SKIPPED,     /* take-over: not resolving, or its lease still runs */
    RESOLVE_FAILED,      /* a transaction failed: *res says how; the lease released */
};

/*
 * Drive a claimed resolution to its end on session s: the batches, then
 * the close. *res is the failed transaction's tx_result for RESOLVE_FAILED.
 */
enum resolve_outcome market_resolve_drive(struct db_session *s, struct market_resolve *v,
                                          enum tx_result *res);

/*
 * The jobs child's part of exactly-once resolution: finish up to max
 * resolutions whose lease has lapsed (their process died or failed half
 * way), closing each market and finishing its key as the request would
 * have. Returns how many it finished, or -1 if the database failed.
 */
int market_resolve_stale(const struct zs_config *cfg, int max);

#endif
