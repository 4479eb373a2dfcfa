/*
 * publish_recover.h — what the publisher's modules share (publish.c, the
 * rounds; publish_recover.c, reading nchan back after a crash). Not for
 * use outside the publisher process.
 */
#ifndef ZS_DOMAIN_PUBLISH_RECOVER_H
#define ZS_DOMAIN_PUBLISH_RECOVER_H

#include <stdint.h>
#include <time.h>

#include "config.h"
#include "domain/events.h"
#include "httpc.h"

#define PUBLISH_TIMEOUT_MS 2000
/* The publisher's lease, renewed by every transaction that writes. */
#define PUBLISH_LEASE_MS 5000
#define PUBLISH_CHANNELS_MAX 8

/* One ordered event, as read back for publishing. */
struct pub_event {
    int64_t pos;
    char type[64];
    char channels[EVENTS_CHANNELS_MAX];
    char created_at[40];
    char *payload;
};

/* A message's size and event count at most (a bigger group is split, in order). */
#define PUBLISH_MSG_BYTES 32768
#define PUBLISH_MSG_EVENTS 200

/*
 * One nchan message: a run of one channel's events, in order (published
 * now, or found there by recovery). The message of one event is that
 * event's JSON; of several, {"type":"batch","events":[...]}.
 */
struct pub_msg {
    char channel[EVENTS_CHANNELS_MAX];
    char msgid[48];         /* "" = not to be recorded (refused, or recorded already) */
    int64_t first_pos, pos; /* the channel's events it carries: first_pos..pos */
    char first_text[24], pos_text[24];
    int fresh;      /* the channel held no older message: its older ids are gone */
    int pending;    /* still needs its POST (not found in nchan) */
    int off, count; /* its events: ev[idx[off .. off + count)] */
};

struct pub_ctx {
    const struct zs_config *cfg;
    char owner[64];
    int recovering;          /* after a start or a failure: read nchan back before publishing */
    struct timespec renewed; /* when the last transaction that renewed the lease began */
    int held;                /* renewed is set: the lease was ours then */
    struct timespec flowing; /* when a round last published (0: never) */
    struct httpc_url nchan;
    struct httpc_keep conn;       /* kept alive to nchan's unix socket */
    int refused;                  /* nchan refused a publish (5xx): make room first */
    struct timespec room_checked; /* when nchan's memory was last read (0: never) */
};

/*
 * Recovering before a batch ev[0..n) (the ordered events after the `nchan`
 * cursor `cursor`): for every channel the batch names, the messages nchan
 * holds that a publisher published and never recorded — after the
 * channel's last recorded message, carrying events above cursor — read
 * back through the internal subscriber location, into found[] in channel
 * order, at most max; and, when the channel's last recorded message
 * carries events above cursor already, that one (msgid "": not recorded
 * again). Their count, or -1 (nchan or the database failed: publish
 * nothing this round).
 */
int publish_recover(struct pub_ctx *c, const struct pub_event *ev, int n, int64_t cursor,
                    struct pub_msg *found, int max);

/* A round laid out: its messages, each a run of one channel's events. */
struct pub_batch {
    struct pub_msg *msg;
    int nm;
    int *idx; /* event indices, the messages' runs one after another */
    int ni;
};

/*
 * Lay ev[0..n) out in b: for each channel in the order the round first
 * names it, the messages recovery found on it (found[0..nf)), then the
 * channel's other events, in order, in messages of at most
 * PUBLISH_MSG_EVENTS events and about PUBLISH_MSG_BYTES. 0, or -1 (out of
 * memory). publish_batch_free() it either way.
 */
int publish_batch_layout(struct pub_batch *b, const struct pub_event *ev, int n,
                         const struct pub_msg *found, int nf);

void publish_batch_free(struct pub_batch *b);

/* m's body (one event's JSON, or the batch of them), malloc'd, or NULL. */
char *publish_msg_body(const struct pub_batch *b, const struct pub_msg *m,
                       const struct pub_event *ev);

/* The distinct channels event e names, at most PUBLISH_CHANNELS_MAX, into out. Their count. */
int publish_channels(const struct pub_event *e, char out[][EVENTS_CHANNELS_MAX]);

/*
 * The publisher's pause before its next round, in ms, after a round that
 * took round_ms and published n events (-1: failed); since_flow_ms is how
 * long ago a round last published (-1: never, or this round). See
 * publish.c's loop and docs/OPERATIONS.md, "Live events".
 */
long publish_pause_ms(const struct zs_config *cfg, int n, long round_ms, long since_flow_ms);

/* nchan's figures from its stub status (publish_room.c). */
struct nchan_room {
    long stored;  /* messages held */
    long used_k;  /* shared memory used, KiB */
    long limit_k; /* nchan_shared_memory_size, KiB */
};

/* The figures of a stub status body into r. 0, or -1 (not one). */
int publish_parse_room(const char *body, struct nchan_room *r);

/* How many messages to evict for r (0: none), refused: nchan refused a publish. */
long publish_room_target(const struct nchan_room *r, int refused);

/*
 * Before publishing the round ev[0..n): once a second, or at once after a
 * refusal, read nchan's memory figures and, past the high mark, evict the
 * least recently published channels other than the round's and the proof
 * channel (their ids forgotten, then the channels deleted). 0, or -1 (the
 * database, nchan, or the lease lost: c->held is 0 then).
 */
int publish_make_room(struct pub_ctx *c, const struct pub_event *ev, int n);

/* Milliseconds since t0 (CLOCK_MONOTONIC). */
long publish_ms_since(const struct timespec *t0);

/* nchan's JSON answer to a publisher request: last_message_id and messages. 0, or -1. */
int publish_parse_nchan(const struct httpc_resp *r, char *msgid, size_t n, int *messages);

#endif
