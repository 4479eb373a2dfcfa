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

#include <libpq-fe.h>

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
    /* microseconds spent in each of the seal's four round trips (the work
     * between them included; the fourth ends with COMMIT) */
    long round_us[4];
    int checked; /* 1: every check ran in this seal's snapshot */
};

/*
 * Transfers (with their entries) that every evidence and constraint check
 * observed clean in the snapshot of a checked seal, beyond what that seal
 * could take: their ids and prints (seal_transfer_prints). A later seal by
 * the same run may seal a prefix of the oldest unsealed transfers without
 * running the checks again when each of them is here with the same print —
 * it was verified as it is now — and takes nothing else (see
 * seal_once_verified). Lives for one run of seals, while one lease is held.
 */
struct seal_verified_tx {
    char id[37];
    unsigned char print[32];
};

struct seal_verified {
    struct seal_verified_tx *tx; /* sorted by id */
    size_t n, cap;
};

void seal_verified_init(struct seal_verified *v);
void seal_verified_free(struct seal_verified *v);
/* Replace v's contents by the candidate transfers of a checked seal. 0, or -1 (OOM: v empty). */
int seal_verified_fill(struct seal_verified *v, const PGresult *transfers, const PGresult *entries);
/* How many leading candidate transfers v holds with the same print (0..rows), -1 on OOM. */
int seal_verified_prefix(const struct seal_verified *v, const PGresult *transfers,
                         const PGresult *entries);

/* Totals of a run of seals. */
struct seal_totals {
    int seals;
    int64_t records;
    int64_t seal_no, tree_size;
    enum seal_outcome last; /* why the run stopped */
    char blocked[64];
    long checkpoint_us, sign_us; /* the last seal's (struct seal_result) */
    long round_us[4];            /* summed over the run's seals */
    int checked;                 /* seals that ran every check in their snapshot */
    int more;                    /* the last seal left sealable rows for later */
};

/* Create the lease row if it is missing (its own transaction). 0, or -1. */
int seal_lease_ensure(struct db_session *s);

/* Take or renew the lease for owner alone, in tx, before a seal's round trip 1 (seal_loop.c). */
enum tx_decision seal_lease_probe(struct tx *tx, const char *owner, const char *ttl_ms,
                                  struct seal_result *out);

/* Attempt one seal as lease owner `owner`, running every check in its snapshot. */
void seal_once(struct db_session *s, const char *owner, struct seal_result *out);

/*
 * Attempt one seal as seal_once does, or, when v holds verified transfers
 * and the oldest unsealed ones are among them unchanged, a seal of those
 * transfers (and their entries) alone, without the checks: they were
 * verified by every check in an earlier snapshot of this run, exactly as
 * they are sealed now. A checked seal refills v; a seal without checks that
 * could not fill its budget from v empties it (the next one is checked).
 */
void seal_once_verified(struct db_session *s, const char *owner, struct seal_verified *v,
                        struct seal_result *out);

/*
 * Seal until a seal takes everything sealable in its snapshot (or nothing
 * is left), a seal fails, or budget_ms has passed
 * (budget_ms <= 0: no time bound). t gets what was done.
 */
void seal_run(const struct zs_config *cfg, const char *owner, long budget_ms,
              struct seal_totals *t);

/* Give the lease back if owner holds it (its own transaction). */
void seal_release(const struct zs_config *cfg, const char *owner);

/*
 * The jobs child's sealer process (domain/seal_loop.c): started when
 * cfg->seal_interval_ms > 0 and started again if it died (called every
 * tick); it seals while a backlog is left, in runs of at most ~2 s after
 * each of which it gives the lease back, and naps seal_interval_ms once
 * nothing is left.
 */
void seal_jobs_poll(const struct zs_config *cfg);
/* Stop the sealer process and wait for it. */
void seal_jobs_stop(void);

#endif
