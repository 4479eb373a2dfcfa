/*
 * fullpass_hash.c — the full pass's hash checks, done in C from streamed
 * rows (COPY text rows or single-row mode, so memory stays flat however
 * long the log):
 *
 *   sealed_leaves_match   (fullpass_leaves.c) every sealed record, re-encoded
 *                         from its row, hashes to the leaf stored at its
 *                         position (merkle_nodes level 0)
 *   merkle_nodes_match    every stored interior node is the node hash of its
 *                         two stored children, and each level stores exactly
 *                         the complete perfect subtrees of the latest size
 *   seal_roots_match      each seal's root is the RFC 9162 root of its size,
 *                         computed from the stored nodes
 *   seal_chain_intact     seals are numbered 1..N, each seals the positions
 *                         after the previous one, links to its hash and
 *                         hashes to its stored hash
 *   seal_state_matches    the latest seal's state_hash is the commitment over
 *                         the sealed aggregates (seal_accounts/lots/markets)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/fullpass_pass.h"
#include "domain/record.h"
#include "log.h"
#include "merkle.h"
#include "util.h"

#define SEALS_PAGE "500"
#define NODE_CACHE 65536 /* consecutive seals' roots share most of their nodes */

int fullpass_unhex(const char *hex, unsigned char out[32])
{
    if (!hex)
        return -1;
    for (int i = 0; i < 32; i++) {
        int h = util_hexval(hex[2 * i]), l = h < 0 ? -1 : util_hexval(hex[2 * i + 1]);
        if (h < 0 || l < 0)
            return -1;
        out[i] = (unsigned char)(h << 4 | l);
    }
    return hex[64] == '\0' ? 0 : -1;
}

/* ---- interior nodes ------------------------------------------------------ */

#define NODE_CHUNK 32768 /* parents per round trip: they and their children, ~100,000 rows */

/* One binary-format result cell: its bytes, and its length in *len (-1: NULL). */
static const unsigned char *cell(const PGresult *res, int row, int col, int *len)
{
    *len = PQgetisnull(res, row, col) ? -1 : PQgetlength(res, row, col);
    return (const unsigned char *)PQgetvalue(res, row, col);
}

/* The stored nodes of level `level` with indexes [lo, hi) checked against their stored
 * children: audit_node_pairs' rows, placed by index. 0, or -1. */
static int node_chunk(struct fullpass *p, int level, int64_t lo, int64_t hi, unsigned char *par,
                      unsigned char *kid, unsigned char *have_par, unsigned char *have_kid)
{
    char lv[16], a[24], b[24];
    const char *v[3] = { lv, a, b };
    size_t np = (size_t)(hi - lo);
    PGresult *res;

    snprintf(lv, sizeof(lv), "%d", level);
    snprintf(a, sizeof(a), "%" PRId64, lo);
    snprintf(b, sizeof(b), "%" PRId64, hi);
    if (!(res = fullpass_exec_as(p, p->snap, SQL_AUDIT_NODE_PAIRS, v, 1)))
        return -1;
    memset(have_par, 0, np);
    memset(have_kid, 0, 2 * np);
    for (int i = 0; i < PQntuples(res); i++) {
        int ll, il, hl;
        const unsigned char *l = cell(res, i, 0, &ll), *x = cell(res, i, 1, &il),
                            *h = cell(res, i, 2, &hl);
        int64_t lvl, idx;
        if (ll != 2 || il != 8 || hl != 32) { /* a hash of another length matches nothing */
            fullpass_fail(p, "merkle_nodes_match", 1, NULL);
            continue;
        }
        lvl = fullpass_be_int(l, 2);
        idx = fullpass_be_int(x, 8);
        if (lvl == level && idx >= lo && idx < hi) {
            memcpy(par + 32 * (size_t)(idx - lo), h, 32);
            have_par[idx - lo] = 1;
        } else if (lvl == level - 1 && idx >= 2 * lo && idx < 2 * hi) {
            memcpy(kid + 32 * (size_t)(idx - 2 * lo), h, 32);
            have_kid[idx - 2 * lo] = 1;
        }
    }
    p->rows += PQntuples(res);
    PQclear(res);
    for (size_t i = 0; i < np; i++) {
        unsigned char want[32];
        if (!have_par[i])
            continue; /* an absent node is verify_levels' finding */
        if (!have_kid[2 * i] || !have_kid[2 * i + 1]) {
            fullpass_fail(p, "merkle_nodes_match", 1, NULL);
            continue;
        }
        merkle_node_hash(kid + 64 * i, kid + 64 * i + 32, want);
        if (memcmp(want, par + 32 * i, 32) != 0)
            fullpass_fail(p, "merkle_nodes_match", 1, NULL);
    }
    return fullpass_report(p, 0);
}

/* Levels 1 .. b are checked a block of 2^b leaves at a time, every level of the
 * block in one round trip (~65,000 rows at b = NODE_BLOCK_LEVELS); those above, which
 * hold few nodes, by node_chunk. b is NODE_BLOCK_LEVELS, or less on a tree below 2^17
 * leaves, so that its top levels are too. Level l of a block starts at slot
 * block_off(b, l) of the block's arrays. */
#define NODE_BLOCK_LEVELS 15
#define NODE_BLOCK ((int64_t)1 << NODE_BLOCK_LEVELS)

static size_t block_off(int b, int l)
{
    return (size_t)((2 << b) - (2 << b >> l));
}

int fullpass_node_block_levels(const struct fullpass *p)
{
    int bl = NODE_BLOCK_LEVELS;

    while (bl > 1 && ((int64_t)1 << (bl + 2)) > p->tree_size)
        bl--;
    return bl;
}

void fullpass_node_block_params(int bl, int64_t lo, char a[24], char b[24], char top[8])
{
    snprintf(a, 24, "%" PRId64, lo);
    snprintf(b, 24, "%" PRId64, lo + ((int64_t)1 << bl));
    snprintf(top, 8, "%d", bl);
}

int fullpass_node_buffers(struct fullpass *p)
{
    if (!p->blk_h)
        p->blk_h = malloc((size_t)(64 * NODE_BLOCK));
    if (!p->blk_have)
        p->blk_have = malloc((size_t)(2 * NODE_BLOCK));
    if (p->blk_h && p->blk_have)
        return 0;
    snprintf(p->err, sizeof(p->err), "out of memory");
    return -1;
}

void fullpass_node_block_check(struct fullpass *p, int bl, int64_t lo, const PGresult *res)
{
    const int64_t n = (int64_t)1 << bl;
    unsigned char *h = p->blk_h, *have = p->blk_have;

    memset(have, 0, (size_t)(2 * n));
    for (int i = 0; i < PQntuples(res); i++) {
        int ll, il, hl;
        const unsigned char *l = cell(res, i, 0, &ll), *x = cell(res, i, 1, &il),
                            *hh = cell(res, i, 2, &hl);
        int64_t lvl = ll == 2 ? fullpass_be_int(l, 2) : -1,
                idx = il == 8 ? fullpass_be_int(x, 8) : -1;
        if (hl != 32 || lvl < 0 || lvl > bl || idx < lo >> lvl
            || idx >= (lo + n) >> lvl) { /* malformed, or outside the block: matches nothing */
            fullpass_fail(p, "merkle_nodes_match", 1, NULL);
            continue;
        }
        memcpy(h + 32 * (block_off(bl, (int)lvl) + (size_t)(idx - (lo >> lvl))), hh, 32);
        have[block_off(bl, (int)lvl) + (size_t)(idx - (lo >> lvl))] = 1;
    }
    p->rows += PQntuples(res);
    for (int l = 1; l <= bl; l++)
        for (size_t i = 0; i < (size_t)(n >> l); i++) {
            size_t at = block_off(bl, l) + i, kid = block_off(bl, l - 1) + 2 * i;
            unsigned char want[32];
            if (!have[at])
                continue; /* an absent node is verify_levels' finding */
            if (!have[kid] || !have[kid + 1]) {
                fullpass_fail(p, "merkle_nodes_match", 1, NULL);
                continue;
            }
            merkle_node_hash(h + 32 * kid, h + 32 * (kid + 1), want);
            if (memcmp(want, h + 32 * at, 32) != 0)
                fullpass_fail(p, "merkle_nodes_match", 1, NULL);
        }
}

int fullpass_node_block(struct fullpass *p, int64_t lo)
{
    int bl = fullpass_node_block_levels(p);
    char a[24], b[24], top[8];
    const char *v[3] = { a, b, top };
    PGresult *res;

    fullpass_node_block_params(bl, lo, a, b, top);
    if (!(res = fullpass_exec_as(p, p->snap, SQL_AUDIT_NODE_BLOCK, v, 1)))
        return -1;
    fullpass_node_block_check(p, bl, lo, res);
    PQclear(res);
    return fullpass_report(p, 0);
}

/*
 * Every stored interior node is the node hash of its two stored children.
 * The lower levels a block of leaves at a time (node_block: each
 * node read once, not once as a parent and again as a child); above them
 * level by level, NODE_CHUNK parents at a time, each chunk two index range
 * scans (the parents, then their children: consecutive parents have
 * consecutive children), so the client's memory and the server's work stay
 * flat (one join of all nodes with all nodes hashed 10M rows twice and
 * spilled: 15 s of a 10M-entry pass). levels: audit_node_levels' result
 * (each level's highest and lowest index).
 */
static int verify_nodes(struct fullpass *p, PGresult *levels)
{
    unsigned char *par = malloc(32 * NODE_CHUNK), *kid = malloc(64 * NODE_CHUNK),
                  *hp = malloc(NODE_CHUNK), *hk = malloc(2 * NODE_CHUNK);
    int rc = 0, bl;

    if (!par || !kid || !hp || !hk) {
        snprintf(p->err, sizeof(p->err), "out of memory");
        rc = -1;
    }
    bl = fullpass_node_block_levels(p);
    /* nodes outside the blocks are verify_levels' finding: it counts every level;
     * on postgres the second connection checked the blocks beside the records */
    if (rc == 0 && !p->blocks_on_chk)
        rc = fullpass_node_buffers(p);
    for (int64_t lo = 0; rc == 0 && !p->blocks_on_chk && lo < p->tree_size; lo += (int64_t)1 << bl)
        rc = fullpass_node_block(p, lo);
    for (int i = 0; rc == 0 && i < PQntuples(levels); i++) {
        int level = atoi(PQgetvalue(levels, i, 0));
        int64_t max = strtoll(PQgetvalue(levels, i, 2), NULL, 10);
        int64_t lo = strtoll(PQgetvalue(levels, i, 3), NULL, 10);
        int64_t want = level < 63 ? (int64_t)((uint64_t)p->tree_size >> level) : 0;
        if (level <= bl)
            continue;
        /* indexes far outside 0 .. want - 1 are verify_levels' finding already */
        lo = lo < -NODE_CHUNK ? -NODE_CHUNK : lo;
        max = max > want + NODE_CHUNK ? want + NODE_CHUNK : max;
        for (int64_t a = lo; rc == 0 && a <= max; a += NODE_CHUNK)
            rc = node_chunk(p, level, a, max - a >= NODE_CHUNK ? a + NODE_CHUNK : max + 1, par, kid,
                            hp, hk);
    }
    free(par);
    free(kid);
    free(hp);
    free(hk);
    return rc;
}

/* Each level k > 0 stores exactly tree_size >> k nodes, indexes 0 .. count - 1, each
 * the hash of its two children (verify_nodes). */
static int verify_levels(struct fullpass *p)
{
    PGresult *res = fullpass_exec(p, p->snap, SQL_AUDIT_NODE_LEVELS, NULL);
    int top = 0;

    if (!res)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        int level = atoi(PQgetvalue(res, i, 0));
        int64_t n = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        int64_t max = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        int64_t min = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        int64_t want = level < 63 ? (int64_t)((uint64_t)p->tree_size >> level) : 0;
        if (level > top)
            top = level;
        if (level > 0 && (n != want || max != n - 1 || min != 0))
            fullpass_fail(p, "merkle_nodes_match",
                          n > want       ? n - want
                              : n < want ? want - n
                                         : 1,
                          NULL);
    }
    if (verify_nodes(p, res) < 0) {
        PQclear(res);
        return -1;
    }
    PQclear(res);
    /* a level with complete subtrees but no row at all */
    for (int level = top + 1; level < 63 && ((uint64_t)p->tree_size >> level) > 0; level++)
        fullpass_fail(p, "merkle_nodes_match", (int64_t)((uint64_t)p->tree_size >> level), NULL);
    return 0;
}

/* ---- roots and the chain ------------------------------------------------- */

struct node_cache {
    struct fullpass *p;
    struct {
        int level;
        uint64_t idx;
        unsigned char h[32];
        int used;
    } slot[NODE_CACHE];
};

/* merkle_node_fn over the stored nodes, through a small direct-mapped cache. */
static int node_get(void *ctx, int level, uint64_t idx, unsigned char out[32])
{
    struct node_cache *c = ctx;
    size_t s = (idx * 31 + (uint64_t)level) % NODE_CACHE;
    char lv[8], ix[24];
    const char *v[2] = { lv, ix };
    PGresult *res;
    int rc = -1;

    if (c->slot[s].used && c->slot[s].level == level && c->slot[s].idx == idx) {
        memcpy(out, c->slot[s].h, 32);
        return 0;
    }
    snprintf(lv, sizeof(lv), "%d", level);
    snprintf(ix, sizeof(ix), "%" PRIu64, idx);
    res = fullpass_exec(c->p, c->p->snap, SQL_AUDIT_NODE_GET, v);
    if (!res)
        return -1;
    if (PQntuples(res) == 1 && fullpass_unhex(PQgetvalue(res, 0, 0), out) == 0) {
        c->slot[s].used = 1;
        c->slot[s].level = level;
        c->slot[s].idx = idx;
        memcpy(c->slot[s].h, out, 32);
        rc = 0;
    }
    PQclear(res);
    c->p->rows++;
    return rc;
}

struct chain {
    int64_t no, size;
    unsigned char hash[32]; /* the previous seal's (zeros before seal 1) */
};

/* One seal row: its root from the nodes, its link and its hash. */
static void seal_check(struct fullpass *p, struct node_cache *nc, struct chain *ch,
                       const PGresult *r, int i)
{
    int64_t no = strtoll(PQgetvalue(r, i, 0), NULL, 10),
            size = strtoll(PQgetvalue(r, i, 1), NULL, 10);
    int64_t records = strtoll(PQgetvalue(r, i, 2), NULL, 10);
    unsigned char root[32], state[32], prev[32], hash[32], got[32];
    char err[sizeof(p->err)];

    if (fullpass_unhex(PQgetvalue(r, i, 3), root) < 0
        || fullpass_unhex(PQgetvalue(r, i, 4), state) < 0
        || fullpass_unhex(PQgetvalue(r, i, 5), prev) < 0
        || fullpass_unhex(PQgetvalue(r, i, 6), hash) < 0) {
        fullpass_fail(p, "seal_chain_intact", 1, PQgetvalue(r, i, 0));
        return;
    }
    memcpy(err, p->err, sizeof(err));
    if (size <= 0 || merkle_root((uint64_t)size, node_get, nc, got) < 0
        || memcmp(got, root, 32) != 0)
        fullpass_fail(p, "seal_roots_match", 1, PQgetvalue(r, i, 0));
    memcpy(p->err, err, sizeof(err)); /* a missing node is a finding, not an error */
    if (no != ch->no + 1 || size - records != ch->size || memcmp(prev, ch->hash, 32) != 0)
        fullpass_fail(p, "seal_chain_intact", 1, PQgetvalue(r, i, 0));
    record_seal_hash((uint64_t)no, (uint64_t)size, root, state, prev, got);
    if (memcmp(got, hash, 32) != 0)
        fullpass_fail(p, "seal_chain_intact", 1, PQgetvalue(r, i, 0));
    ch->no = no;
    ch->size = size;
    memcpy(ch->hash, hash, 32);
}

static int verify_seals(struct fullpass *p)
{
    struct node_cache *nc = calloc(1, sizeof(*nc));
    struct chain ch = { 0, 0, { 0 } };
    char after[24];
    const char *v[2] = { after, SEALS_PAGE };
    int n, rc = 0;

    if (!nc) {
        snprintf(p->err, sizeof(p->err), "out of memory");
        return -1;
    }
    nc->p = p;
    do {
        PGresult *res;
        snprintf(after, sizeof(after), "%" PRId64, ch.no);
        res = fullpass_exec(p, p->snap, SQL_AUDIT_SEALS_PAGE, v);
        if (!res) {
            rc = -1;
            break;
        }
        n = PQntuples(res);
        for (int i = 0; i < n; i++)
            seal_check(p, nc, &ch, res, i);
        p->rows += n;
        PQclear(res);
        if (fullpass_report(p, 0) < 0)
            rc = -1;
    } while (rc == 0 && n == atoi(SEALS_PAGE));
    if (rc == 0 && (ch.no != p->seal_no || ch.size != p->tree_size))
        fullpass_fail(p, "seal_chain_intact", 1, NULL);
    free(nc);
    return rc;
}

/* ---- the state commitment ------------------------------------------------ */

struct aggs {
    struct record_agg *a;
    size_t n, cap;
};

static int agg_row(struct fullpass *p, const char *const *f, int nf, void *ctx)
{
    struct aggs *g = ctx;

    if (nf < 3 || !f[0] || !f[1] || !f[2] || (nf > 3 && !f[3])) {
        snprintf(p->err, sizeof(p->err), "a malformed aggregate row");
        return -1;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 256;
        struct record_agg *a = realloc(g->a, cap * sizeof(*a));
        if (!a) {
            snprintf(p->err, sizeof(p->err), "out of memory");
            return -1;
        }
        g->a = a;
        g->cap = cap;
    }
    snprintf(g->a[g->n].id, sizeof(g->a[g->n].id), "%s", f[0]);
    g->a[g->n].a = strtoll(f[1], NULL, 10);
    g->a[g->n].b = strtoll(f[2], NULL, 10);
    g->a[g->n].c = nf > 3 ? strtoll(f[3], NULL, 10) : 0; /* accounts: two */
    g->n++;
    return 0;
}

/* The aggregates are current state (accounts, lots, markets), not history: held in memory. */
static int verify_state(struct fullpass *p)
{
    static const enum sql_id ids[3] = { SQL_AUDIT_STATE_ACCOUNTS, SQL_AUDIT_STATE_LOTS,
                                        SQL_AUDIT_STATE_MARKETS };
    struct aggs g[3];
    unsigned char got[32];
    int rc = 0;

    memset(g, 0, sizeof(g));
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = fullpass_stream(p, ids[i], NULL, NULL, agg_row, &g[i]);
    if (rc == 0 && p->seal_no > 0
        && (record_state_hash((uint64_t)p->tree_size, g[0].a, g[0].n, g[1].a, g[1].n, g[2].a,
                              g[2].n, got)
                < 0
            || memcmp(got, p->state_hash, 32) != 0))
        fullpass_fail(p, "seal_state_matches", 1, NULL);
    if (rc == 0 && p->seal_no == 0 && g[0].n + g[1].n + g[2].n > 0)
        fullpass_fail(p, "seal_state_matches", (int64_t)(g[0].n + g[1].n + g[2].n), NULL);
    for (int i = 0; i < 3; i++)
        free(g[i].a);
    return rc;
}

/* Seconds on the monotonic clock. */
static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int fullpass_verify_hashes(struct fullpass *p)
{
    static int (*const part[4])(struct fullpass *) = { fullpass_verify_leaves, verify_levels,
                                                       verify_seals, verify_state };
    double t[5];

    t[0] = now_s();
    for (int i = 0; i < 4; i++) {
        if (part[i](p) < 0)
            return -1;
        t[i + 1] = now_s();
    }
    /* where a pass's time goes, for whoever tunes it (docs/OPERATIONS.md) */
    log_info("full pass %s: records %.1f s, node levels %.1f s, seals %.1f s, state %.1f s", p->id,
             t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[3]);
    return 0;
}
