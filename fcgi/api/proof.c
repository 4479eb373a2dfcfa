/*
 * proof.c — GET /proof: the ledger's and the auctions' invariants, computed
 * live from one consistent read-only snapshot, plus the stampede runs.
 *
 * Each check compares two facts the system keeps independently (entries vs
 * balances, active holds vs accounts.held, claim rows vs qty_claimed, …)
 * and counts the rows where they disagree. Checks that merely restate a
 * schema constraint are reported with kind "constraint", not as evidence.
 * 200 when every check holds, 409 `inconsistent` otherwise, so that
 * `curl -fsS …/proof` gates a shell script.
 *
 * What a caller learns depends on who it is, by one rule: nobody but an
 * admin learns anything GET /transfers/{id} or GET /accounts/{id} would
 * refuse them. So the ids a failing check names ("sample") and the
 * free-form parts of a stampede run's summary (strings, lists) go to admins
 * only; everyone else gets the counts. An anonymous answer is the same for
 * every anonymous caller and says `Cache-Control: public, max-age=2`
 * (PROOF_MAX_AGE), so nginx computes it once for all of them; an answer to
 * a request with a token is no-store and always freshly computed.
 *
 * The whole audit has one budget, PROOF_BUDGET_MS from the moment the
 * request was read: every statement runs with the statement_timeout left
 * of it (PostgreSQL 15 has no transaction_timeout), so the answer, or a 503
 * when the budget runs out, always comes before nginx's 125 s
 * fastcgi_read_timeout for /proof.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_tx.h"
#include "api/auth.h"
#include "api/mutation.h"
#include "api/page.h"
#include "api/proof_runs.h"
#include "api/routes.h"
#include "domain/checks.h"
#include "metrics.h"
#include "store/db.h"
#include "util.h"

#define PROOF_MAX_AGE 2        /* seconds an anonymous answer may be shared */
#define PROOF_BUDGET_MS 120000 /* the whole audit, from the request's start */

struct proof_tx {
    struct json_object *out;
    int consistent;
    int full;        /* admin: samples and whole run summaries */
    int64_t seal_no; /* the latest seal in the snapshot, 0: none */
};

static long elapsed_ms(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* What is left of the audit's budget, in ms (at least 1). */
static long budget_left(const struct tx *tx)
{
    long left = PROOF_BUDGET_MS - elapsed_ms(&tx->s->start);

    return left > 1 ? left : 1;
}

static int64_t cell_i64(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* The cell as a JSON string, or NULL (JSON null) for SQL NULL. */
static struct json_object *cell_str(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : json_object_new_string(PQgetvalue(res, row, col));
}

/* The latest seal (columns 8-10 of proof_audit_counts), or NULL (JSON null) before the first. */
static struct json_object *seal_json(PGresult *res)
{
    struct json_object *o;

    if (PQgetisnull(res, 0, 8))
        return NULL;
    o = json_object_new_object();
    json_object_object_add(o, "seal_no", json_object_new_int64(cell_i64(res, 0, 8)));
    json_object_object_add(o, "tree_size", json_object_new_int64(cell_i64(res, 0, 9)));
    json_object_object_add(o, "sealed_at", cell_str(res, 0, 10));
    return o;
}

/* The snapshot's time, backend and counts (res: proof_audit_counts) into p->out. */
static void audit_counts(const struct tx *tx, struct proof_tx *p, PGresult *res)
{
    static const char *const names[] = {
        "accounts", "transfers", "entries", "lots", "bids", "holds"
    };
    struct json_object *backend, *counts, *seal;

    json_object_object_add(p->out, "snapshot_at", json_object_new_string(PQgetvalue(res, 0, 0)));
    backend = json_object_new_object();
    json_object_object_add(backend, "engine", json_object_new_string("PostgreSQL"));
    json_object_object_add(backend, "version", json_object_new_string(PQgetvalue(res, 0, 1)));
    json_object_object_add(backend, "dialect",
                           json_object_new_string(config_dialect_name(tx->cfg->dialect)));
    json_object_object_add(backend, "isolation",
                           json_object_new_string("repeatable read (one snapshot)"));
    counts = json_object_new_object();
    for (int i = 0; i < 6; i++)
        json_object_object_add(counts, names[i], json_object_new_int64(cell_i64(res, 0, 2 + i)));
    p->seal_no = cell_i64(res, 0, 8);
    seal = seal_json(res);
    /* "consistent" comes before them in the answer: a placeholder now. */
    json_object_object_add(p->out, "consistent", json_object_new_boolean(1));
    json_object_object_add(p->out, "backend", backend);
    json_object_object_add(p->out, "counts", counts);
    json_object_object_add(p->out, "seal", seal);
}

/* What a check's statement reads, as /proof's "covers" says it. */
enum coverage {
    COV_UNSEALED,  /* unsealed rows (and what they name); sealed ones were checked sealing */
    COV_STATE,     /* current state only */
    COV_AGGREGATE, /* current state against the sealed aggregates plus the unsealed rows */
    COV_BACKLOG,   /* the unsealed backlog */
    COV_FULL,      /* the last full pass over all history */
};

static enum coverage check_coverage(enum sql_id id)
{
    switch (id) {
    case SQL_PROOF_MONEY_CONSERVED:
    case SQL_PROOF_NO_NEGATIVE_BALANCES:
    case SQL_PROOF_HOLDS_MATCH_HELD:
    case SQL_PROOF_HELD_WITHIN_BALANCE:
    case SQL_PROOF_SHARES_SUPPLY_CONSERVED:
    case SQL_PROOF_POSITIONS_HELD_MATCH_ORDERS:
    case SQL_PROOF_EVENT_PAIRS_BACKED:
    case SQL_PROOF_NO_NEGATIVE_POSITIONS:
        return COV_STATE;
    case SQL_PROOF_BALANCES_MATCH_ENTRIES:
    case SQL_PROOF_DROP_CLAIMS_MATCH:
    case SQL_PROOF_ENGLISH_HIGH_IS_LAST_BID:
    case SQL_PROOF_RUNNING_BALANCES_MATCH:
        return COV_AGGREGATE;
    case SQL_PROOF_SEALER_KEEPS_UP:
        return COV_BACKLOG;
    case SQL_PROOF_FULL_AUDIT_PASSED:
        return COV_FULL;
    default:
        return COV_UNSEALED;
    }
}

/* The "covers" text of check c, given the snapshot's seal and the last full pass's. */
static struct json_object *covers_json(const struct check *c, int64_t seal_no, int64_t full_seal_no)
{
    char s[160];

    switch (check_coverage(c->sql)) {
    case COV_STATE:
        return json_object_new_string("state as of the snapshot");
    case COV_AGGREGATE:
        snprintf(s, sizeof(s),
                 "state as of the snapshot, history through seal %" PRId64
                 " (sealed aggregates) and the unsealed rows",
                 seal_no);
        break;
    case COV_BACKLOG:
        return json_object_new_string("the unsealed backlog as of the snapshot");
    case COV_FULL:
        snprintf(s, sizeof(s), "history through seal %" PRId64 " (the last full pass)",
                 full_seal_no);
        break;
    default:
        snprintf(s, sizeof(s),
                 "unsealed rows (history through seal %" PRId64 " was checked as it was sealed)",
                 seal_no);
        break;
    }
    return json_object_new_string(s);
}

/* A bound check's bound, in seconds (its statement's $1). */
static int64_t check_bound(const struct tx *tx, const struct check *c)
{
    return c->sql == SQL_PROOF_FULL_AUDIT_PASSED ? tx->cfg->full_audit_interval_s
                                                 : tx->cfg->seal_backlog_max_s;
}

/* The last finished full pass (proof_full_audit_passed columns 3-8), or NULL before any. */
static struct json_object *full_audit_json(PGresult *res, int64_t interval_s)
{
    struct json_object *o;

    if (PQgetisnull(res, 0, 3))
        return NULL;
    o = json_object_new_object();
    json_object_object_add(o, "id", cell_str(res, 0, 3));
    json_object_object_add(o, "finished_at", cell_str(res, 0, 4));
    json_object_object_add(o, "status", cell_str(res, 0, 5));
    json_object_object_add(
        o, "rows_read", PQgetisnull(res, 0, 6) ? NULL : json_object_new_int64(cell_i64(res, 0, 6)));
    json_object_object_add(
        o, "seal_no", PQgetisnull(res, 0, 7) ? NULL : json_object_new_int64(cell_i64(res, 0, 7)));
    json_object_object_add(o, "interval_s", json_object_new_int64(interval_s));
    return o;
}

/*
 * What a bound check adds to the report: for sealer_keeps_up the top-level
 * "backlog" (its age and row count), for full_audit_passed "full_audit" and,
 * on a failed pass, the check's "failed_check". Returns the full pass's
 * seal_no (0 when none), which its "covers" names.
 */
static int64_t bound_extras(struct proof_tx *p, const struct check *c, PGresult *res,
                            struct json_object *o, int64_t bound)
{
    struct json_object *b;

    if (c->sql == SQL_PROOF_SEALER_KEEPS_UP) {
        b = json_object_new_object();
        json_object_object_add(b, "rows", json_object_new_int64(cell_i64(res, 0, 3)));
        json_object_object_add(b, "oldest_age_s", json_object_new_int64(cell_i64(res, 0, 0)));
        json_object_object_add(p->out, "backlog", b);
        return 0;
    }
    json_object_object_add(p->out, "full_audit", full_audit_json(res, bound));
    if (!PQgetisnull(res, 0, 8) && strcmp(PQgetvalue(res, 0, 2), "t") == 0)
        json_object_object_add(o, "failed_check", cell_str(res, 0, 8));
    return cell_i64(res, 0, 7);
}

/*
 * Check c's answer (res: its statement's result, expected: its bound for a
 * bound check, else 0) as a new JSON object. Evidence and constraint checks
 * expect 0; a bound check's statement says itself whether it fails.
 */
static struct json_object *check_json(struct proof_tx *p, const struct check *c, int64_t expected,
                                      PGresult *res)
{
    int bound = c->kind == CHECK_BOUND;
    int64_t observed = cell_i64(res, 0, c->col), full_seal = 0;
    int ok = bound ? strcmp(PQgetvalue(res, 0, 2), "f") == 0 : observed == 0;
    struct json_object *o = json_object_new_object();

    if (!ok)
        p->consistent = 0;
    json_object_object_add(o, "name", json_object_new_string(c->name));
    json_object_object_add(o, "kind", json_object_new_string(check_kind_name(c->kind)));
    json_object_object_add(o, "ok", json_object_new_boolean(ok));
    json_object_object_add(o, "observed", json_object_new_int64(observed));
    json_object_object_add(o, "expected", json_object_new_int64(expected));
    json_object_object_add(o, "description", json_object_new_string(sql_table[c->sql].doc));
    if (bound)
        full_seal = bound_extras(p, c, res, o, expected);
    json_object_object_add(o, "covers", covers_json(c, p->seal_no, full_seal));
    if (!ok && p->full && !PQgetisnull(res, 0, c->col + 1))
        json_object_object_add(o, "sample", json_object_new_string(PQgetvalue(res, 0, c->col + 1)));
    return o;
}

/*
 * The statements of one audit, in the order they are sent: on PostgreSQL
 * the settings, then the counts, each check's statement (on PostgreSQL
 * behind its deadline: proof_audit_deadline; once for the checks sharing
 * one, check_answered_by), the recent runs. values: the budget left (ms)
 * and each bound check's bound, as the statements' parameters.
 */
struct audit_plan {
    struct tx_stmt *st;
    char (*bounds)[24];
    const char **bound_v;
    int *at; /* check i's answer is st[at[i]] (at its col) */
    int n, counts, runs;
    char left[24];
    const char *left_v[1];
};

/* Fill a with this audit's statements (a zeroed plan). 0, or -1 out of memory. */
static int plan_build(const struct tx *tx, struct audit_plan *a)
{
    int pg = tx->cfg->dialect == ZS_DIALECT_POSTGRES;

    a->st = calloc(3 + 2 * checks_count, sizeof(*a->st));
    a->bounds = calloc(checks_count, sizeof(*a->bounds));
    a->bound_v = calloc(checks_count, sizeof(*a->bound_v));
    a->at = calloc(checks_count, sizeof(*a->at));
    if (!a->st || !a->bounds || !a->bound_v || !a->at)
        return -1;
    snprintf(a->left, sizeof(a->left), "%ld", budget_left(tx));
    a->left_v[0] = a->left;
    a->n = 0;
    if (pg)
        a->st[a->n++] = tx_stmt_named(SQL_PROOF_AUDIT_SETTINGS, a->left_v);
    a->counts = a->n;
    a->st[a->n++] = tx_stmt_named(SQL_PROOF_AUDIT_COUNTS, NULL);
    for (size_t i = 0; i < checks_count; i++) {
        const struct check *c = &checks[i];
        size_t by = check_answered_by(i, tx->cfg->dialect);

        snprintf(a->bounds[i], sizeof(a->bounds[i]), "%" PRId64,
                 c->kind == CHECK_BOUND ? check_bound(tx, c) : 0);
        a->bound_v[i] = a->bounds[i];
        if (by != i) {
            a->at[i] = a->at[by];
            continue;
        }
        a->at[i] = a->n + pg;
        if (pg)
            a->st[a->n++] = tx_stmt_named(SQL_PROOF_AUDIT_DEADLINE, a->left_v);
        a->st[a->n++] = tx_stmt_named(c->sql, c->kind == CHECK_BOUND ? &a->bound_v[i] : NULL);
    }
    a->runs = a->n;
    a->st[a->n++] = tx_stmt_named(SQL_PROOF_AUDIT_RUNS, NULL);
    return 0;
}

/* Free a's results and arrays (after plan_build, whatever it returned). */
static void plan_free(struct audit_plan *a)
{
    if (a->st)
        for (int i = 0; i < a->n; i++)
            PQclear(a->st[i].res);
    free(a->st);
    free(a->bounds);
    free(a->bound_v);
    free(a->at);
}

/* The answer from the plan's results into p->out. */
static void audit_answer(const struct tx *tx, struct proof_tx *p, const struct audit_plan *a)
{
    struct json_object *list = json_object_new_array(), *runs;
    PGresult *res = a->st[a->runs].res;

    audit_counts(tx, p, a->st[a->counts].res);
    json_object_object_add(p->out, "checks", list);
    for (size_t i = 0; i < checks_count; i++)
        json_object_array_add(
            list, check_json(p, &checks[i], strtoll(a->bounds[i], NULL, 10), a->st[a->at[i]].res));
    runs = json_object_new_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_object_array_add(runs, proof_run_json(res, i, p->full, 0));
    json_object_object_add(p->out, "stampede_runs", runs);
}

/*
 * The whole audit in one round trip: BEGIN, the settings, the counts, every
 * check, the recent runs and COMMIT go out as one pipeline. The budget
 * (PROOF_BUDGET_MS from the request's start) holds per statement: the
 * settings give the first what is left of it, and each check's deadline
 * statement what is left after the ones before it (PostgreSQL 15 has no
 * transaction_timeout).
 */
static enum tx_decision proof_tx(struct tx *tx, void *arg)
{
    struct proof_tx *p = arg;
    struct audit_plan a = { 0 };
    int rc;

    if (p->out)
        json_object_put(p->out);
    p->out = json_object_new_object();
    p->consistent = 1;
    if (plan_build(tx, &a) < 0) {
        plan_free(&a);
        tx->err = DB_FAILED;
        return TX_ERROR;
    }
    rc = tx_exec_many(tx, a.st, a.n, 1);
    if (rc == 0)
        audit_answer(tx, p, &a);
    plan_free(&a);
    if (rc < 0)
        return TX_ERROR;
    json_object_object_add(p->out, "consistent", json_object_new_boolean(p->consistent));
    return TX_COMMIT;
}

/* True when r carries no Authorization at all: its answer may be shared. */
static int anonymous(const struct request *r)
{
    return !r->authorization || !*r->authorization;
}

void handle_proof(struct request *r)
{
    struct proof_tx p = { NULL, 0, 0, 0 };
    enum tx_decision d;
    char cc[64];

    p.full = auth_is_admin(r);
    metrics_inc(proof_computations);
    if (api_tx_run(r, TX_READ_ONLY | TX_SNAPSHOT, proof_tx, &p, &d) < 0) {
        if (p.out)
            json_object_put(p.out);
        return;
    }
    /* 200 and 409 alike: a cached verdict is at most PROOF_MAX_AGE old,
     * whichever way it went. */
    snprintf(cc, sizeof(cc), "Cache-Control: public, max-age=%d\r\n", PROOF_MAX_AGE);
    http_respond_json(r, p.consistent ? 200 : 409, p.out, anonymous(r) ? cc : NULL);
}
