/*
 * health.c — GET /healthz (a real database round trip) and GET /metrics.
 */
#include <stdlib.h>

#include "store/db.h"
#include "metrics.h"
#include "api/api_tx.h"
#include "api/routes.h"

static enum tx_decision ping(struct tx *tx, void *arg)
{
    PGresult *res = tx_exec_named(tx, SQL_HEALTH_PING, NULL);

    (void)arg;
    if (!res)
        return TX_ERROR;
    PQclear(res);
    return TX_COMMIT;
}

void handle_healthz(struct request *r)
{
    enum tx_decision d;
    struct json_object *o;

    if (api_tx_run(r, TX_READ_ONLY, ping, NULL, &d) < 0)
        return; /* 503 database_unavailable already sent */
    o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("ok"));
    json_object_object_add(o, "policy",
                           json_object_new_string(config_policy_name(r->cfg->connection_policy)));
    json_object_object_add(o, "dialect",
                           json_object_new_string(config_dialect_name(r->cfg->dialect)));
    http_respond_json(r, 200, o, NULL);
}

void handle_metrics(struct request *r)
{
    size_t len;
    char *text = metrics_render(&len);

    if (!text) {
        http_problem(r, 500, "internal_error", "out of memory");
        return;
    }
    http_respond_raw(r, 200, "text/plain; version=0.0.4", text, len, NULL);
    free(text);
}
