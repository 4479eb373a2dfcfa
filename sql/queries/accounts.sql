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

