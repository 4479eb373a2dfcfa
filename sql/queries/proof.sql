-- GET /proof and the stampede runs (fcgi/api/proof.c).
--
-- The audit runs in one REPEATABLE READ READ ONLY snapshot: the settings,
-- the counts, every check (one round trip each), the recent runs.
-- A check statement is proof_<check name>; its comment lines are the
-- description GET /proof serves for the check, word for word. It answers
-- one row: the observed value (the number of violating rows unless the
-- description says otherwise; expected 0) and a sample of the ids (nullable).

-- name: proof_audit_settings
-- The audit scans the whole ledger: the statement_timeout left of its
-- budget ($1, ms), memory for its hash joins, and no JIT (postgres only).
SELECT set_config('statement_timeout', $1, true),
    set_config('work_mem', '256MB', true), set_config('jit', 'off', true);

-- name: proof_audit_timeout
-- Lower statement_timeout to what is left of the audit's budget ($1, ms).
SELECT set_config('statement_timeout', $1, true);

-- name: proof_audit_counts
-- The snapshot's time, the server version and the size of the ledger.
SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), current_setting('server_version'),
    (SELECT count(*) FROM accounts), (SELECT count(*) FROM transfers),
    (SELECT count(*) FROM entries), (SELECT count(*) FROM lots),
    (SELECT count(*) FROM bids), (SELECT count(*) FROM holds);

-- name: proof_transfers_balanced
-- every transfer has at least two entries, its entries sum to zero, and they
-- only debit its payer and credit its payee by its amount
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT t.id, row_number() OVER () AS rn FROM transfers t
 LEFT JOIN entries e ON e.transfer_id = t.id GROUP BY t.id, t.from_account, t.to_account, t.amount
 HAVING count(e.id) < 2 OR coalesce(sum(e.amount), 0) <> 0
  OR coalesce(sum(e.amount) FILTER (WHERE e.account_id = t.from_account), 0) <> -t.amount
  OR coalesce(sum(e.amount) FILTER (WHERE e.account_id = t.to_account), 0) <> t.amount
  OR count(e.id) FILTER (WHERE e.account_id NOT IN (t.from_account, t.to_account)) > 0) bad;

-- name: proof_entries_have_transfers
-- every entry belongs to an existing transfer
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT e.id, row_number() OVER () AS rn FROM entries e
 WHERE NOT EXISTS (SELECT 1 FROM transfers t WHERE t.id = e.transfer_id)) bad;

-- name: proof_balances_match_entries
-- every account's balance equals the sum of its ledger entries
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT a.id, row_number() OVER () AS rn FROM accounts a
 LEFT JOIN (SELECT account_id, sum(amount) AS s FROM entries GROUP BY account_id) e
   ON e.account_id = a.id
 WHERE a.balance <> coalesce(e.s, 0)) bad;

-- name: proof_money_conserved
-- the balances of all accounts, issuer included, sum to zero (observed is the
-- sum)
SELECT coalesce(sum(balance), 0)::bigint, NULL FROM accounts;

-- name: proof_no_negative_balances
-- no account but the issuer has a negative balance (also a CHECK on accounts)
SELECT count(*), string_agg(id::text, ',') FROM accounts WHERE kind <> 'issuer' AND balance < 0;

-- name: proof_holds_match_held
-- every account's held equals its active lot holds plus the cash reserved by
-- its resting buy orders plus its pending transfers
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT a.id, row_number() OVER () AS rn FROM accounts a
 LEFT JOIN (SELECT account_id, sum(amount) AS s FROM holds WHERE state = 'active'
            GROUP BY account_id) h ON h.account_id = a.id
 LEFT JOIN (SELECT account_id, sum(hold_amount) AS s FROM orders WHERE status = 'open'
            AND side = 'buy' GROUP BY account_id) o ON o.account_id = a.id
 LEFT JOIN (SELECT from_account, sum(amount) AS s FROM pending_transfers
            WHERE status = 'pending' GROUP BY from_account) p ON p.from_account = a.id
 WHERE a.held <> coalesce(h.s, 0) + coalesce(o.s, 0) + coalesce(p.s, 0)) bad;

-- name: proof_pending_released
-- every closed pending transfer released exactly its hold: a posted one
-- moved its posted amount (at most what was held) by exactly one transfer
-- from its payer to its payee and released the rest; a voided or expired
-- one moved nothing
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT p.id, row_number() OVER () AS rn FROM pending_transfers p
 LEFT JOIN transfers t ON t.id = p.transfer_id
 WHERE p.status <> 'pending' AND NOT coalesce(CASE WHEN p.status = 'posted' THEN
   t.id IS NOT NULL AND t.from_account = p.from_account AND t.to_account = p.to_account
   AND t.amount = p.posted_amount AND p.posted_amount BETWEEN 1 AND p.amount
   AND (SELECT count(*) FROM pending_transfers q WHERE q.transfer_id = p.transfer_id) = 1
  ELSE p.transfer_id IS NULL AND p.posted_amount IS NULL END, false)) bad;

-- name: proof_order_holds_exact
-- every resting buy reserves exactly remaining x price; closed orders reserve
-- nothing
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT id, row_number() OVER () AS rn FROM orders
 WHERE hold_amount <> CASE WHEN status = 'open' AND side = 'buy'
                           THEN remaining * price ELSE 0 END) bad;

-- name: proof_held_within_balance
-- held is between 0 and the balance (also a CHECK on accounts)
SELECT count(*), string_agg(id::text, ',') FROM accounts
 WHERE kind <> 'issuer' AND (held < 0 OR held > balance);

-- name: proof_drop_claims_match
-- per drop lot, the units counted from claim rows equal qty_claimed and never
-- exceed K
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT l.id, row_number() OVER () AS rn FROM lots l
 LEFT JOIN (SELECT lot_id, sum(quantity) AS q FROM bids WHERE status = 'claimed'
            GROUP BY lot_id) b ON b.lot_id = l.id
 WHERE l.kind = 'drop' AND (coalesce(b.q, 0) <> l.qty_claimed OR coalesce(b.q, 0) > l.qty_total)
) bad;

-- name: proof_english_high_is_last_bid
-- per English lot, the recorded high amount and bidder are those of the last
-- accepted bid, and the lot's seq counts its bids
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT l.id, row_number() OVER () AS rn FROM lots l
 LEFT JOIN LATERAL (SELECT b.amount, b.bidder, b.seq FROM bids b WHERE b.lot_id = l.id
                    ORDER BY b.seq DESC LIMIT 1) last ON true
 LEFT JOIN (SELECT lot_id, count(*) AS n FROM bids GROUP BY lot_id) c ON c.lot_id = l.id
 WHERE l.kind = 'english' AND (
   l.high_amount IS DISTINCT FROM last.amount OR l.high_bidder IS DISTINCT FROM last.bidder
   OR l.seq <> coalesce(c.n, 0) OR l.high_amount IS DISTINCT FROM
      (SELECT max(amount) FROM bids WHERE lot_id = l.id))) bad;

-- name: proof_english_bids_increase
-- per English lot, accepted bid amounts strictly increase with their sequence
-- numbers
SELECT count(*), string_agg(lot_id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT lot_id, row_number() OVER () AS rn FROM (
  SELECT b.lot_id, b.amount, lag(b.amount) OVER (PARTITION BY b.lot_id ORDER BY b.seq) AS prev,
         b.seq, lag(b.seq) OVER (PARTITION BY b.lot_id ORDER BY b.seq) AS prev_seq
  FROM bids b JOIN lots l ON l.id = b.lot_id WHERE l.kind = 'english') x
 WHERE amount <= prev OR seq <> coalesce(prev_seq, 0) + 1) bad;

-- name: proof_english_live_holds
-- a live English lot with a leader has exactly one active hold, the leader's,
-- equal to the high amount; other lots have no active hold
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT l.id, row_number() OVER () AS rn FROM lots l
 LEFT JOIN (SELECT lot_id, count(*) AS n, min(account_id::text) AS acct, sum(amount) AS s
            FROM holds WHERE state = 'active' GROUP BY lot_id) h ON h.lot_id = l.id
 WHERE CASE WHEN l.kind = 'english' AND l.status = 'live' AND l.high_bidder IS NOT NULL
   THEN coalesce(h.n, 0) <> 1 OR h.acct <> l.high_bidder::text OR h.s <> l.high_amount
   ELSE coalesce(h.n, 0) <> 0 END) bad;

-- name: proof_settled_lots_captured_once
-- each settled English lot has exactly one captured hold, paid to the seller
-- by a capture transfer equal to the clearing price; unsold lots captured
-- nothing
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT l.id, row_number() OVER () AS rn FROM lots l
 LEFT JOIN (SELECT h.lot_id, count(*) AS n,
            count(*) FILTER (WHERE t.kind = 'capture' AND t.amount = h.amount) AS good,
            min(t.to_account::text) AS payee, sum(t.amount) AS paid
            FROM holds h LEFT JOIN transfers t ON t.id = h.transfer_id
            WHERE h.state = 'captured' GROUP BY h.lot_id) c ON c.lot_id = l.id
 WHERE l.kind = 'english' AND CASE
   WHEN l.status = 'settled' THEN coalesce(c.n, 0) <> 1 OR c.good <> 1
        OR c.payee <> l.seller::text OR c.paid IS DISTINCT FROM l.clearing_price
        OR l.winner IS DISTINCT FROM l.high_bidder
   ELSE coalesce(c.n, 0) <> 0 END) bad;

-- name: proof_captures_belong_to_lots
-- every capture transfer is the captured hold of exactly one settled lot
SELECT count(*), string_agg(t.id::text, ',') FROM transfers t
 WHERE t.kind = 'capture' AND (SELECT count(*) FROM holds h WHERE h.transfer_id = t.id
   AND h.state = 'captured') <> 1;

-- name: proof_dutch_paid_schedule_price
-- every Dutch claim paid max(floor, start - step x whole intervals elapsed) at
-- its claim time
SELECT count(*), string_agg(b.id::text, ',') FROM bids b JOIN lots l ON l.id = b.lot_id
 WHERE l.kind = 'dutch' AND b.amount <> GREATEST(l.floor_price, l.start_price - l.step *
   LEAST(floor(extract(epoch FROM (b.created_at - l.starts_at)) / l.interval_s)::bigint,
         (l.start_price - l.floor_price) / l.step + 1));

-- name: proof_purchases_paid
-- every Dutch or drop claim has a purchase transfer from the bidder to the
-- seller for the amount of the claim
SELECT count(*), string_agg(b.id::text, ',') FROM bids b JOIN lots l ON l.id = b.lot_id
 LEFT JOIN transfers t ON t.id = b.transfer_id
 WHERE b.status = 'claimed' AND (t.id IS NULL OR t.kind <> 'purchase'
   OR t.from_account <> b.bidder OR t.to_account <> l.seller OR t.amount <> b.amount);

-- name: proof_shares_supply_conserved
-- per shares market, the units in all positions (resting sells included) equal
-- the total supply issued at creation
SELECT count(*), string_agg(id::text, ',') FROM (
 SELECT m.id FROM markets m LEFT JOIN positions p ON p.market_id = m.id
 WHERE m.kind = 'shares' GROUP BY m.id, m.total_supply
 HAVING coalesce(sum(p.quantity), 0) <> m.total_supply) bad;

-- name: proof_positions_held_match_orders
-- every position's held units equal the remaining units of its resting sell
-- orders
SELECT count(*), string_agg(market_id::text || '/' || account_id::text, ',') FILTER (WHERE rn <= 5)
 FROM (SELECT p.market_id, p.account_id, row_number() OVER () AS rn FROM positions p
 LEFT JOIN (SELECT market_id, account_id, outcome, sum(remaining) AS s FROM orders
            WHERE status = 'open' AND side = 'sell' GROUP BY market_id, account_id, outcome) o
   ON o.market_id = p.market_id AND o.account_id = p.account_id AND o.outcome = p.outcome
 WHERE p.held <> coalesce(o.s, 0)) bad;

-- name: proof_event_pairs_backed
-- per event market, outstanding YES equals outstanding NO and escrow holds
-- exactly 100 per pair, which is also the cost basis carried by the contracts;
-- mid-resolution, escrow equals what is still owed; zero once resolved
SELECT count(*), string_agg(id::text, ',') FROM (
 SELECT m.id FROM markets m JOIN accounts e ON e.id = m.escrow
 LEFT JOIN (SELECT market_id,
            coalesce(sum(quantity) FILTER (WHERE outcome = 'yes'), 0) AS yes,
            coalesce(sum(quantity) FILTER (WHERE outcome = 'no'), 0) AS no,
            coalesce(sum(cost), 0) AS cost
            FROM positions GROUP BY market_id) p ON p.market_id = m.id
 WHERE m.kind = 'event' AND CASE
   WHEN m.status = 'resolving' THEN e.balance <> CASE m.outcome
     WHEN 'cancel' THEN coalesce(p.cost, 0) WHEN 'yes' THEN 100 * coalesce(p.yes, 0)
     ELSE 100 * coalesce(p.no, 0) END
   ELSE coalesce(p.yes, 0) <> coalesce(p.no, 0) OR e.balance <> 100 * coalesce(p.yes, 0)
     OR e.balance <> coalesce(p.cost, 0)
     OR (m.status IN ('resolved', 'cancelled') AND e.balance <> 0) END) bad;

-- name: proof_trade_cash_legs
-- every fill's cash legs net to zero: a transfer fill pays price x quantity
-- from buyer to seller; a mint fill's two legs put exactly 100 x quantity into
-- the market's escrow
SELECT count(*), string_agg(t.id::text, ',') FROM trades t
 JOIN markets m ON m.id = t.market_id
 LEFT JOIN transfers a ON a.id = t.cash_a LEFT JOIN transfers b ON b.id = t.cash_b
 WHERE CASE WHEN t.kind = 'transfer' THEN a.id IS NULL OR a.kind <> 'trade'
   OR a.amount <> t.price::bigint * t.quantity OR a.from_account <> t.buyer
   OR a.to_account <> t.seller
 ELSE a.id IS NULL OR b.id IS NULL OR a.kind <> 'mint' OR b.kind <> 'mint'
   OR a.to_account <> m.escrow OR b.to_account <> m.escrow
   OR a.amount + b.amount <> 100 * t.quantity OR a.amount <> t.price::bigint * t.quantity
   OR a.from_account <> t.buyer OR b.from_account <> t.seller END;

-- name: proof_no_negative_positions
-- no position holds fewer than zero units or more held than it has (also
-- CHECKs)
SELECT count(*), NULL FROM positions WHERE quantity < 0 OR held < 0 OR held > quantity;

-- name: proof_idempotency_keys_unique
-- no idempotency key produced two transfers, two bids or two orders
SELECT count(*), string_agg(k, ',') FROM (
 SELECT idem_key AS k FROM transfers WHERE idem_key IS NOT NULL
  GROUP BY idem_key HAVING count(*) > 1
 UNION ALL SELECT idem_key FROM bids WHERE idem_key IS NOT NULL
  GROUP BY idem_key HAVING count(*) > 1
 UNION ALL SELECT idem_key FROM orders WHERE idem_key IS NOT NULL
  GROUP BY idem_key HAVING count(*) > 1) dup;

-- name: proof_audit_runs
-- The ten most recent stampede runs, as GET /proof lists them.
SELECT id, scenario, n, k, status, summary, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM stampede_runs ORDER BY created_at DESC LIMIT 10;

-- name: proof_run_insert
-- POST /proof/runs: queue a run ($4 k may be NULL; $5 who asked).
INSERT INTO stampede_runs (id, scenario, n, k, status, requested_by)
 VALUES ($1, $2, $3, $4, 'queued', $5) RETURNING id, scenario, n, k, status, summary,
    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

-- name: proof_run_get
-- GET /proof/runs/{id}.
SELECT id, scenario, n, k, status, summary,
    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM stampede_runs WHERE id = $1;

-- name: proof_run_list
-- GET /proof/runs: the fifty most recent.
SELECT id, scenario, n, k, status, summary,
    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM stampede_runs ORDER BY created_at DESC
 LIMIT 50;
