-- The full pass (fcgi/domain/fullpass.c): every check of /proof over ALL
-- history, in one READ ONLY REPEATABLE READ snapshot on a connection of its
-- own, then the seal checks: the sealed aggregates are the fold of the
-- sealed rows, the positions are 0..tree_size-1, and (in C, from the
-- record streams below) every leaf, internal node, root, chain hash and
-- the latest state commitment recompute from the rows.
--
-- audit_<check> is the full-history form of check <check> (checks.c's
-- `full`): one row, the observed value (the number of violating rows unless
-- the description says otherwise; expected 0) and a sample of the ids.

-- name: audit_settings
-- The pass reads everything: its statement_timeout ($1, ms), memory for its
-- hash joins, no JIT, and no parallel workers: the pass runs at low priority
-- on the backends it owns (fullpass.c lowers their CPU priority), and a
-- worker would be a process of normal priority competing with the writers
-- (postgres only; SET LOCAL: this transaction only). No idle-in-transaction
-- timeout: each of its two connections waits, idle in its transaction, while
-- the other works (the checks while the record stream starts, the stream's
-- connection while the last checks finish), for longer than the application
-- role's 30 s at 10M rows. Times in UTC (what the pass prints).
SELECT set_config('statement_timeout', $1, true),
    set_config('work_mem', '256MB', true), set_config('jit', 'off', true),
    set_config('max_parallel_workers_per_gather', '0', true),
    set_config('idle_in_transaction_session_timeout', '0', true),
    set_config('TimeZone', 'UTC', true);

-- fragment: transfer_unbalanced
-- transfers_balanced's rule over a transfer t grouped with its entries e
count(e.id) < 2 OR coalesce(sum(e.amount), 0) <> 0
  OR coalesce(sum(e.amount) FILTER (WHERE e.account_id = t.from_account), 0) <> -t.amount
  OR coalesce(sum(e.amount) FILTER (WHERE e.account_id = t.to_account), 0) <> t.amount
  OR count(e.id) FILTER (WHERE e.account_id NOT IN (t.from_account, t.to_account)) > 0

-- fragment: seal_lots_markets_unfolded
-- The lots and markets whose sealed aggregates are not the fold of their
-- sealed rows (one id a row).
  SELECT coalesce(s.lot_id, b.lot_id, h.lot_id) FROM seal_lots s
  FULL JOIN (SELECT lot_id, coalesce(sum(quantity) FILTER (WHERE status = 'claimed'), 0) AS claimed,
             count(*) AS n FROM bids WHERE sealed IS NOT NULL GROUP BY lot_id) b
    ON b.lot_id = s.lot_id
  FULL JOIN (SELECT lot_id, sum(amount) AS captured FROM holds
             WHERE sealed IS NOT NULL AND state = 'captured' GROUP BY lot_id) h
    ON h.lot_id = coalesce(s.lot_id, b.lot_id)
  WHERE coalesce(s.claimed, 0) <> coalesce(b.claimed, 0) OR coalesce(s.bids, 0) <> coalesce(b.n, 0)
     OR coalesce(s.captured, 0) <> coalesce(h.captured, 0)
  UNION ALL
  SELECT coalesce(s.market_id, f.market_id) FROM seal_markets s
  FULL JOIN (SELECT market_id, count(*) AS n, sum(quantity) AS q,
             coalesce(sum(quantity) FILTER (WHERE kind = 'mint'), 0) AS pairs
             FROM trades WHERE sealed IS NOT NULL GROUP BY market_id) f ON f.market_id = s.market_id
  WHERE coalesce(s.fills, 0) <> coalesce(f.n, 0) OR coalesce(s.quantity, 0) <> coalesce(f.q, 0)
     OR coalesce(s.pairs, 0) <> coalesce(f.pairs, 0)

-- name: audit_transfers_balanced
-- every transfer has at least two entries, its entries sum to zero, and they
-- only debit its payer and credit its payee by its amount
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT t.id, row_number() OVER () AS rn FROM transfers t
 LEFT JOIN entries e ON e.transfer_id = t.id GROUP BY t.id, t.from_account, t.to_account, t.amount
 HAVING {{transfer_unbalanced}}) bad;

-- name: audit_entries_have_transfers
-- every entry belongs to an existing transfer
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT e.id, row_number() OVER () AS rn FROM entries e
 WHERE NOT EXISTS (SELECT 1 FROM transfers t WHERE t.id = e.transfer_id)) bad;

-- name: audit_balances_match_entries
-- every account's balance equals the sum of its ledger entries
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT a.id, row_number() OVER () AS rn FROM accounts a
 LEFT JOIN (SELECT account_id, sum(amount) AS s FROM entries GROUP BY account_id) e
   ON e.account_id = a.id
 WHERE a.balance <> coalesce(e.s, 0)) bad;

-- name: audit_money_conserved
-- the balances of all accounts, issuer included, sum to zero (observed is the
-- sum)
SELECT coalesce(sum(balance), 0)::bigint, NULL FROM accounts;

-- name: audit_no_negative_balances
-- no account without a credit limit has a negative balance, the issuer aside
-- (an account with one is bounded by within_credit_limit; also a CHECK on
-- accounts)
SELECT count(*), string_agg(id::text, ',') FROM accounts WHERE {{no_negative_balances_bad}};

-- name: audit_holds_match_held
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

-- name: audit_pending_released
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

-- name: audit_order_holds_exact
-- every resting buy reserves exactly remaining x price; closed orders reserve
-- nothing
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT id, row_number() OVER () AS rn FROM orders
 WHERE hold_amount <> CASE WHEN status = 'open' AND side = 'buy'
                           THEN remaining * price ELSE 0 END) bad;

-- name: audit_held_within_balance
-- held is at least 0, and at most the balance for an account without a
-- credit limit, the issuer aside (also CHECKs on accounts)
SELECT count(*), string_agg(id::text, ',') FROM accounts WHERE {{held_within_balance_bad}};

-- name: audit_within_credit_limit
-- credit limits: no account but the issuer is below its credit limit (balance
-- - held >= -credit_limit, 0 when none was set), no limit is negative, and only
-- user accounts have one (also CHECKs on accounts)
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT id, row_number() OVER () AS rn FROM accounts WHERE {{within_credit_limit_bad}}) bad;

-- name: audit_drop_claims_match
-- per drop lot, the units counted from claim rows equal qty_claimed and never
-- exceed K
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT l.id, row_number() OVER () AS rn FROM lots l
 LEFT JOIN (SELECT lot_id, sum(quantity) AS q FROM bids WHERE status = 'claimed'
            GROUP BY lot_id) b ON b.lot_id = l.id
 WHERE l.kind = 'drop' AND (coalesce(b.q, 0) <> l.qty_claimed OR coalesce(b.q, 0) > l.qty_total)
) bad;

-- name: audit_english_high_is_last_bid
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

-- name: audit_english_bids_increase
-- per English lot, accepted bid amounts strictly increase with their sequence
-- numbers, except that a proxy counter-bid may equal the bid it answers
SELECT count(*), string_agg(lot_id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT lot_id, row_number() OVER () AS rn FROM (
  SELECT b.lot_id, b.amount, lag(b.amount) OVER (PARTITION BY b.lot_id ORDER BY b.seq) AS prev,
         b.seq, lag(b.seq) OVER (PARTITION BY b.lot_id ORDER BY b.seq) AS prev_seq, b.proxy
  FROM bids b JOIN lots l ON l.id = b.lot_id WHERE l.kind = 'english') x
 WHERE {{english_bid_not_above}} OR seq <> coalesce(prev_seq, 0) + 1) bad;

-- name: audit_english_live_holds
-- a live English lot with a leader has exactly one active hold, the leader's,
-- equal to the leader's maximum; other lots have no active hold
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT l.id, row_number() OVER () AS rn FROM lots l
 LEFT JOIN (SELECT lot_id, count(*) AS n, min(account_id::text) AS acct, sum(amount) AS s
            FROM holds WHERE state = 'active' GROUP BY lot_id) h ON h.lot_id = l.id
 WHERE CASE WHEN l.kind = 'english' AND l.status = 'live' AND l.high_bidder IS NOT NULL
   THEN coalesce(h.n, 0) <> 1 OR h.acct <> l.high_bidder::text
        OR h.s <> coalesce(l.high_max, l.high_amount)
   ELSE coalesce(h.n, 0) <> 0 END) bad;

-- name: audit_settled_lots_captured_once
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

-- name: audit_captures_belong_to_lots
-- every capture transfer is the captured hold of exactly one settled lot
SELECT count(*), string_agg(t.id::text, ',') FROM transfers t
 WHERE t.kind = 'capture' AND (SELECT count(*) FROM holds h WHERE h.transfer_id = t.id
   AND h.state = 'captured') <> 1;

-- name: audit_dutch_paid_schedule_price
-- every Dutch claim paid max(floor, start - step x whole intervals elapsed) at
-- its claim time
SELECT count(*), string_agg(b.id::text, ',') FROM bids b JOIN lots l ON l.id = b.lot_id
 WHERE l.kind = 'dutch' AND b.amount <> GREATEST(l.floor_price, l.start_price - l.step *
   LEAST(floor(extract(epoch FROM (b.created_at - l.starts_at)) / l.interval_s)::bigint,
         (l.start_price - l.floor_price) / l.step + 1));

-- name: audit_purchases_paid
-- every Dutch or drop claim has a purchase transfer from the bidder to the
-- seller for the amount of the claim
SELECT count(*), string_agg(b.id::text, ',') FROM bids b JOIN lots l ON l.id = b.lot_id
 LEFT JOIN transfers t ON t.id = b.transfer_id
 WHERE b.status = 'claimed' AND (t.id IS NULL OR t.kind <> 'purchase'
   OR t.from_account <> b.bidder OR t.to_account <> l.seller OR t.amount <> b.amount);

-- name: audit_shares_supply_conserved
-- per shares market, the units in all positions (resting sells included) equal
-- the total supply issued at creation
SELECT count(*), string_agg(id::text, ',') FROM (
 SELECT m.id FROM markets m LEFT JOIN positions p ON p.market_id = m.id
 WHERE m.kind = 'shares' GROUP BY m.id, m.total_supply
 HAVING coalesce(sum(p.quantity), 0) <> m.total_supply) bad;

-- name: audit_positions_held_match_orders
-- every position's held units equal the remaining units of its resting sell
-- orders
SELECT count(*), string_agg(market_id::text || '/' || account_id::text, ',') FILTER (WHERE rn <= 5)
 FROM (SELECT p.market_id, p.account_id, row_number() OVER () AS rn FROM positions p
 LEFT JOIN (SELECT market_id, account_id, outcome, sum(remaining) AS s FROM orders
            WHERE status = 'open' AND side = 'sell' GROUP BY market_id, account_id, outcome) o
   ON o.market_id = p.market_id AND o.account_id = p.account_id AND o.outcome = p.outcome
 WHERE p.held <> coalesce(o.s, 0)) bad;

-- name: audit_event_pairs_backed
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

-- name: audit_trade_cash_legs
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

-- name: audit_no_negative_positions
-- no position holds fewer than zero units or more held than it has (also
-- CHECKs)
SELECT count(*), NULL FROM positions WHERE quantity < 0 OR held < 0 OR held > quantity;

-- name: audit_idempotency_keys_unique
-- no idempotency key produced two transfers, two bids or two orders
SELECT count(*), string_agg(k, ',') FROM (
 SELECT idem_key AS k FROM transfers WHERE idem_key IS NOT NULL
  GROUP BY idem_key HAVING count(*) > 1
 UNION ALL SELECT idem_key FROM bids WHERE idem_key IS NOT NULL
  GROUP BY idem_key HAVING count(*) > 1
 UNION ALL SELECT idem_key FROM orders WHERE idem_key IS NOT NULL
  GROUP BY idem_key HAVING count(*) > 1) dup;

-- ---- the seal checks ------------------------------------------------------

-- name: audit_fok_all_or_nothing
-- every fill-or-kill order is filled completely: nothing remaining and its
-- own fills add up to its quantity (a killed one writes no row)
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT o.id, row_number() OVER () AS rn FROM orders o
 WHERE o.tif = 'fok' AND {{fok_partial}}) bad;

-- name: audit_expired_orders_release
-- every good-till-date order that expired holds nothing and is cancelled,
-- and no gtd order filled at or after its deadline
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT o.id, row_number() OVER () AS rn FROM orders o
 WHERE (o.expires_at IS NOT NULL OR o.end_reason IS NOT NULL) AND {{expired_unreleased}}) bad;

-- name: audit_seal_aggregates_match
-- the sealed aggregates are the fold of the sealed rows: per account the sum
-- and count of its sealed entries and, where it keeps one, its last sealed
-- entry (the seq of a sealed entry, with that entry's balance_after and
-- time); per lot the claimed units of its sealed
-- claimed bids, the captured amount of its sealed captured holds and the
-- count of its sealed bids; per market the count, quantity and mint quantity
-- of its sealed fills
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT id, row_number() OVER () AS rn FROM (
  SELECT coalesce(s.account_id, f.account_id) AS id FROM seal_accounts s
  FULL JOIN (SELECT account_id, sum(amount) AS balance, count(*) AS n FROM entries
             WHERE sealed IS NOT NULL GROUP BY account_id) f ON f.account_id = s.account_id
  LEFT JOIN LATERAL (SELECT x.balance_after, x.created_at FROM entries x
             WHERE s.last_seq IS NOT NULL AND x.account_id = s.account_id AND x.seq = s.last_seq
             AND x.sealed IS NOT NULL LIMIT 1) m ON true
  WHERE coalesce(s.balance, 0) <> coalesce(f.balance, 0) OR coalesce(s.entries, 0) <> coalesce(f.n, 0)
   OR (s.last_seq IS NOT NULL AND (m.created_at IS NULL OR m.balance_after IS DISTINCT FROM s.last_balance
       OR m.created_at IS DISTINCT FROM s.last_at))
  UNION ALL
{{seal_lots_markets_unfolded}}) x) bad;

-- name: audit_positions_contiguous
-- the sealed positions are exactly 0 .. tree_size - 1 of the latest seal,
-- each held by one record (transfers, holds, bids, lots, fills, orders,
-- pending transfers, credit limits) and each with its leaf stored, and every entry carries
-- its transfer's position (observed counts the duplicated, missing and
-- out-of-range positions, the stray or missing leaves and the entries that
-- disagree)
WITH size AS (SELECT coalesce(max(tree_size), 0) AS n FROM seals),
 p AS (SELECT sealed AS pos, id FROM transfers WHERE sealed IS NOT NULL
  UNION ALL SELECT sealed, id FROM holds WHERE sealed IS NOT NULL
  UNION ALL SELECT sealed, id FROM bids WHERE sealed IS NOT NULL
  UNION ALL SELECT sealed, id FROM lots WHERE sealed IS NOT NULL
  UNION ALL SELECT sealed, id FROM trades WHERE sealed IS NOT NULL
  UNION ALL SELECT sealed, id FROM orders WHERE sealed IS NOT NULL
  UNION ALL SELECT sealed, id FROM pending_transfers WHERE sealed IS NOT NULL
  UNION ALL SELECT sealed, id FROM credit_limits WHERE sealed IS NOT NULL),
 stray AS (SELECT e.id FROM entries e LEFT JOIN transfers t ON t.id = e.transfer_id
  WHERE e.sealed IS DISTINCT FROM t.sealed AND (e.sealed IS NOT NULL OR t.sealed IS NOT NULL)),
 dup AS (SELECT pos, min(id::text) AS id, count(*) - 1 AS extra FROM p GROUP BY pos
  HAVING count(*) > 1 OR pos < 0 OR pos >= (SELECT n FROM size))
SELECT (SELECT coalesce(sum(extra + CASE WHEN pos < 0 OR pos >= (SELECT n FROM size) THEN 1 ELSE 0 END), 0) FROM dup)
     + ((SELECT n FROM size) - (SELECT count(DISTINCT pos) FROM p WHERE pos >= 0
        AND pos < (SELECT n FROM size)))
     + (SELECT count(*) FROM merkle_nodes WHERE level = 0 AND idx >= (SELECT n FROM size))
     + ((SELECT n FROM size) - (SELECT count(*) FROM merkle_nodes WHERE level = 0
        AND idx < (SELECT n FROM size)))
     + (SELECT count(*) FROM stray),
    (SELECT string_agg(id, ',') FROM (SELECT id::text AS id FROM stray
      UNION ALL SELECT id FROM dup LIMIT 5) s);

-- ---- the record streams (hashed in C) ---------------------------------------
-- Each answers every sealed record of its kind in position order: the
-- position, the record's columns exactly as the sealer reads them (the
-- seal_<kind>_cols fragments of seal.sql, in the order of domain/record.h's
-- enum record_col_<kind>), then the leaf stored at its position
-- (merkle_nodes level 0, hex; NULL when missing). On postgres each is a
-- COPY ... TO STDOUT (text rows, far cheaper to read than one result per
-- row); DSQL has no COPY, so its variant is the same SELECT, read in
-- single-row mode (fcgi/domain/fullpass_stream.c reads either).

-- name: audit_records_transfers
-- dialect: postgres
-- Sealed transfers with their entries, one row per entry (entry id,
-- account, amount after the leaf; NULL when it has none). The transfers, the
-- leaves and the entries are read in position order through their position
-- indexes (transfers_by_seal, merkle_nodes' key, entries_by_seal) and merged,
-- never probed one transfer at a time: an entry joins the transfer it names
-- at the position it carries. An entry that names a sealed transfer but
-- carries another position (or none) is a positions_contiguous violation
-- (its stray part), so together the two checks still see every entry of
-- every sealed transfer.
--
-- Each entry row also carries what the pass's fold (fullpass_fold.c) checks
-- in C: its seq, balance_after and created_at.
--
-- A binary COPY: the server sends each value as it stores it (no text
-- output functions: two thirds of the stream's server time in text form),
-- and the pass decodes them by fullpass_hash.c's TRANSFER_ROW_TYPES into the
-- text the record encoding reads. So the transfer's columns are
-- seal_transfer_cols' but for created_at, sent as the timestamp itself:
-- decoded, it is the same microseconds since 1970 that
-- seal_transfer_cols' expression computes; the leaf is the stored bytes.
--
-- The leaves are an ordered subquery: as a plain LEFT JOIN, `m.level = 0`
-- stays a join condition and the planner finds no leaf scan in idx order,
-- so at 5M transfers it hashed all three tables and sorted the result
-- (gigabytes, spilled) before the first row; this way the whole plan is
-- three merged index scans and the rows stream at once.
COPY (SELECT r.*, m.hash, e.id, e.account_id, e.amount, e.seq, e.balance_after, e.created_at
 FROM (SELECT sealed, id, kind, from_account, to_account, amount, created_at, caller, idem_key, memo
       FROM transfers WHERE sealed IS NOT NULL) r
 LEFT JOIN (SELECT idx, hash FROM merkle_nodes WHERE level = 0 ORDER BY idx) m ON m.idx = r.sealed
 LEFT JOIN entries e ON e.sealed = r.sealed AND e.transfer_id = r.id
 ORDER BY r.sealed) TO STDOUT (FORMAT binary);

-- name: audit_records_transfers
-- dialect: dsql
SELECT r.*, encode(m.hash, 'hex'), e.id, e.account_id, e.amount
 FROM (SELECT sealed, {{seal_transfer_cols}} FROM transfers WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed
 LEFT JOIN entries e ON e.transfer_id = r.id ORDER BY r.sealed, e.id;

-- name: audit_records_holds
-- dialect: postgres
-- Sealed holds.
COPY (SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_hold_cols}} FROM holds WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed) TO STDOUT;

-- name: audit_records_holds
-- dialect: dsql
SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_hold_cols}} FROM holds WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed;

-- name: audit_records_bids
-- dialect: postgres
-- Sealed bids.
COPY (SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_bid_cols}} FROM bids WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed) TO STDOUT;

-- name: audit_records_bids
-- dialect: dsql
SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_bid_cols}} FROM bids WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed;

-- name: audit_records_lots
-- dialect: postgres
-- Sealed lots.
COPY (SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_lot_cols}} FROM lots WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed) TO STDOUT;

-- name: audit_records_lots
-- dialect: dsql
SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_lot_cols}} FROM lots WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed;

-- name: audit_records_fills
-- dialect: postgres
-- Sealed trades (fill records).
COPY (SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_fill_cols}} FROM trades WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed) TO STDOUT;

-- name: audit_records_fills
-- dialect: dsql
SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_fill_cols}} FROM trades WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed;

-- name: audit_records_orders
-- dialect: postgres
-- Sealed orders.
COPY (SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_order_cols}} FROM orders WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed) TO STDOUT;

-- name: audit_records_orders
-- dialect: dsql
SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_order_cols}} FROM orders WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed;

-- name: audit_records_pending
-- dialect: postgres
-- Sealed pending transfers.
COPY (SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_pending_cols}} FROM pending_transfers WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed) TO STDOUT;

-- name: audit_records_pending
-- dialect: dsql
SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_pending_cols}} FROM pending_transfers WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed;

-- name: audit_records_limits
-- dialect: postgres
-- Sealed credit limits.
COPY (SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_limit_cols}} FROM credit_limits WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed) TO STDOUT;

-- name: audit_records_limits
-- dialect: dsql
SELECT r.*, encode(m.hash, 'hex')
 FROM (SELECT sealed, {{seal_limit_cols}} FROM credit_limits WHERE sealed IS NOT NULL) r
 LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = r.sealed ORDER BY r.sealed;

-- name: audit_node_pairs
-- The stored nodes of level $1 with indexes in [$2, $3), and those of level
-- $1 - 1 (their children) in [2 x $2, 2 x $3): two index range scans of the
-- primary key, however long the log (fullpass_hash.c checks each parent
-- against its children, a chunk at a time; read in binary).
SELECT level, idx, hash FROM merkle_nodes
 WHERE level = $1::smallint AND idx >= $2::bigint AND idx < $3::bigint
UNION ALL
SELECT level, idx, hash FROM merkle_nodes
 WHERE level = $1::smallint - 1 AND idx >= 2 * $2::bigint AND idx < 2 * $3::bigint;

-- name: audit_node_block
-- The stored nodes of levels 0 to $3 over the leaves [$1, $2) (a block of
-- 2^$3 leaves): at level l the indexes [$1 >> l, $2 >> l), one index range
-- scan of the primary key each, so every node of those levels is read once
-- (fullpass_hash.c checks each against its children in the same block;
-- read in binary).
SELECT m.level, m.idx, m.hash FROM generate_series(0, $3::integer) AS l(level)
 CROSS JOIN LATERAL (SELECT level, idx, hash FROM merkle_nodes
   WHERE level = l.level::smallint AND idx >= ($1::bigint >> l.level)
   AND idx < ($2::bigint >> l.level)) m;

-- name: audit_node_levels
-- How many nodes each level stores, its highest index and its lowest.
SELECT level, count(*), max(idx), min(idx) FROM merkle_nodes GROUP BY level ORDER BY level;

-- name: audit_node_get
-- The stored hash of the perfect subtree ($1 level, $2 index), hex.
SELECT encode(hash, 'hex') FROM merkle_nodes WHERE level = $1 AND idx = $2;

-- name: audit_latest_seal
-- The latest seal in the snapshot: what the pass covers.
SELECT seal_no, tree_size, encode(state_hash, 'hex') FROM seals ORDER BY seal_no DESC LIMIT 1;

-- name: audit_seals_page
-- The seals after seal $1, at most $2, in order, hashes in hex.
SELECT seal_no, tree_size, records, encode(root, 'hex'), encode(state_hash, 'hex'),
    encode(prev_hash, 'hex'), encode(hash, 'hex') FROM seals WHERE seal_no > $1
 ORDER BY seal_no LIMIT $2;

-- name: audit_state_accounts
-- The sealed per-account aggregates (the state commitment's account lines).
SELECT account_id, balance, entries FROM seal_accounts;

-- name: audit_state_lots
-- The sealed per-lot aggregates.
SELECT lot_id, claimed, captured, bids FROM seal_lots;

-- name: audit_state_markets
-- The sealed per-market aggregates.
SELECT market_id, fills, quantity, pairs FROM seal_markets;

-- ---- the lease and the full_audits rows -------------------------------------

-- name: audit_lease_ensure
-- The full pass's lease row exists.
INSERT INTO leases (name) VALUES ('full_audit') ON CONFLICT (name) DO NOTHING;

-- name: audit_lease_take
-- Take or renew the full pass's lease as $1 for $2 seconds: one row = held.
UPDATE leases SET owner = $1, expires = clock_timestamp() + make_interval(secs => $2::int)
 WHERE name = 'full_audit' AND (owner IS NULL OR owner = $1 OR expires < clock_timestamp());

-- name: audit_lease_release
-- Give the lease back, if $1 still holds it.
UPDATE leases SET owner = NULL, expires = NULL WHERE name = 'full_audit' AND owner = $1;

-- fragment: audit_columns
id, status, requested_by, seal_no, tree_size, rows_read, failed_check, sample, detail,
    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')

-- name: audit_insert
-- POST /proof/audits and the CLI: queue a pass ($1 id, $2 who asked).
INSERT INTO full_audits (id, status, requested_by) VALUES ($1, 'queued', $2)
 RETURNING {{audit_columns}};

-- name: audit_get
-- GET /proof/audits/{id}.
SELECT {{audit_columns}} FROM full_audits WHERE id = $1;

-- name: audit_next_queued
-- The jobs child: the oldest queued pass, if none is running.
SELECT id FROM full_audits WHERE status = 'queued'
 AND NOT EXISTS (SELECT 1 FROM full_audits WHERE status = 'running')
 ORDER BY created_at LIMIT 1;

-- name: audit_schedule
-- The jobs child: queue a pass ($1 id) when none is queued or running and
-- none finished in the last $2 seconds.
INSERT INTO full_audits (id, status, requested_by)
 SELECT $1, 'queued', 'schedule'
 WHERE NOT EXISTS (SELECT 1 FROM full_audits WHERE status IN ('queued', 'running'))
   AND NOT EXISTS (SELECT 1 FROM full_audits WHERE status IN ('passed', 'failed')
                   AND finished_at > now() - make_interval(secs => $2::int));

-- name: audit_requeue_orphans
-- A pass left running while nobody holds the lease was interrupted (its
-- process died): queue it again.
UPDATE full_audits SET status = 'queued', started_at = NULL, rows_read = NULL
 WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM leases WHERE name = 'full_audit'
   AND owner IS NOT NULL AND expires > clock_timestamp());

-- name: audit_start
-- The pass $1 starts (it holds the lease).
UPDATE full_audits SET status = 'running', started_at = now(), rows_read = 0
 WHERE id = $1 AND status IN ('queued', 'running');

-- name: audit_progress
-- The pass $1 has read $2 rows so far.
UPDATE full_audits SET rows_read = $2 WHERE id = $1 AND status = 'running';

-- name: audit_finish
-- The pass $1 ends: $2 passed|failed, rows read, the seal it covered, the
-- first failed check, its sample and a detail.
UPDATE full_audits SET status = $2, rows_read = $3, seal_no = $4, tree_size = $5,
    failed_check = $6, sample = $7, detail = $8, finished_at = now()
 WHERE id = $1;

-- name: audit_fail_died
-- The process running pass $1 died without a verdict: the pass failed ($2 why).
UPDATE full_audits SET status = 'failed', detail = $2, finished_at = now()
 WHERE id = $1 AND status = 'running';

-- name: audit_english_proxy_price
-- per English lot: the leader holds the highest recorded maximum (the
-- earliest on a tie), high_max is it, and the high is the proxy rule's
-- price from the recorded maxima
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT l.id, row_number() OVER () AS rn FROM lots l
 WHERE l.kind = 'english' AND {{english_proxy_price_bad}}) bad;

-- name: audit_backend
-- The backend serving this connection and the port its server listens on
-- (postgres): the full pass lowers the CPU priority of a backend it owns
-- when the connection goes straight to that server (fullpass_prio.c).
SELECT pg_backend_pid(), current_setting('port');

-- name: audit_export_snapshot
-- postgres: the pass's snapshot, exported so that its second connection
-- (the SQL checks, run while this one streams the records) reads exactly
-- the same one.
SELECT pg_export_snapshot();

-- name: audit_import_snapshot
-- postgres: the second connection adopts the exported snapshot, first thing
-- in its REPEATABLE READ transaction. SET takes no parameters: fullpass_checks.c
-- appends the snapshot's id, as a quoted literal, after checking that it is
-- one (hex digits and dashes, as pg_export_snapshot() writes them).
SET TRANSACTION SNAPSHOT;

-- name: audit_running_balances_match
-- every entry's balance_after is the previous entry's plus its amount (seq
-- 1, 2, 3… without gaps, in time order), and every account's balance is its
-- last entry's balance_after and its last seq the number of its entries
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM (
 SELECT id, row_number() OVER () AS rn FROM (
  SELECT e.id FROM entries e
   LEFT JOIN entries p ON p.account_id = e.account_id AND p.seq = e.seq - 1
   WHERE {{running_entry_bad}}
  UNION ALL
  SELECT a.id FROM accounts a
   LEFT JOIN (SELECT account_id, count(*) AS n, max(seq) AS last_seq FROM entries
               GROUP BY account_id) c ON c.account_id = a.id
   LEFT JOIN entries l ON l.account_id = a.id AND l.seq = c.last_seq
   WHERE coalesce(l.balance_after, 0) <> a.balance
      OR coalesce(c.last_seq, 0) <> coalesce(c.n, 0)) r) bad;

-- ---- the fold's rest (fullpass_fold.c) --------------------------------------
-- On postgres the pass checks transfers_balanced, entries_have_transfers,
-- balances_match_entries, running_balances_match, the account part of
-- seal_aggregates_match and positions_contiguous in C, from the record
-- streams (one read of the sealed entries, merged with their transfers).
-- These statements are what is not in the streams: the unsealed rows and
-- other tables. When the fold finds anything, the check's full SQL form
-- above gives the verdict and names the rows.

-- name: audit_fold_rest
-- One row: unsealed transfers that are not balanced (transfers_balanced's
-- rule), unsealed entries without a transfer, the sealed entries (the
-- stream must have merged each with its transfer), unsealed entries of a
-- sealed transfer, the stored leaves at or past the latest tree size, those
-- below it, and the lots and markets whose sealed aggregates are not the
-- fold of their sealed rows (seal_aggregates_match's other parts).
WITH size AS (SELECT coalesce(max(tree_size), 0) AS n FROM seals)
SELECT (SELECT count(*) FROM (SELECT t.id FROM transfers t
   LEFT JOIN entries e ON e.transfer_id = t.id WHERE t.sealed IS NULL
   GROUP BY t.id, t.from_account, t.to_account, t.amount
   HAVING {{transfer_unbalanced}}) b),
 (SELECT count(*) FROM entries e WHERE e.sealed IS NULL
   AND NOT EXISTS (SELECT 1 FROM transfers t WHERE t.id = e.transfer_id)),
 (SELECT count(*) FROM entries WHERE sealed IS NOT NULL),
 (SELECT count(*) FROM entries e JOIN transfers t ON t.id = e.transfer_id
   WHERE e.sealed IS NULL AND t.sealed IS NOT NULL),
 (SELECT count(*) FROM merkle_nodes WHERE level = 0 AND idx >= (SELECT n FROM size)),
 (SELECT count(*) FROM merkle_nodes WHERE level = 0 AND idx < (SELECT n FROM size)),
 (SELECT count(*) FROM (
{{seal_lots_markets_unfolded}}) x);

-- name: audit_fold_unsealed_entries
-- dialect: postgres
-- The unsealed entries, for the running balances and the per-account sums
-- (any order: the fold puts each account's entries in seq order itself), as
-- a binary COPY like the transfers' stream (created_at: microseconds).
COPY (SELECT account_id, seq, amount, balance_after, created_at, id FROM entries
 WHERE sealed IS NULL) TO STDOUT (FORMAT binary);

-- name: audit_fold_unsealed_entries
-- dialect: dsql
-- (dsql runs the checks' SQL forms instead; kept so both dialects prepare it.)
SELECT account_id, seq, amount, balance_after, created_at, id FROM entries WHERE sealed IS NULL;

-- name: audit_fold_accounts
-- Every account and every sealed per-account aggregate, side by side: id,
-- balance (NULL: no such account), the sealed balance and entry count
-- (NULL: no aggregate), and the aggregate's last sealed entry: seq (NULL:
-- none kept), balance_after and time (microseconds since the epoch).
SELECT coalesce(a.id, s.account_id), a.balance, s.balance, s.entries, s.last_seq, s.last_balance,
    (extract(epoch FROM s.last_at) * 1000000)::bigint
 FROM accounts a FULL JOIN seal_accounts s ON s.account_id = a.id;
