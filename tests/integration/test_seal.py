"""Sealing: the sealer's records, positions, Merkle tree, aggregates, state
commitment and hash chain, re-derived here from the database rows by an
encoder written from docs/PROOF-FORMAT.md alone (hashlib only).

After mixed activity (transfers, pending post/void, credit limits, English,
Dutch and drop
lots settled, a shares and an event market with trades, cancelled orders)
`scripts/zerosum seal` must seal every row in a final state and none that is
live; positions 0..n-1 are unique and contiguous across all tables; every
seal's root, state hash and chain hash recompute; a row that breaks a rule
blocks sealing (and /proof reports it) until it is repaired; concurrent
writers and a SIGKILLed sealer leave everything consistent and complete.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import atexit
import datetime
import hashlib
import json
import re
import signal
import subprocess
import threading
import uuid as uuidlib

ADMIN = admin_token()
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
ISSUER = "00000000-0000-0000-0000-000000000001"


# ---- an independent encoder (docs/PROOF-FORMAT.md) ----------------------------
def H(b):
    return hashlib.sha256(b).digest()


def R(kind, u):
    return H(f"zerosum/v1 {kind} {str(u).lower()}".encode()).hex()


def A(u):
    return R("account", u)


def P(caller, key, memo):
    return H(f"zerosum/v1 private\n{caller or ''}\n{key or ''}\n{memo or ''}".encode()).hex()


def us(t):
    return None if t is None else (t - EPOCH) // datetime.timedelta(microseconds=1)


def v(x):
    return "-" if x is None else str(x)


def ref_or_dash(kind, u):
    return "-" if u is None else R(kind, u)


def rec(kind, lines):
    return (f"zerosum/v1 {kind}\n" + "".join(f"{k} {val}\n" for k, val in lines)).encode()


def enc_transfer(t, entries):
    lines = [("ref", R("transfer", t["id"])), ("kind", t["kind"]), ("from", A(t["from_account"])),
             ("to", A(t["to_account"])), ("amount", t["amount"]), ("at", us(t["created_at"])),
             ("private", P(t["caller"], t["idem_key"], t["memo"]))]
    ents = sorted((R("entry", e["id"]), A(e["account_id"]), e["amount"]) for e in entries)
    lines += [("entry", f"{a} {b} {c}") for a, b, c in ents]
    return rec("transfer", lines)


def enc_hold(h):
    return rec("hold", [("ref", R("hold", h["id"])), ("account", A(h["account_id"])),
                        ("lot", R("lot", h["lot_id"])), ("bid", R("bid", h["bid_id"])),
                        ("amount", h["amount"]), ("state", h["state"]),
                        ("transfer", ref_or_dash("transfer", h["transfer_id"])),
                        ("at", us(h["created_at"])), ("ended", us(h["updated_at"]))])


def enc_bid(b):
    return rec("bid", [("ref", R("bid", b["id"])), ("lot", R("lot", b["lot_id"])),
                       ("bidder", A(b["bidder"])), ("amount", b["amount"]),
                       ("quantity", b["quantity"]), ("seq", b["seq"]), ("status", b["status"]),
                       ("transfer", ref_or_dash("transfer", b["transfer_id"])),
                       ("at", us(b["created_at"])), ("private", P("", b["idem_key"], b.get("max_amount")))])


def enc_lot(l):
    return rec("lot", [("ref", R("lot", l["id"])), ("kind", l["kind"]), ("seller", A(l["seller"])),
                       ("status", l["status"])]
               + [(k, v(l[k])) for k in ("start_price", "increment", "reserve", "floor_price",
                                         "step", "interval_s", "price")]
               + [("qty_total", l["qty_total"]), ("qty_claimed", l["qty_claimed"]),
                  ("seq", l["seq"]), ("high_amount", v(l["high_amount"])),
                  ("winner", "-" if l["winner"] is None else A(l["winner"])),
                  ("clearing_price", v(l["clearing_price"])), ("starts_at", us(l["starts_at"])),
                  ("ends_at", v(us(l["ends_at"]))), ("settled_at", v(us(l["settled_at"])))])


def enc_fill(f):
    return rec("fill", [("ref", R("trade", f["id"])), ("market", R("market", f["market_id"])),
                        ("kind", f["kind"]), ("outcome", f["outcome"]), ("price", f["price"]),
                        ("quantity", f["quantity"]), ("buyer", A(f["buyer"])),
                        ("seller", A(f["seller"])), ("cash_a", R("transfer", f["cash_a"])),
                        ("cash_b", ref_or_dash("transfer", f["cash_b"])), ("seq", f["seq"]),
                        ("at", us(f["created_at"]))])


def enc_order(o):
    return rec("order", [("ref", R("order", o["id"])), ("market", R("market", o["market_id"])),
                         ("account", A(o["account_id"])), ("side", o["side"]),
                         ("outcome", o["outcome"]), ("price", o["price"]),
                         ("quantity", o["quantity"]), ("remaining", o["remaining"]),
                         ("status", o["status"]), ("tif", o["time_in_force"]),
                         ("at", us(o["created_at"])), ("private", P("", o["idem_key"], ""))])


def enc_pending(p):
    return rec("pending", [("ref", R("pending", p["id"])), ("from", A(p["from_account"])),
                           ("to", A(p["to_account"])), ("amount", p["amount"]),
                           ("status", p["status"]), ("posted_amount", v(p["posted_amount"])),
                           ("transfer", ref_or_dash("transfer", p["transfer_id"])),
                           ("expires", us(p["expires_at"])), ("at", us(p["created_at"])),
                           ("private", P(p["caller"], p["idem_key"], p["memo"]))])


def enc_limit(c):
    return rec("limit", [("ref", R("limit", c["id"])), ("account", A(c["account_id"])),
                         ("credit_limit", c["credit_limit"]), ("at", us(c["created_at"]))])


def leaf(b):
    return H(b"\x00" + b)


def mth(leaves):
    """RFC 9162 section 2.1 Merkle tree hash."""
    n = len(leaves)
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return H(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def rows(sql, params=()):
    conn = db()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        conn.close()


TABLES = {"transfer": "transfers", "hold": "holds", "bid": "bids", "lot": "lots",
          "fill": "trades", "order": "orders", "pending": "pending_transfers", "limit": "credit_limits"}


def records():
    """Every sealed row as {position: (kind, row)}; entries by transfer id."""
    out = {}
    for kind, table in TABLES.items():
        for r in rows(f"SELECT * FROM {table} WHERE sealed IS NOT NULL"):
            ok(r["sealed"] not in out, f"position {r['sealed']} is used once", (kind, r["id"]))
            out[r["sealed"]] = (kind, r)
    ents = {}
    for e in rows("SELECT * FROM entries"):
        ents.setdefault(e["transfer_id"], []).append(e)
    return out, ents


def encode(kind, r, ents):
    return {"transfer": lambda: enc_transfer(r, ents.get(r["id"], [])), "hold": lambda: enc_hold(r),
            "bid": lambda: enc_bid(r), "lot": lambda: enc_lot(r), "fill": lambda: enc_fill(r),
            "order": lambda: enc_order(r), "pending": lambda: enc_pending(r),
            "limit": lambda: enc_limit(r)}[kind]()


def verify_all(label):
    """Everything a verifier checks, from the rows alone; returns the tree size.

    Its reads are many statements, not one snapshot: the sealer is frozen
    first (the next seal_now() thaws it), so the jobs child cannot seal a
    row that settles or expires meanwhile between two of them."""
    seal_freeze()
    seals = rows("SELECT * FROM seals ORDER BY seal_no")
    recs, ents = records()
    n = len(recs)
    size = seals[-1]["tree_size"] if seals else 0
    is_(sorted(recs), list(range(n)), f"{label}: positions are 0..{n - 1}, contiguous")
    is_(n, size, f"{label}: the latest seal's tree size is the number of sealed rows")
    for tid, es in ents.items():
        t = rows("SELECT sealed FROM transfers WHERE id = %s", (tid,))
        if t and not all(e["sealed"] == t[0]["sealed"] for e in es):
            ok(False, f"{label}: transfer {tid}'s entries carry its position")
    leaves = [leaf(encode(*recs[i], ents)) for i in range(n)]
    stored = {r["idx"]: bytes(r["hash"]) for r in rows("SELECT idx, hash FROM merkle_nodes WHERE level = 0")}
    is_(len(stored), n, f"{label}: one stored leaf per record")
    bad = [i for i in range(n) if stored.get(i) != leaves[i]]
    is_(bad[:5], [], f"{label}: every stored leaf hash is the hash of the re-encoded record")
    inner = rows("SELECT level, idx, hash FROM merkle_nodes WHERE level > 0")
    bad = [(r["level"], r["idx"]) for r in inner
           if mth(leaves[r["idx"] << r["level"]:(r["idx"] + 1) << r["level"]]) != bytes(r["hash"])]
    is_(bad[:5], [], f"{label}: every stored subtree node is the MTH of its leaves")
    want_inner = sum(n >> k for k in range(1, 63))
    is_(len(inner), want_inner, f"{label}: every complete perfect subtree is stored")
    prev = bytes(32)
    for s in seals:
        root = mth(leaves[:s["tree_size"]])
        ok(bytes(s["root"]) == root, f"{label}: seal {s['seal_no']}'s root recomputes from the records")
        ok(bytes(s["prev_hash"]) == prev, f"{label}: seal {s['seal_no']} chains to the previous one")
        h = H((f"zerosum/v1 seal\nno {s['seal_no']}\nsize {s['tree_size']}\nroot {root.hex()}\n"
               f"state {bytes(s['state_hash']).hex()}\nprev {prev.hex()}\n").encode())
        ok(bytes(s["hash"]) == h, f"{label}: seal {s['seal_no']}'s hash recomputes")
        prev = h
    # the aggregates replayed from the records alone (the fold rules)
    acc, lots, mk = {}, {}, {}
    for i in range(n):
        kind, r = recs[i]
        if kind == "transfer":
            for e in ents.get(r["id"], []):
                a = acc.setdefault(e["account_id"], [0, 0])
                a[0] += e["amount"]
                a[1] += 1
        elif kind == "hold":
            l = lots.setdefault(r["lot_id"], [0, 0, 0])
            l[1] += r["amount"] if r["state"] == "captured" else 0
        elif kind == "bid":
            l = lots.setdefault(r["lot_id"], [0, 0, 0])
            l[0] += r["quantity"] if r["status"] == "claimed" else 0
            l[2] += 1
        elif kind == "fill":
            m = mk.setdefault(r["market_id"], [0, 0, 0])
            m[0] += 1
            m[1] += r["quantity"]
            m[2] += r["quantity"] if r["kind"] == "mint" else 0
    db_acc = {r["account_id"]: [r["balance"], r["entries"]] for r in rows("SELECT * FROM seal_accounts")}
    db_lots = {r["lot_id"]: [r["claimed"], r["captured"], r["bids"]] for r in rows("SELECT * FROM seal_lots")}
    db_mk = {r["market_id"]: [r["fills"], r["quantity"], r["pairs"]] for r in rows("SELECT * FROM seal_markets")}
    ok(db_acc == acc, f"{label}: seal_accounts = the sums of the sealed entries")
    wrong_last = rows("""SELECT s.account_id, s.last_seq, m.seq FROM seal_accounts s
        LEFT JOIN LATERAL (SELECT seq, balance_after, created_at FROM entries x
          WHERE x.account_id = s.account_id AND x.sealed IS NOT NULL ORDER BY x.seq DESC LIMIT 1) m ON true
        WHERE (s.last_seq, s.last_balance, s.last_at) IS DISTINCT FROM (m.seq, m.balance_after, m.created_at)""")
    is_(wrong_last, [], f"{label}: each seal_accounts row keeps its account's last sealed entry")
    ok(db_lots == lots, f"{label}: seal_lots = the folds of the sealed bids and holds",
       {k: (db_lots.get(k), lots.get(k)) for k in set(db_lots) | set(lots) if db_lots.get(k) != lots.get(k)})
    ok(db_mk == mk, f"{label}: seal_markets = the folds of the sealed fills")
    if seals:
        text = f"zerosum/v1 state\nsize {size}\n"
        text += "".join(sorted(f"account {A(k)} {a[0]} {a[1]}\n" for k, a in acc.items()))
        text += "".join(sorted(f"lot {R('lot', k)} {l[0]} {l[1]} {l[2]}\n" for k, l in lots.items()))
        text += "".join(sorted(f"market {R('market', k)} {m[0]} {m[1]} {m[2]}\n" for k, m in mk.items()))
        ok(bytes(seals[-1]["state_hash"]) == H(text.encode()),
           f"{label}: the latest state hash recomputes from the replayed aggregates")
        cp = seals[-1]["checkpoint"] or ""
        body = cp.split("\n\n")[0] + "\n" if cp else ""
        import base64
        is_(body, f"zerosum.local/ledger\n{size}\n{base64.b64encode(mth(leaves)).decode()}\n"
                  f"zerosum-state {bytes(seals[-1]['state_hash']).hex()}\n",
            f"{label}: the latest checkpoint signs origin, size, root and state")
    return size


def sealable_unsealed():
    """Rows in a final state the sealer left unsealed (expected: none)."""
    return query("""
      SELECT (SELECT count(*) FROM transfers WHERE sealed IS NULL)
           + (SELECT count(*) FROM holds WHERE sealed IS NULL AND state <> 'active')
           + (SELECT count(*) FROM lots WHERE sealed IS NULL AND status <> 'live')
           + (SELECT count(*) FROM bids b JOIN lots l ON l.id = b.lot_id
               WHERE b.sealed IS NULL AND l.status <> 'live')
           + (SELECT count(*) FROM trades WHERE sealed IS NULL)
           + (SELECT count(*) FROM orders WHERE sealed IS NULL AND status <> 'open')
           + (SELECT count(*) FROM pending_transfers WHERE sealed IS NULL AND status <> 'pending')
           + (SELECT count(*) FROM credit_limits WHERE sealed IS NULL)""")[0][0]


def live_sealed():
    """Live rows the sealer sealed (expected: none)."""
    return query("""
      SELECT (SELECT count(*) FROM holds WHERE sealed IS NOT NULL AND state = 'active')
           + (SELECT count(*) FROM lots WHERE sealed IS NOT NULL AND status = 'live')
           + (SELECT count(*) FROM bids b JOIN lots l ON l.id = b.lot_id
               WHERE b.sealed IS NOT NULL AND l.status = 'live')
           + (SELECT count(*) FROM orders WHERE sealed IS NOT NULL AND status = 'open')
           + (SELECT count(*) FROM pending_transfers WHERE sealed IS NOT NULL AND status = 'pending')""")[0][0]


def must(r, status, what):
    if r.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {r}")
    return r.json


# ---- mixed activity -----------------------------------------------------------
alice, ta = create_account("alice", 5000)
bob, tb = create_account("bob", 3000)
carol, tc = create_account("carol", 3000)
seller, ts = create_account("seller", 0)
for i in range(5):
    must(post("/transfer", {"from": alice, "to": bob, "amount": 10 + i, "memo": f"m{i}"}, token=ta),
         201, "transfer")
p1 = must(post("/transfer", {"from": alice, "to": bob, "amount": 100, "pending": True}, token=ta), 201, "pend")
p2 = must(post("/transfer", {"from": alice, "to": carol, "amount": 50, "pending": True}, token=ta), 201, "pend")
p3 = must(post("/transfer", {"from": bob, "to": carol, "amount": 7, "pending": True}, token=tb), 201, "pend")
must(post(f"/transfers/{p1['transfer']['id']}/post", {"amount": 60}, token=ta), 200, "post")
must(post(f"/transfers/{p2['transfer']['id']}/void", {}, token=ta), 200, "void")
# credit limits: each one set is a history row, sealed as a `limit` record
must(request("PATCH", f"/accounts/{carol}", body={"credit_limit": 40}, token=ADMIN, key=new_key()), 200,
     "credit limit")
must(request("PATCH", f"/accounts/{carol}", body={"credit_limit": 25}, token=ADMIN, key=new_key()), 200,
     "credit limit lowered")
# English: two bids, ended in the database, settled by the sweep
eng = create_lot(kind="english", seller=seller, start=100, increment=10, ends_in=3600)
must(place_bid(tb, eng["id"], amount=100), 201, "english bid 1")
must(place_bid(tc, eng["id"], amount=120), 201, "english bid 2")
query("UPDATE lots SET ends_at = now() - interval '1 second' WHERE id = %s", (eng["id"],), user="postgres")
ok(wait_for(lambda: query("SELECT status FROM lots WHERE id = %s", (eng["id"],))[0][0] == "settled", 15),
   "the English lot settled")
# English, no bid at all: ends unsold; a sealed lot no bid or hold names
# has no aggregate (no zero line in the state)
bare = create_lot(kind="english", seller=seller, start=100, increment=10, ends_in=3600)
query("UPDATE lots SET ends_at = now() - interval '1 second' WHERE id = %s", (bare["id"],), user="postgres")
ok(wait_for(lambda: query("SELECT status FROM lots WHERE id = %s", (bare["id"],))[0][0] == "unsold", 15),
   "the English lot without bids ended unsold")
dutch = create_lot(kind="dutch", seller=seller, start=300, floor=100, step=50, interval=3600)
must(place_bid(tb, dutch["id"]), 201, "dutch buy")
drop = create_lot(kind="drop", seller=seller, price=20, quantity=3)
must(place_bid(tb, drop["id"], quantity=2), 201, "drop claim")
must(place_bid(tc, drop["id"], quantity=1), 201, "drop claim")
live = create_lot(kind="english", seller=seller, start=100, increment=10, ends_in=3600)
must(place_bid(tb, live["id"], amount=100), 201, "a bid on a live lot")
owner, to_ = create_account("owner", 0)
shares = must(post("/markets", {"kind": "shares", "title": "seal shares", "owner": owner, "supply": 100,
                                "tick_min": 1, "tick_max": 100}, token=ADMIN), 201, "market")["market"]
sell = must(post("/order", {"market": shares["id"], "side": "sell", "price": 5, "quantity": 10,
                            "time_in_force": "gtc"}, token=to_), 201, "sell")["order"]
must(post("/order", {"market": shares["id"], "side": "buy", "price": 5, "quantity": 4,
                     "time_in_force": "gtc"}, token=ta), 201, "buy")
rest = must(post("/order", {"market": shares["id"], "side": "buy", "price": 2, "quantity": 3,
                            "time_in_force": "gtc"}, token=tb), 201, "resting buy")["order"]
must(request("DELETE", f"/order/{rest['id']}", token=tb, key=new_key()), 200, "cancel")
event = must(post("/markets", {"kind": "event", "title": "seal event?"}, token=ADMIN), 201, "event")["market"]
must(post("/order", {"market": event["id"], "side": "buy", "outcome": "yes", "price": 60, "quantity": 3,
                     "time_in_force": "gtc"}, token=tb), 201, "yes")
must(post("/order", {"market": event["id"], "side": "buy", "outcome": "no", "price": 40, "quantity": 3,
                     "time_in_force": "gtc"}, token=tc), 201, "no")

# ---- seal everything ------------------------------------------------------------
out = json.loads(seal_now())
is_(sorted(out), ["checked", "checkpoint_us", "records", "round_us", "seal_no", "seals", "sign_us", "tree_size"],
    "zerosum seal prints its JSON line")
ok(out["seals"] >= 1 and 0 < out["sign_us"] <= out["checkpoint_us"],
   "…with the last seal's time producing its checkpoint, and signing it", out)
is_(sealable_unsealed(), 0, "every row in a final state is sealed")
is_(live_sealed(), 0, "no live row is sealed (active holds, live lots and their bids, open orders, pending)")
ok(query("SELECT count(*) FROM bids WHERE lot_id = %s AND sealed IS NULL", (live["id"],))[0][0] == 1,
   "the live lot's bid stays unsealed")
ok(query("SELECT sealed FROM lots WHERE id = %s", (bare["id"],))[0][0] is not None
   and query("SELECT count(*) FROM seal_lots WHERE lot_id = %s", (bare["id"],))[0][0] == 0,
   "the lot that ended without bids is sealed, with no aggregate row")
kinds = query("SELECT string_agg(counts, ' ') FROM seals")[0][0]
for k in ("transfer", "hold", "bid", "lot", "fill", "order", "pending", "limit"):
    ok(f"{k}=0" not in kinds or any(f"{k}={n}" in kinds for n in range(1, 1000)),
       f"some {k} record was sealed")
size = verify_all("after mixed activity")
is_(out["tree_size"], size, "the JSON line names the tree size")
r = get("/proof", token=ADMIN)
is_(r.status, 200, "/proof holds after sealing")

# ---- a row that breaks a rule blocks sealing --------------------------------------
seal_freeze()
bad = str(uuidlib.uuid4())
conn = db(user="postgres")
conn.autocommit = False
with conn.cursor() as cur:
    cur.execute("SET session_replication_role = replica")  # no guard triggers (as on dsql)
    cur.execute("INSERT INTO transfers (id, from_account, to_account, amount, kind, caller) "
                "VALUES (%s, %s, %s, 5, 'transfer', 'tamper')", (bad, alice, bob))
    cur.execute("INSERT INTO entries (transfer_id, account_id, amount) VALUES (%s, %s, 5)", (bad, bob))
conn.commit()
seal_thaw()
after = must(post("/transfer", {"from": alice, "to": bob, "amount": 1}, token=ta), 201,
             "a transfer after it")["transfer"]["id"]
before = query("SELECT count(*) FROM seals")[0][0]
out = json.loads(seal_now())
is_((out["seals"], out.get("blocked")), (0, "transfers_balanced"), "the unbalanced transfer blocks sealing")
is_((out["checkpoint_us"], out["sign_us"]), (0, 0), "no seal, no checkpoint timed")
is_(query("SELECT count(*) FROM seals")[0][0], before, "nothing was sealed after it")
# (only these two: the jobs child may settle another suite's lot meanwhile, whose
# capture stays unsealed behind the bad row too)
is_(query("SELECT count(*) FROM transfers WHERE sealed IS NULL AND id IN (%s, %s)", (bad, after))[0][0], 2,
    "both transfers stay unsealed")
r = get("/proof", token=ADMIN)
is_(r.status, 409, "/proof reports the broken rule")
ok(any(c["name"] == "transfers_balanced" and not c["ok"] for c in (r.json or {}).get("checks", [])),
   "…naming transfers_balanced")
with conn.cursor() as cur:
    cur.execute("SET session_replication_role = replica")
    cur.execute("DELETE FROM entries WHERE transfer_id = %s", (bad,))
    cur.execute("DELETE FROM transfers WHERE id = %s", (bad,))
    cur.execute("UPDATE accounts SET balance = balance WHERE id = %s", (bob,))
conn.commit()
conn.close()
out = json.loads(seal_now())
ok("blocked" not in out and out["seal_no"] > before, "repaired, sealing resumes", out)
is_(sealable_unsealed(), 0, "everything is sealed again")
verify_all("after the repair")

# ---- concurrent writers while sealing ----------------------------------------------
stop = threading.Event()
errors = []


def writer(tok, frm, to):
    while not stop.is_set():
        r = post("/transfer", {"from": frm, "to": to, "amount": 1}, token=tok)
        if r.status not in (201, 503):
            errors.append(r.status)


threads = [threading.Thread(target=writer, args=a) for a in
           ((ta, alice, bob), (tb, bob, carol), (tc, carol, alice), (ta, alice, carol))]
for t in threads:
    t.start()
runs = []
for _ in range(4):
    runs.append(json.loads(seal_now()))
stop.set()
for t in threads:
    t.join()
is_(errors, [], "writers were never refused while the sealer ran")
seal_now()
is_(sealable_unsealed(), 0, "after the writers stop, everything is sealed")
verify_all("after concurrent writers")
is_(get("/proof", token=ADMIN).status, 200, "/proof holds")

# ---- SIGKILL in the middle of a backlog ------------------------------------------------
seal_freeze()
concurrently(lambda i: post("/transfer", {"from": alice, "to": bob, "amount": 1}, token=ta),
             [(i,) for i in range(120)], max_workers=8)
conf = os.path.join(ZS_VAR, "seal-small.conf")
with open(os.path.join(ZS_VAR, "zerosum.conf")) as f, open(conf, "w") as g:
    g.write(f.read() + "seal_batch_rows = 40\n")
seals_before = query("SELECT count(*) FROM seals")[0][0]
p = subprocess.Popen([os.environ.get("ZS_BIN", os.path.join(REPO, "build", "zerosum")), "seal", "-c", conf],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
# hand the frozen lease straight to this sealer (its owner name is cli-<pid>),
# so the jobs child cannot take the backlog first
query("UPDATE leases SET owner = %s WHERE name = 'sealer' AND owner = %s", (f"cli-{p.pid}", SEAL_FREEZER))
ok(wait_for(lambda: query("SELECT count(*) FROM seals")[0][0] >= seals_before + 2, 30, 0.005),
   "the small-batch sealer commits seal after seal")
p.send_signal(signal.SIGKILL)
p.wait()
# the dead sealer's lease is given back as a crash would leave it: to lapse; take it over
query("UPDATE leases SET owner = %s, expires = now() + interval '1 hour' WHERE name = 'sealer' AND owner = %s",
      (SEAL_FREEZER, f"cli-{p.pid}"))
left = query("SELECT count(*) FROM transfers WHERE sealed IS NULL")[0][0]
ok(left > 0, "killed mid-backlog: some transfers are still unsealed", left)
verify_all("after SIGKILL")
out = json.loads(seal_now())
ok(out["records"] >= left, "the rerun seals the rest", (out, left))
is_(sealable_unsealed(), 0, "…and nothing sealable is left")
verify_all("after the rerun")
small = rows("SELECT records, counts FROM seals WHERE seal_no > %s AND records < 20", (seals_before,))
ok(len(small) >= 2, "small seals kept to the 40-row budget", small[:3])

# ---- verified seals: the checks once for several seals ----------------------------------
# A backlog of many small seals: the first runs every check and keeps the
# prints of the transfers it verified beyond its own batch; the seals after
# it take those transfers unchecked, each exactly as it was verified. The
# records must be the ones the independent encoder derives, all the same.
seal_freeze()
concurrently(lambda i: post("/transfer", {"from": bob, "to": carol, "amount": 1}, token=tb),
             [(i,) for i in range(60)], max_workers=8)
p = subprocess.Popen([os.environ.get("ZS_BIN", os.path.join(REPO, "build", "zerosum")), "seal", "-c", conf],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
query("UPDATE leases SET owner = %s WHERE name = 'sealer' AND owner = %s", (f"cli-{p.pid}", SEAL_FREEZER))
sout, serr = p.communicate(timeout=120)
ok(p.returncode == 0, "zerosum seal over a backlog of small seals", serr)
out = json.loads(sout)
ok(out["seals"] >= 6 and 1 <= out["checked"] < out["seals"],
   "most seals take transfers a checked seal verified, without the checks", out)
is_(query("SELECT count(*) FROM transfers WHERE sealed IS NULL")[0][0], 0, "the backlog is sealed")
verify_all("after verified seals")

# ---- a seal without checks signs only the aggregates the last seal signed ----------------
# A run's first seal is checked; while a later, unchecked one waits on a row
# lock (the test holds the newest transfer FOR UPDATE, so every seal before
# it goes through), the sealed aggregate of an account is tampered with.
# The waiting seal then retries on a snapshot that sees the tamper. It must
# not fold into that and sign it: it finds the aggregates differ from what
# the latest seal signed, checks again, and is blocked by the check that
# names the damage. Nothing is sealed after the tamper.
seal_freeze()
concurrently(lambda i: post("/transfer", {"from": bob, "to": carol, "amount": 1}, token=tb),
             [(i,) for i in range(60)], max_workers=8)
newest = query("SELECT id FROM transfers WHERE sealed IS NULL ORDER BY created_at DESC, id DESC LIMIT 1")[0][0]
holder = db()
holder.autocommit = False
hc = holder.cursor()
hc.execute("SELECT pg_backend_pid()")
holder_pid = hc.fetchone()[0]
hc.execute("SELECT 1 FROM transfers WHERE id = %s FOR UPDATE", (newest,))
seals_before = query("SELECT count(*) FROM seals")[0][0]
p = subprocess.Popen([os.environ.get("ZS_BIN", os.path.join(REPO, "build", "zerosum")), "seal", "-c", conf],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
query("UPDATE leases SET owner = %s WHERE name = 'sealer' AND owner = %s", (f"cli-{p.pid}", SEAL_FREEZER))
waiting = wait_for(lambda: query("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                                 (holder_pid,))[0][0] > 0, 60, 0.01)
ok(waiting, "a seal of the run waits on the newest transfer")
sealed_then = query("SELECT count(*) FROM seals")[0][0]
ok(sealed_then >= seals_before + 2, "…after a checked seal and at least one without checks",
   (seals_before, sealed_then))
hc.execute("UPDATE seal_accounts SET balance = balance + 1 WHERE account_id = %s", (bob,))
holder.commit()
sout, serr = p.communicate(timeout=120)
out = json.loads(sout) if sout.strip() else {}
is_(query("SELECT count(*) FROM seals")[0][0], sealed_then, "nothing is sealed over the tampered aggregate")
ok(out.get("blocked") == "balances_match_entries", "…the seal checked again, and the check names it",
   (out, serr[-300:]))
ok(query("SELECT sealed FROM transfers WHERE id = %s", (newest,))[0][0] is None, "…the newest transfer is unsealed")
hc.execute("UPDATE seal_accounts SET balance = balance - 1 WHERE account_id = %s", (bob,))
holder.commit()
holder.close()
seal_now()
is_(query("SELECT count(*) FROM transfers WHERE sealed IS NULL AND id = %s", (newest,))[0][0], 0,
    "repaired, the rest is sealed")
verify_all("after the aggregate tamper and its repair")

# ---- the sealer is a process of its own -------------------------------------------------
# a child of the jobs child; killed, it is started again and sealing goes on
seal_thaw()   # verify_all() left it frozen
LOG = os.path.join(ZS_VAR, "log", "zerosum.log")


def sealer_pids():
    with open(LOG, errors="replace") as f:
        return [int(m.group(1)) for m in re.finditer(r"sealer started \(pid (\d+)\)", f.read())]


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].split()[0] != "Z"
    except OSError:
        return False


ok(wait_for(lambda: sealer_pids() and alive(sealer_pids()[-1]), 15), "the jobs child started a sealer process",
   sealer_pids())
first = sealer_pids()[-1]


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().split(") ", 1)[1].split()[1])


with open(os.path.join(ZS_VAR, "run", "zerosum.pid")) as f:
    supervisor = int(f.read().split()[0])
jobs_pid = parent_of(first)
ok(jobs_pid != supervisor and parent_of(jobs_pid) == supervisor,
   "…a child of the supervisor's child (the jobs child), not of the supervisor", (first, jobs_pid, supervisor))
os.kill(first, signal.SIGKILL)
ok(wait_for(lambda: sealer_pids()[-1] != first and alive(sealer_pids()[-1]), 15),
   "a SIGKILLed sealer is started again", sealer_pids()[-3:])
r = must(post("/transfer", {"from": carol, "to": alice, "amount": 1}, token=tc), 201, "a transfer after the kill")
tid = r["transfer"]["id"]
ok(wait_for(lambda: query("SELECT sealed FROM transfers WHERE id = %s", (tid,))[0][0] is not None, 30),
   "…is sealed by the new sealer process")
verify_all("after the sealer process was killed")


# ---- a lease held elsewhere costs the sealer no checks ------------------------
# The sealer sends every check with its lease request (one round trip). While
# someone else holds the lease (an operator's freeze, another jobs child) that
# would run every check once a round for nothing; after a miss it asks for the
# lease alone first. The account checks read the sealed aggregates of every
# account (seal_accounts), which nothing else reads but /proof, a seal and a
# full pass: no read of them may happen while the lease is frozen. This test
# holds the full pass's lease meanwhile (waiting for one running).
AUDIT_FREEZER = "test-seal-no-checks"


def give_audit_lease_back():
    query("UPDATE leases SET owner = NULL, expires = NULL WHERE name = 'full_audit' AND owner = %s",
          (AUDIT_FREEZER,))


atexit.register(give_audit_lease_back)  # a test that dies holding it must not stall the suites after it


def take_audit_lease():
    query("INSERT INTO leases (name) VALUES ('full_audit') ON CONFLICT (name) DO NOTHING")
    return query("""UPDATE leases SET owner = %s, expires = clock_timestamp() + interval '10 minutes'
                     WHERE name = 'full_audit' AND (owner IS NULL OR expires < clock_timestamp())
                 RETURNING 1""", (AUDIT_FREEZER,)) == [(1,)]


def aggregate_reads():
    return query("SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_user_tables"
                 " WHERE relname = 'seal_accounts'")[0][0]


ok(wait_for(take_audit_lease, 120), "the full pass's lease, taken for the window")
seal_freeze()
# the round after the freeze still checks (then it knows). A backend sends its
# counts at most once a second, and one that just did may hold them until it
# is next idle: wait until they have stood still for 2 s, then watch
def settled():
    before = aggregate_reads()
    time.sleep(2)
    return aggregate_reads() == before


ok(wait_for(settled, 30), "the account aggregates' read counts settle after the freeze")
scans = aggregate_reads()
time.sleep(4)  # four of the sealer's rounds (seal_interval_ms 1000)
ok(aggregate_reads() == scans, "a frozen lease: the sealer's rounds read no account aggregates (4 s)",
   (scans, aggregate_reads()))
seal_thaw()
give_audit_lease_back()
r = must(post("/transfer", {"from": carol, "to": alice, "amount": 1}, token=tc), 201, "a transfer after the thaw")
tid = r["transfer"]["id"]
ok(wait_for(lambda: query("SELECT sealed FROM transfers WHERE id = %s", (tid,))[0][0] is not None, 30),
   "…is sealed once the lease is given back")
ok(wait_for(lambda: aggregate_reads() > scans, 10), "…by a seal that ran the account checks again",
   (scans, aggregate_reads()))
done()
