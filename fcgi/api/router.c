/*
 * router.c — segment-wise path matching with {captures}.
 */
#include "api/router.h"

#include <stdio.h>
#include <string.h>

/* Match one pattern against path; fill captures on success. */
static int match(const char *pattern, const char *path, struct request *r)
{
    const char *p = pattern, *s = path;
    int ncap = 0;

    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *pend = strchr(p, '/');
        const char *send = strchr(s, '/');
        size_t plen = pend ? (size_t)(pend - p) : strlen(p);
        size_t slen = send ? (size_t)(send - s) : strlen(s);

        if (plen > 1 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || slen >= sizeof(r->path_params[0]) || ncap == HTTP_MAX_PATH_PARAMS)
                return 0;
            memcpy(r->path_params[ncap], s, slen);
            r->path_params[ncap][slen] = '\0';
            ncap++;
        } else if (plen != slen || strncmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
    }
    if (*p || *s)
        return 0;
    r->npath_params = ncap;
    return 1;
}

/* Append method to the ", "-separated list in allow unless it is there. */
static void allow_add(char *allow, size_t allowlen, size_t *used, const char *method)
{
    size_t ml = strlen(method);

    for (const char *p = allow; *p;) {
        size_t l = strcspn(p, ",");
        if (l == ml && strncmp(p, method, ml) == 0)
            return;
        p += l;
        while (*p == ',' || *p == ' ')
            p++;
    }
    {
        int w = snprintf(allow + *used, allowlen - *used, "%s%s", *used ? ", " : "", method);
        if (w > 0 && *used + (size_t)w < allowlen)
            *used += (size_t)w;
        else
            allow[*used] = '\0'; /* drop a truncated ", MET" tail */
    }
}

/* First path segment, for metrics on unmatched paths. */
static int same_first_segment(const char *pattern, const char *path)
{
    size_t pl = strcspn(pattern + 1, "/"), sl = strcspn(path + 1, "/");

    return pl == sl && strncmp(pattern + 1, path + 1, pl) == 0;
}

enum router_result router_match(const struct route *table, size_t n, struct request *r,
                                const struct route **out, char *allow, size_t allowlen)
{
    int path_matched = 0;
    size_t used = 0;

    allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!match(table[i].pattern, r->path, r)) {
            if (same_first_segment(table[i].pattern, r->path))
                r->endpoint = table[i].endpoint;
            continue;
        }
        r->endpoint = table[i].endpoint;
        if (strcmp(table[i].method, r->method) == 0
            || (strcmp(r->method, "HEAD") == 0 && strcmp(table[i].method, "GET") == 0)) {
            *out = &table[i];
            return ROUTE_FOUND;
        }
        allow_add(allow, allowlen, &used, table[i].method);
        if (strcmp(table[i].method, "GET") == 0)
            allow_add(allow, allowlen, &used, "HEAD");
        path_matched = 1;
    }
    return path_matched ? ROUTE_BAD_METHOD : ROUTE_NOT_FOUND;
}
