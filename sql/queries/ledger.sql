-- The ledger: accounts, transfers and their entries (fcgi/domain/ledger.c,
-- fcgi/api/transfer.c).

-- name: ledger_lock_account
-- Lock one account row for the rest of the transaction and read what a
-- move needs. Callers lock accounts in id order, so two transfers in
-- opposite directions wait for each other instead of deadlocking. The
-- credit limit reads 0 when none was set (NULL).
SELECT kind, balance, held, coalesce(credit_limit, 0) FROM accounts WHERE id = $1 FOR UPDATE;

-- name: ledger_move_balances
-- One move's balance change: $3 leaves $1 for $2 in one statement, and
-- $1's held drops by $4 (a captured hold; 0 otherwise). Both rows are
-- already locked.
UPDATE accounts SET
 balance = balance + CASE WHEN id = $1::uuid THEN -$3::bigint ELSE $3::bigint END,
 held = held - CASE WHEN id = $1::uuid THEN $4::bigint ELSE 0 END
 WHERE id IN ($1::uuid, $2::uuid);

-- name: ledger_move_record
-- dialect: postgres
-- Append the transfer ($1 its id: $4 from $2 to $3, kind $5, caller $6,
-- memo $7, idem_key $8) and its two entries in one statement, answering its
-- created_at (RFC 3339 UTC). Each entry takes its account's next seq and
-- the balance ledger_move_balances has just written (the row is locked
-- until COMMIT), at the transfer's time or, should the account's last
-- entry be later (a transaction that waited for the lock), at that one's.
WITH t AS (
  INSERT INTO transfers (id, from_account, to_account, amount, kind, caller,
  memo, idem_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
  RETURNING id, created_at),
 e AS (
  INSERT INTO entries (transfer_id, account_id, amount, created_at, seq, balance_after)
  SELECT t.id, x.account_id, x.amount,
   greatest(t.created_at, (SELECT max(p.created_at) FROM entries p WHERE p.account_id = x.account_id)),
   coalesce((SELECT max(p.seq) FROM entries p WHERE p.account_id = x.account_id), 0) + 1, a.balance
   FROM t, (VALUES ($2::uuid, -$4::bigint), ($3::uuid, $4::bigint)) AS x(account_id, amount)
   JOIN accounts a ON a.id = x.account_id)
 SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM t;

-- name: ledger_move_record
-- dialect: dsql
-- Aurora DSQL: no data-modifying CTEs assumed; the transfer alone, its
-- entries follow (ledger_move_entries).
INSERT INTO transfers (id, from_account, to_account, amount, kind, caller,
 memo, idem_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
 RETURNING to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

-- name: ledger_move_entries
-- The two entries of transfer $1 ($4 from $2 to $3), after
-- ledger_move_record on the dsql dialect (where that statement inserts the
-- transfer alone), with their accounts' next seq and new balances as in
-- ledger_move_record's postgres form.
INSERT INTO entries (transfer_id, account_id, amount, created_at, seq, balance_after)
 SELECT $1::uuid, x.account_id, x.amount,
 greatest(now(), (SELECT max(p.created_at) FROM entries p WHERE p.account_id = x.account_id)),
 coalesce((SELECT max(p.seq) FROM entries p WHERE p.account_id = x.account_id), 0) + 1, a.balance
 FROM (VALUES ($2::uuid, -$4::bigint), ($3::uuid, $4::bigint)) AS x(account_id, amount)
 JOIN accounts a ON a.id = x.account_id;

-- name: ledger_adjust_held
-- Change account $1's held by $2 (positive holds, negative releases).
UPDATE accounts SET held = held + $2::bigint WHERE id = $1;

-- name: ledger_transfer_get
-- GET /transfers/{id}: one transfer as the API shows it.
SELECT id, from_account, to_account, amount, kind, memo,
 to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM transfers WHERE id = $1;
