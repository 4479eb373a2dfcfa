-- Markets: creation, the book and tape readers, and resolution's
-- transactions (fcgi/api/market.c, fcgi/domain/market.c,
-- fcgi/domain/resolve.c).

-- name: market_lock
-- Lock a market row: every order on the market serialises on it.
SELECT id, kind, title, owner, escrow, total_supply, tick_min, tick_max, status,
 coalesce(outcome, ''), seq, last_price, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
 FROM markets WHERE id = $1 FOR UPDATE;

-- name: market_owner_kind
-- A shares market's owner must be a user account.
SELECT kind FROM accounts WHERE id = $1;

-- name: market_escrow_insert
-- An event market's escrow account: 100 per outstanding pair until resolution.
INSERT INTO accounts (id, name, kind) VALUES ($1, $2, 'escrow');

-- name: market_insert
-- A new market, returned as the readers return it.
INSERT INTO markets (id, kind, title, owner, escrow, total_supply,
 tick_min, tick_max) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
 RETURNING id, kind, title, owner, escrow, total_supply, tick_min, tick_max, status,
 coalesce(outcome, ''), seq, last_price, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

-- name: market_shares_issue
-- A shares market's whole supply, held by its owner.
INSERT INTO positions (market_id, account_id, outcome, quantity)
 VALUES ($1, $2, 'shares', $3);

-- name: market_get
-- One market.
SELECT id, kind, title, owner, escrow, total_supply, tick_min, tick_max, status,
 coalesce(outcome, ''), seq, last_price, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
 FROM markets WHERE id = $1;

-- name: market_book
-- Aggregated levels: bids best (highest) first, asks best (lowest) first
-- (a gtd order past its deadline is not in the book, swept or not).
SELECT outcome, side, price, sum(remaining) FROM orders
 WHERE market_id = $1 AND status = 'open' AND (expires_at IS NULL OR expires_at > now())
 GROUP BY outcome, side, price
 ORDER BY outcome, side, CASE WHEN side = 'buy' THEN -price ELSE price END;

-- name: market_trades
-- The last 100 trades, newest first.
SELECT seq, kind, outcome, price, quantity, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
 FROM trades WHERE market_id = $1 ORDER BY seq DESC, created_at DESC LIMIT 100;

-- name: market_outstanding
-- Contracts outstanding per outcome.
SELECT outcome, coalesce(sum(quantity), 0), count(*) FILTER (WHERE quantity > 0)
 FROM positions WHERE market_id = $1 GROUP BY outcome;

-- name: market_resolve_lock
-- Lock a market with its resolution columns (who resolves it, under which
-- key, whether the lease still runs, what it paid so far).
SELECT kind, status, coalesce(outcome, ''), coalesce(escrow::text, ''),
 coalesce(resolve_caller, ''), coalesce(resolve_key, ''),
 coalesce(resolve_lease > clock_timestamp(), false), coalesce(resolve_paid, 0),
 coalesce(resolve_settled, 0) FROM markets WHERE id = $1 FOR UPDATE;

-- name: market_extend_lease
-- The driver $3 holds the resolution's lease for another $2 seconds, from
-- the moment of the update (clock_timestamp(), not the transaction's start:
-- a batch that waited for locks must not commit a lease already lapsed).
UPDATE markets SET resolve_lease = clock_timestamp() + make_interval(secs => $2::int),
 resolve_owner = $3 WHERE id = $1;

-- name: market_lease_running
-- A resolution whose owner still runs (read before locking: a retry must
-- not wait for the owner's batch).
SELECT 1 FROM markets WHERE id = $1 AND status = 'resolving'
 AND resolve_lease > clock_timestamp();

-- name: market_begin_resolving
-- The market moves to resolving under the key $3:$4 with a fresh lease
-- ($6: a fresh start, the paid and settled counters reset), driven by $7.
UPDATE markets SET status = 'resolving', outcome = $2, resolve_caller = $3,
 resolve_key = $4, resolve_lease = clock_timestamp() + make_interval(secs => $5::int),
 resolve_owner = $7,
 resolve_paid = CASE WHEN $6::boolean THEN 0 ELSE resolve_paid END,
 resolve_settled = CASE WHEN $6::boolean THEN 0 ELSE resolve_settled END
 WHERE id = $1;

-- name: market_escrow_balance
-- What the escrow still holds before the market closes (must be 0).
SELECT balance FROM accounts WHERE id = $1;

-- name: market_close
-- Close a resolved market ($2: resolved or cancelled).
UPDATE markets SET status = $2, resolved_at = now(), resolve_lease = NULL
 WHERE id = $1;

-- name: market_key_answer
-- The answer another driver stored under the resolution's key.
SELECT state, body FROM idempotency_keys WHERE caller = $1 AND key = $2;

-- name: market_key_finish
-- Finish the resolution's pending key with its answer, with the close.
UPDATE idempotency_keys SET state = 'done', status = 200, body = $3
 WHERE caller = $1 AND key = $2 AND state = 'pending';

-- name: market_open_orders_batch
-- The next batch of resting orders to cancel, oldest first.
SELECT id, account_id, side, outcome, remaining, hold_amount FROM orders
 WHERE market_id = $1 AND status = 'open' ORDER BY seq LIMIT $2::int;

-- name: market_positions_batch
-- The next batch of positions to pay out (zeroed ones are done).
SELECT account_id, outcome, quantity, cost FROM positions
 WHERE market_id = $1 AND (quantity > 0 OR cost > 0)
 ORDER BY account_id, outcome LIMIT $2::int;

-- name: market_position_settle
-- A position paid out: zeroed.
UPDATE positions SET quantity = 0, held = 0, cost = 0
 WHERE market_id = $1 AND account_id = $2 AND outcome = $3;

-- name: market_record_paid
-- What a batch paid and settled, with the lease renewed for its driver $5,
-- in its transaction.
UPDATE markets SET resolve_paid = coalesce(resolve_paid, 0) + $2::bigint,
 resolve_settled = coalesce(resolve_settled, 0) + $3::bigint,
 resolve_lease = clock_timestamp() + make_interval(secs => $4::int), resolve_owner = $5
 WHERE id = $1;

-- name: market_release_lease
-- After a failed step: let a retry or the jobs child resume at once — only
-- if the lease is still the failed driver's ($2): one that another driver
-- has taken over since is not ours to drop.
UPDATE markets SET resolve_lease = NULL
 WHERE id = $1 AND status = 'resolving' AND resolve_owner = $2;

-- name: market_stale
-- Resolutions whose lease lapsed (their driver died or failed half way).
SELECT id FROM markets WHERE status = 'resolving'
 AND (resolve_lease IS NULL OR resolve_lease < clock_timestamp())
 ORDER BY id LIMIT $1::int;

-- name: market_pairs_free
-- A merge: the caller's YES and NO contracts not held by resting sells, with
-- the quantity and cost basis they carry (read under the market's lock).
SELECT outcome, quantity - held, quantity, cost FROM positions
 WHERE market_id = $1 AND account_id = $2 AND outcome IN ('yes', 'no');

-- name: market_pairs_mint
-- A split: $3 pairs to the caller, one YES and one NO each, each side with
-- $4 of cost basis (50 per contract: what it paid), the positions created if
-- new; their quantities after.
INSERT INTO positions (market_id, account_id, outcome, quantity, cost)
 VALUES ($1, $2, 'yes', $3, $4), ($1, $2, 'no', $3, $4)
 ON CONFLICT (market_id, account_id, outcome) DO UPDATE SET
 quantity = positions.quantity + EXCLUDED.quantity,
 cost = positions.cost + EXCLUDED.cost
 RETURNING outcome, quantity;

-- name: market_pairs_burn
-- A merge: $4 contracts and $5 of cost basis off one side ($3) of the
-- caller's position, only while that many are free of resting sells; its
-- quantity after (no row: not that many free).
UPDATE positions SET quantity = quantity - $4::bigint, cost = cost - $5::bigint
 WHERE market_id = $1 AND account_id = $2 AND outcome = $3
 AND quantity - held >= $4::bigint
 RETURNING quantity;
