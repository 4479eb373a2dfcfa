/*
 * publish_purge.c — the outbox's retention and the proof channel's status
 * events (see publish.h): the jobs child's side of the events, apart from
 * the publisher process (publish.c).
 */
#include "domain/publish.h"

#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "domain/events.h"

/* ---- purge and the proof channel ------------------------------------------ */

struct purge_arg {
    const struct zs_config *cfg;
    int deleted;
};

static enum tx_decision purge_tx(struct tx *tx, void *arg)
{
    struct purge_arg *a = arg;
    char ttl[16], buf[16], batch[16];
    const char *pe[2] = { ttl, batch }, *pp[2] = { buf, batch };
    PGresult *r1, *r2;

    snprintf(ttl, sizeof(ttl), "%d", a->cfg->events_retention_s);
    snprintf(buf, sizeof(buf), "%d", a->cfg->events_buffer_s + 60);
    snprintf(batch, sizeof(batch), "%d", a->cfg->events_purge_batch);
    if (!(r1 = tx_exec_named(tx, SQL_EVENTS_PURGE, pe)))
        return TX_ERROR;
    if (!(r2 = tx_exec_named(tx, SQL_EVENTS_PURGE_PUBLICATIONS, pp))) {
        PQclear(r1);
        return TX_ERROR;
    }
    a->deleted = atoi(PQcmdTuples(r1)) + atoi(PQcmdTuples(r2));
    PQclear(r1);
    PQclear(r2);
    return TX_COMMIT;
}

int publish_purge(const struct zs_config *cfg)
{
    struct db_session s;
    struct purge_arg a = { cfg, 0 };
    enum tx_decision d;

    db_session_init(&s, cfg, "events-purge", EP_OTHER);
    return tx_run(&s, 0, purge_tx, &a, &d) == TX_RESULT_DONE ? a.deleted : -1;
}

struct proof_arg {
    const char *status;
    struct events_buf ev;
    int announced;
};

static enum tx_decision proof_tx(struct tx *tx, void *arg)
{
    struct proof_arg *a = arg;
    const char *p[1] = { a->status };
    PGresult *res = tx_exec_named(tx, SQL_EVENTS_PROOF_STATUS, p);

    if (!res)
        return TX_ERROR;
    a->announced = PQntuples(res) == 1;
    PQclear(res);
    if (!a->announced)
        return TX_ROLLBACK;
    return events_exec(tx, &a->ev) < 0 ? TX_ERROR : TX_COMMIT;
}

int publish_proof_status(const struct zs_config *cfg, const char *status, const char *check,
                         long long seal_no, long long tree_size)
{
    struct proof_arg a = { status, { 0 }, 0 };
    struct db_session s;
    struct json_object *o = json_object_new_object();
    enum tx_decision d;
    int rc;

    json_object_object_add(o, "status", json_object_new_string(status));
    json_object_object_add(o, "failed_check",
                           check && check[0] ? json_object_new_string(check) : NULL);
    json_object_object_add(o, "seal_no", json_object_new_int64(seal_no));
    json_object_object_add(o, "tree_size", json_object_new_int64(tree_size));
    if (events_add(&a.ev, "proof.status", o, "proof") < 0)
        return -1;
    db_session_init(&s, cfg, "events-proof", EP_OTHER);
    rc = tx_run(&s, 0, proof_tx, &a, &d) == TX_RESULT_DONE ? a.announced : -1;
    events_reset(&a.ev);
    return rc;
}
