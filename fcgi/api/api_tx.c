/*
 * api_tx.c — a request's transactions and the answers to store failures
 * (see api_tx.h).
 */
#include "api/api_tx.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/auth.h"

void api_tx_session(struct request *r, struct db_session *s, char iat[24])
{
    db_session_init(s, r->cfg, r->request_id, r->endpoint);
    s->start = r->start;
    if (auth_revocation_params(r, s->preamble_values, iat)) {
        s->has_preamble = 1;
        s->preamble = SQL_AUTH_TOKEN_REVOKED;
    }
}

int api_tx_answer(struct request *r, enum tx_result res, const struct db_session *s)
{
    char hdr[64];

    snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", r->cfg->retry_after);
    switch (res) {
    case TX_RESULT_DONE:
        return 0;
    case TX_RESULT_UNAVAILABLE:
        http_problem_h(r, 503, "database_unavailable", hdr,
                       "the database is not reachable right now; retry later");
        break;
    case TX_RESULT_CONTENTION:
        http_problem_h(r, 503, "contention", hdr,
                       "the transaction kept conflicting with others; retry later");
        break;
    case TX_RESULT_PREAMBLE:
        if (strcmp(s->sqlstate, AUTH_REVOKED_SQLSTATE) == 0)
            auth_answer_revoked(r);
        else
            http_problem(r, 500, "internal_error", "the server could not complete the request");
        break;
    case TX_RESULT_FAILED:
        if (strcmp(s->sqlstate, "22003") == 0)
            http_problem(r, 422, "amount_out_of_range",
                         "an amount or a sum it makes is outside the representable range");
        else
            http_problem(r, 500, "internal_error", "the server could not complete the request");
        break;
    }
    return -1;
}

int api_tx_run(struct request *r, int flags, tx_fn fn, void *arg, enum tx_decision *decision)
{
    struct db_session s;
    char iat[24];
    enum tx_result res;

    api_tx_session(r, &s, iat);
    res = tx_run(&s, flags, fn, arg, decision);
    r->attempts += s.attempts;
    return api_tx_answer(r, res, &s);
}

void api_answer_read(struct request *r, int rc, struct json_object *out, const char *key,
                     const char *missing_code, const char *missing_detail)
{
    struct json_object *o;

    if (rc < 0) {
        json_object_put(out); /* json_object_put(NULL) is a no-op */
        return;
    }
    if (!out) {
        http_problem(r, 404, missing_code, "%s", missing_detail);
        return;
    }
    if (!key) {
        http_respond_json(r, 200, out, NULL);
        return;
    }
    o = json_object_new_object();
    json_object_object_add(o, key, out);
    http_respond_json(r, 200, o, NULL);
}
