/*
 * fullpass_stream.c — reading a big statement's rows on the pass's snapshot
 * connection (see fullpass_pass.h): a statement whose text is a COPY (...)
 * TO STDOUT (the postgres variants of the record streams) arrives as COPY
 * text rows, parsed in place; any other statement (the dsql variants, which
 * has no COPY) arrives in single-row mode. Either way each row reaches the
 * caller as an array of field pointers (NULL = SQL NULL), with the pass's
 * yields and progress reports between chunks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/fullpass_pass.h"
#include "util.h"

#define MAX_FIELDS 40

/* Pause between chunks; report progress. 0, or -1 (lease lost, p->err set). */
static int chunk_done(struct fullpass *p)
{
    struct timespec nap = { p->cfg->full_audit_yield_ms / 1000,
                            (long)(p->cfg->full_audit_yield_ms % 1000) * 1000000L };

    p->since = 0;
    if (p->cfg->full_audit_yield_ms > 0)
        nanosleep(&nap, NULL);
    return fullpass_report(p, 0);
}

static int octal(char c)
{
    return c >= '0' && c <= '7';
}

/*
 * Split one COPY text row (len bytes, its newline included or not) into
 * fields, in place: tabs end fields, "\N" alone is NULL, and the escapes
 * PostgreSQL writes (\b \f \n \r \t \v \\, octal \ooo and hex \xhh) are
 * decoded. The number of fields, or -1 when there are too many.
 */
int fullpass_copy_split(char *row, size_t len, const char **f, int max)
{
    char *r = row, *end = row + len, *w;
    int n = 0;

    if (len > 0 && end[-1] == '\n')
        end--;
    for (;;) {
        char *start = w = r;
        if (n == max)
            return -1;
        /* "\N" as a whole field is NULL (a data backslash is written "\\") */
        if (end - r >= 2 && r[0] == '\\' && r[1] == 'N' && (end - r == 2 || r[2] == '\t')) {
            f[n++] = NULL;
            r += 2;
            if (r >= end)
                return n;
            r++;
            continue;
        }
        /* Most fields hold no escape: find the tab and end the field in place. */
        {
            char *tab = memchr(r, '\t', (size_t)(end - r)), *fe = tab ? tab : end;
            if (!memchr(r, '\\', (size_t)(fe - r))) {
                f[n++] = start;
                *fe = '\0'; /* the tab, or the newline (or, without one, the byte past the row) */
                if (!tab)
                    return n;
                r = tab + 1;
                continue;
            }
        }
        while (r < end && *r != '\t') {
            if (*r != '\\' || r + 1 >= end) {
                *w++ = *r++;
                continue;
            }
            r++;
            switch (*r) {
            case 'b':
                *w++ = '\b';
                r++;
                break;
            case 'f':
                *w++ = '\f';
                r++;
                break;
            case 'n':
                *w++ = '\n';
                r++;
                break;
            case 'r':
                *w++ = '\r';
                r++;
                break;
            case 't':
                *w++ = '\t';
                r++;
                break;
            case 'v':
                *w++ = '\v';
                r++;
                break;
            case 'x':
                if (r + 1 < end && util_hexval(r[1]) >= 0) {
                    int v = util_hexval(*++r);
                    if (r + 1 < end && util_hexval(r[1]) >= 0)
                        v = v * 16 + util_hexval(*++r);
                    *w++ = (char)v;
                    r++;
                } else {
                    *w++ = *r++;
                }
                break;
            default:
                if (octal(*r)) {
                    int v = 0;
                    for (int i = 0; i < 3 && r < end && octal(*r); i++)
                        v = v * 8 + (*r++ - '0');
                    *w++ = (char)v;
                } else {
                    *w++ = *r++; /* \\ and any other character: itself */
                }
            }
        }
        f[n++] = start;
        if (r >= end) {
            *w = '\0';
            return n;
        }
        *w = '\0'; /* w <= r: the tab's place at the latest */
        r++;
    }
}

int64_t fullpass_be_int(const unsigned char *b, int len)
{
    uint64_t v = 0;

    for (int i = 0; i < len; i++)
        v = v << 8 | b[i];
    return len == 2 ? (int16_t)v : len == 4 ? (int32_t)v : (int64_t)v;
}

/* Write v in decimal at w; the end (its NUL's place). */
static char *decimal(char *w, int64_t v)
{
    char t[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do
        t[n++] = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    if (v < 0)
        *w++ = '-';
    while (n > 0)
        *w++ = t[--n];
    *w = '\0';
    return w;
}

#define PG_EPOCH_US 946684800000000LL /* 2000-01-01, PostgreSQL's epoch, after 1970's */

int fullpass_copy_binary(const char *row, size_t len, const char *types, const char **f, int max,
                         char *out)
{
    static const char sig[11] = "PGCOPY\n\377\r\n";
    static const char hex[] = "0123456789abcdef";
    const unsigned char *r = (const unsigned char *)row, *end = r + len;
    int n, nt = (int)strlen(types);

    if (len >= 19 && memcmp(r, sig, 11) == 0) { /* the header, before the first row */
        int64_t ext = fullpass_be_int(r + 15, 4);
        if (ext < 0 || (uint64_t)ext > len - 19)
            return -1;
        r += 19 + ext;
        if (r == end)
            return 0;
    }
    if (end - r < 2)
        return -1;
    n = (int)fullpass_be_int(r, 2);
    r += 2;
    if (n == -1) /* the trailer */
        return r == end ? 0 : -1;
    if (n != nt || n > max)
        return -1;
    for (int i = 0; i < n; i++) {
        int64_t flen;
        if (end - r < 4)
            return -1;
        flen = fullpass_be_int(r, 4);
        r += 4;
        if (flen == -1) {
            f[i] = NULL;
            continue;
        }
        if (flen < 0 || flen > end - r)
            return -1;
        f[i] = out;
        switch (types[i]) {
        case 'u': /* uuid: 8-4-4-4-12 lowercase hex */
            if (flen != 16)
                return -1;
            for (int b = 0; b < 16; b++) {
                if (b == 4 || b == 6 || b == 8 || b == 10)
                    *out++ = '-';
                *out++ = hex[r[b] >> 4];
                *out++ = hex[r[b] & 15];
            }
            *out++ = '\0';
            break;
        case '8':
        case '4':
        case '2':
            if (flen != types[i] - '0')
                return -1;
            out = decimal(out, fullpass_be_int(r, (int)flen)) + 1;
            break;
        case 'T': /* timestamptz: microseconds since 1970, as extract(epoch) * 1e6 reads */
            if (flen != 8)
                return -1;
            out = decimal(out, fullpass_be_int(r, 8) + PG_EPOCH_US) + 1;
            break;
        case 'x': /* bytea: lowercase hex, no "\x" */
            for (int64_t b = 0; b < flen; b++) {
                *out++ = hex[r[b] >> 4];
                *out++ = hex[r[b] & 15];
            }
            *out++ = '\0';
            break;
        case 't': /* text: as is (a NUL inside cannot be: PostgreSQL text has none) */
            memcpy(out, r, (size_t)flen);
            out += flen;
            *out++ = '\0';
            break;
        default:
            return -1;
        }
        r += flen;
    }
    return r == end ? n : -1;
}

/* One row: count it, hand it on, yield after a chunk. 0, or -1 (stop). */
static int row_done(struct fullpass *p, const char *const *f, int nf, fullpass_row_fn fn, void *ctx)
{
    p->rows++;
    if (fn(p, f, nf, ctx) < 0)
        return -1;
    if (++p->since >= p->cfg->full_audit_chunk_rows && chunk_done(p) < 0)
        return -1;
    return 0;
}

/* The COPY rows of a COPY TO STDOUT, text or (binary) decoded by types;
 * then its final result. 0, or -1. */
static int copy_rows(struct fullpass *p, enum sql_id id, int binary, const char *types,
                     fullpass_row_fn fn, void *ctx)
{
    const char *f[MAX_FIELDS];
    char *buf, *out = NULL;
    size_t cap = 0;
    int n, failed = 0, cancelled = 0;

    if (binary && !types) {
        snprintf(p->err, sizeof(p->err), "%s: binary COPY without column types", sql_name(id));
        failed = 1;
    }
    while ((n = PQgetCopyData(p->snap, &buf, 0)) > 0) {
        int nf = 0;
        if (!failed && binary) {
            /* the text of a field is at most 2.25 x its bytes + a NUL (uuid) or 21 + 1 (integers) */
            size_t need = 3 * (size_t)n + 24 * MAX_FIELDS;
            if (need > cap) {
                char *o = realloc(out, need);
                if (!o) {
                    snprintf(p->err, sizeof(p->err), "out of memory");
                    failed = 1;
                } else {
                    out = o;
                    cap = need;
                }
            }
            if (!failed)
                nf = fullpass_copy_binary(buf, (size_t)n, types, f, MAX_FIELDS, out);
        } else if (!failed) {
            nf = fullpass_copy_split(buf, (size_t)n, f, MAX_FIELDS);
        }
        if (!failed && nf < 0) {
            snprintf(p->err, sizeof(p->err), "%s: a malformed row", sql_name(id));
            failed = 1;
        }
        if (!failed && nf > 0 && row_done(p, f, nf, fn, ctx) < 0)
            failed = 1;
        PQfreemem(buf);
        if (failed && !cancelled) {
            /* the rest would only be read and dropped: ask the server to stop */
            PGcancel *c = PQgetCancel(p->snap);
            char e[128];
            if (c)
                PQcancel(c, e, sizeof(e));
            PQfreeCancel(c);
            cancelled = 1;
        }
    }
    free(out);
    if (n == -2 && !p->err[0])
        snprintf(p->err, sizeof(p->err), "%s: %s", sql_name(id), PQerrorMessage(p->snap));
    return failed || n == -2 ? -1 : 0;
}

int fullpass_stream(struct fullpass *p, enum sql_id id, const char *types, const char *const *v,
                    fullpass_row_fn fn, void *ctx)
{
    const char *f[MAX_FIELDS];
    PGresult *res;
    int failed = 0;

    if (!PQsendQueryParams(p->snap, sql_text(id, p->cfg->dialect), sql_table[id].nparams, NULL, v,
                           NULL, NULL, 0)
        || !PQsetSingleRowMode(p->snap)) {
        snprintf(p->err, sizeof(p->err), "%s: %s", sql_name(id), PQerrorMessage(p->snap));
        return -1;
    }
    /* Read to the end even after a failure: the connection stays usable. */
    while ((res = PQgetResult(p->snap)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COPY_OUT) {
            if (copy_rows(p, id, PQbinaryTuples(res), types, fn, ctx) < 0)
                failed = 1;
        } else if (st == PGRES_SINGLE_TUPLE) {
            int nf = PQnfields(res) < MAX_FIELDS ? PQnfields(res) : MAX_FIELDS;
            for (int i = 0; i < nf; i++)
                f[i] = PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
            if (!failed && row_done(p, f, nf, fn, ctx) < 0)
                failed = 1;
        } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            if (!p->err[0]) {
                const char *m = PQresultErrorMessage(res);
                snprintf(p->err, sizeof(p->err), "%s: %.*s", sql_name(id), (int)strcspn(m, "\n"),
                         m);
            }
            failed = 1;
        }
        PQclear(res);
    }
    return failed ? -1 : 0;
}
