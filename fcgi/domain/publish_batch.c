/*
 * publish_batch.c — a publisher round laid out as nchan messages (see
 * publish_recover.h and docs/OPERATIONS.md, "Live events").
 *
 * nchan's cost is per message (fanning one out to a channel's subscribers),
 * not per byte, so a round publishes ONE message per channel carrying all
 * of that channel's events of the round, in outbox order (split, still in
 * order, past PUBLISH_MSG_EVENTS events or about PUBLISH_MSG_BYTES). A
 * message of one event is the event itself, as subscribers always had it;
 * a message of several is {"type":"batch","channel":…,"events":[…]}.
 */
#include "domain/publish_recover.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* For this long after it last published, the publisher polls
 * FLOWING_DIVISOR times as often (see publish_pause_ms). */
#define FLOWING_MS 1000
#define FLOWING_DIVISOR 5

/*
 * After a round that published: the rest of events_coalesce_ms since it
 * began, so that a flowing stream is gathered into one round (one nchan
 * message per channel) per interval and a hot channel's fan-out to its
 * subscribers runs a bounded number of times a second whatever the write
 * rate; none after a full round (events_batch: more are waiting). Within
 * FLOWING_MS of the last published event, a fifth of the poll (the first
 * event after a lull waits a fifth as long); the poll once idle (one
 * read-only probe per poll); 500 ms after a failure.
 */
long publish_pause_ms(const struct zs_config *cfg, int n, long round_ms, long since_flow_ms)
{
    long poll = cfg->events_poll_ms, left = cfg->events_coalesce_ms - round_ms;

    if (n < 0)
        return 500;
    if (n > 0)
        return n >= cfg->events_batch || left < 0 ? 0 : left;
    if (since_flow_ms >= 0 && since_flow_ms < FLOWING_MS)
        return poll / FLOWING_DIVISOR > 0 ? poll / FLOWING_DIVISOR : 1;
    return poll;
}

/* Whether channel is among names[0..n); its index, or -1. */
static int channel_index(char (*names)[EVENTS_CHANNELS_MAX], int n, const char *channel)
{
    for (int i = n - 1; i >= 0; i--) /* the latest named first: a round's runs repeat channels */
        if (strcmp(names[i], channel) == 0)
            return i;
    return -1;
}

int publish_channels(const struct pub_event *e, char out[][EVENTS_CHANNELS_MAX])
{
    char chans[EVENTS_CHANNELS_MAX], *save = NULL;
    int n = 0;

    snprintf(chans, sizeof(chans), "%s", e->channels);
    for (char *ch = strtok_r(chans, " ", &save); ch && n < PUBLISH_CHANNELS_MAX;
         ch = strtok_r(NULL, " ", &save))
        if (channel_index(out, n, ch) < 0)
            snprintf(out[n++], EVENTS_CHANNELS_MAX, "%s", ch);
    return n;
}

/* The bytes event e takes in a message on channel (an upper bound). */
static size_t event_size(const struct pub_event *e, const char *channel)
{
    return strlen(e->payload) + strlen(channel) + strlen(e->type) + 128;
}

/* Event e on channel as subscribers read it, into out (NULL: only measure). Its length. */
static int event_text(char *out, size_t n, const struct pub_event *e, const char *channel)
{
    return snprintf(out, n,
                    "{\"id\":%" PRId64 ",\"type\":\"%s\",\"channel\":\"%s\",\"created_at\":\"%s\","
                    "\"data\":%s}",
                    e->pos, e->type, channel, e->created_at, e->payload);
}

char *publish_msg_body(const struct pub_batch *b, const struct pub_msg *m,
                       const struct pub_event *ev)
{
    size_t cap = strlen(m->channel) + 64, len = 0;
    char *out;

    for (int i = 0; i < m->count; i++)
        cap += event_size(&ev[b->idx[m->off + i]], m->channel) + 1;
    if (!(out = malloc(cap)))
        return NULL;
    if (m->count == 1) {
        event_text(out, cap, &ev[b->idx[m->off]], m->channel);
        return out;
    }
    len = (size_t)snprintf(out, cap, "{\"type\":\"batch\",\"channel\":\"%s\",\"events\":[",
                           m->channel);
    for (int i = 0; i < m->count; i++) {
        if (i > 0)
            out[len++] = ',';
        len += (size_t)event_text(out + len, cap - len, &ev[b->idx[m->off + i]], m->channel);
    }
    snprintf(out + len, cap - len, "]}");
    return out;
}

/* A new message on channel in b, its events to follow in b->idx. */
static struct pub_msg *msg_open(struct pub_batch *b, const char *channel)
{
    struct pub_msg *m = &b->msg[b->nm++];

    memset(m, 0, sizeof(*m));
    snprintf(m->channel, sizeof(m->channel), "%s", channel);
    m->pending = 1;
    m->off = b->ni;
    return m;
}

/* Append event i (of ev) to m, which must be the last message of b. */
static void msg_add(struct pub_batch *b, struct pub_msg *m, const struct pub_event *ev, int i)
{
    if (m->count == 0) {
        m->first_pos = ev[i].pos;
        snprintf(m->first_text, sizeof(m->first_text), "%" PRId64, ev[i].pos);
    }
    m->pos = ev[i].pos;
    snprintf(m->pos_text, sizeof(m->pos_text), "%" PRId64, ev[i].pos);
    b->idx[b->ni++] = i;
    m->count++;
}

/*
 * Channel k's messages: the ones recovery found on it, then its events
 * ev[order[from..to)] that lie past them, in runs that respect the caps.
 */
static void lay_channel(struct pub_batch *b, const char *channel, const struct pub_event *ev,
                        const int *order, int from, int to, const struct pub_msg *found, int nf)
{
    int64_t upto = 0;
    struct pub_msg *m = NULL;
    size_t bytes = 0;

    for (int f = 0; f < nf; f++) {
        if (strcmp(found[f].channel, channel) != 0)
            continue;
        b->msg[b->nm] = found[f];
        b->msg[b->nm].pending = 0;
        b->msg[b->nm].off = b->ni;
        b->msg[b->nm++].count = 0;
        upto = found[f].pos > upto ? found[f].pos : upto;
    }
    for (int s = from; s < to; s++) {
        const struct pub_event *e = &ev[order[s]];
        size_t sz = event_size(e, channel);
        if (e->pos <= upto)
            continue; /* in nchan already */
        if (!m || m->count >= PUBLISH_MSG_EVENTS || bytes + sz > PUBLISH_MSG_BYTES) {
            m = msg_open(b, channel);
            bytes = 0;
        }
        msg_add(b, m, ev, order[s]);
        bytes += sz;
    }
}

int publish_batch_layout(struct pub_batch *b, const struct pub_event *ev, int n,
                         const struct pub_msg *found, int nf)
{
    size_t max = (size_t)n * PUBLISH_CHANNELS_MAX;
    char(*names)[EVENTS_CHANNELS_MAX] = malloc(max * sizeof(*names));
    char chans[PUBLISH_CHANNELS_MAX][EVENTS_CHANNELS_MAX];
    int *slot_ch = malloc(max * sizeof(int)), *slot_ev = malloc(max * sizeof(int));
    int *start = calloc(max + 1, sizeof(int)), *order = malloc(max * sizeof(int));
    int nn = 0, ns = 0, rc = -1;

    memset(b, 0, sizeof(*b));
    b->msg = calloc(max + (size_t)nf, sizeof(*b->msg));
    b->idx = calloc(max, sizeof(*b->idx));
    if (!names || !slot_ch || !slot_ev || !start || !order || !b->msg || !b->idx)
        goto out;
    /* every (event, channel), the channels numbered as the round first names them */
    for (int i = 0; i < n; i++) {
        int m = publish_channels(&ev[i], chans);
        for (int j = 0; j < m; j++) {
            int k = channel_index(names, nn, chans[j]);
            if (k < 0)
                memcpy(names[k = nn++], chans[j], sizeof(names[0]));
            slot_ch[ns] = k;
            slot_ev[ns++] = i;
            start[k + 1]++;
        }
    }
    /* a counting sort by channel keeps each channel's events in outbox order */
    for (int k = 0; k < nn; k++)
        start[k + 1] += start[k];
    for (int s = 0, *fill = start; s < ns; s++)
        order[fill[slot_ch[s]]++] = slot_ev[s];
    for (int k = nn; k > 0; k--)
        start[k] = start[k - 1];
    start[0] = 0;
    for (int k = 0; k < nn; k++)
        lay_channel(b, names[k], ev, order, start[k], start[k + 1], found, nf);
    rc = 0;
out:
    free(names);
    free(slot_ch);
    free(slot_ev);
    free(start);
    free(order);
    return rc;
}

void publish_batch_free(struct pub_batch *b)
{
    free(b->msg);
    free(b->idx);
    memset(b, 0, sizeof(*b));
}
