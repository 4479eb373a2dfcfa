/*
 * proof.c — GET /proof: the ledger's and the auctions' invariants, computed
 * live from one consistent read-only snapshot, plus the stampede runs.
 *
 * Each check compares two facts the system keeps independently (entries vs
 * balances, active holds vs accounts.held, claim rows vs qty_claimed, …)
 * and counts the rows where they disagree. Checks that merely restate a
 * schema constraint are reported with kind "constraint", not as evidence.
 * 200 when every check holds, 409 `inconsistent` otherwise, so that
 * `curl -fsS …/proof` gates a shell script.
 *
 * What a caller learns depends on who it is, by one rule: nobody but an
 * admin learns anything GET /transfers/{id} or GET /accounts/{id} would
 * refuse them. So the ids a failing check names ("sample") and the
 * free-form parts of a stampede run's summary (strings, lists) go to admins
 * only; everyone else gets the counts. An anonymous answer is the same for
 * every anonymous caller and says `Cache-Control: public, max-age=2`
 * (PROOF_MAX_AGE), so nginx computes it once for all of them; an answer to
 * a request with a token is no-store and always freshly computed.
 *
 * The whole audit has one budget, PROOF_BUDGET_MS from the moment the
 * request was read: every statement runs with the statement_timeout left
 * of it (PostgreSQL 15 has no transaction_timeout), so the answer, or a 503
 * when the budget runs out, always comes before nginx's 125 s
 * fastcgi_read_timeout for /proof.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_tx.h"
#include "api/auth.h"
#include "store/db.h"
#include "api/idempotency.h"
#include "metrics.h"
#include "domain/ledger.h"
#include "api/routes.h"
#include "util.h"

struct check {
    const char *name;
    const char *kind;          /* evidence | constraint */
    const char *description;
    const char *sql;           /* one row: observed bigint, sample text (nullable) */
};

/* Observed is the number of violating rows (expected 0) unless noted. */
static const struct check checks[] = {
    { "transfers_balanced", "evidence",
      "every transfer has at least two entries, its entries sum to zero, and they only debit"
      " its payer and credit its payee by its amount",
      "SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ("
      " SELECT t.id, row_number() OVER () AS rn FROM transfers t"
      " LEFT JOIN entries e ON e.transfer_id = t.id GROUP BY t.id, t.from_account, t.to_account, t.amount"
      " HAVING count(e.id) < 2 OR coalesce(sum(e.amount), 0) <> 0"
      "  OR coalesce(sum(e.amount) FILTER (WHERE e.account_id = t.from_account), 0) <> -t.amount"
      "  OR coalesce(sum(e.amount) FILTER (WHERE e.account_id = t.to_account), 0) <> t.amount"
      "  OR count(e.id) FILTER (WHERE e.account_id NOT IN (t.from_account, t.to_account)) > 0) bad" },
    { "entries_have_transfers", "evidence",
      "every entry belongs to an existing transfer",
      "SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ("
      " SELECT e.id, row_number() OVER () AS rn FROM entries e"
      " WHERE NOT EXISTS (SELECT 1 FROM transfers t WHERE t.id = e.transfer_id)) bad" },
    { "balances_match_entries", "evidence",
      "every account's balance equals the sum of its ledger entries",
      "SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ("
      " SELECT a.id, row_number() OVER () AS rn FROM accounts a"
      " LEFT JOIN (SELECT account_id, sum(amount) AS s FROM entries GROUP BY account_id) e"
      "   ON e.account_id = a.id"
      " WHERE a.balance <> coalesce(e.s, 0)) bad" },
    { "money_conserved", "evidence",
      "the balances of all accounts, issuer included, sum to zero (observed is the sum)",
      "SELECT coalesce(sum(balance), 0)::bigint, NULL FROM accounts" },
    { "no_negative_balances", "constraint",
      "no account but the issuer has a negative balance (also a CHECK on accounts)",
      "SELECT count(*), string_agg(id::text, ',') FROM accounts WHERE kind <> 'issuer' AND balance < 0" },
    { "holds_match_held", "evidence",
      "every account's held equals its active lot holds plus the cash reserved by its resting"
      " buy orders",
      "SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ("
      " SELECT a.id, row_number() OVER () AS rn FROM accounts a"
      " LEFT JOIN (SELECT account_id, sum(amount) AS s FROM holds WHERE state = 'active'"
      "            GROUP BY account_id) h ON h.account_id = a.id"
      " LEFT JOIN (SELECT account_id, sum(hold_amount) AS s FROM orders WHERE status = 'open'"
      "            AND side = 'buy' GROUP BY account_id) o ON o.account_id = a.id"
      " WHERE a.held <> coalesce(h.s, 0) + coalesce(o.s, 0)) bad" },
    { "order_holds_exact", "evidence",
      "every resting buy reserves exactly remaining x price; closed orders reserve nothing",
      "SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ("
      " SELECT id, row_number() OVER () AS rn FROM orders"
      " WHERE hold_amount <> CASE WHEN status = 'open' AND side = 'buy'"
      "                           THEN remaining * price ELSE 0 END) bad" },
    { "held_within_balance", "constraint",
      "held is between 0 and the balance (also a CHECK on accounts)",
      "SELECT count(*), string_agg(id::text, ',') FROM accounts"
      " WHERE kind <> 'issuer' AND (held < 0 OR held > balance)" },
    { "drop_claims_match", "evidence",
      "per drop lot, the units counted from claim rows equal qty_claimed and never exceed K",
      "SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ("
      " SELECT l.id, row_number() OVER () AS rn FROM lots l"
      " LEFT JOIN (SELECT lot_id, sum(quantity) AS q FROM bids WHERE status = 'claimed'"
      "            GROUP BY lot_id) b ON b.lot_id = l.id"
      " WHERE l.kind = 'drop' AND (coalesce(b.q, 0) <> l.qty_claimed OR coalesce(b.q, 0) > l.qty_total)"
      ") bad" },
    { "english_high_is_last_bid", "evidence",
      "per English lot, the recorded high amount and bidder are those of the last accepted bid,"
      " and the lot's seq counts its bids",
      "SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ("
      " SELECT l.id, row_number() OVER () AS rn FROM lots l"
      " LEFT JOIN LATERAL (SELECT b.amount, b.bidder, b.seq FROM bids b WHERE b.lot_id = l.id"
      "                    ORDER BY b.seq DESC LIMIT 1) last ON true"
      " LEFT JOIN (SELECT lot_id, count(*) AS n FROM bids GROUP BY lot_id) c ON c.lot_id = l.id"
      " WHERE l.kind = 'english' AND ("
      "   l.high_amount IS DISTINCT FROM last.amount OR l.high_bidder IS DISTINCT FROM last.bidder"
      "   OR l.seq <> coalesce(c.n, 0) OR l.high_amount IS DISTINCT FROM"
      "      (SELECT max(amount) FROM bids WHERE lot_id = l.id))) bad" },
    { "english_bids_increase", "evidence",
      "per English lot, accepted bid amounts strictly increase with their sequence numbers",
      "SELECT count(*), string_agg(lot_id::text, ',') FILTER (WHERE rn <= 5) FROM ("
      " SELECT lot_id, row_number() OVER () AS rn FROM ("
      "  SELECT b.lot_id, b.amount, lag(b.amount) OVER (PARTITION BY b.lot_id ORDER BY b.seq) AS prev,"
      "         b.seq, lag(b.seq) OVER (PARTITION BY b.lot_id ORDER BY b.seq) AS prev_seq"
      "  FROM bids b JOIN lots l ON l.id = b.lot_id WHERE l.kind = 'english') x"
      " WHERE amount <= prev OR seq <> coalesce(prev_seq, 0) + 1) bad" },
    { "english_live_holds", "evidence",
      "a live English lot with a leader has exactly one active hold, the leader's, equal to the"
      " high amount; other lots have no active hold",
      "SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ("
      " SELECT l.id, row_number() OVER () AS rn FROM lots l"
      " LEFT JOIN (SELECT lot_id, count(*) AS n, min(account_id::text) AS acct, sum(amount) AS s"
      "            FROM holds WHERE state = 'active' GROUP BY lot_id) h ON h.lot_id = l.id"
      " WHERE CASE WHEN l.kind = 'english' AND l.status = 'live' AND l.high_bidder IS NOT NULL"
      "   THEN coalesce(h.n, 0) <> 1 OR h.acct <> l.high_bidder::text OR h.s <> l.high_amount"
      "   ELSE coalesce(h.n, 0) <> 0 END) bad" },
    { "settled_lots_captured_once", "evidence",
      "each settled English lot has exactly one captured hold, paid to the seller by a capture"
      " transfer equal to the clearing price; unsold lots captured nothing",
      "SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ("
      " SELECT l.id, row_number() OVER () AS rn FROM lots l"
      " LEFT JOIN (SELECT h.lot_id, count(*) AS n,"
      "            count(*) FILTER (WHERE t.kind = 'capture' AND t.amount = h.amount) AS good,"
      "            min(t.to_account::text) AS payee, sum(t.amount) AS paid"
      "            FROM holds h LEFT JOIN transfers t ON t.id = h.transfer_id"
      "            WHERE h.state = 'captured' GROUP BY h.lot_id) c ON c.lot_id = l.id"
      " WHERE l.kind = 'english' AND CASE"
      "   WHEN l.status = 'settled' THEN coalesce(c.n, 0) <> 1 OR c.good <> 1"
      "        OR c.payee <> l.seller::text OR c.paid IS DISTINCT FROM l.clearing_price"
      "        OR l.winner IS DISTINCT FROM l.high_bidder"
      "   ELSE coalesce(c.n, 0) <> 0 END) bad" },
    { "captures_belong_to_lots", "evidence",
      "every capture transfer is the captured hold of exactly one settled lot",
      "SELECT count(*), string_agg(t.id::text, ',') FROM transfers t"
      " WHERE t.kind = 'capture' AND (SELECT count(*) FROM holds h WHERE h.transfer_id = t.id"
      "   AND h.state = 'captured') <> 1" },
    { "dutch_paid_schedule_price", "evidence",
      "every Dutch claim paid max(floor, start - step x whole intervals elapsed) at its claim time",
      "SELECT count(*), string_agg(b.id::text, ',') FROM bids b JOIN lots l ON l.id = b.lot_id"
      " WHERE l.kind = 'dutch' AND b.amount <> GREATEST(l.floor_price, l.start_price - l.step *"
      "   LEAST(floor(extract(epoch FROM (b.created_at - l.starts_at)) / l.interval_s)::bigint,"
      "         (l.start_price - l.floor_price) / l.step + 1))" },
    { "purchases_paid", "evidence",
      "every Dutch or drop claim has a purchase transfer from the bidder to the seller for the"
      " amount of the claim",
      "SELECT count(*), string_agg(b.id::text, ',') FROM bids b JOIN lots l ON l.id = b.lot_id"
      " LEFT JOIN transfers t ON t.id = b.transfer_id"
      " WHERE b.status = 'claimed' AND (t.id IS NULL OR t.kind <> 'purchase'"
      "   OR t.from_account <> b.bidder OR t.to_account <> l.seller OR t.amount <> b.amount)" },
    { "shares_supply_conserved", "evidence",
      "per shares market, the units in all positions (resting sells included) equal the total"
      " supply issued at creation",
      "SELECT count(*), string_agg(id::text, ',') FROM ("
      " SELECT m.id FROM markets m LEFT JOIN positions p ON p.market_id = m.id"
      " WHERE m.kind = 'shares' GROUP BY m.id, m.total_supply"
      " HAVING coalesce(sum(p.quantity), 0) <> m.total_supply) bad" },
    { "positions_held_match_orders", "evidence",
      "every position's held units equal the remaining units of its resting sell orders",
      "SELECT count(*), string_agg(market_id::text || '/' || account_id::text, ',') FILTER (WHERE rn <= 5)"
      " FROM (SELECT p.market_id, p.account_id, row_number() OVER () AS rn FROM positions p"
      " LEFT JOIN (SELECT market_id, account_id, outcome, sum(remaining) AS s FROM orders"
      "            WHERE status = 'open' AND side = 'sell' GROUP BY market_id, account_id, outcome) o"
      "   ON o.market_id = p.market_id AND o.account_id = p.account_id AND o.outcome = p.outcome"
      " WHERE p.held <> coalesce(o.s, 0)) bad" },
    { "event_pairs_backed", "evidence",
      "per event market, outstanding YES equals outstanding NO and escrow holds exactly 100 per"
      " pair, which is also the cost basis carried by the contracts; mid-resolution, escrow equals"
      " what is still owed; zero once resolved",
      "SELECT count(*), string_agg(id::text, ',') FROM ("
      " SELECT m.id FROM markets m JOIN accounts e ON e.id = m.escrow"
      " LEFT JOIN (SELECT market_id,"
      "            coalesce(sum(quantity) FILTER (WHERE outcome = 'yes'), 0) AS yes,"
      "            coalesce(sum(quantity) FILTER (WHERE outcome = 'no'), 0) AS no,"
      "            coalesce(sum(cost), 0) AS cost"
      "            FROM positions GROUP BY market_id) p ON p.market_id = m.id"
      " WHERE m.kind = 'event' AND CASE"
      "   WHEN m.status = 'resolving' THEN e.balance <> CASE m.outcome"
      "     WHEN 'cancel' THEN coalesce(p.cost, 0) WHEN 'yes' THEN 100 * coalesce(p.yes, 0)"
      "     ELSE 100 * coalesce(p.no, 0) END"
      "   ELSE coalesce(p.yes, 0) <> coalesce(p.no, 0) OR e.balance <> 100 * coalesce(p.yes, 0)"
      "     OR e.balance <> coalesce(p.cost, 0)"
      "     OR (m.status IN ('resolved', 'cancelled') AND e.balance <> 0) END) bad" },
    { "trade_cash_legs", "evidence",
      "every fill's cash legs net to zero: a transfer fill pays price x quantity from buyer to"
      " seller; a mint fill's two legs put exactly 100 x quantity into the market's escrow",
      "SELECT count(*), string_agg(t.id::text, ',') FROM trades t"
      " JOIN markets m ON m.id = t.market_id"
      " LEFT JOIN transfers a ON a.id = t.cash_a LEFT JOIN transfers b ON b.id = t.cash_b"
      " WHERE CASE WHEN t.kind = 'transfer' THEN a.id IS NULL OR a.kind <> 'trade'"
      "   OR a.amount <> t.price::bigint * t.quantity OR a.from_account <> t.buyer"
      "   OR a.to_account <> t.seller"
      " ELSE a.id IS NULL OR b.id IS NULL OR a.kind <> 'mint' OR b.kind <> 'mint'"
      "   OR a.to_account <> m.escrow OR b.to_account <> m.escrow"
      "   OR a.amount + b.amount <> 100 * t.quantity OR a.amount <> t.price::bigint * t.quantity"
      "   OR a.from_account <> t.buyer OR b.from_account <> t.seller END" },
    { "no_negative_positions", "constraint",
      "no position holds fewer than zero units or more held than it has (also CHECKs)",
      "SELECT count(*), NULL FROM positions WHERE quantity < 0 OR held < 0 OR held > quantity" },
    { "idempotency_keys_unique", "evidence",
      "no idempotency key produced two transfers, two bids or two orders",
      "SELECT count(*), string_agg(k, ',') FROM ("
      " SELECT idem_key AS k FROM transfers WHERE idem_key IS NOT NULL"
      "  GROUP BY idem_key HAVING count(*) > 1"
      " UNION ALL SELECT idem_key FROM bids WHERE idem_key IS NOT NULL"
      "  GROUP BY idem_key HAVING count(*) > 1"
      " UNION ALL SELECT idem_key FROM orders WHERE idem_key IS NOT NULL"
      "  GROUP BY idem_key HAVING count(*) > 1) dup" },
};

#define NCHECKS (sizeof(checks) / sizeof(checks[0]))

#define PROOF_MAX_AGE 2            /* seconds an anonymous answer may be shared */
#define PROOF_BUDGET_MS 120000     /* the whole audit, from the request's start */
#define PROOF_BUDGET_SLACK_MS 1000 /* a statement may overrun the budget by this */

struct proof_tx {
    struct json_object *out;
    int consistent;
    int full;        /* admin: samples and whole run summaries */
    long timeout_ms; /* statement_timeout set in this transaction, 0: none */
};

static long elapsed_ms(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/*
 * Keep the next statement inside the audit's budget: lower statement_timeout
 * to what is left of PROOF_BUDGET_MS when the one in force would let a
 * statement end more than PROOF_BUDGET_SLACK_MS past it (a fast audit sets
 * it once). Postgres dialect only; -1 on a failed statement.
 */
static int proof_budget(struct tx *tx, struct proof_tx *p)
{
    long left = PROOF_BUDGET_MS - elapsed_ms(&tx->s->start);
    char ms[24];
    const char *v[1] = { ms };

    if (tx->cfg->dialect != ZS_DIALECT_POSTGRES)
        return 0;
    if (left < 1)
        left = 1;
    if (p->timeout_ms > 0 && p->timeout_ms <= left + PROOF_BUDGET_SLACK_MS)
        return 0;
    snprintf(ms, sizeof(ms), "%ld", left);
    if (tx_exec_void(tx, "SELECT set_config('statement_timeout', $1, true)", 1, v) < 0)
        return -1;
    p->timeout_ms = left;
    return 0;
}

/*
 * A stampede run's summary (JSON text) as the caller may see it: whole for
 * an admin; otherwise its numbers, booleans and nulls, "checks" as its
 * boolean members, and "failures" as their count — its strings and lists
 * can name accounts and amounts.
 */
static struct json_object *run_summary(const char *text, int full)
{
    struct json_object *all = json_tokener_parse(text), *out;

    if (full || !all || !json_object_is_type(all, json_type_object))
        return all;
    out = json_object_new_object();
    json_object_object_foreach(all, k, v)
    {
        enum json_type t = json_object_get_type(v);
        if (t == json_type_int || t == json_type_double || t == json_type_boolean
            || t == json_type_null) {
            json_object_object_add(out, k, json_object_get(v));
        } else if (strcmp(k, "failures") == 0 && t == json_type_array) {
            json_object_object_add(out, k,
                                   json_object_new_int64((int64_t)json_object_array_length(v)));
        } else if (strcmp(k, "checks") == 0 && t == json_type_object) {
            struct json_object *c = json_object_new_object();
            json_object_object_foreach(v, ck, cv)
            {
                if (json_object_is_type(cv, json_type_boolean))
                    json_object_object_add(c, ck, json_object_get(cv));
            }
            json_object_object_add(out, k, c);
        }
    }
    json_object_put(all);
    return out;
}

static int64_t cell_i64(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static enum tx_decision proof_tx(struct tx *tx, void *arg)
{
    struct proof_tx *p = arg;
    struct json_object *list, *counts, *backend, *runs;
    PGresult *res;

    if (p->out)
        json_object_put(p->out);
    p->out = json_object_new_object();
    p->consistent = 1;
    p->timeout_ms = 0; /* a retry is a new transaction */

    if (tx->cfg->dialect == ZS_DIALECT_POSTGRES) {
        /* The audit scans the whole ledger: give it more than the app role's
         * 10 s statement_timeout (what is left of its budget; proof_budget()
         * lowers it as the budget runs out), memory for its hash joins, and
         * no JIT (which costs more than it saves on these one-off plans). */
        long left = PROOF_BUDGET_MS - elapsed_ms(&tx->s->start);
        char ms[24];
        const char *v[1] = { ms };

        snprintf(ms, sizeof(ms), "%ld", left > 1 ? left : 1);
        if (tx_exec_void(tx,
                         "SELECT set_config('statement_timeout', $1, true),"
                         " set_config('work_mem', '256MB', true), set_config('jit', 'off', true)",
                         1, v)
            < 0)
            return TX_ERROR;
        p->timeout_ms = left > 1 ? left : 1;
    }

    res = tx_exec(tx, "SELECT " LEDGER_TS("now()") ", current_setting('server_version'),"
                      " (SELECT count(*) FROM accounts), (SELECT count(*) FROM transfers),"
                      " (SELECT count(*) FROM entries), (SELECT count(*) FROM lots),"
                      " (SELECT count(*) FROM bids), (SELECT count(*) FROM holds)", 0, NULL);
    if (!res)
        return TX_ERROR;
    json_object_object_add(p->out, "snapshot_at", json_object_new_string(PQgetvalue(res, 0, 0)));
    backend = json_object_new_object();
    json_object_object_add(backend, "engine", json_object_new_string("PostgreSQL"));
    json_object_object_add(backend, "version", json_object_new_string(PQgetvalue(res, 0, 1)));
    json_object_object_add(backend, "dialect", json_object_new_string(
                               config_dialect_name(tx->cfg->dialect)));
    json_object_object_add(backend, "isolation", json_object_new_string("repeatable read (one snapshot)"));
    counts = json_object_new_object();
    {
        static const char *const names[] = { "accounts", "transfers", "entries", "lots", "bids", "holds" };
        for (int i = 0; i < 6; i++)
            json_object_object_add(counts, names[i], json_object_new_int64(cell_i64(res, 0, 2 + i)));
    }
    PQclear(res);

    list = json_object_new_array();
    for (size_t i = 0; i < NCHECKS; i++) {
        struct json_object *c = json_object_new_object();
        int64_t observed;
        int ok;

        res = proof_budget(tx, p) < 0 ? NULL : tx_exec(tx, checks[i].sql, 0, NULL);
        if (!res) {
            json_object_put(list);
            json_object_put(counts);
            json_object_put(backend);
            return TX_ERROR;
        }
        observed = cell_i64(res, 0, 0);
        ok = observed == 0;
        if (!ok)
            p->consistent = 0;
        json_object_object_add(c, "name", json_object_new_string(checks[i].name));
        json_object_object_add(c, "kind", json_object_new_string(checks[i].kind));
        json_object_object_add(c, "ok", json_object_new_boolean(ok));
        json_object_object_add(c, "observed", json_object_new_int64(observed));
        json_object_object_add(c, "expected", json_object_new_int64(0));
        json_object_object_add(c, "description", json_object_new_string(checks[i].description));
        if (!ok && p->full && !PQgetisnull(res, 0, 1))
            json_object_object_add(c, "sample", json_object_new_string(PQgetvalue(res, 0, 1)));
        json_object_array_add(list, c);
        PQclear(res);
    }

    res = tx_exec(tx, "SELECT id, scenario, n, k, status, summary, " LEDGER_TS("created_at") ","
                      " " LEDGER_TS("finished_at") " FROM stampede_runs ORDER BY created_at DESC LIMIT 10",
                  0, NULL);
    if (!res) {
        json_object_put(list);
        json_object_put(counts);
        json_object_put(backend);
        return TX_ERROR;
    }
    runs = json_object_new_array();
    for (int i = 0; i < PQntuples(res); i++) {
        struct json_object *r = json_object_new_object();
        json_object_object_add(r, "id", json_object_new_string(PQgetvalue(res, i, 0)));
        json_object_object_add(r, "scenario", json_object_new_string(PQgetvalue(res, i, 1)));
        json_object_object_add(r, "n", json_object_new_int64(cell_i64(res, i, 2)));
        json_object_object_add(r, "k", PQgetisnull(res, i, 3) ? NULL : json_object_new_int64(cell_i64(res, i, 3)));
        json_object_object_add(r, "status", json_object_new_string(PQgetvalue(res, i, 4)));
        json_object_object_add(
            r, "summary",
            PQgetisnull(res, i, 5) ? NULL : run_summary(PQgetvalue(res, i, 5), p->full));
        json_object_object_add(r, "created_at", json_object_new_string(PQgetvalue(res, i, 6)));
        json_object_object_add(r, "finished_at", PQgetisnull(res, i, 7) ? NULL
                               : json_object_new_string(PQgetvalue(res, i, 7)));
        json_object_array_add(runs, r);
    }
    PQclear(res);

    json_object_object_add(p->out, "consistent", json_object_new_boolean(p->consistent));
    json_object_object_add(p->out, "backend", backend);
    json_object_object_add(p->out, "counts", counts);
    json_object_object_add(p->out, "checks", list);
    json_object_object_add(p->out, "stampede_runs", runs);
    return TX_COMMIT;
}

/* True when r carries no Authorization at all: its answer may be shared. */
static int anonymous(const struct request *r)
{
    return !r->authorization || !*r->authorization;
}

void handle_proof(struct request *r)
{
    struct proof_tx p = { NULL, 0, 0, 0 };
    enum tx_decision d;
    char cc[64];

    p.full = auth_is_admin(r);
    metrics_inc(proof_computations);
    if (api_tx_run(r, TX_READ_ONLY | TX_SNAPSHOT, proof_tx, &p, &d) < 0) {
        if (p.out)
            json_object_put(p.out);
        return;
    }
    /* 200 and 409 alike: a cached verdict is at most PROOF_MAX_AGE old,
     * whichever way it went. */
    snprintf(cc, sizeof(cc), "Cache-Control: public, max-age=%d\r\n", PROOF_MAX_AGE);
    http_respond_json(r, p.consistent ? 200 : 409, p.out, anonymous(r) ? cc : NULL);
}

/* ---- stampede runs ---------------------------------------------------- */

struct run_create {
    struct request *r;
    struct idem *idem;
    const char *scenario;
    int64_t n, k;
    int has_k;
    char *body;
};

static struct json_object *run_json(PGresult *res, int i, int full)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "id", json_object_new_string(PQgetvalue(res, i, 0)));
    json_object_object_add(o, "scenario", json_object_new_string(PQgetvalue(res, i, 1)));
    json_object_object_add(o, "n", json_object_new_int64(cell_i64(res, i, 2)));
    json_object_object_add(o, "k", PQgetisnull(res, i, 3) ? NULL : json_object_new_int64(cell_i64(res, i, 3)));
    json_object_object_add(o, "status", json_object_new_string(PQgetvalue(res, i, 4)));
    json_object_object_add(
        o, "summary", PQgetisnull(res, i, 5) ? NULL : run_summary(PQgetvalue(res, i, 5), full));
    json_object_object_add(o, "created_at", json_object_new_string(PQgetvalue(res, i, 6)));
    json_object_object_add(o, "started_at", PQgetisnull(res, i, 7) ? NULL
                           : json_object_new_string(PQgetvalue(res, i, 7)));
    json_object_object_add(o, "finished_at", PQgetisnull(res, i, 8) ? NULL
                           : json_object_new_string(PQgetvalue(res, i, 8)));
    return o;
}

#define RUN_COLUMNS "id, scenario, n, k, status, summary, " LEDGER_TS("created_at") ", " \
    LEDGER_TS("started_at") ", " LEDGER_TS("finished_at")

static enum tx_decision run_create_tx(struct tx *tx, void *arg)
{
    struct run_create *c = arg;
    char id[UUID_STR_LEN + 1], n[24], k[24];
    const char *p[5] = { id, c->scenario, n, c->has_k ? k : NULL, c->idem->caller };
    PGresult *res;
    struct json_object *o;

    free(c->body);
    c->body = NULL;
    if (idem_claim(tx, c->idem) < 0)
        return TX_ERROR;
    if (c->idem->outcome != IDEM_NEW)
        return TX_ROLLBACK;
    if (util_uuid_v4(id) < 0)
        return TX_ERROR;
    snprintf(n, sizeof(n), "%" PRId64, c->n);
    snprintf(k, sizeof(k), "%" PRId64, c->k);
    res = tx_exec(tx, "INSERT INTO stampede_runs (id, scenario, n, k, status, requested_by)"
                      " VALUES ($1, $2, $3, $4, 'queued', $5) RETURNING " RUN_COLUMNS, 5, p);
    if (!res)
        return TX_ERROR;
    o = json_object_new_object();
    json_object_object_add(o, "run", run_json(res, 0, 1));
    PQclear(res);
    c->body = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    if (!c->body || idem_finish(tx, c->idem, 202, c->body) < 0)
        return TX_ERROR;
    return TX_COMMIT;
}

void handle_proof_run_create(struct request *r)
{
    static const char *const allowed[] = { "scenario", "n", "k", NULL };
    const char *unknown = util_json_unknown_member(r->json, allowed);
    struct json_object *v;
    struct run_create c;
    struct idem idem;
    enum tx_decision d;

    memset(&c, 0, sizeof(c));
    if (unknown) {
        http_problem(r, 422, "unknown_field", "unknown field \"%.64s\"", unknown);
        return;
    }
    if (!json_object_object_get_ex(r->json, "scenario", &v) || !json_object_is_type(v, json_type_string)
        || (strcmp(json_object_get_string(v), "oversell") != 0
            && strcmp(json_object_get_string(v), "double-spend") != 0
            && strcmp(json_object_get_string(v), "bid-war") != 0
            && strcmp(json_object_get_string(v), "phantom-shares") != 0
            && strcmp(json_object_get_string(v), "event-market") != 0)) {
        http_problem(r, 422, "invalid_scenario",
                     "\"scenario\" must be oversell, double-spend, bid-war, phantom-shares or"
                     " event-market");
        return;
    }
    c.scenario = json_object_get_string(v);
    c.n = 100;
    if (json_object_object_get_ex(r->json, "n", &v)
        && (util_json_int64(v, 1, &c.n) < 0 || c.n > 500)) {
        http_problem(r, 422, "invalid_field", "\"n\" must be an integer from 1 to 500");
        return;
    }
    if (json_object_object_get_ex(r->json, "k", &v) && !json_object_is_type(v, json_type_null)) {
        if (util_json_int64(v, 1, &c.k) < 0 || c.k > c.n) {
            http_problem(r, 422, "invalid_field", "\"k\" must be an integer from 1 to n");
            return;
        }
        c.has_k = 1;
    }
    if (idem_prepare(r, &idem) < 0)
        return;
    c.r = r;
    c.idem = &idem;
    if (api_tx_run(r, 0, run_create_tx, &c, &d) == 0)
        idem_answer(r, d, &idem, 202, c.body);
    free(c.body);
    idem_free(&idem);
}

struct run_read {
    const char *id;          /* NULL: list */
    int full;                /* admin: whole summaries */
    struct json_object *out;
};

static enum tx_decision run_read_tx(struct tx *tx, void *arg)
{
    struct run_read *g = arg;
    const char *p[1] = { g->id };
    PGresult *res;

    if (g->out) {
        json_object_put(g->out);
        g->out = NULL;
    }
    if (g->id)
        res = tx_exec(tx, "SELECT " RUN_COLUMNS " FROM stampede_runs WHERE id = $1", 1, p);
    else
        res = tx_exec(tx, "SELECT " RUN_COLUMNS " FROM stampede_runs ORDER BY created_at DESC"
                          " LIMIT 50", 0, NULL);
    if (!res)
        return TX_ERROR;
    if (g->id) {
        if (PQntuples(res) == 1)
            g->out = run_json(res, 0, g->full);
    } else {
        g->out = json_object_new_array();
        for (int i = 0; i < PQntuples(res); i++)
            json_object_array_add(g->out, run_json(res, i, g->full));
    }
    PQclear(res);
    return TX_COMMIT;
}

void handle_proof_run_list(struct request *r)
{
    struct run_read g = { NULL, auth_is_admin(r), NULL };
    enum tx_decision d;

    int rc = api_tx_run(r, TX_READ_ONLY, run_read_tx, &g, &d);

    /* tx_run first: the transaction fills the output */
    api_answer_read(r, rc, g.out, "runs", NULL,
                   NULL);
}

void handle_proof_run_get(struct request *r)
{
    char id[UUID_STR_LEN + 1];
    struct run_read g = { id, auth_is_admin(r), NULL };
    enum tx_decision d;

    if (!util_uuid_parse(r->path_params[0], id)) {
        http_problem(r, 404, "run_not_found", "no such run");
        return;
    }
    int rc = api_tx_run(r, TX_READ_ONLY, run_read_tx, &g, &d);

    /* tx_run first: the transaction fills the output */
    api_answer_read(r, rc, g.out, "run", "run_not_found",
                   "no such run");
}
