/*
 * fullpass_checks.c — the full pass's SQL checks: every check's full form
 * (checks.c's `full`), then the seal checks written in SQL. On postgres
 * they run on a second connection that imports the pass's snapshot
 * (pg_export_snapshot / SET TRANSACTION SNAPSHOT), one statement at a time,
 * driven without blocking while the snapshot connection streams the records
 * (fullpass_checks_poll from every progress report): the server checks and
 * the hashing overlap, on the very same snapshot. After the checks the
 * same connection reads the stored tree's lower levels a block at a time
 * (audit_node_block, checked by fullpass_node_block_check as the results
 * come), so those reads overlap the records too. The checks and the blocks
 * are one queue (claim()): once the snapshot connection is through its own
 * reads it takes what is left (fullpass_checks_finish). DSQL has neither, and any
 * failure to set the second connection up falls back to the same: the
 * checks run one after another on the snapshot connection first.
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "domain/checks.h"
#include "domain/fullpass_pass.h"
#include "log.h"
#include "store/db.h"

static const struct {
    const char *name;
    enum sql_id sql;
} seal_checks[] = {
    { "seal_aggregates_match", SQL_AUDIT_SEAL_AGGREGATES_MATCH },
    { "positions_contiguous", SQL_AUDIT_POSITIONS_CONTIGUOUS },
};
#define NCHECKS (checks_count + sizeof(seal_checks) / sizeof(seal_checks[0]))

static const char *item_name(size_t i)
{
    return i < checks_count ? checks[i].name : seal_checks[i - checks_count].name;
}

/* Items past NCHECKS are the node blocks, in leaf order. */
static enum sql_id item_sql(size_t i)
{
    return i < checks_count ? checks[i].full
        : i < NCHECKS       ? seal_checks[i - checks_count].sql
                            : SQL_AUDIT_NODE_BLOCK;
}

/* The first leaf of item i's block (i >= NCHECKS). */
static int64_t block_lo(const struct fullpass *p, size_t i)
{
    return (int64_t)(i - NCHECKS) << fullpass_node_block_levels(p);
}

int fullpass_check_rank(const char *name)
{
    for (size_t i = 0; i < NCHECKS; i++)
        if (strcmp(item_name(i), name) == 0)
            return (int)i;
    return -1;
}

/* A check's one-row answer: a finding when its observed value is not 0. */
static void answer(struct fullpass *p, size_t i, const PGresult *res)
{
    int64_t observed;

    if (PQntuples(res) < 1 || PQnfields(res) < 2)
        return;
    observed = PQgetisnull(res, 0, 0) ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    if (observed != 0)
        fullpass_fail(p, item_name(i), observed,
                      PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1));
}

/* 1 if item i runs now: it has a full form, and the fold does not decide it. */
static int item_runs(const struct fullpass *p, size_t i)
{
    if (i >= NCHECKS)
        return 1;
    return item_sql(i) != CHECK_NO_FULL && !(p->fold && fullpass_fold_is_folded(item_name(i)));
}

/* Run item i's full SQL form on the pass's snapshot and take its answer. 0, or -1. */
static int run_sql_form(struct fullpass *p, size_t i)
{
    PGresult *res = fullpass_exec(p, p->snap, item_sql(i), NULL);

    if (!res)
        return -1;
    answer(p, i, res);
    PQclear(res);
    return 0;
}

int fullpass_checks_judge(struct fullpass *p, const char *name)
{
    for (size_t i = 0; i < NCHECKS; i++) {
        int before = p->nfindings;

        if (strcmp(item_name(i), name) != 0 || item_sql(i) == CHECK_NO_FULL)
            continue;
        if (run_sql_form(p, i) < 0)
            return -1;
        if (p->nfindings == before)
            log_info("full pass %s: %s's SQL form found nothing the fold flagged", p->id, name);
        return 0;
    }
    return 0;
}

int fullpass_checks_run(struct fullpass *p)
{
    for (size_t i = 0; i < NCHECKS; i++)
        if (item_runs(p, i) && (run_sql_form(p, i) < 0 || fullpass_report(p, 0) < 0))
            return -1;
    return 0;
}

/* 1 if s is a snapshot id as pg_export_snapshot() writes it. */
static int snapshot_id(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F') || s[i] == '-'))
            return 0;
    return 1;
}

/* Begin the second connection's transaction on the exported snapshot. 0, or -1. */
static int import(struct fullpass *p, const char *snap, const char *ms)
{
    const char *v[1] = { ms };
    char text[128];
    PGresult *res;
    int ok;

    snprintf(text, sizeof(text), "%s '%s'", sql_text(SQL_AUDIT_IMPORT_SNAPSHOT, p->cfg->dialect),
             snap);
    if (!(res = fullpass_exec(p, p->chk, SQL_TX_BEGIN_READ_SNAPSHOT, NULL)))
        return -1;
    PQclear(res);
    res = PQexec(p->chk, text);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(p->err, sizeof(p->err), "audit_import_snapshot: %s", PQresultErrorMessage(res));
    PQclear(res);
    if (!ok || !(res = fullpass_exec(p, p->chk, SQL_AUDIT_SETTINGS, v)))
        return -1;
    PQclear(res);
    return 0;
}

int fullpass_checks_open(struct fullpass *p, const char *ms)
{
    char err[256], snap[72] = "";
    PGresult *res;

    if (p->cfg->dialect != ZS_DIALECT_POSTGRES)
        return -1;
    res = fullpass_exec(p, p->snap, SQL_AUDIT_EXPORT_SNAPSHOT, NULL);
    if (res && PQntuples(res) == 1)
        snprintf(snap, sizeof(snap), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (snapshot_id(snap) && (p->chk = db_connect(p->cfg, err, sizeof(err))) != NULL) {
        fullpass_lower_backend(p, p->chk);
        if (fullpass_node_buffers(p) == 0 && import(p, snap, ms) == 0) {
            p->chk_next = 0;
            p->chk_state = 0;
            p->blocks_on_chk = 1;
            return 0;
        }
    }
    log_info("full pass %s: the SQL checks run after the records (no second connection on the "
             "snapshot: %s)",
             p->id, p->err[0] ? p->err : "none");
    p->err[0] = '\0';
    fullpass_checks_close(p);
    return -1;
}

/* The error of a failed check statement into p->err (the first one wins). */
static void chk_error(struct fullpass *p, const char *m)
{
    if (!p->err[0])
        snprintf(p->err, sizeof(p->err), "%s: %.*s", sql_name(item_sql(p->chk_item)),
                 (int)strcspn(m, "\n"), m);
}

/* Claim the next item that runs, for either connection: its index, or SIZE_MAX when none is
 * left. Both take from the front, so every item runs exactly once. */
static size_t claim(struct fullpass *p)
{
    while (p->chk_next < NCHECKS && !item_runs(p, p->chk_next))
        p->chk_next++;
    if (p->chk_next >= NCHECKS && block_lo(p, p->chk_next) >= p->tree_size)
        return SIZE_MAX;
    return p->chk_next++;
}

/* Drive p->chk without blocking: 1 nothing in flight and nothing left, 0 an item still runs,
 * -1 error. */
static int poll_once(struct fullpass *p)
{
    PGresult *res;

    for (;;) {
        if (p->chk_state == 0) { /* nothing in flight: send the next check or block */
            char a[24], b[24], top[8];
            const char *v[3] = { a, b, top };
            size_t i = claim(p);
            int block = i >= NCHECKS;
            if (i == SIZE_MAX)
                return 1;
            p->chk_item = i;
            if (block)
                fullpass_node_block_params(fullpass_node_block_levels(p), block_lo(p, i), a, b,
                                           top);
            if (!PQsendQueryParams(p->chk, sql_text(item_sql(i), p->cfg->dialect), block ? 3 : 0,
                                   NULL, block ? v : NULL, NULL, NULL, block)) {
                chk_error(p, PQerrorMessage(p->chk));
                return -1;
            }
            p->chk_state = 1;
        }
        /* Read all that has arrived, not one buffer's worth: a node block's
         * result is megabytes, and a poll comes only between the stream's
         * chunks (one read per poll left each block ~5 s at 10M). */
        for (;;) {
            struct pollfd pf = { PQsocket(p->chk), POLLIN, 0 };
            if (!PQconsumeInput(p->chk)) {
                chk_error(p, PQerrorMessage(p->chk));
                return -1;
            }
            if (!PQisBusy(p->chk))
                break;
            if (poll(&pf, 1, 0) <= 0)
                return 0;
        }
        res = PQgetResult(p->chk);
        if (!res) { /* the statement is done */
            p->chk_state = 0;
            continue;
        }
        if (p->chk_state == 1) {
            if (PQresultStatus(res) == PGRES_TUPLES_OK && p->chk_item >= NCHECKS)
                fullpass_node_block_check(p, fullpass_node_block_levels(p),
                                          block_lo(p, p->chk_item), res);
            else if (PQresultStatus(res) == PGRES_TUPLES_OK)
                answer(p, p->chk_item, res);
            else
                chk_error(p, PQresultErrorMessage(res));
            p->chk_state = 2; /* then its end (NULL) */
        }
        PQclear(res);
        if (p->err[0])
            return -1;
    }
}

int fullpass_checks_finish(struct fullpass *p, int *helped)
{
    size_t i;

    *helped = 0;
    if (!p->chk)
        return 0;
    for (;;) {
        if (poll_once(p) < 0)
            return -1;
        if ((i = claim(p)) == SIZE_MAX)
            break;
        (*helped)++;
        if (i < NCHECKS ? run_sql_form(p, i) < 0 || fullpass_report(p, 0) < 0
                        : fullpass_node_block(p, block_lo(p, i)) < 0)
            return -1;
    }
    return fullpass_checks_poll(p, 1);
}

int fullpass_checks_poll(struct fullpass *p, int wait)
{
    int rc;

    if (!p->chk)
        return 0;
    while ((rc = poll_once(p)) == 0 && wait) {
        /* wait for the server (at most a second), renewing the lease meanwhile */
        fd_set r;
        struct timeval tv = { 1, 0 };
        int fd = PQsocket(p->chk);

        FD_ZERO(&r);
        FD_SET(fd, &r);
        select(fd + 1, &r, NULL, NULL, &tv);
        if (fullpass_report(p, 0) < 0)
            return -1;
    }
    return rc < 0 ? -1 : 0;
}

void fullpass_checks_close(struct fullpass *p)
{
    if (!p->chk)
        return;
    if (p->chk_state != 0) { /* stop what it still runs */
        PGcancel *c = PQgetCancel(p->chk);
        char e[128];
        if (c)
            PQcancel(c, e, sizeof(e));
        PQfreeCancel(c);
    }
    PQfinish(p->chk);
    p->chk = NULL;
}
