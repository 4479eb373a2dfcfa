/*
 * sse.h — the sse-fanout scenario's subscriber client (build/zerosum-subscribe).
 *
 * One subscriber is one EventSource stream over HTTP/1.0 (the bare
 * text/event-stream body after the response head). sse_feed() takes its
 * bytes as they are read, in any split: a blank line ends a message; a
 * message holds one event, or a batch of them, each found by its leading
 * members {"id":N,"type":"…","channel":"…","created_at":"ISO"} (the
 * publisher's layout; a JSON string inside a payload has its quotes
 * escaped, so it cannot match). Per subscriber: the count of events,
 * whether each message's first id is larger than the one before and its
 * ids increase within it, and the order-sensitive hash of the id sequence
 * (h = (h * 1000003 + id) mod 2^61-1, the bench's seq_hash). Per event the
 * delivery latency, the wall-clock time of the read completing its message
 * minus its created_at, goes into a 0.1 ms histogram. A message's bytes
 * are parsed once for every subscriber that receives them (struct sse_cache).
 */
#ifndef ZS_SSE_H
#define ZS_SSE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SSE_HASH_MOD ((UINT64_C(1) << 61) - 1)
#define SSE_HIST_BINS 1200001 /* 0.1 ms bins up to 120 s, the last one open */

/* One message's parse: its events' ids in order, folded. */
struct sse_msg {
    size_t n;        /* events (0: a comment, a ping, anything else) */
    int64_t first;   /* the first event's id */
    int64_t last;    /* the last event's id */
    uint64_t mult;   /* 1000003^n mod 2^61-1 */
    uint64_t add;    /* the hash of the message's ids from 0 */
    int bad;         /* ids not increasing within the message */
    double *created; /* n created_at epochs (malloc'd) */
};

/* Parsed messages by their bytes, so a message is parsed once. */
struct sse_cache;

/* One subscriber's stream state and figures. */
struct sse_sub {
    int status;    /* the response's status, 0 until its head is read */
    int head_done; /* the head has been read */
    int refused;   /* not 200 text/event-stream */
    char *buf;     /* bytes not yet taken */
    size_t blen, bcap;
    uint64_t count;    /* events */
    int64_t last;      /* the last event's id (0 before the first) */
    uint64_t hash;     /* seq_hash over the ids */
    uint64_t disorder; /* messages out of order */
};

/* One step of the order-sensitive hash of an id sequence. */
uint64_t sse_hash_step(uint64_t h, int64_t id);

/* '2026-12-01T17:30:00.123456Z' (or with +00:00) -> unix seconds; -1 when not one. */
double sse_epoch(const char *s, size_t len);

/* Parse one message's bytes (without its blank line) into m; -1 out of memory. */
int sse_parse_message(const char *b, size_t len, struct sse_msg *m);

/* A new cache, NULL when out of memory; sse_cache_free() frees it and its parses. */
struct sse_cache *sse_cache_new(void);
void sse_cache_free(struct sse_cache *c);

/*
 * Take len bytes of subscriber s's stream, read at wall-clock time now
 * (unix seconds): the head first (status and Content-Type checked), then
 * every whole message, its events counted into s and their latencies into
 * hist (SSE_HIST_BINS counts). Returns 0, 1 once the stream is refused
 * (not 200 text/event-stream, or not HTTP), -1 when out of memory.
 */
int sse_feed(struct sse_sub *s, struct sse_cache *c, const char *data, size_t len, double now,
             uint64_t *hist);

/* Write a histogram as a JSON object of its non-empty bins {"bin": count, ...}. */
void sse_write_hist(FILE *f, const uint64_t *hist);

#endif
