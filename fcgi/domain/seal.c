/*
 * seal.c — the sealer (see seal.h). One seal is four round trips in one
 * REPEATABLE READ transaction:
 *   1. the transaction's settings (no JIT), take/renew the lease, the
 *      latest seal, the tree's right edge, every evidence and constraint
 *      check, the oldest unsealed transfers and their entries (a checked
 *      seal of a run reads SEAL_VERIFY_AHEAD times what it can take and
 *      keeps their prints: struct seal_verified);
 *   2. mark the transfers that fit the row budget, then read the other
 *      kinds' candidates (their rules ask for sealed transfers, which this
 *      transaction's own marks now satisfy; credit limits only once every
 *      candidate transfer fit: docs/PROOF-FORMAT.md "limit");
 *   3. mark the rest, store the Merkle nodes, fold the aggregates, read
 *      every aggregate back for the state commitment;
 *   4. insert the seal row and commit.
 * A seal without checks (seal_once_verified) skips the checks in 1 and
 * takes only the oldest transfers whose prints a checked seal of the same
 * run kept, each unchanged; it has no round trip 2 (it reads nothing else):
 * 3 marks the transfers and their entries too.
 * Rows it writes are counted against cfg->seal_batch_rows as they are
 * accepted: the row, its Merkle nodes, each new aggregate row, and two
 * for the seal row and the lease.
 */
#include "domain/seal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/checks.h"
#include "domain/seal_batch.h"
#include "log.h"

#define SEAL_LEASE_TTL "10000" /* ms; renewed by every seal */
/* A checked seal of a run reads (and verifies) this many times the
 * transfers it can take itself: later seals of the run take them unchecked. */
#define SEAL_VERIFY_AHEAD 24
#define SEAL_MAX_STMTS 64
#define SEAL_MAX_TEXTS 34 /* arrays: marks 2 + 14, Merkle nodes 3, folds 6 + 4 + 4 */
#define SEAL_MAX_PARAMS 11
static int lease_missed; /* this process's last seal found the lease taken: seal_lease_probe */

struct seal_ctx {
    const struct zs_config *cfg;
    const char *owner;
    int batch_rows;
    struct seal_result *out;
    struct seal_verified *v; /* NULL: no run to verify for (seal_once) */
    int checked;             /* run every check in this seal's snapshot */
    int unverified;          /* not checked, and the oldest transfer is not in v */
    struct seal_batch b;
    struct seal_tree tree;
    int64_t prev_no;
    unsigned char prev_hash[RECORD_HASH_LEN];
    int64_t prev_totals[SEAL_TOTALS];          /* what every seal so far sealed, by kind */
    unsigned char prev_state[RECORD_HASH_LEN]; /* the latest seal's state commitment */
    struct tx_stmt st[SEAL_MAX_STMTS];
    int nst;
    struct record_text txt[SEAL_MAX_TEXTS];
    int ntxt;
    char num[8][24];
    const char *p[SEAL_MAX_STMTS][SEAL_MAX_PARAMS];
};

/* Free what an attempt built (the result stays). */
static void ctx_free(struct seal_ctx *c)
{
    seal_batch_free(&c->b);
    seal_tree_free(&c->tree);
    memset(&c->tree, 0, sizeof(c->tree));
    for (int i = 0; i < c->ntxt; i++)
        record_text_free(&c->txt[i]);
    c->ntxt = 0;
    c->prev_no = 0;
    memset(c->prev_hash, 0, sizeof(c->prev_hash));
    memset(c->prev_totals, 0, sizeof(c->prev_totals));
}

/* Start an attempt afresh: nothing built, the result an error until decided. */
static void ctx_reset(struct seal_ctx *c)
{
    ctx_free(c);
    memset(c->out, 0, sizeof(*c->out));
    c->out->outcome = SEAL_ERROR;
    c->unverified = 0;
}

static void clear_results(struct seal_ctx *c)
{
    for (int i = 0; i < c->nst; i++) {
        PQclear(c->st[i].res);
        c->st[i].res = NULL;
    }
    c->nst = 0;
}

/* Queue statement id with n parameters (copied pointers); its index. */
static int add_stmt(struct seal_ctx *c, enum sql_id id, int n, ...)
{
    va_list ap;
    int i = c->nst++;

    va_start(ap, n);
    for (int k = 0; k < n && k < SEAL_MAX_PARAMS; k++)
        c->p[i][k] = va_arg(ap, const char *);
    va_end(ap);
    c->st[i] = tx_stmt_named(id, c->p[i]);
    return i;
}

static struct record_text *new_text(struct seal_ctx *c)
{
    struct record_text *t = &c->txt[c->ntxt++];

    memset(t, 0, sizeof(*t));
    return t;
}

/* A bytea as PostgreSQL prints it ("\x" + 64 hex digits) into out. 0 or -1. */
static int parse_hash(const char *s, unsigned char out[RECORD_HASH_LEN])
{
    if (!s || strncmp(s, "\\x", 2) != 0 || strlen(s) != 2 + 2 * RECORD_HASH_LEN)
        return -1;
    for (int i = 0; i < RECORD_HASH_LEN; i++) {
        unsigned int v;
        if (sscanf(s + 2 + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* ---- round trip 1 --------------------------------------------------------- */

/* The latest seal and the tree's right edge from results il, ie. 0 or -1. */
static int read_tree(struct seal_ctx *c, const PGresult *latest, const PGresult *edge)
{
    uint64_t size = 0;
    int bits = 0;

    if (PQntuples(latest) == 1) {
        c->prev_no = seal_i64(PQgetvalue(latest, 0, 0));
        size = (uint64_t)seal_i64(PQgetvalue(latest, 0, 1));
        if (parse_hash(PQgetvalue(latest, 0, 2), c->prev_hash) < 0
            || seal_totals_parse(PQgetvalue(latest, 0, 3), c->prev_totals) < 0
            || parse_hash(PQgetvalue(latest, 0, 4), c->prev_state) < 0)
            return -1;
    }
    for (uint64_t s = size; s; s >>= 1)
        bits += (int)(s & 1);
    if (PQntuples(edge) != bits || bits > 63)
        return -1;
    for (int i = 0; i < bits; i++) {
        struct seal_node *n = &c->tree.edge[i];
        n->level = (int)seal_i64(PQgetvalue(edge, i, 0));
        n->idx = (uint64_t)seal_i64(PQgetvalue(edge, i, 1));
        if (parse_hash(PQgetvalue(edge, i, 2), n->hash) < 0 || n->idx != (size >> n->level) - 1)
            return -1;
    }
    c->tree.nedge = bits;
    c->tree.size = size;
    c->b.first = size;
    c->out->seal_no = c->prev_no;
    c->out->tree_size = (int64_t)size;
    return 0;
}

/* Fail the seal as blocked by check name. */
static enum tx_decision blocked(struct seal_ctx *c, const char *name)
{
    c->out->outcome = SEAL_BLOCKED;
    snprintf(c->out->blocked, sizeof(c->out->blocked), "%s", name);
    return TX_ROLLBACK;
}

/* Queue every evidence and constraint check (one statement for the checks it answers). */
static void queue_checks(struct seal_ctx *c, enum zs_dialect d)
{
    for (size_t i = 0; i < checks_count; i++)
        if (checks[i].kind != CHECK_BOUND && check_answered_by(i, d) == i)
            add_stmt(c, checks[i].sql, 0);
}

static int state_hash(struct seal_ctx *c, int ia, int il, int im, unsigned char out[32]);

/* Unchecked, a seal signs what it folds into: the aggregates the last seal signed? */
static int aggregates_as_signed(struct seal_ctx *c, int ia, int il, int im)
{
    unsigned char now[RECORD_HASH_LEN];

    if (c->prev_no > 0 && state_hash(c, ia, il, im, now) == 0
        && memcmp(now, c->prev_state, sizeof(now)) == 0)
        return 1;
    log_warn("seal: the sealed aggregates are not what seal %lld signed: checking again",
             (long long)c->prev_no);
    return 0;
}

/* Round trip 1. TX_COMMIT to go on, or the decision to return. */
static enum tx_decision round1(struct tx *tx, struct seal_ctx *c)
{
    int first_check, itr, ien, rc, take = -1, ia = -1, il = -1, im = -1;
    int64_t lim = c->b.budget / 4 + 1, want = c->checked && c->v ? lim * SEAL_VERIFY_AHEAD : lim;
    enum tx_decision d;

    if (lease_missed && (d = seal_lease_probe(tx, c->owner, SEAL_LEASE_TTL, c->out)) != TX_COMMIT)
        return d;
    snprintf(c->num[0], sizeof(c->num[0]), "%lld", (long long)want);
    add_stmt(c, SQL_SEAL_SETTINGS, 0);
    add_stmt(c, SQL_SEAL_LEASE_TAKE, 2, c->owner, SEAL_LEASE_TTL);
    add_stmt(c, SQL_SEAL_LATEST, 0);
    add_stmt(c, SQL_SEAL_FRONTIER, 0);
    first_check = c->nst;
    if (c->checked)
        queue_checks(c, tx->dialect);
    itr = add_stmt(c, SQL_SEAL_CANDIDATE_TRANSFERS, 1, c->num[0]);
    ien = add_stmt(c, SQL_SEAL_CANDIDATE_ENTRIES, 1, c->num[0]);
    if (!c->checked) {
        ia = add_stmt(c, SQL_SEAL_STATE_ACCOUNTS, 0);
        il = add_stmt(c, SQL_SEAL_STATE_LOTS, 0);
        im = add_stmt(c, SQL_SEAL_STATE_MARKETS, 0);
    }
    if (tx_exec_many(tx, c->st, c->nst, 0) < 0) {
        c->nst = 0;
        return TX_ERROR;
    }
    if ((lease_missed = strcmp(PQcmdTuples(c->st[1].res), "1") != 0)) {
        c->out->outcome = SEAL_NO_LEASE;
        return TX_ROLLBACK;
    }
    for (size_t k = 0; c->checked && k < checks_count; k++)
        if (checks[k].kind != CHECK_BOUND
            && seal_i64(PQgetvalue(c->st[first_check + (int)check_slot(k, tx->dialect)].res, 0,
                                   checks[k].col))
                != 0)
            return blocked(c, checks[k].name);
    if (read_tree(c, c->st[2].res, c->st[3].res) < 0) {
        log_error("seal: the latest seal or the tree's right edge is malformed or missing");
        return TX_ROLLBACK;
    }
    if (PQntuples(c->st[itr].res) >= want)
        c->b.full = 1;
    if (!c->checked) {
        if (!aggregates_as_signed(c, ia, il, im)) {
            c->unverified = 1;
            return TX_ROLLBACK;
        }
        /* only transfers verified as they are now, oldest first */
        take = seal_verified_prefix(c->v, c->st[itr].res, c->st[ien].res);
        if (take <= 0) {
            c->unverified = take == 0;
            return TX_ROLLBACK;
        }
    }
    rc = seal_take_transfers(&c->b, c->st[itr].res, c->st[ien].res, take);
    if (rc == -2)
        return blocked(c, "transfers_balanced");
    if (rc == 0 && c->checked && c->v
        && seal_verified_fill(c->v, c->st[itr].res, c->st[ien].res) < 0)
        log_warn("seal: out of memory keeping the verified transfers (the next seal checks again)");
    return rc < 0 ? TX_ROLLBACK : TX_COMMIT;
}

/* ---- round trip 2 --------------------------------------------------------- */

/* Queue the mark statement of kind k if the batch has any; its index or -1. */
static int queue_marks(struct seal_ctx *c, enum record_kind k, enum sql_id id)
{
    struct record_text *ids, *pos;

    if (c->b.counts[k] == 0)
        return -1;
    ids = new_text(c);
    pos = new_text(c);
    seal_batch_arrays(&c->b, k, ids, pos);
    return add_stmt(c, id, 2, ids->p, pos->p);
}

/* 1 if mark statement i (or none: -1) updated exactly want rows. */
static int marked(const struct seal_ctx *c, int i, long want)
{
    return i < 0 || atol(PQcmdTuples(c->st[i].res)) == want;
}

/* Queue the transfers' and their entries' marks if the batch has transfers: their indexes or -1. */
static void queue_transfer_marks(struct seal_ctx *c, int *mt, int *me)
{
    *mt = queue_marks(c, RECORD_TRANSFER, SQL_SEAL_MARK_TRANSFERS);
    *me = -1;
    if (*mt >= 0)
        *me = add_stmt(c, SQL_SEAL_MARK_ENTRIES, 2, c->txt[c->ntxt - 2].p, c->txt[c->ntxt - 1].p);
}

/* 1 if marks mt, me sealed every transfer and entry of the batch; else 0 (logged). */
static int transfers_marked(const struct seal_ctx *c, int mt, int me)
{
    if (marked(c, mt, c->b.counts[RECORD_TRANSFER]) && marked(c, me, c->b.entries))
        return 1;
    log_error("seal: rows changed under the seal (another sealer?)");
    return 0;
}

/* Round trip 2. */
static enum tx_decision round2(struct tx *tx, struct seal_ctx *c)
{
    int mt, me, ih, il, ib, ifl, io, ip, ic, cut = c->b.full; /* transfers left for later */

    clear_results(c);
    snprintf(c->num[1], sizeof(c->num[1]), "%lld", (long long)(c->b.budget / 2 + 1));
    queue_transfer_marks(c, &mt, &me);
    ih = add_stmt(c, SQL_SEAL_CANDIDATE_HOLDS, 1, c->num[1]);
    il = add_stmt(c, SQL_SEAL_CANDIDATE_LOTS, 1, c->num[1]);
    ib = add_stmt(c, SQL_SEAL_CANDIDATE_BIDS, 1, c->num[1]);
    ifl = add_stmt(c, SQL_SEAL_CANDIDATE_FILLS, 1, c->num[1]);
    io = add_stmt(c, SQL_SEAL_CANDIDATE_ORDERS, 1, c->num[1]);
    ip = add_stmt(c, SQL_SEAL_CANDIDATE_PENDING, 1, c->num[1]);
    ic = add_stmt(c, SQL_SEAL_CANDIDATE_LIMITS, 1, c->num[1]);
    if (tx_exec_many(tx, c->st, c->nst, 0) < 0) {
        c->nst = 0;
        return TX_ERROR;
    }
    if (!transfers_marked(c, mt, me))
        return TX_ROLLBACK;
    for (int i = ih; i <= ic; i++)
        if (i != ib && PQntuples(c->st[i].res) >= atol(c->num[1]))
            c->b.full = 1;
    if (seal_take_holds(&c->b, c->st[ih].res) < 0
        || seal_take_lots(&c->b, c->st[il].res, c->st[ib].res) < 0
        || seal_take_fills(&c->b, c->st[ifl].res) < 0
        || seal_take_plain(&c->b, RECORD_ORDER, c->st[io].res, RO_AT) < 0
        || seal_take_plain(&c->b, RECORD_PENDING, c->st[ip].res, RP_AT) < 0
        || (!cut && seal_take_plain(&c->b, RECORD_LIMIT, c->st[ic].res, RC_AT) < 0))
        return TX_ROLLBACK;
    return TX_COMMIT;
}

/* ---- round trips 3 and 4 -------------------------------------------------- */

/* Queue the fold upsert of f (three: lots and markets) if it has rows. */
static void queue_fold(struct seal_ctx *c, const struct seal_folds *f, int three, enum sql_id id)
{
    struct record_text *a[SEAL_FOLD_ARRAYS];
    struct record_text tmp[SEAL_FOLD_ARRAYS];

    if (f->n == 0)
        return;
    memset(tmp, 0, sizeof(tmp));
    seal_folds_arrays(f, three, tmp);
    for (int k = 0; k < (three ? 4 : SEAL_FOLD_ARRAYS); k++) {
        a[k] = new_text(c);
        *a[k] = tmp[k];
    }
    if (three)
        add_stmt(c, id, 4, a[0]->p, a[1]->p, a[2]->p, a[3]->p);
    else
        add_stmt(c, id, 6, a[0]->p, a[1]->p, a[2]->p, a[3]->p, a[4]->p, a[5]->p);
}

/* The aggregates of result res (an id and two or three counters). NULL on OOM. */
static struct record_agg *read_aggs(const PGresult *res, int three)
{
    int n = PQntuples(res);
    struct record_agg *a = calloc((size_t)(n ? n : 1), sizeof(*a));

    for (int i = 0; a && i < n; i++) {
        snprintf(a[i].id, sizeof(a[i].id), "%s", PQgetvalue(res, i, 0));
        a[i].a = seal_i64(PQgetvalue(res, i, 1));
        a[i].b = seal_i64(PQgetvalue(res, i, 2));
        a[i].c = three ? seal_i64(PQgetvalue(res, i, 3)) : 0;
    }
    return a;
}

/* Microseconds since t0 (CLOCK_MONOTONIC). */
static long us_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - t0->tv_sec) * 1000000 + (now.tv_nsec - t0->tv_nsec) / 1000;
}

/* The state commitment over the aggregate results ia, il, im. 0 or -1. */
static int state_hash(struct seal_ctx *c, int ia, int il, int im, unsigned char out[32])
{
    struct record_agg *a = read_aggs(c->st[ia].res, 0), *l = read_aggs(c->st[il].res, 1),
                      *m = read_aggs(c->st[im].res, 1);
    int rc = -1;

    if (a && l && m)
        rc = record_state_hash(c->tree.size, a, (size_t)PQntuples(c->st[ia].res), l,
                               (size_t)PQntuples(c->st[il].res), m,
                               (size_t)PQntuples(c->st[im].res), out);
    free(a);
    free(l);
    free(m);
    return rc;
}

/* Round trip 3: the marks, nodes and folds; then the state hash into state. */
static enum tx_decision round3(struct tx *tx, struct seal_ctx *c, unsigned char state[32])
{
    static const struct {
        enum record_kind k;
        enum sql_id id;
    } marks[] = { { RECORD_HOLD, SQL_SEAL_MARK_HOLDS },   { RECORD_BID, SQL_SEAL_MARK_BIDS },
                  { RECORD_LOT, SQL_SEAL_MARK_LOTS },     { RECORD_FILL, SQL_SEAL_MARK_FILLS },
                  { RECORD_ORDER, SQL_SEAL_MARK_ORDERS }, { RECORD_PENDING, SQL_SEAL_MARK_PENDING },
                  { RECORD_LIMIT, SQL_SEAL_MARK_LIMITS } };
    int im[7], ia, il, imk, rc, mt = -1, me = -1;
    struct record_text *lv, *ix, *hs;
    struct timespec t0;

    clear_results(c);
    if (!c->checked) /* no round trip 2: the transfers' marks come here */
        queue_transfer_marks(c, &mt, &me);
    for (int k = 0; k < 7; k++)
        im[k] = queue_marks(c, marks[k].k, marks[k].id);
    lv = new_text(c);
    ix = new_text(c);
    hs = new_text(c);
    seal_tree_arrays(&c->tree, lv, ix, hs);
    add_stmt(c, SQL_SEAL_MERKLE_INSERT, 3, lv->p, ix->p, hs->p);
    queue_fold(c, &c->b.accounts, 0, SQL_SEAL_FOLD_ACCOUNTS);
    queue_fold(c, &c->b.lots, 1, SQL_SEAL_FOLD_LOTS);
    queue_fold(c, &c->b.markets, 1, SQL_SEAL_FOLD_MARKETS);
    ia = add_stmt(c, SQL_SEAL_STATE_ACCOUNTS, 0);
    il = add_stmt(c, SQL_SEAL_STATE_LOTS, 0);
    imk = add_stmt(c, SQL_SEAL_STATE_MARKETS, 0);
    for (int i = 0; i < c->ntxt; i++)
        if (c->txt[i].oom)
            return TX_ROLLBACK;
    if (tx_exec_many(tx, c->st, c->nst, 0) < 0) {
        c->nst = 0;
        return TX_ERROR;
    }
    if (!transfers_marked(c, mt, me))
        return TX_ROLLBACK;
    for (int k = 0; k < 7; k++)
        if (!marked(c, im[k], c->b.counts[marks[k].k])) {
            log_error("seal: rows changed under the seal (another sealer?)");
            return TX_ROLLBACK;
        }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = state_hash(c, ia, il, imk, state);
    c->out->checkpoint_us = us_since(&t0);
    return rc < 0 ? TX_ROLLBACK : TX_COMMIT;
}

/* Round trip 4: the seal row, with COMMIT. */
static enum tx_decision round4(struct tx *tx, struct seal_ctx *c, const unsigned char state[32])
{
    unsigned char root[32], hash[32];
    char hroot[65], hstate[65], hprev[65], hhash[65], counts[160], totals[256], no[24], size[24],
        recs[24], oldest[24];
    int64_t at = c->b.items[0].at;
    char *note;
    int rc;
    struct timespec t0, ts;

    clear_results(c);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    seal_tree_root(&c->tree, root);
    record_seal_hash((uint64_t)c->prev_no + 1, c->tree.size, root, state, c->prev_hash, hash);
    record_hex(root, 32, hroot);
    record_hex(state, 32, hstate);
    record_hex(c->prev_hash, 32, hprev);
    record_hex(hash, 32, hhash);
    seal_batch_counts(&c->b, counts, sizeof(counts));
    seal_batch_totals(&c->b, c->prev_totals, totals, sizeof(totals));
    for (size_t i = 1; i < c->b.n; i++)
        if (c->b.items[i].at < at)
            at = c->b.items[i].at;
    snprintf(no, sizeof(no), "%lld", (long long)c->prev_no + 1);
    snprintf(size, sizeof(size), "%llu", (unsigned long long)c->tree.size);
    snprintf(recs, sizeof(recs), "%zu", c->b.n);
    snprintf(oldest, sizeof(oldest), "%lld", (long long)at);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    note = seal_sign_checkpoint(c->cfg, c->tree.size, root, state);
    c->out->sign_us = us_since(&ts);
    c->out->checkpoint_us += us_since(&t0);
    add_stmt(c, SQL_SEAL_INSERT, 11, no, size, recs, counts, hroot, hstate, hprev, hhash, note,
             oldest, totals);
    rc = tx_exec_many(tx, c->st, c->nst, 1);
    free(note);
    if (rc < 0) {
        c->nst = 0;
        return TX_ERROR;
    }
    c->out->seal_no = c->prev_no + 1;
    c->out->tree_size = (int64_t)c->tree.size;
    c->out->records = (int)c->b.n;
    /* after a seal without checks the run goes on: with v if it is not used up */
    c->out->more = c->b.full || !c->checked;
    c->out->checked = c->checked;
    c->out->outcome = SEAL_SEALED;
    return TX_COMMIT;
}

/* Add the microseconds since *t0 to round r's time and restart *t0. */
static void lap(struct seal_ctx *c, int r, struct timespec *t0)
{
    c->out->round_us[r] += us_since(t0);
    clock_gettime(CLOCK_MONOTONIC, t0);
}

static enum tx_decision seal_tx(struct tx *tx, void *arg)
{
    struct seal_ctx *c = arg;
    unsigned char state[32];
    enum tx_decision d;
    struct timespec t0;

    clear_results(c);
    ctx_reset(c);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (seal_batch_init(&c->b, c->batch_rows - 2, 0) < 0)
        return TX_ROLLBACK;
    c->b.oversize_ok = tx->dialect == ZS_DIALECT_POSTGRES; /* dsql: 3,000 rows a transaction */
    d = round1(tx, c);
    lap(c, 0, &t0);
    if (d != TX_COMMIT)
        goto out;
    if (c->checked) /* a seal without checks reads nothing more: its marks go with 3 */
        d = round2(tx, c);
    lap(c, 1, &t0);
    if (d != TX_COMMIT)
        goto out;
    if (c->b.n == 0) {
        c->out->outcome = SEAL_NOTHING;
        d = TX_ROLLBACK;
        goto out;
    }
    for (size_t i = 0; i < c->b.n && d == TX_COMMIT; i++)
        if (seal_tree_append(&c->tree, c->b.items[i].rec.leaf) < 0)
            d = TX_ROLLBACK;
    if (d == TX_COMMIT)
        d = round3(tx, c, state);
    lap(c, 2, &t0);
    if (d == TX_COMMIT)
        d = round4(tx, c, state);
    lap(c, 3, &t0);
out:
    clear_results(c);
    return d;
}

/* One attempt with v (NULL: checked, nothing kept) and checked as given. */
static void attempt(struct db_session *s, const char *owner, struct seal_verified *v, int checked,
                    struct seal_result *out, int *unverified, int *filled)
{
    struct seal_ctx *c = calloc(1, sizeof(*c));
    enum tx_decision d = TX_ROLLBACK;

    memset(out, 0, sizeof(*out));
    out->outcome = SEAL_ERROR;
    *unverified = *filled = 0;
    if (!c)
        return;
    c->cfg = s->cfg;
    c->owner = owner;
    c->batch_rows = s->cfg->seal_batch_rows;
    c->out = out;
    c->v = v;
    c->checked = checked;
    if (tx_run(s, TX_SNAPSHOT, seal_tx, c, &d) != TX_RESULT_DONE)
        out->outcome = SEAL_ERROR;
    *unverified = c->unverified;
    *filled = c->b.full;
    ctx_free(c);
    free(c);
}

void seal_once(struct db_session *s, const char *owner, struct seal_result *out)
{
    int unverified, filled;

    attempt(s, owner, NULL, 1, out, &unverified, &filled);
}

void seal_once_verified(struct db_session *s, const char *owner, struct seal_verified *v,
                        struct seal_result *out)
{
    int unverified = 0, filled = 0;

    if (v->n > 0) {
        attempt(s, owner, v, 0, out, &unverified, &filled);
        if (out->outcome == SEAL_SEALED && filled)
            return;
        v->n = 0; /* used up, or changed: the next seal checks again */
        if (!unverified)
            return;
    }
    attempt(s, owner, v, 1, out, &unverified, &filled);
    if (out->outcome != SEAL_SEALED)
        v->n = 0;
}
