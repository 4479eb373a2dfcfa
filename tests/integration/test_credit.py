"""Credit limits: PATCH /accounts/{id} {"credit_limit": N} (admin), and every
debit and hold keeping balance - held >= -credit_limit.

Validation (403 for a user, 422 with stable codes, 404, 409 for the issuer
and escrow accounts, 409 credit_limit_in_use when lowered below the credit
already used), each refusal checked to write nothing. Then every way money
leaves or is reserved on an account that has a limit: a transfer, a pending
transfer (and its post), a linked batch, an English bid's hold, a buy
order's hold, a drop claim; each allowed exactly up to the limit and
refused one unit past it with 422 insufficient_funds and nothing moved.
Real concurrent clients then race debits and holds against one limit: the
account ends exactly at -credit_limit, never below. /proof stays consistent
throughout, and a tamper (a limit lowered behind the application's back)
fails exactly within_credit_limit. The ledger then ends overdrawn: every
limit set is a credit_limits row sealed as a `limit` record, so the offline
verifier's replay passes; a lower limit logged behind the API's back fails
exactly its no_negative_balances, and a limit set again passes.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import threading

ADMIN = admin_token()
alice, ta = create_account("credit-alice", 100)
bob, tb = create_account("credit-bob", 0)
seller, ts = create_account("credit-seller", 0)


def patch(aid, body, token=ADMIN, key="auto"):
    if key == "auto":
        key = new_key()
    return request("PATCH", f"/accounts/{aid}", body=body, token=token, key=key)


def limit_of(aid):
    return query("SELECT credit_limit FROM accounts WHERE id = %s", (aid,))[0][0]


def no_write(name, fn):
    """fn(key) must write nothing: no money, no limit, not even its key."""
    key = new_key()
    fp, lim = ledger_fingerprint(), query("SELECT md5(string_agg(id::text || ':' || coalesce(credit_limit, -1),"
                                         " ',' ORDER BY id)) FROM accounts")[0][0]
    r = fn(key)
    keys = query("SELECT count(*) FROM idempotency_keys WHERE key = %s", (key,))[0][0]
    lim2 = query("SELECT md5(string_agg(id::text || ':' || coalesce(credit_limit, -1), ',' ORDER BY id))"
                 " FROM accounts")[0][0]
    ok(fp == ledger_fingerprint() and lim == lim2 and keys == 0, f"{name}: nothing written",
       f"before {fp}\nafter {ledger_fingerprint()}\nkey rows {keys}")
    return r


# This suite's own accounts and the transfers that touch them: the jobs child
# may settle lots other suites left behind meanwhile, which moves their money.
MINE = "SELECT id FROM accounts WHERE left(name, 7) = 'credit-'"


def own_state():
    return (query("SELECT md5(string_agg(id::text || ':' || balance || ':' || held, ',' ORDER BY id))"
                  " FROM accounts WHERE left(name, 7) = 'credit-'")[0][0],
            query(f"SELECT count(*) FROM transfers WHERE from_account IN ({MINE}) OR to_account IN ({MINE})")[0][0])


def unmoved(name, fn):
    """fn() is refused after the key claim: the refusal is stored, no money moves."""
    before = own_state()
    r = fn()
    ok(before == own_state(), f"{name}: no balance or hold changed")
    return r


def consistent(label):
    r = get("/proof", token=ADMIN)
    bad = [c["name"] for c in (r.json or {}).get("checks", []) if not c.get("ok")]
    ok(r.status == 200 and not bad, f"{label}: /proof is consistent", bad)
    names = {c["name"] for c in (r.json or {}).get("checks", [])}
    ok("within_credit_limit" in names, f"{label}: /proof lists within_credit_limit")


# ---- the account object and validation -----------------------------------------
a = get(f"/accounts/{alice}", token=ta).json["account"]
is_(a["credit_limit"], 0, "a new account has credit_limit 0")
is_(limit_of(alice), None, "…stored as NULL (no limit set)")

r = no_write("a user token", lambda k: patch(alice, {"credit_limit": 10}, token=ta, key=k))
is_problem(r, 403, "admin_required", "a user may not set a credit limit: 403")
for what, body, code in (("negative", {"credit_limit": -1}, "invalid_credit_limit"),
                         ("a float", {"credit_limit": 1.5}, "invalid_credit_limit"),
                         ("a string", {"credit_limit": "10"}, "invalid_credit_limit"),
                         ("null", {"credit_limit": None}, "invalid_credit_limit"),
                         ("past bigint", {"credit_limit": 2 ** 63}, "invalid_credit_limit"),
                         ("missing", {}, "missing_field"),
                         ("an unknown field", {"credit_limit": 5, "overdraft": True}, "unknown_field")):
    r = no_write(what, lambda k: patch(alice, body, key=k))
    is_problem(r, 422, code, f"{what}: 422 {code}")
r = patch("not-a-uuid", {"credit_limit": 5})
is_problem(r, 404, "account_not_found", "a malformed id: 404")
r = unmoved("an unknown account", lambda: patch(str(uuid.uuid4()), {"credit_limit": 5}))
is_problem(r, 404, "account_not_found", "an unknown account: 404")
r = unmoved("the issuer", lambda: patch(ISSUER, {"credit_limit": 5}))
is_problem(r, 409, "credit_limit_not_allowed", "the issuer has no credit limit: 409")
mk = post("/markets", {"kind": "event", "title": "credit: escrow"}, token=ADMIN).json["market"]
escrow = query("SELECT escrow::text FROM markets WHERE id = %s", (mk["id"],))[0][0]
r = unmoved("an escrow account", lambda: patch(escrow, {"credit_limit": 5}))
is_problem(r, 409, "credit_limit_not_allowed", "an escrow account has no credit limit: 409")
is_(limit_of(ISSUER), None, "the issuer's limit is untouched")

# ---- set, use, refuse past it ------------------------------------------------------
k = new_key()
r = patch(alice, {"credit_limit": 50}, key=k)
is_(r.status, 200, "an admin sets alice's limit to 50")
is_((r.json or {}).get("account", {}).get("credit_limit"), 50, "the answer carries the new limit")
is_(limit_of(alice), 50, "stored")
r2 = patch(alice, {"credit_limit": 50}, key=k)
ok(r2.status == 200 and r2.headers.get("idempotent-replayed") == "true", "a retry with the key replays", r2)

r = post("/transfer", {"from": alice, "to": bob, "amount": 150}, token=ta)
is_(r.status, 201, "alice pays 150 out of 100: down to -50, her limit")
is_(balance(alice), (-50, 0), "her balance is -50")
a = get(f"/accounts/{alice}", token=ta).json["account"]
is_((a["balance"], a["available"], a["credit_limit"]), (-50, -50, 50), "GET shows the overdraft")
r = unmoved("one unit past the limit", lambda: post("/transfer", {"from": alice, "to": bob, "amount": 1}, token=ta))
is_problem(r, 422, "insufficient_funds", "one more unit: 422 insufficient_funds")

# lowering below what is used: refused, nothing changes
r = unmoved("lowering below the overdraft", lambda: patch(alice, {"credit_limit": 49}))
is_problem(r, 409, "credit_limit_in_use", "a limit below the credit used: 409 credit_limit_in_use")
is_((r.json or {}).get("credit_used"), 50, "…naming the credit used")
is_(limit_of(alice), 50, "the limit stays 50")
is_(patch(alice, {"credit_limit": 50}).status, 200, "a limit equal to the credit used is fine")
consistent("after the overdraft")

# ---- pending transfers -----------------------------------------------------------
is_(patch(alice, {"credit_limit": 200}).status, 200, "raised to 200")
r = post("/transfer", {"from": alice, "to": bob, "amount": 150, "pending": True}, token=ta)
is_(r.status, 201, "a pending 150 fits (-50 - 150 = -200)")
P = r.json["transfer"]["id"]
is_(balance(alice), (-50, 150), "held 150 on a -50 balance")
r = unmoved("a pending transfer past the limit",
            lambda: post("/transfer", {"from": alice, "to": bob, "amount": 1, "pending": True}, token=ta))
is_problem(r, 422, "insufficient_funds", "one more pending unit: 422")
r = unmoved("a lower limit under a hold", lambda: patch(alice, {"credit_limit": 199}))
is_problem(r, 409, "credit_limit_in_use", "held money counts as credit used")
r = post(f"/transfers/{P}/post", {"amount": 100}, token=ta)
is_(r.status, 200, "posting 100 of it")
is_(balance(alice), (-150, 0), "moves 100 and releases the rest")

# ---- linked batches -------------------------------------------------------------
r = unmoved("a batch past the limit", lambda: post("/transfers/batch", {"transfers": [
    {"from": alice, "to": bob, "amount": 30}, {"from": alice, "to": bob, "amount": 21, "pending": True}]}, token=ta))
is_(r.status, 422, "a batch whose second item passes the limit is refused whole")
codes = [x.get("code") for x in (r.json or {}).get("results", [])]
ok("insufficient_funds" in codes, "…the failing item says insufficient_funds", r.json)
r = post("/transfers/batch", {"transfers": [{"from": alice, "to": bob, "amount": 30},
                                            {"from": alice, "to": bob, "amount": 20, "pending": True}]}, token=ta)
is_(r.status, 201, "the same batch with 20 fits exactly")
is_(balance(alice), (-180, 20), "balance -180, held 20: exactly -200 available")
for it in (r.json or {}).get("results", []):
    t = it.get("transfer") or {}
    if t.get("status") == "pending":
        is_(post(f"/transfers/{t['id']}/void", {}, token=ta).status, 200, "the batch's pending item is voided")
is_(balance(alice), (-180, 0), "its hold is released")

# ---- bids, orders, claims --------------------------------------------------------
lot = create_lot(kind="english", seller=seller, start=10, increment=5, ends_in=3600)
r = unmoved("a bid past the limit", lambda: place_bid(ta, lot["id"], amount=21))
is_problem(r, 422, "insufficient_funds", "a bid hold one past the limit: 422")
r = place_bid(ta, lot["id"], amount=20)
is_(r.status, 201, "a bid hold up to the limit is accepted")
is_(balance(alice), (-180, 20), "the bid holds 20")
r = place_bid(tb, lot["id"], amount=25)
is_(r.status, 201, "bob outbids her")
is_(balance(alice), (-180, 0), "her hold is released")

r = unmoved("an order past the limit", lambda: post("/order", {
    "market": mk["id"], "side": "buy", "outcome": "yes", "price": 7, "quantity": 3, "time_in_force": "gtc"}, token=ta))
is_problem(r, 422, "insufficient_funds", "a buy order holding 21 > 20: 422")
r = post("/order", {"market": mk["id"], "side": "buy", "outcome": "yes", "price": 10, "quantity": 2,
                    "time_in_force": "gtc"}, token=ta)
is_(r.status, 201, "a buy order holding exactly 20 rests")
is_(balance(alice), (-180, 20), "it holds 20")
oid = r.json["order"]["id"]
is_(request("DELETE", f"/order/{oid}", token=ta, key=new_key()).status, 200, "cancelled")
is_(balance(alice), (-180, 0), "its hold is released")

drop = create_lot(kind="drop", seller=seller, price=11, quantity=5)
r = unmoved("a claim past the limit", lambda: place_bid(ta, drop["id"], quantity=2))
is_problem(r, 422, "insufficient_funds", "a claim of 22 > 20: 422")
r = place_bid(ta, drop["id"], quantity=1)
is_(r.status, 201, "a claim of 11 is paid on credit")
is_(balance(alice), (-191, 0), "down to -191")
consistent("after every kind of debit and hold")

# ---- concurrency: real clients race against one limit ---------------------------
dave, td = create_account("credit-dave", 0)
is_(patch(dave, {"credit_limit": 100}).status, 200, "dave may go to -100")
go = threading.Barrier(40)


def debit(i):
    go.wait()
    if i % 2:
        return post("/transfer", {"from": dave, "to": bob, "amount": 10}, token=td)
    return post("/transfer", {"from": dave, "to": bob, "amount": 10, "pending": True, "timeout": 600}, token=td)


res = concurrently(debit, [(i,) for i in range(40)], max_workers=40)
won = [x for x in res if x.status == 201]
lost = [x for x in res if x.status != 201]
is_(len(won), 10, "exactly 10 of 40 concurrent debits of 10 fit a limit of 100")
ok(all(x.status == 422 and x.code == "insufficient_funds" for x in lost),
   "every other one: 422 insufficient_funds", sorted({(x.status, x.code) for x in lost}))
b, h = balance(dave)
is_(b - h, -100, "dave ends exactly at -credit_limit (balance - held = -100)")
pend_ids = [x.json["transfer"]["id"] for x in won if x.json["transfer"].get("status") == "pending"]
for pid in pend_ids:
    post(f"/transfers/{pid}/post", {}, token=td)
is_(balance(dave), (-100, 0), "posting the holds lands at -100, not below")
consistent("after the race")

# ---- concurrency: lowering a limit races debits -----------------------------------
# erin may go to -100; 20 debits of 10 race 10 requests lowering her limit to 50. The
# limit and the debits take the same row lock, so whatever the order: a lowering that
# succeeded saw at most 50 used, a debit that succeeded fit the limit of its moment,
# and she ends within her final limit.
erin, te = create_account("credit-erin", 0)
is_(patch(erin, {"credit_limit": 100}).status, 200, "erin may go to -100")
go2 = threading.Barrier(30)


def contend(i):
    go2.wait()
    if i % 3 == 0:
        return ("lower", patch(erin, {"credit_limit": 50}))
    return ("debit", post("/transfer", {"from": erin, "to": bob, "amount": 10}, token=te))


res = concurrently(contend, [(i,) for i in range(30)], max_workers=30)
debits = [r for k, r in res if k == "debit"]
lowers = [r for k, r in res if k == "lower"]
ok(all(r.status == 201 or (r.status == 422 and r.code == "insufficient_funds") for r in debits),
   "every debit: 201 or 422 insufficient_funds", sorted({(r.status, r.code) for r in debits}))
ok(all(r.status == 200 or (r.status == 409 and r.code == "credit_limit_in_use") for r in lowers),
   "every lowering: 200 or 409 credit_limit_in_use", sorted({(r.status, r.code) for r in lowers}))
won = sum(1 for r in debits if r.status == 201)
b, h = balance(erin)
final = limit_of(erin)
is_(b, -10 * won, "erin's balance is exactly the debits that succeeded")
ok(b - h >= -final, f"she ends within her final limit ({b - h} >= -{final})")
if any(r.status == 200 for r in lowers):
    is_(final, 50, "a lowering succeeded: the limit is 50, and no debit took her past it afterwards")
else:
    is_(final, 100, "no lowering succeeded (all came after more than 50 was used): the limit stays 100")
    ok(won > 5, "…which needs more than 5 debits first", won)
consistent("after the limit race")

# ---- tamper: a limit lowered behind the application's back ----------------------
seal_freeze()
try:
    cdef = query("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'accounts'::regclass"
                 " AND conname = 'accounts_within_credit_limit'", user="postgres")[0][0]
    conn = db("postgres")
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE accounts DROP CONSTRAINT accounts_within_credit_limit")
        cur.execute("UPDATE accounts SET credit_limit = 60 WHERE id = %s", (dave,))
        cur.execute(f"ALTER TABLE accounts ADD CONSTRAINT accounts_within_credit_limit {cdef} NOT VALID")
    conn.commit()
    conn.close()
    r = get("/proof", token=ADMIN)
    bad = {c["name"] for c in (r.json or {}).get("checks", []) if not c.get("ok")}
    is_((r.status, bad), (409, {"within_credit_limit"}), "tamper: exactly within_credit_limit fails")
    c = [c for c in r.json["checks"] if c["name"] == "within_credit_limit"][0]
    ok(c.get("observed") == 1 and dave in (c.get("sample") or ""), "…naming dave", c)
    query("UPDATE accounts SET credit_limit = 100 WHERE id = %s", (dave,), user="postgres")
    query("ALTER TABLE accounts VALIDATE CONSTRAINT accounts_within_credit_limit", user="postgres")
    # a limit on an escrow account (only a user account may have one)
    cdef2 = query("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'accounts'::regclass"
                  " AND conname = 'accounts_credit_limit_valid'", user="postgres")[0][0]
    query("ALTER TABLE accounts DROP CONSTRAINT accounts_credit_limit_valid", user="postgres")
    query("UPDATE accounts SET credit_limit = 5 WHERE id = %s", (escrow,), user="postgres")
    r = get("/proof", token=ADMIN)
    bad = {c["name"] for c in (r.json or {}).get("checks", []) if not c.get("ok")}
    is_((r.status, bad), (409, {"within_credit_limit"}), "tamper: an escrow limit fails within_credit_limit")
    query("UPDATE accounts SET credit_limit = NULL WHERE id = %s", (escrow,), user="postgres")
    query(f"ALTER TABLE accounts ADD CONSTRAINT accounts_credit_limit_valid {cdef2}", user="postgres")
    consistent("repaired")
finally:
    seal_thaw()

# ---- the log carries the limits: a replay accepts the overdrafts -----------------
# The ledger ends with alice, dave and erin overdrawn under their limits. Every limit
# set is a credit_limits row, sealed as a `limit` record, so the offline verifier's
# replay bounds each account by its latest logged limit.
is_(ledger_invariants(), [], "entries balance, balances match entries, Σ balances = 0, all within limits")
consistent("at the end")
ok(all(balance(a)[0] < 0 for a in (alice, dave)), "alice and dave end overdrawn",
   [balance(a) for a in (alice, dave)])
hist = query("SELECT credit_limit FROM credit_limits WHERE account_id = %s ORDER BY created_at, id", (dave,))
is_([h[0] for h in hist], [100], "dave's one limit set through the API is one history row")
n_erin = query("SELECT count(*) FROM credit_limits WHERE account_id = %s", (erin,))[0][0]
is_(n_erin, 1 + sum(1 for r in lowers if r.status == 200), "a row per limit set, none per refusal")
VERIFY = os.path.join(REPO, "build", "zerosum-verify")


def verify(*args):
    p = subprocess.run([VERIFY, ENV["BASE_URL"], "--no-pin", "--replay", *args], capture_output=True,
                       text=True, timeout=300)
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else "{}"
    try:
        return p.returncode, json.loads(last)
    except ValueError:
        return p.returncode, {"unparsable": last}


seal_now()
ok(query("SELECT count(*) FROM credit_limits WHERE sealed IS NULL")[0][0] == 0, "every limit row is sealed")
pos = query("SELECT sealed FROM credit_limits WHERE account_id = %s", (dave,))[0][0]
recs = get(f"/proof/records?from={pos}&limit=1").json["records"]
ref = query("SELECT encode(sha256(convert_to('zerosum/v1 limit ' || id::text, 'UTF8')), 'hex'),"
            " encode(sha256(convert_to('zerosum/v1 account ' || account_id::text, 'UTF8')), 'hex'),"
            " (extract(epoch FROM created_at) * 1000000)::bigint FROM credit_limits WHERE account_id = %s",
            (dave,))[0]
is_(recs[0]["record"], f"zerosum/v1 limit\nref {ref[0]}\naccount {ref[1]}\ncredit_limit 100\nat {ref[2]}\n",
    "dave's limit is a `limit` record in the log")
rc, v = verify()
ok(rc == 0 and v.get("failed") == [], "the replay of a log ending in overdrafts within their logged limits"
   " passes (no_negative_balances included)", f"exit {rc}: {json.dumps(v)[:1500]}")

# tamper: a lower limit logged behind the application's back (accounts still say 100, so
# the live checks and the sealer see nothing wrong) — the replay holds dave to it
seal_freeze()
try:
    query("INSERT INTO credit_limits (id, account_id, credit_limit) VALUES (gen_random_uuid(), %s, 60)",
          (dave,), user="postgres")
finally:
    seal_thaw()
seal_now()
rc, v = verify()
ok(rc == 1 and "no_negative_balances" in v.get("failed", []) and len(v.get("failed", [])) == 1,
   "tamper: an overdraft beyond the latest logged limit fails exactly no_negative_balances",
   f"exit {rc}: {json.dumps(v)[:1500]}")
# the limit logged again through the API: the latest logged limit is in force again
is_(patch(dave, {"credit_limit": 100}).status, 200, "dave's limit set again through the API")
seal_now()
rc, v = verify()
ok(rc == 0 and v.get("failed") == [], "…and the replay passes again", f"exit {rc}: {json.dumps(v)[:1500]}")
done()
