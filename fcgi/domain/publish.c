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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "domain/events.h"
#include "domain/publish_recover.h"
#include "httpc.h"
#include "log.h"
#include "util.h"

/* An idle publisher renews its lease once this old (a round that writes
 * renews it anyway): a fifth of the TTL, so four seconds of stall still
 * keep it. Every write checks the lease in its own transaction whatever
 * this says; this only keeps it from lapsing. */
#define LEASE_RENEW_MS (PUBLISH_LEASE_MS / 5)
/* Statements per pipeline of a batch's record (results come back while
 * the next pipeline is sent; no socket buffer has to hold them all). */
#define RECORD_PIPELINE 256
/* Publishes in flight at once on the kept connection to nchan. */
#define PIPELINE_DEPTH 16

static pid_t pub_pid;

/* ---- ordering and reading ------------------------------------------------ */

struct order_arg {
    const struct pub_ctx *c;
    struct pub_event *ev;
    int n, max;
    int held;       /* out: the lease was ours */
    int64_t cursor; /* out: the `nchan` cursor the events follow */
};

static void order_free(struct order_arg *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->ev[i].payload);
    a->n = 0;
}

/* Copy the ordered events of res (events_unpublished's rows) into a. 0, or -1. */
static int order_take(struct order_arg *a, PGresult *res)
{
    for (int i = 0; i < PQntuples(res) && a->n < a->max; i++) {
        struct pub_event *e = &a->ev[a->n];
        e->pos = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        snprintf(e->type, sizeof(e->type), "%s", PQgetvalue(res, i, 1));
        snprintf(e->channels, sizeof(e->channels), "%s", PQgetvalue(res, i, 2));
        snprintf(e->created_at, sizeof(e->created_at), "%s", PQgetvalue(res, i, 4));
        a->cursor = strtoll(PQgetvalue(res, i, 5), NULL, 10);
        if (!(e->payload = strdup(PQgetvalue(res, i, 3))))
            return -1;
        a->n++;
    }
    return 0;
}

/*
 * One round trip: BEGIN, take the lease, give the next positions to the
 * unordered events, advance `ordered`, read the ordered events after
 * `nchan`, COMMIT. Every statement after the lease acts only for the
 * lease's holder (owner = us in this transaction), so when the lease is
 * someone else's the transaction commits nothing and reads nothing; when
 * it is ours, its row is ours until COMMIT (postgres: the row lock; dsql:
 * a concurrent take conflicts at commit). The events are published only
 * after this commit, so no published event can lose its position.
 */
static enum tx_decision order_tx(struct tx *tx, void *arg)
{
    struct order_arg *a = arg;
    char ttl[16], batch[16];
    const char *pl[2] = { a->c->owner, ttl }, *po[2] = { a->c->owner, batch };
    const char *pc[1] = { a->c->owner };
    struct tx_stmt st[4];
    int rc;

    order_free(a);
    a->held = 0;
    snprintf(ttl, sizeof(ttl), "%d", PUBLISH_LEASE_MS);
    snprintf(batch, sizeof(batch), "%d", a->max);
    st[0] = tx_stmt_named(SQL_EVENTS_LEASE_TAKE, pl);
    st[1] = tx_stmt_named(SQL_EVENTS_ORDER_HELD, po);
    st[2] = tx_stmt_named(SQL_EVENTS_ORDERED_ADVANCE, pc);
    st[3] = tx_stmt_named(SQL_EVENTS_UNPUBLISHED, po);
    if (tx_exec_many(tx, st, 4, 1) < 0)
        return TX_ERROR;
    a->held = atoi(PQcmdTuples(st[0].res)) == 1;
    rc = a->held ? order_take(a, st[3].res) : 0;
    for (int i = 0; i < 4; i++)
        PQclear(st[i].res);
    if (rc < 0) {
        order_free(a); /* committed: the next round reads them again */
        tx->err = DB_FAILED;
        return TX_ERROR;
    }
    return TX_COMMIT;
}

/* ---- publishing ---------------------------------------------------------- */

/* Send m's message on its channel, pipelined on the kept connection. 0, or -1. */
static int publish_send(struct pub_ctx *c, const struct pub_batch *b, const struct pub_msg *m,
                        const struct pub_event *ev)
{
    struct httpc_url u = c->nchan;
    char err[160], headers[192], *msg;
    int rc;

    if (!(msg = publish_msg_body(b, m, ev)))
        return -1;
    snprintf(u.path, sizeof(u.path), "/pub/%s", m->channel);
    /* the SSE event name: the event's type, or "batch" for several */
    snprintf(headers, sizeof(headers),
             "Accept: application/json\r\nContent-Type: application/json\r\n"
             "X-EventSource-Event: %s\r\n",
             m->count == 1 ? ev[b->idx[m->off]].type : "batch");
    rc = httpc_keep_send(&c->conn, &u, "POST", headers, msg, strlen(msg), PUBLISH_TIMEOUT_MS, err,
                         sizeof(err));
    free(msg);
    if (rc < 0)
        log_warn("events: publishing %" PRId64 "..%" PRId64 " to %s: %s", m->first_pos, m->pos,
                 m->channel, err);
    return rc;
}

/* nchan's answer to the oldest publish in flight, m's, into m (msgid "" when
 * nchan refused the channel: skipped). 0, or -1. */
static int publish_take(struct pub_ctx *c, struct pub_msg *m)
{
    struct httpc_resp r;
    char err[160];
    int messages = 0, rc;

    if (httpc_keep_recv(&c->conn, PUBLISH_TIMEOUT_MS, &r, err, sizeof(err)) < 0) {
        log_warn("events: publishing %" PRId64 "..%" PRId64 " to %s: %s", m->first_pos, m->pos,
                 m->channel, err);
        return -1;
    }
    rc = (r.status == 201 || r.status == 202)
            && publish_parse_nchan(&r, m->msgid, sizeof(m->msgid), &messages) == 0
        ? 0
        : -1;
    if (rc < 0 && r.status >= 400 && r.status < 500) {
        /* a channel nginx refuses (not a channel name): skipped, never retried,
         * so one bad row cannot stop the stream */
        log_error("events: events %" PRId64 "..%" PRId64
                  " name channel %s, which nchan refuses (%d): skipped",
                  m->first_pos, m->pos, m->channel, r.status);
        m->msgid[0] = '\0';
        rc = 0;
    } else if (rc < 0) {
        log_warn("events: publishing %" PRId64 "..%" PRId64 " to %s: nchan answered %d",
                 m->first_pos, m->pos, m->channel, r.status);
        /* 507 on a channel nchan has, 500 on a new one: its memory is full */
        c->refused |= r.status >= 500;
    }
    m->fresh = messages == 1;
    httpc_free(&r);
    return rc;
}

struct record_arg {
    const struct pub_ctx *c;
    const struct pub_batch *b;
    const char *pos; /* the round's last event: the new `nchan` cursor */
    int lost;        /* out: the lease was someone else's */
};

/* Queue m's statements (its publication, and the forgetting of older
 * ones when its channel was fresh) into st at *n, as the lease's owner. */
static void record_stmts(const struct pub_msg *m, const char *owner, const char *(*pp)[5],
                         const char *(*pf)[3], struct tx_stmt *st, int *n)
{
    if (!m->msgid[0])
        return; /* skipped, or recorded already */
    (*pp)[0] = m->channel;
    (*pp)[1] = m->msgid;
    (*pp)[2] = m->pos_text;
    (*pp)[3] = m->first_text;
    (*pp)[4] = owner;
    st[(*n)++] = tx_stmt_named(SQL_EVENTS_PUBLISHED, *pp);
    if (m->fresh) {
        (*pf)[0] = m->channel;
        (*pf)[1] = m->first_text;
        (*pf)[2] = owner;
        st[(*n)++] = tx_stmt_named(SQL_EVENTS_FORGET_CHANNEL, *pf);
    }
}

/*
 * Record a round's messages and advance `nchan` past its last event, with
 * the lease renewed: the lease first, then every message and the cursor,
 * in pipelines of RECORD_PIPELINE statements, COMMIT riding with the last
 * (one round trip for any round up to that size). Every statement after
 * the lease acts only for its holder, so a lost lease commits nothing;
 * a later pipeline is not sent once the first showed the lease lost.
 */
static enum tx_decision record_tx(struct tx *tx, void *arg)
{
    struct record_arg *a = arg;
    int nm = a->b->nm;
    const char *owner = a->c->owner;
    char ttl[16];
    const char *pl[2] = { owner, ttl }, *ps[2] = { a->pos, owner };
    const char *(*pp)[5] = malloc((size_t)(nm + 1) * sizeof(*pp));
    const char *(*pf)[3] = malloc((size_t)(nm + 1) * sizeof(*pf));
    struct tx_stmt *st = malloc((size_t)(2 * nm + 2) * sizeof(*st));
    int n = 0, rc = 0;

    snprintf(ttl, sizeof(ttl), "%d", PUBLISH_LEASE_MS);
    a->lost = 0;
    if (!pp || !pf || !st) {
        tx->err = DB_FAILED;
        rc = -1;
        goto out;
    }
    st[n++] = tx_stmt_named(SQL_EVENTS_LEASE_TAKE, pl);
    for (int i = 0; i < nm; i++)
        record_stmts(&a->b->msg[i], owner, &pp[i], &pf[i], st, &n);
    st[n++] = tx_stmt_named(SQL_EVENTS_NCHAN_ADVANCE, ps);
    for (int off = 0; off < n && rc == 0 && !a->lost; off += RECORD_PIPELINE) {
        int k = n - off < RECORD_PIPELINE ? n - off : RECORD_PIPELINE;
        if ((rc = tx_exec_many(tx, st + off, k, off + k == n)) < 0)
            break;
        if (off == 0)
            a->lost = atoi(PQcmdTuples(st[0].res)) != 1;
        for (int i = off; i < off + k; i++)
            PQclear(st[i].res);
    }
out:
    free(pp);
    free(pf);
    free(st);
    /* lost after the last pipeline: it committed nothing */
    return rc < 0 ? TX_ERROR : a->lost && !tx->committed ? TX_ROLLBACK : TX_COMMIT;
}

/* Record b's messages and the cursor at event pos. 0, or -1 (the lease is lost, or the database). */
static int record_batch(struct pub_ctx *c, const struct pub_batch *b, int64_t pos)
{
    char pt[24];
    struct record_arg a = { c, b, pt, 0 };
    struct db_session s;
    enum tx_decision d;
    struct timespec t0;

    snprintf(pt, sizeof(pt), "%" PRId64, pos);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    db_session_init(&s, c->cfg, "events-publish", EP_OTHER);
    if (tx_run(&s, 0, record_tx, &a, &d) != TX_RESULT_DONE || d != TX_COMMIT || a.lost) {
        if (a.lost)
            log_warn("events: the publisher's lease was lost: stopping");
        c->held = 0;
        return -1;
    }
    c->renewed = t0;
    c->held = 1;
    return 0;
}

static enum tx_decision renew_tx(struct tx *tx, void *arg)
{
    struct pub_ctx *c = arg;
    char ttl[16];
    const char *pl[2] = { c->owner, ttl };
    PGresult *res;
    int mine;

    snprintf(ttl, sizeof(ttl), "%d", PUBLISH_LEASE_MS);
    if (!(res = tx_exec_named(tx, SQL_EVENTS_LEASE_TAKE, pl)))
        return TX_ERROR;
    mine = atoi(PQcmdTuples(res)) == 1;
    PQclear(res);
    return mine ? TX_COMMIT : TX_ROLLBACK;
}

/* In a long round: renew the lease once it is LEASE_RENEW_MS old. 0, or -1 (lost). */
static int lease_keep(struct pub_ctx *c)
{
    struct db_session s;
    enum tx_decision d;
    struct timespec t0;

    if (publish_ms_since(&c->renewed) < LEASE_RENEW_MS)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    db_session_init(&s, c->cfg, "events-renew", EP_OTHER);
    if (tx_run(&s, 0, renew_tx, c, &d) != TX_RESULT_DONE || d != TX_COMMIT) {
        log_warn("events: the publisher's lease was lost mid-round: stopping");
        c->held = 0;
        return -1;
    }
    c->renewed = t0;
    return 0;
}

/*
 * Publish b's pending messages in order, up to PIPELINE_DEPTH in flight on
 * the kept connection (nginx answers a connection's requests one after
 * another, so a channel's messages keep their order), the lease renewed
 * as the round goes on. 0 when every message is in nchan, -1 when a
 * publish failed (its successors' fate unknown) or the lease was lost.
 */
static int batch_publish(struct pub_ctx *c, struct pub_batch *b, const struct pub_event *ev)
{
    int sent = 0, taken = 0, inflight = 0;

    for (;;) {
        while (sent < b->nm && inflight < PIPELINE_DEPTH) {
            if (lease_keep(c) < 0)
                return -1;
            if (b->msg[sent].pending && publish_send(c, b, &b->msg[sent], ev) < 0)
                return -1;
            inflight += b->msg[sent].pending;
            sent++;
        }
        while (taken < sent && !b->msg[taken].pending)
            taken++;
        if (taken == sent && sent == b->nm)
            return 0;
        if (taken == sent)
            continue;
        if (publish_take(c, &b->msg[taken]) < 0)
            return -1;
        inflight--;
        taken++;
    }
}

/*
 * Publish the round ev[0..n) at once: one message per channel carrying
 * its events of the round, in order (or take the messages recovery found
 * in nchan); then record them all, and the cursor, in one transaction.
 * Events recorded (n), or -1: nothing is recorded then, and the next
 * round reads nchan back first (what this one published is found there).
 */
static int publish_batch(struct pub_ctx *c, const struct pub_event *ev, int n, int64_t cursor)
{
    struct pub_batch b = { 0 };
    int max = n * PUBLISH_CHANNELS_MAX;
    struct pub_msg *found = c->recovering ? malloc((size_t)max * sizeof(*found)) : NULL;
    int nf = 0, failed;

    if (publish_make_room(c, ev, n) < 0 && !c->held) {
        free(found);
        return -1;
    }
    if ((c->recovering && !found)
        || (c->recovering && (nf = publish_recover(c, ev, n, cursor, found, max)) < 0)
        || publish_batch_layout(&b, ev, n, found, nf) < 0) {
        publish_batch_free(&b);
        free(found);
        return -1;
    }
    failed = batch_publish(c, &b, ev) < 0;
    if (failed)
        httpc_keep_close(&c->conn); /* answers still in flight would answer the next requests */
    else if (record_batch(c, &b, ev[n - 1].pos) < 0)
        failed = 1;
    /* a failure may have left messages in nchan the table lacks, and so may
     * a dead publisher's round that reached past this one: read them back next */
    c->recovering = failed;
    for (int i = 0; i < nf; i++)
        c->recovering |= found[i].pos > ev[n - 1].pos;
    free(found);
    publish_batch_free(&b);
    return failed ? -1 : n;
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

    if (c->recovering || !c->held || publish_ms_since(&c->renewed) >= LEASE_RENEW_MS)
        return 0;
    db_session_init(&s, c->cfg, "events-probe", EP_OTHER);
    return tx_run(&s, TX_READ_ONLY, waiting_tx, &waiting, &d) == TX_RESULT_DONE && !waiting;
}

/* One round: order and read, then publish what is ordered. Events published, or -1. */
static int publish_round(struct pub_ctx *c)
{
    struct order_arg oa = { c, NULL, 0, c->cfg->events_batch, 0, 0 };
    struct db_session s;
    enum tx_decision d;
    int done;
    struct timespec t0;

    if (round_idle(c))
        return 0;
    if (!(oa.ev = calloc((size_t)oa.max, sizeof(*oa.ev))))
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    db_session_init(&s, c->cfg, "events-order", EP_OTHER);
    if (tx_run(&s, 0, order_tx, &oa, &d) != TX_RESULT_DONE || !oa.held) {
        c->held = 0;
        order_free(&oa);
        free(oa.ev);
        return -1;
    }
    c->renewed = t0;
    c->held = 1;
    done = oa.n > 0 ? publish_batch(c, oa.ev, oa.n, oa.cursor) : 0;
    if (oa.n == 0)
        c->recovering = 0; /* nothing waits: nothing of ours can be unrecorded in nchan */
    order_free(&oa);
    free(oa.ev);
    return done;
}

/* The pause before the next round, after one that began at started and published n. */
static long round_pause_ms(struct pub_ctx *c, int n, const struct timespec *started)
{
    if (n > 0) {
        clock_gettime(CLOCK_MONOTONIC, &c->flowing);
        return publish_pause_ms(c->cfg, n, publish_ms_since(started), -1);
    }
    return publish_pause_ms(c->cfg, n, publish_ms_since(started),
                            c->flowing.tv_sec != 0 ? publish_ms_since(&c->flowing) : -1);
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

/*
 * The publisher's configuration: the jobs child's, but with one database
 * connection kept across rounds whatever the policy (per-request: through
 * PgBouncer as before, unnamed statements, so transaction pooling is
 * fine; it is replaced after connection_max_lifetime like a worker's).
 */
static const struct zs_config *publisher_config(const struct zs_config *cfg)
{
    static struct zs_config own;

    own = *cfg;
    if (own.connection_policy == ZS_POLICY_PER_REQUEST) {
        own.connection_policy = ZS_POLICY_PER_WORKER;
        own.prepared_statements = 0;
    }
    return &own;
}

/* The publisher process: rounds until told to stop or its parent dies. */
static void publisher_main(const struct zs_config *cfg, pid_t parent)
{
    struct pub_ctx c;
    struct db_session s;
    enum tx_decision d;

    db_forget_inherited_connection(); /* the jobs child's own, not ours to share */
    memset(&c, 0, sizeof(c));
    cfg = publisher_config(cfg);
    c.cfg = cfg;
    httpc_keep_init(&c.conn);
    c.recovering = 1;
    snprintf(c.owner, sizeof(c.owner), "events-%ld", (long)getpid());
    snprintf(c.nchan.host, sizeof(c.nchan.host), "localhost");
    if (snprintf(c.nchan.unix_path, sizeof(c.nchan.unix_path), "%s/nchan.sock", cfg->socket_dir)
        >= (int)sizeof(c.nchan.unix_path))
        log_error("events: socket_dir too long for nchan's socket"); /* its connects fail */
    db_session_init(&s, cfg, "events-setup", EP_OTHER);
    while (!util_child_stopping() && tx_run(&s, 0, publish_setup_tx, NULL, &d) != TX_RESULT_DONE)
        sleep(1);
    while (!util_child_stopping() && getppid() == parent) {
        struct timespec started, nap;
        long ms;
        int n;

        clock_gettime(CLOCK_MONOTONIC, &started);
        n = publish_round(&c);
        ms = round_pause_ms(&c, n, &started);
        nap.tv_sec = ms / 1000;
        nap.tv_nsec = (ms % 1000) * 1000000L;
        if (ms > 0)
            nanosleep(&nap, NULL);
    }
    db_session_init(&s, cfg, "events-release", EP_OTHER);
    tx_run(&s, 0, release_tx, c.owner, &d);
    db_close_worker_connection();
    httpc_keep_close(&c.conn);
    _exit(0);
}

void publish_jobs_poll(const struct zs_config *cfg)
{
    if (cfg->events_poll_ms > 0)
        util_child_keep(&pub_pid, "events: publisher", "events", publisher_main, cfg);
}

void publish_jobs_stop(void)
{
    util_child_stop(&pub_pid);
}
