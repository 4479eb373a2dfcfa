/*
 * market.h — markets: the row each order locks first, and resolution.
 */
#ifndef ZS_MARKET_H
#define ZS_MARKET_H

#include <stdint.h>

#include "store/db.h"
#include "util.h"

struct market {
    char id[UUID_STR_LEN + 1];
    char kind[8];                      /* shares | event */
    char status[12];                   /* open | resolving | resolved | cancelled */
    char outcome[8];                   /* "" | yes | no | cancel */
    char owner[UUID_STR_LEN + 1];
    char escrow[UUID_STR_LEN + 1];     /* "" for shares markets */
    int tick_min, tick_max;
    int64_t seq;
};

/* SELECT … FOR UPDATE the market. 1 found, 0 not found, -1 failed statement. */
int market_lock(struct tx *tx, const char *id, struct market *m);

/*
 * The jobs child's part of exactly-once resolution: finish up to max
 * resolutions whose lease has lapsed (their process died or failed half
 * way), closing each market and finishing its key as the request would
 * have. Returns how many it finished, or -1 if the database failed.
 */
int market_resolve_stale(const struct zs_config *cfg, int max);

#endif
