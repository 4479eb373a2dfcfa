/*
 * idempotency.c — claiming, finishing and replaying idempotency keys.
 */
#include "api/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/*
 * The optional members of every mutating route's body, and their defaults:
 * the fingerprint is taken over the request with its defaults applied, so
 * a member sent as null, or with its default value, is the same request as
 * one that omits it. Bodies are validated before they are fingerprinted,
 * so a null reaching here is one the handler reads as "absent". A default
 * may hold only when another member has a given value (when/is).
 * Members without an entry are compared as sent.
 */
struct idem_optional {
    const char *method, *path, *member;
    const char *when, *is; /* NULL: always; else only when member "when" is the string "is" */
    const char *dflt;      /* canonical JSON text of the default, or NULL: none */
};

static const struct idem_optional optionals[] = {
    { "POST", "/transfer", "memo", NULL, NULL, NULL },
    { "POST", "/transfer", "pending", NULL, NULL, "false" },
    { "POST", "/transfer", "timeout", NULL, NULL, "3600" }, /* only with "pending": true */
    { "POST", "/lots", "title", NULL, NULL, "\"\"" },
    { "POST", "/lots", "reserve", NULL, NULL, NULL },
    { "POST", "/lots", "snipe_window", NULL, NULL, "0" },
    { "POST", "/lots", "snipe_extend", NULL, NULL, "0" },
    { "POST", "/lots", "max_per_claim", NULL, NULL, NULL },
    { "POST", "/markets", "tick_min", NULL, NULL, "1" },
    { "POST", "/markets", "tick_max", "kind", "shares", "1000000" },
    { "POST", "/markets", "tick_max", "kind", "event", "99" },
    { "POST", "/order", "outcome", NULL, NULL, NULL },
    { "POST", "/order", "time_in_force", NULL, NULL, "\"gtc\"" },
    { "POST", "/proof/runs", "n", NULL, NULL, "100" },
    { "POST", "/proof/runs", "k", NULL, NULL, NULL },
};

/* Is body.name an optional member at its default (or null) on this route? */
static int at_default(const char *method, const char *path, struct json_object *body,
                      const char *name, struct json_object *val)
{
    int listed = 0;

    for (size_t k = 0; k < sizeof(optionals) / sizeof(optionals[0]); k++) {
        const struct idem_optional *o = &optionals[k];
        struct json_object *w;
        char *text;
        int same;

        if (strcmp(o->method, method) != 0 || strcmp(o->path, path) != 0
            || strcmp(o->member, name) != 0)
            continue;
        listed = 1;
        if (!o->dflt)
            continue;
        if (o->when
            && (!json_object_object_get_ex(body, o->when, &w)
                || !json_object_is_type(w, json_type_string)
                || strcmp(json_object_get_string(w), o->is) != 0))
            continue;
        text = util_json_canonical(val);
        same = text && strcmp(text, o->dflt) == 0;
        free(text);
        if (same)
            return 1;
    }
    return listed && json_object_is_type(val, json_type_null);
}

char *idem_canonical_request(const char *method, const char *path, struct json_object *body)
{
    struct json_object *eff = NULL;
    char *canon, *text;
    size_t n;

    if (json_object_is_type(body, json_type_object)) {
        /* The effective body: every member but those at their default. */
        eff = json_object_new_object();
        if (!eff)
            return NULL;
        json_object_object_foreach(body, name, val)
        {
            if (!at_default(method, path, body, name, val))
                json_object_object_add(eff, name, json_object_get(val));
        }
    }
    canon = util_json_canonical(eff ? eff : body);
    json_object_put(eff);
    if (!canon)
        return NULL;
    n = strlen(method) + strlen(path) + strlen(canon) + 3;
    text = malloc(n);
    if (text)
        snprintf(text, n, "%s %s\n%s", method, path, canon);
    free(canon);
    return text;
}

int idem_prepare(struct request *r, struct idem *i)
{
    char *text;

    memset(i, 0, sizeof(*i));
    if (!r->has_idempotency_key) {
        http_problem(r, 400, "missing_idempotency_key",
                     "mutations need an Idempotency-Key header (1 to 255 printable characters)");
        return -1;
    }
    snprintf(i->caller, sizeof(i->caller), "%s:%s",
             r->caller.scope == JWT_SCOPE_ADMIN ? "admin" : "user", r->caller.sub);
    i->key = r->idempotency_key;
    i->lock_wait_ms =
        r->cfg && r->cfg->dialect == ZS_DIALECT_POSTGRES ? r->cfg->idempotency_wait_ms : -1;
    snprintf(i->scoped, sizeof(i->scoped), "%s:%s", i->caller, i->key);
    text = idem_canonical_request(r->method, r->path, r->json);
    if (!text) {
        http_problem(r, 500, "internal_error", "out of memory");
        return -1;
    }
    util_sha256_hex(text, strlen(text), i->fingerprint);
    free(text);
    return 0;
}

int idem_claim_stmts(struct idem *i, struct tx_stmt *st)
{
    int n = 0;

    free(i->body);
    i->body = NULL;
    i->status = 0;
    i->now[0] = '\0';
    i->claim_params[0] = i->caller;
    i->claim_params[1] = i->key;
    i->claim_params[2] = i->fingerprint;
    if (i->lock_wait_ms >= 0) {
        /* Wait for a concurrent holder of the key only briefly: a duplicate
         * must not hold a worker while the original runs. 0 would mean
         * "wait forever" to PostgreSQL, so at least 1 ms. */
        snprintf(i->lock_wait, sizeof(i->lock_wait), "%dms",
                 i->lock_wait_ms > 0 ? i->lock_wait_ms : 1);
        i->lock_params[0] = i->lock_wait;
        st[n++] = tx_stmt_named(SQL_IDEM_WAIT_BRIEFLY, i->lock_params);
    }
    i->claim_at = n;
    st[n++] = tx_stmt_named(SQL_IDEM_CLAIM, i->claim_params);
    if (i->lock_wait_ms >= 0)
        st[n++] = tx_stmt_named(SQL_IDEM_WAIT_DEFAULT, NULL);
    i->claim_n = n;
    return n;
}

int idem_claim_timed_out(struct tx *tx, struct idem *i)
{
    if (i->lock_wait_ms < 0 || strcmp(tx->sqlstate, "55P03") != 0 || tx->err_stmt != i->claim_at)
        return 0;
    if (!tx->err_context) {
        /* The claim waited on no key holder (a wait for another
         * transaction's row comes with a context): a table or
         * relation-extension lock held past the brief wait, say. The key
         * may well be new: never answer it "in flight"; run it again. */
        tx->err = DB_RETRYABLE;
        return 0;
    }
    i->outcome = IDEM_IN_FLIGHT;
    return 1;
}

int idem_claim_result(struct tx *tx, struct idem *i, struct tx_stmt *st)
{
    const char *params[2] = { i->caller, i->key };
    PGresult *res = st[i->claim_at].res;

    for (int k = 0; k < i->claim_n; k++)
        if (k != i->claim_at) {
            PQclear(st[k].res); /* the SETs' results */
            st[k].res = NULL;
        }
    st[i->claim_at].res = NULL;
    if (PQntuples(res) == 1) {
        snprintf(i->now, sizeof(i->now), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        i->outcome = IDEM_NEW;
        return 0;
    }
    PQclear(res);
    res = tx_exec_named(tx, SQL_IDEM_LOOKUP, params);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        /* Purged between the two statements: treat like a conflict to retry. */
        PQclear(res);
        tx->err = DB_RETRYABLE;
        snprintf(tx->sqlstate, sizeof(tx->sqlstate), "40001");
        return -1;
    }
    if (strcmp(PQgetvalue(res, 0, 0), i->fingerprint) != 0) {
        i->outcome = IDEM_MISMATCH;
    } else if (strcmp(PQgetvalue(res, 0, 1), "done") != 0) {
        i->outcome = IDEM_PENDING;
    } else {
        i->outcome = IDEM_REPLAY;
        i->status = atoi(PQgetvalue(res, 0, 2));
        i->body = strdup(PQgetvalue(res, 0, 3));
        if (!i->body) {
            PQclear(res);
            tx->err = DB_FAILED;
            return -1;
        }
    }
    PQclear(res);
    return 0;
}

int idem_claim(struct tx *tx, struct idem *i)
{
    struct tx_stmt st[IDEM_CLAIM_STMTS];
    int n = idem_claim_stmts(i, st);

    if (tx_exec_many(tx, st, n, 0) < 0)
        return idem_claim_timed_out(tx, i) ? 0 : -1;
    return idem_claim_result(tx, i, st);
}

void idem_finish_stmt(struct idem *i, int status, const char *body, struct tx_stmt *st)
{
    snprintf(i->finish_status, sizeof(i->finish_status), "%d", status);
    i->finish_params[0] = i->caller;
    i->finish_params[1] = i->key;
    i->finish_params[2] = i->finish_status;
    i->finish_params[3] = body;
    *st = tx_stmt_named(SQL_IDEM_FINISH, i->finish_params);
}

int idem_finish(struct tx *tx, struct idem *i, int status, const char *body)
{
    struct tx_stmt st;

    idem_finish_stmt(i, status, body, &st);
    if (tx_exec_many(tx, &st, 1, 0) < 0)
        return -1;
    PQclear(st.res);
    return 0;
}

void idem_respond(struct request *r, const struct idem *i)
{
    char hdr[64];
    const char *ct;

    switch (i->outcome) {
    case IDEM_REPLAY:
        ct = i->status >= 400 ? "application/problem+json" : "application/json";
        http_respond_raw(r, i->status, ct, i->body, strlen(i->body),
                         "Idempotent-Replayed: true\r\n");
        return;
    case IDEM_IN_FLIGHT:
    case IDEM_PENDING:
        snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", r->cfg->retry_after);
        http_problem_h(r, 409, "idempotency_key_in_flight", hdr,
                       "a request with this Idempotency-Key is still being processed");
        return;
    case IDEM_MISMATCH:
        http_problem(r, 422, "idempotency_key_reused",
                     "this Idempotency-Key was used with a different request");
        return;
    case IDEM_NEW:
        break;
    }
    http_problem(r, 500, "internal_error", "the server could not complete the request");
}

void idem_answer(struct request *r, enum tx_decision d, const struct idem *i, int status,
                 const char *body)
{
    if (d == TX_ROLLBACK && !body)
        idem_respond(r, i);
    else
        http_respond_raw(r, status, status >= 400 ? "application/problem+json" : "application/json",
                         body, strlen(body), "");
}

void idem_free(struct idem *i)
{
    free(i->body);
    i->body = NULL;
}
