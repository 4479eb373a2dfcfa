/*
 * linked.c — the rules of linked batches (see linked.h).
 */
#include "domain/linked.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct ledger_account *)a)->id, ((const struct ledger_account *)b)->id);
}

/* The index of id in the sorted acc[0..n), or -1. */
static int find(const struct ledger_account *acc, int n, const char *id)
{
    struct ledger_account key;
    const struct ledger_account *hit;

    snprintf(key.id, sizeof(key.id), "%s", id);
    hit = bsearch(&key, acc, (size_t)n, sizeof(*acc), by_id);
    return hit ? (int)(hit - acc) : -1;
}

int linked_accounts(struct linked_item *it, int n, struct ledger_account *acc)
{
    int m = 0, k = 0;

    if (n < 1 || n > LINKED_MAX)
        return -1;
    for (int i = 0; i < n; i++) {
        memset(&acc[m], 0, sizeof(acc[m]));
        snprintf(acc[m++].id, sizeof(acc->id), "%s", it[i].from);
        memset(&acc[m], 0, sizeof(acc[m]));
        snprintf(acc[m++].id, sizeof(acc->id), "%s", it[i].to);
    }
    qsort(acc, (size_t)m, sizeof(*acc), by_id);
    for (int j = 0; j < m; j++)
        if (j == 0 || strcmp(acc[j].id, acc[k - 1].id) != 0)
            acc[k++] = acc[j];
    for (int i = 0; i < n; i++) {
        it[i].from_ix = find(acc, k, it[i].from);
        it[i].to_ix = find(acc, k, it[i].to);
    }
    return k;
}

/* Why item (from, to as locked and changed so far) cannot be applied, or LINKED_OK. */
static enum linked_fail check(const struct linked_item *item, const struct ledger_account *from,
                              const struct ledger_account *to, int is_admin)
{
    if (!from->found)
        return LINKED_FROM_NOT_FOUND;
    if (!to->found)
        return LINKED_TO_NOT_FOUND;
    if (from->kind == LEDGER_KIND_ESCROW || to->kind == LEDGER_KIND_ESCROW)
        return LINKED_ESCROW;
    if (item->pending) {
        if (from->kind != LEDGER_KIND_USER)
            return LINKED_PENDING_FROM_ISSUER;
        return ledger_funds_cover(from, item->amount) ? LINKED_OK : LINKED_INSUFFICIENT_FUNDS;
    }
    if (from->kind == LEDGER_KIND_ISSUER && !is_admin)
        return LINKED_ADMIN_REQUIRED;
    if (!ledger_funds_cover(from, item->amount))
        return LINKED_INSUFFICIENT_FUNDS;
    if (!ledger_move_fits(from, to, item->amount))
        return LINKED_OUT_OF_RANGE;
    return LINKED_OK;
}

struct linked_outcome linked_simulate(const struct linked_item *it, int n,
                                      struct ledger_account *acc, int is_admin)
{
    struct linked_outcome out = { .fail = LINKED_OK, .index = -1 };

    for (int i = 0; i < n; i++) {
        struct ledger_account *from = &acc[it[i].from_ix], *to = &acc[it[i].to_ix];

        out.fail = check(&it[i], from, to, is_admin);
        if (out.fail != LINKED_OK) {
            out.index = i;
            out.available = from->found ? ledger_available(from) : 0;
            return out;
        }
        /* check() proved these fit: a hold is at most the available funds,
         * a move passed ledger_move_fits() */
        if (it[i].pending) {
            from->held += it[i].amount;
        } else {
            from->balance -= it[i].amount;
            to->balance += it[i].amount;
        }
    }
    return out;
}
