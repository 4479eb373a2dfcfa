-- Accounts and their entries (fcgi/api/accounts.c). Every account read
-- answers the same columns: id, name, kind, balance, held, created_at
-- (RFC 3339 UTC).

-- name: account_create
-- POST /accounts: a new, empty user account ($1 its id, $2 its name).
INSERT INTO accounts (id, name, kind) VALUES ($1, $2, 'user')
 RETURNING id, name, kind, balance, held,
 to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

-- name: account_get
-- GET /accounts/{id} and /accounts/issuer: one account, its credit limit
-- last (0 when none was set).
SELECT id, name, kind, balance, held,
 to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), coalesce(credit_limit, 0)
 FROM accounts WHERE id = $1;

-- name: account_exists
-- GET /accounts/{id}/entries: a row back when account $1 exists.
SELECT 1 FROM accounts WHERE id = $1;

-- name: account_entry_of
-- GET /accounts/{id}/entries?after=: a row back when entry $1 belongs to
-- account $2 (a valid cursor).
SELECT 1 FROM entries WHERE id = $1 AND account_id = $2;

-- name: account_entries
-- GET /accounts/{id}/entries: account $1's entries, newest first, at most
-- $2 of them, after the entry $3 (NULL: from the newest), each with its
-- transfer's kind and the other party.
SELECT e.id, e.transfer_id, e.amount,
 to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), t.kind, CASE WHEN e.amount < 0 THEN t.to_account ELSE t.from_account END
 FROM entries e JOIN transfers t ON t.id = e.transfer_id
 WHERE e.account_id = $1
   AND ($3::uuid IS NULL OR (e.created_at, e.id) <
        (SELECT created_at, id FROM entries WHERE id = $3::uuid))
 ORDER BY e.created_at DESC, e.id DESC LIMIT $2::int;
