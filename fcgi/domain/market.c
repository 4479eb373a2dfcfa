/*
 * market.c — market kinds, states and outcomes, the market row, and the
 * pure rules of cost basis and payout (see market.h).
 */
#include "domain/market.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = { "shares", "event" };
static const char *const status_names[] = { "open", "resolving", "resolved", "cancelled" };
static const char *const outcome_names[] = { "shares", "yes", "no" };
static const char *const resolution_names[] = { "", "yes", "no", "cancel" };

int market_enum_lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

int market_kind_parse(const char *s, enum market_kind *out)
{
    int i = market_enum_lookup(kind_names, 2, s);

    if (i < 0)
        return -1;
    *out = (enum market_kind)i;
    return 0;
}

int market_status_parse(const char *s, enum market_status *out)
{
    int i = market_enum_lookup(status_names, 4, s);

    if (i < 0)
        return -1;
    *out = (enum market_status)i;
    return 0;
}

int market_outcome_parse(const char *s, enum market_outcome *out)
{
    int i = market_enum_lookup(outcome_names, 3, s);

    if (i < 0)
        return -1;
    *out = (enum market_outcome)i;
    return 0;
}

int market_resolution_parse(const char *s, enum market_resolution *out)
{
    int i = market_enum_lookup(resolution_names, 4, s);

    if (i < 0)
        return -1;
    *out = (enum market_resolution)i;
    return 0;
}

const char *market_kind_name(enum market_kind k)
{
    return kind_names[k == MARKET_EVENT];
}

const char *market_status_name(enum market_status s)
{
    return (unsigned)s < 4 ? status_names[s] : "?";
}

const char *market_outcome_name(enum market_outcome o)
{
    return (unsigned)o < 3 ? outcome_names[o] : "?";
}

const char *market_resolution_name(enum market_resolution r)
{
    return (unsigned)r < 4 ? resolution_names[r] : "?";
}

enum market_outcome market_outcome_complement(enum market_outcome o)
{
    return o == OUTCOME_YES ? OUTCOME_NO : o == OUTCOME_NO ? OUTCOME_YES : o;
}

enum market_status market_resolution_status(enum market_resolution r)
{
    return r == RESOLUTION_CANCEL ? MARKET_CANCELLED : MARKET_RESOLVED;
}

int market_row_parse(struct market *m, PGresult *res, int row)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s", PQgetvalue(res, row, 0));
    snprintf(m->owner, sizeof(m->owner), "%s", PQgetvalue(res, row, 3));
    snprintf(m->escrow, sizeof(m->escrow), "%s", PQgetvalue(res, row, 4));
    m->tick_min = atoi(PQgetvalue(res, row, 6));
    m->tick_max = atoi(PQgetvalue(res, row, 7));
    m->seq = strtoll(PQgetvalue(res, row, 10), NULL, 10);
    if (market_kind_parse(PQgetvalue(res, row, 1), &m->kind) < 0
        || market_status_parse(PQgetvalue(res, row, 8), &m->status) < 0
        || market_resolution_parse(PQgetvalue(res, row, 9), &m->outcome) < 0)
        return -1;
    return 0;
}

int market_lock(struct tx *tx, const char *id, struct market *m)
{
    const char *p[1] = { id };
    PGresult *res = tx_exec_named(tx, SQL_MARKET_LOCK, p);
    int rc;

    if (!res)
        return -1;
    rc = PQntuples(res) == 0 ? 0 : market_row_parse(m, res, 0) < 0 ? -1 : 1;
    PQclear(res);
    if (rc < 0)
        tx->err = DB_FAILED;
    return rc;
}

int64_t market_cost_share(int64_t qty, int64_t cost, int64_t f)
{
    return qty <= f ? cost : (int64_t)((__int128)cost * f / qty);
}

int market_payout(enum market_resolution r, enum market_outcome o, int64_t qty, int64_t *pay)
{
    int64_t per = 0;

    *pay = 0;
    if (r == RESOLUTION_CANCEL && (o == OUTCOME_YES || o == OUTCOME_NO))
        per = MARKET_CANCEL_PAYOUT;
    else if ((r == RESOLUTION_YES && o == OUTCOME_YES) || (r == RESOLUTION_NO && o == OUTCOME_NO))
        per = MARKET_PAIR_VALUE;
    if (qty < 0 || __builtin_mul_overflow(qty, per, pay))
        return -1;
    return 0;
}

int market_pairs_amount(int64_t qty, int64_t *amount)
{
    *amount = 0;
    if (qty <= 0 || qty > MARKET_PAIRS_MAX
        || __builtin_mul_overflow(qty, MARKET_PAIR_VALUE, amount))
        return -1;
    return 0;
}
