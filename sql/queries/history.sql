-- Balance history and the cursor-paged lists (fcgi/api/history.c,
-- fcgi/api/page.c). Every list is a keyset page over an immutable total
-- order, newest first: an account's entries and transfers by the account's
-- entry seq, a lot's bids by their seq, a market's trades by (seq, id), and
-- lots, markets and stampede runs by (created_at, id). Each list has three
-- statements: _first (no cursor), _after (starting_after: the rows after
-- the cursor, in list order) and _before (ending_before: the rows just
-- before it, nearest first; page.c puts them back in list order), plus a
-- _cursor statement that answers a row when the cursor is an item of the
-- list. Parameters: the parent id (if any), the cursor, the row limit.

-- name: history_balance_now
-- GET /accounts/{id}/balance: account $1's balance and held now.
SELECT balance, held, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM accounts WHERE id = $1;

-- fragment: held_at
-- What account a.id had held at instant $2, from the rows that record when
-- each hold began and ended (indexes of migration 094): pending transfers
-- from created_at until resolved_at; lot holds from created_at until
-- updated_at once released or captured, each the amount of the holder's
-- latest bid on the lot by then (an English raise grows the same hold);
-- resting buy orders from created_at until updated_at once filled or
-- cancelled, each price x what the fills by then had left.
(SELECT coalesce(sum(p.amount), 0) FROM pending_transfers p
   WHERE p.from_account = a.id AND p.created_at <= $2::timestamptz
     AND (p.resolved_at IS NULL OR p.resolved_at > $2::timestamptz))
 + (SELECT coalesce(sum((SELECT b.amount FROM bids b WHERE b.lot_id = h.lot_id
        AND b.bidder = h.account_id AND b.created_at <= $2::timestamptz ORDER BY b.seq DESC LIMIT 1)), 0)
      FROM holds h WHERE h.account_id = a.id AND h.created_at <= $2::timestamptz
       AND (h.state = 'active' OR h.updated_at > $2::timestamptz))
 + (SELECT coalesce(sum(o.price::bigint * (o.quantity - coalesce((SELECT sum(t.quantity) FROM trades t
        WHERE (t.maker_order = o.id OR t.taker_order = o.id) AND t.created_at <= $2::timestamptz), 0))), 0)
      FROM orders o WHERE o.account_id = a.id AND o.side = 'buy' AND o.created_at <= $2::timestamptz
       AND (o.status = 'open' OR o.updated_at > $2::timestamptz))

-- name: history_balance_at
-- GET /accounts/{id}/balance?at=: account $1 as of instant $2 (database
-- time): the instant (RFC 3339 UTC), whether it is after now(), the
-- balance after the account's last entry at or before it (0 before the
-- first), and what was held then ({{held_at}}).
SELECT to_char($2::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), $2::timestamptz > now(),
 coalesce((SELECT e.balance_after FROM entries e WHERE e.account_id = a.id
   AND e.created_at <= $2::timestamptz ORDER BY e.created_at DESC, e.seq DESC LIMIT 1), 0),
 {{held_at}}
 FROM accounts a WHERE a.id = $1;

-- name: history_entries_cursor
-- GET /accounts/{id}/entries: a row back when $2 is an item of the list of $1.
SELECT 1 FROM entries WHERE account_id = $1 AND id = $2::uuid;

-- fragment: entry_page_rows
-- The columns and joins of an account's entries, with the kind and the
-- other party of each entry's transfer (page.c's row columns).
SELECT e.id, e.transfer_id, e.amount, e.balance_after, e.seq, to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), t.kind, CASE WHEN e.amount < 0 THEN t.to_account ELSE t.from_account END
 FROM entries e JOIN transfers t ON t.id = e.transfer_id

-- name: history_entries_first
-- GET /accounts/{id}/entries: the first page (at most $2 rows), newest first.
{{entry_page_rows}} WHERE e.account_id = $1
 ORDER BY e.seq DESC LIMIT $2::int;

-- name: history_entries_after
-- GET /accounts/{id}/entries: at most $3 rows after the item $2, newest first.
{{entry_page_rows}}
 WHERE e.account_id = $1 AND e.seq < (SELECT c.seq FROM entries c WHERE c.account_id = $1 AND c.id = $2::uuid)
 ORDER BY e.seq DESC LIMIT $3::int;

-- name: history_entries_before
-- GET /accounts/{id}/entries: at most $3 rows just before the item $2, nearest first.
{{entry_page_rows}}
 WHERE e.account_id = $1 AND e.seq > (SELECT c.seq FROM entries c WHERE c.account_id = $1 AND c.id = $2::uuid)
 ORDER BY e.seq ASC LIMIT $3::int;

-- name: history_transfers_cursor
-- GET /accounts/{id}/transfers: a row back when $2 is an item of the list of $1.
SELECT 1 FROM entries WHERE account_id = $1 AND transfer_id = $2::uuid;

-- fragment: transfer_page_rows
-- The columns and joins of an account's transfers (through its entries),
-- as GET /transfers/{id} shows them (page.c's row columns).
SELECT t.id, t.from_account, t.to_account, t.amount, t.kind, t.memo, to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
 FROM entries e JOIN transfers t ON t.id = e.transfer_id

-- name: history_transfers_first
-- GET /accounts/{id}/transfers: the first page (at most $2 rows), newest first.
{{transfer_page_rows}} WHERE e.account_id = $1
 ORDER BY e.seq DESC LIMIT $2::int;

-- name: history_transfers_after
-- GET /accounts/{id}/transfers: at most $3 rows after the item $2, newest first.
{{transfer_page_rows}}
 WHERE e.account_id = $1 AND e.seq < (SELECT c.seq FROM entries c WHERE c.account_id = $1 AND c.transfer_id = $2::uuid)
 ORDER BY e.seq DESC LIMIT $3::int;

-- name: history_transfers_before
-- GET /accounts/{id}/transfers: at most $3 rows just before the item $2, nearest first.
{{transfer_page_rows}}
 WHERE e.account_id = $1 AND e.seq > (SELECT c.seq FROM entries c WHERE c.account_id = $1 AND c.transfer_id = $2::uuid)
 ORDER BY e.seq ASC LIMIT $3::int;

-- name: history_lot_exists
-- GET /lots/{id}/bids: a row back when lot $1 exists.
SELECT 1 FROM lots WHERE id = $1;

-- name: history_bids_cursor
-- GET /lots/{id}/bids: a row back when $2 is an item of the list of $1.
SELECT 1 FROM bids WHERE lot_id = $1 AND id = $2::uuid;

-- fragment: bid_page_rows
-- The columns and joins of a lot's bids (page.c's row columns).
SELECT b.id, b.bidder, b.amount, b.quantity, b.seq, b.status, to_char(b.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
 FROM bids b

-- name: history_bids_first
-- GET /lots/{id}/bids: the first page (at most $2 rows), newest first.
{{bid_page_rows}} WHERE b.lot_id = $1
 ORDER BY b.seq DESC LIMIT $2::int;

-- name: history_bids_after
-- GET /lots/{id}/bids: at most $3 rows after the item $2, newest first.
{{bid_page_rows}}
 WHERE b.lot_id = $1 AND b.seq < (SELECT c.seq FROM bids c WHERE c.lot_id = $1 AND c.id = $2::uuid)
 ORDER BY b.seq DESC LIMIT $3::int;

-- name: history_bids_before
-- GET /lots/{id}/bids: at most $3 rows just before the item $2, nearest first.
{{bid_page_rows}}
 WHERE b.lot_id = $1 AND b.seq > (SELECT c.seq FROM bids c WHERE c.lot_id = $1 AND c.id = $2::uuid)
 ORDER BY b.seq ASC LIMIT $3::int;

-- name: history_market_exists
-- GET /markets/{id}/trades: a row back when market $1 exists.
SELECT 1 FROM markets WHERE id = $1;

-- name: history_trades_cursor
-- GET /markets/{id}/trades: a row back when $2 is an item of the list of $1.
SELECT 1 FROM trades WHERE market_id = $1 AND id = $2::uuid;

-- fragment: trade_page_rows
-- The columns and joins of a market's trades (page.c's row columns).
SELECT r.id, r.seq, r.kind, r.outcome, r.price, r.quantity, to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
 FROM trades r

-- name: history_trades_first
-- GET /markets/{id}/trades: the first page (at most $2 rows), newest first.
{{trade_page_rows}} WHERE r.market_id = $1
 ORDER BY r.seq DESC, r.id DESC LIMIT $2::int;

-- name: history_trades_after
-- GET /markets/{id}/trades: at most $3 rows after the item $2, newest first.
{{trade_page_rows}}
 WHERE r.market_id = $1 AND (r.seq, r.id) < (SELECT c.seq, c.id FROM trades c WHERE c.market_id = $1 AND c.id = $2::uuid)
 ORDER BY r.seq DESC, r.id DESC LIMIT $3::int;

-- name: history_trades_before
-- GET /markets/{id}/trades: at most $3 rows just before the item $2, nearest first.
{{trade_page_rows}}
 WHERE r.market_id = $1 AND (r.seq, r.id) > (SELECT c.seq, c.id FROM trades c WHERE c.market_id = $1 AND c.id = $2::uuid)
 ORDER BY r.seq ASC, r.id ASC LIMIT $3::int;

-- fragment: market_columns
-- A market as GET /markets lists it (the columns of market_get).
id, kind, title, owner, escrow, total_supply, tick_min, tick_max, status,
 coalesce(outcome, ''), seq, last_price, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')

-- name: history_lots_cursor
-- GET /lots: a row back when $1 is an item of the list.
SELECT 1 FROM lots WHERE id = $1::uuid;

-- name: history_lots_first
-- GET /lots: the first page (at most $1 rows), newest first.
SELECT {{lot_columns}}
 FROM lots l
 ORDER BY l.created_at DESC, l.id DESC LIMIT $1::int;

-- name: history_lots_after
-- GET /lots: at most $2 rows after the item $1, newest first.
SELECT {{lot_columns}}
 FROM lots l
 WHERE (l.created_at, l.id) < (SELECT c.created_at, c.id FROM lots c WHERE c.id = $1::uuid)
 ORDER BY l.created_at DESC, l.id DESC LIMIT $2::int;

-- name: history_lots_before
-- GET /lots: at most $2 rows just before the item $1, nearest first.
SELECT {{lot_columns}}
 FROM lots l
 WHERE (l.created_at, l.id) > (SELECT c.created_at, c.id FROM lots c WHERE c.id = $1::uuid)
 ORDER BY l.created_at ASC, l.id ASC LIMIT $2::int;

-- name: history_markets_cursor
-- GET /markets: a row back when $1 is an item of the list.
SELECT 1 FROM markets WHERE id = $1::uuid;

-- name: history_markets_first
-- GET /markets: the first page (at most $1 rows), newest first.
SELECT {{market_columns}}
 FROM markets m
 ORDER BY m.created_at DESC, m.id DESC LIMIT $1::int;

-- name: history_markets_after
-- GET /markets: at most $2 rows after the item $1, newest first.
SELECT {{market_columns}}
 FROM markets m
 WHERE (m.created_at, m.id) < (SELECT c.created_at, c.id FROM markets c WHERE c.id = $1::uuid)
 ORDER BY m.created_at DESC, m.id DESC LIMIT $2::int;

-- name: history_markets_before
-- GET /markets: at most $2 rows just before the item $1, nearest first.
SELECT {{market_columns}}
 FROM markets m
 WHERE (m.created_at, m.id) > (SELECT c.created_at, c.id FROM markets c WHERE c.id = $1::uuid)
 ORDER BY m.created_at ASC, m.id ASC LIMIT $2::int;

-- name: history_runs_cursor
-- GET /proof/runs: a row back when $1 is an item of the list.
SELECT 1 FROM stampede_runs WHERE id = $1::uuid;

-- name: history_runs_first
-- GET /proof/runs: the first page (at most $1 rows), newest first.
SELECT id, scenario, n, k, status, summary, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
 FROM stampede_runs s
 ORDER BY s.created_at DESC, s.id DESC LIMIT $1::int;

-- name: history_runs_after
-- GET /proof/runs: at most $2 rows after the item $1, newest first.
SELECT id, scenario, n, k, status, summary, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
 FROM stampede_runs s
 WHERE (s.created_at, s.id) < (SELECT c.created_at, c.id FROM stampede_runs c WHERE c.id = $1::uuid)
 ORDER BY s.created_at DESC, s.id DESC LIMIT $2::int;

-- name: history_runs_before
-- GET /proof/runs: at most $2 rows just before the item $1, nearest first.
SELECT id, scenario, n, k, status, summary, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
 FROM stampede_runs s
 WHERE (s.created_at, s.id) > (SELECT c.created_at, c.id FROM stampede_runs c WHERE c.id = $1::uuid)
 ORDER BY s.created_at ASC, s.id ASC LIMIT $2::int;
