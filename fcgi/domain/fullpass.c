/*
 * fullpass.c — one full re-verification pass (see fullpass.h): its
 * connections, lease, snapshot, the SQL checks, its full_audits row.
 * The hash checks are fullpass_hash.c's; the jobs-child hook is
 * fullpass_jobs.c's.
 */
#include "domain/fullpass.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "domain/checks.h"
#include "domain/fullpass_pass.h"
#include "log.h"
#include "store/db.h"

#define LEASE_TTL_S "120" /* renewed every second while the pass runs */
#define LEASE_WAIT_S 600  /* wait_lease: how long to wait for another pass */
#define REPORT_EVERY_NS 1000000000L

static double since_s(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

PGresult *fullpass_exec(struct fullpass *p, PGconn *c, enum sql_id id, const char *const *v)
{
    return fullpass_exec_as(p, c, id, v, 0);
}

PGresult *fullpass_exec_as(struct fullpass *p, PGconn *c, enum sql_id id, const char *const *v,
                           int binary)
{
    PGresult *res = PQexecParams(c, sql_text(id, p->cfg->dialect), sql_table[id].nparams, NULL, v,
                                 NULL, NULL, binary);
    ExecStatusType st = PQresultStatus(res);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    if (!p->err[0]) {
        const char *m = PQresultErrorMessage(res);
        snprintf(p->err, sizeof(p->err), "%s: %.*s", sql_name(id), (int)strcspn(m, "\n"), m);
    }
    PQclear(res);
    return NULL;
}

/* fullpass_exec() for a statement whose result is not needed; the rows it touched, or -1. */
static int exec_count(struct fullpass *p, PGconn *c, enum sql_id id, const char *const *v)
{
    PGresult *res = fullpass_exec(p, c, id, v);
    int n;

    if (!res)
        return -1;
    n = atoi(PQcmdTuples(res));
    PQclear(res);
    return n;
}

int fullpass_report(struct fullpass *p, int now)
{
    struct timespec t;
    char rows[24];
    const char *lease[2] = { p->owner, LEASE_TTL_S }, *prog[2] = { p->id, rows };

    if (p->chk && fullpass_checks_poll(p, 0) < 0)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (!now
        && (t.tv_sec - p->last_report.tv_sec) * 1000000000L + (t.tv_nsec - p->last_report.tv_nsec)
            < REPORT_EVERY_NS)
        return 0;
    p->last_report = t;
    snprintf(rows, sizeof(rows), "%" PRId64, p->rows);
    if (exec_count(p, p->side, SQL_AUDIT_LEASE_TAKE, lease) != 1) {
        if (!p->err[0])
            snprintf(p->err, sizeof(p->err), "the full_audit lease was lost");
        return -1;
    }
    return exec_count(p, p->side, SQL_AUDIT_PROGRESS, prog) < 0 ? -1 : 0;
}

void fullpass_fail(struct fullpass *p, const char *check, int64_t count, const char *id)
{
    struct fullpass_finding *f = NULL;

    for (int i = 0; i < p->nfindings; i++)
        if (strcmp(p->findings[i].check, check) == 0)
            f = &p->findings[i];
    if (!f) {
        if (p->nfindings == FULLPASS_MAX_FINDINGS)
            return;
        f = &p->findings[p->nfindings++];
        snprintf(f->check, sizeof(f->check), "%s", check);
    }
    f->count += count;
    if (id && f->nsample < 5) {
        size_t n = strlen(f->sample);
        snprintf(f->sample + n, sizeof(f->sample) - n, "%s%s", n ? "," : "", id);
        f->nsample++;
    }
}

/* BEGIN the snapshot, its settings, the latest seal. 0, or -1. */
static int snapshot_begin(struct fullpass *p)
{
    char ms[24];
    const char *v[1] = { ms };
    PGresult *res;

    if (exec_count(p, p->snap, SQL_TX_BEGIN_READ_SNAPSHOT, NULL) < 0)
        return -1;
    snprintf(ms, sizeof(ms), "%d", p->cfg->full_audit_timeout_ms);
    if (p->cfg->dialect == ZS_DIALECT_POSTGRES && exec_count(p, p->snap, SQL_AUDIT_SETTINGS, v) < 0)
        return -1;
    res = fullpass_exec(p, p->snap, SQL_AUDIT_LATEST_SEAL, NULL);
    if (!res)
        return -1;
    if (PQntuples(res) == 1) {
        p->seal_no = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        p->tree_size = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        if (fullpass_unhex(PQgetvalue(res, 0, 2), p->state_hash) < 0)
            fullpass_fail(p, "seal_state_matches", 1, NULL);
    }
    PQclear(res);
    return 0;
}

/* A finding's place in the report: the SQL checks in their order, then the hash checks. */
static int rank(const char *check)
{
    static const char *const hashes[] = { "sealed_leaves_match", "merkle_nodes_match",
                                          "seal_roots_match", "seal_chain_intact",
                                          "seal_state_matches" };
    int r = fullpass_check_rank(check);

    if (r >= 0)
        return r;
    for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
        if (strcmp(hashes[i], check) == 0)
            return 1000 + (int)i;
    return 2000;
}

/* The findings in report order whatever order the overlapped checks found them in (stable). */
static void sort_findings(struct fullpass *p)
{
    for (int i = 1; i < p->nfindings; i++) {
        struct fullpass_finding f = p->findings[i];
        int j = i;
        while (j > 0 && rank(p->findings[j - 1].check) > rank(f.check)) {
            p->findings[j] = p->findings[j - 1];
            j--;
        }
        p->findings[j] = f;
    }
}

/* The verdict from the findings (or the error). */
static void verdict(struct fullpass *p, struct fullpass_verdict *v)
{
    size_t n = 0;

    sort_findings(p);
    v->rows_read = p->rows;
    v->seal_no = p->seal_no;
    v->tree_size = p->tree_size;
    v->passed = !p->err[0] && p->nfindings == 0;
    v->failed_check[0] = v->sample[0] = v->detail[0] = '\0';
    if (p->err[0]) {
        snprintf(v->detail, sizeof(v->detail), "the pass did not complete: %s", p->err);
        return;
    }
    if (!p->nfindings)
        return;
    snprintf(v->failed_check, sizeof(v->failed_check), "%s", p->findings[0].check);
    snprintf(v->sample, sizeof(v->sample), "%s", p->findings[0].sample);
    for (int i = 0; i < p->nfindings && n < sizeof(v->detail); i++)
        n += (size_t)snprintf(v->detail + n, sizeof(v->detail) - n, "%s%s: %" PRId64 " rows",
                              i ? "; " : "failed ", p->findings[i].check, p->findings[i].count);
}

/* Write the verdict into the row. 0, or -1. */
static int record_verdict(struct fullpass *p, const struct fullpass_verdict *v)
{
    char rows[24], no[24], size[24];
    const char *f[8] = { p->id,
                         v->passed ? "passed" : "failed",
                         rows,
                         p->seal_no ? no : NULL,
                         p->seal_no ? size : NULL,
                         v->failed_check[0] ? v->failed_check : NULL,
                         v->sample[0] ? v->sample : NULL,
                         v->detail[0] ? v->detail : NULL };

    snprintf(rows, sizeof(rows), "%" PRId64, v->rows_read);
    snprintf(no, sizeof(no), "%" PRId64, v->seal_no);
    snprintf(size, sizeof(size), "%" PRId64, v->tree_size);
    p->err[0] = '\0';
    return exec_count(p, p->side, SQL_AUDIT_FINISH, f) < 0 ? -1 : 0;
}

/* Take the lease (waiting up to LEASE_WAIT_S when wait). 1 held, 0 taken, -1 error. */
static int lease_take(struct fullpass *p, int wait)
{
    const char *v[2] = { p->owner, LEASE_TTL_S };
    struct timespec t0, nap = { 0, 100000000L };

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (exec_count(p, p->side, SQL_AUDIT_LEASE_ENSURE, NULL) < 0)
        return -1;
    for (;;) {
        int n = exec_count(p, p->side, SQL_AUDIT_LEASE_TAKE, v);
        if (n != 0)
            return n < 0 ? -1 : 1;
        if (!wait || since_s(&t0) > LEASE_WAIT_S)
            return 0;
        nanosleep(&nap, NULL);
    }
}

/* The pass itself, lease held: start the row, check, record the verdict. */
static int pass_body(struct fullpass *p, struct fullpass_verdict *v)
{
    const char *id[1] = { p->id };
    PGresult *res;

    if (exec_count(p, p->side, SQL_AUDIT_START, id) != 1) {
        snprintf(v->detail, sizeof(v->detail), "no queued pass %s", p->id);
        return -1;
    }
    log_info("full pass %s started", p->id);
    if (snapshot_begin(p) == 0 && fullpass_fold_begin(p) == 0) {
        char ms[24];
        snprintf(ms, sizeof(ms), "%d", p->cfg->full_audit_timeout_ms);
        if (fullpass_checks_open(p, ms) == 0) { /* the checks run beside the records */
            /* the first check starts now, not at the stream's first progress report */
            if (fullpass_checks_poll(p, 0) == 0 && fullpass_verify_hashes(p) == 0) {
                struct timespec t0;
                int helped;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                if (fullpass_checks_finish(p, &helped) == 0)
                    log_info("full pass %s: the checks and node blocks left took %.1f s more "
                             "(%d of them on the snapshot connection)",
                             p->id, since_s(&t0), helped);
            }
        } else if (fullpass_checks_run(p) == 0) {
            fullpass_verify_hashes(p);
        }
    }
    fullpass_checks_close(p);
    fullpass_fold_end(p);
    /* The snapshot only read: end it either way. */
    res = PQexec(p->snap, sql_text(SQL_TX_ROLLBACK, p->cfg->dialect));
    PQclear(res);
    verdict(p, v);
    if (record_verdict(p, v) < 0)
        log_error("full pass %s: its verdict was not recorded: %s", p->id, p->err);
    log_info("full pass %s %s: %" PRId64 " rows%s%s", p->id, v->passed ? "passed" : "failed",
             v->rows_read, v->detail[0] ? ": " : "", v->detail);
    return v->passed ? 0 : 1;
}

int fullpass_run(const struct zs_config *cfg, const char *id, int wait_lease,
                 struct fullpass_verdict *v)
{
    struct fullpass *p = calloc(1, sizeof(*p));
    const char *rel[1];
    struct timespec t0;
    char err[256];
    int rc = -1, held;

    memset(v, 0, sizeof(*v));
    snprintf(v->id, sizeof(v->id), "%s", id);
    if (!p) {
        snprintf(v->detail, sizeof(v->detail), "out of memory");
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    p->cfg = cfg;
    p->id = id;
    snprintf(p->owner, sizeof(p->owner), "fullpass-%d-%.8s", (int)getpid(), id);
    rel[0] = p->owner;
    p->side = db_connect(cfg, err, sizeof(err));
    p->snap = p->side ? db_connect(cfg, err, sizeof(err)) : NULL;
    if (p->snap) {
        fullpass_lower_backend(p, p->snap);
        fullpass_lower_backend(p, p->side);
    }
    if (!p->snap) {
        snprintf(v->detail, sizeof(v->detail), "no connection: %s", err);
    } else if ((held = lease_take(p, wait_lease)) <= 0) {
        snprintf(v->detail, sizeof(v->detail), "%s",
                 held == 0 ? "another full pass holds the full_audit lease" : p->err);
    } else {
        clock_gettime(CLOCK_MONOTONIC, &p->last_report);
        rc = pass_body(p, v);
        p->err[0] = '\0';
        exec_count(p, p->side, SQL_AUDIT_LEASE_RELEASE, rel);
    }
    v->seconds = since_s(&t0);
    PQfinish(p->snap);
    PQfinish(p->side);
    free(p->blk_h);
    free(p->blk_have);
    free(p);
    return rc;
}

int fullpass_queue(const struct zs_config *cfg, const char *by, char id[UUID_STR_LEN + 1])
{
    struct fullpass p;
    const char *v[2] = { id, by };
    char err[256];
    PGresult *res;

    memset(&p, 0, sizeof(p));
    p.cfg = cfg;
    if (util_uuid_v4(id) < 0)
        return -1;
    p.side = db_connect(cfg, err, sizeof(err));
    if (!p.side) {
        log_error("full pass: no connection: %s", err);
        return -1;
    }
    res = fullpass_exec(&p, p.side, SQL_AUDIT_INSERT, v);
    PQclear(res);
    PQfinish(p.side);
    if (!res)
        log_error("full pass: %s", p.err);
    return res ? 0 : -1;
}

char *fullpass_verdict_json(const struct fullpass_verdict *v)
{
    struct json_object *o = json_object_new_object();
    char *s;

    json_object_object_add(o, "id", json_object_new_string(v->id));
    json_object_object_add(o, "status", json_object_new_string(v->passed ? "passed" : "failed"));
    json_object_object_add(o, "rows_read", json_object_new_int64(v->rows_read));
    json_object_object_add(o, "seal_no", json_object_new_int64(v->seal_no));
    json_object_object_add(o, "tree_size", json_object_new_int64(v->tree_size));
    json_object_object_add(o, "failed_check",
                           v->failed_check[0] ? json_object_new_string(v->failed_check) : NULL);
    json_object_object_add(o, "sample", v->sample[0] ? json_object_new_string(v->sample) : NULL);
    json_object_object_add(o, "detail", v->detail[0] ? json_object_new_string(v->detail) : NULL);
    json_object_object_add(o, "seconds", json_object_new_double(v->seconds));
    s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}
