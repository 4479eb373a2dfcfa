-- bid-war — pgbench script: the statements POST /bid executes for an English
-- bid that outbids another bidder (fcgi/bid.c bid_tx and english(),
-- fcgi/lots.c, fcgi/idempotency.c, fcgi/ledger.c; postgres dialect), in the
-- same order and in the same four round trips, for pgbench_tps in bench/run.
-- The server pipelines each round trip's statements; here each round trip is
-- one compound command, its statements joined by \;.
-- tests/integration/test_bench_sql.py compares the statements with those the
-- server really runs: change the server's SQL and this file together.
--
-- Run by bench/run as
--   pgbench -n -M simple -f bench/sql/bid-war.sql -c C -j J -T SECONDS
--     -D first=1 -D last=300   (the bidders: bench accounts 1..300)
--     -D lot=<an English lot that has a leader> -D primed=0 -D qty=1
--     -D st=leading -D null=NULL -D status=201 -D fp=<64 hex> -D body=<a body>
-- through PgBouncer as zerosum_app (the workers' path; persistent connections).
-- Every bid offers exactly the minimum (high + increment), so none is refused.
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
-- * The server sends the account locks in id order; pgbench cannot compare
--   strings, so it sends the bidder's first, then the previous leader's. Both
--   come after the lot row, which every bid locks first, so bids on one lot
--   are serialised already and the order cannot deadlock. (A bidder who
--   already leads takes the server's "raise" path; here it releases and holds
--   again, which leaves the same amounts: the rows stay consistent for /proof.)

\if :primed = 0
\set b random(:first, :last)
-- harness: the first bid's bidder, key and uuids
SELECT a.id AS me, 'user:' || a.id AS caller, k.key, 'user:' || a.id || ':' || k.key AS scoped,
    gen_random_uuid() AS bid_id, gen_random_uuid() AS hold_id
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
-- what the worker derives from the locked lot row: the minimum next bid, the
-- previous leader's release, the next sequence number
\set amount :l_high_amount + :l_increment
\set release -1 * :l_high_amount
\set seq :l_seq + 1
-- round trip 2 (ledger_lock): the bidder's and the previous leader's rows
SELECT kind, balance, held FROM accounts WHERE id = ':me' FOR UPDATE \;
SELECT kind, balance, held FROM accounts WHERE id = ':l_high_bidder' FOR UPDATE;
-- round trip 3 (english()): release the previous leader, hold the bidder's
-- funds, append the bid and the hold, update the lot
UPDATE accounts SET held = held + ':release'::bigint WHERE id = ':l_high_bidder' \;
UPDATE holds SET state = 'released', updated_at = now() WHERE lot_id = ':lot' AND account_id =
    ':l_high_bidder' AND state = 'active' \;
UPDATE bids SET status = 'outbid' WHERE id = ':l_high_bid' \;
UPDATE accounts SET held = held + ':amount'::bigint WHERE id = ':me' \;
INSERT INTO bids (id, lot_id, bidder, amount, quantity, seq, status, transfer_id, idem_key)
    VALUES (':bid_id', ':lot', ':me', ':amount', ':qty', ':seq', ':st', :null, ':scoped') \;
INSERT INTO holds (id, account_id, lot_id, bid_id, amount, state) VALUES (':hold_id', ':me',
    ':lot', ':bid_id', ':amount', 'active') \;
UPDATE lots SET high_amount = ':amount'::bigint, high_bidder = ':me', high_bid = ':bid_id', seq
    = ':seq'::bigint, ends_at = CASE WHEN snipe_window > 0 AND ends_at - now() <
    make_interval(secs => snipe_window) THEN GREATEST(ends_at, now() + make_interval(secs =>
    snipe_extend)) ELSE ends_at END WHERE id = ':lot' RETURNING id, kind, seller, title, status,
    start_price, increment, reserve, snipe_window, snipe_extend, floor_price, step, interval_s,
    price, max_per_claim, qty_total, qty_claimed, high_amount, high_bidder, high_bid, seq,
    to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS starts_at,
    to_char(ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ends_at,
    to_char(settled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS settled_at,
    winner, clearing_price, now() >= starts_at AS started, (kind = 'english' AND now() >=
    ends_at) AS ended, CASE WHEN kind = 'dutch' THEN GREATEST(floor_price, start_price - step *
    LEAST(floor(extract(epoch FROM (now() - starts_at)) / interval_s)::bigint, (start_price -
    floor_price) / step + 1)) END AS current_price, to_char(now() AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS db_now;
\set b random(:first, :last)
-- round trip 4 (finish()): store the answer under the key, COMMIT
UPDATE idempotency_keys SET state = 'done', status = ':status'::int, body = ':body' WHERE caller
    = ':caller' AND key = ':key' \;
COMMIT \;
/* harness: the next bid's bidder, key and uuids */
SELECT a.id AS me, 'user:' || a.id AS caller, k.key, 'user:' || a.id || ':' || k.key AS scoped,
    gen_random_uuid() AS bid_id, gen_random_uuid() AS hold_id
    FROM bench.accounts a, (SELECT md5(random()::text) AS key) k WHERE a.n = :b \gset
