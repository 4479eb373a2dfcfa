/*
 * vreplay.c — adding records to a replay: the tree's compact range and the
 * fold of each record into the rebuilt state (see vreplay.h). The checks run
 * at the end live in vreplay_rules.c.
 */
#include "verify/vreplay_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merkle.h"

static const char *const xfer_kinds[XK_KINDS] = { "transfer", "issue", "capture", "purchase",
                                                  "trade",    "mint",  "payout",  "refund",
                                                  "split",    "merge" };

int vreplay_xfer_kind(const char *word)
{
    for (int i = 0; i < XK_KINDS; i++)
        if (strcmp(word, xfer_kinds[i]) == 0)
            return i;
    return -1;
}

void vreplay_break(struct vreplay *r, enum rule_id rule, uint64_t index, const char *fmt, ...)
{
    struct rule *ru = &r->rules[rule];
    if (ru->bad++ == 0) {
        ru->first_index = index;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ru->first, sizeof ru->first, fmt, ap);
        va_end(ap);
    }
}

struct vreplay *vreplay_new(void)
{
    struct vreplay *r = calloc(1, sizeof *r);
    char hex[65];
    if (!r || vrec_ref("account", "00000000-0000-0000-0000-000000000001", hex) < 0) {
        free(r);
        return NULL;
    }
    vmap_key(hex, r->issuer);
    return r;
}

int vreplay_want_root(struct vreplay *r, uint64_t size)
{
    if (size == 0 || r->nwant == MAX_WANT || size <= r->size)
        return -1;
    r->want[r->nwant++] = size;
    return 0;
}

uint64_t vreplay_size(const struct vreplay *r)
{
    return r->size;
}

int vreplay_root(const struct vreplay *r, unsigned char out[32])
{
    if (r->depth == 0)
        return -1;
    unsigned char acc[32];
    memcpy(acc, r->stack[r->depth - 1], 32);
    for (int i = r->depth - 2; i >= 0; i--)
        merkle_node_hash(r->stack[i], acc, acc);
    memcpy(out, acc, 32);
    return 0;
}

int vreplay_root_at(const struct vreplay *r, uint64_t size, unsigned char out[32])
{
    for (int i = 0; i < r->nwant; i++)
        if (r->want[i] == size && size <= r->size) {
            memcpy(out, r->want_root[i], 32);
            return 0;
        }
    return -1;
}

/* Append a leaf hash to the compact range, merging equal-sized subtrees. */
static void push_leaf(struct vreplay *r, const unsigned char leaf[32])
{
    memcpy(r->stack[r->depth], leaf, 32);
    r->levels[r->depth++] = 0;
    while (r->depth >= 2 && r->levels[r->depth - 1] == r->levels[r->depth - 2]) {
        merkle_node_hash(r->stack[r->depth - 2], r->stack[r->depth - 1], r->stack[r->depth - 2]);
        r->levels[r->depth - 2]++;
        r->depth--;
    }
    r->size++;
    for (int i = 0; i < r->nwant; i++)
        if (r->want[i] == r->size)
            vreplay_root(r, r->want_root[i]);
}

/* Grow *arr (elements of elem bytes, capacity *cap) to hold n, zeroing the new part. */
static int ensure(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < n)
        nc *= 2;
    unsigned char *p = realloc(*arr, nc * elem);
    if (!p)
        return -1;
    memset(p + *cap * elem, 0, (nc - *cap) * elem);
    *arr = p;
    *cap = nc;
    return 0;
}

/* Index of the account, lot or market with ref hex in map m (created when new), or -1. */
static long slot(struct vreplay *r, struct vmap *m, void **arr, size_t *cap, size_t elem,
                 const char *hex)
{
    unsigned char key[32];
    if (vmap_key(hex, key) < 0)
        return -1;
    long i = vmap_get(m, key, NULL);
    if (i < 0 || ensure(arr, cap, m->n, elem) < 0) {
        r->oom = 1;
        return -1;
    }
    return i;
}

#define ACCT(r, hex)                                                                               \
    slot(r, &(r)->acct_map, (void **)&(r)->accts, &(r)->accts_cap, sizeof *(r)->accts, hex)
#define LOT(r, hex)                                                                                \
    slot(r, &(r)->lot_map, (void **)&(r)->lots, &(r)->lots_cap, sizeof *(r)->lots, hex)
#define MARKET(r, hex)                                                                             \
    slot(r, &(r)->market_map, (void **)&(r)->markets, &(r)->markets_cap, sizeof *(r)->markets, hex)

long vreplay_xfer(const struct vreplay *r, const char *hex)
{
    unsigned char key[32];
    return vmap_key(hex, key) < 0 ? -1 : vmap_find(&r->xfer_map, key);
}

/* a += b, or count an overflow at index: 0, or -1. */
static int add_i64(struct vreplay *r, int64_t *a, int64_t b, uint64_t index)
{
    if (__builtin_add_overflow(*a, b, a)) {
        vreplay_break(r, RULE_OVERFLOW, index, "a sum overflows int64");
        return -1;
    }
    return 0;
}

/*
 * The escrow rules of one transfer of kind k: a split or merge moves 100 per
 * pair, a payout 100 per winning contract, a cancel's payout (refund) 50 per
 * contract; none of them pays or is paid by the issuer. The kinds each
 * account takes part in are kept for the end (vreplay_rules.c).
 */
static void escrow_rules(struct vreplay *r, uint64_t index, const struct vrec *t, long from,
                         long to, int k)
{
    int64_t amount = t->num[TR_AMOUNT];
    long issuer = vmap_find(&r->acct_map, r->issuer);
    int bad = 0;

    if (k < 0 || k >= XK_KINDS)
        return;
    r->accts[from].kinds_out |= (uint16_t)(1u << k);
    r->accts[to].kinds_in |= (uint16_t)(1u << k);
    if (k == XK_SPLIT || k == XK_MERGE || k == XK_PAYOUT)
        bad = amount % 100 != 0;
    else if (k == XK_REFUND)
        bad = amount % 50 != 0;
    if (((1u << k) & (XK_ESCROW_IN | XK_ESCROW_OUT)) && (from == issuer || to == issuer))
        bad = 1;
    if (bad)
        vreplay_break(r, RULE_ESCROW, index,
                      "%s %.16s… of %lld: not 100 per pair or winning contract (50 per contract "
                      "on a cancel), or the issuer's",
                      xfer_kinds[k], t->text[TR_REF], (long long)amount);
}

/* A transfer: its entries balance and match from/to/amount; they fold into balances. */
static void add_transfer(struct vreplay *r, uint64_t index, const struct vrec *t)
{
    long from = ACCT(r, t->text[TR_FROM]), to = ACCT(r, t->text[TR_TO]);
    long x =
        slot(r, &r->xfer_map, (void **)&r->xfers, &r->xfers_cap, sizeof *r->xfers, t->text[TR_REF]);
    if (from < 0 || to < 0 || x < 0)
        return;
    struct xfer *xf = &r->xfers[x];
    xf->from = (uint32_t)from;
    xf->to = (uint32_t)to;
    xf->amount = t->num[TR_AMOUNT];
    xf->kind = (uint8_t)vreplay_xfer_kind(t->text[TR_KIND]);
    escrow_rules(r, index, t, from, to, vreplay_xfer_kind(t->text[TR_KIND]));
    int64_t sum = 0, out = 0, in = 0, bad_overflow = 0;
    int strangers = 0;
    for (int i = 0; i < t->n_entries; i++) {
        const struct vrec_entry *e = &t->entries[i];
        long a = ACCT(r, e->account);
        if (a < 0)
            return;
        bad_overflow |= __builtin_add_overflow(sum, e->amount, &sum);
        if (a == from)
            bad_overflow |= __builtin_add_overflow(out, e->amount, &out);
        else if (a == to)
            bad_overflow |= __builtin_add_overflow(in, e->amount, &in);
        else
            strangers++;
        add_i64(r, &r->accts[a].balance, e->amount, index);
        r->accts[a].entries++;
    }
    if (t->num[TR_AMOUNT] <= 0 || from == to || t->n_entries < 2 || bad_overflow || sum != 0
        || out != -t->num[TR_AMOUNT] || in != t->num[TR_AMOUNT] || strangers)
        vreplay_break(r, RULE_BALANCED, index,
                      "transfer %.16s…: %d entries sum to %lld, payer %lld, payee %lld, "
                      "amount %lld, %d other accounts",
                      t->text[TR_REF], t->n_entries, (long long)sum, (long long)out, (long long)in,
                      (long long)t->num[TR_AMOUNT], strangers);
}

/* Keep a check that needs the lot's seller for the end (0, or -1 out of memory). */
static int defer(struct vreplay *r, struct deferred **list, size_t *n, size_t *cap, long lot,
                 long xfer, uint64_t index)
{
    if (ensure((void **)list, cap, *n + 1, sizeof **list) < 0) {
        r->oom = 1;
        return -1;
    }
    (*list)[(*n)++] = (struct deferred){ (uint32_t)lot, (uint32_t)xfer, index };
    return 0;
}

/* A hold: captured ones name a capture transfer for their amount from their account. */
static void add_hold(struct vreplay *r, uint64_t index, const struct vrec *h)
{
    long lot = LOT(r, h->text[HO_LOT]);
    long acct = ACCT(r, h->text[HO_ACCOUNT]);
    if (lot < 0 || acct < 0)
        return;
    struct lot *l = &r->lots[lot];
    l->touched = 1;
    int captured = strcmp(h->text[HO_STATE], "captured") == 0;
    if (!captured) {
        if (h->present[HO_TRANSFER])
            vreplay_break(r, RULE_HOLDS, index, "released hold %.16s… names a transfer",
                          h->text[HO_REF]);
        return;
    }
    add_i64(r, &l->captured, h->num[HO_AMOUNT], index);
    l->captures++;
    long x = h->present[HO_TRANSFER] ? vreplay_xfer(r, h->text[HO_TRANSFER]) : -1;
    if (x < 0) {
        vreplay_break(r, RULE_HOLDS, index, "captured hold %.16s…: its transfer is not in the log",
                      h->text[HO_REF]);
        return;
    }
    struct xfer *xf = &r->xfers[x];
    if (xf->kind != XK_CAPTURE || xf->from != (uint32_t)acct || xf->amount != h->num[HO_AMOUNT]
        || xf->captures++ > 0)
        vreplay_break(r, RULE_HOLDS, index,
                      "captured hold %.16s…: its transfer is not a capture of its amount from "
                      "its account, or is another hold's too",
                      h->text[HO_REF]);
    defer(r, &r->captures, &r->ncaptures, &r->captures_cap, lot, x, index);
}

/* A bid: folds into its lot; a claim names a purchase from the bidder for its amount. */
static void add_bid(struct vreplay *r, uint64_t index, const struct vrec *b)
{
    long lot = LOT(r, b->text[BI_LOT]), bidder = ACCT(r, b->text[BI_BIDDER]);
    if (lot < 0 || bidder < 0)
        return;
    struct lot *l = &r->lots[lot];
    l->touched = 1;
    l->bids++;
    if (strcmp(b->text[BI_STATUS], "claimed") != 0)
        return;
    add_i64(r, &l->claimed, b->num[BI_QUANTITY], index);
    long x = b->present[BI_TRANSFER] ? vreplay_xfer(r, b->text[BI_TRANSFER]) : -1;
    if (x < 0) {
        vreplay_break(r, RULE_PURCHASES, index, "claim %.16s…: its purchase is not in the log",
                      b->text[BI_REF]);
        return;
    }
    struct xfer *xf = &r->xfers[x];
    if (xf->kind != XK_PURCHASE || xf->from != (uint32_t)bidder || xf->amount != b->num[BI_AMOUNT]
        || xf->claims++ > 0)
        vreplay_break(r, RULE_PURCHASES, index,
                      "claim %.16s…: its transfer is not a purchase of its amount from the bidder, "
                      "or pays another claim too",
                      b->text[BI_REF]);
    defer(r, &r->claims, &r->nclaims, &r->claims_cap, lot, x, index);
}

/* A lot record: what its bids are checked against at the end. */
static void add_lot(struct vreplay *r, uint64_t index, const struct vrec *lr)
{
    long lot = LOT(r, lr->text[LO_REF]);
    if (lot < 0)
        return;
    struct lot *l = &r->lots[lot];
    if (l->seen)
        vreplay_break(r, RULE_RECORDS, index, "lot %.16s… sealed twice", lr->text[LO_REF]);
    l->seen = 1;
    vmap_key(lr->text[LO_SELLER], l->seller);
    l->qty_total = lr->num[LO_QTY_TOTAL];
    l->qty_claimed = lr->num[LO_QTY_CLAIMED];
    l->clearing_price = lr->present[LO_CLEARING_PRICE] ? lr->num[LO_CLEARING_PRICE] : -1;
    l->settled_english =
        strcmp(lr->text[LO_KIND], "english") == 0 && strcmp(lr->text[LO_STATUS], "settled") == 0;
}

/* The transfer at ref hex, if it is in the log and of kind k; else NULL. */
static const struct xfer *leg(const struct vreplay *r, const char *hex, int k)
{
    long x = vreplay_xfer(r, hex);
    return x >= 0 && r->xfers[x].kind == k ? &r->xfers[x] : NULL;
}

/* A fill: folds into its market; its cash legs are in the log with the right amounts. */
static void add_fill(struct vreplay *r, uint64_t index, const struct vrec *f)
{
    long m = MARKET(r, f->text[FI_MARKET]);
    long buyer = ACCT(r, f->text[FI_BUYER]), seller = ACCT(r, f->text[FI_SELLER]);
    if (m < 0 || buyer < 0 || seller < 0)
        return;
    int mint = strcmp(f->text[FI_KIND], "mint") == 0;
    struct market *mk = &r->markets[m];
    mk->fills++;
    add_i64(r, &mk->quantity, f->num[FI_QUANTITY], index);
    if (mint)
        add_i64(r, &mk->pairs, f->num[FI_QUANTITY], index);
    int64_t cash, pair;
    /* both products computed: | on purpose, not || */
    int ovf = (int)__builtin_mul_overflow(f->num[FI_PRICE], f->num[FI_QUANTITY], &cash)
        | (int)__builtin_mul_overflow((int64_t)100, f->num[FI_QUANTITY], &pair);
    const struct xfer *a = leg(r, f->text[FI_CASH_A], mint ? XK_MINT : XK_TRADE);
    const struct xfer *b =
        mint && f->present[FI_CASH_B] ? leg(r, f->text[FI_CASH_B], XK_MINT) : NULL;
    int good = !ovf && a && a->amount == cash && a->from == (uint32_t)buyer;
    if (mint)
        good = good && b && b->from == (uint32_t)seller && b->to == a->to
            && a->amount + b->amount == pair;
    else
        good = good && a->to == (uint32_t)seller && !f->present[FI_CASH_B];
    if (!good)
        vreplay_break(r, RULE_FILLS, index,
                      "fill %.16s…: its cash legs are missing or do not pay its price x quantity",
                      f->text[FI_REF]);
}

/* A closed pending transfer: posted ones name their transfer, others none. */
static void add_pending(struct vreplay *r, uint64_t index, const struct vrec *p)
{
    long from = ACCT(r, p->text[PE_FROM]), to = ACCT(r, p->text[PE_TO]);
    if (from < 0 || to < 0)
        return;
    int good;
    if (strcmp(p->text[PE_STATUS], "posted") == 0) {
        long x = p->present[PE_TRANSFER] ? vreplay_xfer(r, p->text[PE_TRANSFER]) : -1;
        struct xfer *xf = x >= 0 ? &r->xfers[x] : NULL;
        good = xf && p->present[PE_POSTED_AMOUNT] && xf->from == (uint32_t)from
            && xf->to == (uint32_t)to && xf->amount == p->num[PE_POSTED_AMOUNT]
            && p->num[PE_POSTED_AMOUNT] >= 1 && p->num[PE_POSTED_AMOUNT] <= p->num[PE_AMOUNT]
            && xf->posts++ == 0;
    } else {
        good = !p->present[PE_TRANSFER] && !p->present[PE_POSTED_AMOUNT];
    }
    if (!good)
        vreplay_break(r, RULE_PENDING, index, "pending %.16s… did not release exactly its hold",
                      p->text[PE_REF]);
}

/* A credit limit: from here on the account's latest (a user account's; never negative). */
static void add_limit(struct vreplay *r, uint64_t index, const struct vrec *l)
{
    long a = ACCT(r, l->text[LI_ACCOUNT]);
    unsigned char key[32];

    if (a < 0)
        return;
    if (l->num[LI_CREDIT_LIMIT] < 0
        || (vmap_key(l->text[LI_ACCOUNT], key) == 0 && memcmp(key, r->issuer, 32) == 0)) {
        vreplay_break(r, RULE_RECORDS, index, "limit %.16s…: a negative limit or the issuer's",
                      l->text[LI_REF]);
        return;
    }
    r->accts[a].limit = l->num[LI_CREDIT_LIMIT];
}

int vreplay_add(struct vreplay *r, uint64_t index, const char *text, size_t len)
{
    if (index != r->size) {
        vreplay_break(r, RULE_RECORDS, index, "record %llu out of order (expected %llu)",
                      (unsigned long long)index, (unsigned long long)r->size);
        return 0;
    }
    unsigned char leaf[32];
    merkle_leaf_hash(text, len, leaf);
    push_leaf(r, leaf);
    struct vrec rec;
    char err[160];
    if (vrec_parse(text, len, &rec, err, sizeof err) < 0) {
        vreplay_break(r, RULE_RECORDS, index, "record %llu does not parse: %s",
                      (unsigned long long)index, err);
        return 0;
    }
    unsigned char key[32];
    int added = 0;
    vmap_key(rec.text[0], key);
    if (vmap_get(&r->seen, key, &added) < 0)
        r->oom = 1;
    else if (!added)
        vreplay_break(r, RULE_RECORDS, index, "record %llu repeats ref %.16s…",
                      (unsigned long long)index, rec.text[0]);
    r->kinds[rec.kind]++;
    switch (rec.kind) {
    case VREC_TRANSFER:
        add_transfer(r, index, &rec);
        break;
    case VREC_HOLD:
        add_hold(r, index, &rec);
        break;
    case VREC_BID:
        add_bid(r, index, &rec);
        break;
    case VREC_LOT:
        add_lot(r, index, &rec);
        break;
    case VREC_FILL:
        add_fill(r, index, &rec);
        break;
    case VREC_PENDING:
        add_pending(r, index, &rec);
        break;
    case VREC_LIMIT:
        add_limit(r, index, &rec);
        break;
    case VREC_ORDER:
    case VREC_KINDS:
        break;
    }
    vrec_free(&rec);
    return r->oom ? -1 : 0;
}

void vreplay_free(struct vreplay *r)
{
    if (!r)
        return;
    vmap_free(&r->seen);
    vmap_free(&r->acct_map);
    vmap_free(&r->xfer_map);
    vmap_free(&r->lot_map);
    vmap_free(&r->market_map);
    free(r->accts);
    free(r->xfers);
    free(r->lots);
    free(r->markets);
    free(r->captures);
    free(r->claims);
    free(r);
}
