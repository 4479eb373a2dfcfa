/*
 * ledger.c — the ledger's rules (account kinds, available funds, bigint
 * bounds), locking accounts in id order and double-entry moves. Every
 * statement is a named one (sql/queries/ledger.sql).
 */
#include "domain/ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
    [LEDGER_KIND_UNKNOWN] = "unknown",
    [LEDGER_KIND_USER] = "user",
    [LEDGER_KIND_ISSUER] = "issuer",
    [LEDGER_KIND_ESCROW] = "escrow",
};

enum ledger_kind ledger_kind_parse(const char *text)
{
    if (!text)
        return LEDGER_KIND_UNKNOWN;
    for (int k = LEDGER_KIND_USER; k <= LEDGER_KIND_ESCROW; k++)
        if (strcmp(text, kind_names[k]) == 0)
            return (enum ledger_kind)k;
    return LEDGER_KIND_UNKNOWN;
}

const char *ledger_kind_name(enum ledger_kind k)
{
    if ((unsigned)k > LEDGER_KIND_ESCROW)
        k = LEDGER_KIND_UNKNOWN;
    return kind_names[k];
}

int64_t ledger_available(const struct ledger_account *a)
{
    int64_t out;

    if (__builtin_sub_overflow(a->balance, a->held, &out))
        return a->held > 0 ? INT64_MIN : INT64_MAX;
    return out;
}

int64_t ledger_headroom(const struct ledger_account *a)
{
    __int128 h;

    if (a->kind == LEDGER_KIND_ISSUER)
        return INT64_MAX;
    /* exact in 128 bits, then saturated: no intermediate result is clamped */
    h = (__int128)a->balance - a->held + a->credit_limit;
    return h > INT64_MAX ? INT64_MAX : h < INT64_MIN ? INT64_MIN : (int64_t)h;
}

int ledger_funds_cover(const struct ledger_account *from, int64_t amount)
{
    return amount <= 0 || ledger_headroom(from) >= amount;
}

int64_t ledger_credit_used(const struct ledger_account *a)
{
    int64_t avail = ledger_available(a);

    if (avail >= 0)
        return 0;
    return avail == INT64_MIN ? INT64_MAX : -avail;
}

enum ledger_limit_refusal ledger_limit_check(const struct ledger_account *a, int64_t limit)
{
    if (limit < 0)
        return LEDGER_LIMIT_NEGATIVE;
    if (a->kind != LEDGER_KIND_USER)
        return LEDGER_LIMIT_NOT_USER;
    if (ledger_credit_used(a) > limit)
        return LEDGER_LIMIT_IN_USE;
    return LEDGER_LIMIT_OK;
}

const char *ledger_transfer_kind(const struct ledger_account *from)
{
    return from->kind == LEDGER_KIND_ISSUER ? "issue" : "transfer";
}

/* Fill *a from row of res, whose columns from c are ledger_lock_account's. */
static void parse_account_at(struct ledger_account *a, PGresult *res, int row, int c)
{
    a->found = 1;
    a->kind = ledger_kind_parse(PQgetvalue(res, row, c));
    a->issuer = a->kind == LEDGER_KIND_ISSUER;
    a->escrow = a->kind == LEDGER_KIND_ESCROW;
    a->balance = strtoll(PQgetvalue(res, row, c + 1), NULL, 10);
    a->held = strtoll(PQgetvalue(res, row, c + 2), NULL, 10);
    a->credit_limit = PQnfields(res) > c + 3 ? strtoll(PQgetvalue(res, row, c + 3), NULL, 10) : 0;
}

void ledger_lock_parse(struct ledger_account *a, PGresult *res)
{
    a->found = PQntuples(res) == 1;
    if (a->found)
        parse_account_at(a, res, 0, 0);
}

int ledger_lock_parse_rows(struct ledger_account *a, int n, PGresult *res)
{
    int filled = 0;

    for (int i = 0; i < n; i++) {
        a[i].found = 0;
        for (int row = 0; res && row < PQntuples(res) && !a[i].found; row++)
            if (strcmp(PQgetvalue(res, row, 0), a[i].id) == 0)
                parse_account_at(&a[i], res, row, 1);
        filled += a[i].found;
    }
    return filled;
}

static const struct ledger_account *sort_base;

static int by_id(const void *a, const void *b)
{
    return strcmp(sort_base[*(const int *)a].id, sort_base[*(const int *)b].id);
}

int ledger_lock(struct tx *tx, struct ledger_account *a, int n)
{
    int *order, m = 0, rc = -1;
    struct tx_stmt *st;
    const char **ids;

    if (n <= 0)
        return 0;
    order = malloc(sizeof(*order) * (size_t)n);
    st = calloc((size_t)n, sizeof(*st));
    ids = calloc((size_t)n, sizeof(*ids));
    if (!order || !st || !ids) {
        tx->err = DB_FAILED;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        order[i] = i;
        a[i].found = 0;
    }
    sort_base = a;
    qsort(order, (size_t)n, sizeof(*order), by_id);
    /* One pipeline, one round trip: the server still takes the row locks one
     * after another in the order sent, ascending id. */
    for (int k = 0; k < n; k++) {
        if (k > 0 && strcmp(a[order[k - 1]].id, a[order[k]].id) == 0)
            continue;
        ids[m] = a[order[k]].id;
        st[m] = tx_stmt_named(SQL_LEDGER_LOCK_ACCOUNT, &ids[m]);
        m++;
    }
    if (tx_exec_many(tx, st, m, 0) < 0)
        goto out;
    for (int k = 0, j = -1; k < n; k++) {
        if (k == 0 || strcmp(a[order[k - 1]].id, a[order[k]].id) != 0)
            j++;
        ledger_lock_parse(&a[order[k]], st[j].res);
    }
    for (int j = 0; j < m; j++)
        PQclear(st[j].res);
    rc = 0;
out:
    free(ids);
    free(st);
    free(order);
    return rc;
}

int ledger_move_prepare(struct ledger_move_stmts *m, const struct zs_config *cfg, const char *from,
                        const char *to, int64_t amount, int64_t release_hold, const char *kind,
                        const char *caller, const char *memo, const char *idem_key)
{
    if (util_uuid_v4(m->id) < 0)
        return -1;
    snprintf(m->amt, sizeof(m->amt), "%" PRId64, amount);
    snprintf(m->rel, sizeof(m->rel), "%" PRId64, release_hold);
    m->p_balances[0] = from;
    m->p_balances[1] = to;
    m->p_balances[2] = m->amt;
    m->p_balances[3] = m->rel;
    m->p_transfer[0] = m->id;
    m->p_transfer[1] = from;
    m->p_transfer[2] = to;
    m->p_transfer[3] = m->amt;
    m->p_transfer[4] = kind;
    m->p_transfer[5] = caller;
    m->p_transfer[6] = memo;
    m->p_transfer[7] = idem_key;
    m->st[0] = tx_stmt_named(SQL_LEDGER_MOVE_BALANCES, m->p_balances);
    /* postgres: one statement appends the transfer and its entries; dsql
     * (no data-modifying CTEs assumed): the transfer, then its entries,
     * which take $1..$4 of the same values (id, from, to, amount). */
    m->st[1] = tx_stmt_named(SQL_LEDGER_MOVE_RECORD, m->p_transfer);
    m->n = 2;
    if (cfg->dialect == ZS_DIALECT_DSQL)
        m->st[m->n++] = tx_stmt_named(SQL_LEDGER_MOVE_ENTRIES, m->p_transfer);
    return 0;
}

int ledger_move(struct tx *tx, const char *from, const char *to, int64_t amount,
                int64_t release_hold, const char *kind, const char *caller, const char *memo,
                const char *idem_key, char id_out[UUID_STR_LEN + 1], char *created_out)
{
    struct ledger_move_stmts m;

    if (ledger_move_prepare(&m, tx->cfg, from, to, amount, release_hold, kind, caller, memo,
                            idem_key)
        < 0)
        return -1;
    if (tx_exec_many(tx, m.st, m.n, 0) < 0) /* one round trip for the whole move */
        return -1;
    if (created_out)
        snprintf(created_out, 40, "%s", PQgetvalue(m.st[1].res, 0, 0));
    for (int i = 0; i < m.n; i++)
        PQclear(m.st[i].res);
    if (id_out)
        memcpy(id_out, m.id, sizeof(m.id));
    return 0;
}

int ledger_adjust_held(struct tx *tx, const char *account, int64_t delta)
{
    char d[24];
    const char *p[2] = { account, d };

    snprintf(d, sizeof(d), "%" PRId64, delta);
    return tx_exec_named_void(tx, SQL_LEDGER_ADJUST_HELD, p);
}

int ledger_move_fits(const struct ledger_account *from, const struct ledger_account *to,
                     int64_t amount)
{
    int64_t out;

    return amount > 0 && !__builtin_sub_overflow(from->balance, amount, &out)
        && !__builtin_add_overflow(to->balance, amount, &out);
}
