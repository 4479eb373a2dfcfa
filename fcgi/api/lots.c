/*
 * lots.c — the lot model, settlement, and the lot endpoints:
 * POST /lots (admin), GET /lots, GET /lots/{id}.
 */
#include "api/lots.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_tx.h"
#include "api/idempotency.h"
#include "domain/ledger.h"
#include "log.h"
#include "metrics.h"
#include "api/routes.h"
#include "util.h"
#include "api/validate.h"

/* The whole intervals are capped where the floor is reached, so step x intervals
 * cannot overflow bigint however large the step or old the lot. */
#define DUTCH_PRICE_SQL \
    "CASE WHEN kind = 'dutch' THEN GREATEST(floor_price, start_price - step * " \
    "LEAST(floor(extract(epoch FROM (now() - starts_at)) / interval_s)::bigint," \
    " (start_price - floor_price) / step + 1)) END"

const char *const lot_columns_sql =
    "id, kind, seller, title, status, start_price, increment, reserve, snipe_window, snipe_extend,"
    " floor_price, step, interval_s, price, max_per_claim, qty_total, qty_claimed,"
    " high_amount, high_bidder, high_bid, seq, "
    LEDGER_TS("starts_at") " AS starts_at, " LEDGER_TS("ends_at") " AS ends_at, "
    LEDGER_TS("settled_at") " AS settled_at,"
    " winner, clearing_price,"
    " now() >= starts_at AS started,"
    " (kind = 'english' AND now() >= ends_at) AS ended, "
    DUTCH_PRICE_SQL " AS current_price, " LEDGER_TS("now()") " AS db_now";

static const char *col(PGresult *res, int row, const char *name)
{
    int c = PQfnumber(res, name);

    if (c < 0 || PQgetisnull(res, row, c))
        return NULL;
    return PQgetvalue(res, row, c);
}

static int64_t col_i64(PGresult *res, int row, const char *name)
{
    const char *v = col(res, row, name);

    return v ? strtoll(v, NULL, 10) : 0;
}

static void copy_col(char *dst, size_t n, PGresult *res, int row, const char *name)
{
    const char *v = col(res, row, name);

    snprintf(dst, n, "%s", v ? v : "");
}

void lot_parse(PGresult *res, int row, struct lot *l)
{
    memset(l, 0, sizeof(*l));
    copy_col(l->id, sizeof(l->id), res, row, "id");
    copy_col(l->kind, sizeof(l->kind), res, row, "kind");
    copy_col(l->seller, sizeof(l->seller), res, row, "seller");
    copy_col(l->status, sizeof(l->status), res, row, "status");
    l->start_price = col_i64(res, row, "start_price");
    l->increment = col_i64(res, row, "increment");
    l->reserve = col_i64(res, row, "reserve");
    l->floor_price = col_i64(res, row, "floor_price");
    l->step = col_i64(res, row, "step");
    l->price = col_i64(res, row, "price");
    l->interval_s = (int)col_i64(res, row, "interval_s");
    l->snipe_window = (int)col_i64(res, row, "snipe_window");
    l->snipe_extend = (int)col_i64(res, row, "snipe_extend");
    l->max_per_claim = (int)col_i64(res, row, "max_per_claim");
    l->qty_total = (int)col_i64(res, row, "qty_total");
    l->qty_claimed = (int)col_i64(res, row, "qty_claimed");
    l->high_amount = col_i64(res, row, "high_amount");
    copy_col(l->high_bidder, sizeof(l->high_bidder), res, row, "high_bidder");
    copy_col(l->high_bid, sizeof(l->high_bid), res, row, "high_bid");
    l->seq = col_i64(res, row, "seq");
    l->started = col(res, row, "started") && strcmp(col(res, row, "started"), "t") == 0;
    l->ended = col(res, row, "ended") && strcmp(col(res, row, "ended"), "t") == 0;
    l->current_price = col_i64(res, row, "current_price");
}

static void add_i64(struct json_object *o, const char *name, PGresult *res, int row,
                    const char *colname)
{
    const char *v = col(res, row, colname);

    json_object_object_add(o, name, v ? json_object_new_int64(strtoll(v, NULL, 10)) : NULL);
}

static void add_str(struct json_object *o, const char *name, PGresult *res, int row,
                    const char *colname)
{
    const char *v = col(res, row, colname);

    json_object_object_add(o, name, v ? json_object_new_string(v) : NULL);
}

struct json_object *lot_json(PGresult *res, int row)
{
    struct json_object *o = json_object_new_object();
    struct lot l;

    lot_parse(res, row, &l);
    add_str(o, "id", res, row, "id");
    add_str(o, "kind", res, row, "kind");
    add_str(o, "seller", res, row, "seller");
    add_str(o, "title", res, row, "title");
    add_str(o, "status", res, row, "status");
    if (strcmp(l.kind, "english") == 0) {
        add_i64(o, "start_price", res, row, "start_price");
        add_i64(o, "increment", res, row, "increment");
        add_i64(o, "reserve", res, row, "reserve");
        add_i64(o, "snipe_window", res, row, "snipe_window");
        add_i64(o, "snipe_extend", res, row, "snipe_extend");
        add_i64(o, "high_amount", res, row, "high_amount");
        add_str(o, "high_bidder", res, row, "high_bidder");
        int64_t min = l.start_price;
        /* null once no higher bid fits in a bigint (POST /bid then answers
         * 422 amount_out_of_range) */
        if (strcmp(l.status, "live") == 0 && !l.ended
            && !(l.high_bidder[0] && __builtin_add_overflow(l.high_amount, l.increment, &min))) {
            json_object_object_add(o, "min_next_bid", json_object_new_int64(min));
        } else {
            json_object_object_add(o, "min_next_bid", NULL);
        }
    } else if (strcmp(l.kind, "dutch") == 0) {
        add_i64(o, "start_price", res, row, "start_price");
        add_i64(o, "floor_price", res, row, "floor_price");
        add_i64(o, "step", res, row, "step");
        add_i64(o, "interval", res, row, "interval_s");
        json_object_object_add(o, "current_price", strcmp(l.status, "live") == 0
                               ? json_object_new_int64(l.current_price) : NULL);
    } else {
        add_i64(o, "price", res, row, "price");
        add_i64(o, "max_per_claim", res, row, "max_per_claim");
        add_i64(o, "quantity", res, row, "qty_total");
        add_i64(o, "claimed", res, row, "qty_claimed");
        json_object_object_add(o, "units_left", json_object_new_int64(l.qty_total - l.qty_claimed));
    }
    add_i64(o, "seq", res, row, "seq");
    add_str(o, "starts_at", res, row, "starts_at");
    add_str(o, "ends_at", res, row, "ends_at");
    add_str(o, "settled_at", res, row, "settled_at");
    add_str(o, "winner", res, row, "winner");
    add_i64(o, "clearing_price", res, row, "clearing_price");
    json_object_object_add(o, "ended", json_object_new_boolean(
                               strcmp(l.status, "live") != 0 || l.ended));
    add_str(o, "now", res, row, "db_now");
    return o;
}

const char *lot_lock_sql(void)
{
    static char sql[2048];

    if (!sql[0])
        snprintf(sql, sizeof(sql), "SELECT %s FROM lots WHERE id = $1 FOR UPDATE", lot_columns_sql);
    return sql;
}

int lot_lock(struct tx *tx, const char *id, struct lot *l)
{
    const char *p[1] = { id };
    PGresult *res;
    int found;

    res = tx_exec(tx, lot_lock_sql(), 1, p);
    if (!res)
        return -1;
    found = PQntuples(res) == 1;
    if (found)
        lot_parse(res, 0, l);
    PQclear(res);
    return found;
}

int lot_settle_if_due(struct tx *tx, struct lot *l)
{
    char amt[24], tid[UUID_STR_LEN + 1], memo[64];

    if (strcmp(l->kind, "english") != 0 || strcmp(l->status, "live") != 0 || !l->ended)
        return 0;
    snprintf(amt, sizeof(amt), "%" PRId64, l->high_amount);
    if (!l->high_bidder[0]) {
        const char *p[1] = { l->id };
        if (tx_exec_void(tx, "UPDATE lots SET status = 'unsold', settled_at = now() WHERE id = $1",
                         1, p) < 0)
            return -1;
        snprintf(l->status, sizeof(l->status), "unsold");
        return 1;
    }
    if (l->reserve > 0 && l->high_amount < l->reserve) {
        struct ledger_account acc[1];
        const char *p[1] = { l->id };
        memset(acc, 0, sizeof(acc));
        memcpy(acc[0].id, l->high_bidder, sizeof(acc[0].id));
        if (ledger_lock(tx, acc, 1) < 0 || ledger_adjust_held(tx, l->high_bidder, -l->high_amount) < 0
            || tx_exec_void(tx, "UPDATE holds SET state = 'released', updated_at = now()"
                                " WHERE lot_id = $1 AND state = 'active'", 1, p) < 0
            || tx_exec_void(tx, "UPDATE bids SET status = 'lost'"
                                " WHERE lot_id = $1 AND status IN ('leading', 'outbid')", 1, p) < 0
            || tx_exec_void(tx, "UPDATE lots SET status = 'unsold', settled_at = now() WHERE id = $1",
                            1, p) < 0)
            return -1;
        snprintf(l->status, sizeof(l->status), "unsold");
        return 1;
    }
    {
        struct ledger_account acc[2];
        memset(acc, 0, sizeof(acc));
        memcpy(acc[0].id, l->high_bidder, sizeof(acc[0].id));
        memcpy(acc[1].id, l->seller, sizeof(acc[1].id));
        if (ledger_lock(tx, acc, 2) < 0)
            return -1;
        if (!ledger_move_fits(&acc[0], &acc[1], l->high_amount))
            return LOT_SETTLE_OUT_OF_RANGE; /* nothing written yet */
        snprintf(memo, sizeof(memo), "lot %s", l->id);
        if (ledger_move(tx, l->high_bidder, l->seller, l->high_amount, l->high_amount, "capture",
                        "system", memo, NULL, tid, NULL) < 0)
            return -1;
    }
    {
        const char *p[2] = { l->id, tid };
        const char *q[2] = { l->id, l->high_bid };
        const char *s[2] = { l->id, amt };
        if (tx_exec_void(tx, "UPDATE holds SET state = 'captured', transfer_id = $2, updated_at = now()"
                             " WHERE lot_id = $1 AND state = 'active'", 2, p) < 0
            || tx_exec_void(tx, "UPDATE bids SET status = CASE WHEN id = $2::uuid THEN 'won' ELSE 'lost' END"
                                " WHERE lot_id = $1 AND status IN ('leading', 'outbid')", 2, q) < 0
            || tx_exec_void(tx, "UPDATE lots SET status = 'settled', settled_at = now(), winner = high_bidder,"
                                " clearing_price = $2::bigint WHERE id = $1", 2, s) < 0)
            return -1;
    }
    snprintf(l->status, sizeof(l->status), "settled");
    return 1;
}

/* ---- the sweep --------------------------------------------------------- */

/* A lot the sweep could not settle is skipped for this long, so it can
 * neither stall the lots behind it nor cost a failed transaction a second. */
#define SWEEP_RETRY_S 60
#define SWEEP_SKIP_MAX 64
#define SWEEP_BATCH_MAX 64

static struct {
    char id[UUID_STR_LEN + 1];
    time_t until;
} skipped[SWEEP_SKIP_MAX];

static int is_skipped(const char *id, time_t now)
{
    for (int i = 0; i < SWEEP_SKIP_MAX; i++)
        if (skipped[i].until > now && strcmp(skipped[i].id, id) == 0)
            return 1;
    return 0;
}

static int skipped_count(time_t now)
{
    int n = 0;

    for (int i = 0; i < SWEEP_SKIP_MAX; i++)
        n += skipped[i].until > now;
    return n;
}

/* Remember id until now + SWEEP_RETRY_S, in a free slot or the one that expires first. */
static void skip_lot(const char *id, time_t now)
{
    int k = 0;

    for (int i = 0; i < SWEEP_SKIP_MAX; i++)
        if (skipped[i].until < skipped[k].until)
            k = i;
    snprintf(skipped[k].id, sizeof(skipped[k].id), "%s", id);
    skipped[k].until = now + SWEEP_RETRY_S;
}

struct settle_one {
    const char *id;
    int settled;
    int out_of_range; /* the capture would overflow a balance */
};

static enum tx_decision settle_one_tx(struct tx *tx, void *arg)
{
    struct settle_one *s = arg;
    struct lot l;
    int rc;

    s->settled = s->out_of_range = 0;
    rc = lot_lock(tx, s->id, &l);
    if (rc < 0)
        return TX_ERROR;
    if (rc == 0)
        return TX_ROLLBACK;
    rc = lot_settle_if_due(tx, &l);
    if (rc == LOT_SETTLE_OUT_OF_RANGE) {
        s->out_of_range = 1;
        return TX_ROLLBACK;
    }
    if (rc < 0)
        return TX_ERROR;
    s->settled = rc;
    return rc ? TX_COMMIT : TX_ROLLBACK;
}

struct due_list {
    int limit; /* rows to read: the batch plus the skipped lots */
    int n;
    char ids[SWEEP_BATCH_MAX + SWEEP_SKIP_MAX][UUID_STR_LEN + 1];
};

static enum tx_decision due_tx(struct tx *tx, void *arg)
{
    struct due_list *d = arg;
    char lim[16];
    const char *p[1] = { lim };
    PGresult *res;

    snprintf(lim, sizeof(lim), "%d", d->limit);
    res = tx_exec(tx, "SELECT id FROM lots WHERE status = 'live' AND kind = 'english'"
                      " AND ends_at <= now() ORDER BY ends_at LIMIT $1::int", 1, p);
    if (!res)
        return TX_ERROR;
    d->n = PQntuples(res);
    for (int i = 0; i < d->n; i++)
        snprintf(d->ids[i], sizeof(d->ids[i]), "%s", PQgetvalue(res, i, 0));
    PQclear(res);
    return TX_COMMIT;
}

int lots_sweep(const struct zs_config *cfg, int limit)
{
    struct request r;
    struct due_list d;
    enum tx_decision dec;
    int settled = 0, tried = 0;
    time_t now = time(NULL);

    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.endpoint = EP_LOTS;
    snprintf(r.request_id, sizeof(r.request_id), "jobs-sweep");
    memset(&d, 0, sizeof(d));
    if (limit > SWEEP_BATCH_MAX)
        limit = SWEEP_BATCH_MAX;
    /* Read past the skipped lots, so that they cannot fill the batch. */
    d.limit = limit + skipped_count(now);
    if (api_tx_run(&r, TX_READ_ONLY, due_tx, &d, &dec) < 0)
        return -1;
    for (int i = 0; i < d.n && tried < limit; i++) {
        struct settle_one s = { d.ids[i], 0, 0 };
        if (is_skipped(d.ids[i], now))
            continue;
        tried++;
        r.status = 0;
        if (api_tx_run(&r, 0, settle_one_tx, &s, &dec) < 0 && r.status == 503)
            return -1; /* the database is away: the next round retries */
        if (r.status || s.out_of_range) {
            /* This lot cannot settle now (a capture past bigint, a failed
             * statement): skip it, count it, and go on with the rest. */
            metrics_count_settle_skipped();
            skip_lot(d.ids[i], now);
            log_error("lot %s cannot be settled (%s); skipped for %d s", d.ids[i],
                      s.out_of_range ? "the capture would overflow the seller's balance"
                                     : "its transaction failed",
                      SWEEP_RETRY_S);
            continue;
        }
        if (s.settled) {
            log_info("settled lot %s", d.ids[i]);
            settled++;
        }
    }
    return settled;
}

/* ---- POST /lots ---------------------------------------------------------- */

/* Optional integer member in [lo, hi]; 0 ok (absent → *out untouched), -1 answered. */
static int opt_int(struct request *r, const char *name, int64_t lo, int64_t hi, int required,
                   int64_t *out)
{
    struct json_object *v;
    int64_t n;

    if (!json_object_object_get_ex(r->json, name, &v) || json_object_is_type(v, json_type_null)) {
        if (required) {
            http_problem(r, 422, "missing_field", "\"%s\" is required", name);
            return -1;
        }
        return 0;
    }
    if (util_json_int64(v, lo, &n) < 0 || n > hi) {
        http_problem(r, 422, "invalid_field", "\"%s\" must be an integer from %" PRId64 " to %" PRId64,
                     name, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

int parse_lot_spec(struct request *r, struct lot_spec *s)
{
    static const char *const allowed[] = {
        "kind", "seller", "title", "start", "increment", "reserve", "ends_in", "snipe_window",
        "snipe_extend", "floor", "step", "interval", "price", "quantity", "max_per_claim", NULL
    };
    static const char *const english_only[] = { "increment", "reserve", "ends_in", "snipe_window",
                                                "snipe_extend", NULL };
    static const char *const dutch_only[] = { "floor", "step", "interval", NULL };
    static const char *const drop_only[] = { "price", "quantity", "max_per_claim", NULL };
    const int64_t big = INT64_MAX / 4, year = 366 * 86400;
    struct json_object *v;
    const char *unknown = util_json_unknown_member(r->json, allowed);
    const char *const *foreign[2];

    memset(s, 0, sizeof(*s));
    if (unknown) {
        http_problem(r, 422, "unknown_field", "unknown field \"%.64s\"", unknown);
        return -1;
    }
    if (!json_object_object_get_ex(r->json, "kind", &v) || !json_object_is_type(v, json_type_string)
        || (strcmp(json_object_get_string(v), "english") != 0
            && strcmp(json_object_get_string(v), "dutch") != 0
            && strcmp(json_object_get_string(v), "drop") != 0)) {
        http_problem(r, 422, "invalid_kind", "\"kind\" must be \"english\", \"dutch\" or \"drop\"");
        return -1;
    }
    s->kind = json_object_get_string(v);
    if (!json_object_object_get_ex(r->json, "seller", &v) || !json_object_is_type(v, json_type_string)
        || !util_uuid_parse(json_object_get_string(v), s->seller)) {
        http_problem(r, 422, "invalid_account_id", "\"seller\" must be an account id");
        return -1;
    }
    if (json_object_object_get_ex(r->json, "title", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) > 200) {
            http_problem(r, 422, "invalid_field", "\"title\" must be a string of at most 200 bytes");
            return -1;
        }
        s->title = json_object_get_string(v);
    }
    if (strcmp(s->kind, "english") == 0) {
        foreign[0] = dutch_only;
        foreign[1] = drop_only;
        if (opt_int(r, "start", 1, big, 1, &s->start) < 0
            || opt_int(r, "increment", 1, big, 1, &s->increment) < 0
            || opt_int(r, "ends_in", 1, year, 1, &s->ends_in) < 0
            || opt_int(r, "reserve", 1, big, 0, &s->reserve) < 0
            || opt_int(r, "snipe_window", 0, 86400, 0, &s->snipe_window) < 0
            || opt_int(r, "snipe_extend", 0, 86400, 0, &s->snipe_extend) < 0)
            return -1;
    } else if (strcmp(s->kind, "dutch") == 0) {
        foreign[0] = english_only;
        foreign[1] = drop_only;
        if (opt_int(r, "start", 1, big, 1, &s->start) < 0
            || opt_int(r, "floor", 1, big, 1, &s->floor) < 0
            || opt_int(r, "step", 1, big, 1, &s->step) < 0
            || opt_int(r, "interval", 1, year, 1, &s->interval) < 0)
            return -1;
        if (s->floor > s->start) {
            http_problem(r, 422, "invalid_field", "\"floor\" must not exceed \"start\"");
            return -1;
        }
    } else {
        foreign[0] = english_only;
        foreign[1] = dutch_only;
        if (opt_int(r, "price", 1, big, 1, &s->price) < 0
            || opt_int(r, "quantity", 1, 1000000, 1, &s->quantity) < 0
            || opt_int(r, "max_per_claim", 1, 1000000, 0, &s->max_per_claim) < 0)
            return -1;
        if (json_object_object_get_ex(r->json, "start", &v)) {
            http_problem(r, 422, "field_not_applicable", "\"start\" does not apply to a drop lot");
            return -1;
        }
    }
    for (int k = 0; k < 2; k++)
        for (const char *const *f = foreign[k]; *f; f++)
            if (json_object_object_get_ex(r->json, *f, &v)) {
                http_problem(r, 422, "field_not_applicable", "\"%s\" does not apply to a %s lot",
                             *f, s->kind);
                return -1;
            }
    return 0;
}

struct create_lot {
    struct request *r;
    const struct lot_spec *s;
    struct idem *idem;
    int status;
    char *body;
};

static enum tx_decision create_lot_tx(struct tx *tx, void *arg)
{
    struct create_lot *c = arg;
    const struct lot_spec *s = c->s;
    char id[UUID_STR_LEN + 1], v[10][24], sql[2600];
    PGresult *res;

    free(c->body);
    c->body = NULL;
    if (idem_claim(tx, c->idem) < 0)
        return TX_ERROR;
    if (c->idem->outcome != IDEM_NEW)
        return TX_ROLLBACK;
    {
        const char *p[1] = { s->seller };
        res = tx_exec(tx, "SELECT kind FROM accounts WHERE id = $1", 1, p);
        if (!res)
            return TX_ERROR;
        int ok = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "user") == 0;
        PQclear(res);
        if (!ok) {
            c->status = 422;
            c->body = util_json_take_text(http_problem_object(c->r, 422, "seller_not_found",
                                                  "the seller must be an existing user account"));
            if (!c->body || idem_finish(tx, c->idem, c->status, c->body) < 0)
                return TX_ERROR;
            return TX_COMMIT;
        }
    }
    if (util_uuid_v4(id) < 0)
        return TX_ERROR;
#define V(i, x) (x ? (snprintf(v[i], sizeof(v[i]), "%" PRId64, (int64_t)(x)), v[i]) : NULL)
    const char *p[14] = {
        id, s->kind, s->seller, s->title ? s->title : "",
        V(0, s->start), V(1, s->increment), V(2, s->reserve),
        V(3, s->snipe_window), V(4, s->snipe_extend), V(5, s->floor), V(6, s->step),
        V(7, s->interval), V(8, s->price), V(9, s->max_per_claim),
    };
#undef V
    char qty[24], ends[24];
    snprintf(qty, sizeof(qty), "%" PRId64, s->quantity ? s->quantity : 1);
    snprintf(ends, sizeof(ends), "%" PRId64, s->ends_in);
    const char *pp[16];
    memcpy(pp, p, sizeof(p));
    pp[14] = qty;
    pp[15] = strcmp(s->kind, "english") == 0 ? ends : NULL;
    snprintf(sql, sizeof(sql),
             "INSERT INTO lots (id, kind, seller, title, start_price, increment, reserve,"
             " snipe_window, snipe_extend, floor_price, step, interval_s, price, max_per_claim,"
             " qty_total, ends_at)"
             " VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8::int, 0), coalesce($9::int, 0),"
             " $10, $11, $12, $13, $14, $15,"
             " now() + make_interval(secs => $16::bigint)) RETURNING %s", lot_columns_sql);
    res = tx_exec(tx, sql, 16, pp);
    if (!res)
        return TX_ERROR;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "lot", lot_json(res, 0));
    PQclear(res);
    c->status = 201;
    c->body = util_json_take_text(o);
    if (!c->body || idem_finish(tx, c->idem, 201, c->body) < 0)
        return TX_ERROR;
    return TX_COMMIT;
}

void handle_lot_create(struct request *r)
{
    struct lot_spec s;
    struct idem idem;
    struct create_lot c;
    enum tx_decision d;

    if (parse_lot_spec(r, &s) < 0)
        return;
    if (idem_prepare(r, &idem) < 0)
        return;
    memset(&c, 0, sizeof(c));
    c.r = r;
    c.s = &s;
    c.idem = &idem;
    if (api_tx_run(r, 0, create_lot_tx, &c, &d) == 0)
        idem_answer(r, d, &idem, c.status, c.body);
    free(c.body);
    idem_free(&idem);
}

/* ---- GET /lots, GET /lots/{id} ------------------------------------------ */

struct lot_read {
    const char *id;              /* NULL: list */
    struct json_object *out;
};

static struct json_object *recent_bids(PGresult *res)
{
    struct json_object *a = json_object_new_array();

    for (int i = 0; i < PQntuples(res); i++) {
        struct json_object *b = json_object_new_object();
        json_object_object_add(b, "id", json_object_new_string(PQgetvalue(res, i, 0)));
        json_object_object_add(b, "bidder", json_object_new_string(PQgetvalue(res, i, 1)));
        json_object_object_add(b, "amount", json_object_new_int64(strtoll(PQgetvalue(res, i, 2), NULL, 10)));
        json_object_object_add(b, "quantity", json_object_new_int(atoi(PQgetvalue(res, i, 3))));
        json_object_object_add(b, "seq", json_object_new_int64(strtoll(PQgetvalue(res, i, 4), NULL, 10)));
        json_object_object_add(b, "status", json_object_new_string(PQgetvalue(res, i, 5)));
        json_object_object_add(b, "created_at", json_object_new_string(PQgetvalue(res, i, 6)));
        json_object_array_add(a, b);
    }
    return a;
}

static enum tx_decision lot_read_tx(struct tx *tx, void *arg)
{
    struct lot_read *g = arg;
    char sql[2600];
    const char *p[1] = { g->id };
    PGresult *res;

    if (g->out) {
        json_object_put(g->out);
        g->out = NULL;
    }
    if (!g->id) {
        snprintf(sql, sizeof(sql), "SELECT %s FROM lots ORDER BY created_at DESC LIMIT 50",
                 lot_columns_sql);
        res = tx_exec(tx, sql, 0, NULL);
        if (!res)
            return TX_ERROR;
        g->out = json_object_new_array();
        for (int i = 0; i < PQntuples(res); i++)
            json_object_array_add(g->out, lot_json(res, i));
        PQclear(res);
        return TX_COMMIT;
    }
    /* Close on read: a live English lot past its end settles now. */
    snprintf(sql, sizeof(sql), "SELECT %s FROM lots WHERE id = $1", lot_columns_sql);
    res = tx_exec(tx, sql, 1, p);
    if (!res)
        return TX_ERROR;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return TX_COMMIT;
    }
    {
        struct lot l;
        lot_parse(res, 0, &l);
        if (strcmp(l.kind, "english") == 0 && strcmp(l.status, "live") == 0 && l.ended) {
            PQclear(res);
            /* A lot that cannot settle now (LOT_SETTLE_OUT_OF_RANGE: nothing
             * written) is shown as it is, ended and unsettled. */
            if (lot_lock(tx, g->id, &l) < 0 || lot_settle_if_due(tx, &l) == -1)
                return TX_ERROR;
            res = tx_exec(tx, sql, 1, p);
            if (!res)
                return TX_ERROR;
        }
    }
    g->out = lot_json(res, 0);
    PQclear(res);
    res = tx_exec(tx, "SELECT id, bidder, amount, quantity, seq, status, " LEDGER_TS("created_at")
                      " FROM bids WHERE lot_id = $1 ORDER BY seq DESC LIMIT 20", 1, p);
    if (!res)
        return TX_ERROR;
    json_object_object_add(g->out, "recent_bids", recent_bids(res));
    PQclear(res);
    return TX_COMMIT;
}

void handle_lot_list(struct request *r)
{
    struct lot_read g = { NULL, NULL };
    enum tx_decision d;

    int rc = api_tx_run(r, TX_READ_ONLY, lot_read_tx, &g, &d);

    /* tx_run first: the transaction fills the output */
    api_answer_read(r, rc, g.out, "lots", NULL,
                   NULL);
}

void handle_lot_get(struct request *r)
{
    char id[UUID_STR_LEN + 1];
    struct lot_read g = { id, NULL };
    enum tx_decision d;

    if (!util_uuid_parse(r->path_params[0], id)) {
        http_problem(r, 404, "lot_not_found", "no such lot");
        return;
    }
    int rc = api_tx_run(r, 0, lot_read_tx, &g, &d);

    /* tx_run first: the transaction fills the output */
    api_answer_read(r, rc, g.out, "lot", "lot_not_found",
                   "no such lot");
}
