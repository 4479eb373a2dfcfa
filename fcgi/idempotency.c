/*
 * idempotency.c — claiming, finishing and replaying idempotency keys.
 */
#include "idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int idem_prepare(struct request *r, struct idem *i)
{
    char *canon, *text;
    size_t n;

    memset(i, 0, sizeof(*i));
    if (!r->has_idempotency_key) {
        http_problem(r, 400, "missing_idempotency_key",
                     "mutations need an Idempotency-Key header (1 to 255 printable characters)");
        return -1;
    }
    snprintf(i->caller, sizeof(i->caller), "%s:%s",
             r->caller.scope == JWT_SCOPE_ADMIN ? "admin" : "user", r->caller.sub);
    i->key = r->idempotency_key;
    snprintf(i->scoped, sizeof(i->scoped), "%s:%s", i->caller, i->key);
    canon = util_json_canonical(r->json);
    if (!canon) {
        http_problem(r, 500, "internal_error", "out of memory");
        return -1;
    }
    n = strlen(r->method) + strlen(r->path) + strlen(canon) + 3;
    text = malloc(n);
    if (!text) {
        free(canon);
        http_problem(r, 500, "internal_error", "out of memory");
        return -1;
    }
    snprintf(text, n, "%s %s\n%s", r->method, r->path, canon);
    util_sha256_hex(text, strlen(text), i->fingerprint);
    free(text);
    free(canon);
    return 0;
}

void idem_claim_stmt(struct idem *i, struct tx_stmt *st)
{
    free(i->body);
    i->body = NULL;
    i->status = 0;
    i->now[0] = '\0';
    i->claim_params[0] = i->caller;
    i->claim_params[1] = i->key;
    i->claim_params[2] = i->fingerprint;
    st->sql = "INSERT INTO idempotency_keys (caller, key, fingerprint, state)"
              " VALUES ($1, $2, $3, 'pending')"
              " ON CONFLICT (caller, key) DO NOTHING"
              " RETURNING to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
    st->nparams = 3;
    st->values = i->claim_params;
    st->res = NULL;
}

int idem_claim_result(struct tx *tx, struct idem *i, PGresult *res)
{
    const char *params[2] = { i->caller, i->key };

    if (PQntuples(res) == 1) {
        snprintf(i->now, sizeof(i->now), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        i->outcome = IDEM_NEW;
        return 0;
    }
    PQclear(res);
    res = tx_exec(tx,
                  "SELECT fingerprint, state, status, body FROM idempotency_keys"
                  " WHERE caller = $1 AND key = $2",
                  2, params);
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
        i->outcome = IDEM_IN_FLIGHT;
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
    struct tx_stmt st;

    idem_claim_stmt(i, &st);
    if (tx_exec_many(tx, &st, 1, 0) < 0)
        return -1;
    return idem_claim_result(tx, i, st.res);
}

void idem_finish_stmt(struct idem *i, int status, const char *body, struct tx_stmt *st)
{
    snprintf(i->finish_status, sizeof(i->finish_status), "%d", status);
    i->finish_params[0] = i->caller;
    i->finish_params[1] = i->key;
    i->finish_params[2] = i->finish_status;
    i->finish_params[3] = body;
    st->sql = "UPDATE idempotency_keys SET state = 'done', status = $3::int, body = $4"
              " WHERE caller = $1 AND key = $2";
    st->nparams = 4;
    st->values = i->finish_params;
    st->res = NULL;
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
