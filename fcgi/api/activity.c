/*
 * activity.c — GET /proof/activity[?lot=ID]: the dashboard's live feed.
 *
 * The 20 most recent bids, and one English lot's accepted bids by sequence
 * (the lot asked for, or the one bid on most recently) for the bid chart:
 * auction data that GET /lots/{id} shows anyone. Ledger transfers are what
 * GET /transfers/{id} keeps to their parties, so only an admin gets the 20
 * most recent with ids, parties and amounts; everyone else gets
 * "transfer_kinds", the number of transfers of each kind, and
 * "redacted": true. Read-only, one snapshot. Anonymous answers may be cached
 * for ACTIVITY_MAX_AGE seconds (shared by every anonymous caller).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_tx.h"
#include "api/auth.h"
#include "store/db.h"
#include "api/routes.h"
#include "api/rows.h"
#include "util.h"

#define ACTIVITY_MAX_AGE 2

struct activity {
    const char *lot; /* or NULL: most recent English lot with bids */
    int full;        /* admin: the transfers themselves */
    struct json_object *out;
};

/* The columns of activity_transfers, activity_transfer_kinds and activity_bids. */
static const struct row_col transfer_cols[] = {
    { "id", ROW_TEXT },    { "from", ROW_TEXT }, { "to", ROW_TEXT },
    { "amount", ROW_I64 }, { "kind", ROW_TEXT }, { "created_at", ROW_TEXT },
};
static const struct row_col kind_cols[] = { { "kind", ROW_TEXT }, { "count", ROW_I64 } };
static const struct row_col bid_cols[] = {
    { "id", ROW_TEXT },     { "lot", ROW_TEXT },    { "kind", ROW_TEXT },
    { "bidder", ROW_TEXT }, { "amount", ROW_I64 },  { "quantity", ROW_INT },
    { "seq", ROW_I64 },     { "status", ROW_TEXT }, { "created_at", ROW_TEXT },
};

/* The 20 most recent transfers, in full, as "transfers". */
static int add_transfers(struct tx *tx, struct json_object *out)
{
    struct json_object *transfers;
    PGresult *res;

    res = tx_exec_named(tx, SQL_ACTIVITY_TRANSFERS, NULL);
    if (!res)
        return -1;
    transfers = rows_array(res, transfer_cols, ROW_COLS(transfer_cols), -1);
    PQclear(res);
    json_object_object_add(out, "transfers", transfers);
    return 0;
}

/* How many transfers of each kind the ledger holds, as "transfer_kinds":
 * no id, party, amount or time of any one transfer. */
static int add_transfer_kinds(struct tx *tx, struct json_object *out)
{
    struct json_object *kinds;
    PGresult *res;

    res = tx_exec_named(tx, SQL_ACTIVITY_TRANSFER_KINDS, NULL);
    if (!res)
        return -1;
    kinds = rows_array(res, kind_cols, ROW_COLS(kind_cols), -1);
    PQclear(res);
    json_object_object_add(out, "transfer_kinds", kinds);
    return 0;
}

/* The 20 most recent bids, as "bids". */
static int add_bids(struct tx *tx, struct json_object *out)
{
    struct json_object *bids;
    PGresult *res = tx_exec_named(tx, SQL_ACTIVITY_BIDS, NULL);

    if (!res)
        return -1;
    bids = rows_array(res, bid_cols, ROW_COLS(bid_cols), -1);
    PQclear(res);
    json_object_object_add(out, "bids", bids);
    return 0;
}

/* One English lot's accepted bids as [seq, amount] points, as "lot_bids":
 * lot, or (NULL) the English lot bid on most recently, if any. */
static int add_lot_bids(struct tx *tx, const char *lot_asked, struct json_object *out)
{
    struct json_object *chart, *points;
    char lot[UUID_STR_LEN + 1] = "";
    PGresult *res;

    if (lot_asked) {
        snprintf(lot, sizeof(lot), "%s", lot_asked);
    } else {
        res = tx_exec_named(tx, SQL_ACTIVITY_CHART_LOT, NULL);
        if (!res)
            return -1;
        if (PQntuples(res) == 1)
            snprintf(lot, sizeof(lot), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    points = json_object_new_array();
    if (lot[0]) {
        const char *p[1] = { lot };
        res = tx_exec_named(tx, SQL_ACTIVITY_CHART_POINTS, p);
        if (!res) {
            json_object_put(points);
            return -1;
        }
        for (int i = 0; i < PQntuples(res); i++) {
            struct json_object *pt = json_object_new_array();
            json_object_array_add(pt,
                                  json_object_new_int64(strtoll(PQgetvalue(res, i, 0), NULL, 10)));
            json_object_array_add(pt,
                                  json_object_new_int64(strtoll(PQgetvalue(res, i, 1), NULL, 10)));
            json_object_array_add(points, pt);
        }
        PQclear(res);
    }
    chart = json_object_new_object();
    json_object_object_add(chart, "lot", lot[0] ? json_object_new_string(lot) : NULL);
    json_object_object_add(chart, "points", points);
    json_object_object_add(out, "lot_bids", chart);
    return 0;
}

/* The whole feed, on one snapshot (called again from scratch on a retry). */
static enum tx_decision activity_tx(struct tx *tx, void *arg)
{
    struct activity *a = arg;

    if (a->out)
        json_object_put(a->out);
    a->out = json_object_new_object();
    json_object_object_add(a->out, "redacted", json_object_new_boolean(!a->full));
    if ((a->full && add_transfers(tx, a->out) < 0) || add_transfer_kinds(tx, a->out) < 0
        || add_bids(tx, a->out) < 0 || add_lot_bids(tx, a->lot, a->out) < 0)
        return TX_ERROR;
    return TX_COMMIT;
}

void handle_activity(struct request *r)
{
    char buf[64], lot[UUID_STR_LEN + 1];
    struct activity a = { NULL, 0, NULL };
    enum tx_decision d;
    int rc = http_query_param(r, "lot", buf, sizeof(buf));

    if (rc < 0 || (rc > 0 && !util_uuid_parse(buf, lot))) {
        http_problem(r, 400, "invalid_lot_id", "lot must be a lot id");
        return;
    }
    if (rc > 0)
        a.lot = lot;
    a.full = auth_is_admin(r);
    if (api_tx_run(r, TX_READ_ONLY | TX_SNAPSHOT, activity_tx, &a, &d) < 0) {
        json_object_put(a.out);
        return;
    }
    /* Anonymous answers are the same for every anonymous caller: nginx may
     * share one for a few seconds. Anything sent with a token is no-store. */
    if (!r->authorization || !*r->authorization) {
        char cc[64];
        snprintf(cc, sizeof(cc), "Cache-Control: public, max-age=%d\r\n", ACTIVITY_MAX_AGE);
        http_respond_json(r, 200, a.out, cc);
    } else {
        http_respond_json(r, 200, a.out, NULL);
    }
}
