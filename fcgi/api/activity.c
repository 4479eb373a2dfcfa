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
#include "domain/ledger.h"
#include "api/routes.h"
#include "util.h"

#define ACTIVITY_MAX_AGE 2

struct activity {
    const char *lot;             /* or NULL: most recent English lot with bids */
    int full;                    /* admin: the transfers themselves */
    struct json_object *out;
};

/* The 20 most recent transfers, in full, as "transfers". */
static int add_transfers(struct tx *tx, struct json_object *out)
{
    struct json_object *transfers;
    PGresult *res;

    res = tx_exec(tx, "SELECT id, from_account, to_account, amount, kind, " LEDGER_TS("created_at")
                      " FROM transfers ORDER BY created_at DESC LIMIT 20", 0, NULL);
    if (!res)
        return -1;
    transfers = json_object_new_array();
    for (int i = 0; i < PQntuples(res); i++) {
        struct json_object *t = json_object_new_object();
        json_object_object_add(t, "id", json_object_new_string(PQgetvalue(res, i, 0)));
        json_object_object_add(t, "from", json_object_new_string(PQgetvalue(res, i, 1)));
        json_object_object_add(t, "to", json_object_new_string(PQgetvalue(res, i, 2)));
        json_object_object_add(t, "amount", json_object_new_int64(strtoll(PQgetvalue(res, i, 3), NULL, 10)));
        json_object_object_add(t, "kind", json_object_new_string(PQgetvalue(res, i, 4)));
        json_object_object_add(t, "created_at", json_object_new_string(PQgetvalue(res, i, 5)));
        json_object_array_add(transfers, t);
    }
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

    res = tx_exec(tx, "SELECT kind, count(*) FROM transfers GROUP BY kind ORDER BY kind", 0, NULL);
    if (!res)
        return -1;
    kinds = json_object_new_array();
    for (int i = 0; i < PQntuples(res); i++) {
        struct json_object *k = json_object_new_object();
        json_object_object_add(k, "kind", json_object_new_string(PQgetvalue(res, i, 0)));
        json_object_object_add(k, "count",
                               json_object_new_int64(strtoll(PQgetvalue(res, i, 1), NULL, 10)));
        json_object_array_add(kinds, k);
    }
    PQclear(res);
    json_object_object_add(out, "transfer_kinds", kinds);
    return 0;
}

static enum tx_decision activity_tx(struct tx *tx, void *arg)
{
    struct activity *a = arg;
    struct json_object *bids, *chart;
    PGresult *res;
    char lot[UUID_STR_LEN + 1] = "";

    if (a->out)
        json_object_put(a->out);
    a->out = json_object_new_object();

    json_object_object_add(a->out, "redacted", json_object_new_boolean(!a->full));
    if ((a->full && add_transfers(tx, a->out) < 0) || add_transfer_kinds(tx, a->out) < 0)
        return TX_ERROR;

    res = tx_exec(tx, "SELECT b.id, b.lot_id, l.kind, b.bidder, b.amount, b.quantity, b.seq, b.status, "
                      LEDGER_TS("b.created_at") " FROM bids b JOIN lots l ON l.id = b.lot_id"
                      " ORDER BY b.created_at DESC LIMIT 20", 0, NULL);
    if (!res)
        return TX_ERROR;
    bids = json_object_new_array();
    for (int i = 0; i < PQntuples(res); i++) {
        struct json_object *b = json_object_new_object();
        json_object_object_add(b, "id", json_object_new_string(PQgetvalue(res, i, 0)));
        json_object_object_add(b, "lot", json_object_new_string(PQgetvalue(res, i, 1)));
        json_object_object_add(b, "kind", json_object_new_string(PQgetvalue(res, i, 2)));
        json_object_object_add(b, "bidder", json_object_new_string(PQgetvalue(res, i, 3)));
        json_object_object_add(b, "amount", json_object_new_int64(strtoll(PQgetvalue(res, i, 4), NULL, 10)));
        json_object_object_add(b, "quantity", json_object_new_int(atoi(PQgetvalue(res, i, 5))));
        json_object_object_add(b, "seq", json_object_new_int64(strtoll(PQgetvalue(res, i, 6), NULL, 10)));
        json_object_object_add(b, "status", json_object_new_string(PQgetvalue(res, i, 7)));
        json_object_object_add(b, "created_at", json_object_new_string(PQgetvalue(res, i, 8)));
        json_object_array_add(bids, b);
    }
    PQclear(res);
    json_object_object_add(a->out, "bids", bids);

    if (a->lot) {
        snprintf(lot, sizeof(lot), "%s", a->lot);
    } else {
        res = tx_exec(tx, "SELECT b.lot_id FROM bids b JOIN lots l ON l.id = b.lot_id"
                          " WHERE l.kind = 'english' ORDER BY b.created_at DESC LIMIT 1", 0, NULL);
        if (!res)
            return TX_ERROR;
        if (PQntuples(res) == 1)
            snprintf(lot, sizeof(lot), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    chart = json_object_new_object();
    json_object_object_add(chart, "lot", lot[0] ? json_object_new_string(lot) : NULL);
    {
        struct json_object *points = json_object_new_array();
        if (lot[0]) {
            const char *p[1] = { lot };
            res = tx_exec(tx, "SELECT seq, amount FROM bids WHERE lot_id = $1 ORDER BY seq LIMIT 1000",
                          1, p);
            if (!res) {
                json_object_put(points);
                json_object_put(chart);
                return TX_ERROR;
            }
            for (int i = 0; i < PQntuples(res); i++) {
                struct json_object *pt = json_object_new_array();
                json_object_array_add(pt, json_object_new_int64(strtoll(PQgetvalue(res, i, 0), NULL, 10)));
                json_object_array_add(pt, json_object_new_int64(strtoll(PQgetvalue(res, i, 1), NULL, 10)));
                json_object_array_add(points, pt);
            }
            PQclear(res);
        }
        json_object_object_add(chart, "points", points);
    }
    json_object_object_add(a->out, "lot_bids", chart);
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
