/*
 * auction_store.c — lots in a transaction: reading the lot row, settling
 * an English lot whose time is up, and the settlement sweep the jobs child
 * runs (see auction.h). The statements are in sql/queries/auction.sql.
 */
#include "domain/auction.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/events.h"
#include "log.h"
#include "metrics.h"

/* The value of column name in row, or NULL when it is SQL NULL or absent. */
static const char *col(PGresult *res, int row, const char *name)
{
    int c = PQfnumber(res, name);

    if (c < 0 || PQgetisnull(res, row, c))
        return NULL;
    return PQgetvalue(res, row, c);
}

static int64_t col_i64(PGresult *res, int row, const char *name)
{
    const char *v = col(res, row, name);

    return v ? strtoll(v, NULL, 10) : 0;
}

static int col_bool(PGresult *res, int row, const char *name)
{
    const char *v = col(res, row, name);

    return v && v[0] == 't';
}

static void copy_col(char *dst, size_t n, PGresult *res, int row, const char *name)
{
    const char *v = col(res, row, name);

    snprintf(dst, n, "%s", v ? v : "");
}

int auction_lot_parse(PGresult *res, int row, struct lot *l)
{
    memset(l, 0, sizeof(*l));
    if (auction_kind_parse(col(res, row, "kind"), &l->kind) < 0
        || auction_status_parse(col(res, row, "status"), &l->status) < 0)
        return -1;
    copy_col(l->id, sizeof(l->id), res, row, "id");
    copy_col(l->seller, sizeof(l->seller), res, row, "seller");
    l->start_price = col_i64(res, row, "start_price");
    l->increment = col_i64(res, row, "increment");
    l->reserve = col_i64(res, row, "reserve");
    l->floor_price = col_i64(res, row, "floor_price");
    l->step = col_i64(res, row, "step");
    l->price = col_i64(res, row, "price");
    l->interval_s = (int)col_i64(res, row, "interval_s");
    l->snipe_window = (int)col_i64(res, row, "snipe_window");
    l->snipe_extend = (int)col_i64(res, row, "snipe_extend");
    l->max_per_claim = (int)col_i64(res, row, "max_per_claim");
    l->qty_total = (int)col_i64(res, row, "qty_total");
    l->qty_claimed = (int)col_i64(res, row, "qty_claimed");
    l->high_amount = col_i64(res, row, "high_amount");
    copy_col(l->high_bidder, sizeof(l->high_bidder), res, row, "high_bidder");
    copy_col(l->high_bid, sizeof(l->high_bid), res, row, "high_bid");
    l->seq = col_i64(res, row, "seq");
    l->started = col_bool(res, row, "started");
    l->ended = col_bool(res, row, "ended");
    l->current_price = col_i64(res, row, "current_price");
    copy_col(l->ends_at, sizeof(l->ends_at), res, row, "ends_at");
    l->high_max = col_i64(res, row, "high_max");
    l->buy_now = col_i64(res, row, "buy_now");
    return auction_increments_parse(col(res, row, "increments"), l);
}

/* One lot row by statement which into *l: 1 found, 0 not, -1 on failure. */
static int lot_one(struct tx *tx, enum sql_id which, const char *id, struct lot *l)
{
    const char *p[1] = { id };
    PGresult *res = tx_exec_named(tx, which, p);
    int found;

    if (!res)
        return -1;
    found = PQntuples(res) == 1;
    if (found && auction_lot_parse(res, 0, l) < 0) {
        log_error("lot %s: a kind or status the schema does not allow", id);
        tx->err = DB_FAILED;
        found = -1;
    }
    PQclear(res);
    return found;
}

int auction_lot_lock(struct tx *tx, const char *id, struct lot *l)
{
    return lot_one(tx, SQL_LOT_LOCK, id, l);
}

int auction_lot_read(struct tx *tx, const char *id, struct lot *l)
{
    return lot_one(tx, SQL_LOT_GET, id, l);
}

/*
 * A leader holding a hidden maximum above the high: their hold comes down
 * to the high before it is released or captured (held by the difference),
 * so the hold's record shows the price it backed, never the maximum.
 */
static int hold_down_to_high(struct tx *tx, const struct lot *l)
{
    char amt[24];
    const char *p[3] = { l->id, l->high_bidder, amt };

    if (auction_leader_max(l) <= l->high_amount)
        return 0;
    snprintf(amt, sizeof(amt), "%" PRId64, l->high_amount);
    if (ledger_adjust_held(tx, l->high_bidder, l->high_amount - auction_leader_max(l)) < 0
        || tx_exec_named_void(tx, SQL_BID_HOLD_SET_AMOUNT, p) < 0)
        return -1;
    return 0;
}

/* Unsold below the reserve: the leader's hold is released, every bid lost. */
static int settle_unsold_reserve(struct tx *tx, const struct lot *l)
{
    struct ledger_account acc[1];
    const char *p[1] = { l->id };

    memset(acc, 0, sizeof(acc));
    memcpy(acc[0].id, l->high_bidder, sizeof(acc[0].id));
    if (ledger_lock(tx, acc, 1) < 0 || hold_down_to_high(tx, l) < 0
        || ledger_adjust_held(tx, l->high_bidder, -l->high_amount) < 0
        || tx_exec_named_void(tx, SQL_LOT_RELEASE_HOLDS, p) < 0
        || tx_exec_named_void(tx, SQL_LOT_BIDS_LOST, p) < 0
        || tx_exec_named_void(tx, SQL_LOT_MARK_UNSOLD, p) < 0)
        return -1;
    return 0;
}

/* Sold: the leader's hold pays the seller, bids are won and lost. */
static int settle_capture(struct tx *tx, const struct lot *l)
{
    char amt[24], tid[UUID_STR_LEN + 1], memo[64];
    struct ledger_account acc[2];

    memset(acc, 0, sizeof(acc));
    memcpy(acc[0].id, l->high_bidder, sizeof(acc[0].id));
    memcpy(acc[1].id, l->seller, sizeof(acc[1].id));
    if (ledger_lock(tx, acc, 2) < 0)
        return -1;
    if (!ledger_move_fits(&acc[0], &acc[1], l->high_amount))
        return AUCTION_SETTLE_OUT_OF_RANGE; /* nothing written yet */
    if (hold_down_to_high(tx, l) < 0)
        return -1;
    snprintf(memo, sizeof(memo), "lot %s", l->id);
    if (ledger_move(tx, l->high_bidder, l->seller, l->high_amount, l->high_amount, "capture",
                    "system", memo, NULL, tid, NULL)
        < 0)
        return -1;
    snprintf(amt, sizeof(amt), "%" PRId64, l->high_amount);
    {
        const char *p[2] = { l->id, tid };
        const char *q[2] = { l->id, l->high_bid };
        const char *s[2] = { l->id, amt };

        if (tx_exec_named_void(tx, SQL_LOT_CAPTURE_HOLD, p) < 0
            || tx_exec_named_void(tx, SQL_LOT_BIDS_DECIDE, q) < 0
            || tx_exec_named_void(tx, SQL_LOT_MARK_SETTLED, s) < 0)
            return -1;
    }
    return 0;
}

int auction_settle_now(struct tx *tx, struct lot *l)
{
    int rc = settle_capture(tx, l);

    if (rc == 0)
        l->status = LOT_SETTLED;
    return rc;
}

static int settle_now(struct tx *tx, struct lot *l);

/* lot.settled for l, settled as l->status now, in the settling transaction. 0, or -1. */
static int settled_event(struct tx *tx, const struct lot *l)
{
    struct events_buf ev = { 0 };
    struct json_object *o = json_object_new_object();
    int rc;

    json_object_object_add(o, "id", json_object_new_string(l->id));
    json_object_object_add(o, "status", json_object_new_string(auction_status_name(l->status)));
    json_object_object_add(o, "winner",
                           l->status == LOT_SETTLED && l->high_bidder[0]
                               ? json_object_new_string(l->high_bidder)
                               : NULL);
    json_object_object_add(o, "price",
                           l->status == LOT_SETTLED ? json_object_new_int64(l->high_amount) : NULL);
    if (l->status == LOT_SETTLED && l->high_bidder[0])
        rc = events_add(&ev, "lot.settled", events_wrap("lot", o),
                        "lots/%s accounts/%s accounts/%s", l->id, l->seller, l->high_bidder);
    else
        rc = events_add(&ev, "lot.settled", events_wrap("lot", o), "lots/%s accounts/%s", l->id,
                        l->seller);
    if (rc == 0)
        rc = events_exec(tx, &ev);
    events_reset(&ev);
    if (rc < 0)
        tx->err = tx->err == DB_OK ? DB_FAILED : tx->err;
    return rc;
}

int auction_settle_if_due(struct tx *tx, struct lot *l)
{
    int rc = settle_now(tx, l);

    return rc == 1 && settled_event(tx, l) < 0 ? -1 : rc;
}

/* auction_settle_if_due() without its event. */
static int settle_now(struct tx *tx, struct lot *l)
{
    const char *p[1] = { l->id };
    int rc;

    switch (auction_settlement_decide(l)) {
    case AUCTION_SETTLE_NOT_DUE:
        return 0;
    case AUCTION_SETTLE_NO_BIDS:
        if (tx_exec_named_void(tx, SQL_LOT_MARK_UNSOLD, p) < 0)
            return -1;
        l->status = LOT_UNSOLD;
        return 1;
    case AUCTION_SETTLE_RESERVE_NOT_MET:
        if (settle_unsold_reserve(tx, l) < 0)
            return -1;
        l->status = LOT_UNSOLD;
        return 1;
    case AUCTION_SETTLE_CAPTURE:
        rc = settle_capture(tx, l);
        if (rc < 0)
            return rc;
        l->status = LOT_SETTLED;
        return 1;
    }
    return -1;
}

/* ---- the sweep --------------------------------------------------------- */

/* A lot the sweep could not settle is skipped for this long, so it can
 * neither stall the lots behind it nor cost a failed transaction a second. */
#define SWEEP_RETRY_S 60
#define SWEEP_SKIP_MAX 64
#define SWEEP_BATCH_MAX 64

static struct {
    char id[UUID_STR_LEN + 1];
    time_t until;
} skipped[SWEEP_SKIP_MAX];

static int is_skipped(const char *id, time_t now)
{
    for (int i = 0; i < SWEEP_SKIP_MAX; i++)
        if (skipped[i].until > now && strcmp(skipped[i].id, id) == 0)
            return 1;
    return 0;
}

static int skipped_count(time_t now)
{
    int n = 0;

    for (int i = 0; i < SWEEP_SKIP_MAX; i++)
        n += skipped[i].until > now;
    return n;
}

/* Remember id until now + SWEEP_RETRY_S, in a free slot or the one that expires first. */
static void skip_lot(const char *id, time_t now)
{
    int k = 0;

    for (int i = 0; i < SWEEP_SKIP_MAX; i++)
        if (skipped[i].until < skipped[k].until)
            k = i;
    snprintf(skipped[k].id, sizeof(skipped[k].id), "%s", id);
    skipped[k].until = now + SWEEP_RETRY_S;
}

struct settle_one {
    const char *id;
    int settled;
    int out_of_range; /* the capture would overflow a balance */
};

/* One due lot, locked and settled in its own transaction. */
static enum tx_decision settle_one_tx(struct tx *tx, void *arg)
{
    struct settle_one *s = arg;
    struct lot l;
    int rc;

    s->settled = s->out_of_range = 0;
    rc = auction_lot_lock(tx, s->id, &l);
    if (rc < 0)
        return TX_ERROR;
    if (rc == 0)
        return TX_ROLLBACK;
    rc = auction_settle_if_due(tx, &l);
    if (rc == AUCTION_SETTLE_OUT_OF_RANGE) {
        s->out_of_range = 1;
        return TX_ROLLBACK;
    }
    if (rc < 0)
        return TX_ERROR;
    s->settled = rc;
    return rc ? TX_COMMIT : TX_ROLLBACK;
}

struct due_list {
    int limit; /* rows to read: the batch plus the skipped lots */
    int n;
    char ids[SWEEP_BATCH_MAX + SWEEP_SKIP_MAX][UUID_STR_LEN + 1];
};

static enum tx_decision due_tx(struct tx *tx, void *arg)
{
    struct due_list *d = arg;

    d->n =
        tx_exec_ids(tx, SQL_LOT_DUE, d->limit, d->ids, (int)(sizeof(d->ids) / sizeof(d->ids[0])));
    if (d->n < 0)
        return TX_ERROR;
    return TX_COMMIT;
}

int auction_sweep(struct db_session *ses, int limit)
{
    struct due_list d;
    enum tx_decision dec;
    int settled = 0, tried = 0;
    time_t now = time(NULL);

    memset(&d, 0, sizeof(d));
    if (limit > SWEEP_BATCH_MAX)
        limit = SWEEP_BATCH_MAX;
    /* Read past the skipped lots, so that they cannot fill the batch. */
    d.limit = limit + skipped_count(now);
    if (tx_run(ses, TX_READ_ONLY, due_tx, &d, &dec) != TX_RESULT_DONE)
        return -1;
    for (int i = 0; i < d.n && tried < limit; i++) {
        struct settle_one s = { d.ids[i], 0, 0 };
        enum tx_result res;

        if (is_skipped(d.ids[i], now))
            continue;
        tried++;
        res = tx_run(ses, 0, settle_one_tx, &s, &dec);
        if (res == TX_RESULT_UNAVAILABLE || res == TX_RESULT_CONTENTION)
            return -1; /* the database is away or busy: the next round retries */
        if (res != TX_RESULT_DONE || s.out_of_range) {
            /* This lot cannot settle now (a capture past bigint, a failed
             * statement): skip it, count it, and go on with the rest. */
            metrics_count_settle_skipped();
            skip_lot(d.ids[i], now);
            log_error("lot %s cannot be settled (%s); skipped for %d s", d.ids[i],
                      s.out_of_range ? "the capture would overflow the seller's balance"
                                     : "its transaction failed",
                      SWEEP_RETRY_S);
            continue;
        }
        if (s.settled) {
            log_info("settled lot %s", d.ids[i]);
            settled++;
        }
    }
    return settled;
}
