/*
 * mutation.c — the one mutation runner (see mutation.h).
 */
#include "api/mutation.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_tx.h"
#include "domain/events.h"
#include "log.h"
#include "util.h"

struct mutation {
    struct request *r;
    const struct mutation_ops *ops;
    void *req;
    struct idem idem;
    int status;               /* the answer of this attempt, when body is set */
    char *body;               /* malloc'd JSON text; NULL: the key answers (replay …) */
    struct events_buf events; /* what this attempt announces, appended by mut_commit() */
};

struct request *mut_request(const struct mutation *m)
{
    return m->r;
}

const char *mut_now(const struct mutation *m)
{
    return m->idem.now;
}

const char *mut_caller(const struct mutation *m)
{
    return m->idem.caller;
}

const char *mut_scoped_key(const struct mutation *m)
{
    return m->idem.scoped;
}

struct json_object *mut_extra_i64(const char *name, int64_t v)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, name, json_object_new_int64(v));
    return o;
}

int mut_begin(struct mutation *m, struct tx *tx, struct tx_stmt *st, int n, enum tx_decision *d)
{
    struct tx_stmt fixed[IDEM_CLAIM_STMTS + MUT_FIRST_MAX], *all = fixed;
    int nc, ok = 0;

    if (n < 0) {
        tx->err = DB_FAILED;
        *d = TX_ERROR;
        return 0;
    }
    /* more than MUT_FIRST_MAX: a pipeline on the heap (a linked batch's locks) */
    if (n > MUT_FIRST_MAX && !(all = calloc((size_t)(IDEM_CLAIM_STMTS + n), sizeof(*all)))) {
        log_error("request %s: %s: out of memory for %d first statements", m->r->request_id,
                  m->ops->name, n);
        tx->err = DB_FAILED;
        *d = TX_ERROR;
        return 0;
    }
    nc = idem_claim_stmts(&m->idem, all);
    if (n)
        memcpy(all + nc, st, (size_t)n * sizeof(*st));
    if (tx_exec_many(tx, all, nc + n, 0) < 0) {
        *d = idem_claim_timed_out(tx, &m->idem) ? TX_ROLLBACK : TX_ERROR;
        goto out;
    }
    for (int i = 0; i < n; i++)
        st[i].res = all[nc + i].res;
    if (idem_claim_result(tx, &m->idem, all) < 0 || m->idem.outcome != IDEM_NEW) {
        for (int i = 0; i < n; i++) {
            PQclear(st[i].res);
            st[i].res = NULL;
        }
        *d = m->idem.outcome != IDEM_NEW && tx->err == DB_OK ? TX_ROLLBACK : TX_ERROR;
        goto out;
    }
    ok = 1;
out:
    if (all != fixed)
        free(all);
    return ok;
}

int mut_event(struct mutation *m, const char *type, struct json_object *payload,
              const char *chan_fmt, ...)
{
    char channels[EVENTS_CHANNELS_MAX];
    va_list ap;
    int len;

    if (!payload)
        payload = json_object_new_object();
    va_start(ap, chan_fmt);
    len = vsnprintf(channels, sizeof(channels), chan_fmt, ap);
    va_end(ap);
    if (len <= 0 || (size_t)len >= sizeof(channels)) {
        json_object_put(payload); /* an event must have a channel that fits */
        payload = NULL;
    }
    if (!payload || events_add(&m->events, type, payload, "%s", channels) < 0) {
        log_error("request %s: %s: event %s not recorded", m->r->request_id, m->ops->name, type);
        return -1;
    }
    return 0;
}

enum tx_decision mut_commit(struct mutation *m, struct tx *tx, struct tx_stmt *st, int n,
                            int status, struct json_object *body)
{
    struct tx_stmt fixed[MUT_LAST_MAX + 1 + 4], *all = fixed;
    enum tx_decision d = TX_ERROR;
    int ne = m->events.n, total;

    free(m->body);
    m->body = body ? util_json_take_text(body) : NULL;
    total = n + ne + 1;
    /* more than fits: a pipeline on the heap (a linked batch's writes and events) */
    if (!m->body || n < 0
        || (total > (int)(sizeof(fixed) / sizeof(fixed[0]))
            && !(all = calloc((size_t)total, sizeof(*all))))) {
        tx->err = DB_FAILED;
        return TX_ERROR;
    }
    m->status = status;
    if (n)
        memcpy(all, st, (size_t)n * sizeof(*st));
    /* the effect's events ride in the same round trip as its last writes */
    events_stmts(&m->events, all + n);
    idem_finish_stmt(&m->idem, status, m->body, &all[n + ne]);
    if (tx_exec_many(tx, all, total, 1) == 0) {
        for (int i = 0; i < total; i++)
            PQclear(all[i].res);
        d = TX_COMMIT;
    }
    if (all != fixed)
        free(all);
    return d;
}

enum tx_decision mut_refuse(struct mutation *m, struct tx *tx, enum mut_store store, int status,
                            const char *code, struct json_object *extra, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    struct json_object *o;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    o = http_problem_object(m->r, status, code, detail);
    if (extra) {
        json_object_object_foreach(extra, k, v) json_object_object_add(o, k, json_object_get(v));
        json_object_put(extra);
    }
    /* a refusal has no effect, so nothing to announce */
    events_reset(&m->events);
    if (store == MUT_STORED)
        return mut_commit(m, tx, NULL, 0, status, o);
    free(m->body);
    m->body = util_json_take_text(o);
    m->status = status;
    if (!m->body) {
        tx->err = DB_FAILED;
        return TX_ERROR;
    }
    return TX_ROLLBACK;
}

static enum tx_decision attempt(struct tx *tx, void *arg)
{
    struct mutation *m = arg;

    free(m->body);
    m->body = NULL;
    m->status = 0;
    events_reset(&m->events);
    return m->ops->apply(m, tx, m->req);
}

void mutation_run(struct request *r, const struct mutation_ops *ops)
{
    struct mutation m;
    enum tx_decision d;

    memset(&m, 0, sizeof(m));
    m.r = r;
    m.ops = ops;
    m.req = calloc(1, ops->req_size ? ops->req_size : 1);
    if (!m.req) {
        http_problem(r, 500, "internal_error", "out of memory");
        return;
    }
    if (ops->parse(r, m.req) < 0 || (ops->authorize && ops->authorize(r, m.req) < 0)
        || idem_prepare(r, &m.idem) < 0)
        goto out;
    if (api_tx_run(r, ops->tx_flags, attempt, &m, &d) == 0) {
        if (d == TX_COMMIT && !m.body) {
            /* an apply() that committed without mut_commit(): a bug, not an answer */
            log_error("request %s: %s committed without an answer", r->request_id, ops->name);
            http_problem(r, 500, "internal_error", "the server could not complete the request");
        } else {
            idem_answer(r, d, &m.idem, m.status, m.body);
        }
    }
out:
    free(m.body);
    events_reset(&m.events);
    idem_free(&m.idem);
    free(m.req);
}
