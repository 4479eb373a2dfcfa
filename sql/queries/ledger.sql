-- The ledger: accounts, transfers and their entries (fcgi/ledger.c,
-- fcgi/transfer.c).

-- name: ledger_lock_account
-- Lock one account row for the rest of the transaction and read what a
-- move needs. Callers lock accounts in id order, so two transfers in
-- opposite directions wait for each other instead of deadlocking.
SELECT kind, balance, held FROM accounts WHERE id = $1 FOR UPDATE;
