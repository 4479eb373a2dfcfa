/*
 * fullpass_fold.c — the full pass's one read of the entries (postgres): the
 * record stream already merges every sealed transfer with its entries in
 * position order (audit_records_transfers), so the checks over the largest
 * table are folded into it here, in C, with exact (128-bit) sums, instead
 * of each being a scan or join of its own:
 *
 *   transfers_balanced       per sealed transfer, from its streamed entries
 *   entries_have_transfers   every sealed entry was merged with its transfer
 *   balances_match_entries   per account: sealed + unsealed entry sums
 *   running_balances_match   per account, the entries in seq order (a small
 *                            reorder buffer: position order is not seq order)
 *   seal_aggregates_match    the per-account part: seal_accounts vs the fold
 *   positions_contiguous     a bitmap of the positions every record holds,
 *                            and the stray entries by count
 *
 * The entries reach it as they came in the binary streams: integers and
 * UUID bytes (fullpass_fold_entry_of), never parsed from text.
 *
 * The accounts and their sealed aggregates (audit_fold_accounts) are read
 * before the streams; what the streams do not carry (unsealed rows, other
 * tables) after them, by audit_fold_rest and audit_fold_unsealed_entries.
 * The fold only decides whether a check found anything: when it did, the
 * check's own full SQL form (audit.sql) runs on the same snapshot and gives
 * the verdict, its count and the rows it names, so a failing check reads
 * exactly as before. DSQL runs those SQL forms always.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/fullpass_pass.h"
#include "domain/record.h"
#include "log.h"
#include "util.h"

typedef __int128 wide;

/* The checks the fold stands in for (bits of fold->flagged). */
enum { F_BALANCED, F_HAVE_TRANSFERS, F_BALANCES, F_RUNNING, F_SEAL_AGG, F_POSITIONS, F_NCHECKS };
static const char *const folded_names[F_NCHECKS] = {
    "transfers_balanced",     "entries_have_transfers", "balances_match_entries",
    "running_balances_match", "seal_aggregates_match",  "positions_contiguous",
};
#define F_ALL ((1u << F_NCHECKS) - 1)

/* An entry waiting for its account's earlier seq numbers. */
struct pend {
    int64_t seq, amount, after, at;
};

/* An account's fold state. What every entry touches comes first, so that
 * the probe and the common step read the struct's first two cache lines;
 * what the accounts' read sets and the end compares comes after. */
struct acct {
    unsigned char key[16];
    int64_t next_seq, n_all, sealed_n, prev_at;
    unsigned char used, have_prev, s_last_kept, s_last_seen;
    size_t npend; /* entries waiting in pend */
    wide sum_all, sealed_sum, prev_after;
    struct pend s_last; /* the aggregate's last sealed entry (s_last_kept): seq, after, time */
    struct pend *pend;
    size_t cap;
    int in_accounts, in_seal, s_last_bad;
    int64_t balance, s_entries;
    wide s_balance;
};

struct fullpass_fold {
    unsigned flagged;
    struct acct *a;
    size_t cap, n;
    unsigned char *bits; /* one per position 0 .. tree_size - 1 */
    int64_t marked, matched;
};

int fullpass_fold_is_folded(const char *check)
{
    for (int i = 0; i < F_NCHECKS; i++)
        if (strcmp(folded_names[i], check) == 0)
            return 1;
    return 0;
}

static int account_row(struct fullpass *p, const char *const *v, int nf, void *ctx);

/* The fold, with every account and its sealed aggregate read first (the
 * entries are then checked against the last sealed entry it keeps). */
int fullpass_fold_begin(struct fullpass *p)
{
    struct fullpass_fold *f;

    if (p->cfg->dialect != ZS_DIALECT_POSTGRES)
        return 0;
    f = calloc(1, sizeof(*f));
    if (f && p->tree_size > 0)
        f->bits = calloc((size_t)(p->tree_size / 8 + 1), 1);
    f = f && (p->tree_size <= 0 || f->bits) ? f : (free(f), NULL);
    if (!f) {
        snprintf(p->err, sizeof(p->err), "out of memory");
        return -1;
    }
    f->cap = 1024;
    f->a = calloc(f->cap, sizeof(*f->a));
    if (!f->a) {
        free(f->bits);
        free(f);
        snprintf(p->err, sizeof(p->err), "out of memory");
        return -1;
    }
    p->fold = f;
    return fullpass_stream(p, SQL_AUDIT_FOLD_ACCOUNTS, NULL, NULL, account_row, NULL) < 0 ? -1 : 0;
}

void fullpass_fold_end(struct fullpass *p)
{
    struct fullpass_fold *f = p->fold;

    if (!f)
        return;
    for (size_t i = 0; i < f->cap; i++)
        free(f->a[i].pend);
    free(f->a);
    free(f->bits);
    free(f);
    p->fold = NULL;
}

void fullpass_fold_flag_all(struct fullpass *p)
{
    if (p->fold)
        p->fold->flagged = F_ALL;
}

/* A UUID's 16 bytes from its text (36 characters, dashes anywhere). 0, or -1. */
static int uuid_key(const char *s, unsigned char out[16])
{
    int n = 0;

    for (; s && *s && n < 32; s++) {
        int v = util_hexval(*s); /* COPY writes lowercase; either is the same UUID */
        if (*s == '-')
            continue;
        if (v < 0)
            return -1;
        out[n / 2] = (unsigned char)(n % 2 ? out[n / 2] << 4 | v : v);
        n++;
    }
    return n == 32 && s && !*s ? 0 : -1;
}

static size_t key_hash(const unsigned char k[16], size_t cap)
{
    uint64_t h;

    memcpy(&h, k, sizeof(h)); /* random UUIDs: their bytes are the hash */
    return (size_t)(h * 0x9E3779B97F4A7C15ull >> 7) & (cap - 1);
}

static int grow(struct fullpass_fold *f)
{
    size_t cap = f->cap * 2;
    struct acct *a = calloc(cap, sizeof(*a));

    if (!a)
        return -1;
    for (size_t i = 0; i < f->cap; i++)
        if (f->a[i].used) {
            size_t j = key_hash(f->a[i].key, cap);
            while (a[j].used)
                j = (j + 1) & (cap - 1);
            a[j] = f->a[i];
        }
    free(f->a);
    f->a = a;
    f->cap = cap;
    return 0;
}

/* The account of UUID bytes k, created when new; NULL: out of memory. */
static struct acct *account_key(struct fullpass_fold *f, const unsigned char k[16])
{
    size_t i;

    if (2 * (f->n + 1) > f->cap && grow(f) < 0)
        return NULL;
    for (i = key_hash(k, f->cap); f->a[i].used; i = (i + 1) & (f->cap - 1))
        if (memcmp(f->a[i].key, k, 16) == 0)
            return &f->a[i];
    memcpy(f->a[i].key, k, 16);
    f->a[i].used = 1;
    f->a[i].next_seq = 1;
    f->n++;
    return &f->a[i];
}

/* The account named by id (text); NULL: out of memory or not a UUID. */
static struct acct *account(struct fullpass *p, const char *id)
{
    unsigned char k[16];

    return uuid_key(id, k) < 0 ? NULL : account_key(p->fold, k);
}

static int int64_of(const char *s, int64_t *out)
{
    char *end;

    if (!s || !*s)
        return -1;
    *out = strtoll(s, &end, 10);
    return *end ? -1 : 0;
}

/* e follows a's last entry in seq order: its running balance and time. */
static void step(struct fullpass_fold *f, struct acct *a, const struct pend *e)
{
    if ((wide)e->after != (a->have_prev ? a->prev_after : 0) + e->amount
        || (a->have_prev && e->at < a->prev_at))
        f->flagged |= 1u << F_RUNNING;
    a->prev_after = e->after;
    a->prev_at = e->at;
    a->have_prev = 1;
    a->next_seq++;
}

/* An entry into a's chain: now, or once its predecessors have come. */
static void chain(struct fullpass *p, struct acct *a, const struct pend *e)
{
    struct fullpass_fold *f = p->fold;
    size_t i;

    if (e->seq < a->next_seq) { /* a second entry with that seq */
        f->flagged |= 1u << F_RUNNING;
        return;
    }
    if (e->seq > a->next_seq) { /* keep it, in seq order */
        if (a->npend == a->cap) {
            size_t cap = a->cap ? 2 * a->cap : 4;
            struct pend *q = realloc(a->pend, cap * sizeof(*q));
            if (!q) {
                f->flagged |= 1u << F_RUNNING;
                return;
            }
            a->pend = q;
            a->cap = cap;
        }
        for (i = a->npend; i > 0 && a->pend[i - 1].seq > e->seq; i--)
            a->pend[i] = a->pend[i - 1];
        a->pend[i] = *e;
        a->npend++;
        return;
    }
    step(f, a, e);
    for (i = 0; i < a->npend && a->pend[i].seq <= a->next_seq; i++) {
        if (a->pend[i].seq < a->next_seq)
            f->flagged |= 1u << F_RUNNING; /* the same seq twice */
        else
            step(f, a, &a->pend[i]);
    }
    if (i > 0) {
        memmove(a->pend, a->pend + i, (a->npend - i) * sizeof(*a->pend));
        a->npend -= i;
    }
}

void fullpass_fold_entry_of(const struct fullpass_field *account,
                            const struct fullpass_field *amount, const struct fullpass_field *seq,
                            const struct fullpass_field *after, const struct fullpass_field *at,
                            struct fullpass_fold_entry *e)
{
    memset(e, 0, sizeof(*e)); /* what is absent reads as 0, never as garbage */
    e->complete = account->len == 16 && amount->len == 8;
    if (e->complete) {
        memcpy(e->account, account->b, 16);
        e->amount = fullpass_field_int(amount, '8');
    }
    e->has_run = seq->len == 8 && after->len == 8 && at->len == 8;
    if (e->has_run) {
        e->seq = fullpass_field_int(seq, '8');
        e->after = fullpass_field_int(after, '8');
        e->at = fullpass_field_int(at, 'T');
    }
}

/* One entry, sealed or not. */
static void entry(struct fullpass *p, const struct fullpass_fold_entry *x, int sealed)
{
    struct fullpass_fold *f = p->fold;
    struct acct *a = x->complete ? account_key(f, x->account) : NULL;
    struct pend e = { x->seq, x->amount, x->after, x->at };

    if (!a) {
        f->flagged = F_ALL;
        return;
    }
    a->n_all++;
    a->sum_all += e.amount;
    if (sealed) {
        a->sealed_n++;
        a->sealed_sum += e.amount;
    }
    if (!x->has_run || e.seq < 1) {
        f->flagged |= 1u << F_RUNNING;
        return;
    }
    if (sealed && a->s_last_kept && e.seq == a->s_last.seq) {
        a->s_last_seen = 1;
        a->s_last_bad |= e.after != a->s_last.after || e.at != a->s_last.at;
    }
    chain(p, a, &e);
}

void fullpass_fold_position(struct fullpass *p, int64_t pos, const void *leaf)
{
    struct fullpass_fold *f = p->fold;

    if (!f)
        return;
    if (!leaf || pos < 0 || pos >= p->tree_size || (f->bits[pos / 8] & (1u << (pos % 8)))) {
        f->flagged |= 1u << F_POSITIONS;
        return;
    }
    f->bits[pos / 8] |= (unsigned char)(1u << (pos % 8));
    f->marked++;
}

void fullpass_fold_transfer(struct fullpass *p, const struct fullpass_fold_transfer *t,
                            const struct fullpass_fold_entry *e, size_t ne, int overflow)
{
    struct fullpass_fold *f = p->fold;
    wide sum = 0, from = 0, to = 0;
    int other = 0, same = t->has_from && t->has_to && memcmp(t->from, t->to, 16) == 0;

    if (!f)
        return;
    if (overflow || !t->has_amount) {
        f->flagged = F_ALL;
        return;
    }
    for (size_t i = 0; i < ne; i++) {
        int64_t x = e[i].amount;
        if (!e[i].complete) {
            f->flagged = F_ALL;
            return;
        }
        sum += x;
        if (t->has_from && memcmp(e[i].account, t->from, 16) == 0)
            from += x;
        else if (t->has_to && memcmp(e[i].account, t->to, 16) == 0)
            to += x;
        else
            other = 1;
        if (same && memcmp(e[i].account, t->to, 16) == 0)
            to += x; /* the SQL rule sums each side on its own */
        entry(p, &e[i], 1);
        f->matched++;
    }
    if (ne < 2 || sum != 0 || from != -(wide)t->amount || to != t->amount || other)
        f->flagged |= 1u << F_BALANCED;
}

/* audit_fold_rest's one row: any count but the sealed entries' flags its checks. */
static int rest(struct fullpass *p)
{
    struct fullpass_fold *f = p->fold;
    PGresult *res = fullpass_exec(p, p->snap, SQL_AUDIT_FOLD_REST, NULL);
    int64_t c[7];

    if (!res)
        return -1;
    for (int i = 0; i < 7; i++)
        c[i] = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, i), NULL, 10) : -1;
    PQclear(res);
    p->rows += 1;
    if (c[0] != 0)
        f->flagged |= 1u << F_BALANCED;
    if (c[1] != 0)
        f->flagged |= 1u << F_HAVE_TRANSFERS;
    if (c[2] != f->matched || c[3] != 0) /* a sealed entry not at its transfer's position */
        f->flagged = F_ALL;
    if (c[4] != 0 || c[5] != p->tree_size || f->marked != p->tree_size)
        f->flagged |= 1u << F_POSITIONS;
    if (c[6] != 0)
        f->flagged |= 1u << F_SEAL_AGG;
    return 0;
}

/* audit_fold_unsealed_entries' binary COPY columns (fullpass_copy_binary): account, seq,
 * amount, balance_after, created_at (microseconds), id. */
#define UNSEALED_ROW_TYPES "u888Tu"

static int unsealed_row(struct fullpass *p, const struct fullpass_field *v, int nf, void *ctx)
{
    struct fullpass_fold_entry e;

    (void)ctx;
    if (nf < 6) {
        snprintf(p->err, sizeof(p->err), "audit_fold_unsealed_entries: a malformed row");
        return -1;
    }
    fullpass_fold_entry_of(&v[0], &v[2], &v[1], &v[3], &v[4], &e);
    entry(p, &e, 0);
    return 0;
}

static int account_row(struct fullpass *p, const char *const *v, int nf, void *ctx)
{
    struct fullpass_fold *f = p->fold;
    struct acct *a = nf >= 7 ? account(p, v[0]) : NULL;
    (void)ctx;

    if (!a) {
        snprintf(p->err, sizeof(p->err), "audit_fold_accounts: a malformed row");
        return -1;
    }
    if (v[1]) {
        a->in_accounts = 1;
        if (int64_of(v[1], &a->balance) < 0)
            f->flagged = F_ALL;
    }
    if (v[2] || v[3]) {
        int64_t b = 0;
        a->in_seal = 1;
        if ((v[2] && int64_of(v[2], &b) < 0) || (v[3] && int64_of(v[3], &a->s_entries) < 0))
            f->flagged = F_ALL;
        a->s_balance = b;
    }
    if (v[4]) {
        a->s_last_kept = 1;
        a->s_last_bad = int64_of(v[4], &a->s_last.seq) < 0 || int64_of(v[5], &a->s_last.after) < 0
            || int64_of(v[6], &a->s_last.at) < 0; /* a kept seq without the rest: wrong */
    }
    return 0;
}

/* Every account's sums, chain end and aggregate, once everything is read. */
static void accounts_done(struct fullpass_fold *f)
{
    for (size_t i = 0; i < f->cap; i++) {
        struct acct *a = &f->a[i];
        if (!a->used)
            continue;
        if (a->npend > 0)
            f->flagged |= 1u << F_RUNNING; /* a gap before them */
        if (a->in_accounts && (a->sum_all != a->balance))
            f->flagged |= 1u << F_BALANCES;
        if (a->in_accounts
            && ((a->have_prev ? a->prev_after : 0) != a->balance || a->next_seq - 1 != a->n_all))
            f->flagged |= 1u << F_RUNNING;
        if ((a->in_seal || a->sealed_n > 0)
            && (a->s_balance != a->sealed_sum || a->s_entries != a->sealed_n))
            f->flagged |= 1u << F_SEAL_AGG;
        if (a->s_last_kept && (a->s_last_bad || !a->s_last_seen))
            f->flagged |= 1u << F_SEAL_AGG;
    }
}

int fullpass_fold_finish(struct fullpass *p)
{
    struct fullpass_fold *f = p->fold;

    if (!f)
        return 0;
    if (rest(p) < 0
        || fullpass_stream_raw(p, SQL_AUDIT_FOLD_UNSEALED_ENTRIES, UNSEALED_ROW_TYPES, NULL,
                               unsealed_row, NULL)
            < 0)
        return -1;
    accounts_done(f);
    for (int i = 0; i < F_NCHECKS; i++) {
        if (!(f->flagged & (1u << i)))
            continue;
        log_info("full pass %s: the fold found %s failing; its SQL form names the rows", p->id,
                 folded_names[i]);
        if (fullpass_checks_judge(p, folded_names[i]) < 0)
            return -1;
    }
    return 0;
}
