/*
 * seal.h — the sealer (docs/PROOF-FORMAT.md): it gives the history rows in
 * a final state their places in one total order, folds them into the
 * sealed aggregates, extends the Merkle tree over their records and chains
 * a seal row to the previous one — one seal per transaction, in one
 * REPEATABLE READ snapshot in which every evidence and constraint check of
 * domain/checks.h must observe 0 first, while holding the `sealer` lease,
 * and writing at most cfg->seal_batch_rows rows. A seal is all or nothing:
 * killing the sealer at any point loses nothing.
 */
#ifndef ZS_DOMAIN_SEAL_H
#define ZS_DOMAIN_SEAL_H

#include <stdint.h>

#include "config.h"
#include "store/db.h"

enum seal_outcome {
    SEAL_SEALED,   /* a seal was committed */
    SEAL_NOTHING,  /* nothing sealable (or nothing that fits the row budget) */
    SEAL_BLOCKED,  /* a check failed in the snapshot: nothing sealed */
    SEAL_NO_LEASE, /* someone else holds the sealer's lease */
    SEAL_ERROR,    /* the database failed (see the log) */
};

struct seal_result {
    enum seal_outcome outcome;
    int64_t seal_no, tree_size; /* the latest seal after the attempt (0, 0: none) */
    int records;                /* records sealed by this seal */
    int more;                   /* the row budget, not the backlog, ended this seal */
    char blocked[64];           /* SEAL_BLOCKED: the check that failed */
    /* SEAL_SEALED: microseconds spent producing its checkpoint (the state
     * commitment over the fetched aggregates, the root, the seal hash and
     * the signature), and of those on the Ed25519 signature alone */
    long checkpoint_us, sign_us;
};

/* Totals of a run of seals. */
struct seal_totals {
    int seals;
    int64_t records;
    int64_t seal_no, tree_size;
    enum seal_outcome last; /* why the run stopped */
    char blocked[64];
    long checkpoint_us, sign_us; /* the last seal's (struct seal_result) */
};

/* Create the lease row if it is missing (its own transaction). 0, or -1. */
int seal_lease_ensure(struct db_session *s);

/* Attempt one seal as lease owner `owner`. */
void seal_once(struct db_session *s, const char *owner, struct seal_result *out);

/*
 * Seal until a seal takes everything sealable in its snapshot (or nothing
 * is left), a seal fails, or budget_ms has passed
 * (budget_ms <= 0: no time bound). t gets what was done.
 */
void seal_run(const struct zs_config *cfg, const char *owner, long budget_ms,
              struct seal_totals *t);

/* Give the lease back if owner holds it (its own transaction). */
void seal_release(const struct zs_config *cfg, const char *owner);

#endif
