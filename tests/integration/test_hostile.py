"""Hostile input: a catalogue of malformed, oversized, mistyped, injected and
tricked requests against the live stack (nginx + workers + PostgreSQL).

Every case must be refused with a 4xx application/problem+json carrying the
expected stable `code` (nginx's own refusals are problem+json too, see
nginx/zerosum.conf.in), must write nothing (the ledger fingerprint and the
auction/run tables are compared around every single case and around the
whole catalogue), and must kill no worker (the supervisor's children and
zerosum_worker_deaths_total before and after).

Byte-exact requests (invalid UTF-8, NUL bytes, repeated headers, bad
Content-Length, raw paths) go over a plain socket; the rest use http.client.

Decisions this suite pins down (see the catalogue for the exact codes):
- A repeated member name in a JSON object ({"amount":1,"amount":2}) is
  refused, 400 duplicate_key. json-c alone keeps the last value; an API that
  moves money must not let two parsers (a proxy's and ours) read different
  amounts from one body.
- Strings must be RFC 8259 JSON over RFC 3629 UTF-8: raw control characters,
  overlong or surrogate UTF-8, code points above U+10FFFF and unpaired
  \\uD800-style escapes, and "1." are 400 malformed_json (json-c 0.16 accepted all of
  them; the UTF-8 ones then failed inside PostgreSQL as a 500).
- A repeated Idempotency-Key or Content-Type header is refused (nginx would
  pass both and the worker would silently use the first).
- No string may hold U+0000: an escaped \\u0000 in any JSON string (a
  member name or a value, however nested) and a %00 anywhere in the query
  are 400 invalid_string, refused by the parser and the one query decoder
  before any field is read (json-c kept the whole value, C read the prefix:
  {"to": "<uuid>\\u0000garbage"} was a transfer to <uuid>). nginx refuses
  NULs in the path and in headers itself (400).
- SQL metacharacters are data: ids and query parameters are validated before
  any SQL and refused; free text (name, memo, title, idempotency key) is
  stored and returned verbatim (checked after the catalogue).
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import json
import re
import socket
import threading
import time

import psycopg2

T0 = time.time()

# ---- helpers ---------------------------------------------------------------

_conn = None


def _cur():
    global _conn
    if _conn is None or _conn.closed:
        _conn = db()
    return _conn.cursor()


def world():
    """ledger_fingerprint() plus what a lot, bid, hold, market, order or run would change."""
    with _cur() as cur:
        cur.execute("""SELECT (SELECT count(*) FROM lots), (SELECT count(*) FROM bids),
                              (SELECT count(*) FROM holds), (SELECT count(*) FROM stampede_runs),
                              (SELECT count(*) FROM markets), (SELECT count(*) FROM orders),
                              (SELECT md5(coalesce(string_agg(id::text || ':' || balance || ':' || held,
                                                              ',' ORDER BY id), '')) FROM accounts),
                              (SELECT md5(coalesce(string_agg(id::text || ':' || status || ':' ||
                                                              coalesce(high_amount, 0) || ':' || seq || ':' ||
                                                              qty_claimed, ',' ORDER BY id), '')) FROM lots)""")
        extra = cur.fetchone()
    return tuple(ledger_fingerprint()) + tuple(extra)


def metrics_text():
    return get("/metrics").body


def metric(text, name):
    m = re.search(r"^" + re.escape(name) + r" (\d+)", text, re.M)
    return int(m.group(1)) if m else None


def count_5xx(text):
    return sum(int(n) for n in re.findall(r'^zerosum_requests_total\{[^}]*status="5\d\d"\} (\d+)', text, re.M))


def children():
    """The supervisor's children (workers and the jobs child)."""
    with open(os.path.join(ZS_VAR, "run", "zerosum.pid")) as f:
        sup = int(f.read().split()[0])
    kids = set()
    for task in os.listdir(f"/proc/{sup}/task"):
        with open(f"/proc/{sup}/task/{task}/children") as f:
            kids.update(int(p) for p in f.read().split())
    return kids


def quiesce(limit=70):
    """Wait until no background job can write during the catalogue: English
    lots of earlier suites that end within the next 40 s settle (capture
    transfers), and queued stampede runs finish."""
    t = time.time()

    def busy():
        return query("""SELECT (SELECT count(*) FROM lots WHERE kind = 'english' AND status = 'live'
                                  AND ends_at < now() + interval '40 seconds')
                             + (SELECT count(*) FROM stampede_runs WHERE status IN ('queued', 'running'))""")[0][0]
    quiet = wait_for(lambda: busy() == 0, timeout=limit, interval=0.5)
    if time.time() - t > 1:
        diag(f"waited {time.time() - t:.1f} s for earlier suites' lots and runs to settle")
    return quiet


def raw_http(data, timeout=15):
    """Send bytes, read one response (status, headers, Content-Length body).
    Returns a zs.Response, or None when the connection closed without one."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    buf = b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        if b"\r\n\r\n" not in buf:
            return None
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:] if ":" in line]
        length = next((int(v) for k, v in headers if k.lower() == "content-length"), None)
        while length is not None and len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        if length is not None:
            body = body[:length]
        return Response(status, headers, body.decode("utf-8", "replace"))
    except (ConnectionResetError, socket.timeout):
        return None
    finally:
        s.close()


def rawreq(method, path, headers=(), body=b"", length="auto", host=b"localhost"):
    """Bytes of one request. headers: (name, value) pairs of bytes/str, sent as given."""
    def b(x):
        return x if isinstance(x, bytes) else x.encode()
    out = b(method) + b" " + b(path) + b" HTTP/1.1\r\n"
    if host is not None:
        out += b"Host: " + host + b"\r\n"
    for k, v in headers:
        out += b(k) + b": " + b(v) + b"\r\n"
    if length == "auto" and body:
        out += b"Content-Length: %d\r\n" % len(body)
    elif length not in ("auto", None):
        out += b"Content-Length: " + b(length) + b"\r\n"
    out += b"Connection: close\r\n\r\n" + body
    return out


# ---- fixtures (written before the baseline) ---------------------------------

A = admin_token()
alice, t_alice = create_account("hostile-alice", 10_000)
bob, t_bob = create_account("hostile-bob", 0)
seller, _ = create_account("hostile-seller", 0)
eng = post("/lots", {"kind": "english", "seller": seller, "start": 100, "increment": 10,
                     "ends_in": 3600}, token=A).json["lot"]["id"]
drop = post("/lots", {"kind": "drop", "seller": seller, "price": 10, "quantity": 5},
            token=A).json["lot"]["id"]
mkt = post("/markets", {"kind": "event", "title": "hostile: will it hold?"}, token=A).json["market"]["id"]
tid = post("/transfer", {"from": alice, "to": bob, "amount": 1}, token=t_alice).json["transfer"]["id"]
bob_entry = query("SELECT id::text FROM entries WHERE account_id = %s LIMIT 1", (bob,))[0][0]
t_alice_expired = token(alice, ttl=-60)

DEL = object()   # "remove this field"


def w(base, **changes):
    """A copy of base with fields changed (value DEL removes the field)."""
    out = dict(base)
    for k, v in changes.items():
        if v is DEL:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def lit(base, field, literal):
    """JSON text of base with field's value replaced by a raw literal (1e400, -0, …)."""
    text = json.dumps(w(base, **{field: "@@LIT@@"}))
    return text.replace('"@@LIT@@"', literal)


TB = {"from": alice, "to": bob, "amount": 5, "memo": "ok"}                       # /transfer
BB = {"lot": eng, "amount": 200}                                                  # /bid (English)
DB_ = {"lot": drop, "quantity": 1}                                                # /bid (drop)
EL = {"kind": "english", "seller": seller, "start": 100, "increment": 10, "ends_in": 60}
DL = {"kind": "dutch", "seller": seller, "start": 100, "floor": 50, "step": 5, "interval": 10}
XL = {"kind": "drop", "seller": seller, "price": 10, "quantity": 5}
AB = {"name": "x"}                                                                # /accounts
RB = {"scenario": "oversell", "n": 10, "k": 2}                                    # /proof/runs
OB = {"market": mkt, "side": "buy", "outcome": "yes", "price": 10, "quantity": 1, "time_in_force": "gtc"}   # /order
MB = {"kind": "event", "title": "t"}                                              # /markets
SB = {"kind": "shares", "title": "s", "owner": seller, "supply": 10}
TOK = {"/transfer": t_alice, "/bid": t_alice, "/lots": A, "/accounts": A, "/proof/runs": A, "/order": t_alice,
       "/markets": A, f"/markets/{mkt}/resolve": A}
JSON_TB = json.dumps(TB).encode()
SQLI = "'; DROP TABLE accounts; --"


def P(path, body=None, raw=None, tok="auto", key="auto", ct="application/json", headers=None):
    """A POST. body: an object (JSON-encoded); raw: exact bytes or str."""
    return {"m": "POST", "p": path, "body": body, "raw": raw,
            "tok": TOK.get(path, t_alice) if tok == "auto" else tok,
            "key": new_key() if key == "auto" else key, "ct": ct, "h": headers}


def G(path, tok=None, m="GET", raw=None, headers=None, ct="application/json"):
    return {"m": m, "p": path, "body": None, "raw": raw, "tok": tok, "key": None, "ct": ct,
            "h": headers}


def S(data):
    """A raw-socket case."""
    return {"sock": data}


def auth_h(tok):
    return ("Authorization", "Bearer " + tok)


# ---- the catalogue: (name, request, expected status or set, expected code or set)

C = []

# malformed and truncated JSON (all on POST /transfer with a good token and key)
for text, code in [
    ("", "malformed_json"), (" ", "malformed_json"), ("{", "malformed_json"),
    ('{"from":', "malformed_json"), ('{"from":"' + alice, "malformed_json"),
    (json.dumps(TB)[:-1], "malformed_json"), (json.dumps(TB)[:40], "malformed_json"),
    ("{}}", "malformed_json"), ("{} {}", "malformed_json"), (json.dumps(TB) + "x", "malformed_json"),
    ('{"a":1,}', "malformed_json"), ("{a:1}", "malformed_json"), ("{'from':'x'}", "malformed_json"),
    ('{"a" 1}', "malformed_json"), ('{"a":[1,2}', "malformed_json"), ('{"a":"unterminated}', "malformed_json"),
    ('{"a":"\\x41"}', "malformed_json"), ('{"a":"\\u12"}', "malformed_json"), ('{"a":"\\ud8"}', "malformed_json"),
    ("/*c*/{}", "malformed_json"), ('{"a":1}//c', "malformed_json"), ("\ufeff{}", "malformed_json"),
    ('{"a":NaN}', "malformed_json"), ('{"a":Infinity}', "malformed_json"), ('{"a":-Infinity}', "malformed_json"),
    ('{"a":01}', "malformed_json"), ('{"a":1.}', "malformed_json"), ('{"a":.5}', "malformed_json"),
    ('{"a":+1}', "malformed_json"), ('{"a":0x10}', "malformed_json"), ('{"a":tru}', "malformed_json"),
    ('{"a":1.e5}', "malformed_json"), ('{"a":-}', "malformed_json"),
    ("null", "body_not_object"), ("1", "body_not_object"), ("true", "body_not_object"),
    ("[]", "body_not_object"), ('"x"', "body_not_object"), ("[" + json.dumps(TB) + "]", "body_not_object"),
]:
    C.append((f"malformed JSON {text[:48]!r} ({len(text)} bytes)", P("/transfer", raw=text), 400, code))

# duplicate member names: refused, whichever value comes last
C += [
    ("duplicate key: amount 1 then 2", P("/transfer", raw=json.dumps(TB)[:-1] + ', "amount": 2}'), 400, "duplicate_key"),
    ("duplicate key: from alice then bob (ownership confusion)",
     P("/transfer", raw=json.dumps(TB)[:-1] + f', "from": "{bob}"}}'), 400, "duplicate_key"),
    ("duplicate key: identical repeats", P("/transfer", raw=json.dumps(TB)[:-1] + ', "amount": 5}'), 400, "duplicate_key"),
    ("duplicate key: in a nested object (unknown field)", P("/transfer", raw=lit(TB, "memo", '{"a":1,"a":2}')), 400, "duplicate_key"),
    ("duplicate key: /accounts name", P("/accounts", raw='{"name":"x","name":"y"}'), 400, "duplicate_key"),
    ("duplicate key: /bid amount", P("/bid", raw=json.dumps(BB)[:-1] + ', "amount": 9999}'), 400, "duplicate_key"),
    ("duplicate key: /lots kind english then drop", P("/lots", raw=json.dumps(EL)[:-1] + ', "kind": "drop"}'), 400, "duplicate_key"),
]

# nesting
C += [
    ("nesting: 5000 [", P("/transfer", raw="[" * 5000), 400, "json_too_deep"),
    ("nesting: 5000 {\"a\":", P("/transfer", raw='{"a":' * 5000), 400, "json_too_deep"),
    ("nesting: 60000 [ (near the body cap)", P("/transfer", raw="[" * 60000), 400, "json_too_deep"),
    ("nesting: 17 levels in memo", P("/transfer", raw=lit(TB, "memo", "[" * 16 + "]" * 16)), 400, "json_too_deep"),
    ("nesting: 16 levels is parsed, then memo refused", P("/transfer", raw=lit(TB, "memo", "[" * 15 + "]" * 15)), 422, "invalid_memo"),
]

# bodies over the limit (64 KiB)
big_memo = lambda n: json.dumps(w(TB, memo="m" * (n - len(json.dumps(w(TB, memo=""))))))
C += [
    ("size: body of 64 KiB + 1", P("/transfer", raw=big_memo(65537)), 413, "body_too_large"),
    ("size: body of exactly 64 KiB passes the cap, memo refused", P("/transfer", raw=big_memo(65536)), 422, "invalid_memo"),
    ("size: 1 MiB body", P("/transfer", raw=b"{" + b" " * (1 << 20) + b"}"), 413, "body_too_large"),
    ("size: huge Content-Length, small body", S(rawreq("POST", "/transfer", [auth_h(t_alice), ("Content-Type", "application/json"),
                                                                          ("Idempotency-Key", new_key())], b"{}", length="1000000000")),
     413, "body_too_large"),
    ("size: Content-Length beyond 2^63", S(rawreq("POST", "/transfer", [auth_h(t_alice)], b"{}", length="99999999999999999999999")),
     400, "bad_request"),
    ("size: negative Content-Length", S(rawreq("POST", "/transfer", [auth_h(t_alice)], b"{}", length="-1")), 400, "bad_request"),
    ("size: Content-Length not a number", S(rawreq("POST", "/transfer", [auth_h(t_alice)], b"{}", length="abc")), 400, "bad_request"),
    ("size: two Content-Length headers", S(rawreq("POST", "/transfer", [auth_h(t_alice), ("Content-Length", "2")], b"{}", length="3")),
     400, "bad_request"),
    ("size: Content-Length and chunked together", S(rawreq("POST", "/transfer", [auth_h(t_alice), ("Transfer-Encoding", "chunked")],
                                                         b"2\r\n{}\r\n0\r\n\r\n", length="2")), 400, "bad_request"),
    ("size: chunked body over 64 KiB", S(rawreq("POST", "/transfer", [auth_h(t_alice), ("Content-Type", "application/json"),
                                                                  ("Idempotency-Key", new_key()), ("Transfer-Encoding", "chunked")],
                                                b"10001\r\n" + b" " * 0x10001 + b"\r\n0\r\n\r\n", length=None)), 413, "body_too_large"),
    ("size: chunked with a bad chunk size", S(rawreq("POST", "/transfer", [auth_h(t_alice), ("Transfer-Encoding", "chunked")],
                                                    b"zz\r\n{}\r\n0\r\n\r\n", length=None)), 400, "bad_request"),
]

# invalid UTF-8, control characters and NUL bytes
pre = json.dumps(TB)[:-len('"ok"}')].encode()    # ... "memo": 
for raw_str, label in [
    (b'"\xff"', "byte 0xff"), (b'"\xc0\xaf"', "overlong '/'"), (b'"\xe0\x80\xaf"', "overlong 3-byte"),
    (b'"\xed\xa0\x80"', "UTF-8-encoded surrogate"), (b'"\xf4\x90\x80\x80"', "above U+10FFFF"),
    (b'"\xf8\x88\x80\x80\x80"', "5-byte form"), (b'"\xe2\x82"', "truncated sequence"), (b'"\x80"', "lone continuation"),
    (b'"a\x00b"', "raw NUL in a string"), (b'"\x01"', "raw control 0x01"), (b'"\x1f"', "raw control 0x1f"),
    (b'"a\tb"', "raw tab"), (b'"a\nb"', "raw newline"), (b'"\\ud800"', "unpaired high surrogate escape"),
    (b'"\\udc00"', "unpaired low surrogate escape"), (b'"\\ud800\\u0041"', "high surrogate + non-surrogate"),
]:
    C.append((f"bytes: memo with {label}", P("/transfer", raw=pre + raw_str + b"}"), 400, "malformed_json"))
C += [
    ("bytes: NUL after the object", P("/transfer", raw=JSON_TB + b"\x00"), 400, "malformed_json"),
    ("bytes: NUL before the object", P("/transfer", raw=b"\x00" + JSON_TB), 400, "malformed_json"),
    ("bytes: 0xff in a member name", P("/transfer", raw=b'{"\xff":1}'), 400, "malformed_json"),
    ("bytes: UTF-16 body", P("/transfer", raw=json.dumps(TB).encode("utf-16")), 400, "malformed_json"),
    ("bytes: escaped NUL in memo", P("/transfer", raw=lit(TB, "memo", '"a\\u0000b"')), 400, "invalid_string"),
    ("bytes: escaped NUL in name", P("/accounts", raw='{"name":"a\\u0000b"}'), 400, "invalid_string"),
    ("bytes: escaped NUL in title", P("/lots", raw=lit(XL, "title", '"a\\u0000"')), 400, "invalid_string"),
    ("bytes: overlong UTF-8 in name", P("/accounts", raw=b'{"name":"\xc0\xaf"}'), 400, "malformed_json"),
    ("bytes: surrogate UTF-8 in title", P("/lots", raw=json.dumps(XL)[:-1].encode() + b', "title": "\xed\xb0\x80"}'), 400, "malformed_json"),
    ("bytes: 0xff in lot id", P("/bid", raw=b'{"lot":"\xff","amount":200}'), 400, "malformed_json"),
]

# U+0000 inside strings, every string every route reads: one refusal at the
# parse stage (400 invalid_string), before any field's own check. A valid
# prefix before the NUL is the attack: json-c keeps the whole value but C
# reads only the prefix, so {"to": "<bob>\u0000garbage"} was a transfer to bob.
STRING_FIELDS = [
    ("/transfer", TB, ["from", "to", "memo"]),
    ("/bid", BB, ["lot"]),
    ("/bid", DB_, ["lot"]),
    ("/lots", XL, ["kind", "seller", "title"]),
    ("/lots", EL, ["kind", "seller"]),
    ("/accounts", AB, ["name"]),
    ("/proof/runs", RB, ["scenario"]),
    ("/order", OB, ["market", "side", "outcome", "time_in_force"]),
    ("/markets", MB, ["kind", "title"]),
    ("/markets", SB, ["kind", "owner"]),
    (f"/markets/{mkt}/resolve", {"outcome": "yes"}, ["outcome"]),
]
for path, base, fields in STRING_FIELDS:
    label = path if "/resolve" not in path else "/markets/{id}/resolve"
    kind = f" ({base['kind']})" if "kind" in base else " (drop lot)" if base is DB_ else ""
    for f in fields:
        good = base.get(f, "ok")   # an optional field absent from base: any valid text
        for variant, v in [("valid prefix + NUL + garbage", good + "\x00garbage"), ("NUL alone", "\x00"),
                           ("NUL first", "\x00" + good), ("valid prefix + NUL", good + "\x00")]:
            C.append((f"NUL: {label}{kind} {f} = {variant}", P(path, w(base, **{f: v})), 400, "invalid_string"))
    # a member name cut at its NUL by json-c would read as the field itself
    f = fields[-1]
    body = {(k + "\x00x" if k == f else k): v for k, v in w(base, **{f: base.get(f, "ok")}).items()}
    C.append((f"NUL: {label}{kind} member name {f!r} + NUL", P(path, body), 400, "invalid_string"))
    C.append((f"NUL: {label}{kind} NUL in an unknown member's value", P(path, w(base, note="\x00")), 400,
              "invalid_string"))
C += [
    ("NUL: nested in an array value", P("/transfer", raw=lit(TB, "memo", '["ok", {"a": "\\u0000"}]')), 400, "invalid_string"),
    ("NUL: escaped backslash then u0000 is text, not NUL (memo refused as a non-string)",
     P("/transfer", raw=lit(TB, "memo", '["\\\\u0000"]')), 422, "invalid_memo"),
]
# query values (percent-decoded by one decoder; refused before any handler reads them)
for path, tok in [(f"/accounts/{alice}/entries?limit=5%00", t_alice), (f"/accounts/{alice}/entries?limit=%00", t_alice),
                  (f"/accounts/{alice}/entries?starting_after={bob_entry}%00", t_alice),
                  (f"/accounts/{alice}/entries?limit=5&starting_after=%00{bob_entry}", t_alice),
                  (f"/accounts/{alice}/entries?%00limit=5", t_alice),
                  (f"/accounts/{alice}/entries?x=%zz&limit=5%00", t_alice),
                  (f"/proof/activity?lot={eng}%00", None), ("/proof/activity?lot=%00", None),
                  ("/proof/activity?lot=%00" + eng, None), ("/lots?unread=%00", None),
                  (f"/accounts/{alice}?x=%00", t_alice), (f"/markets/{mkt}?x=%00", None)]:
    C.append((f"NUL: query {path.split('?', 1)[0].replace(alice, '{id}').replace(mkt, '{id}')}?"
              f"{path.split('?', 1)[1].replace(eng, '{lot}').replace(bob_entry, '{entry}')}",
              G(path, tok=tok), 400, "invalid_string"))
C.append(("NUL: query on a mutation", P("/transfer?x=%00", TB), 400, "invalid_string"))
# path captures: nginx decodes the path and refuses a NUL in it (400) before any worker
for path in [f"/accounts/{alice}%00", f"/accounts/{alice}%00/entries", f"/transfers/{tid}%00x", f"/lots/{eng}%00",
             "/proof/runs/%00", f"/markets/{mkt}%00", f"/markets/{mkt}%00/resolve", f"/order/{tid}%00"]:
    m = "DELETE" if path.startswith("/order/") else "POST" if path.endswith("/resolve") else "GET"
    C.append((f"NUL: path {m} {path.replace(alice, '{id}').replace(tid, '{id}').replace(eng, '{id}').replace(mkt, '{id}')}",
              S(rawreq(m, path, [auth_h(A), ("Content-Type", "application/json"), ("Idempotency-Key", new_key())],
                       b'{"outcome":"yes"}' if m == "POST" else b"")), 400, "bad_request"))
# headers the worker reads: nginx refuses a raw NUL in any header (400)
for name, value in [("Content-Type", b"application/json\x00x"), ("Idempotency-Key", new_key().encode() + b"\x00x"),
                    ("Authorization", b"Bearer " + t_alice.encode() + b"\x00x")]:
    hs = {"Authorization": b"Bearer " + t_alice.encode(), "Content-Type": b"application/json",
          "Idempotency-Key": new_key().encode()}
    hs[name] = value
    C.append((f"NUL: header {name} with a NUL after a valid value (raw)", S(rawreq("POST", "/transfer", list(hs.items()), JSON_TB)),
              400, "bad_request"))
C.append(("NUL: raw NUL in the query string (raw)", S(rawreq("GET", b"/proof/activity?lot=\x00", [])), 400, "bad_request"))

# wrong types and out-of-range values, every field
for field, values, code in [
    ("from", [1, None, [], {}, True, "not-a-uuid", "{" + alice + "}", alice + " ", alice[:-1], SQLI], "invalid_account_id"),
    ("to", [1, None, "x", bob.replace("-", ""), SQLI], "invalid_account_id"),
    ("amount", ["5", 5.0, 1.5, True, None, [], {}, 0, -1, 2 ** 63, 2 ** 64, -(2 ** 63) - 1], "invalid_amount"),
    ("memo", [1, [], {}, True, "x" * 141], "invalid_memo"),
]:
    for v in values:
        C.append((f"/transfer {field} = {json.dumps(v)[:50]}", P("/transfer", w(TB, **{field: v})), 422, code))
for literal in ["1e3", "1E2", "5e0", "1e400", "-0", "5.0e0", "123456789012345678901234567890", "-1e400", "0.0000001e7"]:
    C.append((f"/transfer amount = {literal}", P("/transfer", raw=lit(TB, "amount", literal)), 422, "invalid_amount"))
C += [
    ("/transfer missing from", P("/transfer", w(TB, **{"from": DEL})), 422, "missing_field"),
    ("/transfer missing to", P("/transfer", w(TB, to=DEL)), 422, "missing_field"),
    ("/transfer missing amount", P("/transfer", w(TB, amount=DEL)), 422, "missing_field"),
    ("/transfer unknown field", P("/transfer", w(TB, fee=0)), 422, "unknown_field"),
    ("/transfer unknown field named like SQL", P("/transfer", w(TB, **{SQLI: 1})), 422, "unknown_field"),
    ("/transfer from = to", P("/transfer", w(TB, to=alice)), 422, "same_account"),
    ("/transfer empty object", P("/transfer", {}), 422, "missing_field"),
]
for field, v, code in [
    ("lot", 1, "invalid_lot_id"), ("lot", None, "invalid_lot_id"), ("lot", "x", "invalid_lot_id"), ("lot", SQLI, "invalid_lot_id"),
    ("lot", DEL, "missing_field"),
    ("amount", "200", "invalid_amount"), ("amount", 1.5, "invalid_amount"), ("amount", 0, "invalid_amount"),
    ("amount", -1, "invalid_amount"), ("amount", 2 ** 63, "invalid_amount"), ("amount", [], "invalid_amount"),
    ("max_price", "1", "invalid_field"), ("max_price", 0, "invalid_field"),
    ("quantity", 0, "invalid_field"), ("quantity", 1_000_001, "invalid_field"), ("quantity", "1", "invalid_field"),
    ("bidder", alice, "unknown_field"),
]:
    C.append((f"/bid {field} = {'(missing)' if v is DEL else json.dumps(v)[:30]}", P("/bid", w(BB, **{field: v})), 422, code))
C += [
    ("/bid English lot with quantity (checked in the tx, rolled back)", P("/bid", w(BB, quantity=1)), 422, "field_not_applicable"),
    ("/bid English lot without amount (rolled back)", P("/bid", w(BB, amount=DEL)), 422, "missing_field"),
    ("/bid drop lot with amount (rolled back)", P("/bid", w(DB_, amount=10)), 422, "field_not_applicable"),
    ("/bid drop lot with max_price (rolled back)", P("/bid", w(DB_, max_price=10)), 422, "field_not_applicable"),
]
for base, field, v, code in [
    (EL, "kind", 1, "invalid_kind"), (EL, "kind", None, "invalid_kind"), (EL, "kind", "auction", "invalid_kind"),
    (EL, "kind", "English", "invalid_kind"), (EL, "kind", "english' OR '1'='1", "invalid_kind"),
    (EL, "seller", 1, "invalid_account_id"), (EL, "seller", "x", "invalid_account_id"), (EL, "seller", DEL, "invalid_account_id"),
    (EL, "seller", SQLI, "invalid_account_id"),
    (EL, "title", 1, "invalid_field"), (EL, "title", "t" * 201, "invalid_field"), (EL, "title", [], "invalid_field"),
    (EL, "start", "100", "invalid_field"), (EL, "start", 0, "invalid_field"), (EL, "start", -1, "invalid_field"),
    (EL, "start", 1.5, "invalid_field"), (EL, "start", 2 ** 63, "invalid_field"), (EL, "start", DEL, "missing_field"),
    (EL, "increment", 0, "invalid_field"), (EL, "ends_in", 0, "invalid_field"), (EL, "ends_in", 366 * 86400 + 1, "invalid_field"),
    (EL, "ends_in", "60", "invalid_field"), (EL, "reserve", 0, "invalid_field"), (EL, "snipe_window", -1, "invalid_field"),
    (EL, "snipe_extend", 86401, "invalid_field"), (EL, "price", 10, "field_not_applicable"),
    (DL, "floor", 101, "invalid_field"), (DL, "step", 0, "invalid_field"), (DL, "interval", 0, "invalid_field"),
    (DL, "quantity", 1, "field_not_applicable"),
    (XL, "price", 0, "invalid_field"), (XL, "quantity", 1_000_001, "invalid_field"), (XL, "quantity", True, "invalid_field"),
    (XL, "max_per_claim", 0, "invalid_field"), (XL, "start", 10, "field_not_applicable"),
    (XL, "reserve", 10, "field_not_applicable"), (XL, "owner", seller, "unknown_field"),
]:
    C.append((f"/lots {base['kind']} {field} = {'(missing)' if v is DEL else json.dumps(v)[:30]}",
              P("/lots", w(base, **{field: v})), 422, code))
C.append(("/lots dutch start = 1e2", P("/lots", raw=lit(DL, "start", "1e2")), 422, "invalid_field"))
for v, code in [(1, "invalid_name"), (None, "invalid_name"), ("", "invalid_name"), ("n" * 101, "invalid_name"),
                ([], "invalid_name"), ({}, "invalid_name"), (True, "invalid_name"), (DEL, "missing_field")]:
    C.append((f"/accounts name = {'(missing)' if v is DEL else json.dumps(v)[:30]}", P("/accounts", w(AB, name=v)), 422, code))
C += [
    ("/accounts unknown field kind=issuer", P("/accounts", w(AB, kind="issuer")), 422, "unknown_field"),
    ("/accounts unknown field balance", P("/accounts", w(AB, balance=1_000_000)), 422, "unknown_field"),
]
for field, v, code in [
    ("scenario", 1, "invalid_scenario"), ("scenario", None, "invalid_scenario"), ("scenario", "nope", "invalid_scenario"),
    ("scenario", "oversell'; --", "invalid_scenario"), ("scenario", DEL, "invalid_scenario"),
    ("n", 0, "invalid_field"), ("n", 501, "invalid_field"), ("n", "5", "invalid_field"), ("n", 1.5, "invalid_field"),
    ("n", None, "invalid_field"), ("k", 0, "invalid_field"), ("k", 11, "invalid_field"), ("k", "1", "invalid_field"),
    ("seed", 1, "unknown_field"),
]:
    C.append((f"/proof/runs {field} = {'(missing)' if v is DEL else json.dumps(v)[:30]}", P("/proof/runs", w(RB, **{field: v})), 422, code))

for field, v, code in [
    ("market", 1, "invalid_market_id"), ("market", "x", "invalid_market_id"), ("market", None, "invalid_market_id"),
    ("market", SQLI, "invalid_market_id"), ("side", "hold", "invalid_side"), ("side", 1, "invalid_side"),
    ("outcome", "maybe", "invalid_outcome"), ("outcome", None, "missing_field"), ("price", 0, "invalid_price"),
    ("price", 100, "price_out_of_range"), ("price", "10", "invalid_price"), ("price", 1.5, "invalid_price"),
    ("quantity", 0, "invalid_quantity"), ("quantity", 2 ** 63, "invalid_quantity"), ("quantity", "1", "invalid_quantity"),
    ("time_in_force", "day", "invalid_time_in_force"), ("account", bob, "unknown_field"),
]:
    C.append((f"/order {field} = {json.dumps(v)[:30]}", P("/order", w(OB, **{field: v})), 422, code))
for base, field, v, code in [
    (MB, "kind", "x", "invalid_kind"), (MB, "kind", 1, "invalid_kind"), (MB, "title", "", "invalid_field"),
    (MB, "title", 1, "invalid_field"), (MB, "title", "t" * 201, "invalid_field"), (MB, "owner", seller, "field_not_applicable"),
    (MB, "supply", 5, "field_not_applicable"), (MB, "tick_min", 0, "invalid_field"), (MB, "tick_max", 100, "invalid_field"),
    (MB, "escrow", 1, "unknown_field"), (SB, "owner", "x", "invalid_account_id"), (SB, "owner", SQLI, "invalid_account_id"),
    (SB, "supply", 0, "invalid_field"), (SB, "supply", "1", "invalid_field"),
]:
    C.append((f"/markets {base['kind']} {field} = {json.dumps(v)[:30]}", P("/markets", w(base, **{field: v})), 422, code))
for b, code in [({"outcome": "maybe"}, "invalid_outcome"), ({"outcome": 1}, "invalid_outcome"), ({}, "invalid_outcome"),
                ({"outcome": "yes", "payout": 100}, "unknown_field")]:
    C.append((f"/markets/{{id}}/resolve {json.dumps(b)}", P(f"/markets/{mkt}/resolve", b), 422, code))
C += [
    ("/markets/{id}/resolve on a non-UUID id", P("/markets/not-a-uuid/resolve", {"outcome": "yes"}, tok=A), 404, "market_not_found"),
    ("DELETE /order/{id} with a non-UUID id", dict(G("/order/'%3B--", tok=t_alice, m="DELETE"), key=new_key()), 404, "order_not_found"),
    ("DELETE /order/{id} without a key", G(f"/order/{tid}", tok=t_alice, m="DELETE"), 400, "missing_idempotency_key"),
    ("GET /markets/{id} with a non-UUID id", G("/markets/%25"), 404, "market_not_found"),
]

# idempotency keys
C += [
    ("key: 256 characters", P("/transfer", TB, key="k" * 256), 400, "invalid_idempotency_key"),
    ("key: 4000 characters", P("/transfer", TB, key="k" * 4000), 400, "invalid_idempotency_key"),
    ("key: empty", P("/transfer", TB, key=""), 400, "invalid_idempotency_key"),
    ("key: inner space", P("/transfer", TB, key="a b"), 400, "invalid_idempotency_key"),
    ("key: SQL with spaces", P("/transfer", TB, key=SQLI), 400, "invalid_idempotency_key"),
    ("key: tab", P("/transfer", TB, key="a\tb"), 400, "invalid_idempotency_key"),
    ("key: DEL 0x7f", P("/transfer", TB, key="a\x7fb"), 400, "invalid_idempotency_key"),
    ("key: missing", P("/transfer", TB, key=None), 400, "missing_idempotency_key"),
    ("key: missing on /bid", P("/bid", BB, key=None), 400, "missing_idempotency_key"),
    ("key: missing on /lots", P("/lots", EL, key=None), 400, "missing_idempotency_key"),
    ("key: missing on /accounts", P("/accounts", AB, key=None), 400, "missing_idempotency_key"),
    ("key: missing on /proof/runs", P("/proof/runs", RB, key=None), 400, "missing_idempotency_key"),
    ("key: valid SQL-ish key, invalid body (nothing stored)", P("/transfer", w(TB, amount=0), key="';DROP-TABLE-accounts;--"),
     422, "invalid_amount"),
]
for label, value in [("UTF-8 é", b"caf\xc3\xa9"), ("control 0x01", b"a\x01b"), ("byte 0xff", b"a\xffb")]:
    C.append((f"key: {label} (raw)", S(rawreq("POST", "/transfer", [auth_h(t_alice), ("Content-Type", "application/json"),
                                                                   ("Idempotency-Key", value)], JSON_TB)),
              400, "invalid_idempotency_key"))
C += [
    ("key: two Idempotency-Key headers", S(rawreq("POST", "/transfer", [auth_h(t_alice), ("Content-Type", "application/json"),
                                                                     ("Idempotency-Key", new_key()), ("Idempotency-Key", new_key())],
                                                  JSON_TB)), 400, "invalid_idempotency_key"),
    ("key: NUL byte in the header", S(rawreq("POST", "/transfer", [auth_h(t_alice), ("Content-Type", "application/json"),
                                                                ("Idempotency-Key", b"a\x00b")], JSON_TB)), 400, "bad_request"),
]

# Authorization headers (on a valid transfer: a refusal must move nothing)
C += [
    ("auth: 5000-byte bearer", P("/transfer", TB, tok=None, headers={"Authorization": "Bearer " + "a" * 5000}), 431, "header_too_large"),
    ("auth: 4097-byte header", P("/transfer", TB, tok=None, headers={"Authorization": "Bearer " + "a" * 4090}), 431, "header_too_large"),
    ("auth: 20 KiB header (nginx)", S(rawreq("POST", "/transfer", [("Authorization", "Bearer " + "a" * 20000)], JSON_TB)),
     431, "header_too_large"),
    ("auth: none", P("/transfer", TB, tok=None), 401, "unauthenticated"),
    ("auth: empty header", P("/transfer", TB, tok=None, headers={"Authorization": ""}), 401, "unauthenticated"),
    ("auth: 'Bearer' alone", P("/transfer", TB, tok=None, headers={"Authorization": "Bearer"}), 401, "invalid_token"),
    ("auth: 'Bearer' and spaces", P("/transfer", TB, tok=None, headers={"Authorization": "Bearer    "}), 401, {"invalid_token", "unauthenticated"}),
    ("auth: Basic", P("/transfer", TB, tok=None, headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401, "invalid_token"),
    ("auth: Token scheme", P("/transfer", TB, tok=None, headers={"Authorization": "Token " + t_alice}), 401, "invalid_token"),
    ("auth: not a JWT", P("/transfer", TB, tok="not-a-jwt"), 401, "invalid_token"),
    ("auth: a.b.c", P("/transfer", TB, tok="a.b.c"), 401, "invalid_token"),
    ("auth: four parts", P("/transfer", TB, tok=t_alice + ".x"), 401, "invalid_token"),
    ("auth: signature tampered", P("/transfer", TB, tok=t_alice[:-2] + ("AA" if t_alice[-2:] != "AA" else "BB")), 401, "invalid_token"),
    ("auth: signature stripped", P("/transfer", TB, tok=t_alice.rsplit(".", 1)[0] + "."), 401, "invalid_token"),
    ("auth: SQL as token", P("/transfer", TB, tok=SQLI), 401, "invalid_token"),
    ("auth: expired", P("/transfer", TB, tok=t_alice_expired), 401, "token_expired"),
    ("auth: 0xff bytes in the token (raw)", S(rawreq("POST", "/transfer", [("Authorization", b"Bearer \xff\xfe." + t_alice.encode()),
                                                                        ("Content-Type", "application/json"),
                                                                        ("Idempotency-Key", new_key())], JSON_TB)),
     401, "invalid_token"),
    ("auth: NUL in the header (raw)", S(rawreq("POST", "/transfer", [("Authorization", b"Bearer a\x00b")], JSON_TB)), 400, "bad_request"),
    ("auth: two Authorization headers (raw)", S(rawreq("POST", "/transfer", [auth_h(t_alice), auth_h(t_bob),
                                                                          ("Content-Type", "application/json"),
                                                                          ("Idempotency-Key", new_key())], JSON_TB)),
     400, "bad_request"),
]

# SQL metacharacters where they can only be refused (ids, enums, path and query)
for v in [SQLI, "\\", "%", "_", "$1", "' OR '1'='1", alice + "'--"]:
    C.append((f"sql: from = {v!r}", P("/transfer", w(TB, **{"from": v})), 422, "invalid_account_id"))
for v in ["%", "_", "$1", "\\"]:
    C.append((f"sql: lot = {v!r}", P("/bid", w(BB, lot=v)), 422, "invalid_lot_id"))
    C.append((f"sql: seller = {v!r}", P("/lots", w(EL, seller=v)), 422, "invalid_account_id"))
for path, code in [
    ("/accounts/'%3B%20DROP%20TABLE%20accounts%3B--", "account_not_found"), ("/accounts/%25", "account_not_found"),
    ("/accounts/_", "account_not_found"), ("/accounts/$1", "account_not_found"), ("/accounts/%5C", "account_not_found"),
    ("/transfers/'%20OR%20'1'='1", "transfer_not_found"), ("/transfers/%25", "transfer_not_found"),
    ("/lots/'%3B--", "lot_not_found"), ("/lots/_", "lot_not_found"), ("/proof/runs/'", "run_not_found"),
    ("/proof/runs/$1", "run_not_found"),
]:
    C.append((f"sql: GET {path}", G(path, tok=A), 404, code))

# wrong methods: 405 with the exact Allow
for m, path, allow in [
    ("PUT", "/transfer", "POST"), ("DELETE", "/transfer", "POST"), ("GET", "/transfer", "POST"), ("PATCH", "/transfer", "POST"),
    ("GET", "/accounts", "POST"), ("PATCH", "/accounts", "POST"), ("DELETE", f"/accounts/{alice}", "GET, HEAD, PATCH"),
    ("POST", f"/accounts/{alice}", "GET, HEAD, PATCH"), ("PUT", f"/lots/{eng}", "GET, HEAD"), ("DELETE", "/lots", "POST, GET, HEAD"),
    ("GET", "/bid", "POST"), ("PUT", "/bid", "POST"), ("OPTIONS", "/bid", "POST"), ("DELETE", "/proof/runs", "POST, GET, HEAD"),
    ("POST", "/healthz", "GET, HEAD"), ("POST", "/metrics", "GET, HEAD"), ("POST", "/proof", "GET, HEAD"), ("PUT", "/proof/activity", "GET, HEAD"),
    ("POST", f"/transfers/{tid}", "GET, HEAD"), ("POST", f"/accounts/{alice}/entries", "GET, HEAD"), ("POST", "/accounts/issuer", "GET, HEAD, PATCH"),
    ("PROPFIND", "/transfer", "POST"), ("DELETEDELETE", "/lots", "POST, GET, HEAD"),
    ("GET", "/order", "POST"), ("PUT", f"/order/{tid}", "DELETE, PATCH"), ("DELETE", "/markets", "POST, GET, HEAD"),
    ("GET", f"/markets/{mkt}/resolve", "POST"),
]:
    C.append((f"method: {m} {path}", dict(G(path, tok=A, m=m), allow=allow), 405, "method_not_allowed"))
C += [
    ("method: TRACE /transfer (nginx)", G("/transfer", tok=A, m="TRACE"), 405, "method_not_allowed"),
    ("method: TRACE /accounts/issuer (nginx)", G("/accounts/issuer", tok=A, m="TRACE"), 405, "method_not_allowed"),
    ("method: POST to a dashboard file (nginx)", G("/index.html", tok=A, m="POST"), 405, "method_not_allowed"),
    ("method: lower-case 'post'", S(rawreq("post", "/transfer", [auth_h(t_alice)], JSON_TB)), 400, "bad_request"),
]

# content types
for path, base in [("/transfer", TB), ("/bid", BB), ("/lots", EL), ("/accounts", AB), ("/proof/runs", RB),
                   ("/order", OB), ("/markets", MB)]:
    for ct in ["text/plain", "application/x-www-form-urlencoded", None]:
        C.append((f"content type {ct} on {path}", P(path, base, ct=ct), 415, "unsupported_media_type"))
for ct in ["application/json-patch+json", "multipart/form-data; boundary=x", "application/jsonx", "json",
           "application/json, text/plain", "text/json", "application/json-seq", "application/merge-patch+json"]:
    C.append((f"content type {ct}", P("/transfer", TB, ct=ct), 415, "unsupported_media_type"))
C.append(("content type: two Content-Type headers", S(rawreq("POST", "/transfer", [auth_h(t_alice), ("Idempotency-Key", new_key()),
                                                                                ("Content-Type", "application/json"),
                                                                                ("Content-Type", "text/plain")], JSON_TB)),
          415, "unsupported_media_type"))

# path tricks (raw, so nothing normalises them on the way out)
for m, path, headers, body, status, code in [
    ("GET", "/transfer/", [], b"", 405, "method_not_allowed"),
    ("POST", "/transfer/", [auth_h(t_alice), ("Content-Type", "application/json"), ("Idempotency-Key", new_key())], b"{", 400, "malformed_json"),
    ("GET", "/transfer/../transfer", [], b"", 405, "method_not_allowed"),
    ("GET", "/transfer/./", [], b"", 405, "method_not_allowed"),
    ("GET", "//transfer", [], b"", 405, "method_not_allowed"),
    ("GET", "//accounts", [], b"", 405, "method_not_allowed"),
    ("GET", "/%2e%2e/transfer", [], b"", 400, "bad_request"),
    ("GET", "/transfer%2f", [], b"", 405, "method_not_allowed"),
    ("GET", "/accounts/%00", [auth_h(A)], b"", 400, "bad_request"),
    ("GET", f"/accounts/{alice}%00", [auth_h(A)], b"", 400, "bad_request"),
    ("POST", "/accounts/..%2f", [auth_h(A), ("Content-Type", "application/json"), ("Idempotency-Key", new_key())], b'{"name":"x"}',
     405, "method_not_allowed"),
    ("GET", "/accounts/..%2f..%2f..%2fetc/passwd", [], b"", 400, "bad_request"),
    ("GET", "/../../etc/passwd", [], b"", 400, "bad_request"),
    ("GET", "/%2e%2e/%2e%2e/etc/passwd", [], b"", 400, "bad_request"),
    ("GET", "/accounts/issuer/..", [auth_h(A)], b"", 405, "method_not_allowed"),
    ("GET", "/accounts/" + "a" * 600, [auth_h(A)], b"", 414, "uri_too_long"),
    ("GET", "/" + "a" * 9000, [], b"", 414, "uri_too_long"),
    ("GET", "/accounts/" + "a" * 300, [auth_h(A)], b"", 404, "not_found"),
    ("GET", "/lots/not-a-uuid", [], b"", 404, "lot_not_found"),
    ("GET", "/lots/00000000-0000-0000-0000-00000000000g", [], b"", 404, "lot_not_found"),
    ("GET", "/lots/%ff", [], b"", 404, "lot_not_found"),
    ("GET", "/lots/\xff".encode("latin-1"), [], b"", 404, "lot_not_found"),
    ("GET", "/proof/runs/'", [], b"", 404, "run_not_found"),
    ("GET", "/TRANSFER", [], b"", 404, "not_found"),
    ("GET", "/transfer%20", [], b"", 404, "not_found"),
    ("GET", "/transfer;x=1", [], b"", 404, "not_found"),
    ("GET", "/accounts\\..\\transfer", [], b"", 404, "not_found"),
    ("GET", f"/accounts/{alice}/entries/x", [auth_h(A)], b"", 404, "not_found"),
    ("GET", "/.problem/400", [], b"", 404, "not_found"),
    ("GET", "http://evil.example/accounts/issuer", [], b"", 401, "unauthenticated"),
    ("GET", "*", [], b"", 400, "bad_request"),
    ("GARBAGE", "", [], b"", 400, "bad_request"),
]:
    C.append((f"path: {m} {path[:50]!r} ({len(path)} bytes)", S(rawreq(m, path, headers, body)), status, code))
C += [
    ("path: missing Host (HTTP/1.1)", S(rawreq("GET", "/healthz", [], host=None)), 400, "bad_request"),
    ("path: two Host headers", S(rawreq("GET", "/healthz", [("Host", "b")])), 400, "bad_request"),
    ("path: HTTP/9.9", S(b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n"), 505, "http_version_not_supported"),
]

# query-string abuse
ENT = f"/accounts/{alice}/entries"
for q, code in [
    ("limit=0", "invalid_limit"), ("limit=101", "invalid_limit"), ("limit=-1", "invalid_limit"), ("limit=abc", "invalid_limit"),
    ("limit=1e2", "invalid_limit"), ("limit=%zz", "invalid_limit"), ("limit=%", "invalid_limit"),
    ("limit=1%3B%20DROP%20TABLE%20entries", "invalid_limit"), ("limit=", "invalid_limit"), ("limit", "invalid_limit"),
    ("limit=99999999999999999999", "invalid_limit"), ("limit=0x10", "invalid_limit"), ("limit=5%20", "invalid_limit"),
    ("limit=$1", "invalid_limit"), ("limit=%205", "invalid_limit"), ("limit=+5", "invalid_limit"),
    ("limit=%2B5", "invalid_limit"),
    ("starting_after=x", "invalid_cursor"), ("starting_after='%3B%20DROP%20TABLE%20entries%3B--", "invalid_cursor"),
    ("starting_after=%25", "invalid_cursor"),
    ("ending_before=_", "invalid_cursor"), ("starting_after=$1", "invalid_cursor"), ("ending_before=%5C", "invalid_cursor"),
    ("starting_after=00000000-0000-0000-0000-000000000000", "invalid_cursor"),
    (f"ending_before={bob_entry}", "invalid_cursor"),    # another account's entry is not a cursor here
    ("starting_after=" + "a" * 100, "invalid_cursor"),
    (f"starting_after={bob_entry}&ending_before={bob_entry}", "conflicting_cursors"),
]:
    C.append((f"query: entries?{q[:50]}", G(f"{ENT}?{q}", tok=t_alice), 400, code))
C += [
    ("query: 1100-byte query string", G(f"{ENT}?x=" + "a" * 1100, tok=t_alice), 414, "uri_too_long"),
    ("query: activity lot=x", G("/proof/activity?lot=x"), 400, "invalid_lot_id"),
    ("query: activity lot=%27", G("/proof/activity?lot=%27"), 400, "invalid_lot_id"),
    ("query: activity lot=", G("/proof/activity?lot="), 400, "invalid_lot_id"),
    ("query: activity lot=%ff", G("/proof/activity?lot=%ff"), 400, "invalid_lot_id"),
    ("query: activity lot=%", G("/proof/activity?lot=%"), 400, "invalid_lot_id"),
    ("body on GET /lots", G("/lots", raw=b'{"a":1}'), 400, "unexpected_body"),
    ("body on GET /healthz", G("/healthz", raw=b"x"), 400, "unexpected_body"),
    ("body on GET /accounts/{id}", G(f"/accounts/{alice}", tok=t_alice, raw=JSON_TB), 400, "unexpected_body"),
]


# ---- run it -----------------------------------------------------------------

def send(req):
    if "sock" in req:
        return raw_http(req["sock"])
    h = dict(req["h"] or {})
    return request(req["m"], req["p"], body=req["body"], raw=req["raw"], token=req["tok"],
                   key=req["key"], headers=h, content_type=req["ct"])


# A body announced longer than it is: nginx waits client_body_timeout (10 s)
# and drops the connection; the worker never sees it. Runs alongside.
short_body = {}


def _short():
    short_body["r"] = raw_http(rawreq("POST", "/transfer", [auth_h(t_alice), ("Content-Type", "application/json"),
                                                            ("Idempotency-Key", new_key())], b"{}", length="100"), timeout=30)


quiesce()
w_start = world()
pids_start = children()
m_start = metrics_text()
deaths_start = metric(m_start, "zerosum_worker_deaths_total")
recycles_start = metric(m_start, "zerosum_worker_recycles_total")
e5xx_start = count_5xx(m_start)
slow = threading.Thread(target=_short, daemon=True)
slow.start()

names = [c[0] for c in C]
dups = sorted({n for n in names if names.count(n) > 1})
ok(not dups, f"catalogue: {len(C)} cases, names unique", dups)

prev = w_start
failed_cases = 0
for name, req, status, code in C:
    try:
        r = send(req)
    except Exception as e:        # a client-side error is a failed case, not a crash of the suite
        r = None
        diag(f"{name}: {type(e).__name__}: {e}")
    statuses = status if isinstance(status, set) else {status}
    codes = code if isinstance(code, set) else {code}
    good = (r is not None and r.status in statuses and r.code in codes
            and r.headers.get("content-type", "").startswith("application/problem+json")
            and isinstance(r.json, dict) and r.json.get("status") == r.status)
    if good and "allow" in req:
        good = r.headers.get("allow") == req["allow"]
    now = world()
    wrote = now != prev
    prev = now
    if not ok(good and not wrote, f"{name} -> {status} {code}",
              (f"got: {r.status} {r.headers.get('content-type')} allow={r.headers.get('allow')} {r.body[:300]}"
               if r is not None else "got: no response")
              + (f"\nexpected allow: {req.get('allow')}" if "allow" in req else "")
              + (f"\nWROTE: {prev}" if wrote else "")):
        failed_cases += 1

slow.join(30)
r = short_body.get("r")
ok(not slow.is_alive() and (r is None or r.status == 408),
   "short body: Content-Length 100 with 2 bytes is dropped by nginx (no answer or 408), never reaches a worker",
   r)

w_end = world()
is_(w_end, w_start, "catalogue: nothing written (ledger fingerprint, lots, bids, holds, runs, balances)")
is_(tuple(ledger_fingerprint()), tuple(w_start[:6]), "catalogue: ledger_fingerprint() unchanged")
m_end = metrics_text()
is_(metric(m_end, "zerosum_worker_deaths_total"), deaths_start, "no worker died (zerosum_worker_deaths_total)")
recycled = metric(m_end, "zerosum_worker_recycles_total") - recycles_start
pids_end = children()
ok(pids_end == pids_start or (recycled > 0 and len(pids_end) == len(pids_start)),
   "the supervisor's children are the same processes", f"before {sorted(pids_start)}\nafter {sorted(pids_end)}")
is_(count_5xx(m_end) - e5xx_start, 0, "no 5xx counted by the workers during the catalogue")
diag(f"hostile catalogue: {len(C)} cases, {failed_cases} failed")

# ---- SQL metacharacters in free text: stored and returned verbatim --------------

META = [SQLI, "\\", "%", "_", "$1", "Robert'); DROP TABLE transfers;--", "1' OR '1'='1", "%_\\$1'\";--",
        "\u0001\u001f\t\n", "€ 😀 \u2028"]
for i, s in enumerate(META):
    r = post("/accounts", {"name": s}, token=A)
    aid = ((r.json or {}).get("account") or {}).get("id")
    ok(r.status == 201 and r.json["account"]["name"] == s, f"verbatim: account name {s!r} created as sent", r)
    if aid:
        g = get(f"/accounts/{aid}", token=A)
        is_(((g.json or {}).get("account") or {}).get("name"), s, f"verbatim: account name {s!r} reads back")
        is_(query("SELECT name FROM accounts WHERE id = %s", (aid,)), [(s,)], f"verbatim: account name {s!r} in the database")
    r = post("/transfer", {"from": alice, "to": bob, "amount": 1, "memo": s}, token=t_alice)
    t = ((r.json or {}).get("transfer") or {}).get("id")
    ok(r.status == 201 and r.json["transfer"]["memo"] == s, f"verbatim: memo {s!r} accepted", r)
    if t:
        g = get(f"/transfers/{t}", token=t_alice)
        is_(((g.json or {}).get("transfer") or {}).get("memo"), s, f"verbatim: memo {s!r} reads back")
    r = post("/lots", dict(XL, title=s), token=A)
    lid = ((r.json or {}).get("lot") or {}).get("id")
    ok(r.status == 201 and r.json["lot"]["title"] == s, f"verbatim: lot title {s!r} accepted", r)
    if lid:
        g = get(f"/lots/{lid}")
        is_(((g.json or {}).get("lot") or {}).get("title"), s, f"verbatim: lot title {s!r} reads back")
for k in ["';DROP-TABLE-idempotency_keys;--", "$1%_\\'\"", "%", "_"]:
    r = post("/transfer", {"from": alice, "to": bob, "amount": 1}, token=t_alice, key=k)
    ok(r.status == 201, f"verbatim: Idempotency-Key {k!r} accepted", r)
    is_(query("SELECT count(*) FROM idempotency_keys WHERE key = %s AND caller = %s", (k, f"user:{alice}"))[0][0], 1,
        f"verbatim: Idempotency-Key {k!r} stored as sent")
    r2 = post("/transfer", {"from": alice, "to": bob, "amount": 1}, token=t_alice, key=k)
    ok(r2.status == 201 and r2.body == r.body and r2.headers.get("idempotent-replayed") == "true",
       f"verbatim: Idempotency-Key {k!r} replays (no LIKE-style matching on % or _)", r2)
# a limit that is a number after all, written with SQL around it, is still refused; a plain one works
r = get(f"{ENT}?limit=2", token=t_alice)
ok(r.status == 200 and len(r.json["data"]) == 2, "query: limit=2 still answers after all that", r)

tables = ["accounts", "transfers", "entries", "idempotency_keys", "lots", "bids", "holds", "stampede_runs"]
is_([t for t in tables if query("SELECT to_regclass(%s) IS NOT NULL", (t,))[0][0]], tables, "every table still exists")
is_(ledger_invariants(), [], "ledger invariants hold")
r = get("/proof")
ok(r.status == 200 and (r.json or {}).get("consistent") is True, "/proof is consistent", r.body[:300])
# ---- rate limiting: mutations per client address --------------------------
# nginx re-rendered with a tiny limit (5/s, burst 5), then put back.
rl = stack("restart", "nginx", env={"ZS_RATE_LIMIT": "5", "ZS_RATE_BURST": "5"})
ok(rl.returncode == 0, "nginx reloaded with a limit of 5 mutations/s", rl.stderr[-300:])
try:
    before_rl = ledger_fingerprint()
    answers = [request("POST", "/transfer", raw="{}") for _ in range(20)]
    limited = [a for a in answers if a.status == 429]
    ok(len(limited) >= 10, f"a burst of 20 mutations: {len(limited)} refused with 429",
       [a.status for a in answers])
    ok(all(a.code == "rate_limited" and a.headers.get("retry-after") == "1"
           and a.headers.get("content-type", "").startswith("application/problem+json")
           for a in limited), "…as problem+json rate_limited with Retry-After: 1")
    reads = [get("/healthz").status for _ in range(20)]
    is_(reads, [200] * 20, "reads are not limited")
    is_(ledger_fingerprint(), before_rl, "nothing written by the limited burst")
finally:
    rl = stack("restart", "nginx")
ok(rl.returncode == 0, "nginx back to the default limit", rl.stderr[-300:])
ok(wait_for(lambda: request("POST", "/transfer", raw="{}").status == 401, timeout=5),
   "mutations pass again (401 without a token, not 429)")

diag(f"test_hostile: {time.time() - T0:.1f} s")
if _conn is not None:
    _conn.close()
done()
