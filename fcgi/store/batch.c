/*
 * batch.c — pipelines assembled statement by statement (struct tx_batch,
 * see db.h): the statements, their parameter pointers and the decimal
 * texts they need live in the batch until tx_batch_send() sends them.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store/db.h"

void tx_batch_init(struct tx_batch *b)
{
    memset(b, 0, sizeof(*b));
}

int tx_batch_add(struct tx_batch *b, const char *sql, int n, ...)
{
    va_list ap;

    if (b->n == (int)(sizeof(b->st) / sizeof(b->st[0]))
        || b->np + n > (int)(sizeof(b->params) / sizeof(b->params[0]))) {
        b->overflow = 1;
        return -1;
    }
    b->st[b->n].sql = sql;
    b->st[b->n].nparams = n;
    b->st[b->n].values = b->params + b->np;
    b->st[b->n].res = NULL;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        b->params[b->np++] = va_arg(ap, const char *);
    va_end(ap);
    return b->n++;
}

int tx_batch_add_stmt(struct tx_batch *b, const struct tx_stmt *st)
{
    if (b->n == (int)(sizeof(b->st) / sizeof(b->st[0]))) {
        b->overflow = 1;
        return -1;
    }
    b->st[b->n] = *st;
    b->st[b->n].res = NULL;
    return b->n++;
}

const char *tx_batch_i64(struct tx_batch *b, int64_t v)
{
    char *out = b->text + b->nt;
    int w;

    if (b->nt + 24 > sizeof(b->text)) {
        b->overflow = 1;
        return "";
    }
    w = snprintf(out, 24, "%" PRId64, v);
    b->nt += (size_t)w + 1;
    return out;
}

int tx_batch_send(struct tx *tx, struct tx_batch *b, int commit)
{
    if (b->overflow) {
        log_error("request %s: a statement batch overflowed", tx->s->id);
        tx->err = DB_FAILED;
        return -1;
    }
    return tx_exec_many(tx, b->st, b->n, commit);
}

void tx_batch_clear(struct tx_batch *b)
{
    for (int i = 0; i < b->n; i++) {
        PQclear(b->st[i].res);
        b->st[i].res = NULL;
    }
}

int tx_exec_ids(struct tx *tx, enum sql_id id, int limit, char ids[][UUID_STR_LEN + 1], int max)
{
    char lim[16];
    const char *p[1] = { lim };
    PGresult *res;
    int n;

    snprintf(lim, sizeof(lim), "%d", limit);
    res = tx_exec_named(tx, id, p);
    if (!res)
        return -1;
    n = PQntuples(res) < max ? PQntuples(res) : max;
    for (int i = 0; i < n; i++)
        snprintf(ids[i], UUID_STR_LEN + 1, "%s", PQgetvalue(res, i, 0));
    PQclear(res);
    return n;
}
