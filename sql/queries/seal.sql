-- Sealing (fcgi/domain/seal.c) and reading sealed records back
-- (fcgi/domain/record.h). A record statement's columns come in the order of
-- its kind's enum record_col_<kind> in record.h; times are integer
-- microseconds since the Unix epoch. The range and lookup statements put
-- the record's position (sealed) first, then the record columns; the
-- sealer's candidate statements start with the record columns.

-- fragment: seal_transfer_cols
id, kind, from_account, to_account, amount,
 (extract(epoch FROM created_at) * 1000000)::bigint, caller, idem_key, memo

-- fragment: seal_hold_cols
id, account_id, lot_id, bid_id, amount, state, transfer_id,
 (extract(epoch FROM created_at) * 1000000)::bigint,
 (extract(epoch FROM updated_at) * 1000000)::bigint

-- fragment: seal_bid_cols
id, lot_id, bidder, amount, quantity, seq, status, transfer_id,
 (extract(epoch FROM created_at) * 1000000)::bigint, idem_key, max_amount

-- fragment: seal_lot_cols
id, kind, seller, status, start_price, increment, reserve, floor_price, step, interval_s,
 price, qty_total, qty_claimed, seq, high_amount, winner, clearing_price,
 (extract(epoch FROM starts_at) * 1000000)::bigint,
 (extract(epoch FROM ends_at) * 1000000)::bigint,
 (extract(epoch FROM settled_at) * 1000000)::bigint

-- fragment: seal_fill_cols
id, market_id, kind, outcome, price, quantity, buyer, seller, cash_a, cash_b, seq,
 (extract(epoch FROM created_at) * 1000000)::bigint

-- fragment: seal_order_cols
id, market_id, account_id, side, outcome, price, quantity, remaining, status, time_in_force,
 (extract(epoch FROM created_at) * 1000000)::bigint, idem_key

-- fragment: seal_pending_cols
id, from_account, to_account, amount, status, posted_amount, transfer_id,
 (extract(epoch FROM expires_at) * 1000000)::bigint,
 (extract(epoch FROM created_at) * 1000000)::bigint, caller, idem_key, memo

-- fragment: seal_limit_cols
id, account_id, credit_limit, (extract(epoch FROM created_at) * 1000000)::bigint

-- fragment: seal_lot_ready
sealed IS NULL AND status IN ('settled', 'unsold', 'sold_out')
 AND NOT EXISTS (SELECT 1 FROM bids b JOIN transfers t ON t.id = b.transfer_id
 WHERE b.lot_id = lots.id AND t.sealed IS NULL)

-- name: seal_lease_ensure
-- The sealer's lease row, created the first time anyone asks for it.
INSERT INTO leases (name) VALUES ('sealer') ON CONFLICT (name) DO NOTHING;

-- name: seal_lease_take
-- Take or renew the sealer's lease as owner $1 for $2 ms: one row updated
-- means this transaction holds it (and commits only while it does).
UPDATE leases SET owner = $1, expires = clock_timestamp() + $2::integer * interval '1 millisecond'
 WHERE name = 'sealer' AND (owner IS NULL OR owner = $1 OR expires < clock_timestamp());

-- name: seal_lease_release
-- Give the sealer's lease back, if owner $1 still holds it.
UPDATE leases SET owner = NULL, expires = NULL WHERE name = 'sealer' AND owner = $1;

-- name: seal_settings
-- dialect: postgres
-- The seal transaction's own settings: no JIT compilation (on a backlog,
-- compiling the checks' plans cost more than running them, every seal).
SELECT set_config('jit', 'off', true);

-- name: seal_settings
-- dialect: dsql
-- Nothing to set on DSQL (no JIT); one row like the postgres form's.
SELECT 'off';

-- name: seal_latest
-- The latest seal: its number, tree size, chain hash, totals and state hash
-- (none before the first).
SELECT seal_no, tree_size, hash, totals, state_hash FROM seals ORDER BY seal_no DESC LIMIT 1;

-- name: seal_frontier
-- The right edge of the Merkle tree at the latest seal's size n: for every
-- bit k set in n, the perfect subtree of 2^k leaves that ends the tree
-- part of that bit covers (level k, index (n >> k) - 1), largest first.
SELECT m.level, m.idx, m.hash
 FROM (SELECT tree_size FROM seals ORDER BY seal_no DESC LIMIT 1) s
 CROSS JOIN unnest('{0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62}'::smallint[]) AS l(level)
 JOIN merkle_nodes m ON m.level = l.level AND m.idx = (s.tree_size >> l.level) - 1
 WHERE ((s.tree_size >> l.level) & 1) = 1
 ORDER BY m.level DESC;

-- name: seal_candidate_transfers
-- The oldest $1 unsealed transfers (all of them are sealable).
SELECT {{seal_transfer_cols}} FROM transfers WHERE sealed IS NULL
 ORDER BY created_at, id LIMIT $1;

-- name: seal_candidate_entries
-- The entries of the transfers seal_candidate_transfers($1) returns in the
-- same snapshot: transfer_id, then the entry columns. One index probe of
-- entries_by_transfer per transfer: OFFSET 0 keeps the planner from
-- flattening the LATERAL into a hash join that reads every entry ever
-- written (what an IN (...) here becomes once history is long). The
-- columns the record leaves out (time, position, seq, running balance)
-- come last: the sealer's print of a verified transfer covers them.
SELECT e.transfer_id, e.id, e.account_id, e.amount,
 (extract(epoch FROM e.created_at) * 1000000)::bigint, e.sealed, e.seq, e.balance_after
 FROM (SELECT id FROM transfers WHERE sealed IS NULL ORDER BY created_at, id LIMIT $1) t
 CROSS JOIN LATERAL (SELECT transfer_id, id, account_id, amount, created_at, sealed, seq,
 balance_after FROM entries WHERE transfer_id = t.id OFFSET 0) e;

-- name: seal_mark_transfers
-- Seal transfers $1 at positions $2 (parallel arrays). Only unsealed rows
-- change: "unsealed" is written coalesce(sealed, -1) = -1 (a position is
-- never negative: a CHECK on postgres, the full pass everywhere), not
-- sealed IS NULL, so that the planner cannot pick the partial index
-- transfers_unsealed. Its row estimate comes from the last ANALYZE, which on
-- a long history is rare and saw a short backlog, so the planner hashed
-- the whole backlog for every seal (61 ms at a 28,000-transfer backlog,
-- against 2.4 ms through the primary key for the 433 transfers of a seal:
-- per seal, the backlog's size, exactly when the sealer is behind).
UPDATE transfers SET sealed = u.pos FROM unnest($1::uuid[], $2::bigint[]) AS u(id, pos)
 WHERE transfers.id = u.id AND coalesce(transfers.sealed, -1) = -1;

-- name: seal_mark_entries
-- The entries of transfers $1 carry their transfer's position $2: probed
-- through entries_by_transfer, the partial index kept out as in
-- seal_mark_transfers (167 ms at a 57,000-entry backlog, against 24 ms).
UPDATE entries SET sealed = u.pos FROM unnest($1::uuid[], $2::bigint[]) AS u(id, pos)
 WHERE entries.transfer_id = u.id AND coalesce(entries.sealed, -1) = -1;

-- name: seal_candidate_holds
-- The oldest $1 unsealed holds in a final state: released, or captured by
-- a transfer that is sealed already.
SELECT {{seal_hold_cols}} FROM holds
 WHERE sealed IS NULL AND (state = 'released' OR (state = 'captured'
 AND EXISTS (SELECT 1 FROM transfers t WHERE t.id = holds.transfer_id AND t.sealed IS NOT NULL)))
 ORDER BY created_at, id LIMIT $1;

-- name: seal_candidate_lots
-- The oldest $1 closed, unsealed lots none of whose bids' transfers is
-- still unsealed (a lot and all its bids are sealed together).
SELECT {{seal_lot_cols}} FROM lots WHERE {{seal_lot_ready}}
 ORDER BY created_at, id LIMIT $1;

-- name: seal_candidate_bids
-- The unsealed bids of the lots seal_candidate_lots($1) returns in the same
-- snapshot, oldest first.
SELECT {{seal_bid_cols}} FROM bids
 WHERE sealed IS NULL AND lot_id IN (SELECT id FROM lots WHERE {{seal_lot_ready}}
 ORDER BY created_at, id LIMIT $1)
 ORDER BY created_at, id;

-- name: seal_candidate_fills
-- The oldest $1 unsealed trades both of whose cash transfers are sealed.
SELECT {{seal_fill_cols}} FROM trades
 WHERE sealed IS NULL
 AND EXISTS (SELECT 1 FROM transfers t WHERE t.id = trades.cash_a AND t.sealed IS NOT NULL)
 AND (cash_b IS NULL
 OR EXISTS (SELECT 1 FROM transfers t WHERE t.id = trades.cash_b AND t.sealed IS NOT NULL))
 ORDER BY created_at, id LIMIT $1;

-- name: seal_candidate_orders
-- The oldest $1 unsealed orders that are filled or cancelled.
SELECT {{seal_order_cols}} FROM orders
 WHERE sealed IS NULL AND status IN ('filled', 'cancelled')
 ORDER BY created_at, id LIMIT $1;

-- name: seal_candidate_pending
-- The oldest $1 unsealed pending transfers that are closed: voided,
-- expired, or posted by a transfer that is sealed already.
SELECT {{seal_pending_cols}} FROM pending_transfers
 WHERE sealed IS NULL AND (status IN ('voided', 'expired') OR (status = 'posted'
 AND EXISTS (SELECT 1 FROM transfers t
 WHERE t.id = pending_transfers.transfer_id AND t.sealed IS NOT NULL)))
 ORDER BY created_at, id LIMIT $1;

-- name: seal_candidate_limits
-- The oldest $1 unsealed credit limits (every one is final once written).
SELECT {{seal_limit_cols}} FROM credit_limits WHERE sealed IS NULL
 ORDER BY created_at, id LIMIT $1;

-- name: seal_mark_holds
-- Seal holds $1 at positions $2. Only unsealed rows change.
UPDATE holds SET sealed = u.pos FROM unnest($1::uuid[], $2::bigint[]) AS u(id, pos)
 WHERE holds.id = u.id AND holds.sealed IS NULL;

-- name: seal_mark_bids
-- Seal bids $1 at positions $2. Only unsealed rows change.
UPDATE bids SET sealed = u.pos FROM unnest($1::uuid[], $2::bigint[]) AS u(id, pos)
 WHERE bids.id = u.id AND bids.sealed IS NULL;

-- name: seal_mark_lots
-- Seal lots $1 at positions $2. Only unsealed rows change.
UPDATE lots SET sealed = u.pos FROM unnest($1::uuid[], $2::bigint[]) AS u(id, pos)
 WHERE lots.id = u.id AND lots.sealed IS NULL;

-- name: seal_mark_fills
-- Seal trades $1 at positions $2. Only unsealed rows change.
UPDATE trades SET sealed = u.pos FROM unnest($1::uuid[], $2::bigint[]) AS u(id, pos)
 WHERE trades.id = u.id AND trades.sealed IS NULL;

-- name: seal_mark_orders
-- Seal orders $1 at positions $2. Only unsealed rows change.
UPDATE orders SET sealed = u.pos FROM unnest($1::uuid[], $2::bigint[]) AS u(id, pos)
 WHERE orders.id = u.id AND orders.sealed IS NULL;

-- name: seal_mark_pending
-- Seal pending transfers $1 at positions $2. Only unsealed rows change.
UPDATE pending_transfers SET sealed = u.pos FROM unnest($1::uuid[], $2::bigint[]) AS u(id, pos)
 WHERE pending_transfers.id = u.id AND pending_transfers.sealed IS NULL;

-- name: seal_mark_limits
-- Seal credit limits $1 at positions $2. Only unsealed rows change.
UPDATE credit_limits SET sealed = u.pos FROM unnest($1::uuid[], $2::bigint[]) AS u(id, pos)
 WHERE credit_limits.id = u.id AND credit_limits.sealed IS NULL;

-- name: seal_merkle_insert
-- Store Merkle nodes: levels $1, indexes $2, hashes $3 (parallel arrays).
INSERT INTO merkle_nodes (level, idx, hash)
 SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[]);

-- fragment: seal_last_keep
-- The aggregate's last sealed entry stays (seal_fold_accounts): it is known
-- and past the one the seal brings.
seal_accounts.last_seq > EXCLUDED.last_seq

-- name: seal_fold_accounts
-- Add a seal's entries to the sealed per-account aggregates: accounts $1,
-- balance deltas $2, entry counts $3, and the seal's last entry of each
-- account (the highest seq): seq $4, balance_after $5, created_at $6
-- (microseconds since the epoch; NULL: one of the account's entries had no
-- seq or balance, which the seal's checks refuse). The aggregate keeps the
-- last sealed entry of the two. One it does not know (NULL, from before
-- migration 413) is read by key, once: the account's highest sealed seq in
-- entries_by_account_seq, the seal's own entries included whether marked
-- yet or not.
INSERT INTO seal_accounts (account_id, balance, entries, last_seq, last_balance, last_at)
 SELECT u.id, u.b, u.n,
  CASE WHEN k.seq > u.seq THEN k.seq ELSE u.seq END,
  CASE WHEN k.seq > u.seq THEN k.balance_after ELSE u.after END,
  CASE WHEN k.seq > u.seq THEN k.created_at ELSE timestamptz 'epoch' + u.at * interval '1 microsecond' END
 FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
   AS u(id, b, n, seq, after, at)
 LEFT JOIN seal_accounts o ON o.account_id = u.id
 LEFT JOIN LATERAL (SELECT x.seq, x.balance_after, x.created_at FROM entries x
   WHERE o.account_id IS NOT NULL AND o.last_seq IS NULL AND u.seq IS NOT NULL
   AND x.account_id = u.id AND x.sealed IS NOT NULL AND x.seq IS NOT NULL
   ORDER BY x.seq DESC LIMIT 1) k ON true
 ON CONFLICT (account_id) DO UPDATE SET
 balance = seal_accounts.balance + EXCLUDED.balance,
 entries = seal_accounts.entries + EXCLUDED.entries,
 last_seq = CASE WHEN {{seal_last_keep}} THEN seal_accounts.last_seq ELSE EXCLUDED.last_seq END,
 last_balance = CASE WHEN {{seal_last_keep}} THEN seal_accounts.last_balance ELSE EXCLUDED.last_balance END,
 last_at = CASE WHEN {{seal_last_keep}} THEN seal_accounts.last_at ELSE EXCLUDED.last_at END;

-- name: seal_fold_lots
-- Add a seal's bids and holds to the sealed per-lot aggregates: lots $1,
-- claimed $2, captured $3, bid counts $4.
INSERT INTO seal_lots (lot_id, claimed, captured, bids)
 SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[])
 ON CONFLICT (lot_id) DO UPDATE SET
 claimed = seal_lots.claimed + EXCLUDED.claimed,
 captured = seal_lots.captured + EXCLUDED.captured,
 bids = seal_lots.bids + EXCLUDED.bids;

-- name: seal_fold_markets
-- Add a seal's fills to the sealed per-market aggregates: markets $1,
-- fill counts $2, quantities $3, pairs minted $4.
INSERT INTO seal_markets (market_id, fills, quantity, pairs)
 SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[])
 ON CONFLICT (market_id) DO UPDATE SET
 fills = seal_markets.fills + EXCLUDED.fills,
 quantity = seal_markets.quantity + EXCLUDED.quantity,
 pairs = seal_markets.pairs + EXCLUDED.pairs;

-- name: seal_state_accounts
-- Every sealed per-account aggregate (the state commitment covers them all).
SELECT account_id, balance, entries FROM seal_accounts;

-- name: seal_state_lots
-- Every sealed per-lot aggregate.
SELECT lot_id, claimed, captured, bids FROM seal_lots;

-- name: seal_state_markets
-- Every sealed per-market aggregate.
SELECT market_id, fills, quantity, pairs FROM seal_markets;

-- name: seal_insert
-- Record seal $1: tree size $2, $3 records, counts $4, root $5, state hash
-- $6, previous hash $7, its hash $8 (hex), checkpoint $9 (NULL: unsigned),
-- oldest record time $10 (microseconds since the epoch), totals through it $11.
INSERT INTO seals (seal_no, tree_size, records, counts, root, state_hash, prev_hash, hash,
 checkpoint, oldest_at, totals)
 VALUES ($1, $2, $3, $4, decode($5, 'hex'), decode($6, 'hex'), decode($7, 'hex'),
 decode($8, 'hex'), $9, timestamptz 'epoch' + $10::bigint * interval '1 microsecond', $11);

-- name: seal_records_transfers
-- Sealed transfers at positions [$1, $1 + $2): position, then the record columns.
SELECT sealed, {{seal_transfer_cols}} FROM transfers
 WHERE sealed >= $1::bigint AND sealed < $1::bigint + $2::bigint ORDER BY sealed;

-- name: seal_records_entries
-- The entries of the sealed transfers at positions [$1, $1 + $2):
-- position, transfer_id, then the entry columns.
SELECT t.sealed, e.transfer_id, e.id, e.account_id, e.amount
 FROM transfers t JOIN entries e ON e.transfer_id = t.id
 WHERE t.sealed >= $1::bigint AND t.sealed < $1::bigint + $2::bigint ORDER BY t.sealed;

-- name: seal_records_holds
-- Sealed holds at positions [$1, $1 + $2).
SELECT sealed, {{seal_hold_cols}} FROM holds
 WHERE sealed >= $1::bigint AND sealed < $1::bigint + $2::bigint ORDER BY sealed;

-- name: seal_records_bids
-- Sealed bids at positions [$1, $1 + $2).
SELECT sealed, {{seal_bid_cols}} FROM bids
 WHERE sealed >= $1::bigint AND sealed < $1::bigint + $2::bigint ORDER BY sealed;

-- name: seal_records_lots
-- Sealed lots at positions [$1, $1 + $2).
SELECT sealed, {{seal_lot_cols}} FROM lots
 WHERE sealed >= $1::bigint AND sealed < $1::bigint + $2::bigint ORDER BY sealed;

-- name: seal_records_fills
-- Sealed trades at positions [$1, $1 + $2).
SELECT sealed, {{seal_fill_cols}} FROM trades
 WHERE sealed >= $1::bigint AND sealed < $1::bigint + $2::bigint ORDER BY sealed;

-- name: seal_records_orders
-- Sealed orders at positions [$1, $1 + $2).
SELECT sealed, {{seal_order_cols}} FROM orders
 WHERE sealed >= $1::bigint AND sealed < $1::bigint + $2::bigint ORDER BY sealed;

-- name: seal_records_pending
-- Sealed pending transfers at positions [$1, $1 + $2).
SELECT sealed, {{seal_pending_cols}} FROM pending_transfers
 WHERE sealed >= $1::bigint AND sealed < $1::bigint + $2::bigint ORDER BY sealed;

-- name: seal_records_limits
-- Sealed credit limits at positions [$1, $1 + $2).
SELECT sealed, {{seal_limit_cols}} FROM credit_limits
 WHERE sealed >= $1::bigint AND sealed < $1::bigint + $2::bigint ORDER BY sealed;

-- name: seal_record_transfer
-- Transfer $1: position (NULL: not sealed yet), then the record columns.
SELECT sealed, {{seal_transfer_cols}} FROM transfers WHERE id = $1::uuid;

-- name: seal_record_entries
-- The entries of transfer $1: transfer_id, then the entry columns.
SELECT transfer_id, id, account_id, amount FROM entries WHERE transfer_id = $1::uuid;

-- name: seal_record_bid
-- Bid $1: position (NULL: not sealed yet), then the record columns.
SELECT sealed, {{seal_bid_cols}} FROM bids WHERE id = $1::uuid;

-- name: seal_record_fill
-- Trade $1: position (NULL: not sealed yet), then the record columns.
SELECT sealed, {{seal_fill_cols}} FROM trades WHERE id = $1::uuid;
