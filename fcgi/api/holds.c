/*
 * holds.c — GET /proof/holds: what is reserved, per account kind, for the
 * dashboard's holds panel.
 *
 * One read-only statement (sql/queries/holds.sql): per kind of account
 * (user, issuer, escrow), the accounts, their held total, the live pending
 * transfers, active lot holds and resting buy orders behind it (count and
 * amount each), the credit limits granted, the accounts below zero and the
 * credit they use. Aggregates only — no account id, party or single amount
 * — so it is public, like GET /proof/activity's transfer_kinds; anonymous
 * answers may be shared for HOLDS_MAX_AGE seconds.
 */
#include <stdio.h>
#include <stdlib.h>

#include "api/api_tx.h"
#include "api/routes.h"
#include "api/rows.h"

#define HOLDS_MAX_AGE 2

/* The columns of holds_by_kind but the last (the snapshot's time). */
static const struct row_col kind_cols[] = {
    { "kind", ROW_TEXT },
    { "accounts", ROW_I64 },
    { "held", ROW_I64 },
    { "holding_accounts", ROW_I64 },
    { "pending_transfers", ROW_I64 },
    { "pending_amount", ROW_I64 },
    { "lot_holds", ROW_I64 },
    { "lot_held", ROW_I64 },
    { "order_holds", ROW_I64 },
    { "order_held", ROW_I64 },
    { "credit_limit", ROW_I64 },
    { "overdrawn_accounts", ROW_I64 },
    { "credit_used", ROW_I64 },
};

/* The one statement, into *arg ({"kinds": [...], "as_of"}); run again from
 * scratch on a retry. */
static enum tx_decision holds_tx(struct tx *tx, void *arg)
{
    struct json_object **out = arg;
    PGresult *res;

    if (*out)
        json_object_put(*out);
    *out = NULL;
    res = tx_exec_named(tx, SQL_HOLDS_BY_KIND, NULL);
    if (!res)
        return TX_ERROR;
    *out = json_object_new_object();
    json_object_object_add(*out, "kinds", rows_array(res, kind_cols, ROW_COLS(kind_cols), -1));
    json_object_object_add(*out, "as_of",
                           PQntuples(res) > 0
                               ? json_object_new_string(PQgetvalue(res, 0, ROW_COLS(kind_cols)))
                               : NULL);
    PQclear(res);
    return TX_COMMIT;
}

/* GET /proof/holds (anyone). */
void handle_proof_holds(struct request *r)
{
    struct json_object *out = NULL;
    enum tx_decision d;

    if (api_tx_run(r, TX_READ_ONLY, holds_tx, &out, &d) < 0) {
        json_object_put(out);
        return;
    }
    if (!r->authorization || !*r->authorization) {
        char cc[64];
        snprintf(cc, sizeof(cc), "Cache-Control: public, max-age=%d\r\n", HOLDS_MAX_AGE);
        http_respond_json(r, 200, out, cc);
    } else {
        http_respond_json(r, 200, out, NULL);
    }
}
