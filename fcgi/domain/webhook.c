/*
 * webhook.c — webhook deliveries (see webhook.h).
 */
#include "domain/webhook.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "httpc.h"
#include "log.h"
#include "store/db.h"
#include "util.h"

/* one endpoint process delivers for at most this long; then another due endpoint may have its slot */
#define ENDPOINT_BUDGET_S 2
#define IDLE_MS 200 /* an endpoint with nothing to send looks again after this */

static pid_t deliverer_pid;

int webhook_sign(const char *secret, int64_t t, const char *body, size_t len, char *out,
                 size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char ts[24];
    int n = snprintf(ts, sizeof(ts), "%" PRId64 ".", t);
    unsigned char *msg = malloc((size_t)n + len);
    size_t used;
    int ok;

    if (!msg)
        return -1;
    /* the signed text is "<t>.<body>", as Stripe's scheme has it */
    memcpy(msg, ts, (size_t)n);
    memcpy(msg + n, body, len);
    ok =
        HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, (size_t)n + len, mac, &maclen) != NULL;
    free(msg);
    if (!ok)
        return -1;
    used = (size_t)snprintf(out, outlen, "t=%" PRId64 ",v1=", t);
    if (used + 2 * maclen + 1 > outlen)
        return -1;
    for (unsigned int i = 0; i < maclen; i++)
        snprintf(out + used + 2 * i, 3, "%02x", mac[i]);
    return 0;
}

int webhook_backoff_s(int attempts)
{
    return attempts <= 1             ? 1
        : attempts > 12              ? 3600
        : 1 << (attempts - 1) > 3600 ? 3600
                                     : 1 << (attempts - 1);
}

/* ---- one endpoint ---------------------------------------------------------- */

/* The endpoint's state and next event (webhook_next). */
struct next {
    const char *id;
    char url[1024], secret[128], type[64], created_at[40];
    int attempts, has_event, found;
    int64_t cursor, pos, failing_s;
    char *payload;
};

static enum tx_decision next_tx(struct tx *tx, void *arg)
{
    struct next *n = arg;
    const char *p[1] = { n->id };
    PGresult *res = tx_exec_named(tx, SQL_WEBHOOK_NEXT, p);

    free(n->payload);
    n->payload = NULL;
    if (!res)
        return TX_ERROR;
    n->found = PQntuples(res) == 1;
    n->has_event = n->found && !PQgetisnull(res, 0, 5);
    if (n->found) {
        snprintf(n->url, sizeof(n->url), "%s", PQgetvalue(res, 0, 0));
        snprintf(n->secret, sizeof(n->secret), "%s", PQgetvalue(res, 0, 1));
        n->attempts = atoi(PQgetvalue(res, 0, 2));
        n->cursor = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
        n->failing_s = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    }
    if (n->has_event) {
        n->pos = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
        snprintf(n->type, sizeof(n->type), "%s", PQgetvalue(res, 0, 6));
        snprintf(n->created_at, sizeof(n->created_at), "%s", PQgetvalue(res, 0, 8));
        n->payload = strdup(PQgetvalue(res, 0, 7));
    }
    PQclear(res);
    return n->has_event && !n->payload ? TX_ERROR : TX_COMMIT;
}

/* What one attempt did, to record. */
struct outcome {
    const struct next *n;
    const char *what; /* delivered, failed, given_up */
    int status;       /* HTTP status, 0 none */
    char error[160];
    int ms;
    int retry_in_s; /* failed: when to try again */
};

static enum tx_decision record_tx(struct tx *tx, void *arg)
{
    struct outcome *o = arg;
    const struct next *n = o->n;
    char did[UUID_STR_LEN + 1], pos[24], att[16], st[16], ms[16], in[16];
    const char *pl[9] = { did,
                          n->id,
                          pos,
                          n->type,
                          att,
                          o->what,
                          o->status ? st : NULL,
                          o->error[0] ? o->error : NULL,
                          ms };
    const char *pd[2] = { n->id, pos }, *pr[3] = { n->id, att, in };

    if (util_uuid_v4(did) < 0)
        return TX_ERROR;
    snprintf(pos, sizeof(pos), "%" PRId64, n->pos);
    snprintf(att, sizeof(att), "%d", n->attempts + 1);
    snprintf(st, sizeof(st), "%d", o->status);
    snprintf(ms, sizeof(ms), "%d", o->ms);
    snprintf(in, sizeof(in), "%d", o->retry_in_s);
    if (tx_exec_named_void(tx, SQL_WEBHOOK_LOG, pl) < 0)
        return TX_ERROR;
    if (strcmp(o->what, "failed") == 0)
        return tx_exec_named_void(tx, SQL_WEBHOOK_RETRY, pr) < 0 ? TX_ERROR : TX_COMMIT;
    return tx_exec_named_void(tx, SQL_WEBHOOK_DONE, pd) < 0 ? TX_ERROR : TX_COMMIT;
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* POST n's event to its URL, signed; fill o. */
static void attempt(const struct zs_config *cfg, const struct next *n, struct outcome *o)
{
    struct httpc_url u;
    struct httpc_resp r;
    struct timespec t0;
    size_t blen = strlen(n->payload) + 256;
    char *body = malloc(blen), sig[160], headers[512];
    int len;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    o->what = "failed";
    if (!body || httpc_url_parse(n->url, &u) < 0) {
        snprintf(o->error, sizeof(o->error), "%s",
                 body ? "the URL does not parse" : "out of memory");
        free(body);
        return;
    }
    len = snprintf(body, blen,
                   "{\"id\":%" PRId64 ",\"type\":\"%s\",\"created_at\":\"%s\",\"data\":%s}", n->pos,
                   n->type, n->created_at, n->payload);
    if (webhook_sign(n->secret, (int64_t)time(NULL), body, (size_t)len, sig, sizeof(sig)) < 0) {
        snprintf(o->error, sizeof(o->error), "signing failed");
        free(body);
        return;
    }
    snprintf(headers, sizeof(headers),
             "Content-Type: application/json\r\nzerosum-signature: %s\r\n"
             "zerosum-event-id: %" PRId64 "\r\nzerosum-event-type: %s\r\n",
             sig, n->pos, n->type);
    if (httpc_request(&u, "POST", headers, body, (size_t)len, cfg->webhook_timeout_ms, &r, o->error,
                      sizeof(o->error))
        == 0) {
        o->status = r.status;
        if (r.status >= 200 && r.status < 300)
            o->what = "delivered";
        else
            snprintf(o->error, sizeof(o->error), "answered %d", r.status);
        httpc_free(&r);
    }
    free(body);
    o->ms = (int)ms_since(&t0);
}

/* Nothing to send: the endpoint is looked at again after IDLE_MS. */
static enum tx_decision idle_tx(struct tx *tx, void *arg)
{
    char ms[16];
    const char *p[2] = { arg, ms };

    snprintf(ms, sizeof(ms), "%d", IDLE_MS);
    return tx_exec_named_void(tx, SQL_WEBHOOK_IDLE, p) < 0 ? TX_ERROR : TX_COMMIT;
}

/* Deliver endpoint id's due events, in order, until none is left, one fails, or the budget ends. */
static void deliver_endpoint(const struct zs_config *cfg, const char *id)
{
    struct next n = { .id = id };
    struct db_session s;
    struct timespec t0;
    enum tx_decision d;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!util_child_stopping() && ms_since(&t0) < ENDPOINT_BUDGET_S * 1000L) {
        struct outcome o = { &n, NULL, 0, "", 0, 0 };

        db_session_init(&s, cfg, "webhook", EP_OTHER);
        if (tx_run(&s, TX_READ_ONLY, next_tx, &n, &d) != TX_RESULT_DONE || !n.found)
            break;
        if (!n.has_event) {
            tx_run(&s, 0, idle_tx, (void *)id, &d);
            break;
        }
        if (n.failing_s >= cfg->webhook_max_age_s) {
            o.what = "given_up";
            snprintf(o.error, sizeof(o.error), "failing for %" PRId64 " s", n.failing_s);
        } else {
            attempt(cfg, &n, &o);
            if (strcmp(o.what, "failed") == 0) {
                o.retry_in_s = webhook_backoff_s(n.attempts + 1);
                log_info("webhook %s: event %" PRId64 " attempt %d failed (%s); retry in %d s", id,
                         n.pos, n.attempts + 1, o.error, o.retry_in_s);
            }
        }
        if (tx_run(&s, 0, record_tx, &o, &d) != TX_RESULT_DONE || strcmp(o.what, "failed") == 0)
            break;
    }
    free(n.payload);
}

/* ---- the deliverer ------------------------------------------------------------ */

struct due {
    char ids[WEBHOOK_PARALLEL * 2][UUID_STR_LEN + 1];
    int failing[WEBHOOK_PARALLEL * 2]; /* its last attempt failed: it is retrying */
    int n;
};

static enum tx_decision due_tx(struct tx *tx, void *arg)
{
    struct due *d = arg;
    char lim[16];
    const char *p[1] = { lim };
    PGresult *res;

    snprintf(lim, sizeof(lim), "%d", WEBHOOK_PARALLEL * 2);
    if (!(res = tx_exec_named(tx, SQL_WEBHOOK_DUE, p)))
        return TX_ERROR;
    d->n = 0;
    for (int i = 0; i < PQntuples(res) && d->n < WEBHOOK_PARALLEL * 2; i++, d->n++) {
        snprintf(d->ids[d->n], sizeof(d->ids[d->n]), "%s", PQgetvalue(res, i, 0));
        d->failing[d->n] = PQgetvalue(res, i, 1)[0] == 't';
    }
    PQclear(res);
    return TX_COMMIT;
}

/* The endpoint processes running: which endpoint each serves, and whether it was failing. */
static struct {
    pid_t pid;
    char id[UUID_STR_LEN + 1];
    int failing;
} running[WEBHOOK_PARALLEL];

/* Slots held by endpoints that were failing when they were started. */
static int failing_running(void)
{
    int n = 0;

    for (int i = 0; i < WEBHOOK_PARALLEL; i++)
        n += running[i].pid > 0 && running[i].failing;
    return n;
}

static int busy(const char *id)
{
    for (int i = 0; i < WEBHOOK_PARALLEL; i++)
        if (running[i].pid > 0 && strcmp(running[i].id, id) == 0)
            return 1;
    return 0;
}

/* Reap finished endpoint processes; the number still running. */
static int reap(void)
{
    int n = 0;

    for (int i = 0; i < WEBHOOK_PARALLEL; i++) {
        if (running[i].pid > 0 && waitpid(running[i].pid, NULL, WNOHANG) == running[i].pid)
            running[i].pid = 0;
        n += running[i].pid > 0;
    }
    return n;
}

/* Fork a process for endpoint id into a free slot. */
static void start_endpoint(const struct zs_config *cfg, const char *id, int failing)
{
    for (int i = 0; i < WEBHOOK_PARALLEL; i++) {
        if (running[i].pid > 0)
            continue;
        pid_t p = fork();
        if (p < 0) {
            log_error("webhooks: fork() failed: %s", strerror(errno));
            return;
        }
        if (p == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            db_forget_inherited_connection(); /* the deliverer's, which it goes on using */
            deliver_endpoint(cfg, id);
            _exit(0);
        }
        running[i].pid = p;
        running[i].failing = failing;
        snprintf(running[i].id, sizeof(running[i].id), "%s", id);
        return;
    }
}

/*
 * The deliverer process: find due endpoints, hand each to a process of its
 * own. Endpoints that are retrying (their last attempt failed: dead, slow,
 * refusing) hold at most WEBHOOK_FAILING_SLOTS slots at once, so however
 * many are dead, each holding its slot for a whole webhook_timeout_ms, the
 * other slots stay free for endpoints that answer.
 */
static void deliverer_main(const struct zs_config *cfg, pid_t parent)
{
    db_forget_inherited_connection(); /* the jobs child's own, not ours to share */
    while (!util_child_stopping() && getppid() == parent) {
        struct due due = { .n = 0 };
        struct db_session s;
        enum tx_decision d;
        struct timespec nap = { 0, 100 * 1000000L };

        if (reap() < WEBHOOK_PARALLEL) {
            db_session_init(&s, cfg, "webhooks", EP_OTHER);
            if (tx_run(&s, TX_READ_ONLY, due_tx, &due, &d) == TX_RESULT_DONE)
                for (int i = 0; i < due.n; i++)
                    if (!busy(due.ids[i])
                        && (!due.failing[i] || failing_running() < WEBHOOK_FAILING_SLOTS))
                        start_endpoint(cfg, due.ids[i], due.failing[i]);
        }
        nanosleep(&nap, NULL);
    }
    for (int i = 0; i < WEBHOOK_PARALLEL; i++)
        if (running[i].pid > 0) {
            kill(running[i].pid, SIGTERM);
            waitpid(running[i].pid, NULL, 0);
        }
    _exit(0);
}

void webhook_jobs_poll(const struct zs_config *cfg)
{
    if (cfg->events_poll_ms > 0)
        util_child_keep(&deliverer_pid, "webhooks: deliverer", "webhooks", deliverer_main, cfg);
}

void webhook_jobs_stop(void)
{
    util_child_stop(&deliverer_pid);
}
