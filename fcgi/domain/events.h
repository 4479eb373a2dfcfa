/*
 * events.h — the outbox (docs/OPERATIONS.md, "Live events").
 *
 * An effect announces itself by appending events to the `events` table in
 * the transaction that makes the effect, so an event exists iff its effect
 * committed. An event is a dotted type ("transfer.created"), the channels
 * it goes to ("lots/<id>", "markets/<id>", "accounts/<id>", "proof") and
 * a JSON payload. The publisher (domain/publish.h) gives events their one
 * total order later; nothing here waits for it.
 *
 * Adding an event for a new effect is one call where the effect's last
 * statements are assembled: mut_event() in a mutation (api/mutation.h), or
 * events_add() + events_stmts() in a driver that builds its own pipeline.
 */
#ifndef ZS_DOMAIN_EVENTS_H
#define ZS_DOMAIN_EVENTS_H

#include <json-c/json.h>

#include "config.h"
#include "store/db.h"

#define EVENTS_CHANNELS_MAX 256 /* "accounts/<uuid> accounts/<uuid> lots/<uuid>" fits */

struct event_row {
    const char *type;
    const char *values[4]; /* type, channels, payload, n: set by events_stmts() */
    char channels[EVENTS_CHANNELS_MAX];
    char n[12];
    char *payload; /* malloc'd JSON text */
};

/* Events being assembled for one transaction (grows as needed). */
struct events_buf {
    struct event_row *rows;
    int n, cap;
};

/* Drop every event in b (an attempt that is retried or refused has none). */
void events_reset(struct events_buf *b);

/*
 * Append event type (a string literal) with payload (ownership taken; NULL
 * means {}) for the channels chan_fmt makes (space-separated, e.g.
 * "lots/%s accounts/%s"). 0, or -1 out of memory / channels too long (the
 * caller fails its transaction: an effect without its event must not
 * commit).
 */
int events_add(struct events_buf *b, const char *type, struct json_object *payload,
               const char *chan_fmt, ...) __attribute__((format(printf, 4, 5)));

/* Fill st[0..b->n) with the appends of b's events (values live in b; add
 * nothing more to b before they are sent). Returns b->n. */
int events_stmts(struct events_buf *b, struct tx_stmt *st);

/* Send b's appends as one round trip of tx (a driver's own pipeline). 0, or -1. */
int events_exec(struct tx *tx, struct events_buf *b);

/* {"<name>": "<value>", ...} for a payload: pairs of name, value (value NULL: JSON null), NULL. */
struct json_object *events_obj(const char *name, ...) __attribute__((sentinel));

/* {"<name>": v} (ownership of v taken), for a payload. */
struct json_object *events_wrap(const char *name, struct json_object *v);

/*
 * How many messages nchan holds for channel right now (its publisher
 * socket, <socket_dir>/nchan.sock: GET /pub/<channel>), 0 when it has no
 * such channel, or -1 (nchan did not answer); the latest of them into
 * last[n] ("" when none). The subscribe gate's check that a recorded
 * stream id is still there: an nginx restart (or a killed nginx worker)
 * empties nchan while event_publications still names the ids it held.
 */
int events_buffered(const struct zs_config *cfg, const char *channel, char *last, size_t n);

#endif
