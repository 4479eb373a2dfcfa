/*
 * publish.c — the event publisher (see publish.h).
 */
#include "domain/publish.h"

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

#include <json-c/json.h>

#include "domain/events.h"
#include "httpc.h"
#include "log.h"
#include "util.h"

#define LEASE_MS 5000
/* An idle publisher renews its lease once this old (a round that writes
 * renews it anyway): a fifth of the TTL, so four seconds of stall still
 * keep it. Every write checks the lease in its own transaction whatever
 * this says; this only keeps it from lapsing. */
#define LEASE_RENEW_MS (LEASE_MS / 5)
#define PUBLISH_TIMEOUT_MS 2000
#define CHANNELS_MAX 8

static pid_t pub_pid;
static volatile sig_atomic_t pub_stop;

/* One ordered event, as read back for publishing. */
struct pub_event {
    int64_t pos;
    char type[64];
    char channels[EVENTS_CHANNELS_MAX];
    char created_at[40];
    char *payload;
};

/* What nchan said of one publish. */
struct pub_done {
    char channel[EVENTS_CHANNELS_MAX];
    char msgid[48];
    int fresh; /* the channel held no other message: its older ids are gone */
};

struct pub_ctx {
    const struct zs_config *cfg;
    char owner[64];
    int recovering; /* the first event after a start or a failure: check before publishing */
    struct timespec renewed; /* when the last transaction that renewed the lease began */
    int held;                /* renewed is set: the lease was ours then */
    struct httpc_url nchan;
};

/* ---- ordering ------------------------------------------------------------ */

struct order_arg {
    const struct pub_ctx *c;
    int ordered;
};

/* Take the lease; give the next positions to the unordered events; advance `ordered`. */
static enum tx_decision order_tx(struct tx *tx, void *arg)
{
    struct order_arg *a = arg;
    char ttl[16], batch[16], last[24];
    const char *pl[2] = { a->c->owner, ttl }, *pc[1] = { "ordered" }, *po[2] = { NULL, batch };
    const char *ps[2] = { "ordered", last };
    PGresult *res;
    int64_t base, top;

    a->ordered = 0;
    snprintf(ttl, sizeof(ttl), "%d", LEASE_MS);
    snprintf(batch, sizeof(batch), "%d", a->c->cfg->events_batch);
    res = tx_exec_named(tx, SQL_EVENTS_LEASE_TAKE, pl);
    if (!res)
        return TX_ERROR;
    if (atoi(PQcmdTuples(res)) != 1) {
        PQclear(res);
        a->ordered = -1; /* someone else publishes */
        return TX_ROLLBACK;
    }
    PQclear(res);
    if (!(res = tx_exec_named(tx, SQL_EVENTS_CURSOR, pc)))
        return TX_ERROR;
    base = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
    PQclear(res);
    if (base < 0) {
        tx->err = DB_FAILED;
        return TX_ERROR;
    }
    po[0] = last;
    snprintf(last, sizeof(last), "%" PRId64, base);
    if (!(res = tx_exec_named(tx, SQL_EVENTS_ORDER, po)))
        return TX_ERROR;
    top = base;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t p = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        top = p > top ? p : top;
    }
    a->ordered = PQntuples(res);
    PQclear(res);
    snprintf(last, sizeof(last), "%" PRId64, top);
    return tx_exec_named_void(tx, SQL_EVENTS_CURSOR_SET, ps) < 0 ? TX_ERROR : TX_COMMIT;
}

/* ---- reading ------------------------------------------------------------- */

struct read_arg {
    const struct pub_ctx *c;
    struct pub_event *ev;
    int n, max;
};

static void read_free(struct read_arg *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->ev[i].payload);
    a->n = 0;
}

/* The ordered events after the `nchan` cursor, in order. */
static enum tx_decision read_tx(struct tx *tx, void *arg)
{
    struct read_arg *a = arg;
    const char *pc[1] = { "nchan" };
    char after[24], lim[16];
    const char *pa[2] = { after, lim };
    PGresult *res;

    read_free(a);
    if (!(res = tx_exec_named(tx, SQL_EVENTS_CURSOR, pc)))
        return TX_ERROR;
    snprintf(after, sizeof(after), "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "0");
    PQclear(res);
    snprintf(lim, sizeof(lim), "%d", a->max);
    if (!(res = tx_exec_named(tx, SQL_EVENTS_AFTER, pa)))
        return TX_ERROR;
    for (int i = 0; i < PQntuples(res) && a->n < a->max; i++) {
        struct pub_event *e = &a->ev[a->n];
        e->pos = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        snprintf(e->type, sizeof(e->type), "%s", PQgetvalue(res, i, 1));
        snprintf(e->channels, sizeof(e->channels), "%s", PQgetvalue(res, i, 2));
        snprintf(e->created_at, sizeof(e->created_at), "%s", PQgetvalue(res, i, 4));
        if (!(e->payload = strdup(PQgetvalue(res, i, 3)))) {
            PQclear(res);
            tx->err = DB_FAILED;
            return TX_ERROR;
        }
        a->n++;
    }
    PQclear(res);
    return TX_COMMIT;
}

/* ---- publishing ---------------------------------------------------------- */

/* The message subscribers receive: the event with its position as "id". malloc'd. */
static char *message_text(const struct pub_event *e, const char *channel)
{
    size_t n = strlen(e->payload) + strlen(channel) + 256;
    char *m = malloc(n);

    if (m)
        snprintf(m, n,
                 "{\"id\":%" PRId64 ",\"type\":\"%s\",\"channel\":\"%s\",\"created_at\":\"%s\","
                 "\"data\":%s}",
                 e->pos, e->type, channel, e->created_at, e->payload);
    return m;
}

/* nchan's JSON answer: last_message_id and messages. 0, or -1. */
static int parse_nchan(const struct httpc_resp *r, char *msgid, size_t n, int *messages)
{
    struct json_object *o = r->body ? json_tokener_parse(r->body) : NULL, *v;
    int ok = 0;

    if (o && json_object_object_get_ex(o, "last_message_id", &v)
        && json_object_is_type(v, json_type_string)) {
        snprintf(msgid, n, "%s", json_object_get_string(v));
        ok = msgid[0] != '\0';
        *messages = json_object_object_get_ex(o, "messages", &v) ? json_object_get_int(v) : 0;
    }
    if (o)
        json_object_put(o);
    return ok ? 0 : -1;
}

/* Ask nchan for channel's latest message id ("" when the channel has none). 0, or -1. */
static int channel_latest(struct pub_ctx *c, const char *channel, char *msgid, size_t n)
{
    struct httpc_url u = c->nchan;
    struct httpc_resp r;
    char err[160];
    int messages = 0;

    msgid[0] = '\0';
    snprintf(u.path, sizeof(u.path), "/pub/%s", channel);
    if (httpc_request(&u, "GET", "Accept: application/json\r\n", NULL, 0, PUBLISH_TIMEOUT_MS, &r,
                      err, sizeof(err))
        < 0) {
        log_warn("events: nchan channel %s: %s", channel, err);
        return -1;
    }
    if (r.status == 200 && parse_nchan(&r, msgid, n, &messages) < 0)
        msgid[0] = '\0';
    httpc_free(&r);
    return r.status == 200 || r.status == 404 ? 0 : -1;
}

struct known_arg {
    const char *channel, *msgid;
    int known;
};

static enum tx_decision known_tx(struct tx *tx, void *arg)
{
    struct known_arg *k = arg;
    const char *p[2] = { k->channel, k->msgid };
    PGresult *res = tx_exec_named(tx, SQL_EVENTS_KNOWN, p);

    if (!res)
        return TX_ERROR;
    k->known = PQntuples(res) > 0;
    PQclear(res);
    return TX_COMMIT;
}

/*
 * Recovering: whether channel's latest nchan message is this event,
 * published by a publisher that died before recording it (an id nchan has
 * that the table lacks: only the first unrecorded event can be one). 1 with
 * d filled, 0 no, -1 on failure.
 */
static int already_published(struct pub_ctx *c, const char *channel, struct pub_done *d)
{
    struct db_session s;
    struct known_arg k = { channel, d->msgid, 0 };
    enum tx_decision dec;

    if (channel_latest(c, channel, d->msgid, sizeof(d->msgid)) < 0)
        return -1;
    if (!d->msgid[0])
        return 0;
    db_session_init(&s, c->cfg, "events-publish", EP_OTHER);
    if (tx_run(&s, TX_READ_ONLY, known_tx, &k, &dec) != TX_RESULT_DONE)
        return -1;
    if (k.known)
        return 0;
    log_info("events: channel %s already has message %s: recorded, not published again", channel,
             d->msgid);
    return 1;
}

/* Publish e on channel (or find it there when recovering). 0 with d filled, or -1. */
static int publish_one(struct pub_ctx *c, const struct pub_event *e, const char *channel,
                       struct pub_done *d)
{
    struct httpc_url u = c->nchan;
    struct httpc_resp r;
    char err[160], headers[160], *msg;
    int messages = 0, rc;

    memset(d, 0, sizeof(*d));
    snprintf(d->channel, sizeof(d->channel), "%s", channel);
    if (c->recovering && (rc = already_published(c, channel, d)) != 0)
        return rc < 0 ? -1 : 0;
    if (!(msg = message_text(e, channel)))
        return -1;
    snprintf(u.path, sizeof(u.path), "/pub/%s", channel);
    snprintf(headers, sizeof(headers),
             "Accept: application/json\r\nContent-Type: application/json\r\n"
             "X-EventSource-Event: %s\r\n",
             e->type);
    rc = httpc_request(&u, "POST", headers, msg, strlen(msg), PUBLISH_TIMEOUT_MS, &r, err,
                       sizeof(err));
    free(msg);
    if (rc < 0) {
        log_warn("events: publishing %" PRId64 " to %s: %s", e->pos, channel, err);
        return -1;
    }
    rc = (r.status == 201 || r.status == 202)
            && parse_nchan(&r, d->msgid, sizeof(d->msgid), &messages) == 0
        ? 0
        : -1;
    if (rc < 0 && r.status >= 400 && r.status < 500) {
        /* a channel nginx refuses (not a channel name): skipped, never retried,
         * so one bad row cannot stop the stream */
        log_error("events: event %" PRId64 " names channel %s, which nchan refuses (%d): skipped",
                  e->pos, channel, r.status);
        d->msgid[0] = '\0';
        rc = 0;
    } else if (rc < 0) {
        log_warn("events: publishing %" PRId64 " to %s: nchan answered %d", e->pos, channel,
                 r.status);
    }
    d->fresh = messages == 1;
    httpc_free(&r);
    return rc;
}

struct record_arg {
    const struct pub_ctx *c;
    const struct pub_event *e;
    const struct pub_done *done;
    int n;
    int lost; /* out: the lease was someone else's */
};

/*
 * Record the event's messages and advance `nchan`, with the lease renewed:
 * every statement in one pipeline (one round trip), then COMMIT only if the
 * lease was still ours (otherwise the runner rolls it all back).
 */
static enum tx_decision record_tx(struct tx *tx, void *arg)
{
    struct record_arg *a = arg;
    char ttl[16], pos[24];
    const char *pl[2] = { a->c->owner, ttl }, *ps[2] = { "nchan", pos };
    const char *pp[CHANNELS_MAX][3], *pf[CHANNELS_MAX][2];
    struct tx_stmt st[2 * CHANNELS_MAX + 2];
    int n = 0;

    snprintf(ttl, sizeof(ttl), "%d", LEASE_MS);
    snprintf(pos, sizeof(pos), "%" PRId64, a->e->pos);
    a->lost = 0;
    st[n++] = tx_stmt_named(SQL_EVENTS_LEASE_TAKE, pl);
    for (int i = 0; i < a->n; i++) {
        if (!a->done[i].msgid[0])
            continue; /* skipped */
        pp[i][0] = a->done[i].channel;
        pp[i][1] = a->done[i].msgid;
        pp[i][2] = pos;
        st[n++] = tx_stmt_named(SQL_EVENTS_PUBLISHED, pp[i]);
        if (a->done[i].fresh) {
            pf[i][0] = a->done[i].channel;
            pf[i][1] = pos;
            st[n++] = tx_stmt_named(SQL_EVENTS_FORGET_CHANNEL, pf[i]);
        }
    }
    st[n++] = tx_stmt_named(SQL_EVENTS_CURSOR_SET, ps);
    if (tx_exec_many(tx, st, n, 0) < 0)
        return TX_ERROR;
    a->lost = atoi(PQcmdTuples(st[0].res)) != 1;
    for (int i = 0; i < n; i++)
        PQclear(st[i].res);
    return a->lost ? TX_ROLLBACK : TX_COMMIT;
}

/* Publish one event to each of its channels, then record it. 0, or -1. */
static int publish_event(struct pub_ctx *c, const struct pub_event *e)
{
    struct pub_done done[CHANNELS_MAX];
    struct record_arg a = { c, e, done, 0, 0 };
    struct db_session s;
    enum tx_decision d;
    char chans[EVENTS_CHANNELS_MAX], *save = NULL;
    struct timespec t0;

    snprintf(chans, sizeof(chans), "%s", e->channels);
    for (char *ch = strtok_r(chans, " ", &save); ch && a.n < CHANNELS_MAX;
         ch = strtok_r(NULL, " ", &save)) {
        int dup = 0;
        for (int i = 0; i < a.n; i++)
            dup |= strcmp(done[i].channel, ch) == 0;
        if (!dup && publish_one(c, e, ch, &done[a.n++]) < 0)
            return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    db_session_init(&s, c->cfg, "events-publish", EP_OTHER);
    if (tx_run(&s, 0, record_tx, &a, &d) != TX_RESULT_DONE || d != TX_COMMIT) {
        if (a.lost)
            log_warn("events: the publisher's lease was lost: stopping");
        c->held = 0;
        return -1;
    }
    c->renewed = t0;
    c->held = 1;
    c->recovering = 0;
    return 0;
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static enum tx_decision waiting_tx(struct tx *tx, void *arg)
{
    int *waiting = arg;
    PGresult *res = tx_exec_named(tx, SQL_EVENTS_WAITING, NULL);

    if (!res)
        return TX_ERROR;
    *waiting = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return TX_COMMIT;
}

/*
 * Whether this round can be skipped: the lease is ours and fresh, nothing
 * recovers, and the read-only probe finds no event waiting. An idle round
 * is then one read-only statement, not the lease's write transaction.
 */
static int round_idle(struct pub_ctx *c)
{
    struct db_session s;
    enum tx_decision d;
    int waiting = 1;

    if (c->recovering || !c->held || ms_since(&c->renewed) >= LEASE_RENEW_MS)
        return 0;
    db_session_init(&s, c->cfg, "events-probe", EP_OTHER);
    return tx_run(&s, TX_READ_ONLY, waiting_tx, &waiting, &d) == TX_RESULT_DONE && !waiting;
}

/* One round: order, then publish what is ordered. Events published, or -1. */
static int publish_round(struct pub_ctx *c)
{
    struct pub_event ev[64];
    struct order_arg oa = { c, 0 };
    struct read_arg ra = { c, ev, 0, (int)(sizeof(ev) / sizeof(ev[0])) };
    struct db_session s;
    enum tx_decision d;
    int done = 0;
    struct timespec t0;

    if (ra.max > c->cfg->events_batch)
        ra.max = c->cfg->events_batch;
    if (round_idle(c))
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    db_session_init(&s, c->cfg, "events-order", EP_OTHER);
    if (tx_run(&s, 0, order_tx, &oa, &d) != TX_RESULT_DONE || oa.ordered < 0) {
        c->held = 0;
        return -1;
    }
    c->renewed = t0;
    c->held = 1;
    db_session_init(&s, c->cfg, "events-read", EP_OTHER);
    if (tx_run(&s, TX_READ_ONLY, read_tx, &ra, &d) != TX_RESULT_DONE) {
        read_free(&ra);
        return -1;
    }
    for (int i = 0; i < ra.n && !pub_stop; i++) {
        if (publish_event(c, &ra.ev[i]) < 0) {
            c->recovering = 1;
            done = -1;
            break;
        }
        done++;
    }
    read_free(&ra);
    return done;
}

/* The lease row and the cursors, created the first time. */
static enum tx_decision publish_setup_tx(struct tx *tx, void *arg)
{
    (void)arg;
    return tx_exec_named_void(tx, SQL_EVENTS_SETUP, NULL) < 0
            || tx_exec_named_void(tx, SQL_EVENTS_CURSORS_SETUP, NULL) < 0
        ? TX_ERROR
        : TX_COMMIT;
}

static enum tx_decision release_tx(struct tx *tx, void *arg)
{
    const char *p[1] = { arg };

    return tx_exec_named_void(tx, SQL_EVENTS_LEASE_RELEASE, p) < 0 ? TX_ERROR : TX_COMMIT;
}

static void on_term(int sig)
{
    (void)sig;
    pub_stop = 1;
}

/* The publisher process: rounds until told to stop or its parent dies. */
static void publisher_main(const struct zs_config *cfg, pid_t parent)
{
    struct pub_ctx c;
    struct db_session s;
    enum tx_decision d;

    prctl(PR_SET_PDEATHSIG, SIGKILL); /* the jobs child's death ends it: a new one recovers */
    if (getppid() != parent)
        _exit(0);
    db_forget_inherited_connection(); /* the jobs child's own, not ours to share */
    signal(SIGTERM, on_term);
    signal(SIGQUIT, on_term);
    signal(SIGPIPE, SIG_IGN);
    log_set_role("events");
    memset(&c, 0, sizeof(c));
    c.cfg = cfg;
    c.recovering = 1;
    snprintf(c.owner, sizeof(c.owner), "events-%ld", (long)getpid());
    snprintf(c.nchan.host, sizeof(c.nchan.host), "localhost");
    snprintf(c.nchan.unix_path, sizeof(c.nchan.unix_path), "%s/nchan.sock", cfg->socket_dir);
    db_session_init(&s, cfg, "events-setup", EP_OTHER);
    while (!pub_stop && tx_run(&s, 0, publish_setup_tx, NULL, &d) != TX_RESULT_DONE)
        sleep(1);
    while (!pub_stop && getppid() == parent) {
        int n = publish_round(&c);
        if (n == 0 || n < 0) {
            long ms = n < 0 ? 500 : cfg->events_poll_ms;
            struct timespec nap = { ms / 1000, (ms % 1000) * 1000000L };
            nanosleep(&nap, NULL);
        }
    }
    db_session_init(&s, cfg, "events-release", EP_OTHER);
    tx_run(&s, 0, release_tx, c.owner, &d);
    db_close_worker_connection();
    _exit(0);
}

void publish_jobs_poll(const struct zs_config *cfg)
{
    if (cfg->events_poll_ms > 0)
        util_child_keep(&pub_pid, "events: publisher", publisher_main, cfg);
}

void publish_jobs_stop(void)
{
    util_child_stop(&pub_pid);
}
