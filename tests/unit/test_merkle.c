/*
 * test_merkle.c — unit tests for fcgi/merkle.c against published vectors,
 * plus the exhaustive small-tree checks.
 *
 * Test data (not code): the 8-leaf tree of Certificate Transparency's
 * reference tests — leaf inputs, the root for every size 1..8, and the
 * inclusion and consistency proofs — as published in
 * github.com/transparency-dev/merkle, testonly/constants.go (LeafInputs,
 * RootHashes, NodeHashes) and proof/verify_test.go (inclusionProofs,
 * consistencyProofs; their leaf numbers are 1-based), the same values as
 * Chromium's net/cert/ct_log_verifier_unittest.cc and the RFC 6962 C++
 * reference implementation's merkle_tree_test.cc.
 *
 * `test_merkle --dump N` prints, for every size 1..N of a tree whose leaf i
 * is "leaf <i>", the root, every inclusion path and every consistency proof,
 * one per line; tests/unit/test_rfc9162_py.py compares that output with an
 * independent Python implementation.
 */
#include "tap.h"

#include "merkle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ct_leaves[8] = {
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

static const char *const ct_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* Level-0 node hashes (leaf hashes) of the CT tree, NodeHashes()[0]. */
static const char *const ct_leaf_hashes[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
};

struct vec {
    uint64_t a, b; /* inclusion: index (0-based), size; consistency: from, to */
    int n;
    const char *path[3];
};

static const struct vec ct_inclusion[] = {
    { 0, 1, 0, { NULL } },
    { 0,
      8,
      3,
      { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
    { 5,
      8,
      3,
      { "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
    { 2, 3, 1, { "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125" } },
    { 1,
      5,
      3,
      { "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
};

static const struct vec ct_consistency[] = {
    { 1, 1, 0, { NULL } },
    { 1,
      8,
      3,
      { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
    { 6,
      8,
      3,
      { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
    { 2,
      5,
      2,
      { "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
    { 6,
      7,
      3,
      { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
};

/*
 * An in-memory node store over leaf hashes: computes any perfect subtree by
 * plain recursion, counts calls, and records any request for a subtree that
 * reaches past `limit` leaves (a proof for size n must never need one).
 */
struct store {
    unsigned char (*leaf)[32];
    uint64_t count, limit;
    int calls, beyond, fail_at;
};

/* Root of the perfect subtree (level, idx) over s->leaf, recursively. */
static void perfect(const struct store *s, int level, uint64_t idx, unsigned char out[32])
{
    unsigned char l[32], r[32];

    if (level == 0) {
        memcpy(out, s->leaf[idx], 32);
        return;
    }
    perfect(s, level - 1, 2 * idx, l);
    perfect(s, level - 1, 2 * idx + 1, r);
    merkle_node_hash(l, r, out);
}

/* merkle_node_fn over a struct store. */
static int store_get(void *ctx, int level, uint64_t idx, unsigned char out[32])
{
    struct store *s = ctx;

    s->calls++;
    if (s->fail_at > 0 && s->calls == s->fail_at)
        return -1;
    if (level < 0 || level > 62 || ((idx + 1) << level) > s->limit) {
        s->beyond++;
        return -1;
    }
    perfect(s, level, idx, out);
    return 0;
}

/* Decode hex text (even length, at most 64 bytes) into out; returns the byte count. */
static size_t unhex(const char *h, unsigned char *out)
{
    size_t n = strlen(h) / 2, i;

    for (i = 0; i < n; i++) {
        unsigned int v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
    return n;
}

static const char *hexs(const unsigned char h[32])
{
    static char buf[4][65];
    static int k;

    k = (k + 1) % 4;
    merkle_hex(h, buf[k]);
    return buf[k];
}

/* Paths of a struct vec as bytes. */
static void vec_path(const struct vec *v, unsigned char p[][32])
{
    int i;

    for (i = 0; i < v->n; i++)
        unhex(v->path[i], p[i]);
}

static void test_ct_vectors(struct store *s)
{
    unsigned char root[8][32], got[32], path[MERKLE_MAX_PATH][32], want[3][32];
    unsigned char bad[MERKLE_MAX_PATH][32];
    size_t i;
    int n, k;

    for (i = 0; i < 8; i++) {
        unsigned char data[16];
        size_t len = unhex(ct_leaves[i], data);

        merkle_leaf_hash(data, len, s->leaf[i]);
        is_str(hexs(s->leaf[i]), ct_leaf_hashes[i], "CT leaf hash");
    }
    for (i = 0; i < 8; i++) {
        s->limit = i + 1;
        s->beyond = 0;
        ok(merkle_root(i + 1, store_get, s, root[i]) == 0, "root computed");
        is_str(hexs(root[i]), ct_roots[i], "CT root for each size 1..8");
        ok(s->beyond == 0, "root asks only for subtrees inside the tree");
    }
    for (i = 0; i < sizeof ct_inclusion / sizeof ct_inclusion[0]; i++) {
        const struct vec *v = &ct_inclusion[i];

        s->limit = v->b;
        n = merkle_inclusion_path(v->a, v->b, store_get, s, path);
        is_int(n, v->n, "CT inclusion path length");
        vec_path(v, want);
        ok(n == v->n && memcmp(path, want, (size_t)v->n * 32) == 0, "CT inclusion path");
        ok(merkle_verify_inclusion(v->a, v->b, s->leaf[v->a], (const unsigned char(*)[32])want,
                                   v->n, root[v->b - 1]),
           "CT inclusion path verifies");
        ok(!merkle_verify_inclusion(v->a ^ 1, v->b, s->leaf[v->a], (const unsigned char(*)[32])want,
                                    v->n, root[v->b - 1])
               || v->b == 1,
           "wrong index does not verify");
        for (k = 0; k < v->n; k++) {
            memcpy(bad, want, sizeof want);
            bad[k][0] ^= 8;
            ok(!merkle_verify_inclusion(v->a, v->b, s->leaf[v->a], (const unsigned char(*)[32])bad,
                                        v->n, root[v->b - 1]),
               "a flipped bit in the path does not verify");
        }
        if (v->n > 0)
            ok(!merkle_verify_inclusion(v->a, v->b, s->leaf[v->a], (const unsigned char(*)[32])want,
                                        v->n - 1, root[v->b - 1]),
               "a truncated path does not verify");
        memcpy(bad, want, sizeof want);
        memcpy(bad[v->n], root[v->b - 1], 32);
        ok(!merkle_verify_inclusion(v->a, v->b, s->leaf[v->a], (const unsigned char(*)[32])bad,
                                    v->n + 1, root[v->b - 1]),
           "trailing garbage does not verify");
    }
    for (i = 0; i < sizeof ct_consistency / sizeof ct_consistency[0]; i++) {
        const struct vec *v = &ct_consistency[i];

        s->limit = v->b;
        n = merkle_consistency_path(v->a, v->b, store_get, s, path);
        is_int(n, v->n, "CT consistency proof length");
        vec_path(v, want);
        ok(n == v->n && memcmp(path, want, (size_t)v->n * 32) == 0, "CT consistency proof");
        ok(merkle_verify_consistency(v->a, v->b, root[v->a - 1], root[v->b - 1],
                                     (const unsigned char(*)[32])want, v->n),
           "CT consistency proof verifies");
        if (v->a != v->b) {
            ok(!merkle_verify_consistency(v->a, v->b, root[v->b - 1], root[v->a - 1],
                                          (const unsigned char(*)[32])want, v->n),
               "swapped roots do not verify");
            ok(!merkle_verify_consistency(v->a, v->b, root[v->a - 1], root[v->b - 1],
                                          (const unsigned char(*)[32])want, 0),
               "an empty proof does not verify");
            for (k = 0; k < v->n; k++) {
                memcpy(bad, want, sizeof want);
                bad[k][0] ^= 16;
                ok(!merkle_verify_consistency(v->a, v->b, root[v->a - 1], root[v->b - 1],
                                              (const unsigned char(*)[32])bad, v->n),
                   "a flipped bit in the proof does not verify");
            }
        }
    }
    (void)got;
}

/* Fill s with leaves "leaf <i>" for i < count. */
static void fill_leaves(struct store *s, uint64_t count)
{
    uint64_t i;

    for (i = 0; i < count; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "leaf %llu", (unsigned long long)i);
        merkle_leaf_hash(buf, (size_t)len, s->leaf[i]);
    }
    s->count = count;
}

/*
 * Every index of every size 1..N, every from <= to: the paths verify, fail
 * for the neighbouring index/size, and ask only for subtrees inside the tree.
 */
static void test_exhaustive(struct store *s, uint64_t N)
{
    unsigned char roots[129][32], path[MERKLE_MAX_PATH][32];
    uint64_t n, i;
    int bad_incl = 0, bad_cons = 0, beyond = 0, neg = 0, maxcalls = 0, len;

    fill_leaves(s, N);
    for (n = 1; n <= N; n++) {
        s->limit = n;
        merkle_root(n, store_get, s, roots[n]);
    }
    for (n = 1; n <= N; n++) {
        for (i = 0; i < n; i++) {
            s->limit = n;
            s->beyond = 0;
            s->calls = 0;
            len = merkle_inclusion_path(i, n, store_get, s, path);
            beyond += s->beyond;
            if (s->calls > maxcalls)
                maxcalls = s->calls;
            if (len < 0
                || !merkle_verify_inclusion(i, n, s->leaf[i], (const unsigned char(*)[32])path, len,
                                            roots[n]))
                bad_incl++;
            if (n > 1
                && merkle_verify_inclusion((i + 1) % n, n, s->leaf[i],
                                           (const unsigned char(*)[32])path, len, roots[n]))
                neg++;
            if (merkle_verify_inclusion(i, 2 * n, s->leaf[i], (const unsigned char(*)[32])path, len,
                                        roots[n]))
                neg++;
            if (n / 2 > i
                && merkle_verify_inclusion(i, n / 2, s->leaf[i], (const unsigned char(*)[32])path,
                                           len, roots[n]))
                neg++;
        }
        for (i = 1; i <= n; i++) {
            s->limit = n;
            s->beyond = 0;
            len = merkle_consistency_path(i, n, store_get, s, path);
            beyond += s->beyond;
            if (len < 0
                || !merkle_verify_consistency(i, n, roots[i], roots[n],
                                              (const unsigned char(*)[32])path, len))
                bad_cons++;
            if (i < n && i > 1
                && merkle_verify_consistency(i - 1, n, roots[i], roots[n],
                                             (const unsigned char(*)[32])path, len))
                neg++;
            if (i < n
                && merkle_verify_consistency(i, n, roots[n], roots[n],
                                             (const unsigned char(*)[32])path, len))
                neg++;
        }
    }
    is_int(bad_incl, 0, "every inclusion path of sizes 1..128 verifies");
    is_int(bad_cons, 0, "every consistency proof of sizes 1..128 verifies");
    is_int(beyond, 0, "no proof asks for a subtree past its tree size");
    is_int(neg, 0,
           "no proof verifies for a neighbouring index, a doubled or halved size, or a wrong root");
    ok(maxcalls <= 2 * 7, "an inclusion path takes O(log n) node reads");
}

static void test_errors(struct store *s)
{
    unsigned char out[32], path[MERKLE_MAX_PATH][32];

    fill_leaves(s, 8);
    s->limit = 8;
    ok(merkle_root(0, store_get, s, out) == -1, "root of size 0 is refused");
    ok(merkle_inclusion_path(8, 8, store_get, s, path) == -1, "index >= size is refused");
    ok(merkle_consistency_path(0, 8, store_get, s, path) == -1, "from 0 is refused");
    ok(merkle_consistency_path(5, 4, store_get, s, path) == -1, "from > to is refused");
    s->calls = 0;
    s->fail_at = 2;
    ok(merkle_root(7, store_get, s, out) == -1, "a failing node source fails the root");
    s->calls = 0;
    ok(merkle_inclusion_path(3, 7, store_get, s, path) == -1, "... and the inclusion path");
    s->calls = 0;
    ok(merkle_consistency_path(3, 7, store_get, s, path) == -1, "... and the consistency proof");
    s->fail_at = 0;
    merkle_root(1, store_get, s, out);
    ok(!merkle_verify_inclusion(0, 0, out, NULL, 0, out), "size 0 never verifies");
    ok(merkle_verify_inclusion(0, 1, out, NULL, 0, out),
       "a one-leaf tree: empty path, root = leaf");
    ok(!merkle_verify_consistency(0, 1, out, out, NULL, 0), "consistency from 0 is refused");
    ok(!merkle_verify_consistency(2, 1, out, out, NULL, 0), "consistency backwards is refused");
    ok(merkle_unhex("zz", 2, out) == -1, "short hex is refused");
    ok(merkle_unhex(ct_roots[0], 64, out) == 0 && strcmp(hexs(out), ct_roots[0]) == 0,
       "hex round trip");
}

/* Print roots and every proof of sizes 1..N (see the file comment). */
static int dump(struct store *s, uint64_t N)
{
    unsigned char root[32], path[MERKLE_MAX_PATH][32];
    uint64_t n, i;
    int len, k;

    fill_leaves(s, N);
    for (n = 1; n <= N; n++) {
        s->limit = n;
        if (merkle_root(n, store_get, s, root) != 0)
            return 1;
        printf("root %llu %s\n", (unsigned long long)n, hexs(root));
        for (i = 0; i < n; i++) {
            len = merkle_inclusion_path(i, n, store_get, s, path);
            if (len < 0)
                return 1;
            printf("incl %llu %llu", (unsigned long long)i, (unsigned long long)n);
            for (k = 0; k < len; k++)
                printf(" %s", hexs(path[k]));
            printf("\n");
        }
        for (i = 1; i <= n; i++) {
            len = merkle_consistency_path(i, n, store_get, s, path);
            if (len < 0)
                return 1;
            printf("cons %llu %llu", (unsigned long long)i, (unsigned long long)n);
            for (k = 0; k < len; k++)
                printf(" %s", hexs(path[k]));
            printf("\n");
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static unsigned char leaves[1024][32];
    struct store s = { leaves, 0, 0, 0, 0, 0 };

    if (argc == 3 && strcmp(argv[1], "--dump") == 0) {
        long n = strtol(argv[2], NULL, 10);
        if (n < 1 || n > 1024)
            return 2;
        return dump(&s, (uint64_t)n);
    }
    test_ct_vectors(&s);
    test_exhaustive(&s, 128);
    test_errors(&s);
    return done_testing();
}
