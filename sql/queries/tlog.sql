-- The verifiable log's read side (fcgi/api/tlog.c): GET /proof/checkpoint,
-- /proof/inclusion, /proof/consistency and /proof/records read the seals,
-- the stored Merkle nodes and the sealed rows. Every record statement
-- answers the row's position (`sealed`) first, then the columns of its
-- kind in the order of domain/record.h's enum record_col_<kind>; times are
-- integer microseconds since the epoch, as the encoding writes them.

-- fragment: tlog_transfer_cols
t.sealed, t.id, t.kind, t.from_account, t.to_account, t.amount,
  (extract(epoch FROM t.created_at) * 1000000)::bigint, t.caller, t.idem_key, t.memo

-- fragment: tlog_hold_cols
h.sealed, h.id, h.account_id, h.lot_id, h.bid_id, h.amount, h.state, h.transfer_id,
  (extract(epoch FROM h.created_at) * 1000000)::bigint,
  (extract(epoch FROM h.updated_at) * 1000000)::bigint

-- fragment: tlog_bid_cols
b.sealed, b.id, b.lot_id, b.bidder, b.amount, b.quantity, b.seq, b.status, b.transfer_id,
  (extract(epoch FROM b.created_at) * 1000000)::bigint, b.idem_key

-- fragment: tlog_lot_cols
l.sealed, l.id, l.kind, l.seller, l.status, l.start_price, l.increment, l.reserve,
  l.floor_price, l.step, l.interval_s, l.price, l.qty_total, l.qty_claimed, l.seq,
  l.high_amount, l.winner, l.clearing_price,
  (extract(epoch FROM l.starts_at) * 1000000)::bigint,
  (extract(epoch FROM l.ends_at) * 1000000)::bigint,
  (extract(epoch FROM l.settled_at) * 1000000)::bigint

-- fragment: tlog_fill_cols
f.sealed, f.id, f.market_id, f.kind, f.outcome, f.price, f.quantity, f.buyer, f.seller,
  f.cash_a, f.cash_b, f.seq, (extract(epoch FROM f.created_at) * 1000000)::bigint

-- fragment: tlog_order_cols
o.sealed, o.id, o.market_id, o.account_id, o.side, o.outcome, o.price, o.quantity,
  o.remaining, o.status, o.time_in_force,
  (extract(epoch FROM o.created_at) * 1000000)::bigint, o.idem_key

-- fragment: tlog_pending_cols
p.sealed, p.id, p.from_account, p.to_account, p.amount, p.status, p.posted_amount,
  p.transfer_id, (extract(epoch FROM p.expires_at) * 1000000)::bigint,
  (extract(epoch FROM p.created_at) * 1000000)::bigint, p.caller, p.idem_key, p.memo

-- name: tlog_seal_latest
-- The latest seal: its number, tree size and signed checkpoint.
SELECT seal_no, tree_size, checkpoint FROM seals ORDER BY seal_no DESC LIMIT 1;

-- name: tlog_seal_at
-- The seal whose tree size is $1.
SELECT seal_no, tree_size, checkpoint FROM seals WHERE tree_size = $1;

-- name: tlog_node
-- One stored Merkle node: the root of the 2^$1 leaves from position $2 << $1.
SELECT hash FROM merkle_nodes WHERE level = $1 AND idx = $2;

-- name: tlog_transfer
-- A transfer by id, as its record's columns.
SELECT {{tlog_transfer_cols}} FROM transfers t WHERE t.id = $1;

-- name: tlog_transfer_entries
-- The entries of transfer $1 (id, account, amount).
SELECT id, account_id, amount FROM entries WHERE transfer_id = $1;

-- name: tlog_bid
-- A bid by id, as its record's columns.
SELECT {{tlog_bid_cols}} FROM bids b WHERE b.id = $1;

-- name: tlog_fill
-- A trade by id, as its fill record's columns.
SELECT {{tlog_fill_cols}} FROM trades f WHERE f.id = $1;

-- name: tlog_range_transfers
-- The transfers at positions [$1, $2).
SELECT {{tlog_transfer_cols}} FROM transfers t WHERE t.sealed >= $1 AND t.sealed < $2;

-- name: tlog_range_entries
-- The entries of the transfers at positions [$1, $2): transfer id, id, account, amount.
SELECT e.transfer_id, e.id, e.account_id, e.amount FROM transfers t
  JOIN entries e ON e.transfer_id = t.id WHERE t.sealed >= $1 AND t.sealed < $2;

-- name: tlog_range_holds
-- The holds at positions [$1, $2).
SELECT {{tlog_hold_cols}} FROM holds h WHERE h.sealed >= $1 AND h.sealed < $2;

-- name: tlog_range_bids
-- The bids at positions [$1, $2).
SELECT {{tlog_bid_cols}} FROM bids b WHERE b.sealed >= $1 AND b.sealed < $2;

-- name: tlog_range_lots
-- The lots at positions [$1, $2).
SELECT {{tlog_lot_cols}} FROM lots l WHERE l.sealed >= $1 AND l.sealed < $2;

-- name: tlog_range_fills
-- The trades (fills) at positions [$1, $2).
SELECT {{tlog_fill_cols}} FROM trades f WHERE f.sealed >= $1 AND f.sealed < $2;

-- name: tlog_range_orders
-- The orders at positions [$1, $2).
SELECT {{tlog_order_cols}} FROM orders o WHERE o.sealed >= $1 AND o.sealed < $2;

-- name: tlog_range_pending
-- The pending transfers at positions [$1, $2).
SELECT {{tlog_pending_cols}} FROM pending_transfers p WHERE p.sealed >= $1 AND p.sealed < $2;
