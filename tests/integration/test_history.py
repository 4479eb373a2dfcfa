"""Balance history and cursor pagination.

- GET /accounts/{id}/balance?at=: balance, held and available at instants
  (database time, read with clock_timestamp() between the steps) before,
  between and after transfers, a pending transfer and its post, English lot
  holds (a raise, an outbid), and a resting buy order partly filled then
  cancelled; without `at` it is the account row; bad and future instants.
- Every entry's balance_after and seq, on every path that writes entries.
- Every list route walked forwards and backwards against the database's
  order, and every parameter error.
- 20 concurrent writers while a reader pages: every entry exactly once.
- The /proof check running_balances_match and its full form (tamper cases,
  the sealer frozen), and the migration's back-fill recomputing the columns.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import re
import subprocess
import threading
import uuid

ADMIN = admin_token()
REPO = os.path.join(os.path.dirname(__file__), "..", "..")
DSQL = "dialect = dsql" in open(os.path.join(ZS_VAR, "zerosum.conf")).read()


def must(r, status, what):
    if r.status != status:
        raise RuntimeError(f"{what}: {r.status} {r.body[:300]}")
    return r.json


def instant():
    """The database clock now, as an RFC 3339 instant with microseconds."""
    return query("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                 "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")[0][0]


def bal_at(aid, tok, at=None):
    q = f"/accounts/{aid}/balance" + (f"?at={at}" if at else "")
    r = get(q, token=tok)
    b = (r.json or {}).get("balance") or {}
    return r, (b.get("balance"), b.get("held"), b.get("available"))


# ---- history of one account ------------------------------------------------------

T = {"before": instant()}
alice, ta = create_account("hist-alice", 1000)
bob, tb = create_account("hist-bob", 1000)
carol, tc = create_account("hist-carol", 0)
dave, td = create_account("hist-dave", 0)
T["funded"] = instant()
must(post("/transfer", {"from": alice, "to": bob, "amount": 100}, token=ta), 201, "transfer")
T["paid"] = instant()
pend = must(post("/transfer", {"from": alice, "to": bob, "amount": 50, "pending": True}, token=ta),
            201, "pending")["transfer"]["id"]
T["pending"] = instant()
lot = create_lot(kind="english", seller=carol, start=200, increment=10, ends_in=3600)["id"]
must(place_bid(ta, lot, amount=200), 201, "alice bids 200")
T["bid"] = instant()
must(place_bid(ta, lot, amount=250), 201, "alice raises to 250")
T["raised"] = instant()
must(place_bid(tb, lot, amount=300), 201, "bob outbids")
T["outbid"] = instant()
must(post(f"/transfers/{pend}/post", {"amount": 30}, token=ta), 200, "post 30 of 50")
T["posted"] = instant()
mkt = must(post("/markets", {"kind": "shares", "title": "hist shares", "owner": dave, "supply": 100},
                token=ADMIN), 201, "market")["market"]["id"]
order = must(post("/order", {"market": mkt, "side": "buy", "price": 10, "quantity": 5,
                             "time_in_force": "gtc"}, token=ta), 201, "alice's resting buy")["order"]["id"]
T["order"] = instant()
must(post("/order", {"market": mkt, "side": "sell", "price": 10, "quantity": 2, "time_in_force": "ioc"},
          token=td), 201, "dave sells 2 into it")
T["filled"] = instant()
must(request("DELETE", f"/order/{order}", token=ta, key=new_key()), 200, "cancel the rest")
T["cancelled"] = instant()

WANT = {  # alice: (balance, held)
    "before": (0, 0), "funded": (1000, 0), "paid": (900, 0), "pending": (900, 50),
    "bid": (900, 250), "raised": (900, 300), "outbid": (900, 50), "posted": (870, 0),
    "order": (870, 50), "filled": (850, 30), "cancelled": (850, 0),
}
for name, (b, h) in WANT.items():
    r, got = bal_at(alice, ta, T[name])
    is_((r.status, got), (200, (b, h, b - h)), f"balance at {name} ({T[name]}): {b}, held {h}")
r, now_b = bal_at(alice, ta)
acct = must(get(f"/accounts/{alice}", token=ta), 200, "account")["account"]
is_(now_b, (acct["balance"], acct["held"], acct["available"]), "without at: the account as it is now")
is_(r.json["balance"]["account"], alice, "the answer names the account")
r2, at_now = bal_at(alice, ta, instant())
is_(at_now, now_b, "at = the database's now: the same as without at (history agrees with the row)")
for aid, tok in ((bob, tb), (dave, td), (ISSUER, ADMIN)):
    row = query("SELECT balance, held FROM accounts WHERE id = %s", (aid,))[0]
    _, got = bal_at(aid, tok, instant())
    is_(got[:2], tuple(row), f"balance at now of {aid[:8]}: the account row's balance and held")

for bad in ("yesterday", "2026-01-02", "2026-02-30T00:00:00Z", "2026-01-02T03:04:05", "", "%00"):
    r = get(f"/accounts/{alice}/balance?at={bad}", token=ta)
    ok(r.status == 400 and r.code in ("invalid_at", "invalid_string"), f"at={bad!r}: 400", r)
is_problem(get(f"/accounts/{alice}/balance?at=2999-01-01T00:00:00Z", token=ta), 400, "at_in_future",
           "an instant after now: 400 at_in_future")
r, got = bal_at(alice, ta, T["paid"].replace("Z", "+00:00").replace("+", "%2B"))
is_(got[0], 900, "an offset +00:00 (encoded) is the same instant")
r, got = bal_at(alice, ta, T["paid"].replace("Z", "+00:00"))
is_(got[0], 900, "a + sent unencoded (a space) is read as +")
is_problem(get(f"/accounts/{alice}/balance", token=tb), 404, "account_not_found",
           "someone else's balance: 404, as a missing account")
is_problem(get(f"/accounts/{uuid.uuid4()}/balance", token=ADMIN), 404, "account_not_found",
           "an unknown account: 404")
ok(bal_at(alice, ADMIN)[0].status == 200, "the admin may read it")

# ---- running balances on every path that wrote entries above ---------------------
rows = query("""SELECT e.account_id::text, e.seq, e.amount, e.balance_after, t.kind
                  FROM entries e JOIN transfers t ON t.id = e.transfer_id
                 WHERE e.account_id IN (%s, %s, %s, %s) ORDER BY e.account_id, e.seq""",
             (alice, bob, carol, dave))
bad, prev = [], {}
for aid, seq, amount, after, kind in rows:
    p = prev.get(aid, (0, 0))
    if seq != p[0] + 1 or after != p[1] + amount:
        bad.append((aid, seq, amount, after, kind))
    prev[aid] = (seq, after)
is_(bad, [], "every entry: seq = previous + 1 and balance_after = previous + amount")
kinds = {k for *_, k in rows}
ok({"issue", "transfer", "trade"} <= kinds, "issue, transfer and trade entries among them", kinds)
for aid in (alice, bob, carol, dave):
    last = query("SELECT balance_after FROM entries WHERE account_id = %s ORDER BY seq DESC LIMIT 1", (aid,))
    is_(last[0][0] if last else 0, balance(aid)[0], f"last balance_after = the balance of {aid[:8]}")

# ---- every list route, forwards and backwards -------------------------------------
for i in range(3):
    must(post("/transfer", {"from": bob, "to": alice, "amount": i + 1}, token=tb), 201, "more transfers")
    must(place_bid(ta if i % 2 == 0 else tb, lot, amount=310 + 10 * i), 201, "more bids")
for i in range(2):
    must(post("/markets", {"kind": "event", "title": f"hist event {i}"}, token=ADMIN), 201, "market")
    create_lot(kind="drop", seller=carol, price=5, quantity=2)
    must(post("/order", {"market": mkt, "side": "buy", "price": 11, "quantity": 1, "time_in_force": "gtc"},
              token=tb), 201, "bob buys")
    must(post("/order", {"market": mkt, "side": "sell", "price": 11, "quantity": 1, "time_in_force": "ioc"},
              token=td), 201, "dave sells")
for i in range(3):
    query("INSERT INTO stampede_runs (id, scenario, n, status, requested_by, created_at, finished_at)"
          " VALUES (%s, 'oversell', 3, 'passed', 'history', now() - make_interval(secs => %s), now())",
          (str(uuid.uuid4()), i))

LISTS = [  # (path, token, DB ids in list order, id field)
    (f"/accounts/{alice}/entries", ta,
     "SELECT id::text FROM entries WHERE account_id = %s ORDER BY seq DESC", (alice,), "id"),
    (f"/accounts/{alice}/transfers", ta,
     "SELECT transfer_id::text FROM entries WHERE account_id = %s ORDER BY seq DESC", (alice,), "id"),
    ("/lots", None, "SELECT id::text FROM lots ORDER BY created_at DESC, id DESC", (), "id"),
    (f"/lots/{lot}/bids", None, "SELECT id::text FROM bids WHERE lot_id = %s ORDER BY seq DESC", (lot,), "id"),
    ("/markets", None, "SELECT id::text FROM markets ORDER BY created_at DESC, id DESC", (), "id"),
    (f"/markets/{mkt}/trades", None,
     "SELECT id::text FROM trades WHERE market_id = %s ORDER BY seq DESC, id DESC", (mkt,), "id"),
    ("/proof/runs", ADMIN, "SELECT id::text FROM stampede_runs ORDER BY created_at DESC, id DESC", (), "id"),
]


def page(path, tok, **params):
    q = "&".join(f"{k}={v}" for k, v in params.items())
    r = get(path + ("?" + q if q else ""), token=tok)
    if r.status != 200:
        raise RuntimeError(f"GET {path}?{q}: {r.status} {r.body[:300]}")
    j = r.json
    if j.get("object") != "list" or set(j) != {"object", "data", "has_more"}:
        raise RuntimeError(f"GET {path}: not a list object: {r.body[:200]}")
    return j


def walk_forward(path, tok, limit):
    seen, cur = [], None
    for _ in range(1000):
        j = page(path, tok, limit=limit, **({"starting_after": cur} if cur else {}))
        seen += [x["id"] for x in j["data"]]
        if not j["has_more"]:
            return seen
        cur = j["data"][-1]["id"]
    raise RuntimeError("no end")


def walk_backward(path, tok, limit, last):
    """From the oldest item back to the newest with ending_before; the ids in list order."""
    seen, cur = [last], last
    for _ in range(1000):
        j = page(path, tok, limit=limit, ending_before=cur)
        seen = [x["id"] for x in j["data"]] + seen
        if not j["has_more"]:
            return seen
        cur = j["data"][0]["id"]
    raise RuntimeError("no end")


for path, tok, sql, args, _ in LISTS:
    want = [r[0] for r in query(sql, args)]
    ok(len(want) >= 3, f"{path}: at least 3 items to page through ({len(want)})")
    fwd = walk_forward(path, tok, 2)
    is_(fwd, want, f"{path}: limit=2 pages forward give the database's order, each once")
    is_(walk_backward(path, tok, 2, want[-1]), want, f"{path}: ending_before pages back give the same")
    first = page(path, tok)
    is_(len(first["data"]), min(10, len(want)), f"{path}: the default limit is 10")
    is_(first["has_more"], len(want) > 10, f"{path}: has_more on the default page")
    j = page(path, tok, limit=100, starting_after=want[-1])
    is_((j["data"], j["has_more"]), ([], False), f"{path}: after the last item: empty, has_more false")
    j = page(path, tok, limit=1, ending_before=want[0])
    is_((j["data"], j["has_more"]), ([], False), f"{path}: before the first item: empty, has_more false")
    j = page(path, tok, limit=1, ending_before=want[2])
    is_(([x["id"] for x in j["data"]], j["has_more"]), ([want[1]], True),
        f"{path}: ending_before the third, limit 1: the second, has_more")
    for q, code in (("limit=0", "invalid_limit"), ("limit=101", "invalid_limit"), ("limit=abc", "invalid_limit"),
                    ("limit=", "invalid_limit"), ("limit=-1", "invalid_limit"), ("limit=1.5", "invalid_limit"),
                    ("starting_after=nope", "invalid_cursor"), ("ending_before=", "invalid_cursor"),
                    (f"starting_after={uuid.uuid4()}", "invalid_cursor"),
                    (f"ending_before={uuid.uuid4()}", "invalid_cursor"),
                    (f"starting_after={want[0]}&ending_before={want[1]}", "conflicting_cursors")):
        is_problem(get(f"{path}?{q}", token=tok), 400, code, f"{path}?{q}: 400 {code}")
# a cursor from another list of the same kind is not an item of this one
is_problem(get(f"/accounts/{alice}/entries?starting_after="
               f"{query('SELECT id::text FROM entries WHERE account_id = %s LIMIT 1', (bob,))[0][0]}", token=ta),
           400, "invalid_cursor", "entries: bob's entry is not a cursor of alice's list")
is_problem(get(f"/lots/{uuid.uuid4()}/bids"), 404, "lot_not_found", "bids of an unknown lot: 404")
is_problem(get("/lots/xyz/bids"), 404, "lot_not_found", "bids of a lot id that is no uuid: 404")
is_problem(get(f"/markets/{uuid.uuid4()}/trades"), 404, "market_not_found", "trades of an unknown market: 404")
is_problem(get("/markets/xyz/trades"), 404, "market_not_found", "trades of a market id that is no uuid: 404")
is_problem(get(f"/accounts/{alice}/transfers", token=tb), 404, "account_not_found",
           "someone else's transfers: 404")
e0 = page(f"/accounts/{alice}/entries", ta, limit=1)["data"][0]
ok(set(e0) == {"id", "transfer_id", "amount", "balance_after", "seq", "created_at", "kind", "counterparty"}
   and e0["balance_after"] == balance(alice)[0], "the newest entry shows the current balance as balance_after", e0)

# ---- 20 concurrent writers while a reader pages -----------------------------------
sink, ts = create_account("hist-sink", 1)
writers = [create_account(f"hist-w{i}", 1000) for i in range(20)]
done_writing = threading.Event()
errors = []


def writer(aid, tok):
    for i in range(8):
        r = post("/transfer", {"from": aid, "to": sink, "amount": 1 + i}, token=tok)
        if r.status != 201:
            errors.append(r.status)


def reader():
    """Newest first down to the oldest, then catch up with ending_before (the items just newer
    than the newest seen) until the writers are done and nothing newer is left."""
    seen, pages = [], 0
    j = page(f"/accounts/{sink}/entries", ts, limit=7)
    seen += [x["id"] for x in j["data"]]
    head = j["data"][0]["id"]
    while j["has_more"]:
        j = page(f"/accounts/{sink}/entries", ts, limit=7, starting_after=seen[-1])
        seen += [x["id"] for x in j["data"]]
    while True:
        finished = done_writing.is_set()
        j = page(f"/accounts/{sink}/entries", ts, limit=7, ending_before=head)
        pages += 1
        seen += [x["id"] for x in j["data"]]
        if j["data"]:
            head = j["data"][0]["id"]
        elif finished:
            return seen, pages


result = {}
rt = threading.Thread(target=lambda: result.update(out=reader()))
rt.start()
concurrently(writer, writers, max_workers=20)
done_writing.set()
rt.join(120)
seen, pages = result.get("out", ([], 0))
is_(errors, [], "160 concurrent transfers into one account: all 201")
db_ids = [r[0] for r in query("SELECT id::text FROM entries WHERE account_id = %s", (sink,))]
is_(len(db_ids), 161, "the sink has 161 entries (its funding and 160 transfers)")
is_(len(seen), len(set(seen)), f"the reader saw no entry twice ({pages} catch-up pages)")
is_(set(seen), set(db_ids), "the reader saw exactly the sink's entries in the database")
chain = query("SELECT seq, amount, balance_after FROM entries WHERE account_id = %s ORDER BY seq", (sink,))
okchain, run = True, 0
for i, (seq, amount, after) in enumerate(chain):
    run += amount
    okchain = okchain and seq == i + 1 and after == run
ok(okchain and run == balance(sink)[0], "under 20 writers the sink's running balances chain without a gap")

# ---- /proof: running_balances_match ----------------------------------------------
seal_freeze()


def failing():
    r = get("/proof", token=ADMIN)
    return r.status, sorted(c["name"] for c in r.json["checks"] if not c["ok"])


def tamper(sql, args):
    conn = db("postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE entries DISABLE TRIGGER USER")
            cur.execute(sql, args)
            cur.execute("ALTER TABLE entries ENABLE TRIGGER USER")
    finally:
        conn.close()


is_(failing(), (200, []), "before tampering: /proof consistent")
# the live checks walk the *_unsealed partial indexes: the history tables are vacuumed
# after a fixed number of changed rows, index pass included (guards 440), so the dead
# entries sealing leaves there never grow with the table
if not DSQL:
    opts = dict(query("SELECT relname, array_to_string(reloptions, ' ') FROM pg_class WHERE relname IN"
                      " ('transfers', 'entries', 'holds', 'bids', 'lots', 'trades', 'orders',"
                      " 'pending_transfers', 'credit_limits') AND relkind = 'r'"))
    is_(sorted(t for t, o in opts.items() if not o or "autovacuum_vacuum_scale_factor=0" not in o
               or "vacuum_index_cleanup=on" not in o), [],
        "every history table: autovacuum by a fixed threshold, with its indexes")
x, tx = create_account("hist-x", 500)
y, _ = create_account("hist-y", 0)
must(post("/transfer", {"from": x, "to": y, "amount": 7}, token=tx), 201, "x pays y")
eid = query("SELECT id::text FROM entries WHERE account_id = %s AND seq = 1", (x,))[0][0]
tamper("UPDATE entries SET balance_after = balance_after + 1 WHERE id = %s", (eid,))
is_(failing(), (409, ["running_balances_match"]), "an unsealed entry's balance_after off by one: caught alone")
tamper("UPDATE entries SET balance_after = balance_after - 1 WHERE id = %s", (eid,))
is_(failing(), (200, []), "repaired: consistent")
last = query("SELECT id::text FROM entries WHERE account_id = %s AND seq = 2", (x,))[0][0]
tamper("UPDATE entries SET seq = 5 WHERE id = %s", (last,))
is_(failing(), (409, ["running_balances_match"]), "a gap in an account's seq: caught")
tamper("UPDATE entries SET seq = 2 WHERE id = %s", (last,))
is_(failing(), (200, []), "repaired: consistent")
seal_now()
seal_freeze()
ok(query("SELECT sealed IS NOT NULL FROM entries WHERE id = %s", (last,))[0][0], "x's entries are sealed now")
tamper("UPDATE entries SET balance_after = balance_after + 3 WHERE id = %s", (last,))
# sealed history: the live form compares x's balance with its sealed aggregate (the
# balance after its last sealed entry, checked as it was sealed), not with every
# account's last entry; the full pass re-reads the entry
is_(failing(), (200, []), "a sealed last entry tampered: sealed history, not the live form's")
out = subprocess.run([os.path.join(REPO, "scripts", "zerosum"), "audit"], capture_output=True, text=True,
                     env=dict(os.environ, ZS_VAR=ZS_VAR), timeout=300)
verdict = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
ok(out.returncode == 1 and "running_balances_match" in verdict, "the full pass names it", verdict)
is_(failing(), (409, ["full_audit_passed"]), "…and /proof fails with the failed full pass")
tamper("UPDATE entries SET balance_after = balance_after - 3 WHERE id = %s", (last,))
out = subprocess.run([os.path.join(REPO, "scripts", "zerosum"), "audit"], capture_output=True, text=True,
                     env=dict(os.environ, ZS_VAR=ZS_VAR), timeout=300)
is_(out.returncode, 0, "repaired: the next full pass passes")
is_(failing(), (200, []), "repaired: consistent")

# an unsealed entry after sealed ones is checked against the account's last sealed
# entry as its aggregate keeps it (seal_accounts.last_*), not looked up in history
must(post("/transfer", {"from": x, "to": y, "amount": 5}, token=tx), 201, "x pays y again")
e3, at3 = query("SELECT id::text, created_at FROM entries WHERE account_id = %s AND seq = 3", (x,))[0]
kept = query("SELECT last_seq, last_balance, last_at FROM seal_accounts WHERE account_id = %s", (x,))[0]
is_(kept[:2], (2, 493), "x's aggregate keeps its last sealed entry: seq 2, balance 493")
is_(failing(), (200, []), "an unsealed entry after sealed ones: consistent")
tamper("UPDATE entries SET balance_after = balance_after + 1 WHERE id = %s", (e3,))
is_(failing(), (409, ["running_balances_match"]), "its balance_after off by one against the aggregate: caught")
tamper("UPDATE entries SET balance_after = balance_after - 1, created_at = %s - interval '1 second'"
       " WHERE id = %s", (kept[2], e3))
is_(failing(), (409, ["running_balances_match"]), "its time before the last sealed entry's: caught")
tamper("UPDATE entries SET created_at = %s WHERE id = %s", (at3, e3))
# an aggregate that does not keep its last entry (from before it did): looked up by key
conn = db("postgres")
conn.autocommit = True
conn.cursor().execute("UPDATE seal_accounts SET last_seq = NULL, last_balance = NULL, last_at = NULL"
                      " WHERE account_id = %s", (x,))
conn.close()
is_(failing(), (200, []), "without the aggregate's last entry: consistent")
tamper("UPDATE entries SET balance_after = balance_after + 1 WHERE id = %s", (e3,))
is_(failing(), (409, ["running_balances_match"]), "…and the tampered entry still caught, by lookup")
tamper("UPDATE entries SET balance_after = balance_after - 1 WHERE id = %s", (e3,))
seal_now()
is_(query("SELECT last_seq, last_balance, last_at FROM seal_accounts WHERE account_id = %s", (x,))[0],
    query("SELECT seq, balance_after, created_at FROM entries WHERE account_id = %s ORDER BY seq DESC LIMIT 1",
          (x,))[0], "the next seal fills the aggregate's last entry in, from x's last sealed entry")
is_(failing(), (200, []), "sealed: consistent")
seal_thaw()

# ---- the migration's back-fill recomputes what the writers wrote ------------------
src = open(os.path.join(REPO, "sql", "schema.sql" if DSQL else "postgres-guards.sql")).read()
m = re.search(r"^UPDATE entries SET seq = w\.seq.*?;", src, re.S | re.M)
ok(m is not None, "the back-fill statement is in the migration")
backfill = m.group(0).replace("AND to_regproc('zerosum_refuse_change') IS NULL", "")
want = query("SELECT id::text, seq, balance_after FROM entries WHERE account_id = %s ORDER BY id", (alice,))
ties = query("SELECT count(*) - count(DISTINCT created_at) FROM entries WHERE account_id = %s", (alice,))[0][0]
is_(ties, 0, "alice's entries have distinct times (so the back-fill's order is the writers')")
conn = db("postgres")
try:
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE entries DISABLE TRIGGER USER")
        cur.execute("UPDATE entries SET seq = NULL, balance_after = NULL WHERE account_id IN (%s, %s)",
                    (alice, sink))
        cur.execute(backfill)
        cur.execute("SELECT id::text, seq, balance_after FROM entries WHERE account_id = %s ORDER BY id", (alice,))
        got = cur.fetchall()
        cur.execute("SELECT seq, amount, balance_after FROM entries WHERE account_id = %s ORDER BY seq", (sink,))
        sink_chain = cur.fetchall()
    conn.rollback()
finally:
    conn.close()
is_(got, [tuple(w) for w in want], "the back-fill (a window per account) gives back alice's seq and balance_after")
run, good = 0, True
for i, (seq, amount, after) in enumerate(sink_chain):
    run += amount
    good = good and seq == i + 1 and after == run
ok(good and len(sink_chain) == 161 and run == balance(sink)[0],
   "the back-fill of the sink (ties in time ordered by id) is a valid chain ending at its balance")

is_(ledger_invariants(), [], "ledger invariants hold")
done()
