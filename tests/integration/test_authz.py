"""The authorisation matrix: every route × every kind of caller, against the
live stack, with the exact status and problem code per cell, and a check
that no refused mutation moved anything.

Callers (columns):
  none       no Authorization header
  malformed  "Bearer <something that is not a JWT of ours>" (a different shape per row)
  forged     right shape, HS256, admin claims, signed with a random key
  expired    a genuine token (admin on admin routes, alice elsewhere) whose exp has passed
  alg_none   {"alg":"none"} header, admin claims, empty signature
  other      another user's genuine token (bob acting on alice's things; on admin
             routes simply a user; on /bid the lot's seller; on GET /transfers a
             non-party; on DELETE /order someone who does not own the order)
  user       alice's own genuine token (on admin routes: a user token where an
             admin is needed)
  admin      the admin token

Public routes (AUTH_NONE) answer without a token, but a token that is
present must be valid: a bad one is 401 there too (RFC 6750 §3.1), so a
client never mistakes a broken token for an anonymous session.

Refusals decided before the transaction write nothing at all. A few are
business rules judged inside the transaction and, by design, stored under
the idempotency key as terminal answers (so a retry cannot later succeed):
those cells expect exactly one new idempotency_keys row and nothing else.

Then: validly signed tokens with bad claims, secrets in logs and bodies, and
the key file's mode.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import base64
import hashlib
import hmac
import json
import re
import stat
import time
import uuid

T0 = time.time()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(header, claims, key):
    """A JWT with exactly this header and payload, HMAC-SHA256 with key (bytes)."""
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{h}.{p}." + b64url(hmac.new(key, f"{h}.{p}".encode(), hashlib.sha256).digest())


def alg_none(claims):
    h = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    p = b64url(json.dumps(claims).encode())
    return f"{h}.{p}."


def money():
    """Everything a refused request must not change, and the idempotency key count apart."""
    row = query("""SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM transfers),
                          (SELECT count(*) FROM entries),
                          (SELECT md5(coalesce(string_agg(id::text || ':' || balance || ':' || held,
                                                          ',' ORDER BY id), '')) FROM accounts),
                          (SELECT count(*) FROM lots), (SELECT count(*) FROM bids), (SELECT count(*) FROM holds),
                          (SELECT md5(coalesce(string_agg(id::text || ':' || status || ':' || seq,
                                                          ',' ORDER BY id), '')) FROM lots),
                          (SELECT count(*) FROM stampede_runs), (SELECT count(*) FROM markets),
                          (SELECT md5(coalesce(string_agg(id::text || ':' || status || ':' || remaining,
                                                          ',' ORDER BY id), '')) FROM orders),
                          (SELECT count(*) FROM idempotency_keys)""")[0]
    return row[:-1], row[-1]


def quiesce(limit=70):
    """Let earlier suites' English lots ending within 40 s settle, and their runs finish."""
    busy = lambda: query("""SELECT (SELECT count(*) FROM lots WHERE kind = 'english' AND status = 'live'
                                      AND ends_at < now() + interval '40 seconds')
                                 + (SELECT count(*) FROM stampede_runs WHERE status IN ('queued', 'running'))""")[0][0]
    t = time.time()
    wait_for(lambda: busy() == 0, timeout=limit, interval=0.5)
    if time.time() - t > 1:
        diag(f"waited {time.time() - t:.1f} s for earlier suites' lots and runs to settle")


def children():
    with open(os.path.join(ZS_VAR, "run", "zerosum.pid")) as f:
        sup = int(f.read().split()[0])
    kids = set()
    for task in os.listdir(f"/proc/{sup}/task"):
        with open(f"/proc/{sup}/task/{task}/children") as f:
            kids.update(int(p) for p in f.read().split())
    return kids


def deaths():
    m = re.search(r"^zerosum_worker_deaths_total (\d+)", get("/metrics").body, re.M)
    return int(m.group(1)) if m else None


# ---- the cast ------------------------------------------------------------------

quiesce()
pids0, deaths0 = children(), deaths()
A = admin_token()
alice, t_alice = create_account("authz-alice", 100_000)
bob, t_bob = create_account("authz-bob", 100_000)
carol, t_carol = create_account("authz-carol", 100_000)
exp_user = token(alice, ttl=-60)
exp_admin = token(ADMIN_SUB, admin=True, ttl=-60)
rand_key = os.urandom(32)
future = int(time.time()) + 3600
ADMIN_CLAIMS = std_claims(ADMIN_SUB, "admin")
forged_admin = sign({"alg": "HS256", "typ": "JWT", "kid": jwt_keys()[0][0]}, ADMIN_CLAIMS, rand_key)
none_admin = alg_none(ADMIN_CLAIMS)
MALFORMED = ["not-a-jwt", "a.b.c", t_alice + ".x", t_alice.rsplit(".", 1)[0] + ".", t_alice[:-3] + "abc",
             "eyJhbGciOiJIUzI1NiJ9..", "..", t_alice.replace(".", "..", 1), "Zm9v" * 300, t_alice + " extra"]
ALL_TOKENS = [t_alice, t_bob, t_carol, A, exp_user, exp_admin, forged_admin, none_admin]

tid = post("/transfer", {"from": alice, "to": bob, "amount": 10}, token=t_alice).json["transfer"]["id"]
lot_seller = bob
eng = post("/lots", {"kind": "english", "seller": lot_seller, "start": 100, "increment": 10, "ends_in": 3600},
           token=A).json["lot"]["id"]
mkt = post("/markets", {"kind": "event", "title": "authz: will it rain?"}, token=A).json["market"]["id"]
mkt_resolve = post("/markets", {"kind": "event", "title": "authz: resolved by the admin cell"},
                   token=A).json["market"]["id"]


def alice_order():
    r = post("/order", {"market": mkt, "side": "buy", "outcome": "yes", "price": 10, "quantity": 1,
                        "time_in_force": "gtc"}, token=t_alice)
    if r.status != 201:
        raise RuntimeError(f"POST /order: {r}")
    return r.json["order"]["id"]


order_for_cells = alice_order()
authz_hook = post("/webhooks", {"url": "http://127.0.0.1:9/authz-matrix", "events": ["transfer.created"]},
                  token=A).json["webhook"]["id"]


def alice_pending():
    r = post("/transfer", {"from": alice, "to": carol, "amount": 1, "pending": True}, token=t_alice)
    if r.status != 201:
        raise RuntimeError(f"POST /transfer (pending): {r}")
    return r.json["transfer"]["id"]
bid_amount = [100]


def next_bid():
    bid_amount[0] += 10
    return {"lot": eng, "amount": bid_amount[0]}


# ---- the matrix -----------------------------------------------------------------

COLS = ["none", "malformed", "forged", "expired", "alg_none", "other", "user", "admin"]
ok2 = lambda *st: ("ok", set(st))            # allowed: one of these statuses


def public(st=200, **over):
    cells = {"none": ok2(st), "other": ok2(st), "user": ok2(st), "admin": ok2(st)}
    cells.update(over)
    return cells


def admin_only(st):
    return {"other": (403, "admin_required"), "user": (403, "admin_required"), "admin": ok2(st)}


# (route, method, path, body factory or None, admin route?, cells). A cell is ("ok", statuses)
# or (status, code[, idempotency rows the refusal stores]); unlisted columns are the 401s.
ROWS = [
    ("GET /healthz", "GET", "/healthz", None, False, public()),
    ("GET /metrics", "GET", "/metrics", None, False, public()),
    ("POST /accounts", "POST", "/accounts", lambda: {"name": "authz-made"}, True, admin_only(201)),
    ("GET /accounts/issuer", "GET", "/accounts/issuer", None, True, admin_only(200)),
    # someone else's account, transfer or order: the answer for a missing one
    ("GET /accounts/{id}", "GET", f"/accounts/{alice}", None, False,
     {"other": (404, "account_not_found"), "user": ok2(200), "admin": ok2(200)}),
    ("GET /accounts/{id}/entries", "GET", f"/accounts/{alice}/entries", None, False,
     {"other": (404, "account_not_found"), "user": ok2(200), "admin": ok2(200)}),
    ("GET /accounts/{id}/transfers", "GET", f"/accounts/{alice}/transfers", None, False,
     {"other": (404, "account_not_found"), "user": ok2(200), "admin": ok2(200)}),
    ("GET /accounts/{id}/balance", "GET", f"/accounts/{alice}/balance", None, False,
     {"other": (404, "account_not_found"), "user": ok2(200), "admin": ok2(200)}),
    ("POST /transfer (from alice)", "POST", "/transfer", lambda: {"from": alice, "to": carol, "amount": 1}, False,
     {"other": (403, "not_account_owner"), "user": ok2(201), "admin": (403, "not_account_owner")}),
    ("POST /transfer (from the issuer)", "POST", "/transfer", lambda: {"from": ISSUER, "to": carol, "amount": 1}, False,
     {"other": (403, "not_account_owner"), "user": (403, "not_account_owner"), "admin": ok2(201)}),
    ("POST /transfers/batch (from alice)", "POST", "/transfers/batch",
     lambda: {"transfers": [{"from": alice, "to": carol, "amount": 1},
                            {"from": alice, "to": bob, "amount": 1, "pending": True}]}, False,
     {"other": (403, "not_account_owner"), "user": ok2(201), "admin": (403, "not_account_owner")}),
    ("POST /transfers/batch (from the issuer)", "POST", "/transfers/batch",
     lambda: {"transfers": [{"from": ISSUER, "to": carol, "amount": 1}]}, False,
     {"other": (403, "not_account_owner"), "user": (403, "not_account_owner"), "admin": ok2(201)}),
    ("GET /transfers/{id}", "GET", f"/transfers/{tid}", None, False,
     {"other": (404, "transfer_not_found"), "user": ok2(200), "admin": ok2(200)}),
    ("POST /lots", "POST", "/lots", lambda: {"kind": "drop", "seller": carol, "price": 5, "quantity": 2}, True,
     admin_only(201)),
    ("GET /lots", "GET", "/lots", None, False, public()),
    ("GET /lots/{id}", "GET", f"/lots/{eng}", None, False, public()),
    ("GET /lots/{id}/bids", "GET", f"/lots/{eng}/bids", None, False, public()),
    ("POST /bid", "POST", "/bid", next_bid, False,
     {"other": (403, "own_lot", 1), "user": ok2(201), "admin": (403, "user_token_required")}),
    ("GET /proof", "GET", "/proof", None, False, public()),
    ("GET /proof/runs", "GET", "/proof/runs", None, False, public()),
    ("GET /proof/runs/{id}", "GET", f"/proof/runs/{uuid.uuid4()}", None, False, public(404)),
    ("GET /proof/activity", "GET", "/proof/activity", None, False, public()),
    ("GET /proof/holds", "GET", "/proof/holds", None, False, public()),
    ("GET /proof/audits/{id}", "GET", f"/proof/audits/{uuid.uuid4()}", None, False, public(404)),
    # The log's read side is public; whether anything is sealed yet depends on the sealer's tick.
    ("GET /proof/key", "GET", "/proof/key", None, False, public()),
    ("GET /proof/checkpoint", "GET", "/proof/checkpoint", None, False,
     {c: ok2(200, 404) for c in ("none", "other", "user", "admin")}),
    ("GET /proof/inclusion", "GET", f"/proof/inclusion?transfer={uuid.uuid4()}", None, False, public(404)),
    ("GET /proof/consistency", "GET", "/proof/consistency?from=1&to=1", None, False,
     {c: ok2(200, 404) for c in ("none", "other", "user", "admin")}),
    ("GET /proof/records", "GET", "/proof/records?limit=1", None, False,
     {c: ok2(200, 404) for c in ("none", "other", "user", "admin")}),
    ("POST /markets", "POST", "/markets", lambda: {"kind": "event", "title": "authz: made by a cell"}, True,
     admin_only(201)),
    ("GET /markets", "GET", "/markets", None, False, public()),
    ("GET /markets/{id}", "GET", f"/markets/{mkt}", None, False, public()),
    ("GET /markets/{id}/trades", "GET", f"/markets/{mkt}/trades", None, False, public()),
    ("POST /markets/{id}/resolve", "POST", f"/markets/{mkt_resolve}/resolve", lambda: {"outcome": "cancel"}, True,
     admin_only(200)),
    ("POST /order", "POST", "/order", lambda: {"market": mkt, "side": "buy", "outcome": "no", "price": 5, "quantity": 1,
                                               "time_in_force": "gtc"}, False,
     {"other": ok2(201), "user": ok2(201), "admin": (403, "user_token_required")}),
    # alice's order: bob may not cancel it (a terminal answer, stored); alice may; then the admin may
    # cancel another of alice's orders (placed just before that cell)
    ("DELETE /order/{id}", "DELETE", "/order/{order}", lambda: {}, False,
     {"other": (404, "order_not_found", 1), "user": ok2(200), "admin": ok2(200)}),
    # a fresh order of alice's per cell: only its owner amends it (bob is answered as for a
    # missing order, stored; the admin needs the owner's token)
    ("PATCH /order/{id}", "PATCH", "/order/{fresh_order}", lambda: {"price": 11}, False,
     {"other": (404, "order_not_found", 1), "user": ok2(200), "admin": (403, "user_token_required")}),
    # alice's pending transfer to carol (a fresh one per cell): bob, a stranger, is answered as if
    # it did not exist (rolled back: nothing stored); alice, the payer, and the admin may post or void
    ("POST /transfers/{id}/post", "POST", "/transfers/{pending}/post", lambda: {}, False,
     {"other": (404, "transfer_not_found"), "user": ok2(200), "admin": ok2(200)}),
    ("POST /transfers/{id}/void", "POST", "/transfers/{pending}/void", lambda: {}, False,
     {"other": (404, "transfer_not_found"), "user": ok2(200), "admin": ok2(200)}),
    # carol's credit limit, set to the 0 it already is (nothing moves either way)
    ("PATCH /accounts/{id}", "PATCH", "/accounts/{carol}", lambda: {"credit_limit": 0}, True, admin_only(200)),
    # live events: a Last-Event-ID no buffer holds gets the (finite) resync answer, so a cell
    # never waits on a held stream; someone else's account channel is an unknown one
    ("GET /events/lots/{id}", "GET", f"/events/lots/{eng}?last_event_id=1:0", None, False, public()),
    ("GET /events/markets/{id}", "GET", f"/events/markets/{mkt}?last_event_id=1:0", None, False, public()),
    ("GET /events/accounts/{id}", "GET", f"/events/accounts/{alice}?last_event_id=1:0", None, False,
     {"other": (404, "unknown_channel"), "user": ok2(200), "admin": ok2(200)}),
    ("GET /events/proof", "GET", "/events/proof?last_event_id=1:0", None, False, public()),
    # webhooks: admin only; the admin cell deletes the endpoint made for the matrix
    ("POST /webhooks", "POST", "/webhooks", lambda: {"url": "http://127.0.0.1:9/authz", "events": ["*"]}, True,
     admin_only(201)),
    ("GET /webhooks", "GET", "/webhooks", None, True, admin_only(200)),
    ("GET /webhooks/{id}/deliveries", "GET", f"/webhooks/{authz_hook}/deliveries", None, True, admin_only(200)),
    ("DELETE /webhooks/{id}", "DELETE", f"/webhooks/{authz_hook}", lambda: {}, True, admin_only(200)),
    # the pass it queues only reads (and writes its own full_audits row)
    ("POST /proof/audits", "POST", "/proof/audits", lambda: {}, True, admin_only(202)),
    # split and merge (the holder's own token): bob's cell and alice's cell each split one
    # pair, then each merges it back; the admin must use a holder's token
    ("POST /markets/{id}/split", "POST", f"/markets/{mkt}/split", lambda: {"quantity": 1}, False,
     {"other": ok2(201), "user": ok2(201), "admin": (403, "user_token_required")}),
    ("POST /markets/{id}/merge", "POST", f"/markets/{mkt}/merge", lambda: {"quantity": 1}, False,
     {"other": ok2(200), "user": ok2(200), "admin": (403, "user_token_required")}),
    # last: the run it queues writes in the background while later cells would check "nothing moved"
    ("POST /proof/runs", "POST", "/proof/runs", lambda: {"scenario": "double-spend", "n": 1}, True, admin_only(202)),
]

COVERED = {(r[1], re.sub(r"\{[^}]*\}|[0-9a-f]{8}-[0-9a-f-]{27}", "{}", r[2].split("?")[0])) for r in ROWS}


def caller(col, admin_route, row_index):
    """The Authorization header value for a column (None: no header)."""
    if col == "none":
        return None
    if col == "malformed":
        return "Bearer " + MALFORMED[row_index % len(MALFORMED)]
    if col == "forged":
        return "Bearer " + forged_admin
    if col == "expired":
        return "Bearer " + (exp_admin if admin_route else exp_user)
    if col == "alg_none":
        return "Bearer " + none_admin
    if col == "other":
        return "Bearer " + t_bob
    if col == "user":
        return "Bearer " + t_alice
    return "Bearer " + A


def expectation(cells, col):
    if col in cells:
        return cells[col]
    return {"none": (401, "unauthenticated"), "malformed": (401, "invalid_token"), "forged": (401, "invalid_token"),
            "expired": (401, "token_expired"), "alg_none": (401, "invalid_token")}[col]


bodies_seen = []
cells_run = 0
for i, (name, method, path, body_fn, admin_route, cells) in enumerate(ROWS):
    for col in COLS:
        exp = expectation(cells, col)
        auth = caller(col, admin_route, i)
        # per-cell twists: a non-party reads the transfer; a fresh order for each cancel cell
        if name == "GET /transfers/{id}" and col == "other":
            auth = "Bearer " + t_carol
        p = path
        if "{pending}" in path:
            p = path.replace("{pending}", alice_pending())
        if "{fresh_order}" in path:
            p = path.replace("{fresh_order}", alice_order())
        if "{order}" in path:
            p = path.replace("{order}", order_for_cells if col in ("other", "user") or exp[0] != "ok"
                             else alice_order())
        headers = {"Authorization": auth} if auth is not None else {}
        before, keys_before = money()
        if "{carol}" in path:
            p = path.replace("{carol}", carol)
        if method in ("POST", "DELETE", "PATCH") and body_fn is not None:
            body = body_fn()
            r = request(method, p, body=body if method in ("POST", "PATCH") else None, key=new_key(),
                        headers=headers)
        else:
            r = request(method, p, headers=headers)
        cells_run += 1
        bodies_seen.append(r.body + json.dumps(r.headers))
        after, keys_after = money()
        if exp[0] == "ok":
            good = r.status in exp[1]
            ok(good, f"{name} × {col}: allowed ({r.status})", r)
            continue
        status, code = exp[0], exp[1]
        stored = exp[2] if len(exp) > 2 else 0
        good = (r.status == status and r.code == code
                and r.headers.get("content-type", "").startswith("application/problem+json"))
        if status == 401:
            good = good and r.headers.get("www-authenticate", "").startswith("Bearer")
        ok(good and after == before and keys_after - keys_before == stored,
           f"{name} × {col}: {status} {code}, nothing moved" + (" (refusal stored under the key)" if stored else ""),
           f"got: {r.status} {r.body[:300]}\nmoved: {after != before}, new idempotency rows: {keys_after - keys_before}")

# The admin cell of POST /proof/runs queued a stampede: let it finish so it
# cannot write under the next suite's feet (and it must pass).
runs = query("SELECT id::text FROM stampede_runs WHERE status IN ('queued', 'running')")
finished = wait_for(lambda: query("SELECT count(*) FROM stampede_runs WHERE status IN ('queued', 'running')")[0][0] == 0,
                    timeout=30, interval=0.3)
ok(finished, "the run queued by the admin cell finished", runs)

# every route in fcgi/api/routes.c has a row (a new route without one is a TODO, not a failure of others' work)
with open(os.path.join(REPO, "fcgi", "api", "routes.c")) as f:
    declared = {(m, re.sub(r"\{[^}]*\}", "{}", p)) for m, p in re.findall(r'\{\s*"([A-Z]+)",\s*"([^"]+)"', f.read())}
missing = sorted(declared - COVERED)
ok(not missing, "every route in fcgi/api/routes.c is in the matrix" + (" # TODO new routes need rows" if missing else ""),
   missing)
diag(f"authorisation matrix: {len(ROWS)} routes x {len(COLS)} callers = {cells_run} cells")

# ---- tokens signed with the real key but with bad claims or headers -----------------

real_kid, real_key = jwt_keys()[0]
HS = {"alg": "HS256", "typ": "JWT", "kid": real_kid}
me = f"/accounts/{alice}"


def G(drop=(), **kw):
    """alice's sound claims, with some changed (kw) or removed (drop)."""
    c = dict(std_claims(alice), **kw)
    for k in drop:
        c.pop(k, None)
    return c


control = sign(HS, G(), real_key)
r = get(me, token=control)
ok(r.status == 200, "control: a token signed here with the real key and sound claims is accepted", r)
for label, header, claims in [
    ("scope superuser", HS, G(scope="superuser")),
    ("scope missing", HS, G(drop=["scope"])),
    ("scope ['admin']", HS, G(scope=["admin"])),
    ("exp missing", HS, G(drop=["exp"])),
    ("exp a string", HS, G(exp=str(future))),
    ("exp a float", HS, G(exp=future + 0.5)),
    ("exp beyond 2^64", HS, G(exp=2 ** 64)),
    ("iat missing", HS, G(drop=["iat"])),
    ("iat a string", HS, G(iat=str(int(time.time())))),
    ("iss missing", HS, G(drop=["iss"])),
    ("iss another issuer", HS, G(iss="someone-else")),
    ("aud missing", HS, G(drop=["aud"])),
    ("aud another audience", HS, G(aud="another-api")),
    ("aud an array without ours", HS, G(aud=["another-api"])),
    ("lifetime over jwt_max_lifetime", HS, G(exp=int(time.time()) + 2592001)),
    ("kid missing", {"alg": "HS256", "typ": "JWT"}, G()),
    ("kid unknown", {"alg": "HS256", "typ": "JWT", "kid": "no-such-key"}, G()),
    ("sub missing", HS, G(drop=["sub"])),
    ("sub empty", HS, G(sub="")),
    ("sub a number", HS, G(sub=1)),
    ("sub not an account id", HS, G(sub="alice")),
    ("sub SQL", HS, G(sub="x'; DROP TABLE accounts;--")),
    ("sub 200 characters", HS, G(sub="a" * 200)),
    ("alg HS512 (signed HS256)", dict(HS, alg="HS512"), G()),
    ("alg hs256 lower-case", dict(HS, alg="hs256"), G()),
    ("alg missing", {"typ": "JWT", "kid": real_kid}, G()),
    ("alg RS256", dict(HS, alg="RS256"), G()),
    ("typ JWS", dict(HS, typ="JWS"), G()),
    ("crit header", dict(HS, crit=["exp"]), G()),
]:
    r = get(me, token=sign(header, claims, real_key))
    is_problem(r, 401, "invalid_token", f"real key, {label}: 401 invalid_token")
    ok(r.headers.get("www-authenticate", "").startswith('Bearer realm="zerosum", error="invalid_token"'),
       f"real key, {label}: WWW-Authenticate carries error=\"invalid_token\" (RFC 6750)", r.headers)
r = get(me, token=sign(HS, G(aud=["another-api", "zerosum"]), real_key))
ok(r.status == 200, "real key, aud an array containing ours: accepted (RFC 7519)", r)
r = get(me, token=sign(HS, G(iat=int(time.time()) + 600, nbf=int(time.time()) + 600, exp=future + 600), real_key))
is_problem(r, 401, "token_not_yet_valid", "real key, iat and nbf 10 minutes ahead: 401 token_not_yet_valid")
r = get(me, token=sign(HS, G(nbf=int(time.time()) + 600), real_key))
is_problem(r, 401, "token_not_yet_valid", "real key, nbf 10 minutes ahead: 401 token_not_yet_valid")
r = get(me, token=sign(HS, G(iat=int(time.time()) + 10, nbf=int(time.time()) + 10), real_key))
ok(r.status == 200, "real key, iat and nbf 10 s ahead (within the 30 s leeway): accepted", r)
r = get(me, token=sign(HS, G(iat=int(time.time()) - 60, exp=int(time.time())), real_key))
is_problem(r, 401, "token_expired", "real key, exp = now: 401 token_expired")
r = get(me, token=sign(HS, G(sub=alice.upper()), real_key))
ok(r.status == 200, "real key, sub in upper case names the same account", r)
r = post("/bid", {"lot": eng, "amount": 10_000}, token=sign(HS, G(sub="not-an-account"), real_key))
is_problem(r, 401, "invalid_token", "real key, non-UUID sub on /bid: 401, not a 500 from SQL")
r = get(me, token=sign(HS, G(), real_key.hex().encode()))
is_problem(r, 401, "invalid_token", "a token keyed with the key file's hex text (not its bytes) is refused")
r = get(me, token=sign(HS, G(), b""))
is_problem(r, 401, "invalid_token", "a token keyed with the empty key is refused")
r = get("/accounts/issuer", token=sign(HS, G(admin=True), real_key))
is_problem(r, 403, "admin_required", "an extra claim admin:true does not make a user an admin")
ok('error="insufficient_scope"' in r.headers.get("www-authenticate", ""),
   "403 admin_required carries WWW-Authenticate error=\"insufficient_scope\" (RFC 6750)", r.headers)
r = get("/accounts/issuer", token=sign(HS, dict(G(), **{"scope ": "admin"}), real_key))
is_problem(r, 403, "admin_required", "a near-miss claim name does not make a user an admin")

# a genuine token in the wrong place or with whitespace games
for label, value, status, code in [
    ("lower-case scheme", "bearer " + t_alice, 200, None),
    ("two spaces after Bearer", "Bearer  " + t_alice, 200, None),
    ("token then garbage", "Bearer " + t_alice + " x", 401, "invalid_token"),
    ("token in Basic", "Basic " + t_alice, 401, "invalid_token"),
    ("token without a scheme", t_alice, 401, "invalid_token"),
]:
    r = request("GET", me, headers={"Authorization": value})
    if code:
        is_problem(r, status, code, f"Authorization {label}: {status} {code}")
    else:
        is_(r.status, status, f"Authorization {label}: {status} (RFC 7235: the scheme is case-insensitive)")
# (a throwaway token: nginx logs request lines, query strings included, so a
# token a client puts there lands in nginx-access.log; it is refused anyway)
r = request("GET", me, headers={"Authorization": "Basic " + t_alice})
ok(re.fullmatch(r'Bearer realm="zerosum", error="invalid_token", error_description="[^"\\]*"',
                r.headers.get("www-authenticate", "")) is not None,
   "the challenge's error_description is a clean quoted-string", r.headers)
r = request("GET", me + "?access_token=" + token(alice, ttl=5))
is_problem(r, 401, "unauthenticated", "a token in the query string is not a credential")
r = request("GET", me, headers={"Cookie": "token=" + t_alice})
is_problem(r, 401, "unauthenticated", "a token in a cookie is not a credential")

# ---- secrets --------------------------------------------------------------------

key_hex = real_key.hex()
prev_keys = [k for _, k in jwt_keys()[1:]]
st = os.stat(KEY_FILE)
is_(oct(stat.S_IMODE(st.st_mode)), "0o600", "JWT key file mode is 0600")
sdir = os.path.dirname(KEY_FILE)
is_(oct(stat.S_IMODE(os.stat(sdir).st_mode) & 0o077), "0o0", "secrets directory grants nothing to group or other")
secret_files = [os.path.join(sdir, f) for f in os.listdir(sdir)]
secret_files += [p for p in [os.path.join(ZS_VAR, "pgbouncer", "userlist.txt")] if os.path.exists(p)]
bad = [f"{p} {oct(stat.S_IMODE(os.stat(p).st_mode))}" for p in secret_files if stat.S_IMODE(os.stat(p).st_mode) & 0o077]
ok(not bad, f"every secret file is private ({len(secret_files)} checked)", bad)

time.sleep(1.2)   # nginx flushes its buffered access log every second
logdir = os.path.join(ZS_VAR, "log")
logs = {}
for f in sorted(os.listdir(logdir)):
    p = os.path.join(logdir, f)
    if os.path.isfile(p):
        with open(p, "rb") as fh:
            logs[f] = fh.read()
needles = {"the JWT key (hex)": key_hex.encode(), "the JWT key (HEX)": key_hex.upper().encode(),
           "the JWT key (raw bytes)": real_key}
for i, k in enumerate(prev_keys):
    needles[f"previous JWT key {i} (hex)"] = k.hex().encode()
for name_, tok in [("alice's token", t_alice), ("bob's token", t_bob), ("the admin token", A),
                   ("an expired token", exp_user), ("the forged token", forged_admin), ("the alg:none token", none_admin)]:
    needles[name_] = tok.encode()
    needles[name_ + " (signature)"] = tok.rsplit(".", 1)[1].encode() if tok.rsplit(".", 1)[1] else tok.encode()
ok(len(logs) >= 3 and any(b"authz-alice" in v or b"/accounts/" in v for v in logs.values()),
   f"the logs were read ({', '.join(logs)})")
for label, needle in needles.items():
    found = [f for f, text in logs.items() if needle in text]
    ok(not found, f"logs: {label} appears in no log", found)
    leaked = [b[:200] for b in bodies_seen if needle.decode("latin-1") in b]
    ok(not leaked, f"bodies: {label} appears in no answer", leaked[:2])
r = request("GET", "/accounts/issuer", headers={"Authorization": "Bearer " + key_hex})
ok(key_hex not in r.body and r.status == 401, "the key itself sent as a token is refused and not echoed", r)

# ---- nothing died, the books balance ---------------------------------------------

# Leave no resting orders behind: their reserved cash sits in accounts.held,
# which later suites compare with lot holds alone.
r = post(f"/markets/{mkt}/resolve", {"outcome": "cancel"}, token=A)
ok(r.status == 200, "cleanup: the matrix's market is resolved (cancel), releasing its resting orders", r)
is_(query("SELECT count(*) FROM orders WHERE market_id = %s AND status = 'open'", (mkt,))[0][0], 0,
    "cleanup: no resting order is left")

is_(deaths(), deaths0, "no worker died during the matrix")
ok(children() == pids0, "the supervisor's children are the same processes")
is_(ledger_invariants(), [], "ledger invariants hold")
r = get("/proof")
ok(r.status == 200 and (r.json or {}).get("consistent") is True, "/proof is consistent", r.body[:300])
diag(f"test_authz: {time.time() - T0:.1f} s")
done()
