/*
 * test_seal_batch.c — the sealer's database-free parts (domain/seal_batch.c):
 * the Merkle frontier it extends leaf by leaf, against RFC 9162's MTH
 * computed recursively here; the nodes it stores; the fold set; the arrays
 * and counts it sends.
 */
#include "tap.h"

#include <stdlib.h>

#include "merkle.h"
#include "domain/seal_batch.h"

/* RFC 9162 2.1: MTH of leaves[0..n), split at the largest power of two < n. */
static void mth(unsigned char leaves[][32], size_t n, unsigned char out[32])
{
    size_t k = 1;
    unsigned char l[32], r[32];

    if (n == 1) {
        memcpy(out, leaves[0], 32);
        return;
    }
    while (k * 2 < n)
        k *= 2;
    mth(leaves, k, l);
    mth(leaves + k, n - k, r);
    merkle_node_hash(l, r, out);
}

static void test_tree(void)
{
    unsigned char leaves[40][32], root[32], want[32];
    int all_roots = 1, all_nodes = 1, resumed = 1;

    for (int i = 0; i < 40; i++) {
        char text[16];
        int n = snprintf(text, sizeof(text), "leaf %d", i);
        merkle_leaf_hash(text, (size_t)n, leaves[i]);
    }
    /* one tree grown from empty, and at every size a second one resumed from the first's edge */
    struct seal_tree t = { 0 };
    for (int i = 0; i < 40; i++) {
        size_t before = t.nadded;
        if (seal_tree_append(&t, leaves[i]) != 0)
            all_nodes = 0;
        seal_tree_root(&t, root);
        mth(leaves, (size_t)i + 1, want);
        all_roots &= memcmp(root, want, 32) == 0;
        all_nodes &= (int)(t.nadded - before) == seal_nodes_at((uint64_t)i);
        struct seal_tree u = { 0 };
        memcpy(u.edge, t.edge, sizeof(t.edge));
        u.nedge = t.nedge;
        u.size = t.size;
        for (int j = i + 1; j < 40; j++)
            seal_tree_append(&u, leaves[j]);
        seal_tree_root(&u, root);
        mth(leaves, 40, want);
        resumed &= memcmp(root, want, 32) == 0;
        seal_tree_free(&u);
    }
    ok(all_roots, "the frontier's root is the MTH at every size 1..40");
    ok(all_nodes, "each leaf adds itself and one node per trailing 1 bit of its position");
    ok(resumed, "a tree resumed from the stored right edge reaches the same root");
    /* every stored node is the MTH of the leaves it covers */
    int nodes_ok = 1;
    for (size_t i = 0; i < t.nadded; i++) {
        const struct seal_node *n = &t.added[i];
        mth(leaves + (n->idx << n->level), (size_t)1 << n->level, want);
        nodes_ok &= memcmp(n->hash, want, 32) == 0;
    }
    ok(nodes_ok, "every added node is the root of its perfect subtree");
    is_int(t.nadded, 40 + 20 + 10 + 5 + 2 + 1, "40 leaves store 78 nodes");
    seal_tree_free(&t);
    is_int(seal_nodes_at(0), 1, "position 0 completes only its leaf");
    is_int(seal_nodes_at(7), 4, "position 7 completes levels 0..3");
}

static void test_batch(void)
{
    struct seal_batch b;
    struct record_text ids = { 0 }, pos = { 0 };
    struct record_text arr[SEAL_FOLD_ARRAYS];
    struct record r1 = { 0 }, r2 = { 0 };
    char counts[160];
    int created;

    ok(seal_batch_init(&b, 100, 7) == 0, "batch init");
    r1.text = strdup("a");
    r2.text = strdup("b");
    seal_batch_add(&b, RECORD_HOLD, "11111111-1111-4111-8111-111111111111", 5, &r1);
    seal_batch_add(&b, RECORD_HOLD, "22222222-2222-4222-8222-222222222222", 6, &r2);
    ok(r1.text == NULL, "the batch takes the record's text");
    is_int(seal_batch_next(&b), 9, "the next position follows the batch");
    seal_batch_arrays(&b, RECORD_HOLD, &ids, &pos);
    is_str(ids.p, "{11111111-1111-4111-8111-111111111111,22222222-2222-4222-8222-222222222222}",
           "id array");
    is_str(pos.p, "{7,8}", "positions from the batch's first");
    record_text_free(&ids);
    record_text_free(&pos);
    struct seal_fold *f = seal_folds_get(&b.lots, "55555555-5555-4555-8555-555555555555", &created);
    ok(f && created, "a new fold is created");
    f->a = 3;
    f = seal_folds_get(&b.lots, "55555555-5555-4555-8555-555555555555", &created);
    ok(f && !created && f->a == 3, "the same id gives the same fold");
    ok(seal_folds_has(&b.lots, "55555555-5555-4555-8555-555555555555")
           && !seal_folds_has(&b.lots, "66666666-6666-4666-8666-666666666666"),
       "has");
    memset(arr, 0, sizeof(arr));
    seal_folds_arrays(&b.lots, 1, arr);
    is_str(arr[1].p, "{3}", "fold delta array");
    for (int k = 0; k < 4; k++)
        record_text_free(&arr[k]);
    /* an account's fold: two deltas and its last entry, NULL when one entry had none */
    f = seal_folds_get(&b.accounts, "55555555-5555-4555-8555-555555555555", &created);
    f->a = -4, f->b = 2, f->last_seq = 9, f->last_after = 12, f->last_at = 1700000000000001;
    f = seal_folds_get(&b.accounts, "66666666-6666-4666-8666-666666666666", &created);
    f->a = 4, f->b = 1, f->last_seq = 3, f->last_unknown = 1;
    memset(arr, 0, sizeof(arr));
    seal_folds_arrays(&b.accounts, 0, arr);
    int at5 = strncmp(arr[0].p, "{5", 2) == 0;
    is_str(arr[3].p, at5 ? "{9,NULL}" : "{NULL,9}", "last seq array, NULL when unknown");
    is_str(arr[4].p, at5 ? "{12,NULL}" : "{NULL,12}", "last balance array");
    is_str(arr[5].p, at5 ? "{1700000000000001,NULL}" : "{NULL,1700000000000001}",
           "last time array");
    is_str(arr[2].p, at5 ? "{2,1}" : "{1,2}", "entry counts array");
    for (int k = 0; k < SEAL_FOLD_ARRAYS; k++)
        record_text_free(&arr[k]);
    seal_batch_counts(&b, counts, sizeof(counts));
    is_str(counts, "transfer=0 entry=0 hold=2 bid=0 lot=0 fill=0 order=0 pending=0 limit=0",
           "counts text");
    int64_t t[SEAL_TOTALS];
    ok(seal_totals_parse("transfer=1 entry=2 hold=3 bid=4 lot=5 fill=6 order=7 pending=8", t) == 0
           && t[7] == 8 && t[8] == 0,
       "totals from before credit limits were sealed read limit 0");
    ok(seal_totals_parse("transfer=1 entry=2 hold=3 bid=4 lot=5 fill=6 order=7 pending=8 limit=", t)
           == -1,
       "a malformed limit total is refused");
    ok(seal_totals_parse("transfer=1 entry=2 hold=3 bid=4 lot=5 fill=6 order=7 pending=8 limit=9",
                         t)
               == 0
           && t[8] == 9,
       "totals with limit=N");
    seal_batch_totals(&b, t, counts, sizeof(counts));
    is_str(counts, "transfer=1 entry=2 hold=5 bid=4 lot=5 fill=6 order=7 pending=8 limit=9",
           "totals text adds the batch, limit included");
    seal_batch_free(&b);
}

int main(void)
{
    test_tree();
    test_batch();
    return done_testing();
}
