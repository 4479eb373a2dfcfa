/*
 * test_publish_batch.c — a publisher round laid out as nchan messages
 * (fcgi/domain/publish_batch.c): one message per channel with its events
 * in outbox order, split at the caps, recovery's found messages taken
 * instead of a publish, and the bodies subscribers read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "domain/publish_recover.h"
#include "tap.h"

#define A "lots/00000000-0000-0000-0000-00000000000a"
#define B "lots/00000000-0000-0000-0000-00000000000b"
#define X "accounts/00000000-0000-0000-0000-0000000000aa"
#define Y "accounts/00000000-0000-0000-0000-0000000000bb"

static void set(struct pub_event *e, long pos, const char *type, const char *channels,
                const char *payload)
{
    memset(e, 0, sizeof(*e));
    e->pos = pos;
    snprintf(e->type, sizeof(e->type), "%s", type);
    snprintf(e->channels, sizeof(e->channels), "%s", channels);
    snprintf(e->created_at, sizeof(e->created_at), "2026-12-01T00:00:00.000000Z");
    e->payload = strdup(payload);
}

/* The positions of m's events, "1,2,4". */
static const char *runs(const struct pub_batch *b, const struct pub_msg *m,
                        const struct pub_event *ev)
{
    static char out[256];
    size_t n = 0;

    out[0] = '\0';
    for (int i = 0; i < m->count && n < sizeof(out) - 24; i++)
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%ld", i ? "," : "",
                              (long)ev[b->idx[m->off + i]].pos);
    return out;
}

static void test_grouping(void)
{
    struct pub_event ev[5];
    struct pub_batch b;
    struct json_object *o, *v;
    char *body;

    set(&ev[0], 1, "bid.accepted", A " " X, "{\"n\":1}");
    set(&ev[1], 2, "bid.outbid", A " " Y, "{\"n\":2}");
    set(&ev[2], 3, "bid.accepted", B, "{\"n\":3}");
    set(&ev[3], 4, "bid.accepted", A " " X " " A, "{\"n\":4}");
    set(&ev[4], 5, "proof.status", "proof", "{\"n\":5}");
    ok(publish_batch_layout(&b, ev, 5, NULL, 0) == 0, "a round lays out");
    is_int(b.nm, 5, "one message per channel the round names");
    is_str(b.msg[0].channel, A, "channels in the order the round first names them: the lot");
    is_str(runs(&b, &b.msg[0], ev), "1,2,4", "…its events in outbox order, once each");
    is_str(b.msg[1].channel, X, "then the first event's other channel");
    is_str(runs(&b, &b.msg[1], ev), "1,4", "…with its events");
    is_str(runs(&b, &b.msg[2], ev), "2", "then the second's");
    is_str(runs(&b, &b.msg[3], ev), "3", "then the third's");
    is_str(b.msg[4].channel, "proof", "then the proof channel");
    ok(b.msg[0].pending && b.msg[0].first_pos == 1 && b.msg[0].pos == 4, "a message knows its run");
    is_str(b.msg[0].first_text, "1", "…as text too (first)");
    is_str(b.msg[0].pos_text, "4", "…and last");

    body = publish_msg_body(&b, &b.msg[0], ev);
    o = body ? json_tokener_parse(body) : NULL;
    ok(o && json_object_object_get_ex(o, "type", &v)
           && strcmp(json_object_get_string(v), "batch") == 0,
       "several events: a batch message");
    ok(o && json_object_object_get_ex(o, "events", &v) && json_object_array_length(v) == 3
           && json_object_get_int(json_object_object_get(json_object_array_get_idx(v, 2), "id"))
               == 4,
       "…holding the events in order");
    ok(o && json_object_object_get_ex(o, "events", &v)
           && strcmp(json_object_get_string(
                         json_object_object_get(json_object_array_get_idx(v, 1), "channel")),
                     A)
               == 0,
       "…each naming the message's channel");
    ok(body && !strchr(body, '\n'), "…on one line (one SSE data: line)");
    json_object_put(o);
    free(body);
    body = publish_msg_body(&b, &b.msg[2], ev);
    is_str(body,
           "{\"id\":2,\"type\":\"bid.outbid\",\"channel\":\"" Y
           "\",\"created_at\":\"2026-12-01T00:00:00.000000Z\",\"data\":{\"n\":2}}",
           "one event: the event itself, as subscribers always had it");
    free(body);
    publish_batch_free(&b);
    for (int i = 0; i < 5; i++)
        free(ev[i].payload);
}

static void test_caps(void)
{
    enum { N = 450 };
    struct pub_event *ev = calloc(N, sizeof(*ev));
    struct pub_batch b;
    char *big = malloc(12001);
    int total = 0, ordered = 1;
    int64_t last = 0;

    for (int i = 0; i < N; i++)
        set(&ev[i], i + 1, "p.s", "proof", "{}"); /* small: the count cap binds first */
    ok(publish_batch_layout(&b, ev, N, NULL, 0) == 0, "450 events on one channel lay out");
    is_int(b.nm, 3, "…as 3 messages (at most PUBLISH_MSG_EVENTS each)");
    for (int m = 0; m < b.nm; m++) {
        total += b.msg[m].count;
        ordered &= b.msg[m].first_pos == last + 1;
        last = b.msg[m].pos;
    }
    ok(total == N && ordered && b.msg[0].count == PUBLISH_MSG_EVENTS, "…in order, none lost");
    publish_batch_free(&b);
    for (int i = 0; i < N; i++)
        free(ev[i].payload);

    memset(big, 'x', 12000);
    big[0] = '"';
    big[11999] = '"';
    big[12000] = '\0';
    for (int i = 0; i < 7; i++)
        set(&ev[i], i + 1, "bid.accepted", A, big);
    ok(publish_batch_layout(&b, ev, 7, NULL, 0) == 0, "7 events of 12 KB lay out");
    is_int(b.nm, 4, "…as messages of at most ~PUBLISH_MSG_BYTES (2+2+2+1)");
    for (int m = 0; m < b.nm; m++) {
        char *body = publish_msg_body(&b, &b.msg[m], ev);
        ok(body && strlen(body) <= PUBLISH_MSG_BYTES, "…each body within the cap");
        free(body);
    }
    publish_batch_free(&b);
    for (int i = 0; i < 7; i++)
        free(ev[i].payload);
    free(big);
    free(ev);
}

static void test_found(void)
{
    struct pub_event ev[4];
    struct pub_msg found[2];
    struct pub_batch b;

    set(&ev[0], 11, "bid.accepted", A " " X, "{}");
    set(&ev[1], 12, "bid.outbid", A, "{}");
    set(&ev[2], 13, "bid.accepted", A " " X, "{}");
    set(&ev[3], 14, "bid.accepted", A, "{}");
    memset(found, 0, sizeof(found));
    snprintf(found[0].channel, sizeof(found[0].channel), "%s", A);
    snprintf(found[0].msgid, sizeof(found[0].msgid), "%s", "100:1");
    found[0].first_pos = 11;
    found[0].pos = 12;
    snprintf(found[1].channel, sizeof(found[1].channel), "%s", X);
    found[1].first_pos = 11;
    found[1].pos = 11; /* recorded already: msgid "" */
    ok(publish_batch_layout(&b, ev, 4, found, 2) == 0, "a recovering round lays out");
    is_int(b.nm, 4, "the lot: found + the rest; the account: found + the rest");
    ok(!b.msg[0].pending && strcmp(b.msg[0].msgid, "100:1") == 0 && b.msg[0].count == 0,
       "the message found in nchan is taken, not published again");
    is_str(runs(&b, &b.msg[1], ev), "13,14", "…the channel's later events follow it");
    ok(b.msg[1].pending, "…and are published");
    ok(!b.msg[2].pending && !b.msg[2].msgid[0],
       "the account's recorded message: neither sent nor recorded");
    is_str(runs(&b, &b.msg[3], ev), "13", "…its later event published");
    publish_batch_free(&b);
    for (int i = 0; i < 4; i++)
        free(ev[i].payload);
}

/* The pause between rounds: a flowing stream is gathered per events_coalesce_ms. */
static void test_pause(void)
{
    struct zs_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.events_poll_ms = 50;
    cfg.events_batch = 200;
    cfg.events_coalesce_ms = 100;
    is_int((int)publish_pause_ms(&cfg, 5, 12, -1), 88,
           "a round that published: the rest of the interval since it began");
    is_int((int)publish_pause_ms(&cfg, 5, 130, -1), 0, "…none once the round itself took longer");
    is_int((int)publish_pause_ms(&cfg, 200, 12, -1), 0,
           "…none after a full round: more are waiting");
    is_int((int)publish_pause_ms(&cfg, 0, 3, 400), 10,
           "nothing within a second of a flow: poll / 5");
    is_int((int)publish_pause_ms(&cfg, 0, 3, 1500), 50, "idle: the poll");
    is_int((int)publish_pause_ms(&cfg, 0, 3, -1), 50, "…and before anything ever flowed");
    is_int((int)publish_pause_ms(&cfg, -1, 3, 10), 500, "a failed round: half a second");
    cfg.events_coalesce_ms = 0;
    is_int((int)publish_pause_ms(&cfg, 5, 12, -1), 0,
           "events_coalesce_ms 0: the next round at once, as the round ends");
}

int main(void)
{
    test_grouping();
    test_caps();
    test_found();
    test_pause();
    return done_testing();
}
