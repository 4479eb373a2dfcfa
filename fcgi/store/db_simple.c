/*
 * db_simple.c — a round trip as ONE simple-protocol Query, for connections
 * without prepared statements on the postgres dialect (per-request, through
 * PgBouncer; the jobs child's under per-request): see db_int.h.
 *
 * An unnamed extended-protocol statement makes the server parse, analyse
 * and plan it, and also copy it into a one-use plan cache entry for every
 * Parse/Bind pair; on this machine that cost a drop claim's backend about
 * 40% more CPU than the same statements sent as pgbench -M simple does.
 * So the round's statements (BEGIN, the preamble, the statements, COMMIT)
 * are joined into one Query with their parameters written in as literals
 * (sql_inline(), quoted by libpq's PQescapeLiteral for this connection:
 * its encoding and standard_conforming_strings). The server runs them one
 * after another, exactly as the pipeline would: each gets its own result,
 * the first error ends the round (the rest never run) and the transaction
 * is then aborted, and statement_timeout applies to each statement
 * (PostgreSQL 13 and later). Round trips are the same as the pipeline's.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/db_int.h"
#include "store/sql.h"

/* The round being built: reused by every round of the process (a round is
 * built and handed to libpq before the next one starts). */
static struct {
    char *p;
    size_t len, cap;
} round_text;

static char *quote_literal(void *arg, const char *value)
{
    char *q = PQescapeLiteral(arg, value, strlen(value)), *out = q ? strdup(q) : NULL;

    PQfreemem(q);
    return out;
}

int db_round_add(struct tx *tx, const char *text, int nparams, const char *const *values)
{
    char *sql = sql_inline(text, nparams, values, quote_literal, tx->conn);
    size_t n = sql ? strlen(sql) : 0;

    if (!sql) {
        log_error("request %s: a statement could not be written out for its round", tx->s->id);
        return -1;
    }
    if (round_text.len + n + 4 > round_text.cap) {
        size_t cap = round_text.cap ? round_text.cap : 4096;
        char *p;

        while (round_text.len + n + 4 > cap)
            cap *= 2;
        if (!(p = realloc(round_text.p, cap))) {
            free(sql);
            return -1;
        }
        round_text.p = p;
        round_text.cap = cap;
    }
    /* a newline first: a statement's text may end in a line comment */
    memcpy(round_text.p + round_text.len, sql, n);
    memcpy(round_text.p + round_text.len + n, "\n;\n", 4);
    round_text.len += n + 3;
    free(sql);
    return 0;
}

int db_round_exec(struct tx *tx, struct tx_stmt *s, int n, const struct slot *slots, int sent,
                  int ns)
{
    PGconn *c = tx->conn;
    PGresult *res;
    int k;

    if (sent == 0 && ns == 0)
        return 0; /* nothing to send */
    if (sent < 0 || !round_text.p || !PQsendQuery(c, round_text.p)) {
        round_text.len = 0;
        if (round_text.p)
            round_text.p[0] = '\0';
        db_record_failure(tx, NULL);
        /* a statement not written out is this process's fault, not the server's */
        tx->err = sent < 0 && PQstatus(c) == CONNECTION_OK ? DB_FAILED : DB_UNAVAILABLE;
        return -1;
    }
    round_text.len = 0;
    round_text.p[0] = '\0';
    tx->err = DB_OK;
    tx->sqlstate[0] = '\0';
    /* one result per statement, up to the first error; then the Query's end (NULL) */
    for (k = 0; k < ns && (res = PQgetResult(c)) != NULL; k++) {
        db_take_result(tx, s, slots[k], &res);
        PQclear(res);
    }
    while ((res = PQgetResult(c)) != NULL)
        PQclear(res);
    if (k < ns && tx->err == DB_OK) {
        /* fewer results than statements and no error among them: the connection */
        db_record_failure(tx, NULL);
        tx->err = DB_UNAVAILABLE;
    }
    if (tx->err != DB_OK) {
        for (int i = 0; i < n; i++) {
            PQclear(s[i].res);
            s[i].res = NULL;
        }
        return -1;
    }
    return 0;
}
