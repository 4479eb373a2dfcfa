/*
 * lots.h — the auction lot model: loading a lot under its lock, settling
 * an English lot whose time is up, and rendering a lot as JSON.
 *
 * Lock order everywhere: the lot row first, then accounts by id.
 * Deadlines and Dutch prices come from the database clock (now()).
 */
#ifndef ZS_LOTS_H
#define ZS_LOTS_H

#include <stdint.h>

#include "store/db.h"
#include "util.h"

struct lot {
    char id[UUID_STR_LEN + 1];
    char kind[8];                   /* english | dutch | drop */
    char seller[UUID_STR_LEN + 1];
    char status[12];                /* live | settled | unsold | sold_out */
    int64_t start_price, increment, reserve, floor_price, step, price;
    int interval_s, snipe_window, snipe_extend, max_per_claim;
    int qty_total, qty_claimed;
    int64_t high_amount;            /* 0 when no bid */
    char high_bidder[UUID_STR_LEN + 1];   /* "" when no bid */
    char high_bid[UUID_STR_LEN + 1];
    int64_t seq;
    int started;                    /* now() >= starts_at */
    int ended;                      /* english: now() >= ends_at */
    int64_t current_price;          /* dutch: the schedule's price now */
};

/* The select list every lot query uses; lot_parse() and lot_json() read it. */
extern const char *const lot_columns_sql;

/*
 * SELECT the lot FOR UPDATE into *l. Returns 1 found, 0 not found, -1 on a
 * failed statement.
 */
int lot_lock(struct tx *tx, const char *id, struct lot *l);

/* The SQL lot_lock() runs ($1: the lot id), for callers that pipeline it. */
const char *lot_lock_sql(void);

/* Fill *l from row `row` of a result selected with lot_columns_sql. */
void lot_parse(PGresult *res, int row, struct lot *l);

/* The public JSON of row `row` (selected with lot_columns_sql). Caller owns it. */
struct json_object *lot_json(PGresult *res, int row);

/*
 * If the (locked) lot is a live English lot whose end has passed, settle
 * it exactly once: capture the winner's hold as a transfer to the seller
 * (or, below the reserve or without bids, release and mark it unsold),
 * mark bids won/lost. Returns 1 if it settled now, 0 if nothing was due,
 * -1 on a failed statement, LOT_SETTLE_OUT_OF_RANGE if the capture would
 * take the seller's balance beyond bigint (checked before anything is
 * written: the lot stays live and ended). l->status is updated.
 */
#define LOT_SETTLE_OUT_OF_RANGE (-2)
int lot_settle_if_due(struct tx *tx, struct lot *l);

/*
 * One sweep: settle up to `limit` due English lots, each in its own
 * transaction. A lot that cannot settle (out of range, a failed statement)
 * is logged, counted (zerosum_settlement_skipped_total) and skipped for a
 * minute; the lots after it still settle. Returns how many were settled, or
 * -1 (the due list could not be read, or the database is unavailable).
 */
int lots_sweep(const struct zs_config *cfg, int limit);

#endif
