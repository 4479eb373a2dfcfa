-- Limit orders: the book an incoming order matches against, the positions
-- its fills move, and the trades they record (fcgi/api/order.c,
-- fcgi/domain/book.c).

-- name: order_position_available
-- A seller's contracts not already held by its resting sells.
SELECT quantity - held FROM positions WHERE market_id = $1
 AND account_id = $2 AND outcome = $3;

-- name: order_makers_sells
-- The resting sells a buy at $3 crosses, best (lowest) price first, then time
-- (a gtd order past its deadline is expired, not matched, even before the
-- jobs child has released it).
SELECT id, account_id, side, outcome, price, remaining, hold_amount, seq FROM orders WHERE market_id = $1 AND status = 'open'
 AND side = 'sell' AND outcome = $2 AND price <= $3::int
 AND (expires_at IS NULL OR expires_at > now())
 ORDER BY price, seq LIMIT $4::int;

-- name: order_makers_buys
-- The resting buys at $3 or more, best (highest) price first, then time: the
-- bids a sell crosses, or the complement buys a YES/NO buy mints pairs with
-- (past-deadline gtd orders left out, as above).
SELECT id, account_id, side, outcome, price, remaining, hold_amount, seq FROM orders WHERE market_id = $1 AND status = 'open'
 AND side = 'buy' AND outcome = $2 AND price >= $3::int
 AND (expires_at IS NULL OR expires_at > now())
 ORDER BY price DESC, seq LIMIT $4::int;

-- name: order_position_release
-- Release $4 of a position's held contracts (a resting sell goes away).
UPDATE positions SET held = held - $4::bigint WHERE market_id = $1
 AND account_id = $2 AND outcome = $3;

-- name: order_cancel
-- Mark a resting order cancelled; its hold was released just before.
UPDATE orders SET status = 'cancelled', hold_amount = 0, updated_at = now()
 WHERE id = $1;

-- name: order_position_read
-- A seller's contracts and their cost basis, before some of them move.
SELECT quantity, cost FROM positions WHERE market_id = $1 AND account_id = $2
 AND outcome = $3;

-- name: order_position_take
-- Take $4 contracts and $5 of cost basis off the seller (and $6 off its held).
UPDATE positions SET quantity = quantity - $4::bigint, cost = cost - $5::bigint,
 held = held - $6::bigint
 WHERE market_id = $1 AND account_id = $2 AND outcome = $3;

-- name: order_position_add
-- Add $4 contracts with $5 of cost basis to a position, creating it if new.
INSERT INTO positions (market_id, account_id, outcome, quantity, cost)
 VALUES ($1, $2, $3, $4, $5)
 ON CONFLICT (market_id, account_id, outcome) DO UPDATE SET
 quantity = positions.quantity + EXCLUDED.quantity,
 cost = positions.cost + EXCLUDED.cost;

-- name: order_trade_insert
-- One fill, for the market's trade tape.
INSERT INTO trades (id, market_id, seq, kind, outcome, price, quantity, buyer,
 seller, taker_order, maker_order, cash_a, cash_b)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13);

-- name: order_insert
-- The taker's order row (written before its fills: trades reference it):
-- $9 what its remainder does (gtc rests, ioc is cancelled), $14 the time
-- in force it was placed with, $15 its type, $16 a gtd deadline, $17
-- post-only, $18 its self-trade prevention mode.
INSERT INTO orders (id, market_id, account_id, side, outcome, price, quantity,
 remaining, time_in_force, status, hold_amount, idem_key, seq, tif, order_type,
 expires_at, post_only, stp)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
 $16::timestamptz, $17::boolean, $18);

-- name: order_position_hold
-- Hold $4 contracts of a position for a resting sell.
UPDATE positions SET held = held + $4::bigint WHERE market_id = $1
 AND account_id = $2 AND outcome = $3;

-- name: order_maker_fill
-- A resting order filled by $2 units; its hold is now $3.
UPDATE orders SET remaining = remaining - $2::bigint,
 hold_amount = $3::bigint,
 status = CASE WHEN remaining - $2::bigint = 0 THEN 'filled' ELSE status END,
 updated_at = now() WHERE id = $1;

-- name: order_market_advance
-- The market's trade sequence and last price after an order.
UPDATE markets SET seq = $2::bigint, last_price = coalesce($3::int, last_price)
 WHERE id = $1;

-- name: order_market_of
-- Which market an order rests on (its lock comes first, as for every order).
SELECT market_id FROM orders WHERE id = $1;

-- name: order_lock
-- Lock one order for its cancellation (or amendment, or expiry), with
-- whether it expired ('expired': the jobs child or an earlier request
-- expired it; 'due': open, its gtd deadline passed by the database clock).
SELECT id, account_id, side, outcome, price, remaining, hold_amount, seq, status,
 CASE WHEN end_reason = 'expired' THEN 'expired'
      WHEN status = 'open' AND expires_at <= now() THEN 'due' ELSE '' END,
 quantity, coalesce(tif, time_in_force), coalesce(stp, 'cancel_maker'),
 coalesce(post_only, false),
 coalesce(to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '')
 FROM orders WHERE id = $1 FOR UPDATE;

-- name: order_expire
-- Mark a resting gtd order expired (cancelled, end_reason 'expired'); its
-- hold was released just before.
UPDATE orders SET status = 'cancelled', hold_amount = 0, end_reason = 'expired',
 updated_at = now() WHERE id = $1;

-- name: order_due
-- The jobs child: up to $1 open gtd orders whose deadline has passed, the
-- oldest deadline first.
SELECT id FROM orders WHERE status = 'open' AND expires_at IS NOT NULL
 AND expires_at <= now() ORDER BY expires_at LIMIT $1;

-- name: order_amend
-- An amended order ($1): price $2, quantity $3, remaining $4, status $5,
-- cash hold $6 and priority stamp $7 (its old one when only its quantity
-- went down).
UPDATE orders SET price = $2::int, quantity = $3::bigint, remaining = $4::bigint,
 status = $5, hold_amount = $6::bigint, seq = $7::bigint, updated_at = now()
 WHERE id = $1;
