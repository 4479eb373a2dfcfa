/*
 * jobs.c — the periodic-jobs child: idempotency-key purge, settlement
 * sweeps, finishing interrupted market resolutions, stampede runs. Runs outside the supervisor so a slow
 * query never delays respawning workers.
 */
#include "jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/db.h"
#include "log.h"
#include "nginx_watch.h"
#include "domain/auction.h"
#include "domain/resolve.h"
#include "domain/book.h"
#include "domain/pending.h"
#include "domain/fullpass.h"
#include "domain/seal.h"
#include "domain/publish.h"
#include "domain/webhook.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reopen_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_usr1(int sig)
{
    (void)sig;
    reopen_requested = 1;
}

struct purge {
    const struct zs_config *cfg;
    int deleted;
};

static enum tx_decision purge_tx(struct tx *tx, void *arg)
{
    struct purge *p = arg;
    char ttl[32], batch[32];
    const char *params[2] = { ttl, batch };
    PGresult *res;

    snprintf(ttl, sizeof(ttl), "%d", p->cfg->idempotency_ttl);
    snprintf(batch, sizeof(batch), "%d", p->cfg->idempotency_purge_batch);
    res = tx_exec_named(tx, SQL_JOBS_PURGE_KEYS, params);
    if (!res)
        return TX_ERROR;
    p->deleted = atoi(PQcmdTuples(res));
    PQclear(res);
    return TX_COMMIT;
}

int jobs_purge_idempotency_keys(const struct zs_config *cfg)
{
    struct db_session s;
    struct purge p = { cfg, 0 };
    enum tx_decision d;

    db_session_init(&s, cfg, "jobs-purge", EP_OTHER);
    if (tx_run(&s, 0, purge_tx, &p, &d) != TX_RESULT_DONE)
        return -1;
    return p.deleted;
}

/* ---- stampede runs queued by POST /proof/runs --------------------------- */

static pid_t run_pid;
static char run_id[40];
static char run_out[ZS_PATH_MAX + 64];

struct run_claim {
    char id[40], scenario[32], n[16], k[16];
    int found;
};

static enum tx_decision run_claim_tx(struct tx *tx, void *arg)
{
    struct run_claim *c = arg;
    PGresult *res = tx_exec_named(tx, SQL_JOBS_RUN_CLAIM, NULL);

    if (!res)
        return TX_ERROR;
    c->found = PQntuples(res) == 1;
    if (c->found) {
        snprintf(c->id, sizeof(c->id), "%s", PQgetvalue(res, 0, 0));
        snprintf(c->scenario, sizeof(c->scenario), "%s", PQgetvalue(res, 0, 1));
        snprintf(c->n, sizeof(c->n), "%s", PQgetvalue(res, 0, 2));
        snprintf(c->k, sizeof(c->k), "%s", PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    return TX_COMMIT;
}

struct run_finish {
    const char *id, *status, *summary;
};

static enum tx_decision run_finish_tx(struct tx *tx, void *arg)
{
    struct run_finish *f = arg;
    const char *p[3] = { f->id, f->status, f->summary };
    /* No id: every run still running (the child's start). */
    PGresult *res = tx_exec_named(tx, f->id ? SQL_JOBS_RUN_FINISH : SQL_JOBS_RUN_FAIL_RUNNING, p);

    if (!res)
        return TX_ERROR;
    PQclear(res);
    return TX_COMMIT;
}

/* The last non-empty line of the run's stdout, if it is a JSON object; else an error object. */
static char *read_summary(const char *path, int status)
{
    char buf[65536], *line = NULL;
    FILE *f = fopen(path, "r");
    struct json_object *o;

    if (f) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        line = strrchr(buf, '\n');
        line = line ? line + 1 : buf;
        o = json_tokener_parse(line);
        if (o && json_object_is_type(o, json_type_object)) {
            char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
            json_object_put(o);
            return s;
        }
        if (o)
            json_object_put(o);
    }
    o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string("the stampede printed no summary"));
    json_object_object_add(o, "exit_status", json_object_new_int(status));
    {
        char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return s;
    }
}

static void runs_poll(const struct zs_config *cfg)
{
    struct db_session s;
    enum tx_decision d;

    db_session_init(&s, cfg, "jobs-runs", EP_PROOF);
    if (run_pid > 0) {
        int st;
        pid_t p = waitpid(run_pid, &st, WNOHANG);
        if (p == 0)
            return;
        int code = p < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        char *summary = read_summary(run_out, code);
        struct run_finish f = { run_id, code == 0 ? "passed" : "failed", summary };
        if (tx_run(&s, 0, run_finish_tx, &f, &d) == TX_RESULT_DONE)
            log_info("stampede run %s %s", run_id, f.status);
        free(summary);
        unlink(run_out);
        run_pid = 0;
        return;
    }
    if (!cfg->stampede_script[0])
        return;
    struct run_claim c;
    memset(&c, 0, sizeof(c));
    if (tx_run(&s, 0, run_claim_tx, &c, &d) != TX_RESULT_DONE || !c.found)
        return;
    snprintf(run_id, sizeof(run_id), "%s", c.id);
    snprintf(run_out, sizeof(run_out), "%s/stampede-%s.out", cfg->socket_dir, c.id);
    run_pid = fork();
    if (run_pid < 0) {
        struct run_finish f = { run_id, "failed", "{\"ok\":false,\"error\":\"fork failed\"}" };
        log_error("fork() failed while starting stampede run %s: %s", run_id, strerror(errno));
        tx_run(&s, 0, run_finish_tx, &f, &d);
        run_pid = 0;
        return;
    }
    if (run_pid == 0) {
        int out = open(run_out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        char *argv[9];
        int a = 0;
        if (out >= 0) {
            dup2(out, STDOUT_FILENO);
            close(out);
        }
        setenv("ZS_VAR", cfg->var_dir, 1);
        char script[ZS_PATH_MAX];
        snprintf(script, sizeof(script), "%s", cfg->stampede_script);
        argv[a++] = script;
        argv[a++] = c.scenario;
        argv[a++] = "--n";
        argv[a++] = c.n;
        if (c.k[0]) {
            argv[a++] = "--k";
            argv[a++] = c.k;
        }
        argv[a] = NULL;
        execv(cfg->stampede_script, argv);
        _exit(127);
    }
    log_info("stampede run %s: %s --n %s started (pid %d)", run_id, c.scenario, c.n, (int)run_pid);
}

/* The jobs child's signals: QUIT/TERM stop it, USR1 reopens the log, HUP and PIPE are ignored. */
static void jobs_signals(void)
{
    const struct {
        int sig;
        void (*fn)(int);
    } table[] = { { SIGQUIT, on_stop },
                  { SIGTERM, on_stop },
                  { SIGUSR1, on_usr1 },
                  { SIGHUP, SIG_IGN },
                  { SIGPIPE, SIG_IGN } };
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        sa.sa_handler = table[i].fn;
        sigaction(table[i].sig, &sa, NULL);
    }
}

/* A run the previous jobs child left running was interrupted: mark it failed. */
static void runs_fail_interrupted(const struct zs_config *cfg)
{
    struct db_session s;
    struct run_finish f = { NULL, "failed",
                            "{\"ok\":false,\"error\":\"interrupted by a restart\"}" };
    enum tx_decision d;

    db_session_init(&s, cfg, "jobs-runs", EP_PROOF);
    tx_run(&s, 0, run_finish_tx, &f, &d);
}

void jobs_main(const struct zs_config *cfg)
{
    log_set_role("jobs");
    jobs_signals();
    runs_fail_interrupted(cfg);

    while (!stop_requested) {
        struct timespec nap = { cfg->jobs_interval_ms / 1000,
                                (long)(cfg->jobs_interval_ms % 1000) * 1000000L };
        int n;

        if (reopen_requested) {
            reopen_requested = 0;
            log_reopen();
        }
        /* A dead nginx worker leaves nchan's channels mute: reload nginx. */
        nginx_watch_poll(cfg);
        /* The event publisher runs in a process of its own (started again if it died). */
        publish_jobs_poll(cfg);
        webhook_jobs_poll(cfg);
        do {
            n = publish_purge(cfg);
            if (n > 0)
                log_info("purged %d old events and stream ids", n);
        } while (n >= cfg->events_purge_batch && !stop_requested);

        /* Purge until a batch comes back short, so a backlog drains quickly. */
        do {
            n = jobs_purge_idempotency_keys(cfg);
            if (n > 0)
                log_info("purged %d expired idempotency keys", n);
        } while (n == cfg->idempotency_purge_batch && !stop_requested);

        /* Settle English lots whose end has passed (close-on-read does the rest). */
        do {
            struct db_session s;

            db_session_init(&s, cfg, "jobs-sweep", EP_LOTS);
            n = auction_sweep(&s, 32);
        } while (n == 32 && !stop_requested);

        /* Expire pending transfers whose deadline has passed. */
        do {
            struct db_session s;

            db_session_init(&s, cfg, "jobs-pending", EP_TRANSFERS);
            n = pending_expire_due(&s, 32);
        } while (n == 32 && !stop_requested);

        /* Expire gtd orders whose deadline has passed, releasing their holds. */
        do {
            struct db_session s;

            db_session_init(&s, cfg, "jobs-orders", EP_ORDER);
            n = book_expire_due(&s, 32);
        } while (n == 32 && !stop_requested);

        /* Finish resolutions left half done (their owner died or failed). */
        do {
            n = market_resolve_stale(cfg, 8);
        } while (n == 8 && !stop_requested);

        runs_poll(cfg);

        /* Start or reap the full re-verification pass (it runs in a child of its own). */
        fullpass_jobs_poll(cfg);
        /* The sealer runs in a process of its own (started again if it died). */
        seal_jobs_poll(cfg);

        nanosleep(&nap, NULL); /* a signal cuts the nap short */
    }
    fullpass_jobs_stop();
    seal_jobs_stop();
    publish_jobs_stop();
    webhook_jobs_stop();
    db_close_worker_connection();
    _exit(0);
}
