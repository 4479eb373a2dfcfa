/*
 * seal_loop.c — the sealer's lease, runs of seals (see seal.h), and the
 * sealer process the jobs child keeps running: it seals as long as there
 * is a backlog, gives the lease back after every run so that
 * `zerosum seal` and tests may take it, and naps seal_interval_ms once
 * nothing is left.
 */
#include "domain/seal.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "domain/publish.h"
#include "domain/witness.h"
#include "log.h"
#include "util.h"

/* A run's time bound in the sealer process: the lease is given back after it. */
#define SEAL_RUN_MS 2000
/* How many times a run's bound it may go on sealing verified transfers. */
#define SEAL_RUN_CAP 7
/* The nap between runs while a backlog is left: long enough for a freezer
 * polling every 50 ms (tests/lib/zs.py) to take the lease in between. */
#define SEAL_YIELD_MS 150

static enum tx_decision ensure_tx(struct tx *tx, void *arg)
{
    (void)arg;
    return tx_exec_named_void(tx, SQL_SEAL_LEASE_ENSURE, NULL) < 0 ? TX_ERROR : TX_COMMIT;
}

int seal_lease_ensure(struct db_session *s)
{
    enum tx_decision d;

    return tx_run(s, 0, ensure_tx, NULL, &d) == TX_RESULT_DONE && d == TX_COMMIT ? 0 : -1;
}

static enum tx_decision release_tx(struct tx *tx, void *arg)
{
    const char *v[1] = { arg };

    return tx_exec_named_void(tx, SQL_SEAL_LEASE_RELEASE, v) < 0 ? TX_ERROR : TX_COMMIT;
}

void seal_release(const struct zs_config *cfg, const char *owner)
{
    struct db_session s;
    enum tx_decision d;

    db_session_init(&s, cfg, "sealer", EP_OTHER);
    tx_run(&s, 0, release_tx, (void *)owner, &d);
}

/*
 * Round trip 1 of a seal sends the lease with every check, so that a seal
 * costs no round trip for it. While the lease is held elsewhere (an
 * operator's freeze, another jobs child) that would run every check once a
 * round for nothing, so after a miss a seal asks for the lease alone first.
 * TX_COMMIT: the lease is owner's now (in tx); TX_ROLLBACK: it is not
 * (out->outcome SEAL_NO_LEASE); TX_ERROR.
 */
enum tx_decision seal_lease_probe(struct tx *tx, const char *owner, const char *ttl_ms,
                                  struct seal_result *out)
{
    const char *p[2] = { owner, ttl_ms };
    PGresult *res = tx_exec_named(tx, SQL_SEAL_LEASE_TAKE, p);
    int ours;

    if (!res)
        return TX_ERROR;
    ours = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if (!ours)
        out->outcome = SEAL_NO_LEASE;
    return ours ? TX_COMMIT : TX_ROLLBACK;
}

/* Milliseconds since t0 (CLOCK_MONOTONIC). */
static long since_ms(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

void seal_run(const struct zs_config *cfg, const char *owner, long budget_ms, struct seal_totals *t)
{
    struct timespec t0;
    struct seal_result r;
    struct db_session s;
    struct seal_verified v;

    memset(t, 0, sizeof(*t));
    seal_verified_init(&v);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        db_session_init(&s, cfg, "sealer", EP_OTHER);
        seal_once_verified(&s, owner, &v, &r);
        t->last = r.outcome;
        if (r.outcome == SEAL_SEALED || r.outcome == SEAL_NOTHING || r.outcome == SEAL_BLOCKED) {
            t->seal_no = r.seal_no;
            t->tree_size = r.tree_size;
        }
        if (r.outcome != SEAL_SEALED) {
            snprintf(t->blocked, sizeof(t->blocked), "%s", r.blocked);
            break;
        }
        t->seals++;
        t->checked += r.checked;
        t->records += r.records;
        t->checkpoint_us = r.checkpoint_us;
        t->sign_us = r.sign_us;
        for (int k = 0; k < 4; k++)
            t->round_us[k] += r.round_us[k];
        t->more = r.more;
        if (!r.more)
            break;
        /* past the bound the run still seals what a checked seal verified
         * for it (v), up to SEAL_RUN_CAP times the bound: the checks' cost
         * is spread over those seals only if they follow it */
        if (budget_ms > 0 && since_ms(&t0) >= budget_ms
            && (v.n == 0 || since_ms(&t0) >= SEAL_RUN_CAP * budget_ms))
            break;
    }
    seal_verified_free(&v);
}

/* ---- the sealer process ---------------------------------------------------- */

static pid_t sealer_pid;

static void nap_ms(long ms)
{
    struct timespec nap = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&nap, NULL); /* a signal cuts it short */
}

/* One run of seals and what follows it: the log, proof.status, the witness, the lease. */
static void sealer_round(const struct zs_config *cfg, const char *owner, int64_t *witnessed,
                         struct seal_totals *t)
{
    seal_run(cfg, owner, SEAL_RUN_MS, t);
    if (t->seals > 0)
        log_info("sealed %lld records in %d seals, %d of them checked (seal %lld, tree size "
                 "%lld; round trips %ld/%ld/%ld/%ld ms)",
                 (long long)t->records, t->seals, t->checked, (long long)t->seal_no,
                 (long long)t->tree_size, t->round_us[0] / 1000, t->round_us[1] / 1000,
                 t->round_us[2] / 1000, t->round_us[3] / 1000);
    /* proof.status when what the sealer's checks saw changed */
    if (t->last == SEAL_BLOCKED || t->seals > 0)
        publish_proof_status(cfg, t->last == SEAL_BLOCKED ? "failing" : "ok", t->blocked,
                             t->seal_no, t->tree_size);
    /* Every run, not only one that sealed: a witness that failed is retried. */
    witness_latest(cfg, witnessed);
    if (t->last != SEAL_NO_LEASE)
        seal_release(cfg, owner);
}

/* The sealer process: runs of seals until told to stop or its parent dies. */
static void sealer_main(const struct zs_config *cfg, pid_t parent)
{
    int64_t witnessed = 0; /* tree size of the checkpoint last handed to the witness */
    struct db_session s;
    char owner[64];

    db_forget_inherited_connection(); /* the jobs child's own, not ours to share */
    snprintf(owner, sizeof(owner), "jobs-%ld", (long)getpid());
    db_session_init(&s, cfg, "jobs-seal", EP_OTHER);
    while (!util_child_stopping() && getppid() == parent && seal_lease_ensure(&s) < 0)
        nap_ms(1000);
    while (!util_child_stopping() && getppid() == parent) {
        struct seal_totals t;

        sealer_round(cfg, owner, &witnessed, &t);
        /* a run the time bound ended goes on after a short yield; else the interval */
        nap_ms(t.last == SEAL_SEALED && t.more ? SEAL_YIELD_MS : cfg->seal_interval_ms);
    }
    seal_release(cfg, owner);
    db_close_worker_connection();
    _exit(0);
}

void seal_jobs_poll(const struct zs_config *cfg)
{
    if (cfg->seal_interval_ms > 0)
        util_child_keep(&sealer_pid, "sealer", "sealer", sealer_main, cfg);
}

void seal_jobs_stop(void)
{
    util_child_stop(&sealer_pid);
}
