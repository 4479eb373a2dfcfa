/*
 * sse.c — the subscriber's stream parser, message cache and histogram (sse.h).
 */
#include "sse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "burst.h"

#define SSE_CACHE_SLOTS 4096
#define SSE_MAX_PENDING (64 * 1024 * 1024)

struct sse_slot {
    char *bytes;
    size_t len;
    uint64_t key;
    struct sse_msg msg;
};

struct sse_cache {
    struct sse_slot slot[SSE_CACHE_SLOTS];
};

uint64_t sse_hash_step(uint64_t h, int64_t id)
{
    return (uint64_t)(((unsigned __int128)h * 1000003u + (uint64_t)id) % SSE_HASH_MOD);
}

/* (a * b) mod 2^61-1. */
static uint64_t mulmod(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) % SSE_HASH_MOD);
}

/* The n digits at s as a number, or -1 when one is not a digit. */
static long digits(const char *s, int n)
{
    long v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

double sse_epoch(const char *s, size_t len)
{
    long y, mo, d, hh, mi, ss, days;
    double frac = 0, scale = 0.1;
    size_t i = 19;

    if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return -1;
    y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    hh = digits(s + 11, 2), mi = digits(s + 14, 2), ss = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || hh < 0 || mi < 0 || ss < 0)
        return -1;
    if (s[i] == '.')
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            frac += (s[i] - '0') * scale;
    if (!(i + 1 == len && s[i] == 'Z') && !(i + 6 == len && !memcmp(s + i, "+00:00", 6)))
        return -1;
    /* days from 1970-01-01 of a proleptic Gregorian date */
    y -= mo <= 2;
    {
        long era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
        long doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

        days = era * 146097 + doe - 719468;
    }
    return (double)(days * 86400 + hh * 3600 + mi * 60 + ss) + frac;
}

/* Whether b[*p..len) starts with lit; *p then past it. */
static int take(const char *b, size_t len, size_t *p, const char *lit)
{
    size_t n = strlen(lit);

    if (len - *p < n || memcmp(b + *p, lit, n) != 0)
        return 0;
    *p += n;
    return 1;
}

/* Past a run of non-quote bytes (at least min of them) and its closing quote. */
static int skip_string(const char *b, size_t len, size_t *p, size_t min)
{
    const char *q = memchr(b + *p, '"', len - *p);

    if (!q || (size_t)(q - (b + *p)) < min)
        return 0;
    *p = (size_t)(q - b) + 1;
    return 1;
}

/* One event at b[at..): its id and created_at, *end past the match; 0 when not one. */
static int match_event(const char *b, size_t len, size_t at, int64_t *id, double *created,
                       size_t *end)
{
    size_t p = at + 6, d0 = p, c0; /* past {"id": */
    int64_t v = 0;

    while (p < len && b[p] >= '0' && b[p] <= '9' && p - d0 < 18)
        v = v * 10 + (b[p++] - '0');
    if (p == d0 || !take(b, len, &p, ",\"type\":\"") || !skip_string(b, len, &p, 0)
        || !take(b, len, &p, ",\"channel\":\"") || !skip_string(b, len, &p, 0)
        || !take(b, len, &p, ",\"created_at\":\""))
        return 0;
    c0 = p;
    if (!skip_string(b, len, &p, 1))
        return 0;
    *id = v;
    *created = sse_epoch(b + c0, p - 1 - c0);
    *end = p;
    return 1;
}

int sse_parse_message(const char *b, size_t len, struct sse_msg *m)
{
    size_t cap = 0, p = 0;

    memset(m, 0, sizeof(*m));
    m->mult = 1;
    while (p < len) {
        const char *q = memmem(b + p, len - p, "{\"id\":", 6);
        int64_t id;
        double t;
        size_t end;

        if (!q)
            break;
        if (!match_event(b, len, (size_t)(q - b), &id, &t, &end)) {
            p = (size_t)(q - b) + 1;
            continue;
        }
        if (m->n == cap) {
            double *nc = realloc(m->created, (cap = cap ? 2 * cap : 8) * sizeof(double));

            if (!nc) {
                free(m->created);
                return -1;
            }
            m->created = nc;
        }
        if (m->n && id <= m->last)
            m->bad = 1;
        if (!m->n)
            m->first = id;
        m->last = id;
        m->created[m->n++] = t;
        m->add = sse_hash_step(m->add, id);
        m->mult = mulmod(m->mult, 1000003u);
        p = end;
    }
    return 0;
}

struct sse_cache *sse_cache_new(void)
{
    return calloc(1, sizeof(struct sse_cache));
}

void sse_cache_free(struct sse_cache *c)
{
    for (size_t i = 0; c && i < SSE_CACHE_SLOTS; i++) {
        free(c->slot[i].bytes);
        free(c->slot[i].msg.created);
    }
    free(c);
}

/* The parse of message b (len bytes), from the cache or parsed now; NULL out of memory. */
static const struct sse_msg *cached(struct sse_cache *c, const char *b, size_t len)
{
    uint64_t key = 1469598103934665603u ^ len;
    struct sse_slot *s;

    /* the slot from the length and both ends (an nchan message's id line
     * leads, its last event's id trails); memcmp below decides equality */
    for (size_t i = 0; i < len; i += i == 63 && len > 128 ? len - 128 : 1)
        key = (key ^ (unsigned char)b[i]) * 1099511628211u;
    s = &c->slot[key % SSE_CACHE_SLOTS];
    if (s->bytes && s->key == key && s->len == len && !memcmp(s->bytes, b, len))
        return &s->msg;
    free(s->bytes);
    free(s->msg.created);
    memset(s, 0, sizeof(*s));
    s->bytes = malloc(len ? len : 1);
    if (!s->bytes || sse_parse_message(b, len, &s->msg) < 0) {
        free(s->bytes);
        memset(s, 0, sizeof(*s));
        return NULL;
    }
    memcpy(s->bytes, b, len);
    s->len = len;
    s->key = key;
    return &s->msg;
}

/* Count message b into s and its latencies into hist; -1 out of memory. */
static int take_message(struct sse_sub *s, struct sse_cache *c, const char *b, size_t len,
                        double now, uint64_t *hist)
{
    const struct sse_msg *m = cached(c, b, len);

    if (!m)
        return -1;
    if (!m->n)
        return 0;
    if (m->first <= s->last || m->bad)
        s->disorder++;
    s->last = m->last;
    s->count += m->n;
    s->hash = (mulmod(s->hash, m->mult) + m->add) % SSE_HASH_MOD;
    for (size_t i = 0; i < m->n; i++) {
        double k = (now - m->created[i]) * 1000 / 0.1;

        hist[k < 0 ? 0 : k >= SSE_HIST_BINS - 1 ? SSE_HIST_BINS - 1 : (size_t)k]++;
    }
    return 0;
}

/* Whether head h (len bytes) names Content-Type text/event-stream. */
static int is_event_stream(const char *h, size_t len)
{
    const char *p = memmem(h, len, "\r\n", 2), *end = h + len - 2, *val;

    for (p = p ? p + 2 : end; p < end;) {
        const char *e = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);

        if (burst_header_is(p, e, "Content-Type", &val))
            return (size_t)(e - val) >= 17 && !strncasecmp(val, "text/event-stream", 17);
        p = e + 2;
    }
    return 0;
}

/* Take every whole message of b (len bytes); the bytes taken. */
static ssize_t take_all(struct sse_sub *s, struct sse_cache *c, const char *b, size_t len,
                        double now, uint64_t *hist)
{
    size_t at = 0;

    for (;;) {
        const char *e = memmem(b + at, len - at, "\n\n", 2);

        if (!e)
            return (ssize_t)at;
        if (take_message(s, c, b + at, (size_t)(e - (b + at)), now, hist) < 0)
            return -1;
        at = (size_t)(e - b) + 2;
    }
}

int sse_feed(struct sse_sub *s, struct sse_cache *c, const char *data, size_t len, double now,
             uint64_t *hist)
{
    size_t at = 0;
    ssize_t took;

    if (s->refused)
        return 1;
    if (!len)
        return 0; /* nothing read: and memcpy may not be given a NULL buffer */
    if (s->head_done && !s->blen) {
        /* the common case, a read ending on a message's end: no copy */
        took = take_all(s, c, data, len, now, hist);
        if (took < 0)
            return -1;
        data += took;
        len -= (size_t)took;
        if (!len)
            return 0;
    }
    if (s->bcap - s->blen < len) {
        size_t ncap = s->bcap ? s->bcap : 4096;
        char *nb;

        while (ncap - s->blen < len)
            ncap *= 2;
        nb = ncap > SSE_MAX_PENDING ? NULL : realloc(s->buf, ncap);
        if (!nb)
            return -1;
        s->buf = nb;
        s->bcap = ncap;
    }
    memcpy(s->buf + s->blen, data, len);
    s->blen += len;
    if (!s->head_done) {
        ssize_t head = burst_parse_head(s->buf, s->blen, 0, &s->status);

        if (head == 0)
            return 0;
        s->head_done = 1;
        if (head < 0 || s->status != 200 || !is_event_stream(s->buf, (size_t)head)) {
            s->refused = 1;
            return 1;
        }
        at = (size_t)head;
    }
    took = take_all(s, c, s->buf + at, s->blen - at, now, hist);
    if (took < 0)
        return -1;
    at += (size_t)took;
    memmove(s->buf, s->buf + at, s->blen - at);
    s->blen -= at;
    return 0;
}

void sse_write_hist(FILE *f, const uint64_t *hist)
{
    int first = 1;

    fputc('{', f);
    for (size_t i = 0; i < SSE_HIST_BINS; i++)
        if (hist[i]) {
            fprintf(f, "%s\"%zu\":%llu", first ? "" : ",", i, (unsigned long long)hist[i]);
            first = 0;
        }
    fputc('}', f);
}
