/*
 * proof_runs.c — the stampede runs: POST /proof/runs queues one, GET
 * /proof/runs lists them, GET /proof/runs/{id} shows one, and GET /proof
 * lists the recent ones (proof_run_json).
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

/* (see proof_runs.h)
 * Row i of a stampede run query as JSON: id, scenario, n, k, status,
 * summary, created_at, then started_at when with_started (the run
 * statements' columns; /proof's list has none), then finished_at.
 */
struct json_object *proof_run_json(PGresult *res, int i, int full, int with_started)
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
    json_object_object_add(o, "run", proof_run_json(res, 0, 1, 1));
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
        g->out = proof_run_json(res, 0, g->full, 1);
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
    return proof_run_json(res, i, *(const int *)ctx, 1);
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
