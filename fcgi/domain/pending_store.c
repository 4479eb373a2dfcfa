/*
 * pending_store.c — the expiry of pending transfers: inside a caller's
 * transaction (a post or void that finds the deadline passed) and the jobs
 * child's sweep. Statements: sql/queries/pending.sql and ledger.sql.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/ledger.h"
#include "domain/pending.h"
#include "log.h"
#include "util.h"

int pending_expire_locked(struct tx *tx, const char *id, const char *from, int64_t amount,
                          const char *by)
{
    char rel[24];
    const char *p_held[2] = { from, rel };
    const char *p_res[6] = { id, "expired", NULL, NULL, NULL, by };
    struct tx_stmt st[2];

    snprintf(rel, sizeof(rel), "%" PRId64, -amount);
    st[0] = tx_stmt_named(SQL_LEDGER_ADJUST_HELD, p_held);
    st[1] = tx_stmt_named(SQL_PENDING_RESOLVE, p_res);
    /* One round trip: the release and the status change. */
    if (tx_exec_many(tx, st, 2, 0) < 0)
        return -1;
    PQclear(st[0].res);
    PQclear(st[1].res);
    return 0;
}

/* Lock the row; expire it if it is still pending and due (a post or void
 * may have closed it since it was listed). */
static enum tx_decision expire_one_tx(struct tx *tx, void *arg)
{
    struct tx_sweep_row *e = arg;
    const char *p[1] = { e->id };
    PGresult *res;
    int go;
    char from[UUID_STR_LEN + 1];
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
        amount = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    }
    PQclear(res);
    if (!go)
        return TX_ROLLBACK;
    if (pending_expire_locked(tx, e->id, from, amount, "system:jobs") < 0)
        return TX_ERROR;
    e->acted = 1;
    return TX_COMMIT;
}

int pending_expire_due(struct db_session *s, int limit)
{
    return tx_sweep(s, SQL_PENDING_DUE, limit, expire_one_tx, NULL, "expired pending transfer");
}
