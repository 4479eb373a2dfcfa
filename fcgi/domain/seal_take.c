/*
 * seal_take.c — which candidate rows one seal takes (see seal_batch.h):
 * in the order they come, while the rows they would write fit the budget,
 * folding each into the aggregates it touches and adding its record.
 */
#include "domain/seal_batch.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* Charge cost rows to the budget: 1 if they fit (and are now spent). */
static int charge(struct seal_batch *b, int64_t cost)
{
    if (cost > b->budget) {
        b->full = 1;
        return 0;
    }
    b->budget -= cost;
    return 1;
}

/* Rows one more record costs at the next position: itself and its Merkle nodes. */
static int64_t record_cost(struct seal_batch *b, int k)
{
    return 1 + seal_nodes_at(b->first + b->vpos + (uint64_t)k);
}

struct ent {
    const char *tid;
    struct record_entry e;
    const char *seq, *after, *at; /* NULL: none */
    int row; /* in the entries result: its time, seq and running balance follow */
};

/* Fold entry e into its account's fold f: the sum, the count and the last entry. */
static void fold_entry(struct seal_fold *f, const struct ent *e, int created)
{
    int64_t seq;

    f->a += seal_i64(e->e.amount);
    f->b += 1;
    if (!e->seq || !e->after || !e->at) {
        f->last_unknown = 1;
        return;
    }
    seq = seal_i64(e->seq);
    if (created || seq > f->last_seq) {
        f->last_seq = seq;
        f->last_after = seal_i64(e->after);
        f->last_at = seal_i64(e->at);
    }
}

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ent *)a)->tid, ((const struct ent *)b)->tid);
}

/* Accept transfer row i (entries e[0..ne)) if it fits. 1 taken, 0 not, -1 error, -2 unbalanced. */
static int take_transfer(struct seal_batch *b, const PGresult *res, int i, const struct ent *e,
                         int ne)
{
    int64_t cost = record_cost(b, 0) + ne, sum = 0;
    struct record_entry re[SEAL_ENTRIES_MAX];
    struct record rec;
    int created;

    if (ne < 2 || ne > SEAL_ENTRIES_MAX)
        return -2;
    for (int k = 0; k < ne; k++) {
        re[k] = e[k].e;
        sum += seal_i64(e[k].e.amount);
        int dup = seal_folds_has(&b->accounts, e[k].e.account);
        for (int j = 0; j < k && !dup; j++)
            dup = strcmp(e[j].e.account, e[k].e.account) == 0;
        cost += !dup;
    }
    if (sum != 0)
        return -2;
    if (!charge(b, cost))
        return 0;
    if (record_encode_row(RECORD_TRANSFER, res, i, 0, re, (size_t)ne, &rec) < 0)
        return -1;
    for (int k = 0; k < ne; k++) {
        struct seal_fold *f = seal_folds_get(&b->accounts, e[k].e.account, &created);
        if (!f)
            return -1;
        fold_entry(f, &e[k], created);
    }
    b->entries += ne;
    b->vpos++;
    return seal_batch_add(b, RECORD_TRANSFER, PQgetvalue(res, i, RT_ID),
                          seal_i64(PQgetvalue(res, i, RT_AT)), &rec)
            < 0
        ? -1
        : 1;
}

/* The entries of result en sorted by transfer (malloc'd; NULL on OOM). */
static struct ent *load_entries(const PGresult *en)
{
    int n = PQntuples(en);
    struct ent *e = calloc((size_t)(n ? n : 1), sizeof(*e));

    for (int i = 0; e && i < n; i++) {
        e[i].tid = PQgetvalue(en, i, 0);
        e[i].e.id = PQgetvalue(en, i, 1);
        e[i].e.account = PQgetvalue(en, i, 2);
        e[i].e.amount = PQgetvalue(en, i, 3);
        e[i].at = PQgetisnull(en, i, 4) ? NULL : PQgetvalue(en, i, 4);
        e[i].seq = PQgetisnull(en, i, 6) ? NULL : PQgetvalue(en, i, 6);
        e[i].after = PQgetisnull(en, i, 7) ? NULL : PQgetvalue(en, i, 7);
        e[i].row = i;
    }
    if (e)
        qsort(e, (size_t)n, sizeof(*e), ent_cmp);
    return e;
}

/* The entries of transfer id in e[0..n): the first one's index; *count gets how many. */
static int find_entries(const struct ent *e, int n, const char *id, int *count)
{
    int lo = 0, hi = n, m;

    while (lo < hi) {
        m = (lo + hi) / 2;
        if (strcmp(e[m].tid, id) < 0)
            lo = m + 1;
        else
            hi = m;
    }
    for (m = lo; m < n && strcmp(e[m].tid, id) == 0; m++)
        ;
    *count = m - lo;
    return lo;
}

int seal_take_transfers(struct seal_batch *b, const PGresult *tr, const PGresult *en, int max)
{
    int n = PQntuples(en), rc = 0, rows = PQntuples(tr);
    struct ent *e = load_entries(en);

    if (!e)
        return -1;
    if (max >= 0 && max < rows)
        rows = max;
    for (int i = 0; i < rows && rc == 0; i++) {
        int ne, lo = find_entries(e, n, PQgetvalue(tr, i, RT_ID), &ne);
        int t = take_transfer(b, tr, i, e + lo, ne);
        if (t <= 0)
            rc = t == 0 ? 1 : t; /* 1: budget spent, stop here */
    }
    free(e);
    return rc < 0 ? rc : 0;
}

/* memcmp order of 32-byte hashes. */
static int hash_cmp(const void *a, const void *b)
{
    return memcmp(a, b, RECORD_HASH_LEN);
}

/* SHA-256 of n bytes into out. 0, or -1. */
static int sha256(const void *p, size_t n, unsigned char out[RECORD_HASH_LEN])
{
    unsigned int len = 0;

    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) && len == RECORD_HASH_LEN ? 0 : -1;
}

/*
 * The print of transfer row i of tr with entries e[0..ne) of en: SHA-256 of
 * its record's leaf hash and the sorted hashes of its entries' whole rows
 * (every column the candidate statement reads, the ones the record leaves
 * out included). 0, or -1.
 */
static int transfer_print(const PGresult *tr, int i, const PGresult *en, const struct ent *e,
                          int ne, unsigned char out[RECORD_HASH_LEN])
{
    unsigned char h[1 + SEAL_ENTRIES_MAX][RECORD_HASH_LEN];
    struct record rec;
    struct record_entry re[SEAL_ENTRIES_MAX] = { { 0 } };
    struct record_text row = { 0 };
    int rc = 0;

    if (ne > SEAL_ENTRIES_MAX)
        return -1;
    for (int k = 0; k < ne; k++)
        re[k] = e[k].e;
    if (record_encode_row(RECORD_TRANSFER, tr, i, 0, re, (size_t)ne, &rec) < 0)
        return -1;
    memcpy(h[0], rec.leaf, RECORD_HASH_LEN);
    record_free(&rec);
    for (int k = 0; k < ne && rc == 0; k++) {
        row.len = 0;
        for (int c = 0; c < PQnfields(en); c++) {
            record_text_add(&row,
                            PQgetisnull(en, e[k].row, c) ? "\\N" : PQgetvalue(en, e[k].row, c));
            record_text_add(&row, "\x1f");
        }
        rc = row.oom ? -1 : sha256(row.p, row.len, h[1 + k]);
    }
    record_text_free(&row);
    if (rc == 0) {
        qsort(h[1], (size_t)ne, RECORD_HASH_LEN, hash_cmp);
        rc = sha256(h, (size_t)(1 + ne) * RECORD_HASH_LEN, out);
    }
    return rc;
}

int seal_transfer_prints(const PGresult *tr, const PGresult *en,
                         unsigned char (*fp)[RECORD_HASH_LEN])
{
    int n = PQntuples(en), rc = 0;
    struct ent *e = load_entries(en);

    if (!e)
        return -1;
    for (int i = 0; i < PQntuples(tr); i++) {
        int ne, lo = find_entries(e, n, PQgetvalue(tr, i, RT_ID), &ne);
        /* a transfer that cannot be printed matches nothing: it waits for a checked seal */
        if (transfer_print(tr, i, en, e + lo, ne, fp[i]) < 0)
            memset(fp[i], 0, RECORD_HASH_LEN);
    }
    free(e);
    return rc;
}

/* Fold a hold or bid into its lot: the rows a new aggregate row costs (0/1), or -1 (full). */
static int lot_key_cost(struct seal_batch *b, const char *lot)
{
    return !seal_folds_has(&b->lots, lot);
}

/* Encode row i of res as kind k and add it (position order is the caller's). 0 or -1. */
static int add_row(struct seal_batch *b, enum record_kind k, const PGresult *res, int i, int at_col)
{
    struct record rec;

    if (record_encode_row(k, res, i, 0, NULL, 0, &rec) < 0)
        return -1;
    return seal_batch_add(b, k, PQgetvalue(res, i, 0), seal_i64(PQgetvalue(res, i, at_col)), &rec);
}

/* Accept holds in order while they fit. 0 or -1. */
int seal_take_holds(struct seal_batch *b, const PGresult *res)
{
    int created;

    for (int i = 0; i < PQntuples(res); i++) {
        const char *lot = PQgetvalue(res, i, RH_LOT);
        if (!charge(b, record_cost(b, 0) + lot_key_cost(b, lot)))
            break;
        struct seal_fold *f = seal_folds_get(&b->lots, lot, &created);
        if (!f)
            return -1;
        if (strcmp(PQgetvalue(res, i, RH_STATE), "captured") == 0)
            f->b += seal_i64(PQgetvalue(res, i, RH_AMOUNT));
        b->vpos++;
        if (add_row(b, RECORD_HOLD, res, i, RH_AT) < 0)
            return -1;
    }
    return 0;
}

/* Accept whole lots (with all their bids) in order, each one that fits; bids first. 0 or -1. */
int seal_take_lots(struct seal_batch *b, const PGresult *lots, const PGresult *bids)
{
    int nl = PQntuples(lots), nb = PQntuples(bids), created, rc = 0, taken = 0;
    char *take = calloc((size_t)(nl ? nl : 1), 1);

    if (!take)
        return -1;
    for (int i = 0; i < nl; i++) {
        const char *id = PQgetvalue(lots, i, RL_ID);
        int64_t cost = lot_key_cost(b, id), k = 0;
        for (int j = 0; j < nb; j++)
            if (strcmp(PQgetvalue(bids, j, RB_LOT), id) == 0)
                cost += record_cost(b, (int)k++);
        cost += record_cost(b, (int)k);
        /* a lot too big for what is left is passed over, not waited on: the
         * lots after it may still fit (this seal or the next). One too big
         * for any seal (its bids alone past the whole budget: a drop of
         * thousands of claims) would wait for ever, and /proof's
         * sealer_keeps_up fail for it: where the dialect allows, it is
         * taken over the budget, the only lot of its seal, which then
         * takes nothing more */
        if (!charge(b, cost)) {
            if (!(b->oversize_ok && cost > b->budget_rows && taken == 0))
                continue;
            b->budget = 0;
        }
        taken++;
        /* no aggregate of its own: a lot has one once a bid or hold record
         * names it (docs/PROOF-FORMAT.md), so a lot closed without bids adds
         * no zero line to the state */
        take[i] = 1;
        b->vpos += (uint64_t)k + 1;
    }
    for (int j = 0; j < nb && rc == 0; j++) {
        const char *lot = PQgetvalue(bids, j, RB_LOT);
        int accepted = 0;
        for (int i = 0; i < nl && !accepted; i++)
            accepted = take[i] && strcmp(PQgetvalue(lots, i, RL_ID), lot) == 0;
        if (!accepted)
            continue;
        struct seal_fold *f = seal_folds_get(&b->lots, lot, &created);
        if (!f)
            rc = -1;
        else {
            f->c += 1;
            if (strcmp(PQgetvalue(bids, j, RB_STATUS), "claimed") == 0)
                f->a += seal_i64(PQgetvalue(bids, j, RB_QUANTITY));
            rc = add_row(b, RECORD_BID, bids, j, RB_AT);
        }
    }
    for (int i = 0; i < nl && rc == 0; i++)
        if (take[i])
            rc = add_row(b, RECORD_LOT, lots, i, RL_STARTS_AT);
    free(take);
    return rc;
}

/* Accept fills in order while they fit. 0 or -1. */
int seal_take_fills(struct seal_batch *b, const PGresult *res)
{
    int created;

    for (int i = 0; i < PQntuples(res); i++) {
        const char *m = PQgetvalue(res, i, RF_MARKET);
        int64_t q = seal_i64(PQgetvalue(res, i, RF_QUANTITY));
        if (!charge(b, record_cost(b, 0) + !seal_folds_has(&b->markets, m)))
            break;
        struct seal_fold *f = seal_folds_get(&b->markets, m, &created);
        if (!f)
            return -1;
        f->a += 1;
        f->b += q;
        if (strcmp(PQgetvalue(res, i, RF_KIND), "mint") == 0)
            f->c += q;
        b->vpos++;
        if (add_row(b, RECORD_FILL, res, i, RF_AT) < 0)
            return -1;
    }
    return 0;
}

/* Accept rows of a kind without aggregates (orders, pending) while they fit. 0 or -1. */
int seal_take_plain(struct seal_batch *b, enum record_kind k, const PGresult *res, int at_col)
{
    for (int i = 0; i < PQntuples(res); i++) {
        if (!charge(b, record_cost(b, 0)))
            break;
        b->vpos++;
        if (add_row(b, k, res, i, at_col) < 0)
            return -1;
    }
    return 0;
}
