/*
 * accounts.c — POST /accounts (admin), GET /accounts/issuer (admin),
 * GET /accounts/{id} and GET /accounts/{id}/entries (owner or admin).
 *
 * Accounts are created empty; money arrives only as a transfer from the
 * issuer, so every unit is explained by the ledger.
 */
#include <ctype.h>
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

#define ENTRIES_LIMIT_DEFAULT 50
#define ENTRIES_LIMIT_MAX 500

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

/* Parse {id} and check the caller may read it; answers and returns -1 if
 * not. Someone else's account is answered exactly as a missing one. */
static int readable_account(struct request *r, char id[UUID_STR_LEN + 1])
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

    if (readable_account(r, id) == 0)
        answer_account(r, id);
}

void handle_account_issuer(struct request *r)
{
    answer_account(r, LEDGER_ISSUER_ID);
}

/* ---- GET /accounts/{id}/entries?limit=&after= ------------------------------ */

struct entries_tx {
    const char *id;
    const char *after; /* entry id cursor, or NULL */
    int limit;
    int found; /* the account exists */
    int bad_cursor;
    struct json_object *list;
    char next[UUID_STR_LEN + 1];
};

/* The columns of account_entries. */
static const struct row_col entry_cols[] = {
    { "id", ROW_TEXT },         { "transfer_id", ROW_TEXT }, { "amount", ROW_I64 },
    { "created_at", ROW_TEXT }, { "kind", ROW_TEXT },        { "counterparty", ROW_TEXT },
};

static enum tx_decision entries_tx(struct tx *tx, void *arg)
{
    struct entries_tx *e = arg;
    char lim[16];
    PGresult *res;

    if (e->list) {
        json_object_put(e->list);
        e->list = NULL;
    }
    e->next[0] = '\0';
    e->found = 0;
    e->bad_cursor = 0;
    {
        const char *p[1] = { e->id };
        res = tx_exec_named(tx, SQL_ACCOUNT_EXISTS, p);
        if (!res)
            return TX_ERROR;
        e->found = PQntuples(res) == 1;
        PQclear(res);
        if (!e->found)
            return TX_COMMIT;
    }
    if (e->after) {
        const char *p[2] = { e->after, e->id };
        res = tx_exec_named(tx, SQL_ACCOUNT_ENTRY_OF, p);
        if (!res)
            return TX_ERROR;
        e->bad_cursor = PQntuples(res) != 1;
        PQclear(res);
        if (e->bad_cursor)
            return TX_COMMIT;
    }
    snprintf(lim, sizeof(lim), "%d", e->limit + 1);
    {
        const char *p[3] = { e->id, lim, e->after };
        res = tx_exec_named(tx, SQL_ACCOUNT_ENTRIES, p);
    }
    if (!res)
        return TX_ERROR;
    e->list = rows_array(res, entry_cols, ROW_COLS(entry_cols), e->limit);
    if (PQntuples(res) > e->limit && e->limit > 0)
        snprintf(e->next, sizeof(e->next), "%s", PQgetvalue(res, e->limit - 1, 0));
    PQclear(res);
    return TX_COMMIT;
}

void handle_account_entries(struct request *r)
{
    char id[UUID_STR_LEN + 1], buf[64], after[UUID_STR_LEN + 1];
    struct entries_tx e;
    enum tx_decision d;
    struct json_object *o;
    int rc;

    if (readable_account(r, id) < 0)
        return;
    memset(&e, 0, sizeof(e));
    e.id = id;
    e.limit = ENTRIES_LIMIT_DEFAULT;
    rc = http_query_param(r, "limit", buf, sizeof(buf));
    if (rc != 0) {
        char *end;
        long n = rc > 0 ? strtol(buf, &end, 10) : 0;
        /* digits only: strtol alone would take " 5" (and "+5", a '+' being a space) */
        if (rc < 0 || !isdigit((unsigned char)buf[0]) || *end || n < 1 || n > ENTRIES_LIMIT_MAX) {
            http_problem(r, 400, "invalid_limit", "limit must be an integer from 1 to %d",
                         ENTRIES_LIMIT_MAX);
            return;
        }
        e.limit = (int)n;
    }
    rc = http_query_param(r, "after", buf, sizeof(buf));
    if (rc != 0) {
        if (rc < 0 || !util_uuid_parse(buf, after)) {
            http_problem(r, 400, "invalid_cursor", "after must be an entry id from \"next\"");
            return;
        }
        e.after = after;
    }
    if (api_tx_run(r, TX_READ_ONLY | TX_SNAPSHOT, entries_tx, &e, &d) < 0) {
        if (e.list)
            json_object_put(e.list);
        return;
    }
    if (!e.found) {
        http_problem(r, 404, "account_not_found", "no such account");
        return;
    }
    if (e.bad_cursor) {
        http_problem(r, 400, "invalid_cursor", "after must be an entry id of this account");
        return;
    }
    o = json_object_new_object();
    json_object_object_add(o, "entries", e.list);
    json_object_object_add(o, "next", e.next[0] ? json_object_new_string(e.next) : NULL);
    http_respond_json(r, 200, o, NULL);
}
