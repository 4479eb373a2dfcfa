/*
 * ledger.c — locking accounts in id order and double-entry moves.
 */
#include "ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct ledger_account *sort_base;

static int by_id(const void *a, const void *b)
{
    return strcmp(sort_base[*(const int *)a].id, sort_base[*(const int *)b].id);
}

int ledger_lock(struct tx *tx, struct ledger_account *a, int n)
{
    int *order;

    if (n <= 0)
        return 0;
    order = malloc(sizeof(*order) * (size_t)n);
    if (!order) {
        tx->err = DB_FAILED;
        return -1;
    }
    for (int i = 0; i < n; i++) {
        order[i] = i;
        a[i].found = 0;
    }
    sort_base = a;
    qsort(order, (size_t)n, sizeof(*order), by_id);
    for (int k = 0; k < n; k++) {
        struct ledger_account *acc = &a[order[k]];
        const char *p[1] = { acc->id };
        PGresult *res;

        if (k > 0 && strcmp(a[order[k - 1]].id, acc->id) == 0) {
            *acc = a[order[k - 1]];
            continue;
        }
        res = tx_exec(tx, "SELECT kind, balance, held FROM accounts WHERE id = $1 FOR UPDATE",
                      1, p);
        if (!res) {
            free(order);
            return -1;
        }
        if (PQntuples(res) == 1) {
            acc->found = 1;
            acc->issuer = strcmp(PQgetvalue(res, 0, 0), "issuer") == 0;
            acc->escrow = strcmp(PQgetvalue(res, 0, 0), "escrow") == 0;
            acc->balance = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
            acc->held = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        }
        PQclear(res);
    }
    free(order);
    return 0;
}

int ledger_move(struct tx *tx, const char *from, const char *to, int64_t amount,
                int64_t release_hold, const char *kind, const char *caller, const char *memo,
                const char *idem_key, char id_out[UUID_STR_LEN + 1], char *created_out)
{
    char amt[24], rel[24], tid[UUID_STR_LEN + 1];
    PGresult *res;

    snprintf(amt, sizeof(amt), "%" PRId64, amount);
    snprintf(rel, sizeof(rel), "%" PRId64, release_hold);
    {
        const char *p[4] = { from, to, amt, rel };
        res = tx_exec(tx,
                      "UPDATE accounts SET"
                      " balance = balance + CASE WHEN id = $1::uuid THEN -$3::bigint ELSE $3::bigint END,"
                      " held = held - CASE WHEN id = $1::uuid THEN $4::bigint ELSE 0 END"
                      " WHERE id IN ($1::uuid, $2::uuid)",
                      4, p);
        if (!res)
            return -1;
        PQclear(res);
    }
    if (util_uuid_v4(tid) < 0)
        return -1;
    if (tx->r->cfg->dialect == ZS_DIALECT_DSQL) {
        /* Aurora DSQL: no data-modifying CTEs assumed; two statements. */
        const char *p[8] = { tid, from, to, amt, kind, caller, memo, idem_key };
        const char *q[4] = { tid, from, to, amt };
        res = tx_exec(tx,
                      "INSERT INTO transfers (id, from_account, to_account, amount, kind, caller, memo, idem_key)"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING " LEDGER_TS("created_at"),
                      8, p);
        if (!res)
            return -1;
        if (created_out)
            snprintf(created_out, 40, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        res = tx_exec(tx,
                      "INSERT INTO entries (transfer_id, account_id, amount, created_at)"
                      " SELECT $1::uuid, x.account_id, x.amount, now() FROM"
                      " (VALUES ($2::uuid, -$4::bigint), ($3::uuid, $4::bigint)) AS x(account_id, amount)",
                      4, q);
        if (!res)
            return -1;
        PQclear(res);
    } else {
        const char *p[8] = { tid, from, to, amt, kind, caller, memo, idem_key };
        res = tx_exec(tx,
                      "WITH t AS ("
                      "  INSERT INTO transfers (id, from_account, to_account, amount, kind, caller, memo, idem_key)"
                      "  VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, created_at),"
                      " e AS ("
                      "  INSERT INTO entries (transfer_id, account_id, amount, created_at)"
                      "  SELECT t.id, x.account_id, x.amount, t.created_at FROM t,"
                      "   (VALUES ($2::uuid, -$4::bigint), ($3::uuid, $4::bigint)) AS x(account_id, amount))"
                      " SELECT " LEDGER_TS("created_at") " FROM t",
                      8, p);
        if (!res)
            return -1;
        if (created_out)
            snprintf(created_out, 40, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    if (id_out)
        memcpy(id_out, tid, sizeof(tid));
    return 0;
}

int ledger_adjust_held(struct tx *tx, const char *account, int64_t delta)
{
    char d[24];
    const char *p[2] = { account, d };
    PGresult *res;

    snprintf(d, sizeof(d), "%" PRId64, delta);
    res = tx_exec(tx, "UPDATE accounts SET held = held + $2::bigint WHERE id = $1", 2, p);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}
