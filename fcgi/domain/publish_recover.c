/*
 * publish_recover.c — after a start or a failure, what nchan already holds
 * (see publish_recover.h and docs/OPERATIONS.md, "Live events").
 *
 * A publisher publishes a whole batch and then records it, so one that
 * died in between can leave several messages per channel in nchan that
 * event_publications lacks: always the tail of the channel, in order. The
 * next publisher reads each channel of its first batch back from the last
 * recorded message on (nginx's internal /sub/ location on the publisher's
 * unix socket: one message per request, its id in X-Message-Id, 304 after
 * the last), and records what it finds instead of publishing it again.
 */
#include "domain/publish_recover.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"
#include "store/db.h"

int publish_parse_nchan(const struct httpc_resp *r, char *msgid, size_t n, int *messages)
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

/* nchan's latest message id of channel and how many it holds (0 and "": none). 0, or -1. */
static int channel_latest(struct pub_ctx *c, const char *channel, char *msgid, size_t n,
                          int *messages)
{
    struct httpc_url u = c->nchan;
    struct httpc_resp r;
    char err[160];
    int status;

    msgid[0] = '\0';
    *messages = 0;
    snprintf(u.path, sizeof(u.path), "/pub/%s", channel);
    if (httpc_keep_request(&c->conn, &u, "GET", "Accept: application/json\r\n", NULL, 0,
                           PUBLISH_TIMEOUT_MS, &r, err, sizeof(err))
        < 0) {
        log_warn("events: nchan channel %s: %s", channel, err);
        return -1;
    }
    status = r.status;
    if (status == 200 && publish_parse_nchan(&r, msgid, n, messages) < 0)
        *messages = 0;
    if (*messages <= 0)
        msgid[0] = '\0';
    httpc_free(&r);
    return status == 200 || status == 404 ? 0 : -1;
}

struct last_arg {
    const char *channel;
    char msgid[48];
    int64_t pos; /* the last event it carries (0: none recorded) */
};

/* The channel's last recorded message id ("" when none is recorded) and its last event. */
static enum tx_decision last_tx(struct tx *tx, void *arg)
{
    struct last_arg *a = arg;
    const char *p[1] = { a->channel };
    PGresult *res = tx_exec_named(tx, SQL_EVENTS_LAST_ON_CHANNEL, p);

    if (!res)
        return TX_ERROR;
    snprintf(a->msgid, sizeof(a->msgid), "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
    a->pos = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 1), NULL, 10) : 0;
    PQclear(res);
    return TX_COMMIT;
}

/* Widen d's run (first_pos..pos) by the outbox position in event o's "id", when above cursor. */
static int take_event(struct json_object *o, int64_t cursor, struct pub_msg *d)
{
    struct json_object *v;
    int64_t p;

    if (!json_object_object_get_ex(o, "id", &v) || !json_object_is_type(v, json_type_int))
        return -1;
    p = json_object_get_int64(v);
    if (p > cursor) {
        d->first_pos = d->count == 0 || p < d->first_pos ? p : d->first_pos;
        d->pos = p > d->pos ? p : d->pos;
        d->count++;
    }
    return 0;
}

/* The events of message body o (one event, or a batch of them) above cursor, into d. 0, or -1. */
static int take_message(struct json_object *o, int64_t cursor, struct pub_msg *d)
{
    struct json_object *evs;
    size_t n;

    if (!json_object_object_get_ex(o, "events", &evs))
        return take_event(o, cursor, d);
    if (!json_object_is_type(evs, json_type_array) || (n = json_object_array_length(evs)) == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (take_event(json_object_array_get_idx(evs, i), cursor, d) < 0)
            return -1;
    return 0;
}

/*
 * The message after msgid `after` on channel ("": the oldest) into d
 * (msgid; the run of its events above cursor, count 0 when none is).
 * 1 found, 0 none after it, -1 on failure.
 */
static int message_after(struct pub_ctx *c, const char *channel, const char *after, int64_t cursor,
                         struct pub_msg *d)
{
    struct httpc_url u = c->nchan;
    struct httpc_resp r;
    struct json_object *o = NULL;
    char err[160];
    int rc = -1;

    snprintf(u.path, sizeof(u.path), "/sub/%s%s%s", channel, after[0] ? "?after=" : "", after);
    if (httpc_keep_request(&c->conn, &u, "GET", NULL, NULL, 0, PUBLISH_TIMEOUT_MS, &r, err,
                           sizeof(err))
        < 0) {
        log_warn("events: reading nchan channel %s back: %s", channel, err);
        return -1;
    }
    if (r.status == 304 || r.status == 404) {
        rc = 0;
    } else if (r.status == 200 && httpc_header(&r, "X-Message-Id", d->msgid, sizeof(d->msgid)) == 0
               && (o = json_tokener_parse(r.body)) && take_message(o, cursor, d) == 0) {
        rc = 1;
    } else {
        log_warn("events: reading nchan channel %s back: answer %d without a message id", channel,
                 r.status);
    }
    if (o)
        json_object_put(o);
    httpc_free(&r);
    return rc;
}

/* Log what recovery found on a channel: recorded, not published again. */
static void log_found(const struct pub_msg *found, int k)
{
    for (int i = 0; i < k; i++)
        if (found[i].msgid[0])
            log_info("events: channel %s already has message %s (events %" PRId64 "..%" PRId64
                     "): recorded, not published again",
                     found[i].channel, found[i].msgid, found[i].first_pos, found[i].pos);
}

/* One channel's unrecorded messages into found[0..max). Their count, or -1. */
static int recover_channel(struct pub_ctx *c, const char *channel, int64_t cursor,
                           struct pub_msg *found, int max)
{
    struct db_session s;
    struct last_arg la = { channel, "", 0 };
    struct pub_msg d;
    enum tx_decision dec;
    char latest[48], after[48];
    int messages, k = 0, rc = 1;

    if (channel_latest(c, channel, latest, sizeof(latest), &messages) < 0)
        return -1;
    if (!latest[0])
        return 0; /* nchan holds nothing on it */
    db_session_init(&s, c->cfg, "events-recover", EP_OTHER);
    if (tx_run(&s, TX_READ_ONLY, last_tx, &la, &dec) != TX_RESULT_DONE)
        return -1;
    if (la.pos > cursor && max > 0) {
        /* recorded already, though the cursor is behind it: in nchan, not to publish again */
        memset(&found[k], 0, sizeof(found[k]));
        snprintf(found[k].channel, sizeof(found[k].channel), "%s", channel);
        found[k].first_pos = cursor + 1;
        found[k++].pos = la.pos;
    }
    if (strcmp(la.msgid, latest) == 0)
        return k; /* its latest is recorded: nothing after it */
    snprintf(after, sizeof(after), "%s", la.msgid);
    /* nchan holds at most events_buffer messages per channel */
    for (int steps = 0; steps <= c->cfg->events_buffer && strcmp(after, latest) != 0; steps++) {
        memset(&d, 0, sizeof(d));
        if ((rc = message_after(c, channel, after, cursor, &d)) <= 0)
            break;
        snprintf(after, sizeof(after), "%s", d.msgid);
        if (d.count == 0)
            continue; /* recorded already (or older than what was recorded) */
        if (k == max) {
            log_error("events: channel %s holds more unrecorded messages than a batch", channel);
            return -1;
        }
        snprintf(d.channel, sizeof(d.channel), "%s", channel);
        snprintf(d.first_text, sizeof(d.first_text), "%" PRId64, d.first_pos);
        snprintf(d.pos_text, sizeof(d.pos_text), "%" PRId64, d.pos);
        d.count = 0; /* its events are not this round's to lay out */
        found[k++] = d;
    }
    if (rc < 0)
        return -1;
    if (k > 0 && found[0].msgid[0])
        found[0].fresh = messages == k; /* nchan holds nothing older: those ids are gone */
    log_found(found, k);
    return k;
}

int publish_recover(struct pub_ctx *c, const struct pub_event *ev, int n, int64_t cursor,
                    struct pub_msg *found, int max)
{
    size_t cap = (size_t)n * PUBLISH_CHANNELS_MAX;
    char(*names)[EVENTS_CHANNELS_MAX] = malloc(cap * sizeof(*names));
    char mine[PUBLISH_CHANNELS_MAX][EVENTS_CHANNELS_MAX];
    int nn = 0, nf = 0;

    if (!names)
        return -1;
    for (int i = 0; i < n && nf >= 0; i++) {
        int m = publish_channels(&ev[i], mine);
        for (int j = 0; j < m && nf >= 0; j++) {
            int k, known = 0;
            for (int q = 0; q < nn && !known; q++)
                known = strcmp(names[q], mine[j]) == 0;
            if (known)
                continue;
            snprintf(names[nn++], sizeof(names[0]), "%s", mine[j]);
            k = recover_channel(c, mine[j], cursor, found + nf, max - nf);
            nf = k < 0 ? -1 : nf + k;
        }
    }
    free(names);
    return nf;
}
