/*
 * seal_batch.h — the pieces of one seal that need no database (used by
 * domain/seal.c): the records of a batch with their positions, the row
 * budget, the sealed-aggregate folds, the Merkle frontier and the text
 * arrays the marking statements take.
 */
#ifndef ZS_DOMAIN_SEAL_BATCH_H
#define ZS_DOMAIN_SEAL_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "domain/record.h"

/* One aggregate row being folded: its UUID and three deltas; an account's
 * also the batch's last entry of it (the highest seq), unless one of its
 * entries had no seq, balance or time (last_unknown). */
struct seal_fold {
    char id[37];
    int64_t a, b, c;
    int64_t last_seq, last_after, last_at;
    int last_unknown;
    int used;
};

/* An open-addressing set of folds keyed by UUID (capacity fixed at init). */
struct seal_folds {
    struct seal_fold *slot;
    size_t cap, n;
};

int seal_folds_init(struct seal_folds *f, size_t max);
void seal_folds_free(struct seal_folds *f);
/* The fold for id, created if absent (*created set then); NULL when full. */
struct seal_fold *seal_folds_get(struct seal_folds *f, const char *id, int *created);
/* 1 if id has a fold already. */
int seal_folds_has(const struct seal_folds *f, const char *id);

/* One node of the Merkle frontier: the perfect subtree (level, idx). */
struct seal_node {
    int level;
    uint64_t idx;
    unsigned char hash[RECORD_HASH_LEN];
};

/* The right edge of the tree, and the nodes a seal adds to it. */
struct seal_tree {
    struct seal_node edge[64]; /* bottom of the stack = highest level */
    int nedge;
    uint64_t size;
    struct seal_node *added; /* every node this seal completes, leaves included */
    size_t nadded, capadded;
};

/* Append the leaf at position tree->size; 0, or -1 (out of memory). */
int seal_tree_append(struct seal_tree *t, const unsigned char leaf[RECORD_HASH_LEN]);
/* The RFC 9162 root of the tree at its current size (> 0). */
void seal_tree_root(const struct seal_tree *t, unsigned char out[RECORD_HASH_LEN]);
void seal_tree_free(struct seal_tree *t);

/* The nodes t added (t->added) as the three array literals of seal_merkle_insert. */
void seal_tree_arrays(const struct seal_tree *t, struct record_text *levels,
                      struct record_text *idx, struct record_text *hashes);

struct zs_config;
/*
 * The signed checkpoint of a tree of size with root and state, by the log
 * key (loaded once per process, created on first use). malloc'd, or NULL
 * when the key cannot be had (logged; the seal then goes unsigned).
 */
char *seal_sign_checkpoint(const struct zs_config *cfg, uint64_t size, const unsigned char root[32],
                           const unsigned char state[32]);

/* Merkle nodes the leaf at position p completes: itself and 1 per trailing 1 bit of p. */
int seal_nodes_at(uint64_t p);

/* One record of a batch. */
struct seal_item {
    enum record_kind kind;
    char id[37];
    int64_t at; /* µs since the epoch, for oldest_at */
    struct record rec;
};

/* The records of one seal, in position order once sorted (see seal_batch_order). */
struct seal_batch {
    struct seal_item *items;
    size_t n, cap;
    int64_t budget;      /* rows still allowed */
    int64_t budget_rows; /* the whole budget, as initialised */
    /* a closed lot whose bids alone exceed budget_rows may be taken over the
     * budget, alone of its kind in the seal (postgres: no per-transaction row
     * limit); else no seal could ever hold it (see seal_take_lots) */
    int oversize_ok;
    uint64_t first; /* position of items[0] */
    uint64_t vpos;  /* records taken so far (they decide the Merkle node counts) */
    int full;       /* a candidate did not fit, or a candidate list came back at its limit */
    struct seal_folds accounts, lots, markets;
    int counts[RECORD_KINDS];
    int entries;
};

int seal_batch_init(struct seal_batch *b, int budget_rows, uint64_t first);
void seal_batch_free(struct seal_batch *b);
/* The position the next record added would take. */
uint64_t seal_batch_next(const struct seal_batch *b);
/* Add an encoded record (taking its text); 0, or -1 (out of memory). */
int seal_batch_add(struct seal_batch *b, enum record_kind k, const char *id, int64_t at,
                   struct record *rec);

/* Lowercase PostgreSQL array literals '{id,…}' and '{pos,…}' of the items of kind k. */
void seal_batch_arrays(const struct seal_batch *b, enum record_kind k, struct record_text *ids,
                       struct record_text *pos);

/* The fold arrays of f: ids and three deltas; or, when three is 0 (accounts),
 * ids, two deltas and each one's last entry: seq, balance_after and time in
 * µs (NULL when unknown). SEAL_FOLD_ARRAYS of them at most. */
#define SEAL_FOLD_ARRAYS 6
void seal_folds_arrays(const struct seal_folds *f, int three,
                       struct record_text out[SEAL_FOLD_ARRAYS]);

/* "transfer=N entry=N hold=N bid=N lot=N fill=N order=N pending=N limit=N" into out. */
void seal_batch_counts(const struct seal_batch *b, char *out, size_t outlen);

/* The kinds a seal's counts and totals name, in their order. */
#define SEAL_TOTALS 9

/*
 * Totals text (the counts format) into t[SEAL_TOTALS]; NULL or "" (before
 * the first seal, or a seal from before totals were kept: read as 0) gives
 * zeros; a text without " limit=N" (from before credit limits were sealed)
 * reads limit 0. 0, or -1 when the text is malformed.
 */
int seal_totals_parse(const char *text, int64_t t[SEAL_TOTALS]);

/* prev plus what b seals, in the counts format, into out. */
void seal_batch_totals(const struct seal_batch *b, const int64_t prev[SEAL_TOTALS], char *out,
                       size_t outlen);

/*
 * Take candidates (results of seal.sql's seal_candidate_* statements, in
 * their order) into b while they fit its budget. 0, or -1 (a malformed row,
 * out of memory); seal_take_transfers also -2 when a transfer's entries do
 * not balance (the seal is then blocked), and takes only the first max
 * rows (max < 0: all).
 */
int seal_take_transfers(struct seal_batch *b, const PGresult *transfers, const PGresult *entries,
                        int max);

/* The most entries a transfer may have and be sealed (one with more blocks the seal). */
#define SEAL_ENTRIES_MAX 64

/*
 * The print of every row of the candidate transfers into fp[row]: SHA-256
 * of its record's leaf hash and the sorted hashes of its entries' whole
 * candidate rows (time, seq and running balance too). Equal prints mean a
 * transfer and its entries read the same in two snapshots. A transfer that
 * cannot be printed (too many entries, a malformed row) gets 32 zero
 * bytes, which no verified print equals. 0, or -1 (out of memory).
 */
int seal_transfer_prints(const PGresult *transfers, const PGresult *entries,
                         unsigned char (*fp)[RECORD_HASH_LEN]);
int seal_take_holds(struct seal_batch *b, const PGresult *res);
/* Whole lots with all their bids (bids are added first, then the lots). */
int seal_take_lots(struct seal_batch *b, const PGresult *lots, const PGresult *bids);
int seal_take_fills(struct seal_batch *b, const PGresult *res);
/* Orders or pending transfers (no aggregates); at_col: the record's time column. */
int seal_take_plain(struct seal_batch *b, enum record_kind k, const PGresult *res, int at_col);

/* Parse a canonical decimal integer (NULL → 0). */
int64_t seal_i64(const char *s);

#endif
