-- Pending (two-phase) transfers: POST /transfer with "pending": true, then
-- POST /transfers/{id}/post or /void, or expiry by the jobs child
-- (fcgi/domain/pending.c, fcgi/domain/pending_store.c, fcgi/api/pending.c).

-- name: pending_create
-- Record pending transfer $1: $4 from $2 to $3 held on $2 (the caller held
-- it in the same round trip), caller $5, memo $6, idem_key $7, created at
-- $8 (the claim's now()) and expiring $9 seconds later (database clock).
INSERT INTO pending_transfers (id, from_account, to_account, amount, status, caller,
 memo, idem_key, created_at, expires_at)
 VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8::timestamptz,
 $8::timestamptz + $9::integer * interval '1 second');

-- name: pending_lock
-- Lock pending transfer $1 for the rest of the transaction (post, void and
-- expiry lock it before any account) and read what they decide on, with
-- whether its deadline has passed by the database clock.
SELECT from_account, to_account, amount, status, expires_at <= now(), memo,
 to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
 to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
 FROM pending_transfers WHERE id = $1 FOR UPDATE;

-- name: pending_resolve
-- Close pending transfer $1 as $2 ('posted', 'voided' or 'expired'):
-- posted_amount $3 and the posting transfer $4 (both NULL unless posted),
-- at $5 (NULL: now()), by $6. Only a row still 'pending' changes; it is
-- locked already.
UPDATE pending_transfers SET status = $2, posted_amount = $3::bigint, transfer_id = $4::uuid,
 resolved_at = coalesce($5::timestamptz, now()), resolved_by = $6
 WHERE id = $1 AND status = 'pending';

-- name: pending_get
-- GET /transfers/{id} for a pending transfer: as the API shows it. A
-- pending one whose deadline has passed reads as expired (it can no longer
-- be posted) even before the jobs child has released its hold.
SELECT id, from_account, to_account, amount,
 CASE WHEN status = 'pending' AND expires_at <= now() THEN 'expired' ELSE status END,
 posted_amount, transfer_id, memo,
 to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
 to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
 to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
 FROM pending_transfers WHERE id = $1;

-- name: pending_due
-- The jobs child: up to $1 pending transfers whose deadline has passed, the
-- oldest deadline first.
SELECT id FROM pending_transfers WHERE status = 'pending' AND expires_at <= now()
 ORDER BY expires_at LIMIT $1;
