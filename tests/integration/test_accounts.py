"""POST /accounts, GET /accounts/{id}, GET /accounts/{id}/entries and
GET /accounts/issuer against the live stack."""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import uuid

admin = admin_token()


def replayed(r):
    return r.headers.get("idempotent-replayed") == "true"


# ---- POST /accounts -------------------------------------------------------

owner, t_owner = create_account("owner", 300)
other, t_other = create_account("other", 0)

fp = ledger_fingerprint()
r = post("/accounts", {"name": "sneaky"}, token=t_owner)
is_problem(r, 403, "admin_required", "POST /accounts with a user token: 403 admin_required")
r = post("/accounts", {"name": "anon"})
is_problem(r, 401, "unauthenticated", "POST /accounts without a token: 401 unauthenticated")
r = post("/accounts", {"name": "expired"}, token=token(ADMIN_SUB, admin=True, ttl=-60))
is_problem(r, 401, "token_expired", "POST /accounts with an expired admin token: 401 token_expired")
is_(ledger_fingerprint(), fp, "refused account creations wrote nothing")

key = new_key()
r = post("/accounts", {"name": "Zoë"}, token=admin, key=key)
acct = (r.json or {}).get("account") or {}
ok(r.status == 201 and r.headers.get("content-type", "").startswith("application/json"),
   "POST /accounts as admin: 201", r)
is_({k: acct.get(k) for k in ("name", "kind", "balance", "held", "available")},
    {"name": "Zoë", "kind": "user", "balance": 0, "held": 0, "available": 0},
    "new account: name, kind user, zero balance/held/available")
ok(len(acct.get("id", "")) == 36 and str(acct.get("created_at", "")).endswith("Z"),
   "new account: a UUID id and a UTC created_at", acct)
is_(query("SELECT name, kind, balance, held FROM accounts WHERE id = %s", (acct.get("id"),)),
    [("Zoë", "user", 0, 0)], "new account: the row is in the database")
is_(ledger_fingerprint()[0], fp[0] + 1, "new account: exactly one account more")
fp = ledger_fingerprint()
r2 = post("/accounts", {"name": "Zoë"}, token=admin, key=key)
ok(r2.status == 201 and r2.body == r.body and replayed(r2),
   "POST /accounts retried with the same key: replays the same account", r2)
r2 = post("/accounts", {"name": "Zoe"}, token=admin, key=key)
is_problem(r2, 422, "idempotency_key_reused", "POST /accounts, same key, other name: 422")
is_(ledger_fingerprint(), fp, "replayed and reused keys created no account")

for name, body, status, code in [
    ("missing name", {}, 422, "missing_field"),
    ("empty name", {"name": ""}, 422, "invalid_name"),
    ("name of 101 bytes", {"name": "n" * 101}, 422, "invalid_name"),
    ("name a number", {"name": 7}, 422, "invalid_name"),
    ("name null", {"name": None}, 422, "invalid_name"),
    ("unknown field", {"name": "x", "balance": 1000}, 422, "unknown_field"),
]:
    r = post("/accounts", body, token=admin)
    is_problem(r, status, code, f"POST /accounts, {name}: {status} {code}")
r = post("/accounts", {"name": "nokey"}, token=admin, key=None)
is_problem(r, 400, "missing_idempotency_key", "POST /accounts without Idempotency-Key: 400")
r = post("/accounts", None, token=admin, raw='{"name":"x"', content_type="application/json")
is_problem(r, 400, "malformed_json", "POST /accounts with malformed JSON: 400")
is_(ledger_fingerprint(), fp, "invalid account creations wrote nothing")
r = post("/accounts", {"name": "n" * 100}, token=admin)
ok(r.status == 201, "a name of exactly 100 bytes is accepted", r)

# ---- GET /accounts/{id} ---------------------------------------------------

for who, tok in (("owner", t_owner), ("admin", admin)):
    g = get(f"/accounts/{owner}", token=tok)
    a = (g.json or {}).get("account") or {}
    ok(g.status == 200 and {k: a.get(k) for k in ("id", "name", "kind", "balance", "held", "available")}
       == {"id": owner, "name": "owner", "kind": "user", "balance": 300, "held": 0, "available": 300},
       f"GET /accounts/{{id}} as {who}: 200 with id, name, balance 300, held 0, available 300", g)
g = get(f"/accounts/{owner}", token=t_other)
is_problem(g, 404, "account_not_found", "GET /accounts/{id} as another user: 404, as for a missing account")
ok(g.json is not None and "account" not in g.json and '"balance"' not in g.body and '"owner"' not in g.body,
   "GET /accounts/{id} as another user: the account does not leak", g)
g = get(f"/accounts/{owner}")
is_problem(g, 401, "unauthenticated", "GET /accounts/{id} without a token: 401")
g = get(f"/accounts/{uuid.uuid4()}", token=admin)
is_problem(g, 404, "account_not_found", "GET /accounts/{unknown} as admin: 404 account_not_found")
g = get("/accounts/nope", token=admin)
is_problem(g, 404, "account_not_found", "GET /accounts/{not a uuid}: 404")
g = get(f"/accounts/{ISSUER}", token=t_owner)
is_problem(g, 404, "account_not_found", "GET /accounts/{issuer id} as a user: 404")

# held and available: a hold (set directly, as an auction would) limits spending
query("UPDATE accounts SET held = 120 WHERE id = %s", (owner,))
g = get(f"/accounts/{owner}", token=t_owner)
a = (g.json or {}).get("account") or {}
is_((a.get("balance"), a.get("held"), a.get("available")), (300, 120, 180),
    "with 120 held: balance 300, held 120, available 180")
bal = (balance(owner), balance(other))
r = post("/transfer", {"from": owner, "to": other, "amount": 181}, token=t_owner)
is_problem(r, 422, "insufficient_funds", "spending 181 of 180 available (300 balance): insufficient_funds")
is_((balance(owner), balance(other)), bal, "the refused transfer moved nothing")
r = post("/transfer", {"from": owner, "to": other, "amount": 180}, token=t_owner)
is_(r.status, 201, "spending exactly the 180 available: 201")
is_((balance(owner), balance(other)), ((120, 120), (180, 0)), "balance 120 (all held), other 180")
query("UPDATE accounts SET held = 0 WHERE id = %s", (owner,))

# ---- GET /accounts/{id}/entries ------------------------------------------

payer, t_payer = create_account("payer", 1000)
payee, t_payee = create_account("payee", 0)
made = []
for amount in range(1, 8):
    r = post("/transfer", {"from": payer, "to": payee, "amount": amount}, token=t_payer)
    made.append(r.json["transfer"]["id"] if r.status == 201 else None)
ok(None not in made, "7 transfers payer → payee made (amounts 1..7)")

pages, seen, after, guard = [], [], None, 0
while guard < 10:
    guard += 1
    path = f"/accounts/{payee}/entries?limit=3" + (f"&starting_after={after}" if after else "")
    g = get(path, token=t_payee)
    if g.status != 200:
        ok(False, f"entries page {guard}: 200", g)
        break
    pages.append(len(g.json["data"]))
    seen.extend(g.json["data"])
    after = g.json["data"][-1]["id"] if g.json["data"] else None
    if not g.json["has_more"]:
        break
is_(pages, [3, 3, 1], "entries with limit=3: pages of 3, 3 and 1, then has_more is false")
is_([e["amount"] for e in seen], [7, 6, 5, 4, 3, 2, 1], "entries: newest first (amounts 7 down to 1)")
is_([e["transfer_id"] for e in seen], made[::-1], "entries: each transfer exactly once, newest first")
db_ids = {row[0] for row in query("SELECT id::text FROM entries WHERE account_id = %s", (payee,))}
is_(len({e["id"] for e in seen}), 7, "entries: seven distinct entry ids")
is_({e["id"] for e in seen}, db_ids, "entries: the ids are exactly the payee's entries in the database")
ok(all(e["counterparty"] == payer and e["kind"] == "transfer" and e["created_at"].endswith("Z")
       for e in seen), "entries: counterparty is the payer, kind transfer, UTC timestamps")
g = get(f"/accounts/{payer}/entries?limit=100", token=t_payer)
ok(g.status == 200 and [e["amount"] for e in g.json["data"]] == [-7, -6, -5, -4, -3, -2, -1, 1000]
   and not g.json["has_more"] and g.json["data"][-1]["kind"] == "issue"
   and g.json["data"][-1]["counterparty"] == ISSUER,
   "payer's entries: seven debits then the issue credit from the issuer, has_more false", g)
ok(g.status == 200 and [e["balance_after"] for e in g.json["data"]] == [972, 979, 985, 990, 994, 997, 999, 1000]
   and [e["seq"] for e in g.json["data"]] == [8, 7, 6, 5, 4, 3, 2, 1],
   "payer's entries: the running balance after each, seq 8 down to 1", g)
g = get(f"/accounts/{payee}/entries?limit=7", token=t_payee)
ok(g.status == 200 and len(g.json["data"]) == 7 and not g.json["has_more"],
   "limit equal to the count: one page, has_more false", g)
g = get(f"/accounts/{payee}/entries", token=t_payee)
ok(g.status == 200 and len(g.json["data"]) == 7 and not g.json["has_more"],
   "no limit: the default page (10) holds all seven", g)
g = get(f"/accounts/{payee}/entries?limit=6", token=t_payee)
nxt = g.json["data"][-1]["id"] if g.status == 200 else None
g2 = get(f"/accounts/{payee}/entries?limit=6&starting_after={nxt}", token=t_payee)
ok(g.status == 200 and g.json["has_more"] and g2.status == 200
   and [e["amount"] for e in g2.json["data"]] == [1] and not g2.json["has_more"],
   "limit=6: has_more, and the page after the last entry holds the oldest", g2)
g = get(f"/accounts/{owner}/entries?limit=1", token=t_owner)
ok(g.status == 200 and len(g.json["data"]) == 1 and g.json["has_more"],
   "an account with two entries and limit=1: has_more", g)

for q in ("limit=0", "limit=-1", "limit=abc", "limit=101", "limit=", "limit=1.5", "limit=3x",
          "limit=99999999999999999999"):
    g = get(f"/accounts/{payee}/entries?{q}", token=t_payee)
    is_problem(g, 400, "invalid_limit", f"entries?{q}: 400 invalid_limit")
foreign = query("SELECT id::text FROM entries WHERE account_id = %s LIMIT 1", (payer,))[0][0]
for name, q in (("not a uuid", "starting_after=xyz"), ("an unknown entry", f"starting_after={uuid.uuid4()}"),
                ("another account's entry", f"ending_before={foreign}"), ("empty", "starting_after=")):
    g = get(f"/accounts/{payee}/entries?{q}", token=t_payee)
    is_problem(g, 400, "invalid_cursor", f"entries with a cursor that is {name}: 400 invalid_cursor")
g = get(f"/accounts/{payee}/entries", token=t_payer)
is_problem(g, 404, "account_not_found", "entries of another user's account: 404, as for a missing one")
g = get(f"/accounts/{payee}/entries?limit=2", token=admin)
ok(g.status == 200 and [e["amount"] for e in g.json["data"]] == [7, 6], "entries as admin: 200", g)
g = get(f"/accounts/{uuid.uuid4()}/entries", token=admin)
is_problem(g, 404, "account_not_found", "entries of an unknown account: 404")

# ---- GET /accounts/issuer -------------------------------------------------

g = get("/accounts/issuer", token=admin)
a = (g.json or {}).get("account") or {}
db_issuer = balance(ISSUER)[0]
# every account but the issuer: users, and the escrow of any market another
# suite left open (money issued and not yet paid out is still issued)
users_total = query("SELECT sum(balance) FROM accounts WHERE kind <> 'issuer'")[0][0]
ok(g.status == 200 and a.get("id") == ISSUER and a.get("kind") == "issuer",
   "GET /accounts/issuer as admin: 200, the issuer", g)
is_(a.get("balance"), db_issuer, "issuer balance matches the database")
ok(db_issuer < 0 and db_issuer == -users_total,
   "issuer balance is minus all money issued (Σ of every other balance)", (db_issuer, users_total))
g = get("/accounts/issuer", token=t_owner)
is_problem(g, 403, "admin_required", "GET /accounts/issuer with a user token: 403 admin_required")
g = get("/accounts/issuer")
is_problem(g, 401, "unauthenticated", "GET /accounts/issuer without a token: 401")

is_(ledger_invariants(), [], "ledger invariants hold at the end")
done()
