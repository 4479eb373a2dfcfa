-- Idempotency keys (fcgi/idempotency.c): claimed in the same transaction
-- as the effect, finished with the stored answer before COMMIT.

-- name: idem_wait_briefly
-- postgres only: wait for a concurrent holder of the key at most $1
-- (e.g. '20ms'), for the rest of the claim; a duplicate then answers 409
-- in flight instead of holding its worker.
SELECT set_config('lock_timeout', $1, true);

-- name: idem_claim
-- Claim a key; a row back means new (with the transaction's now()), none
-- means someone holds or held it.
INSERT INTO idempotency_keys (caller, key, fingerprint, state)
VALUES ($1, $2, $3, 'pending')
ON CONFLICT (caller, key) DO NOTHING
RETURNING to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

-- name: idem_wait_default
-- Back to the session's lock_timeout after the claim. A utility statement:
-- the equivalent read of pg_settings costs ~1.6 ms of server CPU (it builds
-- every setting), this ~0.04 ms.
SET LOCAL lock_timeout TO DEFAULT;

-- name: idem_lookup
-- The stored state of a key that was already claimed.
SELECT fingerprint, state, status, body FROM idempotency_keys
WHERE caller = $1 AND key = $2;

-- name: idem_finish
-- Store the final answer under the key.
UPDATE idempotency_keys SET state = 'done', status = $3::int, body = $4
WHERE caller = $1 AND key = $2;
