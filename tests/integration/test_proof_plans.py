#!/usr/bin/env python3
"""test_proof_plans — the live checks (sql/queries/proof.sql) cost what the
backlog and current state cost, not what history costs: against a long
sealed history and an unsealed backlog (seeded inside one transaction that
is rolled back, so the stack is left as it was), no check reads a history
table whole, an entry of an unsealed transfer is matched to its transfer
without an index probe into all transfers, the rows the backlog set does
not name are still looked up (and reported) as before, and the account
checks read accounts once between them."""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import json
import re
import subprocess

# The history tables this test makes long (SEED). The others hold what the
# suites before left on the shared stack: a few rows, which a sequential
# scan reads best and which say nothing about a plan's cost at scale.
HISTORY = ("transfers", "entries")
NOT_CHECKS = {"proof_audit_settings", "proof_audit_deadline", "proof_audit_counts",
              "proof_audit_runs", "proof_run_insert", "proof_run_get"}
SEALED, UNSEALED = 120000, 2000

table = json.loads(subprocess.run([ZS_BIN, "sql"], check=True, capture_output=True,
                                  text=True).stdout)
live = {s["name"]: s["postgres"].strip().rstrip(";").replace("$1", "'3600'")
        for s in table if s["name"].startswith("proof_") and s["name"] not in NOT_CHECKS}
ok(len(live) >= 30, f"the live check statements ({len(live)})")

# A sealed history of SEALED transfers with their entries, and a backlog of
# UNSEALED more (rows as the sealer leaves them; no running balances: the
# plans are what is measured, not the verdicts).
SEED = """
SET LOCAL session_replication_role = replica;
CREATE TEMP TABLE plan_t ON COMMIT DROP AS
 SELECT gen_random_uuid() AS id, CASE WHEN g > %(u)s THEN g END AS sealed, g
 FROM generate_series(1, %(n)s) g;
INSERT INTO transfers (id, from_account, to_account, amount, kind, caller, sealed)
 SELECT id, %(a)s, %(b)s, 3, 'transfer', 'proof-plan', sealed FROM plan_t;
INSERT INTO entries (transfer_id, account_id, amount, sealed)
 SELECT id, %(a)s::uuid, -3, sealed FROM plan_t UNION ALL SELECT id, %(b)s::uuid, 3, sealed FROM plan_t;
ANALYZE transfers, entries;
"""


def explain(cur, sql):
    """EXPLAIN (ANALYZE, FORMAT JSON) of sql: its plan tree."""
    cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
    return cur.fetchone()[0][0]["Plan"]


def nodes(plan):
    yield plan
    for p in plan.get("Plans", []):
        yield from nodes(p)


def probes(plan, index):
    """Lookups through index (the index scans' loops)."""
    return sum(n.get("Actual Loops", 0) for n in nodes(plan) if n.get("Index Name") == index)


def pkey_probes(plan):
    """Rows looked up in transfers by primary key."""
    return probes(plan, "transfers_pkey")


def verdict(cur, name):
    cur.execute(live[name])
    return cur.fetchone()[:2]


a, _ = create_account("proof-plan-a")
b, _ = create_account("proof-plan-b")
conn = db("postgres")
conn.autocommit = False
try:
    with conn.cursor() as cur:
        cur.execute(SEED, {"a": a, "b": b, "n": SEALED + UNSEALED, "u": UNSEALED})
        cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cur.execute("SET LOCAL jit = off")
        for name in sorted(live):
            plan = explain(cur, live[name])
            scans = sorted({n["Relation Name"] for n in nodes(plan)
                            if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in HISTORY})
            ok(scans == [], f"{name} reads no history table whole", json.dumps(scans))
        # the account checks share one scan: one text, run once (fcgi/domain/checks.c col)
        shared = ["proof_balances_match_entries", "proof_money_conserved", "proof_no_negative_balances",
                  "proof_holds_match_held", "proof_held_within_balance", "proof_within_credit_limit",
                  "proof_running_balances_match"]
        is_(len({live[n] for n in shared}), 1, "the account checks' statements are one text")
        is_(sum(1 for n in nodes(explain(cur, live[shared[0]]))
                if n.get("Relation Name") == "accounts"), 1,
            "that text reads accounts once for the seven checks")
        for name in ("proof_entries_have_transfers", "proof_transfers_balanced"):
            is_(pkey_probes(explain(cur, live[name])), 0,
                f"{name}: the backlog's entries of unsealed transfers cost no probe into transfers")
            is_(verdict(cur, name), (0, None), f"{name}: the seeded backlog holds")
        # an unsealed entry pair under a sealed transfer: looked up by key, and reported
        cur.execute("SELECT id FROM plan_t WHERE sealed IS NOT NULL LIMIT 1")
        old = cur.fetchone()[0]
        cur.execute("INSERT INTO entries (transfer_id, account_id, amount) VALUES (%s, %s, -1), (%s, %s, 1)",
                    (old, a, old, b))
        is_(pkey_probes(explain(cur, live["proof_transfers_balanced"])), 1,
            "transfers_balanced: a transfer the backlog set does not name is probed, once")
        is_(verdict(cur, "proof_transfers_balanced"), (1, old),
            "transfers_balanced: the sealed transfer with unsealed entries is reported")
        is_(verdict(cur, "proof_entries_have_transfers"), (0, None),
            "entries_have_transfers: entries of a sealed transfer belong to an existing one")
        # and an unsealed entry under no transfer at all
        cur.execute("INSERT INTO entries (id, transfer_id, account_id, amount) "
                    "VALUES ('00000000-0000-4000-8000-0000000000e1', gen_random_uuid(), %s, 1)", (a,))
        is_(verdict(cur, "proof_entries_have_transfers"), (1, "00000000-0000-4000-8000-0000000000e1"),
            "entries_have_transfers: an entry under no transfer is reported")
        # the running balances, once the backlog follows its accounts' sealed entries (as
        # the sealer leaves it): a's and b's entries numbered with the sealed ones first,
        # and the aggregates keeping their last sealed entry
        n = SEALED + UNSEALED
        cur.execute("DELETE FROM entries e WHERE account_id IN (%s, %s) AND NOT EXISTS (SELECT 1"
                    " FROM plan_t t WHERE t.id = e.transfer_id AND t.sealed IS NOT DISTINCT FROM e.sealed)",
                    (a, b))  # the rows the cases above added
        cur.execute("UPDATE entries e SET seq = %(n)s + 1 - t.g, balance_after = e.amount * (%(n)s + 1 - t.g)"
                    " FROM plan_t t WHERE e.transfer_id = t.id", {"n": n})
        cur.execute("UPDATE accounts SET balance = CASE WHEN id = %s THEN -3 ELSE 3 END * %s,"
                    " credit_limit = CASE WHEN id = %s THEN 3 * %s END WHERE id IN (%s, %s)",
                    (a, n, a, n, a, b))  # a owes what it paid: a limit lets it
        cur.execute("INSERT INTO seal_accounts (account_id, balance, entries, last_seq, last_balance, last_at)"
                    " SELECT id, sign * 3 * %(s)s, %(s)s, %(s)s, sign * 3 * %(s)s, now()"
                    " FROM (VALUES (%(a)s::uuid, -1), (%(b)s::uuid, 1)) v(id, sign)"
                    " ON CONFLICT (account_id) DO UPDATE SET balance = EXCLUDED.balance,"
                    " entries = EXCLUDED.entries, last_seq = EXCLUDED.last_seq,"
                    " last_balance = EXCLUDED.last_balance, last_at = EXCLUDED.last_at",
                    {"s": SEALED, "a": a, "b": b})
        rbm = "proof_running_balances_match"
        is_(probes(explain(cur, live[rbm]), "entries_by_account_seq"), 0,
            "running_balances_match: a backlog that follows the aggregates costs no lookup in history")
        cur.execute(live[rbm])
        res = cur.fetchone()
        is_(res[12:14], (0, None), "running_balances_match: and it holds")
        cur.execute("UPDATE seal_accounts SET last_seq = NULL WHERE account_id = %s", (a,))
        plan = explain(cur, live[rbm])
        is_(probes(plan, "entries_by_account_seq"), 1,
            "without a's last sealed entry: its first unsealed entry is looked up, once")
        ok(not any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "entries" for n in nodes(plan)),
           "…by key, not by reading entries whole")
        cur.execute(live[rbm])
        is_(cur.fetchone()[12:14], (0, None), "…and it still holds")
        cur.execute("UPDATE entries SET balance_after = balance_after + 1 WHERE account_id = %s AND seq = %s",
                    (b, n))
        cur.execute(live[rbm])
        is_(cur.fetchone()[12], 2, "b's last entry off by one: reported, against its predecessor and as b's")
        is_(probes(explain(cur, live[rbm]), "entries_by_account_seq"), 1,
            "…at no lookup more (the last entry is the backlog's)")
finally:
    conn.rollback()
    conn.close()
is_(query("SELECT count(*) FROM transfers WHERE caller = 'proof-plan'")[0][0], 0,
    "the seeded history is gone")
done()
