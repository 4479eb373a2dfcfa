/*
 * webhooks.c — POST /webhooks, GET /webhooks, DELETE /webhooks/{id},
 * GET /webhooks/{id}/deliveries (admin). Deliveries: domain/webhook.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "api/api_tx.h"
#include "api/mutation.h"
#include "api/routes.h"
#include "httpc.h"
#include "util.h"

#define EVENTS_MAX 32

struct create_req {
    const char *url;
    char events[2048]; /* space-separated, or "*" */
    struct json_object *types;
};

/* A dotted lowercase event type ("transfer.created"), or "*". */
static int type_valid(const char *s)
{
    size_t n = strlen(s);
    int dots = 0;

    if (strcmp(s, "*") == 0)
        return 1;
    if (n < 3 || n > 64 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.')
                return 0;
            dots++;
        } else if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_')) {
            return 0;
        }
    }
    return dots > 0;
}

/* The "events" member into q->events; 0, or -1 after answering 422. */
static int parse_events(struct request *r, struct create_req *q, struct json_object *v)
{
    size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    size_t used = 0;
    int star = 0;

    if (n == 0 || n > EVENTS_MAX)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        struct json_object *t = json_object_array_get_idx(v, i);
        const char *s = json_object_is_type(t, json_type_string) ? json_object_get_string(t) : "";
        if (!type_valid(s))
            goto bad;
        star |= strcmp(s, "*") == 0;
        used += (size_t)snprintf(q->events + used, sizeof(q->events) - used, "%s%s",
                                 used ? " " : "", s);
    }
    if (star)
        snprintf(q->events, sizeof(q->events), "*");
    q->types = v;
    return 0;
bad:
    http_problem(r, 422, "invalid_events",
                 "\"events\" must be 1 to %d event types (\"transfer.created\", …) or [\"*\"]",
                 EVENTS_MAX);
    return -1;
}

/* {"url": http(s) URL, "events": [types]}; answers 422 if not. */
static int create_parse(struct request *r, void *req)
{
    static const char *const allowed[] = { "url", "events", NULL };
    struct create_req *q = req;
    struct httpc_url u;
    struct json_object *v;

    if (http_json_refuse_unknown(r, allowed) < 0)
        return -1;
    if (!json_object_object_get_ex(r->json, "url", &v) || !json_object_is_type(v, json_type_string)
        || strlen(json_object_get_string(v)) > 1000
        || httpc_url_parse(json_object_get_string(v), &u) < 0) {
        http_problem(r, 422, "invalid_url",
                     "\"url\" must be an http:// or https:// URL of at most 1000 bytes");
        return -1;
    }
    q->url = json_object_get_string(v);
    if (!json_object_object_get_ex(r->json, "events", &v)) {
        http_problem(r, 422, "missing_field", "\"events\" is required");
        return -1;
    }
    return parse_events(r, q, v);
}

/* The endpoint as the API shows it (never its secret). */
static struct json_object *hook_json(const char *id, const char *url, const char *events,
                                     const char *created_at)
{
    struct json_object *o = json_object_new_object(), *a = json_object_new_array();
    char buf[2048], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", events);
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
        json_object_array_add(a, json_object_new_string(t));
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "url", json_object_new_string(url));
    json_object_object_add(o, "events", a);
    json_object_object_add(o, "created_at", json_object_new_string(created_at));
    return o;
}

/* Two round trips: BEGIN and the key claim, then the endpoint, the stored answer and COMMIT. */
static enum tx_decision create_apply(struct mutation *m, struct tx *tx, void *req)
{
    const struct create_req *q = req;
    unsigned char raw[32];
    char id[UUID_STR_LEN + 1], secret[8 + 2 * sizeof(raw)];
    const char *p[5] = { id, q->url, q->events, secret, mut_caller(m) };
    struct tx_stmt st[1] = { tx_stmt_named(SQL_WEBHOOK_CREATE, p) };
    struct json_object *o, *hook;
    enum tx_decision d;

    if (!mut_begin(m, tx, NULL, 0, &d))
        return d;
    if (util_uuid_v4(id) < 0 || RAND_bytes(raw, sizeof(raw)) != 1)
        return TX_ERROR;
    memcpy(secret, "whsec_", 6);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(secret + 6 + 2 * i, 3, "%02x", raw[i]);
    hook = hook_json(id, q->url, q->events, mut_now(m));
    /* the signing secret, in this answer only */
    json_object_object_add(hook, "secret", json_object_new_string(secret));
    o = json_object_new_object();
    json_object_object_add(o, "webhook", hook);
    return mut_commit(m, tx, st, 1, 201, o);
}

static const struct mutation_ops create_ops = {
    .name = "webhook_create",
    .req_size = sizeof(struct create_req),
    .parse = create_parse,
    .apply = create_apply,
};

void handle_webhook_create(struct request *r)
{
    mutation_run(r, &create_ops);
}

/* ---- GET /webhooks ------------------------------------------------------------ */

static enum tx_decision list_tx(struct tx *tx, void *arg)
{
    struct json_object **out = arg;
    PGresult *res = tx_exec_named(tx, SQL_WEBHOOK_LIST, NULL);

    if (*out)
        json_object_put(*out);
    *out = NULL;
    if (!res)
        return TX_ERROR;
    *out = json_object_new_array();
    for (int i = 0; i < PQntuples(res); i++) {
        struct json_object *h = hook_json(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                                          PQgetvalue(res, i, 2), PQgetvalue(res, i, 5));
        json_object_object_add(h, "cursor",
                               json_object_new_int64(strtoll(PQgetvalue(res, i, 3), NULL, 10)));
        json_object_object_add(h, "failed_attempts",
                               json_object_new_int(atoi(PQgetvalue(res, i, 4))));
        json_object_object_add(h, "next_attempt_at", json_object_new_string(PQgetvalue(res, i, 6)));
        json_object_array_add(*out, h);
    }
    PQclear(res);
    return TX_COMMIT;
}

void handle_webhook_list(struct request *r)
{
    struct json_object *list = NULL, *o;
    enum tx_decision d;

    if (api_tx_run(r, TX_READ_ONLY, list_tx, &list, &d) < 0) {
        if (list)
            json_object_put(list);
        return;
    }
    o = json_object_new_object();
    json_object_object_add(o, "webhooks", list);
    http_respond_json(r, 200, o, NULL);
}

/* ---- DELETE /webhooks/{id} ----------------------------------------------------- */

struct delete_req {
    char id[UUID_STR_LEN + 1];
};

static int delete_parse(struct request *r, void *req)
{
    struct delete_req *q = req;

    if (!util_uuid_parse(r->path_params[0], q->id)) {
        http_problem(r, 404, "webhook_not_found", "no such webhook");
        return -1;
    }
    return 0;
}

/* Two round trips: BEGIN, the key claim and the delete; then the stored answer and COMMIT. */
static enum tx_decision delete_apply(struct mutation *m, struct tx *tx, void *req)
{
    const struct delete_req *q = req;
    const char *p[1] = { q->id };
    struct tx_stmt st[1] = { tx_stmt_named(SQL_WEBHOOK_DELETE, p) };
    struct json_object *o, *h;
    enum tx_decision d;
    int found;

    if (!mut_begin(m, tx, st, 1, &d))
        return d;
    found = PQntuples(st[0].res) == 1;
    PQclear(st[0].res);
    if (!found)
        return mut_refuse(m, tx, MUT_STORED, 404, "webhook_not_found", NULL, "no such webhook");
    o = json_object_new_object();
    h = json_object_new_object();
    json_object_object_add(h, "id", json_object_new_string(q->id));
    json_object_object_add(h, "deleted", json_object_new_boolean(1));
    json_object_object_add(o, "webhook", h);
    return mut_commit(m, tx, NULL, 0, 200, o);
}

static const struct mutation_ops delete_ops = {
    .name = "webhook_delete",
    .req_size = sizeof(struct delete_req),
    .parse = delete_parse,
    .apply = delete_apply,
};

void handle_webhook_delete(struct request *r)
{
    mutation_run(r, &delete_ops);
}

/* ---- GET /webhooks/{id}/deliveries ---------------------------------------------- */

struct deliveries_tx {
    const char *id;
    struct json_object *out; /* NULL: no such endpoint */
};

static enum tx_decision deliveries_tx(struct tx *tx, void *arg)
{
    struct deliveries_tx *g = arg;
    const char *p[2] = { g->id, "100" };
    struct tx_stmt st[2] = { tx_stmt_named(SQL_WEBHOOK_EXISTS, p),
                             tx_stmt_named(SQL_WEBHOOK_DELIVERIES, p) };

    if (g->out)
        json_object_put(g->out);
    g->out = NULL;
    if (tx_exec_many(tx, st, 2, 0) < 0)
        return TX_ERROR;
    if (PQntuples(st[0].res) == 1) {
        PGresult *res = st[1].res;
        g->out = json_object_new_array();
        for (int i = 0; i < PQntuples(res); i++) {
            struct json_object *a = json_object_new_object();
            json_object_object_add(a, "event_id",
                                   json_object_new_int64(strtoll(PQgetvalue(res, i, 0), NULL, 10)));
            json_object_object_add(a, "type", json_object_new_string(PQgetvalue(res, i, 1)));
            json_object_object_add(a, "attempt", json_object_new_int(atoi(PQgetvalue(res, i, 2))));
            json_object_object_add(a, "outcome", json_object_new_string(PQgetvalue(res, i, 3)));
            json_object_object_add(
                a, "status",
                PQgetisnull(res, i, 4) ? NULL : json_object_new_int(atoi(PQgetvalue(res, i, 4))));
            json_object_object_add(
                a, "error",
                PQgetisnull(res, i, 5) ? NULL : json_object_new_string(PQgetvalue(res, i, 5)));
            json_object_object_add(a, "duration_ms",
                                   json_object_new_int(atoi(PQgetvalue(res, i, 6))));
            json_object_object_add(a, "at", json_object_new_string(PQgetvalue(res, i, 7)));
            json_object_array_add(g->out, a);
        }
    }
    PQclear(st[0].res);
    PQclear(st[1].res);
    return TX_COMMIT;
}

void handle_webhook_deliveries(struct request *r)
{
    char id[UUID_STR_LEN + 1];
    struct deliveries_tx g = { id, NULL };
    struct json_object *o;
    enum tx_decision d;

    if (!util_uuid_parse(r->path_params[0], id)) {
        http_problem(r, 404, "webhook_not_found", "no such webhook");
        return;
    }
    if (api_tx_run(r, TX_READ_ONLY, deliveries_tx, &g, &d) < 0) {
        if (g.out)
            json_object_put(g.out);
        return;
    }
    if (!g.out) {
        http_problem(r, 404, "webhook_not_found", "no such webhook");
        return;
    }
    o = json_object_new_object();
    json_object_object_add(o, "deliveries", g.out);
    http_respond_json(r, 200, o, NULL);
}
