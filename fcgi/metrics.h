/*
 * metrics.h — counters shared by the supervisor and every worker.
 *
 * One struct in an anonymous MAP_SHARED mapping created by the supervisor
 * before it forks, so every process increments the same counters with
 * relaxed atomics. GET /metrics renders them as Prometheus text.
 */
#ifndef ZS_METRICS_H
#define ZS_METRICS_H

#include <stdint.h>
#include <stddef.h>

enum metrics_endpoint {
    EP_HEALTHZ,
    EP_METRICS,
    EP_TRANSFER,
    EP_ACCOUNTS,
    EP_TRANSFERS,
    EP_BID,
    EP_LOTS,
    EP_PROOF,
    EP_ORDER,
    EP_MARKETS,
    EP_OTHER,
    EP__COUNT
};

#define METRICS_STATUS_SLOTS 20
#define METRICS_DURATION_BUCKETS 12
#define METRICS_RETRY_BUCKETS 6

struct metrics {
    uint64_t requests[EP__COUNT][METRICS_STATUS_SLOTS];
    uint64_t duration_bucket[EP__COUNT][METRICS_DURATION_BUCKETS]; /* cumulative at render */
    uint64_t duration_us_sum[EP__COUNT];
    uint64_t tx_attempts[EP__COUNT];
    uint64_t tx_retries[EP__COUNT];
    uint64_t tx_commits[EP__COUNT];
    uint64_t retry_hist[METRICS_RETRY_BUCKETS]; /* retries per committed transaction */
    uint64_t db_connects;
    uint64_t db_connect_errors;
    uint64_t db_connect_us_sum;
    uint64_t worker_spawns;
    uint64_t worker_deaths;
    uint64_t worker_recycles;
    uint64_t proof_computations;        /* GET /proof audits started */
    uint64_t settle_skipped;            /* due lots the sweep could not settle */
    uint64_t tx_round_trips[EP__COUNT]; /* of committed transactions' last attempts */
};

extern struct metrics *metrics;

/* Map the shared counters; call once in the supervisor before forking. */
int metrics_init(void);

const char *metrics_endpoint_name(enum metrics_endpoint ep);

void metrics_count_request(enum metrics_endpoint ep, int status, uint64_t duration_us);
void metrics_count_tx(enum metrics_endpoint ep, int attempts, int committed);
void metrics_count_connect(int ok, uint64_t us);
/* A committed transaction's round trips to the database (its committing
 * attempt's, the connect not counted): zerosum_tx_round_trips_total. */
void metrics_count_round_trips(enum metrics_endpoint ep, int rounds);
/* A due lot the settlement sweep skipped (zerosum_settlement_skipped_total). */
void metrics_count_settle_skipped(void);

#define metrics_inc(field) __atomic_fetch_add(&metrics->field, 1, __ATOMIC_RELAXED)

/* Render Prometheus text exposition into a malloc'd string (caller frees). */
char *metrics_render(size_t *len);

#endif
