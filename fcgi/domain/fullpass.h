/*
 * fullpass.h — the full re-verification pass: every check of /proof over
 * ALL history, plus the seal checks (the sealed aggregates are the fold of
 * the sealed rows, positions are contiguous, and every leaf, stored node,
 * root, chain hash and the latest state commitment recompute from the
 * rows), in one READ ONLY REPEATABLE READ snapshot on a connection of its
 * own.
 *
 * A pass is a row of full_audits (queued → running → passed | failed). One
 * pass at a time: the pass holds the `full_audit` lease (leases row) for as
 * long as it runs, renewing it from a second connection together with its
 * progress (rows_read). It never blocks writers: a read-only snapshot takes
 * no locks a writer waits for, big reads are streamed (COPY on postgres,
 * single-row mode on dsql), it pauses full_audit_yield_ms every
 * full_audit_chunk_rows rows, and in the jobs child it runs at low CPU
 * priority (full_audit_nice), its own postgres backends too. On postgres the
 * SQL checks run on a third connection that imports the snapshot, beside
 * the record streams.
 *
 * The jobs child starts passes (fullpass_jobs_poll) in a forked child of
 * its own, so sweeps, expiry and sealing keep running; `zerosum audit` runs
 * one in the foreground (fullpass_run).
 */
#ifndef ZS_DOMAIN_FULLPASS_H
#define ZS_DOMAIN_FULLPASS_H

#include <stdint.h>

#include "config.h"
#include "util.h"

#define FULLPASS_SAMPLE_MAX 512
#define FULLPASS_DETAIL_MAX 1024

/* What a pass found. */
struct fullpass_verdict {
    char id[UUID_STR_LEN + 1];
    int passed;
    int64_t rows_read;          /* rows streamed: records, entries, nodes, seals, aggregates */
    int64_t seal_no, tree_size; /* the latest seal in the snapshot (0: none yet) */
    char failed_check[64];      /* the first check that failed ("" when passed) */
    char sample[FULLPASS_SAMPLE_MAX]; /* its rows' ids (comma separated) */
    char detail[FULLPASS_DETAIL_MAX]; /* every failed check with its count, or why it stopped */
    double seconds;
};

/*
 * Run the queued (or interrupted) pass id now, in this process, on
 * connections of its own, and record its outcome in its full_audits row.
 * wait_lease: wait (up to 10 minutes) for a pass another process runs;
 * otherwise give up at once when the lease is taken. Returns 0 passed,
 * 1 failed (a check failed, or the pass could not complete: detail says
 * which), -1 not run (no connection, lease taken; the row is left as it
 * was and v->detail says why).
 */
int fullpass_run(const struct zs_config *cfg, const char *id, int wait_lease,
                 struct fullpass_verdict *v);

/* Queue a pass asked for by `by` into id (a new full_audits row). 0, or -1. */
int fullpass_queue(const struct zs_config *cfg, const char *by, char id[UUID_STR_LEN + 1]);

/* The verdict as one JSON line (malloc'd). */
char *fullpass_verdict_json(const struct fullpass_verdict *v);

/* Lower this process's CPU priority to full_audit_nice (0: leave it): the
 * jobs child's pass process does, before fullpass_run (fullpass_prio.c). */
void fullpass_lower_self(const struct zs_config *cfg);

/* The jobs child stops: so does the pass it runs (its lease lapses; it is queued again). */
void fullpass_jobs_stop(void);

/*
 * One tick of the jobs child: reap a finished pass child, else queue again
 * a pass left running by a process that died once its lease lapsed, queue a pass
 * when the last finished one is older than full_audit_interval_s, and fork
 * a child to run the oldest queued pass.
 */
void fullpass_jobs_poll(const struct zs_config *cfg);

#endif
