-- proof — pgbench script: the statements GET /proof executes (fcgi/proof.c
-- proof_tx: one REPEATABLE READ READ ONLY snapshot, the counts, every check,
-- the recent stampede runs), in the same order and round trips, for
-- pgbench_tps in bench/run.
-- tests/integration/test_bench_sql.py compares them with the statements the
-- server really runs: change the server's SQL and this file together.
--
-- Run by bench/run as
--   pgbench -n -M simple -f bench/sql/proof.sql -c 1 -t N -D admin=<admin subject>
-- (sequential, like the HTTP side) through PgBouncer as zerosum_app.
-- -M simple, as the other scripts: the to_char format literals hold ':MI'
-- and ':SS', which pgbench's extended mode would take for variables.

-- round trip 1: BEGIN rides with the first statement (the audit's settings;
-- the server passes what is left of its 120 s budget, in ms)
\set budget 120000
-- the admin token's revocation check (any iat will do: the bench revokes
-- nothing; -D admin=<the admin subject>)
\set iat 1700000000
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY \;
SELECT CASE WHEN max(valid_after) > ':iat'::bigint THEN ('token_revoked ' ||
    max(valid_after))::bigint END FROM token_revocations
    WHERE subject IN (':admin'::text, '*') \;
SELECT set_config('statement_timeout', ':budget', true), set_config('work_mem', '256MB', true),
    set_config('jit', 'off', true);
-- round trip 2: the counts
SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    current_setting('server_version'), (SELECT count(*) FROM accounts), (SELECT count(*) FROM
    transfers), (SELECT count(*) FROM entries), (SELECT count(*) FROM lots), (SELECT count(*)
    FROM bids), (SELECT count(*) FROM holds);
-- then one round trip per check, the recent stampede runs, and COMMIT
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ( SELECT t.id,
    row_number() OVER () AS rn FROM transfers t LEFT JOIN entries e ON e.transfer_id = t.id
    GROUP BY t.id, t.from_account, t.to_account, t.amount HAVING count(e.id) < 2 OR
    coalesce(sum(e.amount), 0) <> 0 OR coalesce(sum(e.amount) FILTER (WHERE e.account_id =
    t.from_account), 0) <> -t.amount OR coalesce(sum(e.amount) FILTER (WHERE e.account_id =
    t.to_account), 0) <> t.amount OR count(e.id) FILTER (WHERE e.account_id NOT IN
    (t.from_account, t.to_account)) > 0) bad;
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ( SELECT e.id,
    row_number() OVER () AS rn FROM entries e WHERE NOT EXISTS (SELECT 1 FROM transfers t WHERE
    t.id = e.transfer_id)) bad;
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ( SELECT a.id,
    row_number() OVER () AS rn FROM accounts a LEFT JOIN (SELECT account_id, sum(amount) AS s
    FROM entries GROUP BY account_id) e ON e.account_id = a.id WHERE a.balance <> coalesce(e.s,
    0)) bad;
SELECT coalesce(sum(balance), 0)::bigint, NULL FROM accounts;
SELECT count(*), string_agg(id::text, ',') FROM accounts WHERE kind <> 'issuer' AND balance < 0;
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ( SELECT a.id,
    row_number() OVER () AS rn FROM accounts a LEFT JOIN (SELECT account_id, sum(amount) AS s
    FROM holds WHERE state = 'active' GROUP BY account_id) h ON h.account_id = a.id LEFT JOIN
    (SELECT account_id, sum(hold_amount) AS s FROM orders WHERE status = 'open' AND side = 'buy'
    GROUP BY account_id) o ON o.account_id = a.id WHERE a.held <> coalesce(h.s, 0) +
    coalesce(o.s, 0)) bad;
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ( SELECT id, row_number()
    OVER () AS rn FROM orders WHERE hold_amount <> CASE WHEN status = 'open' AND side = 'buy'
    THEN remaining * price ELSE 0 END) bad;
SELECT count(*), string_agg(id::text, ',') FROM accounts WHERE kind <> 'issuer' AND (held < 0 OR
    held > balance);
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ( SELECT l.id,
    row_number() OVER () AS rn FROM lots l LEFT JOIN (SELECT lot_id, sum(quantity) AS q FROM
    bids WHERE status = 'claimed' GROUP BY lot_id) b ON b.lot_id = l.id WHERE l.kind = 'drop'
    AND (coalesce(b.q, 0) <> l.qty_claimed OR coalesce(b.q, 0) > l.qty_total)) bad;
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ( SELECT l.id,
    row_number() OVER () AS rn FROM lots l LEFT JOIN LATERAL (SELECT b.amount, b.bidder, b.seq
    FROM bids b WHERE b.lot_id = l.id ORDER BY b.seq DESC LIMIT 1) last ON true LEFT JOIN
    (SELECT lot_id, count(*) AS n FROM bids GROUP BY lot_id) c ON c.lot_id = l.id WHERE l.kind =
    'english' AND ( l.high_amount IS DISTINCT FROM last.amount OR l.high_bidder IS DISTINCT FROM
    last.bidder OR l.seq <> coalesce(c.n, 0) OR l.high_amount IS DISTINCT FROM (SELECT
    max(amount) FROM bids WHERE lot_id = l.id))) bad;
SELECT count(*), string_agg(lot_id::text, ',') FILTER (WHERE rn <= 5) FROM ( SELECT lot_id,
    row_number() OVER () AS rn FROM ( SELECT b.lot_id, b.amount, lag(b.amount) OVER (PARTITION
    BY b.lot_id ORDER BY b.seq) AS prev, b.seq, lag(b.seq) OVER (PARTITION BY b.lot_id ORDER BY
    b.seq) AS prev_seq FROM bids b JOIN lots l ON l.id = b.lot_id WHERE l.kind = 'english') x
    WHERE amount <= prev OR seq <> coalesce(prev_seq, 0) + 1) bad;
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ( SELECT l.id,
    row_number() OVER () AS rn FROM lots l LEFT JOIN (SELECT lot_id, count(*) AS n,
    min(account_id::text) AS acct, sum(amount) AS s FROM holds WHERE state = 'active' GROUP BY
    lot_id) h ON h.lot_id = l.id WHERE CASE WHEN l.kind = 'english' AND l.status = 'live' AND
    l.high_bidder IS NOT NULL THEN coalesce(h.n, 0) <> 1 OR h.acct <> l.high_bidder::text OR h.s
    <> l.high_amount ELSE coalesce(h.n, 0) <> 0 END) bad;
SELECT count(*), string_agg(id::text, ',') FILTER (WHERE rn <= 5) FROM ( SELECT l.id,
    row_number() OVER () AS rn FROM lots l LEFT JOIN (SELECT h.lot_id, count(*) AS n, count(*)
    FILTER (WHERE t.kind = 'capture' AND t.amount = h.amount) AS good, min(t.to_account::text)
    AS payee, sum(t.amount) AS paid FROM holds h LEFT JOIN transfers t ON t.id = h.transfer_id
    WHERE h.state = 'captured' GROUP BY h.lot_id) c ON c.lot_id = l.id WHERE l.kind = 'english'
    AND CASE WHEN l.status = 'settled' THEN coalesce(c.n, 0) <> 1 OR c.good <> 1 OR c.payee <>
    l.seller::text OR c.paid IS DISTINCT FROM l.clearing_price OR l.winner IS DISTINCT FROM
    l.high_bidder ELSE coalesce(c.n, 0) <> 0 END) bad;
SELECT count(*), string_agg(t.id::text, ',') FROM transfers t WHERE t.kind = 'capture' AND
    (SELECT count(*) FROM holds h WHERE h.transfer_id = t.id AND h.state = 'captured') <> 1;
SELECT count(*), string_agg(b.id::text, ',') FROM bids b JOIN lots l ON l.id = b.lot_id WHERE
    l.kind = 'dutch' AND b.amount <> GREATEST(l.floor_price, l.start_price - l.step *
    LEAST(floor(extract(epoch FROM (b.created_at - l.starts_at)) / l.interval_s)::bigint,
    (l.start_price - l.floor_price) / l.step + 1));
SELECT count(*), string_agg(b.id::text, ',') FROM bids b JOIN lots l ON l.id = b.lot_id LEFT
    JOIN transfers t ON t.id = b.transfer_id WHERE b.status = 'claimed' AND (t.id IS NULL OR
    t.kind <> 'purchase' OR t.from_account <> b.bidder OR t.to_account <> l.seller OR t.amount
    <> b.amount);
SELECT count(*), string_agg(id::text, ',') FROM ( SELECT m.id FROM markets m LEFT JOIN positions
    p ON p.market_id = m.id WHERE m.kind = 'shares' GROUP BY m.id, m.total_supply HAVING
    coalesce(sum(p.quantity), 0) <> m.total_supply) bad;
SELECT count(*), string_agg(market_id::text || '/' || account_id::text, ',') FILTER (WHERE rn <=
    5) FROM (SELECT p.market_id, p.account_id, row_number() OVER () AS rn FROM positions p LEFT
    JOIN (SELECT market_id, account_id, outcome, sum(remaining) AS s FROM orders WHERE status =
    'open' AND side = 'sell' GROUP BY market_id, account_id, outcome) o ON o.market_id =
    p.market_id AND o.account_id = p.account_id AND o.outcome = p.outcome WHERE p.held <>
    coalesce(o.s, 0)) bad;
SELECT count(*), string_agg(id::text, ',') FROM ( SELECT m.id FROM markets m JOIN accounts e ON
    e.id = m.escrow LEFT JOIN (SELECT market_id, coalesce(sum(quantity) FILTER (WHERE outcome =
    'yes'), 0) AS yes, coalesce(sum(quantity) FILTER (WHERE outcome = 'no'), 0) AS no,
    coalesce(sum(cost), 0) AS cost FROM positions GROUP BY market_id) p ON p.market_id = m.id
    WHERE m.kind = 'event' AND CASE WHEN m.status = 'resolving' THEN e.balance <> CASE m.outcome
    WHEN 'cancel' THEN coalesce(p.cost, 0) WHEN 'yes' THEN 100 * coalesce(p.yes, 0) ELSE 100 *
    coalesce(p.no, 0) END ELSE coalesce(p.yes, 0) <> coalesce(p.no, 0) OR e.balance <> 100 *
    coalesce(p.yes, 0) OR e.balance <> coalesce(p.cost, 0) OR (m.status IN ('resolved',
    'cancelled') AND e.balance <> 0) END) bad;
SELECT count(*), string_agg(t.id::text, ',') FROM trades t JOIN markets m ON m.id = t.market_id
    LEFT JOIN transfers a ON a.id = t.cash_a LEFT JOIN transfers b ON b.id = t.cash_b WHERE CASE
    WHEN t.kind = 'transfer' THEN a.id IS NULL OR a.kind <> 'trade' OR a.amount <>
    t.price::bigint * t.quantity OR a.from_account <> t.buyer OR a.to_account <> t.seller ELSE
    a.id IS NULL OR b.id IS NULL OR a.kind <> 'mint' OR b.kind <> 'mint' OR a.to_account <>
    m.escrow OR b.to_account <> m.escrow OR a.amount + b.amount <> 100 * t.quantity OR a.amount
    <> t.price::bigint * t.quantity OR a.from_account <> t.buyer OR b.from_account <> t.seller
    END;
SELECT count(*), NULL FROM positions WHERE quantity < 0 OR held < 0 OR held > quantity;
SELECT count(*), string_agg(k, ',') FROM ( SELECT idem_key AS k FROM transfers WHERE idem_key IS
    NOT NULL GROUP BY idem_key HAVING count(*) > 1 UNION ALL SELECT idem_key FROM bids WHERE
    idem_key IS NOT NULL GROUP BY idem_key HAVING count(*) > 1 UNION ALL SELECT idem_key FROM
    orders WHERE idem_key IS NOT NULL GROUP BY idem_key HAVING count(*) > 1) dup;
SELECT id, scenario, n, k, status, summary, to_char(created_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(finished_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM stampede_runs ORDER BY created_at DESC LIMIT 10;
COMMIT;
