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
#define PUBLISH_CHANNELS_MAX 8

/* One ordered event, as read back for publishing. */
struct pub_event {
    int64_t pos;
    char type[64];
    char channels[EVENTS_CHANNELS_MAX];
    char created_at[40];
    char *payload;
};

/* One (channel, event) message nchan holds: published now, or found there. */
struct pub_done {
    char channel[EVENTS_CHANNELS_MAX];
    char msgid[48]; /* "" = skipped: nchan refused the channel */
    int64_t pos;
    char pos_text[24];
    int fresh; /* the channel held no older message: its older ids are gone */
};

struct pub_ctx {
    const struct zs_config *cfg;
    char owner[64];
    int recovering;          /* after a start or a failure: read nchan back before publishing */
    struct timespec renewed; /* when the last transaction that renewed the lease began */
    int held;                /* renewed is set: the lease was ours then */
    struct httpc_url nchan;
    struct httpc_keep conn; /* kept alive to nchan's unix socket */
};

/*
 * Recovering before a batch ev[0..n) (the ordered events after the `nchan`
 * cursor `cursor`): for every channel the batch names, the messages nchan
 * holds that a publisher published and never recorded — those whose body
 * "id" is above cursor, after the channel's last recorded message — read
 * back through the internal subscriber location, into found[] in channel
 * order, at most max. Their count, or -1 (nchan or the database failed:
 * publish nothing this round).
 */
int publish_recover(struct pub_ctx *c, const struct pub_event *ev, int n, int64_t cursor,
                    struct pub_done *found, int max);

/* A batch laid out: one slot per (event, channel), in publishing order. */
struct pub_batch {
    struct pub_done *done; /* the slots */
    char *pending;         /* slot k still needs its POST (not found in nchan) */
    char *first;           /* slot k is its event's first */
    int *end;              /* per event: the slot after its last */
    int ns;
};

/*
 * Lay ev[0..n) out in b, one slot per (event, channel) in publishing
 * order, taking each message recovery found (found[0..nf)) instead of a
 * publish. 0, or -1 (out of memory). publish_batch_free() it either way.
 */
int publish_batch_layout(struct pub_batch *b, const struct pub_event *ev, int n,
                         const struct pub_done *found, int nf);

void publish_batch_free(struct pub_batch *b);

/* The distinct channels event e names, at most PUBLISH_CHANNELS_MAX, into out. Their count. */
int publish_channels(const struct pub_event *e, char out[][EVENTS_CHANNELS_MAX]);

/* nchan's JSON answer to a publisher request: last_message_id and messages. 0, or -1. */
int publish_parse_nchan(const struct httpc_resp *r, char *msgid, size_t n, int *messages);

#endif
