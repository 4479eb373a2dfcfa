-- drop-soldout — pgbench script: the statements POST /bid executes for a claim
-- on a drop that is sold out (fcgi/bid.c bid_tx, purchase() and reject();
-- postgres dialect), in the same order and in the same two round trips: the
-- path 190 of the 200 claims of the drop-stampede take. bench/run runs it
-- together with drop-stampede.sql, weighted like the stampede
--   pgbench ... -f bench/sql/drop-stampede.sql@K -f bench/sql/drop-soldout.sql@N-K
-- so pgbench_tps is the ceiling for the same mix of winning and refused claims.
-- tests/integration/test_bench_sql.py compares the statements with those the
-- server really runs: change the server's SQL and this file together.
--
-- Variables (-D, shared with drop-stampede.sql): first, last (the buyers),
-- seller, soldlot (a drop with no unit left), primed=0, fp, body,
-- status_soldout=409.
-- Notes: -M simple and the harness statement as in drop-stampede.sql.

\if :primed = 0
\set b random(:first, :last)
-- harness: the first claim's buyer, key and uuids (the same harness as drop-stampede.sql:
-- pgbench picks either script for a client's next transaction)
SELECT a.id AS me, least(a.id, ':seller'::uuid) AS lo, greatest(a.id, ':seller'::uuid) AS hi,
    'user:' || a.id AS caller, k.key, 'user:' || a.id || ':' || k.key AS scoped,
    gen_random_uuid() AS bid_id, gen_random_uuid() AS xid
    FROM bench.accounts a, (SELECT md5(random()::text) AS key) k WHERE a.n = :b \gset
\set primed 1
\endif
-- the bearer token's revocation check (fcgi/auth.c) rides right after BEGIN;
-- any iat will do: the bench revokes nothing
\set iat 1700000000
-- the claim's brief wait for a concurrent holder of the key (idempotency_wait_ms, in ms)
\set keywait 20
-- round trip 1 (bid_tx round 1): BEGIN, claim the key, lock the lot row
BEGIN ISOLATION LEVEL READ COMMITTED \;
SELECT CASE WHEN max(valid_after) > ':iat'::bigint THEN ('token_revoked ' ||
    max(valid_after))::bigint END FROM token_revocations WHERE subject IN (':me'::text, '*') \;
SELECT set_config('lock_timeout', ':keywait', true) \;
INSERT INTO idempotency_keys (caller, key, fingerprint, state) VALUES (':caller', ':key', ':fp',
    'pending') ON CONFLICT (caller, key) DO NOTHING RETURNING to_char(now() AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') \;
SELECT set_config('lock_timeout', reset_val, true) FROM pg_settings WHERE name = 'lock_timeout' \;
SELECT id, kind, seller, title, status, start_price, increment, reserve, snipe_window,
    snipe_extend, floor_price, step, interval_s, price, max_per_claim, qty_total, qty_claimed,
    high_amount, high_bidder, high_bid, seq, to_char(starts_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS starts_at, to_char(ends_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ends_at, to_char(settled_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS settled_at, winner, clearing_price, now() >= starts_at
    AS started, (kind = 'english' AND now() >= ends_at) AS ended, CASE WHEN kind = 'dutch' THEN
    GREATEST(floor_price, start_price - step * LEAST(floor(extract(epoch FROM (now() -
    starts_at)) / interval_s)::bigint, (start_price - floor_price) / step + 1)) END AS
    current_price, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS db_now
    FROM lots WHERE id = ':soldlot' FOR UPDATE;
\set b random(:first, :last)
-- round trip 2 (reject(), stored): the refusal under the key, COMMIT
UPDATE idempotency_keys SET state = 'done', status = ':status_soldout'::int, body = ':body' WHERE
    caller = ':caller' AND key = ':key' \;
COMMIT \;
/* harness: the next claim's buyer, lock order, key and uuids */
SELECT a.id AS me, least(a.id, ':seller'::uuid) AS lo, greatest(a.id, ':seller'::uuid) AS hi,
    'user:' || a.id AS caller, k.key, 'user:' || a.id || ':' || k.key AS scoped,
    gen_random_uuid() AS bid_id, gen_random_uuid() AS xid
    FROM bench.accounts a, (SELECT md5(random()::text) AS key) k WHERE a.n = :b \gset
