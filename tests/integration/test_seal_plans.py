#!/usr/bin/env python3
"""test_seal_plans — the sealer's candidate statements cost what the backlog
costs, not what history costs: against a long sealed history (seeded inside
one transaction that is rolled back, so the stack is left as it was) and a
small unsealed backlog, no candidate statement scans a whole history table."""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import re

SEAL_SQL = os.path.join(REPO, "sql", "queries", "seal.sql")
HISTORY = ("transfers", "entries", "holds", "bids", "lots")


def named(prefix):
    """seal.sql's statements whose names start with prefix, fragments expanded."""
    src = open(SEAL_SQL).read()
    frag = {m.group(1): m.group(2).strip() for m in
            re.finditer(r"-- fragment: (\w+)\n((?:(?!--).*\n)+)", src)}
    out = {}
    for m in re.finditer(r"-- name: (%s\w+)\n((?:--.*\n)*)((?:(?!-- name:|-- fragment:).*\n?)+)" % prefix,
                         src):
        out[m.group(1)] = re.sub(r"\{\{(\w+)\}\}", lambda x: frag[x.group(1)], m.group(3).strip()).rstrip(";")
    return out


def statements():
    """seal.sql's seal_candidate_* statements, fragments expanded, $1 = 1500."""
    src = open(SEAL_SQL).read()
    frag = {m.group(1): m.group(2).strip() for m in
            re.finditer(r"-- fragment: (\w+)\n((?:(?!--).*\n)+)", src)}
    out = {}
    for m in re.finditer(r"-- name: (seal_candidate_\w+)\n((?:--.*\n)*)((?:(?!-- name:|-- fragment:).*\n?)+)",
                         src):
        sql = re.sub(r"\{\{(\w+)\}\}", lambda x: frag[x.group(1)], m.group(3).strip())
        out[m.group(1)] = sql.rstrip(";").replace("$1", "1500")
    return out


SEED = """
SET LOCAL session_replication_role = replica;
INSERT INTO transfers (id, from_account, to_account, amount, kind, caller, created_at, sealed)
 SELECT gen_random_uuid(), %(a)s, %(b)s, 1, 'transfer', 'plan', now() - interval '1 day',
        CASE WHEN g > 3000 THEN g END FROM generate_series(1, 150000) g;
INSERT INTO entries (transfer_id, account_id, amount, sealed)
 SELECT id, from_account, -1, sealed FROM transfers WHERE caller = 'plan'
 UNION ALL SELECT id, to_account, 1, sealed FROM transfers WHERE caller = 'plan';
INSERT INTO lots (id, kind, seller, status, start_price, increment, seq, settled_at, sealed)
 SELECT gen_random_uuid(), 'english', %(a)s, 'unsold', 10, 1, 2, now(), CASE WHEN g > 30 THEN g END
 FROM generate_series(1, 20000) g;
INSERT INTO bids (id, lot_id, bidder, amount, seq, status, sealed)
 SELECT gen_random_uuid(), l.id, %(b)s, 10 + s, s, 'lost', l.sealed
 FROM lots l CROSS JOIN generate_series(1, 2) s WHERE l.seller = %(a)s;
INSERT INTO holds (id, account_id, lot_id, bid_id, amount, state, sealed)
 SELECT gen_random_uuid(), b.bidder, b.lot_id, b.id, b.amount, 'released', b.sealed
 FROM bids b WHERE b.bidder = %(b)s;
ANALYZE transfers, entries, lots, bids, holds;
"""

a, _ = create_account("plan-a")
b, _ = create_account("plan-b")
conn = db("postgres")
conn.autocommit = False
try:
    with conn.cursor() as cur:
        cur.execute(SEED, {"a": a, "b": b})
        cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        for name, sql in sorted(statements().items()):
            cur.execute("EXPLAIN (COSTS OFF) " + sql)
            plan = "\n".join(r[0] for r in cur.fetchall())
            scans = [t for t in HISTORY if re.search(r"Seq Scan on %s\b" % t, plan)]
            ok(scans == [], f"{name} reads no history table whole", plan)
        # The backlog grows past what the last ANALYZE saw (as it does between
        # a long history's rare ANALYZEs): the marks must still probe the 400
        # rows of one seal by key, never read the whole backlog through the
        # *_unsealed partial indexes (its size, every seal, when behind).
        cur.execute("""UPDATE transfers t SET sealed = 8000000 + x.rn FROM (SELECT id, row_number() OVER () AS rn
                        FROM transfers WHERE caller = 'plan' AND sealed IS NULL) x WHERE t.id = x.id""")
        cur.execute("""UPDATE entries e SET sealed = t.sealed FROM transfers t
                        WHERE t.caller = 'plan' AND e.transfer_id = t.id AND e.sealed IS NULL""")
        cur.execute("ANALYZE transfers, entries")  # it sees (next to) no backlog
        cur.execute("""INSERT INTO transfers (id, from_account, to_account, amount, kind, caller)
                        SELECT gen_random_uuid(), %(a)s, %(b)s, 1, 'transfer', 'plan'
                        FROM generate_series(1, 20000)""", {"a": a, "b": b})
        cur.execute("""INSERT INTO entries (transfer_id, account_id, amount)
                        SELECT id, to_account, 1 FROM transfers WHERE caller = 'plan' AND sealed IS NULL""")
        cur.execute("SELECT array_agg(id) FROM (SELECT id FROM transfers WHERE caller = 'plan' "
                    "AND sealed IS NULL LIMIT 400) x")
        ids = cur.fetchone()[0]
        for name, sql in sorted(named("seal_mark_").items()):
            if name not in ("seal_mark_transfers", "seal_mark_entries"):
                continue
            cur.execute("EXPLAIN (COSTS OFF) " + sql.replace("$1", "%s").replace("$2", "%s"),
                        (ids, list(range(900000, 900400))))
            plan = "\n".join(r[0] for r in cur.fetchall())
            ok("_unsealed" not in plan and "Seq Scan" not in plan,
               f"{name} probes a seal's rows by key, past a stale backlog estimate", plan)
finally:
    conn.rollback()
    conn.close()
is_(query("SELECT count(*) FROM transfers WHERE caller = 'plan'")[0][0], 0, "the seeded history is gone")
done()
