/*
 * fullpass_jobs.c — the jobs child's side of the full pass (fullpass.h):
 * queue a pass when the last finished one is older than
 * full_audit_interval_s, and run the oldest queued pass in a forked child,
 * so the jobs child's other work (sweeps, expiry, sealing) goes on while it
 * runs. The child uses connections of its own (never the jobs child's) and
 * leaves by _exit().
 */
#include "domain/fullpass.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "store/db.h"

static pid_t pass_pid;
static char pass_id[UUID_STR_LEN + 1];

struct jobs_arg {
    const struct zs_config *cfg;
    char id[UUID_STR_LEN + 1]; /* out: the pass to run ("" none) */
    const char *finish_id;     /* finish_tx: the pass whose process died */
    const char *detail;
};

/* Queue a scheduled pass when one is due, then pick the oldest queued one. */
static enum tx_decision next_tx(struct tx *tx, void *arg)
{
    struct jobs_arg *a = arg;
    char id[UUID_STR_LEN + 1], secs[24];
    const char *v[2] = { id, secs };
    PGresult *res;

    a->id[0] = '\0';
    if (tx_exec_named_void(tx, SQL_AUDIT_REQUEUE_ORPHANS, NULL) < 0)
        return TX_ERROR;
    if (a->cfg->full_audit_interval_s > 0) {
        if (util_uuid_v4(id) < 0)
            return TX_ERROR;
        snprintf(secs, sizeof(secs), "%d", a->cfg->full_audit_interval_s);
        if (tx_exec_named_void(tx, SQL_AUDIT_SCHEDULE, v) < 0)
            return TX_ERROR;
    }
    res = tx_exec_named(tx, SQL_AUDIT_NEXT_QUEUED, NULL);
    if (!res)
        return TX_ERROR;
    if (PQntuples(res) == 1)
        snprintf(a->id, sizeof(a->id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return TX_COMMIT;
}

/* The pass's process died without a verdict: fail the pass (it did not complete). */
static enum tx_decision finish_tx(struct tx *tx, void *arg)
{
    struct jobs_arg *a = arg;
    const char *v[2] = { a->finish_id, a->detail };

    return tx_exec_named_void(tx, SQL_AUDIT_FAIL_DIED, v) < 0 ? TX_ERROR : TX_COMMIT;
}

void fullpass_jobs_stop(void)
{
    if (pass_pid > 0)
        kill(pass_pid, SIGTERM);
}

/* Reap the pass child if it ended. 1 while it still runs, else 0. */
static int reap(const struct zs_config *cfg)
{
    struct db_session s;
    struct jobs_arg a = { cfg, "", pass_id, NULL };
    enum tx_decision d;
    char detail[128];
    int st;
    pid_t p = waitpid(pass_pid, &st, WNOHANG);

    if (p == 0)
        return 1;
    pass_pid = 0;
    /* 0 passed, 1 failed (verdict recorded), 2 not run (the row is as it was) */
    if (p > 0 && WIFEXITED(st) && WEXITSTATUS(st) <= 2)
        return 0;
    snprintf(detail, sizeof(detail), "the pass did not complete: its process %s %d",
             p > 0 && WIFSIGNALED(st) ? "was killed by signal" : "exited with",
             p > 0 ? (WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st)) : -1);
    a.detail = detail;
    db_session_init(&s, cfg, "jobs-fullpass", EP_PROOF);
    tx_run(&s, 0, finish_tx, &a, &d);
    log_error("full pass %s: %s", pass_id, detail);
    return 0;
}

void fullpass_jobs_poll(const struct zs_config *cfg)
{
    struct db_session s;
    struct jobs_arg a = { cfg, "", NULL, NULL };
    enum tx_decision d;

    if (pass_pid > 0 && reap(cfg))
        return;
    db_session_init(&s, cfg, "jobs-fullpass", EP_PROOF);
    if (tx_run(&s, 0, next_tx, &a, &d) != TX_RESULT_DONE || !a.id[0])
        return;
    snprintf(pass_id, sizeof(pass_id), "%s", a.id);
    pass_pid = fork();
    if (pass_pid < 0) {
        log_error("fork() failed while starting full pass %s: %s", pass_id, strerror(errno));
        pass_pid = 0;
        return;
    }
    if (pass_pid == 0) {
        struct fullpass_verdict v;
        int rc;

        /* The jobs child's handlers only set its flags: a stop must end the pass. */
        signal(SIGTERM, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        log_set_role("fullpass");
        fullpass_lower_self(cfg); /* a background pass yields the CPU to the writers */
        rc = fullpass_run(cfg, pass_id, 0, &v);
        if (rc < 0)
            log_info("full pass %s not run: %s", pass_id, v.detail);
        _exit(rc < 0 ? 2 : rc);
    }
    log_info("full pass %s started (pid %d)", pass_id, (int)pass_pid);
}
