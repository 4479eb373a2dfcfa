/*
 * test_sse.c — bench/sse.c: the subscriber's stream parser fed at every
 * split point, single and batch messages, comments and pings ignored, the
 * order checks, the refused stream, created_at parsing and the sequence
 * hash equal to the bench's seq_hash (expected values computed once with
 * scripts/zerosum_py/bench/fanout.py).
 */
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "tap.h"

#define HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\r\n"

/* A stream: a ping, one event, a comment, a batch of three, one event. */
static const char stream[] =
    HEAD ": ping\n\n"
         "id: 3\nevent: bid\ndata: {\"id\":3,\"type\":\"bid\",\"channel\":\"lots/1\","
         "\"created_at\":\"2026-12-01T17:30:00.123456Z\",\"amount\":5}\n\n"
         ": a comment {\"id\":4}\n\n"
         "id: 15\nevent: batch\ndata: {\"type\":\"batch\",\"channel\":\"lots/1\",\"events\":["
         "{\"id\":7,\"type\":\"bid\",\"channel\":\"lots/1\",\"created_at\":"
         "\"2026-12-01T17:30:00Z\",\"x\":\"{\\\"id\\\":99\"},"
         "{\"id\":8,\"type\":\"bid\",\"channel\":\"lots/1\",\"created_at\":"
         "\"2026-12-01T17:30:00Z\"},"
         "{\"id\":15,\"type\":\"bid\",\"channel\":\"lots/1\",\"created_at\":"
         "\"2026-12-01T17:30:00Z\"}]}\n\n"
         "data: {\"id\":9000000000123,\"type\":\"bid\",\"channel\":\"lots/1\","
         "\"created_at\":\"2026-12-01T17:30:00Z\"}\n\n";

#define WANT_HASH UINT64_C(588831422710418661) /* seq_hash over 3, 7, 8, 15, 9000000000123 */

/* Feed the stream cut at split (and at split2), reading at time now. */
static int feed_split(struct sse_sub *s, struct sse_cache *c, uint64_t *hist, size_t split,
                      size_t split2)
{
    size_t len = sizeof(stream) - 1, cuts[3] = { split, split2 > split ? split2 : split, len };
    size_t at = 0;

    for (int i = 0; i < 3; i++) {
        if (sse_feed(s, c, stream + at, cuts[i] - at, 1796146200.5, hist) != 0)
            return -1;
        at = cuts[i];
    }
    return 0;
}

static void test_splits(void)
{
    size_t len = sizeof(stream) - 1, bad = 0;
    uint64_t *hist = calloc(SSE_HIST_BINS, sizeof(*hist));
    struct sse_cache *c = sse_cache_new();

    for (size_t split = 0; split <= len; split++) {
        struct sse_sub s = { 0 };

        if (feed_split(&s, c, hist, split, split + 7 < len ? split + 7 : len) < 0 || s.count != 5
            || s.hash != WANT_HASH || s.disorder != 0 || s.last != 9000000000123 || s.blen != 0)
            bad++;
        free(s.buf);
    }
    is_int(bad, 0, "every split point: 5 events, the hash, in order, nothing left over");
    /* per feed: 3 at 500 ms - 0.123456 s = 376.544 ms (bin 3765), 4 at 500 ms (bin 5000) */
    ok(hist[3765] == len + 1 && hist[5000] == 4 * (len + 1), "latencies binned at 0.1 ms");
    free(hist);
    sse_cache_free(c);
}

static void test_hash(void)
{
    uint64_t h = 0;
    const int64_t ids[] = { 3, 7, 8, 15, 9000000000123 };

    for (int i = 0; i < 5; i++)
        h = sse_hash_step(h, ids[i]);
    ok(h == WANT_HASH, "sse_hash_step equals the bench's seq_hash");
    ok(sse_hash_step(sse_hash_step(0, 7), 3) != sse_hash_step(sse_hash_step(0, 3), 7),
       "the hash is order-sensitive");
}

static void test_order(void)
{
    const char text[] = HEAD "data: "
                             "{\"id\":5,\"type\":\"bid\",\"channel\":\"lots/1\",\"created_at\":"
                             "\"2026-12-01T17:30:00Z\"}\n\n"
                             "data: "
                             "{\"id\":5,\"type\":\"bid\",\"channel\":\"lots/1\",\"created_at\":"
                             "\"2026-12-01T17:30:00Z\"}\n\n"
                             "data: ["
                             "{\"id\":9,\"type\":\"bid\",\"channel\":\"lots/1\",\"created_at\":"
                             "\"2026-12-01T17:30:00Z\"},"
                             "{\"id\":8,\"type\":\"bid\",\"channel\":\"lots/1\",\"created_at\":"
                             "\"2026-12-01T17:30:00Z\"}]\n\n";
    uint64_t *hist = calloc(SSE_HIST_BINS, sizeof(*hist));
    struct sse_cache *c = sse_cache_new();
    struct sse_sub s = { 0 }, t = { 0 };

    is_int(sse_feed(&s, c, text, sizeof(text) - 1, 1796146201, hist), 0, "order: fed");
    is_int(s.disorder, 2, "order: a repeated id and a decreasing batch are out of order");
    is_int(s.count, 4, "order: every event counted");
    /* a second subscriber shares the cache but not the checks */
    is_int(sse_feed(&t, c, text, strstr(text, "\n\n") + 2 - text, 1796146201, hist), 0,
           "order: a second subscriber fed its first message");
    ok(t.count == 1 && t.disorder == 0 && t.last == 5,
       "order: a second subscriber's figures are its own");
    free(s.buf);
    free(t.buf);
    free(hist);
    sse_cache_free(c);
}

static void test_refused(void)
{
    uint64_t *hist = calloc(SSE_HIST_BINS, sizeof(*hist));
    struct sse_cache *c = sse_cache_new();
    struct sse_sub a = { 0 }, b = { 0 }, d = { 0 };
    const char r403[] = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/event-stream\r\n\r\n";
    const char json[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}";

    is_int(sse_feed(&a, c, r403, sizeof(r403) - 1, 0, hist), 1, "refused: a 403");
    is_int(a.status, 403, "refused: its status");
    is_int(sse_feed(&b, c, json, sizeof(json) - 1, 0, hist), 1, "refused: not an event stream");
    is_int(sse_feed(&d, c, "garbage\r\n\r\n", 11, 0, hist), 1, "refused: not HTTP");
    free(a.buf);
    free(b.buf);
    free(d.buf);
    free(hist);
    sse_cache_free(c);
}

static void test_epoch(void)
{
    ok(sse_epoch("2026-12-01T17:30:00.123456Z", 27) == 1796146200.123456, "epoch: microseconds");
    ok(sse_epoch("2026-12-01T17:30:00Z", 20) == 1796146200.0, "epoch: whole seconds");
    ok(sse_epoch("2024-02-29T23:59:59.5+00:00", 27) == 1709251199.5, "epoch: leap day, +00:00");
    ok(sse_epoch("2026-12-01 17:30:00Z", 20) < 0, "epoch: not ISO");
}

int main(void)
{
    test_hash();
    test_splits();
    test_order();
    test_refused();
    test_epoch();
    return done_testing();
}
