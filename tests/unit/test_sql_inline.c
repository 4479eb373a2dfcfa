/*
 * test_sql_inline.c — a statement's $n written in as literals for a
 * simple-protocol round (fcgi/store/sql_inline.c): only real placeholders
 * are replaced, never one inside a string, a quoted name, a dollar quote,
 * a comment or a name; NULL values are NULL; a placeholder beyond the
 * statement's parameters is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sql.h"
#include "tap.h"

/* What PQescapeLiteral does under standard_conforming_strings: '…' with ' doubled. */
static char *quote(void *arg, const char *v)
{
    size_t n = strlen(v);
    char *out = malloc(2 * n + 3), *p = out;

    (void)arg;
    if (!out)
        return NULL;
    *p++ = '\'';
    for (; *v; v++) {
        if (*v == '\'')
            *p++ = '\'';
        *p++ = *v;
    }
    *p++ = '\'';
    *p = '\0';
    return out;
}

static void check(const char *sql, int n, const char *const *values, const char *want,
                  const char *name)
{
    char *got = sql_inline(sql, n, values, quote, NULL);

    if (want)
        is_str(got ? got : "(null)", want, name);
    else
        ok(got == NULL, name);
    free(got);
}

int main(void)
{
    const char *v2[] = { "abc", "42" };
    const char *v1[] = { "it's" };
    const char *vnull[] = { NULL, "7" };
    const char *v12[] = { "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12" };

    check("SELECT $1::uuid, $2::int", 2, v2, "SELECT 'abc'::uuid, '42'::int", "placeholders");
    check("SELECT $1", 1, v1, "SELECT 'it''s'", "a quote in a value is doubled");
    check("SELECT $1, $2", 2, vnull, "SELECT NULL, '7'", "a NULL value is NULL");
    check("SELECT $1, $2", 2, NULL, "SELECT NULL, NULL", "no values: every one NULL");
    check("SELECT $10 + $1, $12", 12, v12, "SELECT '10' + '1', '12'", "two-digit placeholders");
    check("SELECT '$1', \"$2\", $1", 2, v2, "SELECT '$1', \"$2\", 'abc'",
          "not in a string or a quoted name");
    check("SELECT 'a''$1', $2", 2, v2, "SELECT 'a''$1', '42'",
          "a doubled quote stays in the string");
    check("SELECT E'x\\'$1', $2", 2, v2, "SELECT E'x\\'$1', '42'",
          "an E'' string with a backslash-escaped quote");
    check("SELECT 1 -- $1\n, $2", 2, v2, "SELECT 1 -- $1\n, '42'", "not in a line comment");
    check("SELECT /* a /* $1 */ $1 */ $2", 2, v2, "SELECT /* a /* $1 */ $1 */ '42'",
          "not in a nested block comment");
    check("SELECT $$ $1 $$, $q$ $2 $q$, $1", 2, v2, "SELECT $$ $1 $$, $q$ $2 $q$, 'abc'",
          "not in dollar quotes");
    check("SELECT a$1, $2", 2, v2, "SELECT a$1, '42'", "not part of a name");
    check("SELECT $3", 2, v2, NULL, "a placeholder beyond nparams is refused");
    check("SELECT $0", 2, v2, NULL, "$0 is refused");
    check("SELECT 'unterminated $1", 1, v1, "SELECT 'unterminated $1",
          "an unterminated string is copied as it is");
    check("", 0, NULL, "", "an empty text");
    return done_testing();
}
