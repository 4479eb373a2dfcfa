"""GET /proof: tamper tests, one per check.

Real state is built through the API (accounts, transfers, a live English lot
with several bids, a settled and an unsold English lot, a Dutch claim, a drop
with claims). Then, for every check in fcgi/api/proof.c, the database is corrupted
directly as the PostgreSQL superuser, bypassing the application and disabling
exactly the guard in the way (immutable-ledger triggers, foreign keys, CHECK
constraints), so that one fact disagrees with the fact it is checked against
and nothing else does. /proof must then answer 409 with `consistent: false`,
name exactly the broken check (the set of failing names is compared, not just
membership), report the observed value, and fail `curl -fsS`. The inverse
update repairs it and /proof must be 200 and consistent again.

Some checks cannot be broken alone, and the expected sets say so: for an
account without a credit limit, no_negative_balances (balance < 0 implies
held > balance, so held_within_balance fails with it) and held_within_balance
(held > balance is below the limit of 0, so within_credit_limit fails with
it). within_credit_limit is broken alone on an account that has a limit. A
tamper that changes a balance or an entry behind the ledger's back also breaks
running_balances_match (the balance after each entry, which the application
writes with it), the second witness of the same fact; its own tampers are in
test_history.py. Every other tamper breaks one check.

Guards are restored after every tamper (CHECKs re-added NOT VALID in the same
transaction, validated after the repair) and compared with their original
definitions at the end.

The checks are live (current state, sealed aggregates, unsealed rows), so the
sealer is frozen (it holds no lease) while the state the tampers corrupt is
built and tampered with: every row stays unsealed and every tamper must be
caught by the next /proof. Then everything is sealed (scripts/zerosum seal)
and the live cases only the live forms could miss are run against sealed
history: a balance against its sealed aggregate, an orphan entry, an
unsealed entry added to a sealed transfer. Last, the two bound checks:
sealer_keeps_up (an old sealable row) and full_audit_passed (a failed pass,
and no pass within the interval).
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import re
import statistics
import subprocess
import time
import uuid

import psycopg2

URL = f"http://127.0.0.1:{PORT}/proof"
ALL_CHECKS = {
    "transfers_balanced": "evidence",
    "entries_have_transfers": "evidence",
    "balances_match_entries": "evidence",
    "money_conserved": "evidence",
    "no_negative_balances": "constraint",
    "holds_match_held": "evidence",
    "pending_released": "evidence",  # tampered below (pending transfers)
    "held_within_balance": "constraint",
    "drop_claims_match": "evidence",
    "english_high_is_last_bid": "evidence",
    "english_bids_increase": "evidence",
    "english_live_holds": "evidence",
    "settled_lots_captured_once": "evidence",
    "captures_belong_to_lots": "evidence",
    "dutch_paid_schedule_price": "evidence",
    "purchases_paid": "evidence",
    "idempotency_keys_unique": "evidence",
    "english_proxy_price": "evidence",  # tampered in test_proxy.py
    "within_credit_limit": "constraint",  # credit limits (tampered below)
    "running_balances_match": "evidence",  # tampered in test_history.py
    # markets (tampered in test_markets.py)
    "order_holds_exact": "evidence",
    "shares_supply_conserved": "evidence",
    "positions_held_match_orders": "evidence",
    "event_pairs_backed": "evidence",
    "trade_cash_legs": "evidence",
    "no_negative_positions": "constraint",
    # order types (tampered in test_order_types.py)
    "fok_all_or_nothing": "evidence",
    "expired_orders_release": "evidence",
    # bounds (tampered at the end)
    "sealer_keeps_up": "bound",
    "full_audit_passed": "bound",
}
BOUND_CHECKS = {n for n, k in ALL_CHECKS.items() if k == "bound"}
ADMIN = admin_token()
T0 = time.time()
seal_freeze()


# ---- helpers ---------------------------------------------------------------

def must(r, status, what):
    if r.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {r}")
    return r.json


def su(statements):
    """Run (sql, params) statements in ONE transaction as the superuser and commit.
    Returns None, or the error (after rolling back)."""
    conn = db("postgres")
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            for st in statements:
                sql, params = (st, ()) if isinstance(st, str) else st
                cur.execute(sql, params)
        conn.commit()
        return None
    except psycopg2.Error as e:
        conn.rollback()
        return e
    finally:
        conn.close()


# The gating calls carry the admin token: a token always gets a fresh
# computation (anonymous answers may be two seconds old, see test_edge.py)
# and the sample ids, which only an admin sees.
def curl_rc():
    return subprocess.run(["curl", "-fsS", "-o", "/dev/null", "-H", f"Authorization: Bearer {ADMIN}", URL],
                          capture_output=True, text=True).returncode


def proof():
    return get("/proof", token=ADMIN)


def failing(r):
    return {c["name"] for c in (r.json or {}).get("checks", []) if not c.get("ok")}


def check_of(r, name):
    for c in (r.json or {}).get("checks", []):
        if c.get("name") == name:
            return c
    return {}


def healthy(label):
    r = proof()
    is_(r.status, 200, f"{label}: /proof answers 200")
    is_((r.json or {}).get("consistent"), True, f"{label}: consistent is true")
    is_(failing(r), set(), f"{label}: every check ok")
    is_(curl_rc(), 0, f"{label}: curl -fsS exits 0")
    return r


def ledger_off(table):
    return [f"ALTER TABLE {table} DISABLE TRIGGER USER"]


def ledger_on(table):
    return [f"ALTER TABLE {table} ENABLE TRIGGER USER"]


CHECK_DEFS = {}


def check_def(table, name):
    return query("SELECT pg_get_constraintdef(oid), convalidated FROM pg_constraint"
                 " WHERE conrelid = %s::regclass AND conname = %s", (table, name), user="postgres")[0]


def drop_check(table, name):
    """Drop a CHECK for the tamper (the re-add is NOT VALID, so it still guards new writes)."""
    CHECK_DEFS.setdefault((table, name), check_def(table, name))
    return [f"ALTER TABLE {table} DROP CONSTRAINT {name}"]


def readd_check(table, name):
    return [f"ALTER TABLE {table} ADD CONSTRAINT {name} {CHECK_DEFS[(table, name)][0]} NOT VALID"]


def validate_check(table, name):
    return [f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}"]


def case(label, expected, tamper, repair, observed=None, samples=None):
    """Tamper, expect exactly `expected` failing (with observed values and sample ids), repair."""
    expected = set(expected)
    err = su(tamper)
    if not ok(err is None, f"{label}: tamper committed", err):
        return
    try:
        r = proof()
        is_(r.status, 409, f"{label}: /proof answers 409")
        is_((r.json or {}).get("consistent"), False, f"{label}: consistent is false")
        is_(failing(r), expected, f"{label}: failing checks are exactly {sorted(expected)}")
        for name, want in (observed or {}).items():
            c = check_of(r, name)
            if name in BOUND_CHECKS:
                ok(c.get("observed", 0) >= want > c.get("expected", 0),
                   f"{label}: {name} observed at least {want}, over its bound", c)
            else:
                is_((c.get("observed"), c.get("expected")), (want, 0),
                    f"{label}: {name} observed {want}, expected 0")
        for name, ids in (samples or {}).items():
            s = check_of(r, name).get("sample") or ""
            ok(all(str(i) in s for i in ids), f"{label}: {name} sample names the tampered rows",
               f"sample: {s!r}\nwanted: {ids}")
        is_(curl_rc(), 22, f"{label}: curl -fsS exits 22 (non-zero)")
    finally:
        err = su(repair)
        ok(err is None, f"{label}: repair committed", err)
    healthy(f"{label} repaired")


# ---- state through the API -------------------------------------------------

seller, t_seller = create_account("proof-seller")
alice, t_alice = create_account("proof-alice", 10_000)
bob, t_bob = create_account("proof-bob", 10_000)
carol, t_carol = create_account("proof-carol", 10_000)
dave, t_dave = create_account("proof-dave", 5_000)


def lot(body):
    return must(post("/lots", body, token=ADMIN), 201, f"POST /lots {body}")["lot"]["id"]


def bid(tok, body):
    return must(post("/bid", body, token=tok), 201, f"POST /bid {body}")["bid"]


# the short lots first, so their ends pass while the rest is built
L_settled = lot({"kind": "english", "seller": seller, "title": "settles", "start": 200,
                 "increment": 10, "ends_in": 2})
L_unsold = lot({"kind": "english", "seller": seller, "title": "no bids", "start": 50,
                "increment": 5, "ends_in": 2})
short_created = time.time()
bid(t_bob, {"lot": L_settled, "amount": 200})
bid(t_carol, {"lot": L_settled, "amount": 220})

T_ab = must(post("/transfer", {"from": alice, "to": bob, "amount": 100}, token=t_alice), 201,
            "alice -> bob")["transfer"]["id"]
T_bc = must(post("/transfer", {"from": bob, "to": carol, "amount": 50}, token=t_bob), 201,
            "bob -> carol")["transfer"]["id"]
T_ca = must(post("/transfer", {"from": carol, "to": alice, "amount": 25}, token=t_carol), 201,
            "carol -> alice")["transfer"]["id"]
must(post("/transfer", {"from": alice, "to": dave, "amount": 40}, token=t_alice), 201, "alice -> dave")

L_live = lot({"kind": "english", "seller": seller, "title": "live", "start": 100,
              "increment": 10, "ends_in": 3600})
live_bids = [bid(t_alice, {"lot": L_live, "amount": 100}),
             bid(t_bob, {"lot": L_live, "amount": 120}),
             bid(t_alice, {"lot": L_live, "amount": 150}),
             bid(t_alice, {"lot": L_live, "amount": 170})]       # the leader raises her own bid

L_dutch = lot({"kind": "dutch", "seller": seller, "title": "dutch", "start": 500, "floor": 100,
               "step": 50, "interval": 3600})
dutch_claim = bid(t_bob, {"lot": L_dutch})

L_drop = lot({"kind": "drop", "seller": seller, "title": "drop", "price": 30, "quantity": 10,
              "max_per_claim": 3})
drop_claims = [bid(t_alice, {"lot": L_drop, "quantity": 2}),
               bid(t_carol, {"lot": L_drop, "quantity": 1})]

time.sleep(max(0.0, short_created + 3.0 - time.time()))
ok(wait_for(lambda: get(f"/lots/{L_settled}").json["lot"]["status"] == "settled", 10),
   "the short English lot with bids settles")
ok(wait_for(lambda: get(f"/lots/{L_unsold}").json["lot"]["status"] == "unsold", 10),
   "the short English lot without bids ends unsold")
is_(dutch_claim["amount"], 500, "the Dutch claim paid the start price (first interval)")
is_(query("SELECT status, qty_claimed FROM lots WHERE id = %s", (L_drop,))[0], ("live", 3),
    "the drop has 3 of 10 units claimed")
is_(balance(alice), (10_000 - 100 + 25 - 40 - 60, 170), "alice: balance and the live lot's hold")
is_(ledger_invariants(), [], "the test's own ledger invariants hold before tampering")

# Pending transfers: erin holds one live (held 60: holds_match_held counts it),
# posted 25 of another (its hold of 40 released) and voided a third.
erin, t_erin = create_account("erin", 500)
frank, _ = create_account("frank", 0)
def pending(amount):
    return must(post("/transfer", {"from": erin, "to": frank, "amount": amount, "pending": True},
                     token=t_erin), 201, "pending transfer")["transfer"]["id"]
P_live, P_posted, P_voided = pending(60), pending(40), pending(30)
must(post(f"/transfers/{P_posted}/post", {"amount": 25}, token=t_erin), 200, "post 25")
must(post(f"/transfers/{P_voided}/void", {}, token=t_erin), 200, "void")
is_(balance(erin), (475, 60), "erin: 25 moved, the live pending 60 held")

# ---- baseline --------------------------------------------------------------

r = healthy("baseline")
p = r.json or {}
names = [c.get("name") for c in p.get("checks", [])]
is_(sorted(names), sorted(ALL_CHECKS), "the checks are exactly the expected ones, each once")
is_({c.get("name"): c.get("kind") for c in p.get("checks", [])}, ALL_CHECKS,
    "each check's kind (evidence | constraint)")
ok(all(set(c) >= {"name", "kind", "ok", "observed", "expected", "description", "covers"}
       and isinstance(c["ok"], bool) and type(c["observed"]) is int
       and (c["expected"] == 0 and c["observed"] == 0 if c["kind"] != "bound"
            else 0 <= c["observed"] <= c["expected"])
       and isinstance(c["description"], str) and len(c["description"]) > 10
       and isinstance(c["covers"], str) and c["kind"] in ("evidence", "constraint", "bound")
       for c in p.get("checks", [])),
   "every check has name, kind, ok (bool), observed (0, or within its bound), expected (0, or"
   " the bound), description, covers", p.get("checks"))
is_({c["name"]: c["expected"] for c in p.get("checks", []) if c["kind"] == "bound"},
    {"sealer_keeps_up": 300, "full_audit_passed": 3600}, "the bounds are the configured defaults")
is_(check_of(r, "money_conserved").get("covers"), "state as of the snapshot",
    "a check of current state covers the snapshot")
last_seal = query("SELECT seal_no, tree_size FROM seals ORDER BY seal_no DESC LIMIT 1")
if last_seal:  # earlier suites on this stack sealed before the freeze
    is_({k: (p.get("seal") or {}).get(k) for k in ("seal_no", "tree_size")},
        {"seal_no": last_seal[0][0], "tree_size": last_seal[0][1]}, "seal names the latest seal")
else:
    is_(p.get("seal"), None, "no seal yet: seal is null")
unsealed_rows = query("SELECT (SELECT count(*) FROM transfers WHERE sealed IS NULL)"
                      " + (SELECT count(*) FROM entries WHERE sealed IS NULL)"
                      " + (SELECT count(*) FROM holds WHERE state <> 'active' AND sealed IS NULL)"
                      " + (SELECT count(*) FROM pending_transfers WHERE status <> 'pending' AND sealed IS NULL)"
                      " + (SELECT count(*) FROM lots WHERE status <> 'live' AND sealed IS NULL)"
                      " + (SELECT count(*) FROM trades WHERE sealed IS NULL)"
                      " + (SELECT count(*) FROM orders WHERE status <> 'open' AND sealed IS NULL)"
                      " + (SELECT count(*) FROM bids b JOIN lots l ON l.id = b.lot_id"
                      "    WHERE l.status <> 'live' AND b.sealed IS NULL)")[0][0]
bl = p.get("backlog") or {}
is_(bl.get("rows"), unsealed_rows, "backlog.rows counts every sealable unsealed row (the sealer is frozen)")
ok(0 <= bl.get("oldest_age_s", -1) <= time.time() - T0 + 1, "backlog.oldest_age_s is the age of the oldest", bl)
ok(isinstance(p.get("snapshot_at"), str) and p["snapshot_at"][:2] == "20", "snapshot_at present",
   p.get("snapshot_at"))
b = p.get("backend") or {}
ok(b.get("engine") == "PostgreSQL" and str(b.get("version", "")).startswith("15")
   and b.get("dialect"), "backend names engine, version and dialect", b)
ok(isinstance(p.get("stampede_runs"), list), "stampede_runs is a list")
base = query("SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM transfers),"
             " (SELECT count(*) FROM entries), (SELECT count(*) FROM lots),"
             " (SELECT count(*) FROM bids), (SELECT count(*) FROM holds),"
             " (SELECT coalesce(array_agg(id::text), '{}') FROM transfers WHERE caller = 'system')")[0]
db_counts, system_before = base[:6], set(base[6])
is_(p.get("counts"), dict(zip(["accounts", "transfers", "entries", "lots", "bids", "holds"],
                              db_counts)),
    "counts equal SELECT count(*) per table")
is_(r.headers.get("content-type", "").split(";")[0], "application/json", "application/json")

# ---- facts the tampers need ------------------------------------------------


def entry_of(tid, account):
    return query("SELECT id::text FROM entries WHERE transfer_id = %s AND account_id = %s",
                 (tid, account))[0][0]


def bal(account):
    return balance(account)[0]


live_hold = query("SELECT id::text, amount FROM holds WHERE lot_id = %s AND state = 'active'",
                  (L_live,))
is_(live_hold[0][1] if live_hold else None, 170, "the live lot's one active hold is the high amount")
live_hold = live_hold[0][0]
bid_ids = {b["seq"]: b["id"] for b in live_bids}
bid_keys = dict(query("SELECT seq, idem_key FROM bids WHERE lot_id = %s", (L_live,)))
transfer_keys = dict(query("SELECT id::text, idem_key FROM transfers WHERE id IN (%s, %s)",
                           (T_ab, T_bc)))
ok(all(bid_keys.values()) and all(transfer_keys.values()), "bids and transfers carry idem keys")

# ---- one tamper per check --------------------------------------------------

# transfers_balanced: move 7 of alice's entries from one transfer to another:
# each account's entries still sum to its balance, but two transfers no longer sum to 0.
e1, e2 = entry_of(T_ab, alice), entry_of(T_ca, alice)
shift = "UPDATE entries SET amount = amount + %s WHERE id = %s"
case("transfers_balanced", {"transfers_balanced", "running_balances_match"},
     ledger_off("entries") + [(shift, (-7, e1)), (shift, (7, e2))] + ledger_on("entries"),
     ledger_off("entries") + [(shift, (7, e1)), (shift, (-7, e2))] + ledger_on("entries"),
     observed={"transfers_balanced": 2}, samples={"transfers_balanced": [T_ab, T_ca]})

# entries_have_transfers: a pair of entries (+9/-9 on alice) under a transfer id that
# does not exist. The FK refuses it, so every trigger on entries is off for the insert.
ghost = str(uuid.uuid4())
ins = "INSERT INTO entries (transfer_id, account_id, amount) VALUES (%s, %s, %s)"
case("entries_have_transfers", {"entries_have_transfers", "running_balances_match"},
     ["ALTER TABLE entries DISABLE TRIGGER ALL", (ins, (ghost, alice, 9)),
      (ins, (ghost, alice, -9)), "ALTER TABLE entries ENABLE TRIGGER ALL"],
     ledger_off("entries") + [("DELETE FROM entries WHERE transfer_id = %s", (ghost,))]
     + ledger_on("entries"),
     observed={"entries_have_transfers": 2})

# balances_match_entries: 11 moves from bob's balance to alice's with no entry;
# the sum of balances stays 0.
mv = "UPDATE accounts SET balance = balance + %s WHERE id = %s"
case("balances_match_entries", {"balances_match_entries", "running_balances_match"},
     [(mv, (11, alice)), (mv, (-11, bob))],
     [(mv, (-11, alice)), (mv, (11, bob))],
     observed={"balances_match_entries": 2}, samples={"balances_match_entries": [alice, bob]})

# money_conserved: dave's account row disappears (his entries stay, so no
# remaining account disagrees with its entries, no transfer is unbalanced), and the
# balances no longer sum to zero. Only possible with the foreign keys bypassed.
dave_row = query("SELECT id::text, name, kind, balance, held, created_at FROM accounts WHERE id = %s",
                 (dave,))[0]
case("money_conserved", {"money_conserved"},
     ["ALTER TABLE accounts DISABLE TRIGGER ALL", ("DELETE FROM accounts WHERE id = %s", (dave,)),
      "ALTER TABLE accounts ENABLE TRIGGER ALL"],
     [("INSERT INTO accounts (id, name, kind, balance, held, created_at)"
       " VALUES (%s, %s, %s, %s, %s, %s)", dave_row)],
     observed={"money_conserved": -dave_row[3]})

def rogue_transfer(frm, to, amount, tid):
    """A complete, balanced transfer written behind the application's back (no
    availability check): the row, its two entries, and both balances."""
    return [("INSERT INTO transfers (id, from_account, to_account, amount, kind, caller, memo)"
             " VALUES (%s, %s, %s, %s, 'transfer', 'test:tamper', 'rogue')", (tid, frm, to, amount)),
            (ins, (tid, frm, -amount)), (ins, (tid, to, amount)),
            (mv, (-amount, frm)), (mv, (amount, to))]


def undo_rogue(frm, to, amount, tid):
    return (ledger_off("entries") + ledger_off("transfers")
            + [("DELETE FROM entries WHERE transfer_id = %s", (tid,)),
               ("DELETE FROM transfers WHERE id = %s", (tid,)),
               (mv, (amount, frm)), (mv, (-amount, to))]
            + ledger_on("entries") + ledger_on("transfers"))


# no_negative_balances: a rogue transfer takes dave to -1 (balanced, his balance equals
# his entries). balance < 0 with held = 0 is also held > balance, so held_within_balance
# fails with it, necessarily: no tamper can break no_negative_balances alone (see report).
y, rogue = bal(dave) + 1, str(uuid.uuid4())
# dave has no credit limit, so he is also below it: within_credit_limit fails too.
case("no_negative_balances", {"no_negative_balances", "held_within_balance", "within_credit_limit",
                                 "running_balances_match"},
     drop_check("accounts", "accounts_within_credit_limit")
     + rogue_transfer(dave, ISSUER, y, rogue)
     + readd_check("accounts", "accounts_within_credit_limit"),
     undo_rogue(dave, ISSUER, y, rogue)
     + validate_check("accounts", "accounts_within_credit_limit"),
     observed={"no_negative_balances": 1, "held_within_balance": 1, "within_credit_limit": 1},
     samples={"no_negative_balances": [dave], "held_within_balance": [dave], "within_credit_limit": [dave]})

# within_credit_limit alone: carol gets a credit limit of 5 and a rogue transfer takes her
# 6 below zero. With a limit she is neither in no_negative_balances nor in
# held_within_balance (both are about accounts without one); only the limit is broken
# (and running_balances_match, as by every rogue entry).
cl = "UPDATE accounts SET credit_limit = %s WHERE id = %s"
y, rogue = bal(carol) + 6, str(uuid.uuid4())
case("within_credit_limit", {"within_credit_limit", "running_balances_match"},
     drop_check("accounts", "accounts_within_credit_limit") + [(cl, (5, carol))]
     + rogue_transfer(carol, ISSUER, y, rogue)
     + readd_check("accounts", "accounts_within_credit_limit"),
     undo_rogue(carol, ISSUER, y, rogue) + [(cl, (None, carol))]
     + validate_check("accounts", "accounts_within_credit_limit"),
     observed={"within_credit_limit": 1}, samples={"within_credit_limit": [carol]})
is_(bal(dave), dave_row[3], "dave's balance is back")

# holds_match_held: carol (no active hold) gets 5 held; still within her balance.
hd = "UPDATE accounts SET held = held + %s WHERE id = %s"
case("holds_match_held", {"holds_match_held"},
     [(hd, (5, carol))], [(hd, (-5, carol))],
     observed={"holds_match_held": 1}, samples={"holds_match_held": [carol]})

# holds_match_held (pending): erin's live pending transfer is marked voided behind
# the application's back; its 60 stays held, so her held no longer equals her holds.
ps = "UPDATE pending_transfers SET status = %s WHERE id = %s"
case("holds_match_held (pending transfer)", {"holds_match_held"},
     [(ps, ("voided", P_live))], [(ps, ("pending", P_live))],
     observed={"holds_match_held": 1}, samples={"holds_match_held": [erin]})

# pending_released (a): the posted transfer says it posted 24, its transfer moved 25.
pa = "UPDATE pending_transfers SET posted_amount = posted_amount + %s WHERE id = %s"
case("pending_released (posted amount)", {"pending_released"},
     [(pa, (-1, P_posted))], [(pa, (1, P_posted))],
     observed={"pending_released": 1}, samples={"pending_released": [P_posted]})

# pending_released (b): the voided one claims a posting transfer (nothing moved by it).
pt = "UPDATE pending_transfers SET transfer_id = %s WHERE id = %s"
case("pending_released (voided moved)", {"pending_released"},
     [(pt, (str(uuid.uuid4()), P_voided))], [(pt, (None, P_voided))],
     observed={"pending_released": 1}, samples={"pending_released": [P_voided]})

# pending_released (c): the posted one names another transfer as its posting (one that
# moved money between other accounts): its hold was not released by what it names.
P_posted_tr = query("SELECT transfer_id::text FROM pending_transfers WHERE id = %s", (P_posted,))[0][0]
other_tr = query("SELECT id::text FROM transfers WHERE id <> %s AND kind = 'issue' LIMIT 1", (P_posted_tr,))[0][0]
case("pending_released (posted by another transfer)", {"pending_released"},
     [(pt, (other_tr, P_posted))], [(pt, (P_posted_tr, P_posted))],
     observed={"pending_released": 1}, samples={"pending_released": [P_posted]})

# held_within_balance: a rogue transfer spends alice's held money, leaving 169 against
# her live hold of 170 (held still equals her active holds, balance still equals her
# entries, nothing negative).
y, rogue = bal(alice) - 169, str(uuid.uuid4())
# With no credit limit, held above the balance is also below the limit of 0.
case("held_within_balance", {"held_within_balance", "within_credit_limit", "running_balances_match"},
     drop_check("accounts", "accounts_within_credit_limit")
     + rogue_transfer(alice, carol, y, rogue)
     + readd_check("accounts", "accounts_within_credit_limit"),
     undo_rogue(alice, carol, y, rogue)
     + validate_check("accounts", "accounts_within_credit_limit"),
     observed={"held_within_balance": 1, "within_credit_limit": 1},
     samples={"held_within_balance": [alice], "within_credit_limit": [alice]})
is_(balance(alice), (9825, 170), "alice's balance and hold are back")

# drop_claims_match (a): qty_claimed says 2 while the claim rows add up to 3.
qc = "UPDATE lots SET qty_claimed = qty_claimed + %s WHERE id = %s"
case("drop_claims_match (counter)", {"drop_claims_match"},
     [(qc, (-1, L_drop))], [(qc, (1, L_drop))],
     observed={"drop_claims_match": 1}, samples={"drop_claims_match": [L_drop]})

# drop_claims_match (b): counter and rows agree (3) but K is now 2: oversold.
qty_check = query("SELECT conname FROM pg_constraint WHERE conrelid = 'lots'::regclass"
                  " AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%%qty_claimed <= qty_total%%'",
                  user="postgres")
ok(len(qty_check) == 1, "the lots CHECK on qty_claimed <= qty_total is found", qty_check)
if qty_check:
    qn = qty_check[0][0]
    qt = "UPDATE lots SET qty_total = %s WHERE id = %s"
    case("drop_claims_match (oversold)", {"drop_claims_match"},
         drop_check("lots", qn) + [(qt, (2, L_drop))] + readd_check("lots", qn),
         [(qt, (10, L_drop))] + validate_check("lots", qn),
         observed={"drop_claims_match": 1}, samples={"drop_claims_match": [L_drop]})

# english_high_is_last_bid (a): the settled lot's recorded high amount is not its
# last bid's (the clearing price and the capture are untouched). Nor is it the
# proxy rule's price from the bids' maxima: english_proxy_price sees it too.
ha = "UPDATE lots SET high_amount = high_amount + %s WHERE id = %s"
case("english_high_is_last_bid (lot side)", {"english_high_is_last_bid", "english_proxy_price"},
     [(ha, (1, L_settled))], [(ha, (-1, L_settled))],
     observed={"english_high_is_last_bid": 1}, samples={"english_high_is_last_bid": [L_settled]})

# english_high_is_last_bid (b): the live lot's last bid row says 175, not 170 (still
# increasing; hold and lot still agree with each other). Its bidder's recorded
# maximum is then 175, not the lot's 170: english_proxy_price sees it too.
ba = "UPDATE bids SET amount = amount + %s WHERE id = %s"
case("english_high_is_last_bid (bid side)", {"english_high_is_last_bid", "english_proxy_price"},
     [(ba, (5, bid_ids[4]))], [(ba, (-5, bid_ids[4]))],
     observed={"english_high_is_last_bid": 1}, samples={"english_high_is_last_bid": [L_live]})

# english_bids_increase (a): bid #2 becomes 150, equal to bid #3.
case("english_bids_increase (amounts)", {"english_bids_increase"},
     [(ba, (30, bid_ids[2]))], [(ba, (-30, bid_ids[2]))],
     observed={"english_bids_increase": 1}, samples={"english_bids_increase": [L_live]})

# english_bids_increase (b): the last bid is renumbered 5: a gap in the sequence
# (lot.seq still counts 4 bids, the last by seq is still the high bid).
sq = "UPDATE bids SET seq = %s WHERE id = %s"
case("english_bids_increase (sequence gap)", {"english_bids_increase"},
     [(sq, (5, bid_ids[4]))], [(sq, (4, bid_ids[4]))],
     observed={"english_bids_increase": 1}, samples={"english_bids_increase": [L_live]})

# english_live_holds: the leader's hold is 3 short of the high amount; her held
# follows the hold, so holds_match_held still holds.
hm = "UPDATE holds SET amount = amount + %s WHERE id = %s"
case("english_live_holds", {"english_live_holds"},
     [(hm, (-3, live_hold)), (hd, (-3, alice))], [(hm, (3, live_hold)), (hd, (3, alice))],
     observed={"english_live_holds": 1}, samples={"english_live_holds": [L_live]})

# settled_lots_captured_once: the clearing price no longer matches the capture.
cp = "UPDATE lots SET clearing_price = clearing_price + %s WHERE id = %s"
case("settled_lots_captured_once", {"settled_lots_captured_once"},
     [(cp, (1, L_settled))], [(cp, (-1, L_settled))],
     observed={"settled_lots_captured_once": 1},
     samples={"settled_lots_captured_once": [L_settled]})

# captures_belong_to_lots: a plain transfer relabelled a capture, with no hold behind it.
tk = "UPDATE transfers SET kind = %s WHERE id = %s"
case("captures_belong_to_lots", {"captures_belong_to_lots"},
     ledger_off("transfers") + [(tk, ("capture", T_bc))] + ledger_on("transfers"),
     ledger_off("transfers") + [(tk, ("transfer", T_bc))] + ledger_on("transfers"),
     observed={"captures_belong_to_lots": 1}, samples={"captures_belong_to_lots": [T_bc]})

# dutch_paid_schedule_price: the claim is dated two intervals later, when the
# schedule's price was 400, but it paid 500.
ca = "UPDATE bids SET created_at = created_at + make_interval(secs => %s) WHERE id = %s"
case("dutch_paid_schedule_price", {"dutch_paid_schedule_price"},
     [(ca, (7200, dutch_claim["id"]))], [(ca, (-7200, dutch_claim["id"]))],
     observed={"dutch_paid_schedule_price": 1},
     samples={"dutch_paid_schedule_price": [dutch_claim["id"]]})

# purchases_paid: a drop claim loses its purchase transfer.
claim_tid = drop_claims[1]["transfer_id"]
bt = "UPDATE bids SET transfer_id = %s WHERE id = %s"
case("purchases_paid", {"purchases_paid"},
     [(bt, (None, drop_claims[1]["id"]))], [(bt, (claim_tid, drop_claims[1]["id"]))],
     observed={"purchases_paid": 1}, samples={"purchases_paid": [drop_claims[1]["id"]]})

# idempotency_keys_unique (a): bid #2 carries bid #1's key.
bk = "UPDATE bids SET idem_key = %s WHERE id = %s"
case("idempotency_keys_unique (bids)", {"idempotency_keys_unique"},
     [(bk, (bid_keys[1], bid_ids[2]))], [(bk, (bid_keys[2], bid_ids[2]))],
     observed={"idempotency_keys_unique": 1}, samples={"idempotency_keys_unique": [bid_keys[1]]})

# idempotency_keys_unique (b): two transfers under one key.
tkey = "UPDATE transfers SET idem_key = %s WHERE id = %s"
case("idempotency_keys_unique (transfers)", {"idempotency_keys_unique"},
     ledger_off("transfers") + [(tkey, (transfer_keys[T_ab], T_bc))] + ledger_on("transfers"),
     ledger_off("transfers") + [(tkey, (transfer_keys[T_bc], T_bc))] + ledger_on("transfers"),
     observed={"idempotency_keys_unique": 1},
     samples={"idempotency_keys_unique": [transfer_keys[T_ab]]})

# ---- the guards are back as they were ----------------------------------------

for (table, name), (definition, validated) in sorted(CHECK_DEFS.items()):
    is_(check_def(table, name), (definition, validated), f"{table}.{name} restored as it was")
is_(query("SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
          " WHERE c.relname IN ('accounts', 'transfers', 'entries') AND t.tgenabled <> 'O'"
          " ORDER BY 1, 2", user="postgres"), [],
    "every trigger on accounts, transfers and entries is enabled again")
is_(query("SELECT count(*) FROM pg_constraint WHERE conrelid IN ('accounts'::regclass,"
          " 'transfers'::regclass, 'entries'::regclass, 'lots'::regclass) AND NOT convalidated",
          user="postgres")[0][0], 0, "no constraint left NOT VALID")
is_(ledger_invariants(), [], "the test's own ledger invariants hold after the repairs")
r = healthy("final")


def settled_since_baseline():
    """Captures the jobs child made since the baseline, for lots other suites
    left running: each is a transfer of the system's with two entries."""
    return len({t for (t,) in query("SELECT id::text FROM transfers WHERE caller = 'system'")} - system_before)


def expected_counts(settled):
    want = list(db_counts)
    want[1] += settled
    want[2] += 2 * settled
    return dict(zip(["accounts", "transfers", "entries", "lots", "bids", "holds"], want))


# /proof and the count of settlements read two snapshots: a settlement that
# commits between them shows in one only, so read again until they agree
# (a tamper left behind never agrees).
got, settled = (r.json or {}).get("counts"), settled_since_baseline()
for _ in range(5):
    if got == expected_counts(settled):
        break
    time.sleep(0.5)
    got = (get("/proof", token=ADMIN).json or {}).get("counts")
    settled = settled_since_baseline()
is_(got, expected_counts(settled),
    f"final counts equal the baseline's (plus the {settled} settlements the jobs child made"
    " meanwhile): every tamper was undone")

# ---- every check is a named statement, described where its SQL is ---------
# sql/queries/proof.sql holds each check's SQL as proof_<check name>; its
# comment lines, joined by single spaces, are the description served.

def proof_sql_docs():
    """{statement name: its comment lines joined by single spaces} of proof.sql."""
    docs, cur, in_text = {}, None, False
    path = os.path.join(os.path.dirname(__file__), "..", "..", "sql", "queries", "proof.sql")
    with open(path) as f:
        for line in f:
            line = line.strip()
            m = re.match(r"^--\s*name:\s*(\w+)$", line)
            if m:
                cur, in_text = m.group(1), False
                docs[cur] = []
            elif cur and line.startswith("--") and not in_text:
                if line[2:].strip():
                    docs[cur].append(line[2:].strip())
            elif cur and line:
                in_text = True
    return {k: " ".join(v) for k, v in docs.items()}


docs = proof_sql_docs()
r = proof()
served = {c["name"]: c["description"] for c in (r.json or {}).get("checks", [])}
is_(sorted(served), sorted(ALL_CHECKS), "the served checks are the known ones")
is_({n: docs.get("proof_" + n) for n in served}, served,
    "every served description is, word for word, the comment of its proof_<check> statement")
is_(sorted(n[len("proof_"):] for n in docs if n[len("proof_"):] in ALL_CHECKS), sorted(served),
    "every check statement in proof.sql is served")

# ---- the bound checks ------------------------------------------------------
# sealer_keeps_up: the voided pending transfer (sealable; unsealed, as the sealer is
# frozen) is dated an hour back: the backlog's oldest row is over the 300 s bound.
P_voided_at = query("SELECT resolved_at FROM pending_transfers WHERE id = %s", (P_voided,))[0][0]
ok(P_voided_at is not None, "the voided pending transfer has its resolution time")
ra = "UPDATE pending_transfers SET resolved_at = %s WHERE id = %s"
case("sealer_keeps_up", {"sealer_keeps_up"},
     [("UPDATE pending_transfers SET resolved_at = now() - interval '1 hour' WHERE id = %s", (P_voided,))],
     [(ra, (P_voided_at, P_voided))],
     observed={"sealer_keeps_up": 3600}, samples={"sealer_keeps_up": [P_voided]})


def failed_pass_case(label):
    """A finished full pass that failed makes /proof 409, naming full_audit_passed, the
    check the pass failed and (admin only) its sample. The row is dated ahead so it is
    the latest pass whatever the jobs child runs meanwhile."""
    fa = str(uuid.uuid4())
    err = su([("INSERT INTO full_audits (id, status, requested_by, seal_no, tree_size, rows_read,"
               " failed_check, sample, created_at, started_at, finished_at) VALUES (%s, 'failed',"
               " 'test', 0, 0, 123, 'transfers_balanced', %s, now() + interval '1 day', now(), now())",
               (fa, T_ab))])
    if not ok(err is None, f"{label}: tamper committed", err):
        return
    try:
        r = proof()
        is_((r.status, failing(r)), (409, {"full_audit_passed"}), f"{label}: 409, only full_audit_passed fails")
        c = check_of(r, "full_audit_passed")
        is_((c.get("failed_check"), T_ab in (c.get("sample") or "")), ("transfers_balanced", True),
            f"{label}: the check names the failed check and (admin) its sample")
        fa_json = (r.json or {}).get("full_audit") or {}
        is_({k: fa_json.get(k) for k in ("id", "status", "rows_read", "interval_s")},
            {"id": fa, "status": "failed", "rows_read": 123, "interval_s": 3600},
            f"{label}: full_audit is the failed pass")
        u = get("/proof", token=t_alice)
        c = check_of(u, "full_audit_passed")
        is_((u.status, c.get("failed_check"), "sample" in c), (409, "transfers_balanced", False),
            f"{label}: a user sees the failed check but no sample")
        is_(curl_rc(), 22, f"{label}: curl -fsS exits 22")
    finally:
        ok(su([("DELETE FROM full_audits WHERE id = %s", (fa,))]) is None, f"{label}: repair committed")
    healthy(f"{label} repaired")


failed_pass_case("full_audit_passed (failed pass)")

# ---- sealed history: what only the live forms could miss ----------------------
# Everything sealable is sealed now (the real sealer); the tampers below hit
# current state or add unsealed rows next to sealed history, with the sealer
# frozen again so that it cannot seal (or refuse) them first.
seal_out = seal_now()
seal_freeze()
diag(f"zerosum seal: {seal_out.strip()}")
r = healthy("sealed")
sl = (r.json or {}).get("seal") or {}
top = query("SELECT seal_no, tree_size FROM seals ORDER BY seal_no DESC LIMIT 1")
is_((sl.get("seal_no"), sl.get("tree_size")), tuple(top[0]) if top else None, "seal is the latest seal")
is_(query("SELECT count(*) FROM transfers WHERE sealed IS NULL")[0][0], 0, "every transfer is sealed")
is_((r.json or {}).get("backlog", {}).get("rows"), 0, "nothing sealable is left: backlog.rows is 0")
ok(f"seal {sl.get('seal_no')}" in check_of(r, "balances_match_entries").get("covers", ""),
   "balances_match_entries covers history through the latest seal",
   check_of(r, "balances_match_entries").get("covers"))
is_(query("SELECT balance FROM seal_accounts WHERE account_id = %s", (alice,)),
    [(bal(alice),)], "alice's sealed aggregate is her balance (no unsealed entry of hers)")

# balances_match_entries against the sealed aggregate: 11 moves from bob to alice with no
# entry, while every entry of theirs is sealed.
case("balances_match_entries (sealed history)", {"balances_match_entries", "running_balances_match"},
     [(mv, (11, alice)), (mv, (-11, bob))], [(mv, (-11, alice)), (mv, (11, bob))],
     observed={"balances_match_entries": 2}, samples={"balances_match_entries": [alice, bob]})

# an orphan pair of entries next to sealed history
ghost = str(uuid.uuid4())
case("entries_have_transfers (sealed history)", {"entries_have_transfers", "running_balances_match"},
     ["ALTER TABLE entries DISABLE TRIGGER ALL", (ins, (ghost, alice, 9)),
      (ins, (ghost, alice, -9)), "ALTER TABLE entries ENABLE TRIGGER ALL"],
     ["ALTER TABLE entries DISABLE TRIGGER ALL",
      ("DELETE FROM entries WHERE transfer_id = %s", (ghost,)), "ALTER TABLE entries ENABLE TRIGGER ALL"],
     observed={"entries_have_transfers": 2})

# an unsealed pair of entries (+9/-9 on its payer: balanced, and alice's sum unchanged)
# added to a sealed transfer
case("transfers_balanced (unsealed entries of a sealed transfer)", {"transfers_balanced", "running_balances_match"},
     ["ALTER TABLE entries DISABLE TRIGGER ALL", (ins, (T_ab, alice, 9)),
      (ins, (T_ab, alice, -9)), "ALTER TABLE entries ENABLE TRIGGER ALL"],
     ["ALTER TABLE entries DISABLE TRIGGER ALL",
      ("DELETE FROM entries WHERE transfer_id = %s AND sealed IS NULL", (T_ab,)),
      "ALTER TABLE entries ENABLE TRIGGER ALL"],
     observed={"transfers_balanced": 1}, samples={"transfers_balanced": [T_ab]})

# full_audit_passed: seals exist and the last passed pass finished two hours ago
fa = str(uuid.uuid4())
case("full_audit_passed (no pass within the interval)", {"full_audit_passed"},
     [("INSERT INTO full_audits (id, status, requested_by, rows_read, created_at, started_at, finished_at)"
       " VALUES (%s, 'passed', 'test', 1, now() + interval '1 day', now() - interval '3 hours',"
       " now() - interval '2 hours')", (fa,))],
     [("DELETE FROM full_audits WHERE id = %s", (fa,))],
     observed={"full_audit_passed": 7200})
failed_pass_case("full_audit_passed (failed pass, sealed history)")
seal_thaw()

# ---- how long /proof takes -------------------------------------------------

times = []
for _ in range(7):
    t = time.perf_counter()
    r = proof()
    times.append((time.perf_counter() - t) * 1000)
ok(r.status == 200, "timed /proof calls answer 200")
diag(f"/proof: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms over {len(times)}"
     f" calls (HTTP round trip; {r.json['counts']['entries']} entries,"
     f" {r.json['counts']['bids']} bids)")
diag(f"test_proof.py took {time.time() - T0:.1f} s")

done()
