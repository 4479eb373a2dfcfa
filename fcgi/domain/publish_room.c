/*
 * publish_room.c — keeping room in nchan's shared memory (see
 * publish_recover.h and docs/OPERATIONS.md, "Live events").
 *
 * nchan keeps every channel's latest events_buffer messages for
 * events_buffer_s in one shared-memory zone, and every account written to
 * has a channel, so the zone's use grows with the write rate, not with
 * what anyone watches. Once it is full nchan refuses new messages (507 on
 * a channel it has, 500 on a new one) instead of dropping old ones, and
 * an in-order publisher would stall every channel behind the refused one.
 *
 * So the publisher reads nchan's own figures (its stub status) once a
 * second, and at once after a refusal. Past ROOM_HIGH_PCT of the zone it
 * evicts the channels least recently published (never the proof channel
 * nor the round's own) until about ROOM_LOW_PCT would be left: first it
 * forgets their stream message ids, so the subscribe gate answers any of
 * their Last-Event-IDs with `resync`; then it deletes them from nchan,
 * which closes their subscribers' streams. A subscriber reconnecting is
 * told to resync: nothing is skipped silently, and delivery goes on.
 */
#include "domain/publish_recover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/db.h"

#define ROOM_CHECK_MS 1000
#define ROOM_HIGH_PCT 80
#define ROOM_LOW_PCT 60
/* Channels looked at per eviction (another follows a second later if
 * the zone is still past ROOM_HIGH_PCT), and ids forgotten per
 * transaction (dsql: at most 3,000 rows per transaction). */
#define EVICT_CANDIDATES 2048
#define EVICT_FORGET_ROWS 2000

long publish_ms_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The number after "<label>: " in text (a size's "K" suffix ignored). 0, or -1. */
static int status_field(const char *text, const char *label, long *out)
{
    const char *p = strstr(text, label);
    char *end;

    if (!p || p[strlen(label)] != ':')
        return -1;
    *out = strtol(p + strlen(label) + 1, &end, 10);
    return end == p + strlen(label) + 1 || *out < 0 ? -1 : 0;
}

int publish_parse_room(const char *body, struct nchan_room *r)
{
    if (!body || status_field(body, "stored messages", &r->stored) < 0
        || status_field(body, "shared memory used", &r->used_k) < 0
        || status_field(body, "shared memory limit", &r->limit_k) < 0 || r->limit_k <= 0)
        return -1;
    return 0;
}

long publish_room_target(const struct nchan_room *r, int refused)
{
    long high = r->limit_k / 100 * ROOM_HIGH_PCT + r->limit_k % 100 * ROOM_HIGH_PCT / 100;
    long low = r->limit_k / 100 * ROOM_LOW_PCT + r->limit_k % 100 * ROOM_LOW_PCT / 100;
    long drop;

    if (r->stored <= 0 || r->used_k <= 0 || (!refused && r->used_k < high))
        return 0;
    /* messages in proportion to the memory to give back; a refusal below
     * the low mark (one message too big for what is free) frees an eighth */
    drop = r->used_k > low
        ? (long)((double)r->stored * (double)(r->used_k - low) / (double)r->used_k)
        : r->stored / 8;
    return drop > 0 ? drop : 1;
}

/* ---- choosing and forgetting ----------------------------------------------- */

/* A text array literal of the channels ev[0..n) names, repeats and all (malloc'd), or NULL. */
static char *round_channels(const struct pub_event *ev, int n)
{
    size_t cap = (size_t)n * PUBLISH_CHANNELS_MAX * EVENTS_CHANNELS_MAX + 3, len = 1;
    char *out = malloc(cap), mine[PUBLISH_CHANNELS_MAX][EVENTS_CHANNELS_MAX];

    if (!out)
        return NULL;
    out[0] = '{';
    for (int i = 0; i < n; i++) {
        int m = publish_channels(&ev[i], mine);
        for (int j = 0; j < m; j++) {
            /* a channel name is [a-z0-9/-]: nothing to quote in an array literal */
            len += (size_t)snprintf(out + len, cap - len, "%s%s", len > 1 ? "," : "", mine[j]);
        }
    }
    snprintf(out + len, cap - len, "}");
    return out;
}

struct evict_arg {
    const char *exclude; /* text array literal */
    long target;         /* messages to drop */
    int buffer;          /* nchan keeps at most this many per channel */
    char *chosen;        /* out: text array literal of the channels to evict */
    int n;               /* out: how many */
    long messages;       /* out: their messages (as nchan holds them, about) */
};

/* The least recently published channels whose messages reach a->target. */
static enum tx_decision choose_tx(struct tx *tx, void *arg)
{
    struct evict_arg *a = arg;
    char limit[16];
    const char *p[2] = { a->exclude, limit };
    PGresult *res;
    size_t cap, len = 1;

    snprintf(limit, sizeof(limit), "%d", EVICT_CANDIDATES);
    if (!(res = tx_exec_named(tx, SQL_EVENTS_EVICT_CANDIDATES, p)))
        return TX_ERROR;
    cap = (size_t)PQntuples(res) * (EVENTS_CHANNELS_MAX + 1) + 3;
    free(a->chosen);
    if (!(a->chosen = malloc(cap))) {
        PQclear(res);
        tx->err = DB_FAILED;
        return TX_ERROR;
    }
    a->n = 0;
    a->messages = 0;
    a->chosen[0] = '{';
    for (int i = 0; i < PQntuples(res) && a->messages < a->target; i++) {
        long held = strtol(PQgetvalue(res, i, 1), NULL, 10);
        len += (size_t)snprintf(a->chosen + len, cap - len, "%s%s", a->n ? "," : "",
                                PQgetvalue(res, i, 0));
        a->messages += held < a->buffer ? held : a->buffer;
        a->n++;
    }
    snprintf(a->chosen + len, cap - len, "}");
    PQclear(res);
    return TX_COMMIT;
}

struct forget_arg {
    const struct pub_ctx *c;
    const char *chosen;
    int lost;       /* out: the lease was someone else's */
    long forgotten; /* out: ids forgotten by this transaction */
};

/* The lease, then up to EVICT_FORGET_ROWS of the chosen channels' ids. */
static enum tx_decision forget_tx(struct tx *tx, void *arg)
{
    struct forget_arg *a = arg;
    char ttl[16], rows[16];
    const char *pl[2] = { a->c->owner, ttl }, *pf[3] = { a->chosen, rows, a->c->owner };
    struct tx_stmt st[2];

    snprintf(ttl, sizeof(ttl), "%d", PUBLISH_LEASE_MS);
    snprintf(rows, sizeof(rows), "%d", EVICT_FORGET_ROWS);
    st[0] = tx_stmt_named(SQL_EVENTS_LEASE_TAKE, pl);
    st[1] = tx_stmt_named(SQL_EVENTS_EVICT_FORGET, pf);
    if (tx_exec_many(tx, st, 2, 0) < 0)
        return TX_ERROR;
    a->lost = atoi(PQcmdTuples(st[0].res)) != 1;
    a->forgotten = atol(PQcmdTuples(st[1].res));
    PQclear(st[0].res);
    PQclear(st[1].res);
    return a->lost ? TX_ROLLBACK : TX_COMMIT;
}

/* Forget every stream message id of the chosen channels, as the lease's holder. 0, or -1. */
static int forget_channels(struct pub_ctx *c, const char *chosen)
{
    struct forget_arg a = { c, chosen, 0, EVICT_FORGET_ROWS };
    struct db_session s;
    enum tx_decision d;

    while (a.forgotten >= EVICT_FORGET_ROWS) {
        db_session_init(&s, c->cfg, "events-evict", EP_OTHER);
        if (tx_run(&s, 0, forget_tx, &a, &d) != TX_RESULT_DONE || d != TX_COMMIT) {
            if (a.lost) {
                log_warn("events: the publisher's lease was lost while evicting: stopping");
                c->held = 0;
            }
            return -1;
        }
    }
    return 0;
}

/* Delete each of the chosen channels (a text array literal) from nchan. Deleted, or -1. */
static int delete_channels(struct pub_ctx *c, char *chosen)
{
    struct httpc_url u = c->nchan;
    struct httpc_resp r;
    char err[160], *save = NULL;
    int deleted = 0;

    chosen[strlen(chosen) - 1] = '\0'; /* the closing brace */
    for (char *ch = strtok_r(chosen + 1, ",", &save); ch; ch = strtok_r(NULL, ",", &save)) {
        snprintf(u.path, sizeof(u.path), "/pub/%s", ch);
        if (httpc_keep_request(&c->conn, &u, "DELETE", "Accept: application/json\r\n", NULL, 0,
                               PUBLISH_TIMEOUT_MS, &r, err, sizeof(err))
            < 0) {
            log_warn("events: deleting nchan channel %s: %s", ch, err);
            return -1;
        }
        /* 404: nchan had dropped it already (its messages had timed out) */
        if (r.status != 200 && r.status != 404)
            log_warn("events: deleting nchan channel %s: nchan answered %d", ch, r.status);
        deleted += r.status == 200;
        httpc_free(&r);
    }
    return deleted;
}

/* ---- the check ---------------------------------------------------------------- */

/* nchan's stub status into r. 0, or -1. */
static int read_room(struct pub_ctx *c, struct nchan_room *r)
{
    struct httpc_url u = c->nchan;
    struct httpc_resp resp;
    char err[160];
    int rc;

    snprintf(u.path, sizeof(u.path), "/status");
    if (httpc_keep_request(&c->conn, &u, "GET", NULL, NULL, 0, PUBLISH_TIMEOUT_MS, &resp, err,
                           sizeof(err))
        < 0) {
        log_warn("events: reading nchan's status: %s", err);
        return -1;
    }
    rc = resp.status == 200 ? publish_parse_room(resp.body, r) : -1;
    if (rc < 0)
        log_warn("events: nchan's status: answer %d without its memory figures", resp.status);
    httpc_free(&resp);
    return rc;
}

int publish_make_room(struct pub_ctx *c, const struct pub_event *ev, int n)
{
    struct evict_arg a = { NULL, 0, c->cfg->events_buffer, NULL, 0, 0 };
    struct nchan_room r;
    struct db_session s;
    enum tx_decision d;
    int refused = c->refused, deleted = 0, rc = -1;

    if (!refused && c->room_checked.tv_sec && publish_ms_since(&c->room_checked) < ROOM_CHECK_MS)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &c->room_checked);
    c->refused = 0;
    if (read_room(c, &r) < 0 || (a.target = publish_room_target(&r, refused)) == 0)
        return 0;
    if (!(a.exclude = round_channels(ev, n)))
        return -1;
    db_session_init(&s, c->cfg, "events-evict", EP_OTHER);
    if (tx_run(&s, TX_READ_ONLY, choose_tx, &a, &d) != TX_RESULT_DONE)
        goto out;
    if (a.n == 0) {
        log_warn("events: nchan's memory is %ldK of %ldK and no channel can be evicted", r.used_k,
                 r.limit_k);
        rc = 0;
        goto out;
    }
    if (forget_channels(c, a.chosen) < 0 || (deleted = delete_channels(c, a.chosen)) < 0)
        goto out;
    log_info("events: nchan's memory was %ldK of %ldK (%ld messages%s): evicted %d channels "
             "(%d deleted, about %ld messages), least recently published first",
             r.used_k, r.limit_k, r.stored, refused ? ", a publish refused" : "", a.n, deleted,
             a.messages);
    rc = 0;
out:
    free((char *)a.exclude);
    free(a.chosen);
    return rc;
}
