/*
 * jobs.c — the periodic-jobs child: idempotency-key purge (and, as the
 * endpoints grow, settlement sweeps). Runs outside the supervisor so a slow
 * query never delays respawning workers.
 */
#include "jobs.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "lots.h"

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
    res = tx_exec(tx,
                  "DELETE FROM idempotency_keys k USING ("
                  "  SELECT caller, key FROM idempotency_keys"
                  "   WHERE created_at < now() - make_interval(secs => $1::int)"
                  "   LIMIT $2::int) old"
                  " WHERE k.caller = old.caller AND k.key = old.key",
                  2, params);
    if (!res)
        return TX_ERROR;
    p->deleted = atoi(PQcmdTuples(res));
    PQclear(res);
    return TX_COMMIT;
}

int jobs_purge_idempotency_keys(const struct zs_config *cfg)
{
    struct request r;
    struct purge p = { cfg, 0 };
    enum tx_decision d;

    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.endpoint = EP_OTHER;
    snprintf(r.request_id, sizeof(r.request_id), "jobs-purge");
    if (tx_run(&r, 0, purge_tx, &p, &d) < 0)
        return -1;
    return p.deleted;
}

void jobs_main(const struct zs_config *cfg)
{
    struct sigaction sa;

    log_set_role("jobs");
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGQUIT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);

    while (!stop_requested) {
        struct timespec nap = { cfg->jobs_interval_ms / 1000,
                                (long)(cfg->jobs_interval_ms % 1000) * 1000000L };
        int n;

        if (reopen_requested) {
            reopen_requested = 0;
            log_reopen();
        }
        /* Purge until a batch comes back short, so a backlog drains quickly. */
        do {
            n = jobs_purge_idempotency_keys(cfg);
            if (n > 0)
                log_info("purged %d expired idempotency keys", n);
        } while (n == cfg->idempotency_purge_batch && !stop_requested);

        /* Settle English lots whose end has passed (close-on-read does the rest). */
        do {
            n = lots_sweep(cfg, 32);
        } while (n == 32 && !stop_requested);

        nanosleep(&nap, NULL);   /* a signal cuts the nap short */
    }
    db_close_worker_connection();
    _exit(0);
}
