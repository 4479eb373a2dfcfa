-- GET /proof and the stampede runs (fcgi/api/proof.c).
--
-- The audit runs in one REPEATABLE READ READ ONLY snapshot: the settings,
-- the counts, every check (each behind a deadline), the recent runs and
-- COMMIT, all in one pipeline: one round trip.
-- A check statement is proof_<check name>; its comment lines are the
-- description GET /proof serves for the check, word for word. It answers
-- one row: the observed value (the number of violating rows unless the
-- description says otherwise; expected 0) and a sample of the ids (nullable),
-- at the columns the checks table names (col, col + 1: 0 and 1 but for the
-- account checks, whose statements are one text, account_checks, run once).
-- A bound check (fcgi/domain/checks.h) takes its bound ($1, seconds) and
-- answers a third column, whether it fails, and what the report shows of it.
--
-- The checks are live: they read current state, the sealed aggregates and
-- the unsealed rows (and, by key, the rows those name), never all history
-- (the full pass, sql/queries/audit.sql, re-reads that). Every lookup from
-- a candidate row into a history table is a LATERAL ... LIMIT 1 or a
-- correlated subquery, so the plan stays an index probe per candidate row
-- and never becomes a hash join over a whole history table, whatever the
-- statistics say (EXPLAIN at 300k sealed transfers, 3,000 unsealed: index
-- scans on the *_unsealed partial indexes and the primary keys only). A
-- backlog row whose transfer is itself unsealed is matched against the
-- backlog's own set first (unsealed_transfer_ids), so only the rows that set
-- does not name cost a probe into all transfers; comparisons of sums are made
-- in bigint where no sum is involved (an account with no unsealed rows), in
-- numeric (exact, never overflowing) where one is
-- (tests/integration/test_proof_plans.py).

-- name: proof_audit_settings
-- The audit's settings (postgres only): the statement_timeout left of its
-- budget ($1, ms), no JIT and no parallel workers (the live checks read
-- current state and the unsealed rows through indexes: small, index-driven
-- plans that a worker's start-up would only slow down).
SELECT set_config('statement_timeout', $1, true),
    set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true);

-- name: proof_audit_deadline
-- Ahead of each check in the audit's pipeline: lower statement_timeout to
-- what is left of the audit's budget, $1 ms from the transaction's start
-- (now()), at least 1 ms, so no statement runs past the budget however long
-- the ones before it took.
SELECT set_config('statement_timeout',
    greatest(1, $1::bigint - floor(extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint)::text,
    true);

-- name: proof_audit_counts
-- The snapshot's time, the server version, the size of the ledger (per
-- history table: the rows the latest seal's totals count plus the unsealed
-- rows, so the cost follows neither history nor the number of seals) and
-- the latest seal.
SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), current_setting('server_version'),
    (SELECT count(*) FROM accounts),
    coalesce(h.transfers, 0) + (SELECT count(*) FROM transfers WHERE sealed IS NULL),
    coalesce(h.entries, 0) + (SELECT count(*) FROM entries WHERE sealed IS NULL),
    coalesce(h.lots, 0) + (SELECT count(*) FROM lots WHERE sealed IS NULL),
    coalesce(h.bids, 0) + (SELECT count(*) FROM bids WHERE sealed IS NULL),
    coalesce(h.holds, 0) + (SELECT count(*) FROM holds WHERE sealed IS NULL),
    h.seal_no, h.tree_size,
    to_char(h.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
FROM (SELECT 1) one LEFT JOIN (SELECT seal_no, tree_size, created_at,
        split_part(split_part(totals, 'transfer=', 2), ' ', 1)::bigint AS transfers,
        split_part(split_part(totals, 'entry=', 2), ' ', 1)::bigint AS entries,
        split_part(split_part(totals, 'lot=', 2), ' ', 1)::bigint AS lots,
        split_part(split_part(totals, 'bid=', 2), ' ', 1)::bigint AS bids,
        split_part(split_part(totals, 'hold=', 2), ' ', 1)::bigint AS holds
      FROM seals ORDER BY seal_no DESC LIMIT 1) h ON true;

-- fragment: live_lots
-- The lots a lot check reads: every unsealed lot (live, or closed and not
-- sealed yet) and every lot that an unsealed bid or hold names (a sealed lot
-- with one is a violation the checks then see).
(SELECT id FROM lots WHERE sealed IS NULL
 UNION SELECT lot_id FROM bids WHERE sealed IS NULL
 UNION SELECT lot_id FROM holds WHERE sealed IS NULL)

-- fragment: unsealed_transfer_ids
-- A pre-filter, never a verdict: the ids of unsealed transfers (at most
-- 50,000 of them, so the planner always hashes the set: an entry or hold of
-- the backlog is then matched to its transfer without an index probe into
-- all of history; a row that the set does not name is looked up by key as
-- before, so a backlog past the bound costs probes, not correctness).
(SELECT id FROM transfers WHERE sealed IS NULL AND id IS NOT NULL LIMIT 50000)

-- name: proof_transfers_balanced
-- every unsealed transfer, and every transfer an unsealed entry names, has at
-- least two entries, its entries sum to zero, they only debit its payer and
-- credit its payee by its amount, and they are sealed with it (an unsealed
-- entry of a sealed transfer is a violation); sealed transfers were checked
-- as they were sealed and are re-checked by the full pass
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT t.id, row_number() OVER () AS rn
 FROM (SELECT * FROM transfers WHERE sealed IS NULL
       UNION ALL
       SELECT s.* FROM (SELECT DISTINCT transfer_id FROM entries WHERE sealed IS NULL
                        AND transfer_id NOT IN {{unsealed_transfer_ids}}) c
       CROSS JOIN LATERAL (SELECT * FROM transfers WHERE id = c.transfer_id LIMIT 1) s
       WHERE s.sealed IS NOT NULL) t
 CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(sum(e.amount), 0) AS s,
   coalesce(sum(e.amount) FILTER (WHERE e.account_id = t.from_account), 0) AS debit,
   coalesce(sum(e.amount) FILTER (WHERE e.account_id = t.to_account), 0) AS credit,
   count(*) FILTER (WHERE e.account_id NOT IN (t.from_account, t.to_account)) AS stray,
   count(*) FILTER (WHERE e.sealed IS DISTINCT FROM t.sealed) AS apart
   FROM entries e WHERE e.transfer_id = t.id) e
 WHERE e.n < 2 OR e.s <> 0 OR e.debit <> -t.amount OR e.credit <> t.amount
  OR e.stray > 0 OR e.apart > 0) bad;

-- name: proof_entries_have_transfers
-- every unsealed entry belongs to an existing transfer (sealed entries were
-- checked as they were sealed and are re-checked by the full pass)
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT e.id, row_number() OVER () AS rn FROM entries e
 WHERE e.sealed IS NULL AND e.transfer_id NOT IN {{unsealed_transfer_ids}}
   AND (SELECT count(*) FROM transfers t WHERE t.id = e.transfer_id) = 0) bad;

-- name: proof_balances_match_entries
-- every account's balance equals the sum of its ledger entries: its sealed
-- aggregate (the sum of its sealed entries, kept by the sealer) plus the sum
-- of its unsealed entries
{{account_checks}};

-- name: proof_money_conserved
-- the balances of all accounts, issuer included, sum to zero (observed is the
-- sum)
{{account_checks}};

-- name: proof_no_negative_balances
-- no account without a credit limit has a negative balance, the issuer aside
-- (an account with one is bounded by within_credit_limit; also a CHECK on
-- accounts)
{{account_checks}};

-- name: proof_holds_match_held
-- every account's held equals its active lot holds plus the cash reserved by
-- its resting buy orders plus its pending transfers (all unsealed: a row is
-- sealed only once it reserves nothing)
{{account_checks}};

-- name: proof_pending_released
-- every closed, unsealed pending transfer released exactly its hold: a
-- posted one moved its posted amount (at most what was held) by exactly one
-- transfer from its payer to its payee and released the rest; a voided or
-- expired one moved nothing
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT p.id, row_number() OVER () AS rn FROM pending_transfers p
 LEFT JOIN LATERAL (SELECT * FROM transfers WHERE id = p.transfer_id LIMIT 1) t ON true
 WHERE p.sealed IS NULL AND p.status <> 'pending' AND NOT coalesce(CASE WHEN p.status = 'posted' THEN
   t.id IS NOT NULL AND t.from_account = p.from_account AND t.to_account = p.to_account
   AND t.amount = p.posted_amount AND p.posted_amount BETWEEN 1 AND p.amount
   AND (SELECT count(*) FROM pending_transfers q WHERE q.transfer_id = p.transfer_id) = 1
  ELSE p.transfer_id IS NULL AND p.posted_amount IS NULL END, false)) bad;

-- name: proof_order_holds_exact
-- every unsealed order: a resting buy reserves exactly remaining x price;
-- closed orders reserve nothing
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT id, row_number() OVER () AS rn FROM orders
 WHERE sealed IS NULL AND hold_amount <> CASE WHEN status = 'open' AND side = 'buy'
                           THEN remaining * price ELSE 0 END) bad;

-- name: proof_held_within_balance
-- held is at least 0, and at most the balance for an account without a
-- credit limit, the issuer aside (also CHECKs on accounts)
{{account_checks}};

-- name: proof_drop_claims_match
-- per drop lot that is unsealed or has unsealed claims, the units counted
-- from its claims (the sealed aggregate plus the unsealed claim rows) equal
-- qty_claimed and never exceed K
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT l.id, row_number() OVER () AS rn FROM {{live_lots}} c
 CROSS JOIN LATERAL (SELECT * FROM lots WHERE id = c.id LIMIT 1) l
 LEFT JOIN LATERAL (SELECT * FROM seal_lots WHERE lot_id = l.id LIMIT 1) sl ON true
 LEFT JOIN LATERAL (SELECT sum(quantity) AS q FROM bids b WHERE b.lot_id = l.id
                    AND b.sealed IS NULL AND b.status = 'claimed') b ON true
 WHERE l.kind = 'drop' AND (coalesce(sl.claimed, 0) + coalesce(b.q, 0) <> l.qty_claimed
   OR coalesce(sl.claimed, 0) + coalesce(b.q, 0) > l.qty_total)) bad;

-- name: proof_english_high_is_last_bid
-- per English lot that is unsealed or has unsealed bids, the recorded high
-- amount and bidder are those of the last accepted bid, and the lot's seq
-- counts its bids (the sealed aggregate plus the unsealed bid rows)
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT l.id, row_number() OVER () AS rn FROM {{live_lots}} c
 CROSS JOIN LATERAL (SELECT * FROM lots WHERE id = c.id LIMIT 1) l
 LEFT JOIN LATERAL (SELECT * FROM seal_lots WHERE lot_id = l.id LIMIT 1) sl ON true
 LEFT JOIN LATERAL (SELECT b.amount, b.bidder, b.seq FROM bids b WHERE b.lot_id = l.id
                    ORDER BY b.seq DESC LIMIT 1) last ON true
 LEFT JOIN LATERAL (SELECT count(*) AS n FROM bids b WHERE b.lot_id = l.id
                    AND b.sealed IS NULL) u ON true
 WHERE l.kind = 'english' AND (
   l.high_amount IS DISTINCT FROM last.amount OR l.high_bidder IS DISTINCT FROM last.bidder
   OR l.seq <> coalesce(sl.bids, 0) + u.n OR l.high_amount IS DISTINCT FROM
      (SELECT max(amount) FROM bids WHERE lot_id = l.id))) bad;

-- name: proof_english_bids_increase
-- per English lot that is unsealed or has unsealed bids, accepted bid
-- amounts strictly increase with their sequence numbers, except that a
-- proxy counter-bid may equal the bid it answers (a tie of maxima goes to
-- the earlier one, at that maximum)
SELECT count(*), string_agg(lot_id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT lot_id, row_number() OVER () AS rn FROM (
  SELECT b.lot_id, b.amount, lag(b.amount) OVER (PARTITION BY b.lot_id ORDER BY b.seq) AS prev,
         b.seq, lag(b.seq) OVER (PARTITION BY b.lot_id ORDER BY b.seq) AS prev_seq, b.proxy
  FROM {{live_lots}} c CROSS JOIN LATERAL (SELECT * FROM lots WHERE id = c.id LIMIT 1) l
  CROSS JOIN LATERAL (SELECT lot_id, amount, seq, proxy FROM bids WHERE lot_id = l.id) b
  WHERE l.kind = 'english') x
 WHERE {{english_bid_not_above}} OR seq <> coalesce(prev_seq, 0) + 1) bad;

-- name: proof_english_live_holds
-- a live English lot with a leader has exactly one active hold, the leader's,
-- equal to the leader's maximum (their hidden proxy maximum, else the high
-- amount); other lots have no active hold (every live lot and active hold
-- is unsealed)
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT l.id, row_number() OVER () AS rn FROM {{live_lots}} c
 CROSS JOIN LATERAL (SELECT * FROM lots WHERE id = c.id LIMIT 1) l
 LEFT JOIN (SELECT lot_id, count(*) AS n, min(account_id::text) AS acct, sum(amount) AS s
            FROM holds WHERE sealed IS NULL AND state = 'active' GROUP BY lot_id) h
   ON h.lot_id = l.id
 WHERE CASE WHEN l.kind = 'english' AND l.status = 'live' AND l.high_bidder IS NOT NULL
   THEN coalesce(h.n, 0) <> 1 OR h.acct <> l.high_bidder::text
        OR h.s <> coalesce(l.high_max, l.high_amount)
   ELSE coalesce(h.n, 0) <> 0 END) bad;

-- name: proof_settled_lots_captured_once
-- each settled English lot that is unsealed or has unsealed bids or holds
-- has exactly one captured hold, paid to the seller by a capture transfer
-- equal to the clearing price; unsold lots captured nothing
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT l.id, row_number() OVER () AS rn FROM {{live_lots}} c
 CROSS JOIN LATERAL (SELECT * FROM lots WHERE id = c.id LIMIT 1) l
 CROSS JOIN LATERAL (SELECT count(*) AS n,
            count(*) FILTER (WHERE t.kind = 'capture' AND t.amount = h.amount) AS good,
            min(t.to_account::text) AS payee, sum(t.amount) AS paid
            FROM holds h LEFT JOIN transfers t ON t.id = h.transfer_id
            WHERE h.lot_id = l.id AND h.state = 'captured') cap
 WHERE l.kind = 'english' AND CASE
   WHEN l.status = 'settled' THEN cap.n <> 1 OR cap.good <> 1
        OR cap.payee <> l.seller::text OR cap.paid IS DISTINCT FROM l.clearing_price
        OR l.winner IS DISTINCT FROM l.high_bidder
   ELSE cap.n <> 0 END) bad;

-- name: proof_captures_belong_to_lots
-- every unsealed capture transfer, and every one an unsealed captured hold
-- names, is the captured hold of exactly one settled lot
SELECT count(*), string_agg(t.id::text, ',') FROM
 (SELECT id FROM transfers WHERE sealed IS NULL AND kind = 'capture'
  UNION SELECT transfer_id FROM holds WHERE sealed IS NULL AND state = 'captured') c
 CROSS JOIN LATERAL (SELECT * FROM transfers WHERE id = c.id LIMIT 1) t
 WHERE t.kind = 'capture' AND (SELECT count(*) FROM holds h WHERE h.transfer_id = t.id
   AND h.state = 'captured') <> 1;

-- name: proof_dutch_paid_schedule_price
-- every unsealed Dutch claim paid max(floor, start - step x whole intervals
-- elapsed) at its claim time
SELECT count(*), string_agg(b.id::text, ',') FROM bids b
 CROSS JOIN LATERAL (SELECT * FROM lots WHERE id = b.lot_id LIMIT 1) l
 WHERE b.sealed IS NULL AND l.kind = 'dutch' AND b.amount <> GREATEST(l.floor_price, l.start_price - l.step *
   LEAST(floor(extract(epoch FROM (b.created_at - l.starts_at)) / l.interval_s)::bigint,
         (l.start_price - l.floor_price) / l.step + 1));

-- name: proof_purchases_paid
-- every unsealed Dutch or drop claim has a purchase transfer from the bidder
-- to the seller for the amount of the claim
SELECT count(*), string_agg(b.id::text, ',') FROM bids b
 CROSS JOIN LATERAL (SELECT * FROM lots WHERE id = b.lot_id LIMIT 1) l
 LEFT JOIN LATERAL (SELECT * FROM transfers WHERE id = b.transfer_id LIMIT 1) t ON true
 WHERE b.sealed IS NULL AND b.status = 'claimed' AND (t.id IS NULL OR t.kind <> 'purchase'
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
-- orders (all unsealed: an order is sealed only once closed)
SELECT count(*), string_agg(market_id::text || '/' || account_id::text, ',') FILTER (WHERE rn <= 5)
 FROM (SELECT p.market_id, p.account_id, row_number() OVER () AS rn FROM positions p
 LEFT JOIN (SELECT market_id, account_id, outcome, sum(remaining) AS s FROM orders
            WHERE sealed IS NULL AND status = 'open' AND side = 'sell'
            GROUP BY market_id, account_id, outcome) o
   ON o.market_id = p.market_id AND o.account_id = p.account_id AND o.outcome = p.outcome
 WHERE p.held <> coalesce(o.s, 0)) bad;

-- fragment: event_pairs_bad
-- An event market m (its escrow account e, p its positions summed per
-- outcome) whose escrow is not what its contracts are owed: while open,
-- outstanding YES equals outstanding NO and escrow is exactly 100 per pair
-- (splits, merges and mints keep it so); mid-resolution, what is still owed
-- under the outcome (100 per remaining winning contract; 50 per remaining
-- contract of either side on a cancel); zero once resolved or cancelled.
-- Cost basis is not compared: it is informational (merges burn contracts
-- with their basis, which need not be 100 per pair).
CASE
   WHEN m.status = 'resolving' THEN e.balance <> CASE m.outcome
     WHEN 'cancel' THEN 50 * (coalesce(p.yes, 0) + coalesce(p.no, 0))
     WHEN 'yes' THEN 100 * coalesce(p.yes, 0)
     ELSE 100 * coalesce(p.no, 0) END
   ELSE coalesce(p.yes, 0) <> coalesce(p.no, 0) OR e.balance <> 100 * coalesce(p.yes, 0)
     OR (m.status IN ('resolved', 'cancelled') AND e.balance <> 0) END

-- name: proof_event_pairs_backed
-- per event market, outstanding YES equals outstanding NO and escrow holds
-- exactly 100 per pair through splits, merges and mints; mid-resolution,
-- escrow equals what is still owed (50 per remaining contract on a cancel);
-- zero once resolved or cancelled
SELECT count(*), string_agg(id::text, ',') FROM (
 SELECT m.id FROM markets m JOIN accounts e ON e.id = m.escrow
 LEFT JOIN (SELECT market_id,
            coalesce(sum(quantity) FILTER (WHERE outcome = 'yes'), 0) AS yes,
            coalesce(sum(quantity) FILTER (WHERE outcome = 'no'), 0) AS no
            FROM positions GROUP BY market_id) p ON p.market_id = m.id
 WHERE m.kind = 'event' AND {{event_pairs_bad}}) bad;

-- name: proof_trade_cash_legs
-- every unsealed fill's cash legs net to zero: a transfer fill pays price x
-- quantity from buyer to seller; a mint fill's two legs put exactly 100 x
-- quantity into the market's escrow
SELECT count(*), string_agg(t.id::text, ',') FROM trades t
 JOIN markets m ON m.id = t.market_id
 LEFT JOIN LATERAL (SELECT * FROM transfers WHERE id = t.cash_a LIMIT 1) a ON true
 LEFT JOIN LATERAL (SELECT * FROM transfers WHERE id = t.cash_b LIMIT 1) b ON true
 WHERE t.sealed IS NULL AND CASE WHEN t.kind = 'transfer' THEN a.id IS NULL OR a.kind <> 'trade'
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
-- no idempotency key of an unsealed transfer, bid or order produced a second
-- one (looked up by key through all history); keys of sealed rows were checked
-- as they were sealed and are re-checked by the full pass
SELECT count(*), string_agg(k, ',') FROM (
 SELECT DISTINCT t.idem_key AS k FROM transfers t WHERE t.sealed IS NULL AND t.idem_key IS NOT NULL
  AND (SELECT count(*) FROM transfers o WHERE o.idem_key = t.idem_key) > 1
 UNION ALL SELECT DISTINCT b.idem_key FROM bids b WHERE b.sealed IS NULL AND b.idem_key IS NOT NULL
  AND (SELECT count(*) FROM bids o WHERE o.idem_key = b.idem_key) > 1
 UNION ALL SELECT DISTINCT r.idem_key FROM orders r WHERE r.sealed IS NULL AND r.idem_key IS NOT NULL
  AND (SELECT count(*) FROM orders o WHERE o.idem_key = r.idem_key) > 1) dup;

-- fragment: fok_partial
-- A fill-or-kill order o not filled completely: not filled, something
-- remaining, or its own fills (as taker) not adding up to its quantity.
(o.status <> 'filled' OR o.remaining <> 0
 OR o.quantity <> (SELECT coalesce(sum(t.quantity), 0) FROM trades t WHERE t.taker_order = o.id))

-- fragment: expired_unreleased
-- A gtd order o that broke its deadline: expired but still open or holding
-- cash (its contracts: positions_held_match_orders), or filled as a maker
-- at or after its deadline.
((o.end_reason = 'expired' AND (o.status <> 'cancelled' OR o.hold_amount <> 0
   OR o.expires_at IS NULL))
 OR EXISTS (SELECT 1 FROM trades t WHERE t.maker_order = o.id AND t.created_at >= o.expires_at))

-- name: proof_fok_all_or_nothing
-- every unsealed fill-or-kill order is filled completely: nothing remaining
-- and its own fills add up to its quantity (a killed one writes no row)
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT o.id, row_number() OVER () AS rn FROM orders o
 WHERE o.sealed IS NULL AND o.tif = 'fok' AND {{fok_partial}}) bad;

-- name: proof_expired_orders_release
-- every unsealed good-till-date order that expired holds nothing and is
-- cancelled, and no gtd order filled at or after its deadline
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT o.id, row_number() OVER () AS rn FROM orders o
 WHERE o.sealed IS NULL AND (o.expires_at IS NOT NULL OR o.end_reason IS NOT NULL)
 AND {{expired_unreleased}}) bad;
-- fragment: no_negative_balances_bad
-- The accounts no_negative_balances reports (live and full forms alike: the
-- accounts table is current state).
kind <> 'issuer' AND balance < 0 AND coalesce(credit_limit, 0) = 0

-- fragment: held_within_balance_bad
-- The accounts held_within_balance reports.
kind <> 'issuer' AND (held < 0 OR (held > balance AND coalesce(credit_limit, 0) = 0))

-- fragment: within_credit_limit_bad
-- The accounts within_credit_limit reports: below their credit limit, or
-- with a limit no account may have.
(kind <> 'issuer' AND held - coalesce(credit_limit, 0) > balance)
 OR coalesce(credit_limit, 0) < 0 OR (kind <> 'user' AND coalesce(credit_limit, 0) <> 0)

-- name: proof_within_credit_limit
-- credit limits: no account but the issuer is below its credit limit (balance
-- - held >= -credit_limit, 0 when none was set), no limit is negative, and only
-- user accounts have one (also CHECKs on accounts)
{{account_checks}};

-- name: proof_sealer_keeps_up
-- the oldest row the sealer could seal but has not (a transfer or entry, a
-- fill, a closed hold, order or pending transfer, a closed lot or its bids,
-- a credit limit)
-- became sealable at most seal_backlog_max_s ago (observed: its age in
-- seconds, 0 with no backlog; expected: the bound, which it may not exceed)
SELECT coalesce(greatest(0, floor(extract(epoch FROM now() - min(since))))::bigint, 0),
    (array_agg(kind || ' ' || id::text ORDER BY since))[1],
    coalesce(floor(extract(epoch FROM now() - min(since))) > $1::bigint, false), count(*)
FROM (SELECT 'transfer' AS kind, id, created_at AS since FROM transfers WHERE sealed IS NULL
 UNION ALL SELECT 'entry', id, created_at FROM entries WHERE sealed IS NULL
 UNION ALL SELECT 'fill', id, created_at FROM trades WHERE sealed IS NULL
 UNION ALL SELECT 'hold', id, updated_at FROM holds WHERE sealed IS NULL AND state <> 'active'
 UNION ALL SELECT 'order', id, updated_at FROM orders WHERE sealed IS NULL AND status <> 'open'
 UNION ALL SELECT 'pending', id, coalesce(resolved_at, created_at) FROM pending_transfers
  WHERE sealed IS NULL AND status <> 'pending'
 UNION ALL SELECT 'lot', id, coalesce(settled_at, created_at) FROM lots
  WHERE sealed IS NULL AND status <> 'live'
 UNION ALL SELECT 'bid', b.id, coalesce(l.settled_at, l.created_at) FROM bids b
  CROSS JOIN LATERAL (SELECT * FROM lots WHERE id = b.lot_id LIMIT 1) l
  WHERE b.sealed IS NULL AND l.status <> 'live'
 UNION ALL SELECT 'limit', id, created_at FROM credit_limits WHERE sealed IS NULL) backlog;

-- name: proof_full_audit_passed
-- the last finished full pass over all history passed, and a pass has passed
-- within full_audit_interval_s (observed: seconds since the last passed pass
-- finished, or, before any, since the first seal; 0 with no seal; expected:
-- the bound, which it may not exceed)
SELECT CASE WHEN first.at IS NULL THEN 0
         ELSE greatest(0, floor(extract(epoch FROM now() - coalesce(good.at, first.at))))::bigint END,
    CASE WHEN last.status = 'failed' THEN coalesce(last.sample, '') END,
    coalesce(last.status = 'failed', false) OR (first.at IS NOT NULL
      AND floor(extract(epoch FROM now() - coalesce(good.at, first.at))) > $1::bigint),
    last.id, to_char(last.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    last.status, last.rows_read, last.seal_no, last.failed_check
FROM (SELECT 1) one
LEFT JOIN (SELECT id, status, finished_at, rows_read, seal_no, failed_check, sample
           FROM full_audits WHERE finished_at IS NOT NULL AND status IN ('passed', 'failed')
           ORDER BY created_at DESC LIMIT 1) last ON true
LEFT JOIN (SELECT finished_at AS at FROM full_audits WHERE status = 'passed'
           AND finished_at IS NOT NULL ORDER BY created_at DESC LIMIT 1) good ON true
LEFT JOIN (SELECT created_at AS at FROM seals ORDER BY seal_no LIMIT 1) first ON true;

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

-- fragment: english_bid_not_above
-- An English bid row (amount, prev: the amount of the row before it, proxy)
-- that does not beat the one before it: lower, or equal without being the
-- leader's proxy counter-bid to a tie.
(amount < prev OR (amount = prev AND proxy IS NOT TRUE))

-- fragment: english_proxy_price_bad
-- Proxy bidding (README, "Auctions"), for English lot l with bids: from the
-- recorded maxima alone (each bidder's is the highest of their bids'
-- max_amount, or amount for a plain bid, first recorded at the lowest seq),
-- the leader must hold the highest maximum (the earliest on a tie), the
-- lot's high_max must be that maximum (or NULL when it is the high), and the
-- high must be the rule's price: the greatest of the start price, the
-- leader's own plain bids, and the second-highest maximum plus the
-- increment at it capped at the highest maximum.
coalesce((SELECT x.wb IS DISTINCT FROM l.high_bidder::text
   OR x.wm IS DISTINCT FROM coalesce(l.high_max, l.high_amount)
   OR l.high_amount::numeric IS DISTINCT FROM GREATEST(l.start_price::numeric,
      (SELECT max(amount) FROM bids WHERE lot_id = l.id AND bidder::text = x.wb
         AND max_amount IS NULL AND proxy IS NOT TRUE),
      CASE WHEN x.sm IS NOT NULL THEN LEAST(x.wm::numeric, x.sm::numeric + coalesce(
        (SELECT split_part(e, ':', 2)::bigint FROM unnest(string_to_array(l.increments, ',')) e
          WHERE split_part(e, ':', 1)::bigint <= x.sm
          ORDER BY split_part(e, ':', 1)::bigint DESC LIMIT 1), l.increment)) END)
  FROM (SELECT max(bidder::text) FILTER (WHERE r = 1) AS wb, max(mx) FILTER (WHERE r = 1) AS wm,
               max(mx) FILTER (WHERE r = 2) AS sm
        FROM (SELECT bidder, mx, row_number() OVER (ORDER BY mx DESC, fs) AS r
              FROM (SELECT bidder, mx, min(seq) AS fs
                    FROM (SELECT bidder, seq, coalesce(max_amount, amount) AS v,
                                 max(coalesce(max_amount, amount)) OVER (PARTITION BY bidder) AS mx
                          FROM bids WHERE lot_id = l.id) e
                    WHERE v = mx GROUP BY bidder, mx) g) ranked) x
  WHERE x.wb IS NOT NULL), false)

-- name: proof_english_proxy_price
-- per English lot that is unsealed or has unsealed bids: the leader holds
-- the highest recorded maximum (the earliest on a tie), high_max is it, and
-- the high is the proxy rule's price from the recorded maxima (the
-- second-highest plus the increment at it, capped at the highest; never
-- below the start price or the leader's own plain bids)
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT l.id, row_number() OVER () AS rn FROM {{live_lots}} c
 CROSS JOIN LATERAL (SELECT * FROM lots WHERE id = c.id LIMIT 1) l
 WHERE l.kind = 'english' AND {{english_proxy_price_bad}}) bad;

-- fragment: running_entry_bad
-- An entry e whose running balance disagrees with its account's previous
-- entry p (seq - 1, LEFT JOINed: absent for the first): it has no seq or
-- balance_after, a seq below 1 or a gap before it, a balance_after other
-- than p's (0 before the first) plus its amount (in numeric: a tampered
-- row must be reported, not overflow bigint), or a time before p's.
e.seq IS NULL OR e.balance_after IS NULL OR e.seq < 1 OR (e.seq > 1 AND p.account_id IS NULL)
 OR e.balance_after::numeric <> coalesce(p.balance_after, 0)::numeric + e.amount
 OR e.created_at < p.created_at

-- name: proof_running_balances_match
-- every entry's balance_after is the previous entry's plus its amount (seq
-- 1, 2, 3… without gaps, in time order), and every account's balance is its
-- last entry's balance_after and its last seq the number of its entries:
-- unsealed entries against their predecessors (sealed or not); an account
-- with unsealed entries, its last entry and its sealed aggregate's count
-- plus its unsealed entries; an account without, its sealed aggregate (the
-- balance after its last sealed entry, checked as it was sealed and
-- re-checked by the full pass)
{{account_checks}};

-- fragment: account_checks
-- The account checks in one scan of accounts (current state) with their
-- sealed aggregates and the unsealed rows summed per account, instead of one
-- scan per check: balances_match_entries, money_conserved,
-- no_negative_balances, holds_match_held, held_within_balance,
-- within_credit_limit and running_balances_match each have a statement of
-- this one text, and each reads its own pair of columns (observed, sample:
-- the checks table's col, in that order from 0); /proof and the sealer run
-- the text once. Each check's verdict and sample are what its own statement
-- answered: running_balances_match adds the unsealed entries checked against
-- their predecessors (r) to the accounts it reports (sample: those entries
-- first).
--
-- The running balances cost no probe into history when the backlog is what
-- the sealer leaves: w numbers each account's unsealed entries in seq order,
-- so an entry's predecessor is the unsealed entry before it (prev_*) or, for
-- the first, the account's last sealed entry as its aggregate keeps it
-- (seal_accounts.last_*, re-checked by the full pass); and its last entry is
-- its last unsealed one when that one's seq is the count of its entries.
-- Only an entry or account that neither describes (an aggregate from before
-- last_* was kept, a gap, a row out of place) is looked up by key in
-- entries_by_account_seq, as every one was before.
WITH w AS (SELECT id, account_id, seq, amount, balance_after, created_at,
      lag(seq) OVER o AS prev_seq, lag(balance_after) OVER o AS prev_balance,
      lag(created_at) OVER o AS prev_at, lead(true) OVER o IS NULL AS last
    FROM entries WHERE sealed IS NULL WINDOW o AS (PARTITION BY account_id ORDER BY seq))
SELECT x.bme_n, x.bme_ids, x.mc, NULL::text, x.nnb_n, x.nnb_ids, x.hmh_n, x.hmh_ids,
    x.hwb_n, x.hwb_ids, x.wcl_n, x.wcl_ids,
    r.n + x.rbm_n, array_to_string((r.ids || x.rbm_ids)[1:5], ',')
FROM (SELECT count(*) AS n, (array_agg(e.id::text))[1:5] AS ids
      FROM (SELECT w.*, CASE WHEN w.prev_seq = w.seq - 1 THEN 1 WHEN s.last_seq = w.seq - 1 THEN 2
                        ELSE 0 END AS via, s.last_balance, s.last_at
            FROM w LEFT JOIN seal_accounts s ON s.account_id = w.account_id) e
      LEFT JOIN LATERAL (SELECT x.account_id, x.balance_after, x.created_at FROM entries x
                         WHERE e.via = 0 AND e.seq IS NOT NULL
                         AND x.account_id = e.account_id AND x.seq = e.seq - 1 LIMIT 1) q ON true
      CROSS JOIN LATERAL (SELECT CASE WHEN e.via > 0 THEN e.account_id ELSE q.account_id END AS account_id,
                 CASE e.via WHEN 1 THEN e.prev_balance WHEN 2 THEN e.last_balance
                   ELSE q.balance_after END AS balance_after,
                 CASE e.via WHEN 1 THEN e.prev_at WHEN 2 THEN e.last_at ELSE q.created_at END AS created_at) p
      WHERE {{running_entry_bad}}) r
CROSS JOIN (SELECT
   count(*) FILTER (WHERE a.bme) AS bme_n,
   array_to_string((array_agg(a.id::text) FILTER (WHERE a.bme))[1:5], ',') AS bme_ids,
   coalesce(sum(a.balance), 0)::bigint AS mc,
   count(*) FILTER (WHERE a.nnb) AS nnb_n, string_agg(a.id::text, ',') FILTER (WHERE a.nnb) AS nnb_ids,
   count(*) FILTER (WHERE a.hmh) AS hmh_n,
   array_to_string((array_agg(a.id::text) FILTER (WHERE a.hmh))[1:5], ',') AS hmh_ids,
   count(*) FILTER (WHERE a.hwb) AS hwb_n, string_agg(a.id::text, ',') FILTER (WHERE a.hwb) AS hwb_ids,
   count(*) FILTER (WHERE a.wcl) AS wcl_n,
   array_to_string((array_agg(a.id::text) FILTER (WHERE a.wcl))[1:5], ',') AS wcl_ids,
   count(*) FILTER (WHERE a.rbm) AS rbm_n, (array_agg(a.id::text) FILTER (WHERE a.rbm))[1:5] AS rbm_ids
  FROM (SELECT a.id, a.balance, a.nnb, a.hwb, a.wcl,
     -- balances_match_entries: in bigint unless there is an unsealed sum to add (numeric: exact)
     CASE WHEN u.n IS NULL THEN a.balance <> coalesce(s.balance, 0)
       ELSE a.balance <> coalesce(s.balance, 0) + u.s END AS bme,
     CASE WHEN h.s IS NULL AND o.s IS NULL AND q.s IS NULL THEN a.held <> 0
       ELSE a.held <> coalesce(h.s, 0) + coalesce(o.s, 0) + coalesce(q.s, 0) END AS hmh,
     -- running_balances_match: with unsealed entries, the last entry and the count; else the aggregate
     CASE WHEN u.n IS NULL THEN a.balance <> coalesce(s.balance, 0)
       WHEN u.last_seq = coalesce(s.entries, 0) + u.n THEN coalesce(u.last_balance, 0) <> a.balance
       ELSE coalesce(l.balance_after, 0) <> a.balance
         OR coalesce(l.seq, 0) <> coalesce(s.entries, 0) + u.n END AS rbm
   FROM (SELECT id, balance, held, ({{no_negative_balances_bad}}) AS nnb,
                ({{held_within_balance_bad}}) AS hwb, ({{within_credit_limit_bad}}) AS wcl
         FROM accounts) a
   LEFT JOIN seal_accounts s ON s.account_id = a.id
   LEFT JOIN (SELECT account_id, count(*) AS n, sum(amount) AS s,
                     max(seq) FILTER (WHERE last) AS last_seq,
                     max(balance_after) FILTER (WHERE last) AS last_balance
              FROM w GROUP BY account_id) u ON u.account_id = a.id
   LEFT JOIN LATERAL (SELECT x.seq, x.balance_after FROM entries x WHERE u.n IS NOT NULL
                      AND u.last_seq IS DISTINCT FROM coalesce(s.entries, 0) + u.n
                      AND x.account_id = a.id AND x.seq IS NOT NULL ORDER BY x.seq DESC LIMIT 1) l ON true
   LEFT JOIN (SELECT account_id, sum(amount) AS s FROM holds WHERE sealed IS NULL
              AND state = 'active' GROUP BY account_id) h ON h.account_id = a.id
   LEFT JOIN (SELECT account_id, sum(hold_amount) AS s FROM orders WHERE sealed IS NULL
              AND status = 'open' AND side = 'buy' GROUP BY account_id) o ON o.account_id = a.id
   LEFT JOIN (SELECT from_account, sum(amount) AS s FROM pending_transfers
              WHERE sealed IS NULL AND status = 'pending' GROUP BY from_account) q
     ON q.from_account = a.id) a) x
