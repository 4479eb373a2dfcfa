/*
 * accounts.c — POST /accounts (admin), GET /accounts/issuer (admin),
 * GET /accounts/{id} (owner or admin); its history is api/history.c.
 *
 * Accounts are created empty; money arrives only as a transfer from the
 * issuer, so every unit is explained by the ledger.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/accounts.h"
#include "api/api_tx.h"
#include "api/auth.h"
#include "store/db.h"
#include "api/mutation.h"
#include "domain/ledger.h"
#include "api/routes.h"
#include "api/rows.h"
#include "util.h"

/* {"id","name","kind","balance","held","available","credit_limit","created_at"}. */
static struct json_object *account_object(const char *id, const char *name, const char *kind,
                                          int64_t balance, int64_t held, int64_t credit_limit,
                                          const char *created_at)
{
    struct json_object *a = json_object_new_object();
    struct ledger_account acc = { .balance = balance, .held = held };

    json_object_object_add(a, "id", json_object_new_string(id));
    json_object_object_add(a, "name", json_object_new_string(name));
    json_object_object_add(a, "kind", json_object_new_string(kind));
    json_object_object_add(a, "balance", json_object_new_int64(balance));
    json_object_object_add(a, "held", json_object_new_int64(held));
    json_object_object_add(a, "available", json_object_new_int64(ledger_available(&acc)));
    json_object_object_add(a, "credit_limit", json_object_new_int64(credit_limit));
    json_object_object_add(a, "created_at", json_object_new_string(created_at));
    return a;
}

struct json_object *account_json(PGresult *res, int row)
{
    return account_object(PQgetvalue(res, row, 0), PQgetvalue(res, row, 1), PQgetvalue(res, row, 2),
                          strtoll(PQgetvalue(res, row, 3), NULL, 10),
                          strtoll(PQgetvalue(res, row, 4), NULL, 10),
                          strtoll(PQgetvalue(res, row, 6), NULL, 10), PQgetvalue(res, row, 5));
}

/* ---- POST /accounts ---------------------------------------------------- */

struct create_req {
    const char *name; /* 1 to 100 bytes, owned by the request's JSON */
};

/* {"name": string of 1 to 100 bytes} and nothing else; answers 422 if not. */
static int create_parse(struct request *r, void *req)
{
    static const char *const allowed[] = { "name", NULL };
    struct create_req *q = req;
    struct json_object *v;
    const char *name;

    if (http_json_refuse_unknown(r, allowed) < 0)
        return -1;
    if (!json_object_object_get_ex(r->json, "name", &v)) {
        http_problem(r, 422, "missing_field", "\"name\" is required");
        return -1;
    }
    name = json_object_get_string(v);
    if (!json_object_is_type(v, json_type_string) || strlen(name) == 0 || strlen(name) > 100) {
        http_problem(r, 422, "invalid_name", "\"name\" must be a string of 1 to 100 bytes");
        return -1;
    }
    q->name = name;
    return 0;
}

/*
 * Two round trips: BEGIN and the key claim (returning now()), then the
 * INSERT, the stored answer and COMMIT. The answer is known before the
 * INSERT runs: a new account is empty, of kind user, and its created_at is
 * the transaction's now(), which the claim returned.
 */
static enum tx_decision create_apply(struct mutation *m, struct tx *tx, void *req)
{
    const struct create_req *q = req;
    char id[UUID_STR_LEN + 1]; /* sent by mut_commit(), before this returns */
    const char *p[2] = { id, q->name };
    struct tx_stmt st[1] = { tx_stmt_named(SQL_ACCOUNT_CREATE, p) };
    struct json_object *o;
    enum tx_decision d;

    if (!mut_begin(m, tx, NULL, 0, &d))
        return d;
    if (util_uuid_v4(id) < 0)
        return TX_ERROR;
    o = json_object_new_object();
    json_object_object_add(
        o, "account",
        account_object(id, q->name, ledger_kind_name(LEDGER_KIND_USER), 0, 0, 0, mut_now(m)));
    return mut_commit(m, tx, st, 1, 201, o);
}

static const struct mutation_ops create_ops = {
    .name = "account_create",
    .req_size = sizeof(struct create_req),
    .parse = create_parse,
    .apply = create_apply,
};

void handle_account_create(struct request *r)
{
    mutation_run(r, &create_ops);
}

/* ---- GET /accounts/{id}, /accounts/issuer ---------------------------------- */

struct get_tx {
    const char *id;
    struct json_object *out;
};

static enum tx_decision get_tx(struct tx *tx, void *arg)
{
    struct get_tx *g = arg;
    const char *p[1] = { g->id };
    PGresult *res;

    if (g->out) {
        json_object_put(g->out);
        g->out = NULL;
    }
    res = tx_exec_named(tx, SQL_ACCOUNT_GET, p);
    if (!res)
        return TX_ERROR;
    if (PQntuples(res) == 1)
        g->out = account_json(res, 0);
    PQclear(res);
    return TX_COMMIT;
}

static void answer_account(struct request *r, const char *id)
{
    struct get_tx g = { id, NULL };
    enum tx_decision d;

    int rc = api_tx_run(r, TX_READ_ONLY, get_tx, &g, &d);

    /* tx_run first: the transaction fills the output */
    api_answer_read(r, rc, g.out, "account", "account_not_found", "no such account");
}

int accounts_readable(struct request *r, char id[UUID_STR_LEN + 1])
{
    if (!util_uuid_parse(r->path_params[0], id)
        || (!auth_is_admin(r) && strcmp(r->caller.sub, id) != 0)) {
        http_problem(r, 404, "account_not_found", "no such account");
        return -1;
    }
    return 0;
}

void handle_account_get(struct request *r)
{
    char id[UUID_STR_LEN + 1];

    if (accounts_readable(r, id) == 0)
        answer_account(r, id);
}

void handle_account_issuer(struct request *r)
{
    answer_account(r, LEDGER_ISSUER_ID);
}
