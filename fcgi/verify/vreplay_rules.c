/*
 * vreplay_rules.c — the checks a replay runs once every record is in, and
 * the state commitment it recomputes (see vreplay.h).
 */
#include "verify/vreplay_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "merkle.h"

/* Checks that need a lot's seller: captures and purchases are paid to it. */
static void check_deferred(struct vreplay *r)
{
    for (size_t i = 0; i < r->ncaptures; i++) {
        const struct deferred *d = &r->captures[i];
        const struct lot *l = &r->lots[d->lot];
        if (l->seen && memcmp(r->acct_map.keys[r->xfers[d->xfer].to], l->seller, 32) != 0)
            vreplay_break(r, RULE_HOLDS, d->index, "captured hold at %llu: not paid to the seller",
                          (unsigned long long)d->index);
    }
    for (size_t i = 0; i < r->nclaims; i++) {
        const struct deferred *d = &r->claims[i];
        const struct lot *l = &r->lots[d->lot];
        if (!l->seen || memcmp(r->acct_map.keys[r->xfers[d->xfer].to], l->seller, 32) != 0)
            vreplay_break(r, RULE_PURCHASES, d->index,
                          "claim at %llu: its lot is not in the log or was not paid its seller",
                          (unsigned long long)d->index);
    }
}

/* Per lot: no oversell, captured at most once, and an English settlement by its capture. */
static uint64_t check_lots(struct vreplay *r)
{
    uint64_t awaiting = 0;
    for (size_t i = 0; i < r->lot_map.n; i++) {
        const struct lot *l = &r->lots[i];
        char hex[65];
        merkle_hex(r->lot_map.keys[i], hex);
        if (l->captures > 1)
            vreplay_break(r, RULE_HOLDS, 0, "lot %.16s… captured %lld times", hex,
                          (long long)l->captures);
        if (!l->seen)
            continue;
        if (l->claimed > l->qty_total || l->claimed != l->qty_claimed
            || l->qty_claimed > l->qty_total)
            vreplay_break(
                r, RULE_OVERSELL, 0, "lot %.16s…: claims %lld, qty_claimed %lld, qty_total %lld",
                hex, (long long)l->claimed, (long long)l->qty_claimed, (long long)l->qty_total);
        if (l->captures == 1 && (!l->settled_english || l->captured != l->clearing_price))
            vreplay_break(r, RULE_HOLDS, 0,
                          "lot %.16s…: captured %lld but it is not an English lot settled at "
                          "that price",
                          hex, (long long)l->captured);
        if (l->captures == 0 && l->settled_english)
            awaiting++;
    }
    return awaiting;
}

/* Every escrow (an account paid a mint leg or a split, or paying a merge or
 * a payout) moves only with its market: in by mints and splits, out by
 * merges and payouts. */
static void check_escrows(struct vreplay *r)
{
    for (size_t i = 0; i < r->acct_map.n; i++) {
        const struct acct *a = &r->accts[i];
        char hex[65];
        if (!(a->kinds_in & XK_ESCROW_IN) && !(a->kinds_out & XK_ESCROW_OUT))
            continue;
        if ((a->kinds_in & ~XK_ESCROW_IN) == 0 && (a->kinds_out & ~XK_ESCROW_OUT) == 0)
            continue;
        merkle_hex(r->acct_map.keys[i], hex);
        vreplay_break(r, RULE_ESCROW, 0,
                      "escrow %.16s… takes part in transfers of other kinds (in 0x%x, out 0x%x)",
                      hex, a->kinds_in, a->kinds_out);
    }
}

/*
 * Σ balances (as a wider integer), and the number of non-issuer accounts
 * below minus their credit limit (the latest limit record's; 0 without one).
 */
static void balances(const struct vreplay *r, __int128 *sum, uint64_t *negative, char first[65])
{
    *sum = 0;
    *negative = 0;
    first[0] = 0;
    for (size_t i = 0; i < r->acct_map.n; i++) {
        const struct acct *a = &r->accts[i];
        *sum += a->balance;
        if ((__int128)a->balance < -(__int128)a->limit
            && memcmp(r->acct_map.keys[i], r->issuer, 32) != 0 && (*negative)++ == 0)
            merkle_hex(r->acct_map.keys[i], first);
    }
}

/* The rule's check line: ok when nothing broke it. */
static void rule_check(struct vcheck_list *out, const struct vreplay *r, enum rule_id id,
                       const char *name, const char *what)
{
    const struct rule *ru = &r->rules[id];
    if (ru->bad == 0)
        vcheck_add(out, name, 1, "%s", what);
    else
        vcheck_add(out, name, 0, "%llu violation(s); first at record %llu: %s",
                   (unsigned long long)ru->bad, (unsigned long long)ru->first_index, ru->first);
}

/* qsort over indexes into a vmap's keys (set before sorting: qsort has no context). */
static const struct vmap *sort_map;
static int by_key(const void *a, const void *b)
{
    return memcmp(sort_map->keys[*(const uint32_t *)a], sort_map->keys[*(const uint32_t *)b], 32);
}

/* The map's indexes sorted by key (malloc'd, m->n of them; NULL when empty or out of memory). */
static uint32_t *sorted(const struct vmap *m)
{
    uint32_t *ix = m->n ? malloc(sizeof *ix * m->n) : NULL;
    if (!ix)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        ix[i] = (uint32_t)i;
    sort_map = m;
    qsort(ix, m->n, sizeof *ix, by_key);
    return ix;
}

/* Feed one printf-formatted line of the state text to the digest. */
static void line(EVP_MD_CTX *md, const char *fmt, const unsigned char key[32], int64_t a, int64_t b,
                 int64_t c, int three)
{
    char hex[65], buf[256];
    merkle_hex(key, hex);
    int n = three ? snprintf(buf, sizeof buf, fmt, hex, (long long)a, (long long)b, (long long)c)
                  : snprintf(buf, sizeof buf, fmt, hex, (long long)a, (long long)b);
    EVP_DigestUpdate(md, buf, (size_t)n);
}

void vreplay_state_hash(const struct vreplay *r, unsigned char out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char head[64];
    int n =
        snprintf(head, sizeof head, "zerosum/v1 state\nsize %llu\n", (unsigned long long)r->size);
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, head, (size_t)n);
    uint32_t *ix = sorted(&r->acct_map);
    for (size_t i = 0; ix && i < r->acct_map.n; i++) {
        const struct acct *a = &r->accts[ix[i]];
        if (a->entries > 0)
            line(md, "account %s %lld %lld\n", r->acct_map.keys[ix[i]], a->balance, a->entries, 0,
                 0);
    }
    free(ix);
    ix = sorted(&r->lot_map);
    for (size_t i = 0; ix && i < r->lot_map.n; i++) {
        const struct lot *l = &r->lots[ix[i]];
        if (l->touched)
            line(md, "lot %s %lld %lld %lld\n", r->lot_map.keys[ix[i]], l->claimed, l->captured,
                 l->bids, 1);
    }
    free(ix);
    ix = sorted(&r->market_map);
    for (size_t i = 0; ix && i < r->market_map.n; i++) {
        const struct market *m = &r->markets[ix[i]];
        line(md, "market %s %lld %lld %lld\n", r->market_map.keys[ix[i]], m->fills, m->quantity,
             m->pairs, 1);
    }
    free(ix);
    unsigned int len = 0;
    EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
}

/* The tree: size and root against the checkpoint. */
static void check_tree(struct vreplay *r, const struct checkpoint *cp, struct vcheck_list *out)
{
    unsigned char root[32];
    char want[65], got[65] = "(empty)";
    merkle_hex(cp->root, want);
    int have = vreplay_root(r, root) == 0;
    if (have)
        merkle_hex(root, got);
    int good = have && r->size == cp->size && memcmp(root, cp->root, 32) == 0;
    vcheck_add(out, "replay_root", good,
               good ? "the %llu records hash to the checkpoint's root %s"
                    : "%llu records hash to root %s, the checkpoint says size %llu root %s",
               (unsigned long long)r->size, got, (unsigned long long)cp->size, want);
}

void vreplay_finish(struct vreplay *r, const struct checkpoint *cp, struct vcheck_list *out)
{
    check_deferred(r);
    check_escrows(r);
    uint64_t awaiting = check_lots(r);
    check_tree(r, cp, out);
    char what[240];
    snprintf(what, sizeof what,
             "%llu records parse: %llu transfers, %llu holds, %llu bids, %llu lots, %llu fills, "
             "%llu orders, %llu pending, %llu limits",
             (unsigned long long)r->size, (unsigned long long)r->kinds[VREC_TRANSFER],
             (unsigned long long)r->kinds[VREC_HOLD], (unsigned long long)r->kinds[VREC_BID],
             (unsigned long long)r->kinds[VREC_LOT], (unsigned long long)r->kinds[VREC_FILL],
             (unsigned long long)r->kinds[VREC_ORDER], (unsigned long long)r->kinds[VREC_PENDING],
             (unsigned long long)r->kinds[VREC_LIMIT]);
    rule_check(out, r, RULE_RECORDS, "replay_records", what);
    rule_check(out, r, RULE_BALANCED, "transfers_balanced",
               "every transfer's entries sum to zero and move its amount from payer to payee");
    rule_check(out, r, RULE_OVERFLOW, "no_overflow", "no sum overflows");
    __int128 sum;
    uint64_t negative;
    char first[65];
    balances(r, &sum, &negative, first);
    vcheck_add(out, "money_conserved", sum == 0, "the %zu balances sum to %lld", r->acct_map.n,
               (long long)sum);
    if (negative)
        vcheck_add(out, "no_negative_balances", 0,
                   "%llu account(s) other than the issuer below minus their logged credit limit, "
                   "first %.16s…",
                   (unsigned long long)negative, first);
    else
        vcheck_add(out, "no_negative_balances", 1,
                   "no account but the issuer below minus its logged credit limit (0 if none)");
    rule_check(out, r, RULE_OVERSELL, "no_oversell",
               "no lot's claims exceed its quantity; each lot's qty_claimed equals its claims");
    snprintf(what, sizeof what,
             "every captured hold is one capture transfer paid to its lot's seller; no lot "
             "captured twice (%llu settled English lots await their hold's seal)",
             (unsigned long long)awaiting);
    rule_check(out, r, RULE_HOLDS, "holds_reconcile", what);
    rule_check(out, r, RULE_PURCHASES, "purchases_paid",
               "every claim is paid by one purchase from its bidder to its lot's seller");
    rule_check(out, r, RULE_FILLS, "fill_cash_legs",
               "every fill's cash legs are in the log for price x quantity (mints: 100 x "
               "quantity into one escrow)");
    rule_check(out, r, RULE_ESCROW, "escrow_pairs",
               "splits and merges move 100 per pair, payouts 100 per winning contract and a "
               "cancel's 50 per contract; an escrow moves only by mints, splits, merges and "
               "payouts");
    rule_check(out, r, RULE_PENDING, "pending_released",
               "every posted pending transfer names one transfer of its posted amount");
    unsigned char state[32];
    char got[65], want[65];
    vreplay_state_hash(r, state);
    merkle_hex(state, got);
    merkle_hex(cp->state, want);
    int good = memcmp(state, cp->state, 32) == 0;
    vcheck_add(out, "state_commitment", good,
               good ? "the rebuilt state hashes to the checkpoint's zerosum-state %s%.0s"
                    : "the rebuilt state hashes to %s, the checkpoint says %s",
               got, want);
}
