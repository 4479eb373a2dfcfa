/*
 * sql_inline.c — a statement's $n parameters written in as quoted literals,
 * for a round sent as one simple-protocol Query (see sql.h, sql_inline()).
 *
 * The text is scanned as PostgreSQL's lexer would split it, so that only a
 * real placeholder is replaced: `$` and digits outside string literals
 * ('…', E'…' with backslash escapes), quoted identifiers ("…"), dollar
 * quotes ($tag$…$tag$), comments (-- to the line's end, and nested block
 * comments), and not part
 * of an identifier (`a$1` is a name). Every value is quoted by the caller's
 * quote function: libpq's PQescapeLiteral on a connection, which knows its
 * encoding and standard_conforming_strings.
 */
#include "store/sql.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t len, cap;
};

static int put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        while (b->len + n + 1 > cap)
            cap *= 2;
        if (!(p = realloc(b->p, cap)))
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

/* The length of the dollar-quote tag at s ("$$", "$tag$"), or 0 if none starts there. */
static size_t dollar_tag(const char *s)
{
    size_t i = 1;

    if (s[0] != '$')
        return 0;
    if (isdigit((unsigned char)s[1]))
        return 0; /* a placeholder */
    while (s[i] && s[i] != '$' && (isalnum((unsigned char)s[i]) || s[i] == '_'))
        i++;
    return s[i] == '$' ? i + 1 : 0;
}

/* The length of the quoted run ('…', "…", E'…') starting at s[0] (the quote). */
static size_t quoted(const char *s, int backslash)
{
    char q = s[0];
    size_t i = 1;

    for (; s[i]; i++) {
        if (backslash && s[i] == '\\' && s[i + 1]) {
            i++;
        } else if (s[i] == q) {
            if (s[i + 1] != q)
                return i + 1;
            i++; /* a doubled quote stands for itself */
        }
    }
    return i;
}

/* The length of the comment starting at s ("--" to the line's end, or a nested block). */
static size_t comment(const char *s)
{
    size_t i = 2;
    int depth = 1;

    if (s[0] == '-')
        return strcspn(s, "\n");
    while (s[i] && depth > 0) {
        if (s[i] == '/' && s[i + 1] == '*') {
            depth++;
            i += 2;
        } else if (s[i] == '*' && s[i + 1] == '/') {
            depth--;
            i += 2;
        } else {
            i++;
        }
    }
    return i;
}

/* The length of the token at sql + i that is copied as it is (0: none starts there). */
static size_t verbatim(const char *sql, size_t i)
{
    const char *s = sql + i;
    int prev_ident = i > 0 && ident_char(sql[i - 1]);
    size_t n;

    if (s[0] == '\'')
        return quoted(s, 0);
    if ((s[0] == 'E' || s[0] == 'e') && s[1] == '\'' && !prev_ident)
        return 1 + quoted(s + 1, 1);
    if (s[0] == '"')
        return quoted(s, 0);
    if ((s[0] == '-' && s[1] == '-') || (s[0] == '/' && s[1] == '*'))
        return comment(s);
    if (s[0] == '$' && !prev_ident && (n = dollar_tag(s)) > 0) {
        /* the same tag closes it */
        for (const char *end = s + n; (end = strchr(end, '$')) != NULL; end++)
            if (strncmp(end, s, n) == 0)
                return (size_t)(end - s) + n;
        return strlen(s);
    }
    if (ident_char(s[0]) && s[0] != '$') {
        n = 1;
        while (ident_char(s[n]))
            n++; /* a name (or number), with any `$` it holds */
        return n;
    }
    return 0;
}

char *sql_inline(const char *sql, int nparams, const char *const *values,
                 char *(*quote)(void *arg, const char *value), void *arg)
{
    struct buf b = { NULL, 0, 0 };
    size_t i = 0;

    if (put(&b, "", 0) < 0)
        return NULL;
    while (sql[i]) {
        size_t n = verbatim(sql, i);
        char *end;
        long k;

        if (n > 0) {
            if (put(&b, sql + i, n) < 0)
                goto fail;
            i += n;
            continue;
        }
        if (sql[i] == '$' && isdigit((unsigned char)sql[i + 1])) {
            k = strtol(sql + i + 1, &end, 10);
            if (k < 1 || k > nparams)
                goto fail; /* a placeholder the statement has no value for */
            if (!values || !values[k - 1]) {
                if (put(&b, "NULL", 4) < 0)
                    goto fail;
            } else {
                char *lit = quote(arg, values[k - 1]);
                int rc = lit ? put(&b, lit, strlen(lit)) : -1;

                free(lit);
                if (rc < 0)
                    goto fail;
            }
            i = (size_t)(end - sql);
            continue;
        }
        if (put(&b, sql + i, 1) < 0)
            goto fail;
        i++;
    }
    return b.p;
fail:
    free(b.p);
    return NULL;
}
