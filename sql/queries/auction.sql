-- Auctions: lots, bids and holds (fcgi/domain/auction_store.c,
-- fcgi/api/bid.c, fcgi/api/lots.c). Lock order everywhere: the lot row
-- first, then accounts by id. Deadlines, the anti-snipe extension and Dutch
-- prices come from the database clock (now()).

-- fragment: lot_columns
-- The lot columns: the one select list of every statement that returns a
-- lot (domain/auction_store.c and api/lots.c read them by name). The Dutch
-- price is the schedule at the database clock, its whole intervals capped
-- where the floor is reached so step x intervals cannot overflow bigint.
id, kind, seller, title, status, start_price, increment, reserve, snipe_window, snipe_extend,
  floor_price, step, interval_s, price, max_per_claim, qty_total, qty_claimed,
  high_amount, high_bidder, high_bid, seq,
  to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS starts_at,
  to_char(ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ends_at,
  to_char(settled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS settled_at,
  winner, clearing_price,
  now() >= starts_at AS started,
  (kind = 'english' AND now() >= ends_at) AS ended,
  CASE WHEN kind = 'dutch' THEN GREATEST(floor_price, start_price - step *
    LEAST(floor(extract(epoch FROM (now() - starts_at)) / interval_s)::bigint,
    (start_price - floor_price) / step + 1)) END AS current_price,
  to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS db_now,
  high_max, buy_now, increments

-- name: lot_lock
-- Lock one lot row (the lot's serialisation point: every bid, claim and
-- settlement takes it first) and read all of it.
SELECT {{lot_columns}}
FROM lots WHERE id = $1 FOR UPDATE;

-- name: lot_lock_unless_sold_out
-- POST /bid's lot_lock: no row for a lot that is sold out, so a claim that
-- cannot succeed never queues on the lock. Under READ COMMITTED a row already
-- sold out in the statement's snapshot is skipped without waiting, and one
-- that sells out while the claim waits is re-checked and skipped when the
-- lock is released; the caller then reads the lot unlocked (lot_get) to
-- answer sold_out, and the locked path re-checks every rule as before.
SELECT {{lot_columns}}
FROM lots WHERE id = $1 AND status <> 'sold_out' FOR UPDATE;

-- name: lot_claim_lock_accounts
-- POST /bid's round 1 on the postgres dialect, right after
-- lot_lock_unless_sold_out: lock buyer $2 and the seller of lot $1 in id
-- order (the order ledger_lock_account is sent in), but only for a live,
-- started Dutch or drop lot that is not the buyer's own, in this
-- statement's view (taken after the lot's lock: the row is then ours and
-- current; a sold-out drop was skipped by that lock, and is not live). A
-- winning claim thus holds every lock it needs after one round trip; an
-- English lot, or a claim refused before it pays, locks no account here.
-- Each row: the id, then ledger_lock_account's columns. (DSQL locks one
-- table by key equality only: it sends ledger_lock_account instead.)
SELECT a.id, a.kind, a.balance, a.held, coalesce(a.credit_limit, 0)
FROM lots l JOIN accounts a ON a.id IN (l.seller, $2::uuid)
WHERE l.id = $1 AND l.kind IN ('dutch', 'drop') AND l.status = 'live'
  AND now() >= l.starts_at AND l.seller <> $2::uuid
ORDER BY a.id
FOR UPDATE OF a;

-- name: lot_get
-- One lot, unlocked (GET /lots/{id}).
SELECT {{lot_columns}}
FROM lots WHERE id = $1;

-- name: lot_recent_bids
-- The 20 latest bids and claims of a lot, newest first (never a maximum).
SELECT id, bidder, amount, quantity, seq, status, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
  coalesce(proxy, false)
FROM bids WHERE lot_id = $1 ORDER BY seq DESC LIMIT 20;

-- name: lot_seller_kind
-- The kind of the would-be seller's account (a lot's seller must be a user).
SELECT kind FROM accounts WHERE id = $1;

-- name: lot_create
-- A new lot (POST /lots): parameters that do not apply to its kind are
-- NULL; an English lot ends $16 seconds from now, may have a buy-now
-- price $17 and an increment table $18 in place of the increment $6.
INSERT INTO lots (id, kind, seller, title, start_price, increment, reserve,
  snipe_window, snipe_extend, floor_price, step, interval_s, price, max_per_claim,
  qty_total, ends_at, buy_now, increments)
VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8::int, 0), coalesce($9::int, 0),
  $10, $11, $12, $13, $14, $15,
  now() + make_interval(secs => $16::bigint), $17, $18)
RETURNING {{lot_columns}};

-- name: lot_due
-- English lots whose end has passed and that are still live, oldest end
-- first (the settlement sweep).
SELECT id FROM lots WHERE status = 'live' AND kind = 'english'
  AND ends_at <= now() ORDER BY ends_at LIMIT $1::int;

-- name: lot_mark_unsold
-- Settle a lot without a sale (no bid, or the reserve not met).
UPDATE lots SET status = 'unsold', settled_at = now() WHERE id = $1;

-- name: lot_release_holds
-- Release every active hold of a lot that did not sell.
UPDATE holds SET state = 'released', updated_at = now()
  WHERE lot_id = $1 AND state = 'active';

-- name: lot_bids_lost
-- Every open bid of a lot that did not sell has lost.
UPDATE bids SET status = 'lost'
  WHERE lot_id = $1 AND status IN ('leading', 'outbid');

-- name: lot_capture_hold
-- The winner's active hold is captured by transfer $2.
UPDATE holds SET state = 'captured', transfer_id = $2, updated_at = now()
  WHERE lot_id = $1 AND state = 'active';

-- name: lot_bids_decide
-- The winning bid $2 has won, every other open bid has lost.
UPDATE bids SET status = CASE WHEN id = $2::uuid THEN 'won' ELSE 'lost' END
  WHERE lot_id = $1 AND status IN ('leading', 'outbid');

-- name: lot_mark_settled
-- Settle a sold English lot at clearing price $2.
UPDATE lots SET status = 'settled', settled_at = now(), winner = high_bidder,
  clearing_price = $2::bigint WHERE id = $1;

-- name: bid_adjust_held
-- Change an account's held by $2 (positive holds, negative releases).
UPDATE accounts SET held = held + $2::bigint WHERE id = $1;

-- name: bid_release_hold
-- Release the active hold of the previous leader $2 on lot $1.
UPDATE holds SET state = 'released', updated_at = now()
  WHERE lot_id = $1 AND account_id = $2 AND state = 'active';

-- name: bid_mark_outbid
-- The previous leading bid is outbid.
UPDATE bids SET status = 'outbid' WHERE id = $1;

-- name: bid_insert
-- Append an accepted bid or claim, numbered $6 under the lot lock.
INSERT INTO bids (id, lot_id, bidder, amount, quantity, seq, status,
  transfer_id, idem_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: bid_raise_hold
-- A leader raising their own bid: their active hold grows by $3 and now
-- backs bid $4.
UPDATE holds SET amount = amount + $3::bigint, bid_id = $4,
  updated_at = now() WHERE lot_id = $1 AND account_id = $2
  AND state = 'active';

-- name: bid_insert_hold
-- A new leader's hold on lot $3 for bid $4.
INSERT INTO holds (id, account_id, lot_id, bid_id, amount, state)
  VALUES ($1, $2, $3, $4, $5, 'active');

-- fragment: snipe_ends_at
-- Anti-snipe: a bid inside the window pushes the end to now + extension
-- (never earlier than it was).
CASE WHEN snipe_window > 0
    AND ends_at - now() < make_interval(secs => snipe_window)
    THEN GREATEST(ends_at, now() + make_interval(secs => snipe_extend))
    ELSE ends_at END

-- name: bid_english_lead
-- The lot's new leader, with a plain bid (no hidden maximum); anti-snipe:
-- a bid inside the window pushes the end to now + extension (never earlier
-- than it was).
UPDATE lots SET high_amount = $2::bigint, high_bidder = $3, high_bid = $4,
  seq = $5::bigint, high_max = NULL,
  ends_at = {{snipe_ends_at}}
  WHERE id = $1
RETURNING {{lot_columns}};

-- name: bid_dutch_sold
-- A Dutch lot claimed by $2 at price $5: settled at once.
UPDATE lots SET status = 'settled', settled_at = now(), winner = $2,
  clearing_price = $5::bigint, high_amount = $5::bigint, high_bidder = $2,
  high_bid = $3, qty_claimed = 1, seq = $4::bigint WHERE id = $1
RETURNING {{lot_columns}};

-- name: bid_drop_claimed
-- $2 more units of a drop claimed; the last unit sells it out.
UPDATE lots SET qty_claimed = qty_claimed + $2::int, seq = $3::bigint,
  status = CASE WHEN qty_claimed + $2::int >= qty_total THEN 'sold_out'
    ELSE status END,
  settled_at = CASE WHEN qty_claimed + $2::int >= qty_total THEN now()
    ELSE settled_at END
  WHERE id = $1
RETURNING {{lot_columns}};

-- name: bid_english_lead_max
-- bid_english_lead for a leader with hidden maximum $6 (a proxy bid, its
-- counter-bid, or a plain raise below the leader's own maximum).
UPDATE lots SET high_amount = $2::bigint, high_bidder = $3, high_bid = $4,
  seq = $5::bigint, high_max = $6::bigint,
  ends_at = {{snipe_ends_at}}
  WHERE id = $1
RETURNING {{lot_columns}};

-- name: bid_insert_proxy
-- Append an English bid with hidden maximum $10 (NULL: plain) or the
-- leader's automatic counter-bid ($11 true), numbered $6 under the lot lock.
INSERT INTO bids (id, lot_id, bidder, amount, quantity, seq, status,
  transfer_id, idem_key, max_amount, proxy)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::bigint, $11::boolean);

-- name: bid_set_max
-- The leader raising their own maximum: their leading bid $1 records it.
UPDATE bids SET max_amount = $2::bigint WHERE id = $1;

-- name: bid_others_max
-- The highest maximum (a plain bid's is its amount) of lot $1's bidders
-- other than $2: the second-highest when $2 leads.
SELECT coalesce(max(coalesce(max_amount, amount)), 0) FROM bids
  WHERE lot_id = $1 AND bidder <> $2;

-- name: bid_hold_set_amount
-- A proxy leader's active hold comes down to the high $3 before it is
-- released or captured (its record shows the price it backed).
UPDATE holds SET amount = $3::bigint, updated_at = now()
  WHERE lot_id = $1 AND account_id = $2 AND state = 'active';
