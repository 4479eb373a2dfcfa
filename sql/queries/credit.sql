-- Credit limits (fcgi/api/account_credit.c): PATCH /accounts/{id}. The
-- account row is locked first (ledger_lock_account) and read with
-- account_get in the same round trip; the new limit is written last.

-- name: account_set_credit_limit
-- Set account $1's credit limit to $2 (>= 0; the row is locked and the
-- limit was checked against what the account already owes).
UPDATE accounts SET credit_limit = $2::bigint WHERE id = $1;
