/*
 * resolve.c — the resolution driver (see resolve.h).
 */
#include "domain/resolve.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "domain/book.h"
#include "domain/events.h"
#include "domain/ledger.h"
#include "log.h"

#define RESOLVE_BATCH 100

static const char *i64(char *buf, int64_t v)
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

/* The market row with its resolution columns, locked. */
struct resolving {
    struct market m;
    char caller[80], key[RESOLVE_KEY_MAX + 1];
    int leased; /* the lease has not lapsed */
    int64_t paid, settled;
};

/* Lock the market with its resolution columns. 1 found, 0 not, -1 failed. */
static int resolve_lock(struct tx *tx, const char *id, struct resolving *v)
{
    const char *p[1] = { id };
    PGresult *res = tx_exec_named(tx, SQL_MARKET_RESOLVE_LOCK, p);
    int bad;

    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    memset(v, 0, sizeof(*v));
    snprintf(v->m.id, sizeof(v->m.id), "%s", id);
    bad = market_kind_parse(PQgetvalue(res, 0, 0), &v->m.kind) < 0
        || market_status_parse(PQgetvalue(res, 0, 1), &v->m.status) < 0
        || market_resolution_parse(PQgetvalue(res, 0, 2), &v->m.outcome) < 0;
    snprintf(v->m.escrow, sizeof(v->m.escrow), "%s", PQgetvalue(res, 0, 3));
    snprintf(v->caller, sizeof(v->caller), "%s", PQgetvalue(res, 0, 4));
    snprintf(v->key, sizeof(v->key), "%s", PQgetvalue(res, 0, 5));
    v->leased = PQgetvalue(res, 0, 6)[0] == 't';
    v->paid = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
    v->settled = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
    PQclear(res);
    if (bad) {
        tx->err = DB_FAILED;
        return -1;
    }
    return 1;
}

/* This driver's id, made on first use. 0 / -1. */
static int driver_id(struct market_resolve *v)
{
    return v->owner[0] || util_uuid_v4(v->owner) == 0 ? 0 : -1;
}

/* Hold the lease, as this driver, for another v->lease seconds. 0 / -1. */
static int extend_lease(struct tx *tx, struct market_resolve *v)
{
    char b[24];
    const char *p[3] = { v->id, i64(b, v->lease), v->owner };

    if (driver_id(v) < 0)
        return -1;
    return tx_exec_named_void(tx, SQL_MARKET_EXTEND_LEASE, p);
}

/* Our own pending resolution, begun earlier: resume it unless its owner
 * still runs. 0 with *out, or -1. */
static int claim_pending(struct tx *tx, struct market_resolve *v, enum resolve_claim *out)
{
    const char *p[1] = { v->id };
    struct resolving r;
    PGresult *res;
    int rc;

    /* Look at the lease before locking: a running owner holds the market
     * row in its batch, and a retry must not wait for it. */
    res = tx_exec_named(tx, SQL_MARKET_LEASE_RUNNING, p);
    if (!res)
        return -1;
    rc = PQntuples(res);
    PQclear(res);
    if (rc > 0) {
        *out = RESOLVE_IN_FLIGHT;
        return 0;
    }
    rc = resolve_lock(tx, v->id, &r);
    if (rc < 0)
        return -1;
    if (rc == 0 || strcmp(r.caller, v->caller) != 0 || strcmp(r.key, v->key) != 0) {
        log_error("market %s: key %s:%s pending but the market does not name it", v->id, v->caller,
                  v->key);
        return -1;
    }
    if (r.leased && r.m.status == MARKET_RESOLVING) {
        *out = RESOLVE_IN_FLIGHT;
        return 0;
    }
    *out = RESOLVE_CLAIMED;
    return extend_lease(tx, v);
}

int market_resolve_claim(struct tx *tx, struct market_resolve *v, int pending,
                         enum resolve_claim *out)
{
    struct resolving r;
    char b[24];
    int rc, fresh;

    if (pending)
        return claim_pending(tx, v, out);
    rc = resolve_lock(tx, v->id, &r);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        *out = RESOLVE_NOT_FOUND;
        return 0;
    }
    if (r.m.kind != MARKET_EVENT) {
        *out = RESOLVE_NOT_EVENT;
        return 0;
    }
    /* Open, or a resolution begun without a key (an older version): ours now. */
    if (r.m.status != MARKET_OPEN
        && !(r.m.status == MARKET_RESOLVING && !r.key[0] && r.m.outcome == v->outcome)) {
        *out = RESOLVE_CLOSED;
        return 0;
    }
    fresh = r.m.status == MARKET_OPEN;
    {
        const char *p[7] = { v->id,
                             market_resolution_name(v->outcome),
                             v->caller,
                             v->key,
                             i64(b, v->lease),
                             fresh ? "t" : "f",
                             v->owner };

        if (driver_id(v) < 0 || tx_exec_named_void(tx, SQL_MARKET_BEGIN_RESOLVING, p) < 0)
            return -1;
    }
    *out = RESOLVE_CLAIMED;
    return 0;
}

/* ---- the driver's steps, each one transaction ----------------------------- */

enum step { STEP_TAKE, STEP_CANCEL_ORDERS, STEP_PAY, STEP_CLOSE };

struct step_run {
    struct market_resolve *v;
    enum step step;
    int done;                  /* this step has nothing more to do */
    int skip;                  /* STEP_TAKE: not ours to finish */
    enum resolve_outcome stop; /* RESOLVE_DONE, or why the driver stops */
};

/* STEP_TAKE (jobs child): take over a resolution whose lease has lapsed. */
static enum tx_decision take_step(struct tx *tx, struct step_run *s, const struct resolving *r)
{
    struct market_resolve *v = s->v;

    if (r->m.status != MARKET_RESOLVING || r->leased) {
        s->skip = 1;
        return TX_ROLLBACK;
    }
    v->outcome = r->m.outcome;
    snprintf(v->caller, sizeof(v->caller), "%s", r->caller);
    snprintf(v->key, sizeof(v->key), "%s", r->key);
    return extend_lease(tx, v) < 0 ? TX_ERROR : TX_COMMIT;
}

/*
 * Read the next batch (statement id: the market's id and the batch size)
 * and lock the accounts in its column col, plus extra when not NULL, in id
 * order. 1 with *res holding the batch, 0 when the batch is empty (the step
 * is done), -1 on a failed statement.
 */
static int lock_batch(struct tx *tx, const char *market, enum sql_id id, int col, const char *extra,
                      PGresult **res)
{
    char b[24];
    const char *p[2] = { market, i64(b, RESOLVE_BATCH) };
    struct ledger_account *acc;
    int n, rc;

    *res = tx_exec_named(tx, id, p);
    if (!*res)
        return -1;
    n = PQntuples(*res);
    acc = n ? calloc((size_t)n + 1, sizeof(*acc)) : NULL;
    rc = n == 0 ? 0 : acc ? 1 : -1;
    for (int i = 0; rc == 1 && i < n; i++)
        snprintf(acc[i].id, sizeof(acc[i].id), "%s", PQgetvalue(*res, i, col));
    if (rc == 1 && extra)
        snprintf(acc[n].id, sizeof(acc[n].id), "%s", extra);
    if (rc == 1 && ledger_lock(tx, acc, n + (extra ? 1 : 0)) < 0)
        rc = -1;
    free(acc);
    if (rc <= 0) {
        PQclear(*res);
        *res = NULL;
    }
    return rc;
}

/* One batch of resting orders cancelled, their holds released. */
static enum tx_decision cancel_step(struct tx *tx, struct step_run *s)
{
    PGresult *res;
    int rc = lock_batch(tx, s->v->id, SQL_MARKET_OPEN_ORDERS_BATCH, 1, NULL, &res);

    if (rc <= 0) {
        s->done = rc == 0;
        return rc == 0 ? TX_ROLLBACK : TX_ERROR;
    }
    for (int i = 0; rc == 1 && i < PQntuples(res); i++) {
        struct match_order k;

        memset(&k, 0, sizeof(k));
        snprintf(k.id, sizeof(k.id), "%s", PQgetvalue(res, i, 0));
        snprintf(k.account, sizeof(k.account), "%s", PQgetvalue(res, i, 1));
        k.remaining = strtoll(PQgetvalue(res, i, 4), NULL, 10);
        k.hold = strtoll(PQgetvalue(res, i, 5), NULL, 10);
        if (order_side_parse(PQgetvalue(res, i, 2), &k.side) < 0
            || market_outcome_parse(PQgetvalue(res, i, 3), &k.outcome) < 0) {
            tx->err = DB_FAILED;
            rc = -1;
        } else if (book_cancel_resting(tx, s->v->id, &k) < 0) {
            rc = -1;
        }
    }
    PQclear(res);
    if (rc < 0 || extend_lease(tx, s->v) < 0)
        return TX_ERROR;
    return TX_COMMIT;
}

/* Pay the n positions of res from escrow and zero them; *paid sums the
 * payouts. 0, 1 when a payout overflows (only corrupt data: escrow backs
 * 100 per pair), or -1 on a failed statement. */
static int pay_positions(struct tx *tx, const struct market_resolve *v, const char *escrow,
                         PGresult *res, int n, int64_t *paid)
{
    const char *kind = v->outcome == RESOLUTION_CANCEL ? "refund" : "payout";
    char memo[64];

    snprintf(memo, sizeof(memo), "market %s %s", v->id, market_resolution_name(v->outcome));
    for (int i = 0; i < n; i++) {
        const char *who = PQgetvalue(res, i, 0), *out = PQgetvalue(res, i, 1);
        const char *pp[3] = { v->id, who, out };
        int64_t qty = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        enum market_outcome o;
        int64_t pay, next;

        if (market_outcome_parse(out, &o) < 0) {
            tx->err = DB_FAILED;
            return -1;
        }
        if (market_payout(v->outcome, o, qty, &pay) < 0
            || __builtin_add_overflow(*paid, pay, &next))
            return 1;
        if (pay > 0
            && ledger_move(tx, escrow, who, pay, 0, kind, "system", memo, NULL, NULL, NULL) < 0)
            return -1;
        if (tx_exec_named_void(tx, SQL_MARKET_POSITION_SETTLE, pp) < 0)
            return -1;
        *paid = next;
    }
    return 0;
}

/* One batch of positions paid out, and what it paid recorded with it. */
static enum tx_decision pay_step(struct tx *tx, struct step_run *s, const struct resolving *r)
{
    char b2[24], b3[24], b4[24];
    int64_t paid = 0;
    PGresult *res;
    int n, rc = lock_batch(tx, s->v->id, SQL_MARKET_POSITIONS_BATCH, 0, r->m.escrow, &res);

    if (rc <= 0) {
        s->done = rc == 0;
        return rc == 0 ? TX_ROLLBACK : TX_ERROR;
    }
    n = PQntuples(res);
    rc = pay_positions(tx, s->v, r->m.escrow, res, n, &paid);
    PQclear(res);
    if (rc == 0) {
        /* What this batch paid, in its own transaction: exact whoever resumes. */
        const char *pc[5] = { s->v->id, i64(b2, paid), i64(b3, n), i64(b4, s->v->lease),
                              s->v->owner };

        rc = tx_exec_named_void(tx, SQL_MARKET_RECORD_PAID, pc);
    }
    if (rc == 1) {
        /* rolled back and not stored: the key stays pending and the
         * market resolving, for an operator to look at */
        s->stop = RESOLVE_OVERFLOW;
        return TX_ROLLBACK;
    }
    return rc < 0 ? TX_ERROR : TX_COMMIT;
}

/* The 200 answer, from what the market row recorded. */
static char *resolved_body(const struct market_resolve *v, const struct resolving *r)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "market", json_object_new_string(v->id));
    json_object_object_add(o, "outcome",
                           json_object_new_string(market_resolution_name(v->outcome)));
    json_object_object_add(
        o, "status",
        json_object_new_string(market_status_name(market_resolution_status(v->outcome))));
    json_object_object_add(o, "paid", json_object_new_int64(r->paid));
    json_object_object_add(o, "positions_settled", json_object_new_int64(r->settled));
    return util_json_take_text(o);
}

/* Close a resolving market whose escrow paid out to 0. 0, 1 when escrow
 * is not 0 (halted), -1 on a failed statement. */
static int close_market(struct tx *tx, const struct market_resolve *v, const struct resolving *r)
{
    const char *p[1] = { r->m.escrow };
    const char *pm[2] = { v->id, market_status_name(market_resolution_status(v->outcome)) };
    PGresult *res = tx_exec_named(tx, SQL_MARKET_ESCROW_BALANCE, p);
    int64_t bal;

    if (!res)
        return -1;
    bal = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
    PQclear(res);
    if (bal != 0) {
        log_error("market %s: escrow holds %" PRId64 " after paying every position", v->id, bal);
        return 1;
    }
    return tx_exec_named_void(tx, SQL_MARKET_CLOSE, pm);
}

/* The states of an idempotency key row (the schema's two). */
enum key_state { KEY_PENDING, KEY_DONE };

/* Parse a key row's state; anything but "done" counts as pending. */
static enum key_state key_state_parse(const char *s)
{
    return strcmp(s, "done") == 0 ? KEY_DONE : KEY_PENDING;
}

/* The answer another driver stored under the key, if it finished it. 1
 * (v->body set), 0 (still pending), -1 on a failed statement. */
static int stored_answer(struct tx *tx, struct market_resolve *v, const struct resolving *r)
{
    const char *pk[2] = { r->caller, r->key };
    PGresult *res = tx_exec_named(tx, SQL_MARKET_KEY_ANSWER, pk);
    int found;

    if (!res)
        return -1;
    found = PQntuples(res) == 1 && key_state_parse(PQgetvalue(res, 0, 0)) == KEY_DONE;
    if (found)
        v->body = strdup(PQgetvalue(res, 0, 1));
    PQclear(res);
    if (found && !v->body)
        return -1;
    return found;
}

/* market.resolved, with the answer's members, in the closing transaction. 0, or -1. */
static int resolved_event(struct tx *tx, const struct market_resolve *v)
{
    struct events_buf ev = { 0 };
    struct json_object *o = json_tokener_parse(v->body);
    int rc = o ? events_add(&ev, "market.resolved", o, "markets/%s", v->id) : -1;

    if (rc == 0)
        rc = events_exec(tx, &ev);
    events_reset(&ev);
    if (rc < 0 && tx->err == DB_OK)
        tx->err = DB_FAILED;
    return rc;
}

/* STEP_CLOSE: close the market and finish the key together; or, when
 * another driver closed it first, answer what it stored. */
static enum tx_decision close_step(struct tx *tx, struct step_run *s, const struct resolving *r)
{
    struct market_resolve *v = s->v;
    int rc;

    if (r->m.status == MARKET_RESOLVING) {
        rc = close_market(tx, v, r);
        if (rc == 1) {
            s->stop = RESOLVE_ESCROW_LEFT;
            return TX_ROLLBACK;
        }
        if (rc < 0)
            return TX_ERROR;
    } else if (r->key[0]) {
        /* Closed already: the key holds the answer, unless it is still pending. */
        rc = stored_answer(tx, v, r);
        if (rc < 0)
            return TX_ERROR;
        if (rc == 1) {
            v->replayed = 1;
            return TX_ROLLBACK;
        }
    }
    v->body = resolved_body(v, r);
    if (!v->body)
        return TX_ERROR;
    /* the transaction that closes the market announces it */
    if (r->m.status == MARKET_RESOLVING && resolved_event(tx, v) < 0)
        return TX_ERROR;
    if (r->key[0]) {
        const char *pf[3] = { r->caller, r->key, v->body };

        if (tx_exec_named_void(tx, SQL_MARKET_KEY_FINISH, pf) < 0)
            return TX_ERROR;
    }
    return TX_COMMIT;
}

/* One attempt of the current step (called again from scratch on a retry). */
static enum tx_decision run_step(struct tx *tx, void *arg)
{
    struct step_run *s = arg;
    struct resolving r;
    int rc;

    s->done = s->skip = 0;
    s->stop = RESOLVE_DONE;
    s->v->replayed = 0;
    free(s->v->body);
    s->v->body = NULL;
    rc = resolve_lock(tx, s->v->id, &r);
    if (rc < 0)
        return TX_ERROR;
    if (rc == 0) {
        s->skip = s->done = 1; /* no such market: nothing to drive */
        return TX_ROLLBACK;
    }
    if (s->step == STEP_TAKE)
        return take_step(tx, s, &r);
    if (s->step == STEP_CLOSE)
        return close_step(tx, s, &r);
    if (r.m.status != MARKET_RESOLVING) {
        s->done = 1; /* closed by another driver: go to STEP_CLOSE */
        return TX_ROLLBACK;
    }
    return s->step == STEP_CANCEL_ORDERS ? cancel_step(tx, s) : pay_step(tx, s, &r);
}

/* Best effort after a failed step: let a retry or the jobs child resume at
 * once, unless another driver holds the lease now. */
static enum tx_decision release_tx(struct tx *tx, void *arg)
{
    const struct market_resolve *v = arg;
    const char *p[2] = { v->id, v->owner };

    return tx_exec_named_void(tx, SQL_MARKET_RELEASE_LEASE, p) < 0 ? TX_ERROR : TX_COMMIT;
}

enum resolve_outcome market_resolve_drive(struct db_session *s, struct market_resolve *v,
                                          enum tx_result *res)
{
    struct step_run st;
    enum tx_decision d;

    memset(&st, 0, sizeof(st));
    st.v = v;
    for (st.step = STEP_CANCEL_ORDERS; st.step <= STEP_CLOSE; st.step++) {
        do {
            *res = tx_run(s, 0, run_step, &st, &d);
            if (*res != TX_RESULT_DONE) {
                /* the release answers nothing and checks no token */
                struct db_session q;

                db_session_init(&q, s->cfg, s->id, s->endpoint);
                tx_run(&q, 0, release_tx, v, &d);
                s->attempts += q.attempts;
                return RESOLVE_FAILED;
            }
            if (st.stop != RESOLVE_DONE)
                return st.stop;
        } while ((st.step == STEP_CANCEL_ORDERS || st.step == STEP_PAY) && !st.done);
    }
    return v->body ? RESOLVE_DONE : RESOLVE_FAILED;
}

/* The ids of up to max resolutions whose lease lapsed. */
struct stale {
    char ids[32][UUID_STR_LEN + 1];
    int max, n;
};

static enum tx_decision stale_tx(struct tx *tx, void *arg)
{
    struct stale *q = arg;

    q->n = tx_exec_ids(tx, SQL_MARKET_STALE, q->max, q->ids,
                       (int)(sizeof(q->ids) / sizeof(q->ids[0])));
    return q->n < 0 ? TX_ERROR : TX_COMMIT;
}

/* Take over resolution id (its lease lapsed) and drive it. 1 finished, 0 not. */
static int finish_stale(struct db_session *s, const char *id)
{
    struct market_resolve v;
    struct step_run st;
    enum tx_decision d;
    enum tx_result res;
    int finished = 0;

    memset(&v, 0, sizeof(v));
    memset(&st, 0, sizeof(st));
    snprintf(v.id, sizeof(v.id), "%s", id);
    v.lease = s->cfg->resolve_lease;
    st.v = &v;
    st.step = STEP_TAKE;
    if (tx_run(s, 0, run_step, &st, &d) == TX_RESULT_DONE && d == TX_COMMIT && !st.skip
        && market_resolve_drive(s, &v, &res) == RESOLVE_DONE) {
        log_info("market %s: finished an interrupted resolution (%s)", v.id,
                 market_resolution_name(v.outcome));
        finished = 1;
    }
    free(v.body);
    return finished;
}

int market_resolve_stale(const struct zs_config *cfg, int max)
{
    struct db_session s;
    struct stale q;
    enum tx_decision d;
    int finished = 0;

    memset(&q, 0, sizeof(q));
    db_session_init(&s, cfg, "jobs-resolve", EP_MARKETS);
    q.max = max < 1 ? 1 : max > 32 ? 32 : max;
    if (tx_run(&s, TX_READ_ONLY, stale_tx, &q, &d) != TX_RESULT_DONE)
        return -1;
    for (int i = 0; i < q.n; i++)
        finished += finish_stale(&s, q.ids[i]);
    return finished;
}
