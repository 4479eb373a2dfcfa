-- GET /proof/activity, the dashboard's live feed (fcgi/api/activity.c).
-- Read-only, on one snapshot.

-- name: activity_transfers
-- The 20 most recent transfers, in full (admin callers only).
SELECT id, from_account, to_account, amount, kind, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
 FROM transfers ORDER BY created_at DESC LIMIT 20;

-- name: activity_transfer_kinds
-- How many transfers of each kind the ledger holds (what everyone sees).
SELECT kind, count(*) FROM transfers GROUP BY kind ORDER BY kind;

-- name: activity_bids
-- The 20 most recent bids, with their lot's kind.
SELECT b.id, b.lot_id, l.kind, b.bidder, b.amount, b.quantity, b.seq, b.status,
 to_char(b.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM bids b JOIN lots l ON l.id = b.lot_id
 ORDER BY b.created_at DESC LIMIT 20;

-- name: activity_chart_lot
-- The English lot bid on most recently (the chart's default lot).
SELECT b.lot_id FROM bids b JOIN lots l ON l.id = b.lot_id
 WHERE l.kind = 'english' ORDER BY b.created_at DESC LIMIT 1;

-- name: activity_chart_points
-- Lot $1's bids as (seq, amount), by sequence, for the bid chart.
SELECT seq, amount FROM bids WHERE lot_id = $1 ORDER BY seq LIMIT 1000;
