-- GET /proof/holds, the dashboard's holds panel (fcgi/api/holds.c).
-- Read-only, one statement on one snapshot: current state only (accounts,
-- and the live pending transfers, lot holds and resting buy orders, which
-- are all unsealed: the partial *_unsealed indexes keep it off history).

-- name: holds_by_kind
-- Per account kind: how many accounts, what they hold (and how many hold
-- anything), their live pending transfers, active lot holds and resting buy
-- orders (count and amount each), the credit limits granted, how many
-- accounts are below zero and the credit they use (held - balance above 0),
-- and the snapshot's time.
SELECT a.kind, count(*), coalesce(sum(a.held), 0)::bigint, count(*) FILTER (WHERE a.held > 0),
    coalesce(sum(p.n), 0)::bigint, coalesce(sum(p.s), 0)::bigint,
    coalesce(sum(h.n), 0)::bigint, coalesce(sum(h.s), 0)::bigint,
    coalesce(sum(o.n), 0)::bigint, coalesce(sum(o.s), 0)::bigint,
    coalesce(sum(coalesce(a.credit_limit, 0)), 0)::bigint,
    count(*) FILTER (WHERE a.kind <> 'issuer' AND a.balance < 0),
    coalesce(sum(CASE WHEN a.kind <> 'issuer' AND a.held > a.balance THEN a.held - a.balance ELSE 0 END),
             0)::bigint,
    to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
FROM accounts a
LEFT JOIN (SELECT from_account AS id, count(*) AS n, sum(amount) AS s FROM pending_transfers
           WHERE sealed IS NULL AND status = 'pending' GROUP BY from_account) p ON p.id = a.id
LEFT JOIN (SELECT account_id AS id, count(*) AS n, sum(amount) AS s FROM holds
           WHERE sealed IS NULL AND state = 'active' GROUP BY account_id) h ON h.id = a.id
LEFT JOIN (SELECT account_id AS id, count(*) AS n, sum(hold_amount) AS s FROM orders
           WHERE sealed IS NULL AND status = 'open' AND side = 'buy' AND hold_amount > 0
           GROUP BY account_id) o ON o.id = a.id
GROUP BY a.kind ORDER BY a.kind;
