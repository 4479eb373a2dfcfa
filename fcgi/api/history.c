/*
 * history.c — an account's history (owner or admin):
 * GET /accounts/{id}/balance[?at=ISO8601], GET /accounts/{id}/entries and
 * GET /accounts/{id}/transfers (cursor pages, api/page.h).
 *
 * Every entry carries its account's seq and the balance after it
 * (sql/queries/ledger.sql), so the balance at an instant is the last entry
 * at or before it: one index lookup. held at an instant is derived from
 * the rows that record when each hold began and ended (history.sql,
 * fragment held_at).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/accounts.h"
#include "api/api_tx.h"
#include "api/page.h"
#include "api/routes.h"
#include "domain/ledger.h"
#include "iso8601.h"

/* ---- GET /accounts/{id}/balance ------------------------------------------ */

struct balance_tx {
    const char *id;
    const char *at; /* canonical ISO 8601, or NULL: now */
    int found, future;
    int64_t balance, held;
    char when[40];
};

static enum tx_decision balance_tx(struct tx *tx, void *arg)
{
    struct balance_tx *b = arg;
    const char *p[2] = { b->id, b->at };
    PGresult *res = tx_exec_named(tx, b->at ? SQL_HISTORY_BALANCE_AT : SQL_HISTORY_BALANCE_NOW, p);

    if (!res)
        return TX_ERROR;
    b->found = PQntuples(res) == 1;
    if (b->found && b->at) {
        snprintf(b->when, sizeof(b->when), "%s", PQgetvalue(res, 0, 0));
        b->future = PQgetvalue(res, 0, 1)[0] == 't';
        b->balance = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        b->held = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    } else if (b->found) {
        b->balance = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        b->held = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        snprintf(b->when, sizeof(b->when), "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return TX_COMMIT;
}

void handle_account_balance(struct request *r)
{
    char id[UUID_STR_LEN + 1], buf[64], at[ISO8601_CANON_LEN + 1];
    struct balance_tx b = { id, NULL, 0, 0, 0, 0, "" };
    struct ledger_account acc;
    struct json_object *o, *v;
    enum tx_decision d;
    int rc;

    if (accounts_readable(r, id) < 0)
        return;
    rc = http_query_param(r, "at", buf, sizeof(buf));
    if (rc != 0) {
        if (rc < 0 || !iso8601_parse(buf, at)) {
            http_problem(r, 400, "invalid_at",
                         "at must be an ISO 8601 instant with its offset, such as "
                         "2026-01-02T03:04:05.123456Z");
            return;
        }
        b.at = at;
    }
    if (api_tx_run(r, TX_READ_ONLY | TX_SNAPSHOT, balance_tx, &b, &d) < 0)
        return;
    if (!b.found) {
        http_problem(r, 404, "account_not_found", "no such account");
        return;
    }
    if (b.future) {
        http_problem(r, 400, "at_in_future", "at is after the database's now: no history yet");
        return;
    }
    acc.balance = b.balance;
    acc.held = b.held;
    v = json_object_new_object();
    json_object_object_add(v, "account", json_object_new_string(id));
    json_object_object_add(v, "at", json_object_new_string(b.when));
    json_object_object_add(v, "balance", json_object_new_int64(b.balance));
    json_object_object_add(v, "held", json_object_new_int64(b.held));
    json_object_object_add(v, "available", json_object_new_int64(ledger_available(&acc)));
    o = json_object_new_object();
    json_object_object_add(o, "balance", v);
    http_respond_json(r, 200, o, NULL);
}

/* ---- GET /accounts/{id}/entries, /accounts/{id}/transfers ------------------ */

/* The columns of history_entries_*. */
static const struct row_col entry_cols[] = {
    { "id", ROW_TEXT },           { "transfer_id", ROW_TEXT },  { "amount", ROW_I64 },
    { "balance_after", ROW_I64 }, { "seq", ROW_I64 },           { "created_at", ROW_TEXT },
    { "kind", ROW_TEXT },         { "counterparty", ROW_TEXT },
};

/* The columns of history_transfers_*: a transfer as GET /transfers/{id} shows it. */
static const struct row_col transfer_cols[] = {
    { "id", ROW_TEXT },   { "from", ROW_TEXT }, { "to", ROW_TEXT },         { "amount", ROW_I64 },
    { "kind", ROW_TEXT }, { "memo", ROW_TEXT }, { "created_at", ROW_TEXT },
};

void handle_account_entries(struct request *r)
{
    static const struct page_list l = {
        .has_parent = 1,
        .parent_sql = SQL_ACCOUNT_EXISTS,
        .parent_missing = "account_not_found",
        .parent_detail = "no such account",
        .cursor_sql = SQL_HISTORY_ENTRIES_CURSOR,
        .first_sql = SQL_HISTORY_ENTRIES_FIRST,
        .after_sql = SQL_HISTORY_ENTRIES_AFTER,
        .before_sql = SQL_HISTORY_ENTRIES_BEFORE,
        .tx_flags = TX_READ_ONLY | TX_SNAPSHOT,
        .cols = entry_cols,
        .ncols = ROW_COLS(entry_cols),
    };
    char id[UUID_STR_LEN + 1];

    if (accounts_readable(r, id) == 0)
        page_answer(r, &l, id);
}

void handle_account_transfers(struct request *r)
{
    static const struct page_list l = {
        .has_parent = 1,
        .parent_sql = SQL_ACCOUNT_EXISTS,
        .parent_missing = "account_not_found",
        .parent_detail = "no such account",
        .cursor_sql = SQL_HISTORY_TRANSFERS_CURSOR,
        .first_sql = SQL_HISTORY_TRANSFERS_FIRST,
        .after_sql = SQL_HISTORY_TRANSFERS_AFTER,
        .before_sql = SQL_HISTORY_TRANSFERS_BEFORE,
        .tx_flags = TX_READ_ONLY | TX_SNAPSHOT,
        .cols = transfer_cols,
        .ncols = ROW_COLS(transfer_cols),
    };
    char id[UUID_STR_LEN + 1];

    if (accounts_readable(r, id) == 0)
        page_answer(r, &l, id);
}

/* ---- GET /lots/{id}/bids, GET /markets/{id}/trades ------------------------- */

/* The columns of history_bids_* (those of a lot's recent_bids). */
static const struct row_col bid_cols[] = {
    { "id", ROW_TEXT }, { "bidder", ROW_TEXT }, { "amount", ROW_I64 },      { "quantity", ROW_INT },
    { "seq", ROW_I64 }, { "status", ROW_TEXT }, { "created_at", ROW_TEXT },
};

/* The columns of history_trades_* (a market's trades, with their ids). */
static const struct row_col trade_cols[] = {
    { "id", ROW_TEXT },         { "seq", ROW_I64 },   { "kind", ROW_TEXT },
    { "outcome", ROW_TEXT },    { "price", ROW_INT }, { "quantity", ROW_I64 },
    { "created_at", ROW_TEXT },
};

void handle_lot_bids(struct request *r)
{
    static const struct page_list l = {
        .has_parent = 1,
        .parent_sql = SQL_HISTORY_LOT_EXISTS,
        .parent_missing = "lot_not_found",
        .parent_detail = "no such lot",
        .cursor_sql = SQL_HISTORY_BIDS_CURSOR,
        .first_sql = SQL_HISTORY_BIDS_FIRST,
        .after_sql = SQL_HISTORY_BIDS_AFTER,
        .before_sql = SQL_HISTORY_BIDS_BEFORE,
        .tx_flags = TX_READ_ONLY | TX_SNAPSHOT,
        .cols = bid_cols,
        .ncols = ROW_COLS(bid_cols),
    };
    page_answer_path(r, &l);
}

void handle_market_trades(struct request *r)
{
    static const struct page_list l = {
        .has_parent = 1,
        .parent_sql = SQL_HISTORY_MARKET_EXISTS,
        .parent_missing = "market_not_found",
        .parent_detail = "no such market",
        .cursor_sql = SQL_HISTORY_TRADES_CURSOR,
        .first_sql = SQL_HISTORY_TRADES_FIRST,
        .after_sql = SQL_HISTORY_TRADES_AFTER,
        .before_sql = SQL_HISTORY_TRADES_BEFORE,
        .tx_flags = TX_READ_ONLY | TX_SNAPSHOT,
        .cols = trade_cols,
        .ncols = ROW_COLS(trade_cols),
    };
    page_answer_path(r, &l);
}
