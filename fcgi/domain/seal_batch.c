/*
 * seal_batch.c — the database-free parts of one seal (see seal_batch.h).
 */
#include "merkle.h"
#include "domain/seal_batch.h"
#include "config.h"
#include "log.h"
#include "note.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t seal_i64(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

/* ---- folds ---------------------------------------------------------------- */

int seal_folds_init(struct seal_folds *f, size_t max)
{
    size_t cap = 16;

    while (cap < 2 * max)
        cap *= 2;
    f->slot = calloc(cap, sizeof(*f->slot));
    f->cap = f->slot ? cap : 0;
    f->n = 0;
    return f->slot ? 0 : -1;
}

void seal_folds_free(struct seal_folds *f)
{
    free(f->slot);
    memset(f, 0, sizeof(*f));
}

static size_t fold_hash(const char *id, size_t cap)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ULL;
    return (size_t)(h & (cap - 1));
}

static struct seal_fold *fold_find(const struct seal_folds *f, const char *id)
{
    size_t i = fold_hash(id, f->cap);

    for (size_t k = 0; k < f->cap; k++, i = (i + 1) & (f->cap - 1))
        if (!f->slot[i].used || strcmp(f->slot[i].id, id) == 0)
            return &f->slot[i];
    return NULL;
}

struct seal_fold *seal_folds_get(struct seal_folds *f, const char *id, int *created)
{
    struct seal_fold *s = fold_find(f, id);

    *created = 0;
    if (!s || strlen(id) >= sizeof(s->id))
        return NULL;
    if (!s->used) {
        if (2 * (f->n + 1) > f->cap)
            return NULL;
        s->used = 1;
        snprintf(s->id, sizeof(s->id), "%s", id);
        f->n++;
        *created = 1;
    }
    return s;
}

int seal_folds_has(const struct seal_folds *f, const char *id)
{
    const struct seal_fold *s = fold_find(f, id);

    return s && s->used;
}

void seal_folds_arrays(const struct seal_folds *f, int three,
                       struct record_text out[SEAL_FOLD_ARRAYS])
{
    int n = three ? 4 : SEAL_FOLD_ARRAYS, first = 1;
    char num[32];

    for (int k = 0; k < n; k++)
        record_text_add(&out[k], "{");
    for (size_t i = 0; i < f->cap; i++) {
        const struct seal_fold *s = &f->slot[i];
        const int64_t v[SEAL_FOLD_ARRAYS] = {
            0, s->a, s->b, three ? s->c : s->last_seq, s->last_after, s->last_at
        };
        if (!s->used)
            continue;
        for (int k = 0; k < n; k++) {
            snprintf(num, sizeof(num), "%lld", (long long)v[k]);
            record_text_add(&out[k], first ? "" : ",");
            record_text_add(&out[k],
                            k == 0                                    ? s->id
                                : k >= 3 && !three && s->last_unknown ? "NULL"
                                                                      : num);
        }
        first = 0;
    }
    for (int k = 0; k < n; k++)
        record_text_add(&out[k], "}");
}

/* ---- the Merkle frontier -------------------------------------------------- */

int seal_nodes_at(uint64_t p)
{
    int n = 1;

    for (uint64_t q = p; q & 1; q >>= 1)
        n++;
    return n;
}

static int tree_keep(struct seal_tree *t, const struct seal_node *nd)
{
    if (t->nadded == t->capadded) {
        size_t cap = t->capadded ? 2 * t->capadded : 256;
        struct seal_node *a = realloc(t->added, cap * sizeof(*a));
        if (!a)
            return -1;
        t->added = a;
        t->capadded = cap;
    }
    t->added[t->nadded++] = *nd;
    return 0;
}

int seal_tree_append(struct seal_tree *t, const unsigned char leaf[RECORD_HASH_LEN])
{
    struct seal_node nd = { 0, t->size, { 0 } };

    memcpy(nd.hash, leaf, RECORD_HASH_LEN);
    if (tree_keep(t, &nd) < 0)
        return -1;
    t->edge[t->nedge++] = nd;
    while (t->nedge >= 2 && t->edge[t->nedge - 1].level == t->edge[t->nedge - 2].level) {
        struct seal_node *l = &t->edge[t->nedge - 2], *r = &t->edge[t->nedge - 1];
        struct seal_node up = { l->level + 1, l->idx / 2, { 0 } };

        merkle_node_hash(l->hash, r->hash, up.hash);
        t->nedge--;
        t->edge[t->nedge - 1] = up;
        if (tree_keep(t, &up) < 0)
            return -1;
    }
    t->size++;
    return 0;
}

void seal_tree_root(const struct seal_tree *t, unsigned char out[RECORD_HASH_LEN])
{
    unsigned char h[RECORD_HASH_LEN];

    memcpy(h, t->edge[t->nedge - 1].hash, RECORD_HASH_LEN);
    for (int i = t->nedge - 2; i >= 0; i--)
        merkle_node_hash(t->edge[i].hash, h, h);
    memcpy(out, h, RECORD_HASH_LEN);
}

void seal_tree_free(struct seal_tree *t)
{
    free(t->added);
    t->added = NULL;
    t->nadded = t->capadded = 0;
}

/* ---- what a seal writes ----------------------------------------------------- */

/* The Merkle nodes the batch adds as the three arrays of seal_merkle_insert. */
void seal_tree_arrays(const struct seal_tree *t, struct record_text *lv, struct record_text *ix,
                      struct record_text *hs)
{
    char num[32], hex[RECORD_HEX_LEN + 1];

    record_text_add(lv, "{");
    record_text_add(ix, "{");
    record_text_add(hs, "{");
    for (size_t i = 0; i < t->nadded; i++) {
        const struct seal_node *n = &t->added[i];
        const char *sep = i ? "," : "";
        snprintf(num, sizeof(num), "%s%d", sep, n->level);
        record_text_add(lv, num);
        snprintf(num, sizeof(num), "%s%llu", sep, (unsigned long long)n->idx);
        record_text_add(ix, num);
        record_hex(n->hash, RECORD_HASH_LEN, hex);
        record_text_add(hs, sep);
        record_text_add(hs, "\"\\\\x");
        record_text_add(hs, hex);
        record_text_add(hs, "\"");
    }
    record_text_add(lv, "}");
    record_text_add(ix, "}");
    record_text_add(hs, "}");
}

/*
 * The signed checkpoint of a tree of size with root and state, by the log
 * key (loaded once per process, created on first use). malloc'd, or NULL
 * when the key cannot be had (logged; the seal then goes unsigned).
 */
char *seal_sign_checkpoint(const struct zs_config *cfg, uint64_t size, const unsigned char root[32],
                           const unsigned char state[32])
{
    static struct note_key *key;
    struct checkpoint cp;
    char err[256], *body, *note;

    if (!key) {
        key = note_key_load_or_create(cfg->log_key_file, cfg->log_origin, err, sizeof(err));
        if (!key) {
            log_error("seal: log key %s: %s", cfg->log_key_file, err);
            return NULL;
        }
    }
    memset(&cp, 0, sizeof(cp));
    snprintf(cp.origin, sizeof(cp.origin), "%s", cfg->log_origin);
    cp.size = size;
    memcpy(cp.root, root, 32);
    memcpy(cp.state, state, 32);
    body = note_checkpoint_body(&cp);
    note = body ? note_sign(key, body) : NULL;
    free(body);
    return note;
}

/* ---- the batch ------------------------------------------------------------ */

int seal_batch_init(struct seal_batch *b, int budget_rows, uint64_t first)
{
    size_t max = budget_rows > 0 ? (size_t)budget_rows : 1;

    memset(b, 0, sizeof(*b));
    b->budget = b->budget_rows = budget_rows;
    b->first = first;
    if (seal_folds_init(&b->accounts, max) < 0 || seal_folds_init(&b->lots, max) < 0
        || seal_folds_init(&b->markets, max) < 0) {
        seal_batch_free(b);
        return -1;
    }
    return 0;
}

void seal_batch_free(struct seal_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        record_free(&b->items[i].rec);
    free(b->items);
    seal_folds_free(&b->accounts);
    seal_folds_free(&b->lots);
    seal_folds_free(&b->markets);
    memset(b, 0, sizeof(*b));
}

uint64_t seal_batch_next(const struct seal_batch *b)
{
    return b->first + b->n;
}

int seal_batch_add(struct seal_batch *b, enum record_kind k, const char *id, int64_t at,
                   struct record *rec)
{
    struct seal_item *it;

    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        struct seal_item *a = realloc(b->items, cap * sizeof(*a));
        if (!a)
            return -1;
        b->items = a;
        b->cap = cap;
    }
    it = &b->items[b->n++];
    it->kind = k;
    snprintf(it->id, sizeof(it->id), "%s", id);
    it->at = at;
    it->rec = *rec;
    memset(rec, 0, sizeof(*rec));
    b->counts[k]++;
    return 0;
}

void seal_batch_arrays(const struct seal_batch *b, enum record_kind k, struct record_text *ids,
                       struct record_text *pos)
{
    char num[32];
    int first = 1;

    record_text_add(ids, "{");
    record_text_add(pos, "{");
    for (size_t i = 0; i < b->n; i++) {
        if (b->items[i].kind != k)
            continue;
        if (!first) {
            record_text_add(ids, ",");
            record_text_add(pos, ",");
        }
        first = 0;
        record_text_add(ids, b->items[i].id);
        snprintf(num, sizeof(num), "%llu", (unsigned long long)(b->first + i));
        record_text_add(pos, num);
    }
    record_text_add(ids, "}");
    record_text_add(pos, "}");
}

void seal_batch_counts(const struct seal_batch *b, char *out, size_t outlen)
{
    snprintf(out, outlen,
             "transfer=%d entry=%d hold=%d bid=%d lot=%d fill=%d order=%d pending=%d limit=%d",
             b->counts[RECORD_TRANSFER], b->entries, b->counts[RECORD_HOLD], b->counts[RECORD_BID],
             b->counts[RECORD_LOT], b->counts[RECORD_FILL], b->counts[RECORD_ORDER],
             b->counts[RECORD_PENDING], b->counts[RECORD_LIMIT]);
}

/* What b seals, by kind, in the order of seal_batch_counts. */
static void batch_kinds(const struct seal_batch *b, int64_t n[SEAL_TOTALS])
{
    n[0] = b->counts[RECORD_TRANSFER];
    n[1] = b->entries;
    n[2] = b->counts[RECORD_HOLD];
    n[3] = b->counts[RECORD_BID];
    n[4] = b->counts[RECORD_LOT];
    n[5] = b->counts[RECORD_FILL];
    n[6] = b->counts[RECORD_ORDER];
    n[7] = b->counts[RECORD_PENDING];
    n[8] = b->counts[RECORD_LIMIT];
}

int seal_totals_parse(const char *text, int64_t t[SEAL_TOTALS])
{
    long long v[SEAL_TOTALS];
    int used = 0;

    memset(t, 0, sizeof(int64_t) * SEAL_TOTALS);
    if (!text || !*text)
        return 0;
    v[8] = 0; /* totals from before credit limits were sealed end at pending= */
    if (sscanf(text,
               "transfer=%lld entry=%lld hold=%lld bid=%lld lot=%lld fill=%lld order=%lld "
               "pending=%lld%n",
               &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &used)
        != SEAL_TOTALS - 1)
        return -1;
    if (text[used] != '\0') {
        int more = 0;

        if (sscanf(text + used, " limit=%lld%n", &v[8], &more) != 1 || text[used + more] != '\0')
            return -1;
    }
    for (int i = 0; i < SEAL_TOTALS; i++) {
        if (v[i] < 0)
            return -1;
        t[i] = v[i];
    }
    return 0;
}

void seal_batch_totals(const struct seal_batch *b, const int64_t prev[SEAL_TOTALS], char *out,
                       size_t outlen)
{
    int64_t n[SEAL_TOTALS];

    batch_kinds(b, n);
    for (int i = 0; i < SEAL_TOTALS; i++)
        n[i] += prev[i];
    snprintf(out, outlen,
             "transfer=%lld entry=%lld hold=%lld bid=%lld lot=%lld fill=%lld order=%lld "
             "pending=%lld limit=%lld",
             (long long)n[0], (long long)n[1], (long long)n[2], (long long)n[3], (long long)n[4],
             (long long)n[5], (long long)n[6], (long long)n[7], (long long)n[8]);
}
