/*
 * book_expiry.c — gtd orders past their deadline: the jobs child's sweep
 * (see book.h). Each order expires in a transaction of its own, locking as
 * every order does: the market row, the order, then its owner's account.
 */
#include <stdio.h>
#include <string.h>

#include "domain/book.h"
#include "domain/ledger.h"

/* Expire one order if it is still open and due (a fill, a cancel or an
 * amend may have closed it, or moved its deadline, since it was listed). */
static enum tx_decision expire_one_tx(struct tx *tx, void *arg)
{
    struct tx_sweep_row *e = arg;
    const char *p[1] = { e->id };
    char market[UUID_STR_LEN + 1];
    struct ledger_account acc[1];
    struct match_order k;
    struct market mk;
    PGresult *res;
    int n = 0, go;

    e->acted = 0;
    res = tx_exec_named(tx, SQL_ORDER_MARKET_OF, p);
    if (!res)
        return TX_ERROR;
    go = PQntuples(res) == 1;
    if (go)
        snprintf(market, sizeof(market), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!go)
        return TX_ROLLBACK;
    if (market_lock(tx, market, &mk) <= 0)
        return TX_ERROR;
    res = tx_exec_named(tx, SQL_ORDER_LOCK, p);
    if (!res)
        return TX_ERROR;
    go = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 9), "due") == 0;
    if (go && (book_load_makers(res, &k, &n, 1, 0) < 0 || n != 1)) {
        PQclear(res);
        tx->err = DB_FAILED;
        return TX_ERROR;
    }
    PQclear(res);
    if (!go)
        return TX_ROLLBACK;
    memset(acc, 0, sizeof(acc));
    memcpy(acc[0].id, k.account, sizeof(acc[0].id));
    if (ledger_lock(tx, acc, 1) < 0 || book_expire_resting(tx, market, &k) < 0)
        return TX_ERROR;
    e->acted = 1;
    return TX_COMMIT;
}

int book_expire_due(struct db_session *s, int limit)
{
    return tx_sweep(s, SQL_ORDER_DUE, limit, expire_one_tx, NULL, "expired order");
}
