/*
 * market.c — POST /markets (admin), GET /markets, GET /markets/{id} (book,
 * last trades, implied probability) and POST /markets/{id}/resolve (admin).
 *
 * Resolution runs as a set of small transactions, each under the market
 * lock and each resumable: mark the market resolving, cancel resting orders
 * (releasing their holds) in batches, pay every position from escrow in
 * batches (100 per winning contract, 0 per losing one; or, when cancelled,
 * each holder's cost basis back), then close the market once escrow is 0.
 * Batches keep every transaction far below Aurora DSQL's 3,000-row limit.
 */
#include "api/api_tx.h"
#include "api/market.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/idempotency.h"
#include "domain/ledger.h"
#include "log.h"
#include "api/routes.h"
#include "util.h"

#define RESOLVE_BATCH 100

static const char *i64(char *buf, int64_t v)
{
    sprintf(buf, "%" PRId64, v);
    return buf;
}

#define MARKET_COLS "id, kind, title, owner, escrow, total_supply, tick_min, tick_max, status," \
    " coalesce(outcome, ''), seq, last_price, " LEDGER_TS("created_at") ", " LEDGER_TS("resolved_at")

int market_lock(struct tx *tx, const char *id, struct market *m)
{
    const char *p[1] = { id };
    PGresult *res = tx_exec(tx, "SELECT " MARKET_COLS " FROM markets WHERE id = $1 FOR UPDATE", 1, p);

    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s", PQgetvalue(res, 0, 0));
    snprintf(m->kind, sizeof(m->kind), "%s", PQgetvalue(res, 0, 1));
    snprintf(m->owner, sizeof(m->owner), "%s", PQgetvalue(res, 0, 3));
    snprintf(m->escrow, sizeof(m->escrow), "%s", PQgetvalue(res, 0, 4));
    m->tick_min = atoi(PQgetvalue(res, 0, 6));
    m->tick_max = atoi(PQgetvalue(res, 0, 7));
    snprintf(m->status, sizeof(m->status), "%s", PQgetvalue(res, 0, 8));
    snprintf(m->outcome, sizeof(m->outcome), "%s", PQgetvalue(res, 0, 9));
    m->seq = strtoll(PQgetvalue(res, 0, 10), NULL, 10);
    PQclear(res);
    return 1;
}

static struct json_object *market_json(PGresult *res, int i)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "id", json_object_new_string(PQgetvalue(res, i, 0)));
    json_object_object_add(o, "kind", json_object_new_string(PQgetvalue(res, i, 1)));
    json_object_object_add(o, "title", json_object_new_string(PQgetvalue(res, i, 2)));
    json_object_object_add(o, "owner", json_object_new_string(PQgetvalue(res, i, 3)));
    json_object_object_add(o, "escrow", PQgetisnull(res, i, 4) ? NULL
                           : json_object_new_string(PQgetvalue(res, i, 4)));
    json_object_object_add(o, "total_supply", PQgetisnull(res, i, 5) ? NULL
                           : json_object_new_int64(strtoll(PQgetvalue(res, i, 5), NULL, 10)));
    json_object_object_add(o, "tick_min", json_object_new_int(atoi(PQgetvalue(res, i, 6))));
    json_object_object_add(o, "tick_max", json_object_new_int(atoi(PQgetvalue(res, i, 7))));
    json_object_object_add(o, "status", json_object_new_string(PQgetvalue(res, i, 8)));
    json_object_object_add(o, "outcome", PQgetvalue(res, i, 9)[0]
                           ? json_object_new_string(PQgetvalue(res, i, 9)) : NULL);
    json_object_object_add(o, "last_price", PQgetisnull(res, i, 11) ? NULL
                           : json_object_new_int(atoi(PQgetvalue(res, i, 11))));
    json_object_object_add(o, "created_at", json_object_new_string(PQgetvalue(res, i, 12)));
    json_object_object_add(o, "resolved_at", PQgetisnull(res, i, 13) ? NULL
                           : json_object_new_string(PQgetvalue(res, i, 13)));
    return o;
}

/* ---- POST /markets ------------------------------------------------------- */

struct market_spec {
    const char *kind, *title;
    char owner[UUID_STR_LEN + 1];
    int64_t supply, tick_min, tick_max;
};

struct create_tx {
    struct request *r;
    const struct market_spec *s;
    struct idem *idem;
    int status;
    char *body;
};

static enum tx_decision create_tx(struct tx *tx, void *arg)
{
    struct create_tx *c = arg;
    const struct market_spec *s = c->s;
    char id[UUID_STR_LEN + 1], escrow[UUID_STR_LEN + 1], b1[24], b2[24], b3[24];
    const char *owner = s->owner;
    PGresult *res;
    struct json_object *o;

    free(c->body);
    c->body = NULL;
    if (idem_claim(tx, c->idem) < 0)
        return TX_ERROR;
    if (c->idem->outcome != IDEM_NEW)
        return TX_ROLLBACK;
    if (util_uuid_v4(id) < 0 || util_uuid_v4(escrow) < 0)
        return TX_ERROR;
    if (strcmp(s->kind, "shares") == 0) {
        const char *p[1] = { s->owner };
        res = tx_exec(tx, "SELECT kind FROM accounts WHERE id = $1", 1, p);
        if (!res)
            return TX_ERROR;
        int ok = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "user") == 0;
        PQclear(res);
        if (!ok) {
            c->status = 422;
            c->body = util_json_take_text(http_problem_object(c->r, 422, "owner_not_found",
                                                  "the owner must be an existing user account"));
            if (!c->body || idem_finish(tx, c->idem, 422, c->body) < 0)
                return TX_ERROR;
            return TX_COMMIT;
        }
    } else {
        /* The escrow account holds 100 per outstanding pair until resolution. */
        char name[120];
        snprintf(name, sizeof(name), "escrow %.8s", id);
        const char *p[2] = { escrow, name };
        if (tx_exec_void(tx, "INSERT INTO accounts (id, name, kind) VALUES ($1, $2, 'escrow')", 2, p) < 0)
            return TX_ERROR;
        owner = escrow;
    }
    {
        int shares = strcmp(s->kind, "shares") == 0;
        const char *p[8] = { id, s->kind, s->title, owner, shares ? NULL : escrow,
                             shares ? i64(b1, s->supply) : NULL, i64(b2, s->tick_min),
                             i64(b3, s->tick_max) };
        res = tx_exec(tx, "INSERT INTO markets (id, kind, title, owner, escrow, total_supply,"
                          " tick_min, tick_max) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                          " RETURNING " MARKET_COLS, 8, p);
        if (!res)
            return TX_ERROR;
        if (shares) {
            const char *pp[3] = { id, owner, b1 };
            if (tx_exec_void(tx, "INSERT INTO positions (market_id, account_id, outcome, quantity)"
                                 " VALUES ($1, $2, 'shares', $3)", 3, pp) < 0) {
                PQclear(res);
                return TX_ERROR;
            }
        }
    }
    o = json_object_new_object();
    json_object_object_add(o, "market", market_json(res, 0));
    PQclear(res);
    c->status = 201;
    c->body = util_json_take_text(o);
    if (!c->body || idem_finish(tx, c->idem, 201, c->body) < 0)
        return TX_ERROR;
    return TX_COMMIT;
}

static int opt_int(struct request *r, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    struct json_object *v;

    if (!json_object_object_get_ex(r->json, name, &v))
        return 0;
    if (util_json_int64(v, lo, out) < 0 || *out > hi) {
        http_problem(r, 422, "invalid_field", "\"%s\" must be an integer from %" PRId64 " to %" PRId64,
                     name, lo, hi);
        return -1;
    }
    return 1;
}

void handle_market_create(struct request *r)
{
    static const char *const allowed[] = { "kind", "title", "owner", "supply", "tick_min",
                                           "tick_max", NULL };
    const char *unknown = util_json_unknown_member(r->json, allowed);
    struct json_object *v;
    struct market_spec s;
    struct create_tx c;
    struct idem idem;
    enum tx_decision d;
    int rc;

    memset(&s, 0, sizeof(s));
    if (unknown) {
        http_problem(r, 422, "unknown_field", "unknown field \"%.64s\"", unknown);
        return;
    }
    if (!json_object_object_get_ex(r->json, "kind", &v) || !json_object_is_type(v, json_type_string)
        || (strcmp(json_object_get_string(v), "shares") != 0
            && strcmp(json_object_get_string(v), "event") != 0)) {
        http_problem(r, 422, "invalid_kind", "\"kind\" must be \"shares\" or \"event\"");
        return;
    }
    s.kind = json_object_get_string(v);
    if (!json_object_object_get_ex(r->json, "title", &v)
        || !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) < 1
        || json_object_get_string_len(v) > 200) {
        http_problem(r, 422, "invalid_field", "\"title\" must be a string of 1 to 200 bytes");
        return;
    }
    s.title = json_object_get_string(v);
    if (strcmp(s.kind, "shares") == 0) {
        if (!json_object_object_get_ex(r->json, "owner", &v) || !json_object_is_type(v, json_type_string)
            || !util_uuid_parse(json_object_get_string(v), s.owner)) {
            http_problem(r, 422, "invalid_account_id", "\"owner\" must be an account id");
            return;
        }
        if ((rc = opt_int(r, "supply", 1, 1000000000000LL, &s.supply)) < 0)
            return;
        if (rc == 0) {
            http_problem(r, 422, "missing_field", "\"supply\" is required for a shares market");
            return;
        }
        s.tick_min = 1;
        s.tick_max = 1000000;
        if (opt_int(r, "tick_min", 1, 1000000000, &s.tick_min) < 0
            || opt_int(r, "tick_max", 1, 1000000000, &s.tick_max) < 0)
            return;
    } else {
        if (json_object_object_get_ex(r->json, "owner", &v)
            || json_object_object_get_ex(r->json, "supply", &v)) {
            http_problem(r, 422, "field_not_applicable",
                         "an event market has no owner or supply: contracts are minted in pairs");
            return;
        }
        s.tick_min = 1;
        s.tick_max = 99;
        if (opt_int(r, "tick_min", 1, 99, &s.tick_min) < 0 || opt_int(r, "tick_max", 1, 99, &s.tick_max) < 0)
            return;
    }
    if (s.tick_min > s.tick_max) {
        http_problem(r, 422, "invalid_field", "\"tick_min\" must not exceed \"tick_max\"");
        return;
    }
    if (idem_prepare(r, &idem) < 0)
        return;
    memset(&c, 0, sizeof(c));
    c.r = r;
    c.s = &s;
    c.idem = &idem;
    if (api_tx_run(r, 0, create_tx, &c, &d) == 0)
        idem_answer(r, d, &idem, c.status, c.body);
    free(c.body);
    idem_free(&idem);
}

/* ---- GET /markets, GET /markets/{id} --------------------------------------- */

struct read_tx {
    const char *id;
    struct json_object *out;
};

static struct json_object *levels(PGresult *res, const char *outcome, const char *side)
{
    struct json_object *a = json_object_new_array();

    for (int i = 0; i < PQntuples(res); i++) {
        if (strcmp(PQgetvalue(res, i, 0), outcome) != 0 || strcmp(PQgetvalue(res, i, 1), side) != 0)
            continue;
        struct json_object *l = json_object_new_array();
        json_object_array_add(l, json_object_new_int(atoi(PQgetvalue(res, i, 2))));
        json_object_array_add(l, json_object_new_int64(strtoll(PQgetvalue(res, i, 3), NULL, 10)));
        json_object_array_add(a, l);
    }
    return a;
}

static enum tx_decision read_tx(struct tx *tx, void *arg)
{
    struct read_tx *g = arg;
    const char *p[1] = { g->id };
    PGresult *res;
    struct json_object *book, *trades;
    int event;

    if (g->out) {
        json_object_put(g->out);
        g->out = NULL;
    }
    if (!g->id) {
        res = tx_exec(tx, "SELECT " MARKET_COLS " FROM markets ORDER BY created_at DESC LIMIT 50", 0, NULL);
        if (!res)
            return TX_ERROR;
        g->out = json_object_new_array();
        for (int i = 0; i < PQntuples(res); i++)
            json_object_array_add(g->out, market_json(res, i));
        PQclear(res);
        return TX_COMMIT;
    }
    res = tx_exec(tx, "SELECT " MARKET_COLS " FROM markets WHERE id = $1", 1, p);
    if (!res)
        return TX_ERROR;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return TX_COMMIT;
    }
    g->out = json_object_new_object();
    json_object_object_add(g->out, "market", market_json(res, 0));
    event = strcmp(PQgetvalue(res, 0, 1), "event") == 0;
    PQclear(res);

    /* Aggregated levels: bids best (highest) first, asks best (lowest) first. */
    res = tx_exec(tx, "SELECT outcome, side, price, sum(remaining) FROM orders"
                      " WHERE market_id = $1 AND status = 'open'"
                      " GROUP BY outcome, side, price"
                      " ORDER BY outcome, side, CASE WHEN side = 'buy' THEN -price ELSE price END",
                  1, p);
    if (!res)
        return TX_ERROR;
    book = json_object_new_object();
    {
        static const char *const outs[] = { "shares", "yes", "no" };
        for (int k = event ? 1 : 0; k < (event ? 3 : 1); k++) {
            struct json_object *b = json_object_new_object();
            json_object_object_add(b, "bids", levels(res, outs[k], "buy"));
            json_object_object_add(b, "asks", levels(res, outs[k], "sell"));
            json_object_object_add(book, outs[k], b);
        }
    }
    PQclear(res);
    json_object_object_add(g->out, "book", book);

    res = tx_exec(tx, "SELECT seq, kind, outcome, price, quantity, " LEDGER_TS("created_at")
                      " FROM trades WHERE market_id = $1 ORDER BY seq DESC, created_at DESC LIMIT 100",
                  1, p);
    if (!res)
        return TX_ERROR;
    trades = json_object_new_array();
    for (int i = 0; i < PQntuples(res); i++) {
        struct json_object *t = json_object_new_object();
        json_object_object_add(t, "seq", json_object_new_int64(strtoll(PQgetvalue(res, i, 0), NULL, 10)));
        json_object_object_add(t, "kind", json_object_new_string(PQgetvalue(res, i, 1)));
        json_object_object_add(t, "outcome", json_object_new_string(PQgetvalue(res, i, 2)));
        json_object_object_add(t, "price", json_object_new_int(atoi(PQgetvalue(res, i, 3))));
        json_object_object_add(t, "quantity", json_object_new_int64(strtoll(PQgetvalue(res, i, 4), NULL, 10)));
        json_object_object_add(t, "created_at", json_object_new_string(PQgetvalue(res, i, 5)));
        json_object_array_add(trades, t);
    }
    /* Implied probability of YES: the last trade's YES price (a NO trade at q is YES at 100 - q). */
    if (event) {
        struct json_object *prob = NULL;
        if (PQntuples(res) > 0) {
            int px = atoi(PQgetvalue(res, 0, 3));
            if (strcmp(PQgetvalue(res, 0, 2), "no") == 0)
                px = 100 - px;
            char txt[16];
            snprintf(txt, sizeof(txt), "%d.%02d", px / 100, px % 100);
            prob = json_object_new_double_s(px / 100.0, txt);
        }
        json_object_object_add(g->out, "implied_probability", prob);
    }
    PQclear(res);
    json_object_object_add(g->out, "trades", trades);

    res = tx_exec(tx, "SELECT outcome, coalesce(sum(quantity), 0), count(*) FILTER (WHERE quantity > 0)"
                      " FROM positions WHERE market_id = $1 GROUP BY outcome", 1, p);
    if (!res)
        return TX_ERROR;
    {
        struct json_object *out = json_object_new_object();
        for (int i = 0; i < PQntuples(res); i++)
            json_object_object_add(out, PQgetvalue(res, i, 0),
                                   json_object_new_int64(strtoll(PQgetvalue(res, i, 1), NULL, 10)));
        json_object_object_add(g->out, "outstanding", out);
    }
    PQclear(res);
    return TX_COMMIT;
}

void handle_market_list(struct request *r)
{
    struct read_tx g = { NULL, NULL };
    enum tx_decision d;

    int rc = api_tx_run(r, TX_READ_ONLY, read_tx, &g, &d);

    /* tx_run first: the transaction fills the output */
    api_answer_read(r, rc, g.out, "markets", NULL,
                   NULL);
}

void handle_market_get(struct request *r)
{
    char id[UUID_STR_LEN + 1];
    struct read_tx g = { id, NULL };
    enum tx_decision d;

    if (!util_uuid_parse(r->path_params[0], id)) {
        http_problem(r, 404, "market_not_found", "no such market");
        return;
    }
    int rc = api_tx_run(r, TX_READ_ONLY | TX_SNAPSHOT, read_tx, &g, &d);

    /* tx_run first: the transaction fills the output */
    api_answer_read(r, rc, g.out, NULL, "market_not_found",
                   "no such market");
}

/* ---- POST /markets/{id}/resolve ------------------------------------------ */

/*
 * Resolution is exactly-once under its key across all its transactions:
 * STEP_CLAIM claims the key and marks the market resolving under it (both
 * committed, the key 'pending'); the batches run each in its own
 * transaction under the market lock, recording what they paid on the
 * market row; STEP_CLOSE closes the market and finishes the key in one
 * transaction. Every step is resumable from the database alone, so a
 * retry with the same key, or the jobs child, finishes a resolution whose
 * owner died, and every interleaving of two drivers pays each position
 * once (each batch pays only positions not yet zeroed, under the lock).
 */

enum step { STEP_CLAIM, STEP_TAKE, STEP_CANCEL_ORDERS, STEP_PAY, STEP_CLOSE };

struct resolve_tx {
    struct request *r;
    const char *id;
    char outcome[8];   /* yes | no | cancel */
    struct idem *idem; /* the request's key (NULL in the jobs child) */
    char caller[80], key[HTTP_IDEMPOTENCY_KEY_MAX + 1]; /* the key it runs under ("": none) */
    int lease;                                          /* seconds */
    enum step step;
    int done;                     /* this step has nothing more to do */
    int refused;                  /* answer in body: stop (status, body) */
    int skip;                     /* STEP_TAKE: someone else holds it; leave it */
    int replayed;                 /* the body is a stored answer */
    int status;
    char *body;
};

struct resolving {
    struct market m;
    char caller[80], key[HTTP_IDEMPOTENCY_KEY_MAX + 1];
    int leased; /* the lease has not lapsed */
    int64_t paid, settled;
};

/* Lock the market with its resolution columns. 1 found, 0 not, -1 failed. */
static int resolve_lock(struct tx *tx, const char *id, struct resolving *v)
{
    const char *p[1] = { id };
    PGresult *res =
        tx_exec(tx,
                "SELECT kind, status, coalesce(outcome, ''), coalesce(escrow::text, ''),"
                " coalesce(resolve_caller, ''), coalesce(resolve_key, ''),"
                " coalesce(resolve_lease > now(), false), coalesce(resolve_paid, 0),"
                " coalesce(resolve_settled, 0) FROM markets WHERE id = $1 FOR UPDATE",
                1, p);

    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    memset(v, 0, sizeof(*v));
    snprintf(v->m.id, sizeof(v->m.id), "%s", id);
    snprintf(v->m.kind, sizeof(v->m.kind), "%s", PQgetvalue(res, 0, 0));
    snprintf(v->m.status, sizeof(v->m.status), "%s", PQgetvalue(res, 0, 1));
    snprintf(v->m.outcome, sizeof(v->m.outcome), "%s", PQgetvalue(res, 0, 2));
    snprintf(v->m.escrow, sizeof(v->m.escrow), "%s", PQgetvalue(res, 0, 3));
    snprintf(v->caller, sizeof(v->caller), "%s", PQgetvalue(res, 0, 4));
    snprintf(v->key, sizeof(v->key), "%s", PQgetvalue(res, 0, 5));
    v->leased = PQgetvalue(res, 0, 6)[0] == 't';
    v->paid = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
    v->settled = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
    PQclear(res);
    return 1;
}

/* Keep the lease for another s->lease seconds. 0 / -1. */
static int extend_lease(struct tx *tx, struct resolve_tx *s)
{
    char b[24];
    const char *p[2] = { s->id, i64(b, s->lease) };

    return tx_exec_void(tx,
                        "UPDATE markets SET resolve_lease = now() + make_interval(secs => $2::int)"
                        " WHERE id = $1",
                        2, p);
}

/* A terminal refusal of a new key, stored under it and committed. */
static enum tx_decision refuse_stored(struct tx *tx, struct resolve_tx *s, int status,
                                      const char *code, const char *detail)
{
    s->refused = 1;
    s->status = status;
    s->body = util_json_take_text(http_problem_object(s->r, status, code, detail));
    if (!s->body || idem_finish(tx, s->idem, status, s->body) < 0)
        return TX_ERROR;
    return TX_COMMIT;
}

/* The 200 answer, from what the market row recorded. */
static char *resolved_body(const char *id, const char *outcome, const struct resolving *v)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "market", json_object_new_string(id));
    json_object_object_add(o, "outcome", json_object_new_string(outcome));
    json_object_object_add(
        o, "status",
        json_object_new_string(strcmp(outcome, "cancel") == 0 ? "cancelled" : "resolved"));
    json_object_object_add(o, "paid", json_object_new_int64(v->paid));
    json_object_object_add(o, "positions_settled", json_object_new_int64(v->settled));
    return util_json_take_text(o);
}

/* STEP_CLAIM: the key and the market's move to resolving, in one transaction. */
static enum tx_decision claim_step(struct tx *tx, struct resolve_tx *s)
{
    struct resolving v;
    char b[24];
    int rc;

    if (idem_claim(tx, s->idem) < 0)
        return TX_ERROR;
    if (s->idem->outcome != IDEM_NEW && s->idem->outcome != IDEM_PENDING)
        return TX_ROLLBACK; /* replay, reused key, or a concurrent claim */
    if (s->idem->outcome == IDEM_PENDING) {
        /* Look at the lease before locking: a running owner holds the market
         * row in its batch, and a retry must not wait for it. */
        const char *p[1] = { s->id };
        PGresult *res = tx_exec(tx,
                                "SELECT 1 FROM markets WHERE id = $1 AND status = 'resolving'"
                                " AND resolve_lease > now()",
                                1, p);
        if (!res)
            return TX_ERROR;
        rc = PQntuples(res);
        PQclear(res);
        if (rc > 0) {
            s->idem->outcome = IDEM_IN_FLIGHT;
            return TX_ROLLBACK;
        }
    }
    rc = resolve_lock(tx, s->id, &v);
    if (rc < 0)
        return TX_ERROR;
    if (s->idem->outcome == IDEM_PENDING) {
        /* Our own resolution, begun earlier: resume it unless its owner still runs. */
        if (rc == 0 || strcmp(v.caller, s->caller) != 0 || strcmp(v.key, s->key) != 0) {
            log_error("market %s: key %s pending but the market does not name it", s->id,
                      s->idem->scoped);
            return TX_ERROR;
        }
        if (v.leased && strcmp(v.m.status, "resolving") == 0) {
            s->idem->outcome = IDEM_IN_FLIGHT;
            return TX_ROLLBACK;
        }
        return extend_lease(tx, s) < 0 ? TX_ERROR : TX_COMMIT;
    }
    if (rc == 0)
        return refuse_stored(tx, s, 404, "market_not_found", "no such market");
    if (strcmp(v.m.kind, "event") != 0)
        return refuse_stored(tx, s, 409, "not_an_event_market", "only event markets are resolved");
    if (strcmp(v.m.status, "open") != 0
        && !(strcmp(v.m.status, "resolving") == 0 && !v.key[0]
             && strcmp(v.m.outcome, s->outcome) == 0))
        return refuse_stored(tx, s, 409, "market_closed",
                             "the market is already resolved or being resolved otherwise");
    {
        /* Open, or a resolution begun without a key (an older version): ours now. */
        int fresh = strcmp(v.m.status, "open") == 0;
        const char *p[6] = { s->id,  s->outcome,       s->caller,
                             s->key, i64(b, s->lease), fresh ? "t" : "f" };
        if (tx_exec_void(
                tx,
                "UPDATE markets SET status = 'resolving', outcome = $2, resolve_caller = $3,"
                " resolve_key = $4, resolve_lease = now() + make_interval(secs => $5::int),"
                " resolve_paid = CASE WHEN $6::boolean THEN 0 ELSE resolve_paid END,"
                " resolve_settled = CASE WHEN $6::boolean THEN 0 ELSE resolve_settled END"
                " WHERE id = $1",
                6, p)
            < 0)
            return TX_ERROR;
    }
    return TX_COMMIT;
}

/* STEP_TAKE (jobs child): take over a resolution whose lease has lapsed. */
static enum tx_decision take_step(struct tx *tx, struct resolve_tx *s, const struct resolving *v)
{
    if (strcmp(v->m.status, "resolving") != 0 || v->leased) {
        s->skip = 1;
        return TX_ROLLBACK;
    }
    snprintf(s->outcome, sizeof(s->outcome), "%s", v->m.outcome);
    snprintf(s->caller, sizeof(s->caller), "%s", v->caller);
    snprintf(s->key, sizeof(s->key), "%s", v->key);
    return extend_lease(tx, s) < 0 ? TX_ERROR : TX_COMMIT;
}

/* STEP_CLOSE: close the market and finish the key together; or, when
 * another driver closed it first, answer what it stored. */
static enum tx_decision close_step(struct tx *tx, struct resolve_tx *s, const struct resolving *v)
{
    const char *pk[2] = { v->caller, v->key };
    PGresult *res;

    if (strcmp(v->m.status, "resolving") == 0) {
        const char *p[1] = { v->m.escrow };
        res = tx_exec(tx, "SELECT balance FROM accounts WHERE id = $1", 1, p);
        if (!res)
            return TX_ERROR;
        int64_t bal = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
        PQclear(res);
        if (bal != 0) {
            log_error("market %s: escrow holds %" PRId64 " after paying every position", s->id,
                      bal);
            s->refused = 1;
            s->status = 500;
            s->body = util_json_take_text(http_problem_object(
                s->r, 500, "internal_error", "escrow did not end at zero; resolution halted"));
            return TX_ROLLBACK;
        }
        const char *pm[2] = { s->id, strcmp(s->outcome, "cancel") == 0 ? "cancelled" : "resolved" };
        if (tx_exec_void(tx,
                         "UPDATE markets SET status = $2, resolved_at = now(), resolve_lease = NULL"
                         " WHERE id = $1",
                         2, pm)
            < 0)
            return TX_ERROR;
    } else if (v->key[0]) {
        /* Closed already: the key holds the answer, unless it is still pending. */
        res = tx_exec(tx, "SELECT state, body FROM idempotency_keys WHERE caller = $1 AND key = $2",
                      2, pk);
        if (!res)
            return TX_ERROR;
        if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "done") == 0) {
            s->body = strdup(PQgetvalue(res, 0, 1));
            s->replayed = 1;
        }
        PQclear(res);
        if (s->replayed)
            return s->body ? TX_ROLLBACK : TX_ERROR;
    }
    s->body = resolved_body(s->id, s->outcome, v);
    if (!s->body)
        return TX_ERROR;
    if (v->key[0]) {
        const char *pf[3] = { v->caller, v->key, s->body };
        if (tx_exec_void(tx,
                         "UPDATE idempotency_keys SET state = 'done', status = 200, body = $3"
                         " WHERE caller = $1 AND key = $2 AND state = 'pending'",
                         3, pf)
            < 0)
            return TX_ERROR;
    }
    return TX_COMMIT;
}

static enum tx_decision resolve_step(struct tx *tx, void *arg)
{
    struct resolve_tx *s = arg;
    struct resolving mk;
    PGresult *res;
    char b1[24];
    int rc;

    s->done = s->refused = s->skip = s->replayed = 0;
    free(s->body);
    s->body = NULL;
    if (s->step == STEP_CLAIM)
        return claim_step(tx, s);
    rc = resolve_lock(tx, s->id, &mk);
    if (rc < 0)
        return TX_ERROR;
    if (rc == 0) {
        s->skip = 1;
        return TX_ROLLBACK;
    }
    if (s->step == STEP_TAKE)
        return take_step(tx, s, &mk);
    if (s->step == STEP_CLOSE)
        return close_step(tx, s, &mk);
    if (strcmp(mk.m.status, "resolving") != 0) {
        s->done = 1; /* closed by another driver: go to STEP_CLOSE */
        return TX_ROLLBACK;
    }

    switch (s->step) {
    case STEP_CANCEL_ORDERS: {
        const char *p[2] = { s->id, i64(b1, RESOLVE_BATCH) };
        res = tx_exec(tx, "SELECT id, account_id, side, outcome, remaining, hold_amount FROM orders"
                          " WHERE market_id = $1 AND status = 'open' ORDER BY seq LIMIT $2::int", 2, p);
        if (!res)
            return TX_ERROR;
        int n = PQntuples(res);
        if (n == 0) {
            PQclear(res);
            s->done = 1;
            return TX_ROLLBACK;
        }
        struct ledger_account *acc = calloc((size_t)n, sizeof(*acc));
        if (!acc) {
            PQclear(res);
            return TX_ERROR;
        }
        for (int i = 0; i < n; i++)
            snprintf(acc[i].id, sizeof(acc[i].id), "%s", PQgetvalue(res, i, 1));
        if (ledger_lock(tx, acc, n) < 0) {
            free(acc);
            PQclear(res);
            return TX_ERROR;
        }
        free(acc);
        for (int i = 0; i < n; i++) {
            const char *oid = PQgetvalue(res, i, 0), *who = PQgetvalue(res, i, 1);
            int64_t hold = strtoll(PQgetvalue(res, i, 5), NULL, 10);
            const char *po[1] = { oid };
            if (strcmp(PQgetvalue(res, i, 2), "buy") == 0) {
                if (hold > 0 && ledger_adjust_held(tx, who, -hold) < 0)
                    goto fail;
            } else {
                const char *pp[4] = { s->id, who, PQgetvalue(res, i, 3), PQgetvalue(res, i, 4) };
                if (tx_exec_void(tx, "UPDATE positions SET held = held - $4::bigint WHERE market_id = $1"
                                     " AND account_id = $2 AND outcome = $3", 4, pp) < 0)
                    goto fail;
            }
            if (tx_exec_void(tx, "UPDATE orders SET status = 'cancelled', hold_amount = 0, updated_at = now()"
                                 " WHERE id = $1", 1, po) < 0)
                goto fail;
        }
        PQclear(res);
        return extend_lease(tx, s) < 0 ? TX_ERROR : TX_COMMIT;
fail:
        PQclear(res);
        return TX_ERROR;
    }

    case STEP_PAY: {
        const char *p[2] = { s->id, i64(b1, RESOLVE_BATCH) };
        res = tx_exec(tx, "SELECT account_id, outcome, quantity, cost FROM positions"
                          " WHERE market_id = $1 AND (quantity > 0 OR cost > 0)"
                          " ORDER BY account_id, outcome LIMIT $2::int", 2, p);
        if (!res)
            return TX_ERROR;
        int n = PQntuples(res);
        int64_t paid = 0;
        if (n == 0) {
            PQclear(res);
            s->done = 1;
            return TX_ROLLBACK;
        }
        struct ledger_account *acc = calloc((size_t)n + 1, sizeof(*acc));
        if (!acc) {
            PQclear(res);
            return TX_ERROR;
        }
        for (int i = 0; i < n; i++)
            snprintf(acc[i].id, sizeof(acc[i].id), "%s", PQgetvalue(res, i, 0));
        memcpy(acc[n].id, mk.m.escrow, sizeof(acc[n].id));
        if (ledger_lock(tx, acc, n + 1) < 0) {
            free(acc);
            PQclear(res);
            return TX_ERROR;
        }
        free(acc);
        for (int i = 0; i < n; i++) {
            const char *who = PQgetvalue(res, i, 0), *out = PQgetvalue(res, i, 1);
            int64_t qty = strtoll(PQgetvalue(res, i, 2), NULL, 10);
            int64_t cost = strtoll(PQgetvalue(res, i, 3), NULL, 10);
            int64_t pay = 0, next;
            char memo[64];
            if (strcmp(s->outcome, "cancel") == 0)
                pay = cost;
            else if (strcmp(s->outcome, out) == 0
                     && __builtin_mul_overflow(qty, (int64_t)100, &pay))
                pay = -1;
            if (pay < 0 || __builtin_add_overflow(paid, pay, &next)) {
                /* escrow backs 100 per pair, so only corrupt data gets here;
                 * rolled back and not stored: the key stays pending and the
                 * market resolving, for an operator to look at */
                PQclear(res);
                s->refused = 1;
                s->status = 422;
                free(s->body);
                s->body = util_json_take_text(http_problem_object(
                    s->r, 422, "amount_out_of_range",
                    "a payout exceeds the largest representable amount"));
                return s->body ? TX_ROLLBACK : TX_ERROR;
            }
            snprintf(memo, sizeof(memo), "market %s %s", s->id, s->outcome);
            if (pay > 0
                && ledger_move(tx, mk.m.escrow, who, pay, 0,
                               strcmp(s->outcome, "cancel") == 0 ? "refund" : "payout", "system",
                               memo, NULL, NULL, NULL)
                    < 0) {
                PQclear(res);
                return TX_ERROR;
            }
            const char *pp[3] = { s->id, who, out };
            if (tx_exec_void(tx, "UPDATE positions SET quantity = 0, held = 0, cost = 0"
                                 " WHERE market_id = $1 AND account_id = $2 AND outcome = $3", 3, pp) < 0) {
                PQclear(res);
                return TX_ERROR;
            }
            paid = next;
        }
        PQclear(res);
        {
            /* What this batch paid, in its own transaction: exact whoever resumes. */
            char b2[24], b3[24], b4[24];
            const char *pc[4] = { s->id, i64(b2, paid), i64(b3, n), i64(b4, s->lease) };
            if (tx_exec_void(
                    tx,
                    "UPDATE markets SET resolve_paid = coalesce(resolve_paid, 0) + $2::bigint,"
                    " resolve_settled = coalesce(resolve_settled, 0) + $3::bigint,"
                    " resolve_lease = now() + make_interval(secs => $4::int) WHERE id = $1",
                    4, pc)
                < 0)
                return TX_ERROR;
        }
        return TX_COMMIT;
    }

    default:
        break;
    }
    return TX_ERROR;
}

/* Best effort after a failed step: let a retry or the jobs child resume at once. */
static enum tx_decision release_tx(struct tx *tx, void *arg)
{
    const char *p[1] = { arg };

    if (tx_exec_void(
            tx, "UPDATE markets SET resolve_lease = NULL WHERE id = $1 AND status = 'resolving'", 1,
            p)
        < 0)
        return TX_ERROR;
    return TX_COMMIT;
}

/*
 * Run the batches and the close for s (its claim or take-over committed).
 * Returns 0 with s->status/s->body set, or -1 when a transaction failed
 * (r answered with 503/500; the lease is released if the database lets us).
 */
static int resolve_drive(struct request *r, struct resolve_tx *s)
{
    enum tx_decision d;

    for (s->step = STEP_CANCEL_ORDERS; s->step <= STEP_CLOSE; s->step++) {
        do {
            if (api_tx_run(r, 0, resolve_step, s, &d) < 0) {
                struct request q;
                memset(&q, 0, sizeof(q)); /* a synthetic request: nothing more is answered */
                q.cfg = r->cfg;
                q.endpoint = r->endpoint;
                snprintf(q.request_id, sizeof(q.request_id), "%s", r->request_id);
                api_tx_run(&q, 0, release_tx, (void *)s->id, &d);
                return -1;
            }
            if (s->refused)
                return 0;
        } while ((s->step == STEP_CANCEL_ORDERS || s->step == STEP_PAY) && !s->done);
    }
    s->status = 200;
    return 0;
}

void handle_market_resolve(struct request *r)
{
    static const char *const allowed[] = { "outcome", NULL };
    const char *unknown = util_json_unknown_member(r->json, allowed);
    char id[UUID_STR_LEN + 1];
    struct json_object *v;
    struct resolve_tx s;
    struct idem idem;
    enum tx_decision d;

    if (!util_uuid_parse(r->path_params[0], id)) {
        http_problem(r, 404, "market_not_found", "no such market");
        return;
    }
    if (unknown) {
        http_problem(r, 422, "unknown_field", "unknown field \"%.64s\"", unknown);
        return;
    }
    if (!json_object_object_get_ex(r->json, "outcome", &v) || !json_object_is_type(v, json_type_string)
        || (strcmp(json_object_get_string(v), "yes") != 0 && strcmp(json_object_get_string(v), "no") != 0
            && strcmp(json_object_get_string(v), "cancel") != 0)) {
        http_problem(r, 422, "invalid_outcome", "\"outcome\" must be \"yes\", \"no\" or \"cancel\"");
        return;
    }
    if (idem_prepare(r, &idem) < 0)
        return;
    memset(&s, 0, sizeof(s));
    s.r = r;
    s.id = id;
    s.idem = &idem;
    s.lease = r->cfg->resolve_lease;
    snprintf(s.outcome, sizeof(s.outcome), "%s", json_object_get_string(v));
    snprintf(s.caller, sizeof(s.caller), "%s", idem.caller);
    snprintf(s.key, sizeof(s.key), "%s", idem.key);
    s.step = STEP_CLAIM;
    if (api_tx_run(r, 0, resolve_step, &s, &d) < 0)
        goto out;
    if (s.refused) {
        http_respond_raw(r, s.status, "application/problem+json", s.body, strlen(s.body), "");
        goto out;
    }
    if (d == TX_ROLLBACK) {
        idem_respond(r, &idem); /* replay, 422 reused, 409 in flight */
        goto out;
    }
    if (resolve_drive(r, &s) < 0)
        goto out;
    http_respond_raw(r, s.status, s.status >= 400 ? "application/problem+json" : "application/json",
                     s.body, strlen(s.body), s.replayed ? "Idempotent-Replayed: true\r\n" : "");
out:
    free(s.body);
    idem_free(&idem);
}

struct stale {
    char ids[32][UUID_STR_LEN + 1];
    int max, n;
};

static enum tx_decision stale_tx(struct tx *tx, void *arg)
{
    struct stale *q = arg;
    char b[24];
    const char *p[1] = { i64(b, q->max) };
    PGresult *res = tx_exec(tx,
                            "SELECT id FROM markets WHERE status = 'resolving'"
                            " AND (resolve_lease IS NULL OR resolve_lease < now())"
                            " ORDER BY id LIMIT $1::int",
                            1, p);

    if (!res)
        return TX_ERROR;
    q->n = PQntuples(res);
    for (int i = 0; i < q->n; i++)
        snprintf(q->ids[i], sizeof(q->ids[i]), "%s", PQgetvalue(res, i, 0));
    PQclear(res);
    return TX_COMMIT;
}

int market_resolve_stale(const struct zs_config *cfg, int max)
{
    struct request r;
    struct stale q;
    int finished = 0;
    enum tx_decision d;

    memset(&r, 0, sizeof(r));
    memset(&q, 0, sizeof(q));
    r.cfg = cfg;
    r.endpoint = EP_MARKETS;
    snprintf(r.request_id, sizeof(r.request_id), "jobs-resolve");
    q.max = max < 1 ? 1 : max > 32 ? 32 : max;
    if (api_tx_run(&r, TX_READ_ONLY, stale_tx, &q, &d) < 0)
        return -1;
    for (int i = 0; i < q.n; i++) {
        struct resolve_tx s;
        memset(&s, 0, sizeof(s));
        s.r = &r;
        s.id = q.ids[i];
        s.lease = cfg->resolve_lease;
        s.step = STEP_TAKE;
        r.status = 0;
        if (api_tx_run(&r, 0, resolve_step, &s, &d) == 0 && d == TX_COMMIT && !s.skip
            && resolve_drive(&r, &s) == 0 && !s.refused) {
            log_info("market %s: finished an interrupted resolution (%s)", s.id, s.outcome);
            finished++;
        }
        free(s.body);
    }
    return finished;
}
