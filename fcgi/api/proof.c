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
#include "api/routes.h"
#include "domain/checks.h"
#include "metrics.h"
#include "store/db.h"
#include "util.h"

#define PROOF_MAX_AGE 2            /* seconds an anonymous answer may be shared */
#define PROOF_BUDGET_MS 120000     /* the whole audit, from the request's start */
#define PROOF_BUDGET_SLACK_MS 1000 /* a statement may overrun the budget by this */

struct proof_tx {
    struct json_object *out;
    int consistent;
    int full;        /* admin: samples and whole run summaries */
    long timeout_ms; /* statement_timeout set in this transaction, 0: none */
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

/*
 * Set statement_timeout (and, with settings, the audit's other settings:
 * proof_audit_settings) to what is left of the budget. Postgres dialect
 * only. 0, or -1 on a failed statement.
 */
static int set_timeout(struct tx *tx, struct proof_tx *p, enum sql_id id)
{
    long left = budget_left(tx);
    char ms[24];
    const char *v[1] = { ms };

    snprintf(ms, sizeof(ms), "%ld", left);
    if (tx_exec_named_void(tx, id, v) < 0)
        return -1;
    p->timeout_ms = left;
    return 0;
}

/*
 * Keep the next statement inside the audit's budget: lower statement_timeout
 * to what is left of PROOF_BUDGET_MS when the one in force would let a
 * statement end more than PROOF_BUDGET_SLACK_MS past it (a fast audit sets
 * it once). Postgres dialect only; -1 on a failed statement.
 */
static int proof_budget(struct tx *tx, struct proof_tx *p)
{
    if (tx->cfg->dialect != ZS_DIALECT_POSTGRES)
        return 0;
    if (p->timeout_ms > 0 && p->timeout_ms <= budget_left(tx) + PROOF_BUDGET_SLACK_MS)
        return 0;
    return set_timeout(tx, p, SQL_PROOF_AUDIT_TIMEOUT);
}

/*
 * A stampede run's summary (JSON text) as the caller may see it: whole for
 * an admin; otherwise its numbers, booleans and nulls, "checks" as its
 * boolean members, and "failures" as their count — its strings and lists
 * can name accounts and amounts.
 */
static struct json_object *run_summary(const char *text, int full)
{
    struct json_object *all = json_tokener_parse(text), *out;

    if (full || !all || !json_object_is_type(all, json_type_object))
        return all;
    out = json_object_new_object();
    json_object_object_foreach(all, k, v)
    {
        enum json_type t = json_object_get_type(v);
        if (t == json_type_int || t == json_type_double || t == json_type_boolean
            || t == json_type_null) {
            json_object_object_add(out, k, json_object_get(v));
        } else if (strcmp(k, "failures") == 0 && t == json_type_array) {
            json_object_object_add(out, k,
                                   json_object_new_int64((int64_t)json_object_array_length(v)));
        } else if (strcmp(k, "checks") == 0 && t == json_type_object) {
            struct json_object *c = json_object_new_object();
            json_object_object_foreach(v, ck, cv)
            {
                if (json_object_is_type(cv, json_type_boolean))
                    json_object_object_add(c, ck, json_object_get(cv));
            }
            json_object_object_add(out, k, c);
        }
    }
    json_object_put(all);
    return out;
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

/*
 * Row i of a stampede run query as JSON: id, scenario, n, k, status,
 * summary, created_at, then started_at when with_started (the run
 * statements' columns; /proof's list has none), then finished_at.
 */
static struct json_object *run_json(PGresult *res, int i, int full, int with_started)
{
    struct json_object *o = json_object_new_object();
    int col = 7;

    json_object_object_add(o, "id", cell_str(res, i, 0));
    json_object_object_add(o, "scenario", cell_str(res, i, 1));
    json_object_object_add(o, "n", json_object_new_int64(cell_i64(res, i, 2)));
    json_object_object_add(
        o, "k", PQgetisnull(res, i, 3) ? NULL : json_object_new_int64(cell_i64(res, i, 3)));
    json_object_object_add(o, "status", cell_str(res, i, 4));
    json_object_object_add(
        o, "summary", PQgetisnull(res, i, 5) ? NULL : run_summary(PQgetvalue(res, i, 5), full));
    json_object_object_add(o, "created_at", cell_str(res, i, 6));
    if (with_started)
        json_object_object_add(o, "started_at", cell_str(res, i, col++));
    json_object_object_add(o, "finished_at", cell_str(res, i, col));
    return o;
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

/* The snapshot's time, backend and counts into p->out. 0, or -1 (tx->err set). */
static int audit_counts(struct tx *tx, struct proof_tx *p)
{
    static const char *const names[] = {
        "accounts", "transfers", "entries", "lots", "bids", "holds"
    };
    PGresult *res = tx_exec_named(tx, SQL_PROOF_AUDIT_COUNTS, NULL);
    struct json_object *backend, *counts, *seal;

    if (!res)
        return -1;
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
    PQclear(res);
    /* "consistent" comes before them in the answer: a placeholder now. */
    json_object_object_add(p->out, "consistent", json_object_new_boolean(1));
    json_object_object_add(p->out, "backend", backend);
    json_object_object_add(p->out, "counts", counts);
    json_object_object_add(p->out, "seal", seal);
    return 0;
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
 * Run check c into a new JSON object (NULL, tx->err set, on a failed
 * statement). Evidence and constraint checks expect 0; a bound check's
 * statement takes its bound and says itself whether it fails.
 */
static struct json_object *audit_check(struct tx *tx, struct proof_tx *p, const struct check *c)
{
    int bound = c->kind == CHECK_BOUND;
    int64_t expected = bound ? check_bound(tx, c) : 0, full_seal = 0;
    char arg[24];
    const char *v[1] = { arg };
    PGresult *res;
    struct json_object *o;
    int64_t observed;
    int ok;

    snprintf(arg, sizeof(arg), "%" PRId64, expected);
    res = proof_budget(tx, p) < 0 ? NULL : tx_exec_named(tx, c->sql, bound ? v : NULL);
    if (!res)
        return NULL;
    observed = cell_i64(res, 0, 0);
    ok = bound ? strcmp(PQgetvalue(res, 0, 2), "f") == 0 : observed == 0;
    if (!ok)
        p->consistent = 0;
    o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(c->name));
    json_object_object_add(o, "kind", json_object_new_string(check_kind_name(c->kind)));
    json_object_object_add(o, "ok", json_object_new_boolean(ok));
    json_object_object_add(o, "observed", json_object_new_int64(observed));
    json_object_object_add(o, "expected", json_object_new_int64(expected));
    json_object_object_add(o, "description", json_object_new_string(sql_table[c->sql].doc));
    if (bound)
        full_seal = bound_extras(p, c, res, o, expected);
    json_object_object_add(o, "covers", covers_json(c, p->seal_no, full_seal));
    if (!ok && p->full && !PQgetisnull(res, 0, 1))
        json_object_object_add(o, "sample", json_object_new_string(PQgetvalue(res, 0, 1)));
    PQclear(res);
    return o;
}

/* Every check, then the recent runs, into p->out. 0, or -1 (tx->err set). */
static int audit_checks_and_runs(struct tx *tx, struct proof_tx *p)
{
    struct json_object *list = json_object_new_array(), *runs;
    PGresult *res;

    json_object_object_add(p->out, "checks", list);
    for (size_t i = 0; i < checks_count; i++) {
        struct json_object *c = audit_check(tx, p, &checks[i]);
        if (!c)
            return -1;
        json_object_array_add(list, c);
    }
    res = tx_exec_named(tx, SQL_PROOF_AUDIT_RUNS, NULL);
    if (!res)
        return -1;
    runs = json_object_new_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_object_array_add(runs, run_json(res, i, p->full, 0));
    PQclear(res);
    json_object_object_add(p->out, "stampede_runs", runs);
    return 0;
}

static enum tx_decision proof_tx(struct tx *tx, void *arg)
{
    struct proof_tx *p = arg;

    if (p->out)
        json_object_put(p->out);
    p->out = json_object_new_object();
    p->consistent = 1;
    p->timeout_ms = 0; /* a retry is a new transaction */

    /* The audit scans the whole ledger: give it more than the app role's
     * 10 s statement_timeout (what is left of its budget; proof_budget()
     * lowers it as the budget runs out), memory for its hash joins, and
     * no JIT (which costs more than it saves on these one-off plans). */
    if (tx->cfg->dialect == ZS_DIALECT_POSTGRES && set_timeout(tx, p, SQL_PROOF_AUDIT_SETTINGS) < 0)
        return TX_ERROR;
    if (audit_counts(tx, p) < 0 || audit_checks_and_runs(tx, p) < 0)
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
    struct proof_tx p = { NULL, 0, 0, 0, 0 };
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

/* ---- stampede runs ---------------------------------------------------- */

/* The scenarios scripts/stampede knows, as POST /proof/runs names them. */
static const char *const scenarios[] = { "oversell", "double-spend", "bid-war", "phantom-shares",
                                         "event-market" };

struct run_req {
    const char *scenario; /* one of scenarios[] (the request's JSON owns it) */
    int64_t n, k;
    int has_k;
};

/* Validate {scenario, n?, k?}; 422 and -1 on bad input. */
static int run_parse(struct request *r, void *req)
{
    static const char *const allowed[] = { "scenario", "n", "k", NULL };
    struct run_req *q = req;
    struct json_object *v;

    if (http_json_refuse_unknown(r, allowed) < 0)
        return -1;
    if (json_object_object_get_ex(r->json, "scenario", &v)
        && json_object_is_type(v, json_type_string))
        for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
            if (strcmp(json_object_get_string(v), scenarios[i]) == 0)
                q->scenario = scenarios[i];
    if (!q->scenario) {
        http_problem(r, 422, "invalid_scenario",
                     "\"scenario\" must be oversell, double-spend, bid-war, phantom-shares or"
                     " event-market");
        return -1;
    }
    q->n = 100;
    if (json_object_object_get_ex(r->json, "n", &v)
        && (util_json_int64(v, 1, &q->n) < 0 || q->n > 500)) {
        http_problem(r, 422, "invalid_field", "\"n\" must be an integer from 1 to 500");
        return -1;
    }
    if (json_object_object_get_ex(r->json, "k", &v) && !json_object_is_type(v, json_type_null)) {
        if (util_json_int64(v, 1, &q->k) < 0 || q->k > q->n) {
            http_problem(r, 422, "invalid_field", "\"k\" must be an integer from 1 to n");
            return -1;
        }
        q->has_k = 1;
    }
    return 0;
}

/*
 * Three round trips: BEGIN and the key claim; the queued run, returning
 * its row (the answer is built from it); the stored answer and COMMIT.
 */
static enum tx_decision run_apply(struct mutation *m, struct tx *tx, void *req)
{
    const struct run_req *q = req;
    char id[UUID_STR_LEN + 1], n[24], k[24];
    const char *p[5] = { id, q->scenario, n, q->has_k ? k : NULL, mut_caller(m) };
    struct json_object *o;
    enum tx_decision d;
    PGresult *res;

    if (!mut_begin(m, tx, NULL, 0, &d))
        return d;
    if (util_uuid_v4(id) < 0)
        return TX_ERROR;
    snprintf(n, sizeof(n), "%" PRId64, q->n);
    snprintf(k, sizeof(k), "%" PRId64, q->k);
    res = tx_exec_named(tx, SQL_PROOF_RUN_INSERT, p);
    if (!res)
        return TX_ERROR;
    o = json_object_new_object();
    json_object_object_add(o, "run", run_json(res, 0, 1, 1));
    PQclear(res);
    return mut_commit(m, tx, NULL, 0, 202, o);
}

static const struct mutation_ops run_ops = {
    .name = "stampede run",
    .req_size = sizeof(struct run_req),
    .parse = run_parse,
    .apply = run_apply,
};

void handle_proof_run_create(struct request *r)
{
    mutation_run(r, &run_ops);
}

struct run_read {
    const char *id; /* NULL: list */
    int full;       /* admin: whole summaries */
    struct json_object *out;
};

static enum tx_decision run_read_tx(struct tx *tx, void *arg)
{
    struct run_read *g = arg;
    const char *p[1] = { g->id };
    PGresult *res;

    if (g->out) {
        json_object_put(g->out);
        g->out = NULL;
    }
    res = tx_exec_named(tx, SQL_PROOF_RUN_GET, p);
    if (!res)
        return TX_ERROR;
    if (PQntuples(res) == 1)
        g->out = run_json(res, 0, g->full, 1);
    PQclear(res);
    return TX_COMMIT;
}

/* GET /proof/runs/{id}: {"run": ...} or 404. */
static void run_read(struct request *r, const char *id)
{
    struct run_read g = { id, auth_is_admin(r), NULL };
    enum tx_decision d;
    int rc = api_tx_run(r, TX_READ_ONLY, run_read_tx, &g, &d);

    api_answer_read(r, rc, g.out, "run", "run_not_found", "no such run");
}

/* Row i of a history_runs_* page; ctx points at the caller's full flag. */
static struct json_object *run_row(PGresult *res, int i, void *ctx)
{
    return run_json(res, i, *(const int *)ctx, 1);
}
/* GET /proof/runs: a cursor page of runs, newest first. */
void handle_proof_run_list(struct request *r)
{
    int full = auth_is_admin(r);
    struct page_list l = { .cursor_sql = SQL_HISTORY_RUNS_CURSOR,
                           .first_sql = SQL_HISTORY_RUNS_FIRST,
                           .after_sql = SQL_HISTORY_RUNS_AFTER,
                           .before_sql = SQL_HISTORY_RUNS_BEFORE,
                           .tx_flags = TX_READ_ONLY,
                           .row = run_row,
                           .ctx = &full };

    page_answer(r, &l, NULL);
}

void handle_proof_run_get(struct request *r)
{
    char id[UUID_STR_LEN + 1];

    if (!util_uuid_parse(r->path_params[0], id)) {
        http_problem(r, 404, "run_not_found", "no such run");
        return;
    }
    run_read(r, id);
}
