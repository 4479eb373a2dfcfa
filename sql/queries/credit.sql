-- Credit limits (fcgi/api/account_credit.c): PATCH /accounts/{id}. The
-- account row is locked first (ledger_lock_account) and read with
-- account_get in the same round trip; the new limit is written last.

-- name: account_set_credit_limit
-- Set account $1's credit limit to $2 (>= 0; the row is locked and the
-- limit was checked against what the account already owes).
UPDATE accounts SET credit_limit = $2::bigint WHERE id = $1;

-- name: account_log_credit_limit
-- Keep the new limit $3 of account $2 as history row $1, for the
-- verifiable log (sealed as a `limit` record, docs/PROOF-FORMAT.md); its
-- time is the clock after the account row's lock, so one account's rows
-- are in the order their limits took effect.
INSERT INTO credit_limits (id, account_id, credit_limit, created_at)
 VALUES ($1::uuid, $2::uuid, $3::bigint, clock_timestamp());
