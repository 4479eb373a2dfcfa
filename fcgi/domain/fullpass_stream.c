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

int fullpass_copy_fields(const char *row, size_t len, const char *types, struct fullpass_field *f,
                         int max)
{
    static const char sig[11] = "PGCOPY\n\377\r\n";
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
        f[i].b = r;
        f[i].len = (int)flen;
        if (flen == -1)
            continue;
        if (flen < 0 || flen > end - r)
            return -1;
        switch (types[i]) {
        case 'u':
            if (flen != 16)
                return -1;
            break;
        case '8':
        case '4':
        case '2':
            if (flen != types[i] - '0')
                return -1;
            break;
        case 'T':
            if (flen != 8)
                return -1;
            break;
        case 'x':
        case 't':
            break;
        default:
            return -1;
        }
        r += flen;
    }
    return r == end ? n : -1;
}

int64_t fullpass_field_int(const struct fullpass_field *f, char type)
{
    return fullpass_be_int(f->b, f->len) + (type == 'T' ? PG_EPOCH_US : 0);
}

char *fullpass_field_text(const struct fullpass_field *f, char type, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *r = f->b;

    switch (type) {
    case 'u': /* uuid: 8-4-4-4-12 lowercase hex */
        for (int b = 0; b < 16; b++) {
            if (b == 4 || b == 6 || b == 8 || b == 10)
                *out++ = '-';
            *out++ = hex[r[b] >> 4];
            *out++ = hex[r[b] & 15];
        }
        *out = '\0';
        return out;
    case '8':
    case '4':
    case '2':
    case 'T': /* timestamptz: microseconds since 1970, as extract(epoch) * 1e6 reads */
        return decimal(out, fullpass_field_int(f, type));
    case 'x': /* bytea: lowercase hex, no "\x" */
        for (int b = 0; b < f->len; b++) {
            *out++ = hex[r[b] >> 4];
            *out++ = hex[r[b] & 15];
        }
        *out = '\0';
        return out;
    default: /* text: as is (a NUL inside cannot be: PostgreSQL text has none) */
        memcpy(out, r, (size_t)f->len);
        out[f->len] = '\0';
        return out + f->len;
    }
}

int fullpass_copy_binary(const char *row, size_t len, const char *types, const char **f, int max,
                         char *out)
{
    struct fullpass_field raw[MAX_FIELDS];
    int n = fullpass_copy_fields(row, len, types, raw, max < MAX_FIELDS ? max : MAX_FIELDS);

    for (int i = 0; i < n; i++) {
        if (raw[i].len < 0) {
            f[i] = NULL;
            continue;
        }
        f[i] = out;
        out = fullpass_field_text(&raw[i], types[i], out) + 1;
    }
    return n;
}

/* After a row: count it, yield after a chunk. 0, or -1 (stop). */
static int row_counted(struct fullpass *p)
{
    p->rows++;
    if (++p->since >= p->cfg->full_audit_chunk_rows && chunk_done(p) < 0)
        return -1;
    return 0;
}

/* The rows' consumer: text fields (fn), or a binary COPY's raw ones (raw). */
struct consumer {
    fullpass_row_fn fn;
    fullpass_raw_fn raw;
    void *ctx;
};

/* Grow *out to need bytes. 0, or -1 (p->err set). */
static int room(struct fullpass *p, char **out, size_t *cap, size_t need)
{
    char *o;

    if (need <= *cap)
        return 0;
    if (!(o = realloc(*out, need))) {
        snprintf(p->err, sizeof(p->err), "out of memory");
        return -1;
    }
    *out = o;
    *cap = need;
    return 0;
}

/* One COPY message handed on as c wants it. 0, or -1 (stop, p->err set). */
static int copy_row(struct fullpass *p, enum sql_id id, int binary, const char *types,
                    const struct consumer *c, char *buf, int n, char **out, size_t *cap)
{
    const char *f[MAX_FIELDS];
    struct fullpass_field raw[MAX_FIELDS];
    int nf;

    if (c->raw) {
        nf = fullpass_copy_fields(buf, (size_t)n, types, raw, MAX_FIELDS);
    } else if (binary) {
        /* the text of a field is at most 2.25 x its bytes + a NUL (uuid) or 21 + 1 (integers) */
        if (room(p, out, cap, 3 * (size_t)n + 24 * MAX_FIELDS) < 0)
            return -1;
        nf = fullpass_copy_binary(buf, (size_t)n, types, f, MAX_FIELDS, *out);
    } else {
        nf = fullpass_copy_split(buf, (size_t)n, f, MAX_FIELDS);
    }
    if (nf < 0) {
        snprintf(p->err, sizeof(p->err), "%s: a malformed row", sql_name(id));
        return -1;
    }
    if (nf == 0)
        return 0;
    if ((c->raw ? c->raw(p, raw, nf, c->ctx) : c->fn(p, f, nf, c->ctx)) < 0)
        return -1;
    return row_counted(p);
}

/* The COPY rows of a COPY TO STDOUT, text or (binary) by types; then its
 * final result. 0, or -1. */
static int copy_rows(struct fullpass *p, enum sql_id id, int binary, const char *types,
                     const struct consumer *c)
{
    char *buf, *out = NULL;
    size_t cap = 0;
    int n, failed = 0, cancelled = 0;

    if ((binary && !types) || (c->raw && !binary)) {
        snprintf(p->err, sizeof(p->err), "%s: %s", sql_name(id),
                 binary ? "binary COPY without column types" : "not a binary COPY");
        failed = 1;
    }
    while ((n = PQgetCopyData(p->snap, &buf, 0)) > 0) {
        if (!failed && copy_row(p, id, binary, types, c, buf, n, &out, &cap) < 0)
            failed = 1;
        PQfreemem(buf);
        if (failed && !cancelled) {
            /* the rest would only be read and dropped: ask the server to stop */
            PGcancel *pc = PQgetCancel(p->snap);
            char e[128];
            if (pc)
                PQcancel(pc, e, sizeof(e));
            PQfreeCancel(pc);
            cancelled = 1;
        }
    }
    free(out);
    if (n == -2 && !p->err[0])
        snprintf(p->err, sizeof(p->err), "%s: %s", sql_name(id), PQerrorMessage(p->snap));
    return failed || n == -2 ? -1 : 0;
}

static int stream(struct fullpass *p, enum sql_id id, const char *types, const char *const *v,
                  const struct consumer *c)
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
            if (copy_rows(p, id, PQbinaryTuples(res), types, c) < 0)
                failed = 1;
        } else if (st == PGRES_SINGLE_TUPLE) {
            int nf = PQnfields(res) < MAX_FIELDS ? PQnfields(res) : MAX_FIELDS;
            for (int i = 0; i < nf; i++)
                f[i] = PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
            if (!failed && c->raw) {
                snprintf(p->err, sizeof(p->err), "%s: not a binary COPY", sql_name(id));
                failed = 1;
            }
            if (!failed && (c->fn(p, f, nf, c->ctx) < 0 || row_counted(p) < 0))
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

int fullpass_stream(struct fullpass *p, enum sql_id id, const char *types, const char *const *v,
                    fullpass_row_fn fn, void *ctx)
{
    const struct consumer c = { fn, NULL, ctx };

    return stream(p, id, types, v, &c);
}

int fullpass_stream_raw(struct fullpass *p, enum sql_id id, const char *types, const char *const *v,
                        fullpass_raw_fn fn, void *ctx)
{
    const struct consumer c = { NULL, fn, ctx };

    return stream(p, id, types, v, &c);
}
