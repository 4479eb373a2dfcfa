/*
 * pending_store.c — the expiry of pending transfers: inside a caller's
 * transaction (a post or void that finds the deadline passed) and the jobs
 * child's sweep. Statements: sql/queries/pending.sql and ledger.sql.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/events.h"
#include "domain/ledger.h"
#include "domain/pending.h"
#include "log.h"
#include "util.h"

int pending_expire_locked(struct tx *tx, const char *id, const char *from, const char *to,
                          int64_t amount, const char *by)
{
    char rel[24];
    const char *p_held[2] = { from, rel };
    const char *p_res[6] = { id, "expired", NULL, NULL, NULL, by };
    struct tx_stmt st[3];
    struct events_buf ev = { 0 };
    struct json_object *o = json_object_new_object();
    int rc = -1;

    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "from", json_object_new_string(from));
    json_object_object_add(o, "to", json_object_new_string(to));
    json_object_object_add(o, "amount", json_object_new_int64(amount));
    json_object_object_add(o, "status", json_object_new_string("expired"));
    snprintf(rel, sizeof(rel), "%" PRId64, -amount);
    st[0] = tx_stmt_named(SQL_LEDGER_ADJUST_HELD, p_held);
    st[1] = tx_stmt_named(SQL_PENDING_RESOLVE, p_res);
    if (events_add(&ev, "transfer.expired", events_wrap("transfer", o), "accounts/%s accounts/%s",
                   from, to)
        < 0) {
        tx->err = DB_FAILED;
        return -1;
    }
    events_stmts(&ev, &st[2]);
    /* One round trip: the release, the status change and the event. */
    if (tx_exec_many(tx, st, 3, 0) == 0) {
        for (int i = 0; i < 3; i++)
            PQclear(st[i].res);
        rc = 0;
    }
    events_reset(&ev);
    return rc;
}

/* Lock the row; expire it if it is still pending and due (a post or void
 * may have closed it since it was listed). */
static enum tx_decision expire_one_tx(struct tx *tx, void *arg)
{
    struct tx_sweep_row *e = arg;
    const char *p[1] = { e->id };
    PGresult *res;
    int go;
    char from[UUID_STR_LEN + 1], to[UUID_STR_LEN + 1];
    int64_t amount;

    e->acted = 0;
    res = tx_exec_named(tx, SQL_PENDING_LOCK, p);
    if (!res)
        return TX_ERROR;
    go = PQntuples(res) == 1
        && pending_status_parse(PQgetvalue(res, 0, 3)) == PENDING_STATUS_PENDING
        && strcmp(PQgetvalue(res, 0, 4), "t") == 0;
    if (go) {
        snprintf(from, sizeof(from), "%s", PQgetvalue(res, 0, 0));
        snprintf(to, sizeof(to), "%s", PQgetvalue(res, 0, 1));
        amount = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    }
    PQclear(res);
    if (!go)
        return TX_ROLLBACK;
    if (pending_expire_locked(tx, e->id, from, to, amount, "system:jobs") < 0)
        return TX_ERROR;
    e->acted = 1;
    return TX_COMMIT;
}

int pending_expire_due(struct db_session *s, int limit)
{
    return tx_sweep(s, SQL_PENDING_DUE, limit, expire_one_tx, NULL, "expired pending transfer");
}
