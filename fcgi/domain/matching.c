/*
 * matching.c — the pure matching engine (see matching.h).
 */
#include "domain/matching.h"

#include <stdlib.h>
#include <string.h>

static const char *const side_names[] = { "buy", "sell" };
static const char *const tif_names[] = { "gtc", "ioc", "fok", "gtd" };
static const char *const stp_names[] = { "cancel_maker", "cancel_taker", "cancel_both" };
static const char *const status_names[] = { "open", "filled", "cancelled" };

int order_side_parse(const char *s, enum order_side *out)
{
    int i = market_enum_lookup(side_names, 2, s);

    if (i < 0)
        return -1;
    *out = (enum order_side)i;
    return 0;
}

int order_tif_parse(const char *s, enum order_tif *out)
{
    int i = market_enum_lookup(tif_names, 4, s);

    if (i < 0)
        return -1;
    *out = (enum order_tif)i;
    return 0;
}

int order_status_parse(const char *s, enum order_status *out)
{
    int i = market_enum_lookup(status_names, 3, s);

    if (i < 0)
        return -1;
    *out = (enum order_status)i;
    return 0;
}

int order_stp_parse(const char *s, enum order_stp *out)
{
    int i = market_enum_lookup(stp_names, 3, s);

    if (i < 0)
        return -1;
    *out = (enum order_stp)i;
    return 0;
}

const char *order_side_name(enum order_side s)
{
    return side_names[s == SIDE_SELL];
}

const char *order_tif_name(enum order_tif t)
{
    return tif_names[t == TIF_IOC ? 1 : t == TIF_FOK ? 2 : t == TIF_GTD ? 3 : 0];
}

const char *order_stp_name(enum order_stp s)
{
    return stp_names[s == STP_CANCEL_TAKER ? 1 : s == STP_CANCEL_BOTH ? 2 : 0];
}

int order_tif_rests(enum order_tif t)
{
    return t == TIF_GTC || t == TIF_GTD;
}

const char *order_status_name(enum order_status s)
{
    return status_names[s == ORDER_FILLED ? 1 : s == ORDER_CANCELLED ? 2 : 0];
}

void match_order_kind(struct match_order *k, int mint)
{
    k->mint = mint;
    k->cost = mint ? 100 - k->price : k->price;
}

/* Best first for a buying taker: the lowest cost, then time. */
static int buy_first(const void *a, const void *b)
{
    const struct match_order *x = a, *y = b;

    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Best first for a selling taker: the highest price, then time. */
static int sell_first(const void *a, const void *b)
{
    const struct match_order *x = a, *y = b;

    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void match_run(const struct match_taker *t, struct match_order *m, int n, struct match_result *r)
{
    int buy = t->side == SIDE_BUY;
    int64_t cost;

    memset(r, 0, sizeof(*r));
    qsort(m, (size_t)n, sizeof(*m), buy ? buy_first : sell_first);
    r->n = n > MATCH_MAX_MAKERS ? MATCH_MAX_MAKERS : n;
    r->last_price = -1;
    /* Price and quantity are capped at 1e9 each, but a sum past bigint must
     * be a refusal, never a wrapped amount. The fills' own products (maker
     * price x fill) are bounded by need, or for a taker sell by the maker's
     * hold. */
    for (int i = 0; i < n; i++)
        m[i].fill = m[i].stp = 0;
    r->left = t->quantity;
    for (int i = 0; i < r->n && r->left > 0; i++) {
        struct match_order *k = &m[i];

        if (strcmp(k->account, t->account) == 0) {
            if (t->stp == STP_CANCEL_TAKER) {
                r->taker_stopped = 1;
                break;
            }
            k->stp = 1; /* its cash comes back before we pay */
            if (k->side == SIDE_BUY && __builtin_add_overflow(r->released, k->hold, &r->released))
                r->overflow = 1;
            if (t->stp == STP_CANCEL_BOTH) {
                r->taker_stopped = 1;
                break;
            }
            continue;
        }
        k->fill = k->remaining < r->left ? k->remaining : r->left;
        r->left -= k->fill;
        r->last_price = match_fill_price(t, k);
        if (buy
            && (__builtin_mul_overflow(k->fill, k->cost, &cost)
                || __builtin_add_overflow(r->need, cost, &r->need)))
            r->overflow = 1;
    }
    r->rest = order_tif_rests(t->tif) && !r->taker_stopped ? r->left : 0;
    r->killed = t->tif == TIF_FOK && r->left > 0;
    if (buy
        && (__builtin_mul_overflow(r->rest, t->price, &r->hold)
            || __builtin_add_overflow(r->need, r->hold, &r->need)))
        r->overflow = 1;
    r->status = r->left == 0 ? ORDER_FILLED : r->rest > 0 ? ORDER_OPEN : ORDER_CANCELLED;
}

int64_t match_fill_price(const struct match_taker *t, const struct match_order *k)
{
    return t->side == SIDE_BUY ? k->cost : k->price;
}
