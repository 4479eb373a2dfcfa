-- drop-stampede — pgbench script: the statements POST /bid executes for a
-- claim that wins a unit of a fixed-price drop (fcgi/bid.c bid_tx and
-- purchase(), fcgi/lots.c, fcgi/idempotency.c, fcgi/ledger.c; postgres
-- dialect), in the same order and in the same four round trips, for
-- pgbench_tps in bench/run. The server pipelines each round trip's
-- statements; here each round trip is one compound command (joined by \;).
-- tests/integration/test_bench_sql.py compares the statements with those the
-- server really runs: change the server's SQL and this file together.
--
-- Run by bench/run as
--   pgbench -n -M simple -f bench/sql/drop-stampede.sql -c C -j J -T SECONDS
--     -D first=301 -D last=500 (the buyers) -D lot=<a drop of 1,000,000 units>
--     -D seller=<its seller> -D cost=<its price> -D primed=0 -D qty=1
--     -D st=claimed -D release=0 -D kind=purchase -D memo='lot <lot id>'
--     -D status=201 -D fp=<64 hex> -D body=<a response body>
-- through PgBouncer as zerosum_app (the workers' path; persistent connections).
-- In the HTTP stampede only K of N claims win; the others take the shorter
-- sold_out path (key and lot lock, then the stored refusal and COMMIT). This
-- script is the winning path, the longer one: pgbench_tps is a ceiling for
-- claims that buy.
--
-- Notes:
-- * -M simple: pgbench's extended mode would turn the ':MI' and ':SS' inside
--   the to_char format literals into bind parameters and fail; in simple mode
--   values are substituted as quoted literals (':name'), undefined names are
--   left alone. Same statements, same round trips; only the wire protocol
--   differs (one Query message per round trip instead of Parse/Bind/Execute).
-- * The harness statement is not the server's: it stands in for what the
--   worker computes in C (fresh uuids, a key, the caller). It rides at the end
--   of the last round trip, after COMMIT (no lock held), and prepares the
--   client's next transaction, so pgbench makes exactly the server's round
--   trips; a client's first transaction runs it on its own.

\if :primed = 0
\set b random(:first, :last)
-- harness: the first claim's buyer, lock order (buyer and seller by id), key, uuids
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
    FROM lots WHERE id = ':lot' FOR UPDATE \gset l_
\set seq :l_seq + 1
-- round trip 2 (ledger_lock): buyer and seller, in id order
SELECT kind, balance, held FROM accounts WHERE id = ':lo' FOR UPDATE \;
SELECT kind, balance, held FROM accounts WHERE id = ':hi' FOR UPDATE;
-- round trip 3 (purchase()): the payment, the claim row, the lot
UPDATE accounts SET balance = balance + CASE WHEN id = ':me'::uuid THEN -':cost'::bigint ELSE
    ':cost'::bigint END, held = held - CASE WHEN id = ':me'::uuid THEN ':release'::bigint
    ELSE 0 END WHERE id IN (':me'::uuid, ':seller'::uuid) \;
WITH t AS ( INSERT INTO transfers (id, from_account, to_account, amount, kind, caller, memo,
    idem_key) VALUES (':xid', ':me', ':seller', ':cost', ':kind', ':caller', ':memo', ':scoped')
    RETURNING id, created_at), e AS ( INSERT INTO entries (transfer_id, account_id, amount,
    created_at) SELECT t.id, x.account_id, x.amount, t.created_at FROM t, (VALUES (':me'::uuid,
    -':cost'::bigint), (':seller'::uuid, ':cost'::bigint)) AS x(account_id, amount)) SELECT
    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM t \;
INSERT INTO bids (id, lot_id, bidder, amount, quantity, seq, status, transfer_id, idem_key)
    VALUES (':bid_id', ':lot', ':me', ':cost', ':qty', ':seq', ':st', ':xid', ':scoped') \;
UPDATE lots SET qty_claimed = qty_claimed + ':qty'::int, seq = ':seq'::bigint, status = CASE
    WHEN qty_claimed + ':qty'::int >= qty_total THEN 'sold_out' ELSE status END, settled_at =
    CASE WHEN qty_claimed + ':qty'::int >= qty_total THEN now() ELSE settled_at END WHERE id =
    ':lot' RETURNING id, kind, seller, title, status, start_price, increment, reserve,
    snipe_window, snipe_extend, floor_price, step, interval_s, price, max_per_claim, qty_total,
    qty_claimed, high_amount, high_bidder, high_bid, seq, to_char(starts_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS starts_at, to_char(ends_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ends_at, to_char(settled_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS settled_at, winner, clearing_price, now() >= starts_at
    AS started, (kind = 'english' AND now() >= ends_at) AS ended, CASE WHEN kind = 'dutch' THEN
    GREATEST(floor_price, start_price - step * LEAST(floor(extract(epoch FROM (now() -
    starts_at)) / interval_s)::bigint, (start_price - floor_price) / step + 1)) END AS
    current_price, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS db_now;
\set b random(:first, :last)
-- round trip 4 (finish()): store the answer under the key, COMMIT
UPDATE idempotency_keys SET state = 'done', status = ':status'::int, body = ':body' WHERE caller
    = ':caller' AND key = ':key' \;
COMMIT \;
/* harness: the next claim's buyer, lock order, key and uuids */
SELECT a.id AS me, least(a.id, ':seller'::uuid) AS lo, greatest(a.id, ':seller'::uuid) AS hi,
    'user:' || a.id AS caller, k.key, 'user:' || a.id || ':' || k.key AS scoped,
    gen_random_uuid() AS bid_id, gen_random_uuid() AS xid
    FROM bench.accounts a, (SELECT md5(random()::text) AS key) k WHERE a.n = :b \gset
