/*
 * publish.h — the event publisher (docs/OPERATIONS.md, "Live events").
 *
 * One process (a child of the jobs child, restarted by it) holds the
 * `events` lease and, every events_poll_ms:
 *   1. gives the outbox's new events their positions, after the `ordered`
 *      cursor, in the order they were written (one transaction);
 *   2. publishes the ordered events after the `nchan` cursor (a round of
 *      at most events_batch, all at once), ONE message per channel with
 *      that channel's events of the round in order (publish_batch.c),
 *      through nginx's nchan publisher location on the unix socket
 *      <socket_dir>/nchan.sock (one kept-alive connection, up to 16
 *      publishes pipelined on it, the lease renewed as a long round goes);
 *      then records nchan's message id of every message (with the run of
 *      events it carries) and advances the cursor, with the lease
 *      renewed, in one transaction for the whole round (its database
 *      connection kept across rounds).
 * Before a round it keeps room in nchan's memory (publish_room.c): past
 * a high mark, or after nchan refused a message, it evicts the channels
 * least recently published, whose subscribers are then told to resync.
 * A crash between the publishes and their record leaves the batch's
 * messages in nchan, unrecorded: the tail of each channel. The next
 * publisher (or the same one after a failure) reads every channel of its
 * first batch back from the last recorded message (publish_recover.c) and
 * records what it finds instead of publishing it again, so a subscriber
 * sees every event once, in order.
 */
#ifndef ZS_DOMAIN_PUBLISH_H
#define ZS_DOMAIN_PUBLISH_H

#include "config.h"
#include "store/db.h"

/* Start the publisher process if it is not running (events_poll_ms > 0). */
void publish_jobs_poll(const struct zs_config *cfg);

/* Stop the publisher process (the jobs child is leaving). */
void publish_jobs_stop(void);

/* Purge published events past events_retention_s and stream message ids
 * past events_buffer_s, in batches. Rows deleted, or -1. */
int publish_purge(const struct zs_config *cfg);

/*
 * Announce the /proof status as the sealer just saw it (status "ok" or
 * "failing", with the check that failed) on the proof channel, when it
 * differs from the last one announced: proof.status, in one transaction
 * with the change of the announced status. 1 announced, 0 unchanged, -1.
 */
int publish_proof_status(const struct zs_config *cfg, const char *status, const char *check,
                         long long seal_no, long long tree_size);

#endif
