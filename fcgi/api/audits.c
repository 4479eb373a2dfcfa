/*
 * audits.c — POST /proof/audits (an admin queues a full re-verification
 * pass now; the jobs child runs it, domain/fullpass.h) and
 * GET /proof/audits/{id} (its progress and verdict).
 *
 * Who learns what follows the stampede runs' rule (api/proof.c): anybody may
 * read a pass; the ids a failed check names ("sample") and who asked go to
 * admins only, everyone else gets the status, the counts and the check's
 * name.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_tx.h"
#include "api/auth.h"
#include "api/mutation.h"
#include "api/routes.h"
#include "store/db.h"
#include "util.h"

/* Columns of audit_insert / audit_get (the audit_columns fragment). */
enum {
    AC_ID,
    AC_STATUS,
    AC_REQUESTED_BY,
    AC_SEAL_NO,
    AC_TREE_SIZE,
    AC_ROWS_READ,
    AC_FAILED_CHECK,
    AC_SAMPLE,
    AC_DETAIL,
    AC_CREATED_AT,
    AC_STARTED_AT,
    AC_FINISHED_AT,
};

static struct json_object *cell_str(const PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? NULL : json_object_new_string(PQgetvalue(res, 0, col));
}

static struct json_object *cell_int(const PGresult *res, int col)
{
    return PQgetisnull(res, 0, col)
        ? NULL
        : json_object_new_int64(strtoll(PQgetvalue(res, 0, col), NULL, 10));
}

/* The pass in row 0 of res as JSON; full: with sample and requested_by. */
static struct json_object *audit_json(const PGresult *res, int full)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "id", cell_str(res, AC_ID));
    json_object_object_add(o, "status", cell_str(res, AC_STATUS));
    if (full)
        json_object_object_add(o, "requested_by", cell_str(res, AC_REQUESTED_BY));
    json_object_object_add(o, "seal_no", cell_int(res, AC_SEAL_NO));
    json_object_object_add(o, "tree_size", cell_int(res, AC_TREE_SIZE));
    json_object_object_add(o, "rows_read", cell_int(res, AC_ROWS_READ));
    json_object_object_add(o, "failed_check", cell_str(res, AC_FAILED_CHECK));
    if (full)
        json_object_object_add(o, "sample", cell_str(res, AC_SAMPLE));
    json_object_object_add(o, "detail", cell_str(res, AC_DETAIL));
    json_object_object_add(o, "created_at", cell_str(res, AC_CREATED_AT));
    json_object_object_add(o, "started_at", cell_str(res, AC_STARTED_AT));
    json_object_object_add(o, "finished_at", cell_str(res, AC_FINISHED_AT));
    return o;
}

/* The body is an empty JSON object: there is nothing to choose. */
static int audit_parse(struct request *r, void *req)
{
    static const char *const allowed[] = { NULL };

    (void)req;
    return http_json_refuse_unknown(r, allowed);
}

/* Three round trips: BEGIN and the key claim; the queued pass; the stored answer and COMMIT. */
static enum tx_decision audit_apply(struct mutation *m, struct tx *tx, void *req)
{
    char id[UUID_STR_LEN + 1];
    const char *p[2] = { id, mut_caller(m) };
    struct json_object *o;
    enum tx_decision d;
    PGresult *res;

    (void)req;
    if (!mut_begin(m, tx, NULL, 0, &d))
        return d;
    if (util_uuid_v4(id) < 0)
        return TX_ERROR;
    res = tx_exec_named(tx, SQL_AUDIT_INSERT, p);
    if (!res)
        return TX_ERROR;
    o = json_object_new_object();
    json_object_object_add(o, "audit", audit_json(res, 1));
    PQclear(res);
    return mut_commit(m, tx, NULL, 0, 202, o);
}

static const struct mutation_ops audit_ops = {
    .name = "full audit",
    .req_size = 1,
    .parse = audit_parse,
    .apply = audit_apply,
};

void handle_proof_audit_create(struct request *r)
{
    mutation_run(r, &audit_ops);
}

struct audit_read {
    const char *id;
    int full;
    struct json_object *out;
};

static enum tx_decision audit_read_tx(struct tx *tx, void *arg)
{
    struct audit_read *g = arg;
    const char *p[1] = { g->id };
    PGresult *res;

    if (g->out) {
        json_object_put(g->out);
        g->out = NULL;
    }
    res = tx_exec_named(tx, SQL_AUDIT_GET, p);
    if (!res)
        return TX_ERROR;
    if (PQntuples(res) == 1)
        g->out = audit_json(res, g->full);
    PQclear(res);
    return TX_COMMIT;
}

void handle_proof_audit_get(struct request *r)
{
    char id[UUID_STR_LEN + 1];
    struct audit_read g = { id, 0, NULL };
    enum tx_decision d;
    int rc;

    if (!util_uuid_parse(r->path_params[0], id)) {
        http_problem(r, 404, "audit_not_found", "no such full audit");
        return;
    }
    g.full = auth_is_admin(r);
    rc = api_tx_run(r, TX_READ_ONLY, audit_read_tx, &g, &d);
    api_answer_read(r, rc, g.out, "audit", "audit_not_found", "no such full audit");
}
