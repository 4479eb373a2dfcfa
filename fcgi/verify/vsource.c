/*
 * vsource.c — the log from a URL or a bundle file (see vsource.h).
 */
#include "verify/vsource.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verify/vhttp.h"

#define PAGE 1000

/* Write a reason into err and return -1. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* The problem code or a short excerpt of a non-200 answer, into err. */
static void describe(const struct vhttp_resp *r, const char *path, char *err, size_t errlen)
{
    json_object *j = r->body ? json_tokener_parse(r->body) : NULL, *code;
    if (j && json_object_object_get_ex(j, "code", &code))
        snprintf(err, errlen, "GET %s: %d %s", path, r->status, json_object_get_string(code));
    else
        snprintf(err, errlen, "GET %s: %d %.80s", path, r->status, r->body ? r->body : "");
    json_object_put(j);
}

/*
 * GET path, waiting out the server's rate limit: a 429 (the /proof routes
 * allow a few dozen requests a second per address, and a replay pages
 * through thousands) or a 503 is retried after a pause that grows from
 * 100 ms to 2 s, for about a minute in all. 0 with *r filled, or -1.
 */
static int get_paced(const char *url, const char *path, struct vhttp_resp *r, char *err,
                     size_t errlen)
{
    long pause_ms = 100, waited_ms = 0;

    for (;;) {
        if (vhttp_get(url, path, r, err, errlen) < 0)
            return -1;
        if ((r->status != 429 && r->status != 503) || waited_ms >= 60000)
            return 0;
        vhttp_free(r);
        struct timespec nap = { pause_ms / 1000, (pause_ms % 1000) * 1000000L };
        nanosleep(&nap, NULL);
        waited_ms += pause_ms;
        pause_ms = pause_ms * 2 > 2000 ? 2000 : pause_ms * 2;
    }
}

json_object *vsource_get_json(const char *url, const char *path, char *err, size_t errlen)
{
    struct vhttp_resp r;
    if (get_paced(url, path, &r, err, errlen) < 0)
        return NULL;
    json_object *j = NULL;
    if (r.status != 200)
        describe(&r, path, err, errlen);
    else if (!(j = json_tokener_parse(r.body)) || !json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        j = NULL;
        fail(err, errlen, "GET %s: the answer is not a JSON object", path);
    }
    vhttp_free(&r);
    return j;
}

int vsource_open_bundle(struct vsource *s, const char *path, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->bundle = json_object_from_file(path);
    json_object *f;
    if (!s->bundle || !json_object_is_type(s->bundle, json_type_object)
        || !json_object_object_get_ex(s->bundle, "format", &f)
        || strcmp(json_object_get_string(f), "zerosum-proof-bundle/v1") != 0) {
        json_object_put(s->bundle);
        s->bundle = NULL;
        return fail(err, errlen, "%s is not a zerosum-proof-bundle/v1 JSON file", path);
    }
    return 0;
}

void vsource_close(struct vsource *s)
{
    json_object_put(s->bundle);
    s->bundle = NULL;
}

/* A string member of o, or NULL. */
static const char *str_of(json_object *o, const char *name)
{
    json_object *v;
    return o && json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string)
        ? json_object_get_string(v)
        : NULL;
}

int vsource_vkey(struct vsource *s, char **vkey, char *err, size_t errlen)
{
    json_object *k = NULL;
    if (s->bundle)
        json_object_object_get_ex(s->bundle, "key", &k);
    else if (!(k = vsource_get_json(s->url, "/proof/key", err, errlen)))
        return -1;
    const char *v = str_of(k, "vkey");
    *vkey = v ? strdup(v) : NULL;
    if (!s->bundle)
        json_object_put(k);
    return *vkey ? 0 : fail(err, errlen, "the key has no vkey");
}

int vsource_checkpoint(struct vsource *s, unsigned long long size, char **note, size_t *len,
                       char *err, size_t errlen)
{
    if (s->bundle) {
        const char *c = str_of(s->bundle, "checkpoint");
        if (!c)
            return fail(err, errlen, "the bundle has no checkpoint");
        *note = strdup(c);
        *len = strlen(c);
        return *note ? 0 : -1;
    }
    struct vhttp_resp r;
    char path[64] = "/proof/checkpoint";
    if (size)
        snprintf(path, sizeof path, "/proof/checkpoint?size=%llu", size);
    if (get_paced(s->url, path, &r, err, errlen) < 0)
        return -1;
    if (r.status != 200) {
        describe(&r, path, err, errlen);
        vhttp_free(&r);
        return -1;
    }
    *note = r.body;
    *len = r.len;
    return 0;
}

/* Feed the records array of one page or of the bundle; *next advances. */
static int feed(json_object *recs, uint64_t size, uint64_t *next, vsource_record_fn fn, void *ctx,
                char *err, size_t errlen)
{
    size_t n = json_object_array_length(recs);
    for (size_t i = 0; i < n && *next < size; i++) {
        json_object *o = json_object_array_get_idx(recs, i), *ix;
        const char *text = str_of(o, "record");
        if (!text || !json_object_object_get_ex(o, "index", &ix)
            || (uint64_t)json_object_get_int64(ix) != *next)
            return fail(err, errlen, "record %llu is missing or out of order",
                        (unsigned long long)*next);
        int rc = fn(ctx, *next, text,
                    (size_t)json_object_get_string_len(json_object_object_get(o, "record")));
        if (rc)
            return rc;
        (*next)++;
    }
    return 0;
}

int vsource_records(struct vsource *s, uint64_t size, vsource_record_fn fn, void *ctx, char *err,
                    size_t errlen)
{
    uint64_t next = 0;
    if (s->bundle) {
        json_object *recs;
        if (!json_object_object_get_ex(s->bundle, "records", &recs)
            || !json_object_is_type(recs, json_type_array))
            return fail(err, errlen, "the bundle has no records");
        int rc = feed(recs, size, &next, fn, ctx, err, errlen);
        if (rc)
            return rc;
    }
    while (!s->bundle && next < size) {
        char path[96];
        uint64_t want = size - next < PAGE ? size - next : PAGE;
        snprintf(path, sizeof path, "/proof/records?from=%llu&limit=%llu", (unsigned long long)next,
                 (unsigned long long)want);
        json_object *page = vsource_get_json(s->url, path, err, errlen), *recs;
        if (!page)
            return -1;
        uint64_t before = next;
        int rc = json_object_object_get_ex(page, "records", &recs)
                && json_object_is_type(recs, json_type_array)
            ? feed(recs, size, &next, fn, ctx, err, errlen)
            : fail(err, errlen, "GET %s: no records array", path);
        json_object_put(page);
        if (rc)
            return rc;
        if (next == before)
            break;
    }
    if (next < size)
        return fail(err, errlen, "the source has %llu records, the checkpoint %llu",
                    (unsigned long long)next, (unsigned long long)size);
    return 0;
}

/* The bundle's array member name's element whose members match (key, value) pairs. */
static json_object *bundle_find(json_object *b, const char *name, const char *k1, const char *v1,
                                const char *k2, const char *v2)
{
    json_object *arr;
    if (!json_object_object_get_ex(b, name, &arr) || !json_object_is_type(arr, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *o = json_object_array_get_idx(arr, i), *a, *c;
        if (json_object_object_get_ex(o, k1, &a) && json_object_object_get_ex(o, k2, &c)
            && strcmp(json_object_get_string(a), v1) == 0
            && strcmp(json_object_get_string(c), v2) == 0)
            return o;
    }
    return NULL;
}

json_object *vsource_inclusion(struct vsource *s, const char *kind, const char *id, uint64_t size,
                               char *err, size_t errlen)
{
    if (s->bundle) {
        json_object *o = bundle_find(s->bundle, "inclusions", "kind", kind, "id", id), *p;
        err[0] = 0;
        return o && json_object_object_get_ex(o, "proof", &p) ? json_object_get(p) : NULL;
    }
    char path[200];
    snprintf(path, sizeof path, "/proof/inclusion?%s=%s&size=%llu", kind, id,
             (unsigned long long)size);
    return vsource_get_json(s->url, path, err, errlen);
}

json_object *vsource_consistency(struct vsource *s, uint64_t from, uint64_t to, char *err,
                                 size_t errlen)
{
    char f[24], t[24];
    snprintf(f, sizeof f, "%llu", (unsigned long long)from);
    snprintf(t, sizeof t, "%llu", (unsigned long long)to);
    if (s->bundle) {
        err[0] = 0;
        return json_object_get(bundle_find(s->bundle, "consistency", "from", f, "to", t));
    }
    char path[96];
    snprintf(path, sizeof path, "/proof/consistency?from=%s&to=%s", f, t);
    return vsource_get_json(s->url, path, err, errlen);
}
