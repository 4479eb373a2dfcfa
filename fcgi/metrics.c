/*
 * metrics.c — shared-memory counters and their Prometheus rendering.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct metrics *metrics;

static struct metrics fallback; /* used when metrics_init() was not called (CLI, tests) */

static const int status_codes[METRICS_STATUS_SLOTS] = { 200, 201, 202, 400, 401, 403, 404,
                                                        405, 409, 413, 414, 415, 422, 429,
                                                        431, 500, 502, 503, 505, 0 };
static const double duration_le_ms[METRICS_DURATION_BUCKETS] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 0 /* +Inf */
};
static const char *const retry_le[METRICS_RETRY_BUCKETS] = { "0", "1", "2", "3", "5", "+Inf" };
static const int retry_le_n[METRICS_RETRY_BUCKETS] = { 0, 1, 2, 3, 5, 1 << 30 };

static const char *const endpoint_names[EP__COUNT] = {
    "healthz", "metrics", "transfer", "accounts", "transfers", "bid",
    "lots",    "proof",   "order",    "markets",  "other",
};

int metrics_init(void)
{
    void *p = mmap(NULL, sizeof(struct metrics), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return -1;
    memset(p, 0, sizeof(struct metrics));
    metrics = p;
    return 0;
}

static struct metrics *m(void)
{
    if (!metrics)
        metrics = &fallback;
    return metrics;
}

const char *metrics_endpoint_name(enum metrics_endpoint ep)
{
    return ep < EP__COUNT ? endpoint_names[ep] : "other";
}

static void add(uint64_t *p, uint64_t v)
{
    __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

void metrics_count_request(enum metrics_endpoint ep, int status, uint64_t duration_us)
{
    struct metrics *mm = m();
    int slot = METRICS_STATUS_SLOTS - 1, b;
    double ms = (double)duration_us / 1000.0;

    for (int i = 0; i < METRICS_STATUS_SLOTS - 1; i++)
        if (status_codes[i] == status) {
            slot = i;
            break;
        }
    add(&mm->requests[ep][slot], 1);
    for (b = 0; b < METRICS_DURATION_BUCKETS - 1; b++)
        if (ms <= duration_le_ms[b])
            break;
    add(&mm->duration_bucket[ep][b], 1);
    add(&mm->duration_us_sum[ep], duration_us);
}

void metrics_count_settle_skipped(void)
{
    add(&m()->settle_skipped, 1);
}

void metrics_count_tx(enum metrics_endpoint ep, int attempts, int committed)
{
    struct metrics *mm = m();
    int b;

    if (attempts <= 0)
        return;
    add(&mm->tx_attempts[ep], (uint64_t)attempts);
    add(&mm->tx_retries[ep], (uint64_t)(attempts - 1));
    if (committed) {
        add(&mm->tx_commits[ep], 1);
        for (b = 0; b < METRICS_RETRY_BUCKETS - 1; b++)
            if (attempts - 1 <= retry_le_n[b])
                break;
        add(&mm->retry_hist[b], 1);
    }
}

void metrics_count_round_trips(enum metrics_endpoint ep, int rounds)
{
    if (rounds > 0)
        add(&m()->tx_round_trips[ep], (uint64_t)rounds);
}

void metrics_count_connect(int ok, uint64_t us)
{
    struct metrics *mm = m();

    if (ok)
        add(&mm->db_connects, 1);
    else
        add(&mm->db_connect_errors, 1);
    add(&mm->db_connect_us_sum, us);
}

struct buf {
    char *p;
    size_t len, cap;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bprintf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n) * 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return; /* keep the old buffer and its true size */
        b->p = np;
        b->cap = cap;
    }
}

static uint64_t ld(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Requests by endpoint and status, and their durations. */
static void render_requests(struct buf *b, struct metrics *mm)
{
    bprintf(b,
            "# HELP zerosum_requests_total HTTP requests answered, by endpoint and status.\n"
            "# TYPE zerosum_requests_total counter\n");
    for (int e = 0; e < EP__COUNT; e++)
        for (int s = 0; s < METRICS_STATUS_SLOTS; s++) {
            uint64_t v = ld(&mm->requests[e][s]);
            if (!v)
                continue;
            if (status_codes[s])
                bprintf(b, "zerosum_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
                        endpoint_names[e], status_codes[s], (unsigned long long)v);
            else
                bprintf(b, "zerosum_requests_total{endpoint=\"%s\",status=\"other\"} %llu\n",
                        endpoint_names[e], (unsigned long long)v);
        }
    bprintf(b,
            "# HELP zerosum_request_duration_seconds Request duration, by endpoint.\n"
            "# TYPE zerosum_request_duration_seconds histogram\n");
    for (int e = 0; e < EP__COUNT; e++) {
        uint64_t cum = 0;
        for (int i = 0; i < METRICS_DURATION_BUCKETS; i++)
            cum += ld(&mm->duration_bucket[e][i]);
        if (!cum)
            continue;
        cum = 0;
        for (int i = 0; i < METRICS_DURATION_BUCKETS; i++) {
            cum += ld(&mm->duration_bucket[e][i]);
            if (i < METRICS_DURATION_BUCKETS - 1)
                bprintf(b,
                        "zerosum_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
                        endpoint_names[e], duration_le_ms[i] / 1000.0, (unsigned long long)cum);
            else
                bprintf(
                    b,
                    "zerosum_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
                    endpoint_names[e], (unsigned long long)cum);
        }
        bprintf(b, "zerosum_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n",
                endpoint_names[e], (double)ld(&mm->duration_us_sum[e]) / 1e6);
        bprintf(b, "zerosum_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
                endpoint_names[e], (unsigned long long)cum);
    }
}

/* Transactions: attempts, retries, commits, retries per commit. */
static void render_tx(struct buf *b, struct metrics *mm)
{
    bprintf(b,
            "# HELP zerosum_tx_attempts_total Transaction attempts, retries included.\n"
            "# TYPE zerosum_tx_attempts_total counter\n");
    for (int e = 0; e < EP__COUNT; e++)
        if (ld(&mm->tx_attempts[e]))
            bprintf(b, "zerosum_tx_attempts_total{endpoint=\"%s\"} %llu\n", endpoint_names[e],
                    (unsigned long long)ld(&mm->tx_attempts[e]));
    bprintf(b,
            "# HELP zerosum_tx_retries_total Transactions retried after 40001/40P01.\n"
            "# TYPE zerosum_tx_retries_total counter\n");
    for (int e = 0; e < EP__COUNT; e++)
        if (ld(&mm->tx_attempts[e]))
            bprintf(b, "zerosum_tx_retries_total{endpoint=\"%s\"} %llu\n", endpoint_names[e],
                    (unsigned long long)ld(&mm->tx_retries[e]));
    bprintf(b,
            "# HELP zerosum_tx_commits_total Transactions committed.\n"
            "# TYPE zerosum_tx_commits_total counter\n");
    for (int e = 0; e < EP__COUNT; e++)
        if (ld(&mm->tx_attempts[e]))
            bprintf(b, "zerosum_tx_commits_total{endpoint=\"%s\"} %llu\n", endpoint_names[e],
                    (unsigned long long)ld(&mm->tx_commits[e]));
    bprintf(b,
            "# HELP zerosum_tx_round_trips_total Round trips to the database of committed "
            "transactions (the committing attempt; the connect not counted).\n"
            "# TYPE zerosum_tx_round_trips_total counter\n");
    for (int e = 0; e < EP__COUNT; e++)
        if (ld(&mm->tx_attempts[e]))
            bprintf(b, "zerosum_tx_round_trips_total{endpoint=\"%s\"} %llu\n", endpoint_names[e],
                    (unsigned long long)ld(&mm->tx_round_trips[e]));
    bprintf(b,
            "# HELP zerosum_tx_retries_per_commit Committed transactions by retries needed.\n"
            "# TYPE zerosum_tx_retries_per_commit histogram\n");
    {
        uint64_t cum = 0;
        for (int i = 0; i < METRICS_RETRY_BUCKETS; i++) {
            cum += ld(&mm->retry_hist[i]);
            bprintf(b, "zerosum_tx_retries_per_commit_bucket{le=\"%s\"} %llu\n", retry_le[i],
                    (unsigned long long)cum);
        }
        bprintf(b, "zerosum_tx_retries_per_commit_count %llu\n", (unsigned long long)cum);
    }
}

/* The process: connections, workers, proof computations, the sweep. */
static void render_process(struct buf *b, struct metrics *mm)
{
    bprintf(b,
            "# HELP zerosum_db_connects_total Database connections opened.\n"
            "# TYPE zerosum_db_connects_total counter\n"
            "zerosum_db_connects_total %llu\n"
            "# HELP zerosum_db_connect_errors_total Database connections refused or failed.\n"
            "# TYPE zerosum_db_connect_errors_total counter\n"
            "zerosum_db_connect_errors_total %llu\n"
            "# HELP zerosum_db_connect_seconds_total Time spent opening connections.\n"
            "# TYPE zerosum_db_connect_seconds_total counter\n"
            "zerosum_db_connect_seconds_total %.6f\n",
            (unsigned long long)ld(&mm->db_connects),
            (unsigned long long)ld(&mm->db_connect_errors),
            (double)ld(&mm->db_connect_us_sum) / 1e6);
    bprintf(b,
            "# HELP zerosum_worker_spawns_total Workers forked by the supervisor.\n"
            "# TYPE zerosum_worker_spawns_total counter\n"
            "zerosum_worker_spawns_total %llu\n"
            "# HELP zerosum_worker_deaths_total Workers that exited unexpectedly.\n"
            "# TYPE zerosum_worker_deaths_total counter\n"
            "zerosum_worker_deaths_total %llu\n"
            "# HELP zerosum_worker_recycles_total Workers recycled after max_requests.\n"
            "# TYPE zerosum_worker_recycles_total counter\n"
            "zerosum_worker_recycles_total %llu\n"
            "# HELP zerosum_proof_computations_total GET /proof audits computed (not served"
            " from nginx's cache).\n"
            "# TYPE zerosum_proof_computations_total counter\n"
            "zerosum_proof_computations_total %llu\n",
            (unsigned long long)ld(&mm->worker_spawns), (unsigned long long)ld(&mm->worker_deaths),
            (unsigned long long)ld(&mm->worker_recycles),
            (unsigned long long)ld(&mm->proof_computations));
    bprintf(b,
            "# HELP zerosum_settlement_skipped_total Due lots the settlement sweep could not"
            " settle (skipped, retried a minute later).\n"
            "# TYPE zerosum_settlement_skipped_total counter\n"
            "zerosum_settlement_skipped_total %llu\n",
            (unsigned long long)ld(&mm->settle_skipped));
}

char *metrics_render(size_t *len)
{
    struct metrics *mm = m();
    struct buf b = { malloc(8192), 0, 8192 };

    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    render_requests(&b, mm);
    render_tx(&b, mm);
    render_process(&b, mm);
    *len = b.len;
    return b.p;
}
