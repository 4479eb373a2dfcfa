-- transfer-hotspot — pgbench script: the statements POST /transfer executes
-- (fcgi/transfer.c transfer_tx, fcgi/idempotency.c, fcgi/ledger.c; postgres
-- dialect), in the same order and in the same round trips, for pgbench_tps in
-- bench/run. The server pipelines each round trip's statements (tx_exec_many);
-- here each round trip is one compound command, its statements joined by \;.
-- tests/integration/test_bench_sql.py compares the statements with those the
-- server really runs: change the server's SQL and this file together.
--
-- Run by bench/run as
--   pgbench -n -M simple -f bench/sql/transfer-hotspot.sql -c C -j J -T SECONDS
--     -D first=10001 -D last=10002 (the two hot accounts: each transaction
--                                   goes one way or the other at random)
--     -D primed=0 -D amount=1 -D release=0 -D kind=transfer -D memo=bench
--     -D status=201 -D fp=<64 hex> -D body=<a response body like the server's>
-- through PgBouncer as zerosum_app (the workers' path; persistent connections).
--
-- Notes:
-- * -M simple: pgbench's extended mode would turn the ':MI' and ':SS' inside
--   the to_char format literals into bind parameters and fail; in simple mode
--   values are substituted as quoted literals (':name'), undefined names are
--   left alone. Same statements, same round trips; only the wire protocol
--   differs (one Query message per round trip instead of Parse/Bind/Execute).
-- * The harness statement is not the server's: it stands in for what the
--   worker computes in C (the two ids, their lock order, a fresh uuid, a key).
--   It rides at the end of the last round trip, after COMMIT (no lock held),
--   and prepares the client's next transaction, so pgbench makes exactly the
--   server's round trips; a client's first transaction runs it on its own.

\if :primed = 0
\set a random(:first, :last)
\set b :first + mod(:a - :first + random(1, :last - :first), :last - :first + 1)
-- harness: the first transaction's accounts and ids
SELECT f.id AS fid, t.id AS tid, least(f.id, t.id) AS lo, greatest(f.id, t.id) AS hi,
    'user:' || f.id AS caller, k.key, 'user:' || f.id || ':' || k.key AS scoped,
    gen_random_uuid() AS xid
    FROM bench.accounts f, bench.accounts t, (SELECT md5(random()::text) AS key) k
    WHERE f.n = :a AND t.n = :b \gset
\set primed 1
\endif
-- the bearer token's revocation check (fcgi/auth.c) rides right after BEGIN;
-- any iat will do: the bench revokes nothing
\set iat 1700000000
-- the claim's brief wait for a concurrent holder of the key (idempotency_wait_ms, in ms)
\set keywait 20
-- round trip 1 (transfer_tx round 1): BEGIN, claim the key, lock both
-- accounts in id order
BEGIN ISOLATION LEVEL READ COMMITTED \;
SELECT CASE WHEN max(valid_after) > ':iat'::bigint THEN ('token_revoked ' ||
    max(valid_after))::bigint END FROM token_revocations WHERE subject IN (':fid'::text, '*') \;
SELECT set_config('lock_timeout', ':keywait', true) \;
INSERT INTO idempotency_keys (caller, key, fingerprint, state) VALUES (':caller', ':key', ':fp',
    'pending') ON CONFLICT (caller, key) DO NOTHING RETURNING to_char(now() AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') \;
SELECT set_config('lock_timeout', reset_val, true) FROM pg_settings WHERE name = 'lock_timeout' \;
SELECT kind, balance, held FROM accounts WHERE id = ':lo' FOR UPDATE \;
SELECT kind, balance, held FROM accounts WHERE id = ':hi' FOR UPDATE;
\set a random(:first, :last)
\set b :first + mod(:a - :first + random(1, :last - :first), :last - :first + 1)
-- round trip 2 (transfer_tx round 2, ledger_move_prepare): move the balances,
-- append the transfer and its two entries, store the answer under the key,
-- COMMIT
UPDATE accounts SET balance = balance + CASE WHEN id = ':fid'::uuid THEN -':amount'::bigint ELSE
    ':amount'::bigint END, held = held - CASE WHEN id = ':fid'::uuid THEN ':release'::bigint
    ELSE 0 END WHERE id IN (':fid'::uuid, ':tid'::uuid) \;
WITH t AS ( INSERT INTO transfers (id, from_account, to_account, amount, kind, caller, memo,
    idem_key) VALUES (':xid', ':fid', ':tid', ':amount', ':kind', ':caller', ':memo', ':scoped')
    RETURNING id, created_at), e AS ( INSERT INTO entries (transfer_id, account_id, amount,
    created_at) SELECT t.id, x.account_id, x.amount, t.created_at FROM t, (VALUES (':fid'::uuid,
    -':amount'::bigint), (':tid'::uuid, ':amount'::bigint)) AS x(account_id, amount)) SELECT
    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM t \;
UPDATE idempotency_keys SET state = 'done', status = ':status'::int, body = ':body' WHERE caller
    = ':caller' AND key = ':key' \;
COMMIT \;
/* harness: the next transaction's accounts and ids */
SELECT f.id AS fid, t.id AS tid, least(f.id, t.id) AS lo, greatest(f.id, t.id) AS hi,
    'user:' || f.id AS caller, k.key, 'user:' || f.id || ':' || k.key AS scoped,
    gen_random_uuid() AS xid
    FROM bench.accounts f, bench.accounts t, (SELECT md5(random()::text) AS key) k
    WHERE f.n = :a AND t.n = :b \gset
