/*
 * webhook.h — webhook deliveries (docs/OPERATIONS.md, "Webhooks").
 *
 * A deliverer process (a child of the jobs child, apart from the event
 * publisher) finds endpoints whose next attempt is due and forks one
 * short-lived process per endpoint, at most WEBHOOK_PARALLEL at once, and
 * at most WEBHOOK_FAILING_SLOTS of them for endpoints that are retrying, so
 * a slow or dead endpoint holds only its own process and never the slots
 * of those that answer: its queue, no one else's. An endpoint's process sends its events one at a time, in order,
 * each attempt bounded by webhook_timeout_ms, and signs each body:
 *   zerosum-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 * A 2xx answer moves the endpoint's cursor past the event; anything else
 * retries it after 2^attempts seconds (at most an hour apart) until it has
 * failed for webhook_max_age_s, when it is given up (logged) and the next
 * event follows. Every attempt is logged in webhook_deliveries.
 */
#ifndef ZS_DOMAIN_WEBHOOK_H
#define ZS_DOMAIN_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define WEBHOOK_PARALLEL 16
/* Of those, endpoints whose last attempt failed may hold at most this many. */
#define WEBHOOK_FAILING_SLOTS (WEBHOOK_PARALLEL / 4)

/* Start the deliverer if it is not running (events_poll_ms > 0). */
void webhook_jobs_poll(const struct zs_config *cfg);

/* Stop the deliverer (the jobs child is leaving). */
void webhook_jobs_stop(void);

/* The signature header's value for body sent at unix time t: "t=<t>,v1=<hex>". 0, or -1. */
int webhook_sign(const char *secret, int64_t t, const char *body, size_t len, char *out,
                 size_t outlen);

/* Seconds before retry number `attempts` (1, 2, …): 2^(attempts-1), at most 3600. */
int webhook_backoff_s(int attempts);

#endif
