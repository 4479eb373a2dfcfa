#!/usr/bin/env python3
"""The API contract (docs/openapi.yaml) against the running service.

- The router's own table (`zerosum routes`) and the document's operations are
  the same set (plus GET /openapi.json, served by nginx as a static file).
- GET /openapi.json is the document; /api.html is its reference page and
  loads nothing from another origin.
- The checker every suite runs (zs.CONTRACT) refuses what it must: an
  undocumented status, a missing required member, an undocumented member.
- Requests generated from the request-body schemas (hypothesis, derandomized,
  a fixed budget): valid ones never get a validation 422, and one that breaks
  a single documented bound gets the documented 422.
"""
import copy
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import re

from zs import *  # noqa: F401,F403
import zs
from zerosum_py.contract import contract

from hypothesis import HealthCheck, given, settings, strategies as st

C = contract()
BUDGET = int(os.environ.get("ZS_OPENAPI_EXAMPLES", "25"))

# ---- the route table ------------------------------------------------------

out = subprocess.run([ZS_BIN, "routes"], capture_output=True, text=True, check=True).stdout
router = {tuple(line.split()[:2]) for line in out.splitlines() if line.strip()}
documented = set(C.operations())
static = {("GET", "/openapi.json")}
ok(router, f"zerosum routes lists {len(router)} routes")
is_(sorted(router - documented), [], "every route of the router is in docs/openapi.yaml")
is_(sorted(documented - router - static), [], "every operation of docs/openapi.yaml is a route of the router")

# ---- served -----------------------------------------------------------------

r = get("/openapi.json")
is_(r.status, 200, "GET /openapi.json is 200")
ok(r.headers.get("content-type", "").startswith("application/json"), "… as application/json",
   r.headers.get("content-type"))
ok(r.json == C.doc, "… and is docs/openapi.yaml")
r = get("/api.html")
is_(r.status, 200, "GET /api.html (the reference page) is 200")
ok("zerosum" in r.text and not re.search(r'<(script|link)[^>]+(src|href)="https?://', r.text),
   "… and loads no script or stylesheet from another origin")

# ---- the checker refuses what it must ----------------------------------------

good = post("/accounts", {"name": "contract"}, token=admin_token())
is_(good.status, 201, "an account for the checker's own test")
is_(C.check("POST", "/accounts", good), [], "a real answer conforms")


def tampered(a, status=None, body=None):
    b = copy.copy(a)
    if status is not None:
        b.status = status
    if body is not None:
        b.text = json.dumps(body)
    return b


ok(C.check("POST", "/accounts", tampered(good, status=299)), "an undocumented status is a violation")
acct = dict(good.json["account"])
del acct["held"]
ok(C.check("POST", "/accounts", tampered(good, body={"account": acct})), "a missing required member is a violation")
ok(C.check("POST", "/accounts", tampered(good, body={"account": dict(good.json["account"], extra=1)})),
   "an undocumented member is a violation")
bad = post("/transfer", {"from": ISSUER}, token=admin_token())
ok(C.check("POST", "/transfer", tampered(bad, body=dict(bad.json, code="lot_ended"))),
   "a code outside the route's enum is a violation")

# ---- requests generated from the schemas --------------------------------------

alice, ta = create_account("gen-a", fund=1_000_000)
bob, tb = create_account("gen-b", fund=1_000_000)
event = post("/markets", {"kind": "event", "title": "generated"}, token=admin_token()).json["market"]["id"]
lot = create_lot(kind="english", seller=bob, start=1, increment=1, ends_in=3600)["id"]
VALIDATION = {"unknown_field", "missing_field", "invalid_field", "invalid_amount", "invalid_account_id",
              "invalid_memo", "invalid_name", "invalid_kind", "invalid_scenario", "field_not_applicable",
              "same_account", "invalid_price", "invalid_quantity", "invalid_side", "invalid_outcome",
              "invalid_time_in_force", "invalid_market_id", "invalid_lot_id"}


def schema_of(path):
    body = C.doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return C.resolve(body)


def strat(s, ids):
    """A hypothesis strategy for values that satisfy schema s (the subset the
    request bodies use); ids maps a member name to the real id to send."""
    s = C.resolve(s)
    if "oneOf" in s:
        return st.one_of([strat(x, ids) for x in s["oneOf"]])
    types = s.get("type")
    types = types if isinstance(types, list) else [types]
    if "const" in s:
        return st.just(s["const"])
    if "enum" in s:
        return st.sampled_from(s["enum"])
    opts = []
    for t in types:
        if t == "null":
            opts.append(st.none())
        elif t == "integer":
            opts.append(st.integers(s.get("minimum", -2**63), s.get("maximum", 2**63 - 1)))
        elif t == "string":
            opts.append(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e),
                                min_size=s.get("minLength", 0), max_size=min(s.get("maxLength", 40), 40)))
        elif t == "object":
            props = s["properties"]
            req = {k: (st.just(ids[k]) if k in ids else strat(v, ids))
                   for k, v in props.items() if k in s.get("required", [])}
            opt = {k: (st.just(ids[k]) if k in ids else strat(v, ids))
                   for k, v in props.items() if k not in s.get("required", [])}
            opts.append(st.fixed_dictionaries(req, optional=opt))
    return st.one_of(opts)


def breakers(s, ids):
    """Ways to break exactly one documented bound of object schema s: a
    strategy of (valid body, member, bad value or a sentinel)."""
    out = []
    for name, p in s["properties"].items():
        p = C.resolve(p)
        if name in ids:
            continue
        if "maximum" in p and p["maximum"] < 2**63 - 1:
            out.append((name, st.integers(p["maximum"] + 1, p["maximum"] + 10**6)))
        if "minimum" in p and p["minimum"] > -2**63:
            out.append((name, st.integers(p["minimum"] - 10**6, p["minimum"] - 1)))
        if "maxLength" in p:
            out.append((name, st.text(st.sampled_from("abc"), min_size=p["maxLength"] + 1,
                                      max_size=p["maxLength"] + 20)))
        if "enum" in p and None not in p["enum"]:
            out.append((name, st.text(st.sampled_from("xyz"), min_size=1, max_size=5)))
    out.append(("unknown_member", st.just(1)))
    for name in s.get("required", []):
        out.append((name, st.just(KeyError)))
    return st.sampled_from(out).flatmap(lambda nv: nv[1].map(lambda v: (nv[0], v)))


CASES = [
    ("/transfer", ta, {"from": alice, "to": bob}),
    ("/accounts", admin_token(), {}),
    ("/order", ta, {"market": event}),
    ("/bid", ta, {"lot": lot}),
    ("/proof/runs", admin_token(), {}),
]
for path, tok, ids in CASES:
    s = orig = schema_of(path)
    if path == "/proof/runs":   # k ≤ n is a cross-field rule; a small n keeps the queued runs cheap
        s = dict(s, properties=dict(s["properties"], k={"type": "null"},
                                    n={"type": "integer", "minimum": 1, "maximum": 2}))
    if path == "/order":
        # an event market: its ticks, an outcome; a limit order (its terms are
        # cross-field rules: a market order's protection price, gtd's deadline)
        props = {k: v for k, v in s["properties"].items()
                 if k not in ("type", "protection_price", "expires_at")}
        s = dict(s, properties=dict(props, outcome={"enum": ["yes", "no"]},
                                    price={"type": "integer", "minimum": 1, "maximum": 99},
                                    time_in_force={"enum": ["gtc", "ioc", "fok"]}),
                 required=s["required"] + ["outcome", "price"])
    if path == "/bid":
        s = dict(s, properties={k: v for k, v in s["properties"].items() if k not in ("max_price", "quantity")},
                 required=["lot", "amount"])                  # an English lot: amount only
    valid_fail, invalid_fail = [], []

    @settings(max_examples=BUDGET, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strat(s, ids))
    def valid(body):
        r = post(path, body, token=tok)
        if r.status == 422 and r.code in VALIDATION:
            valid_fail.append((body, r.status, r.body[:200]))

    @settings(max_examples=BUDGET, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strat(s, ids), breakers(orig, ids))
    def invalid(body, brk):
        name, v = brk
        body = dict(body)
        if v is KeyError:
            body.pop(name, None)
        else:
            body[name] = v
        r = post(path, body, token=tok)
        if r.status != 422:
            invalid_fail.append((body, r.status, r.body[:200]))

    if path != "/proof/runs":   # a valid run is queued and run: the other suites' runs would wait
        valid()
        is_(valid_fail[:3], [], f"POST {path}: generated valid bodies get no validation 422")
    invalid()
    is_(invalid_fail[:3], [], f"POST {path}: a body breaking one documented bound gets 422")

for q, want in (("limit=0", 400), ("limit=101", 400), ("limit=100", 200), ("limit=1", 200),
                ("starting_after=x", 400), ("ending_before=x", 400)):
    r = get(f"/accounts/{alice}/entries?{q}", token=ta)
    is_(r.status, want, f"GET /accounts/{{id}}/entries?{q} is {want} (limit 1..100, cursors are uuids)")

done()
