"""The verifiable log's endpoints: GET /proof/key, /proof/checkpoint,
/proof/inclusion, /proof/consistency and /proof/records.

Activity goes through the API (transfers, a drop claim that sells the lot
out, a mint fill on an event market) in rounds, with the sealer frozen, and
each round is sealed with scripts/zerosum seal (zs.seal_now()), so the test
knows every seal. Then, with nothing but what the endpoints serve and
independent code (tests/lib/rfc9162.py written from RFC 9162, Python's
cryptography or the openssl CLI for Ed25519):

- the public key's C2SP vkey matches its PEM and the key id rule;
- every seal's checkpoint is a C2SP signed note that verifies, whose body
  names the seal's size and root;
- the records of /proof/records hash (0x00 || record) to leaves whose RFC 9162
  root is the signed root, at every seal's size;
- the inclusion proof of every transfer, bid and fill verifies against the
  checkpoint it comes with, and against older seals with &size=;
- the consistency proof between every pair of seal sizes verifies;
- bad input gets 400 with a stable code, unknown or unsealed things 404.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import base64
import hashlib
import re
import subprocess
import tempfile
import time
import uuid

import rfc9162

ADMIN = admin_token()
EM_DASH = "\u2014"


def pget(path):
    """GET a /proof path, waiting out nginx's per-address /proof rate limit."""
    for _ in range(50):
        r = get(path)
        if r.status != 429:
            return r
        time.sleep(float(r.headers.get("retry-after", "1") or 1))
    return r


# ---- the key --------------------------------------------------------------
key = pget("/proof/key")
is_(key.status, 200, "GET /proof/key → 200")
kj = key.json or {}
origin = kj.get("origin")
is_(origin, "zerosum.local/ledger", "the key is named after the log origin")
m = re.fullmatch(r"([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)", kj.get("vkey", ""))
ok(m is not None, "vkey is <name>+<hex8>+<base64>", kj.get("vkey"))
raw = base64.b64decode(m.group(3)) if m else b""
is_((len(raw), raw[:1]), (33, b"\x01"), "vkey carries 0x01 || 32-byte Ed25519 key")
pub = raw[1:]
key_id = hashlib.sha256(origin.encode() + b"\n\x01" + pub).digest()[:4]
is_(m.group(2) if m else None, key_id.hex(), "key id = SHA-256(name LF 0x01 key)[:4]")
with tempfile.TemporaryDirectory() as d:
    pem_path = os.path.join(d, "pub.pem")
    with open(pem_path, "w") as f:
        f.write(kj.get("pem", ""))
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", pem_path, "-outform", "DER"],
                         capture_output=True).stdout
is_(der[-32:], pub, "the PEM holds the vkey's public key")
pem = pget("/proof/key?format=pem")
is_((pem.status, pem.headers.get("content-type", "").split(";")[0], pem.text), (200, "text/plain", kj.get("pem")),
    "?format=pem → the PEM as text/plain")
is_problem(pget("/proof/key?format=der"), 400, "invalid_format", "?format=der → 400 invalid_format")


def sig_ok(body, sig):
    """Ed25519 over body with the log key: Python's cryptography if present, else openssl."""
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.exceptions import InvalidSignature
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(sig, body)
            return True
        except InvalidSignature:
            return False
    except ImportError:
        with tempfile.TemporaryDirectory() as d:
            for name, data in (("body", body), ("sig", sig), ("pub.pem", kj["pem"].encode())):
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)
            return subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                                   os.path.join(d, "pub.pem"), "-rawin", "-in", os.path.join(d, "body"),
                                   "-sigfile", os.path.join(d, "sig")], capture_output=True).returncode == 0


def open_note(note):
    """(body bytes, checkpoint dict) of a signed checkpoint note verified with the log key, or None."""
    text = note.encode()
    cut = text.rfind(b"\n\n")
    if cut < 0:
        return None
    body, sigs = text[:cut + 1], text[cut + 2:].decode()
    good = False
    for line in sigs.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or parts[1] != origin:
            continue
        blob = base64.b64decode(parts[2])
        if blob[:4] == key_id and len(blob) == 68:
            good = sig_ok(body, blob[4:])
            if not good:
                return None
    if not good:
        return None
    lines = body.decode().split("\n")
    if len(lines) != 5 or lines[4] != "" or not lines[3].startswith("zerosum-state "):
        return None
    return body, {"origin": lines[0], "size": int(lines[1]), "root": base64.b64decode(lines[2]),
                  "state": lines[3].split(" ", 1)[1]}


# ---- bad input (before anything is sealed by this test) ------------------
rand = str(uuid.uuid4())
for path, status, code in [
    ("/proof/inclusion", 400, "invalid_query"),
    ("/proof/inclusion?transfer=nope", 400, "invalid_uuid"),
    (f"/proof/inclusion?transfer={rand}&bid={rand}", 400, "invalid_query"),
    (f"/proof/inclusion?transfer={rand}&size=0", 400, "invalid_size"),
    (f"/proof/inclusion?transfer={rand}&size=x", 400, "invalid_size"),
    (f"/proof/inclusion?transfer={rand}", 404, "not_found"),
    (f"/proof/inclusion?fill={rand}", 404, "not_found"),
    ("/proof/consistency?from=1", 400, "invalid_size"),
    ("/proof/consistency?from=0&to=1", 400, "invalid_size"),
    ("/proof/consistency?from=5&to=3", 400, "invalid_size"),
    ("/proof/consistency?from=01&to=3", 400, "invalid_size"),
    ("/proof/consistency?from=1&to=999999999999", 404, "no_checkpoint"),
    ("/proof/records?limit=0", 400, "invalid_limit"),
    ("/proof/records?limit=1001", 400, "invalid_limit"),
    ("/proof/records?from=-1", 400, "invalid_position"),
    ("/proof/checkpoint?size=abc", 400, "invalid_size"),
    ("/proof/checkpoint?size=999999999999", 404, "no_checkpoint"),
]:
    is_problem(pget(path), status, code, f"GET {path} → {status} {code}")

# ---- activity, sealed in rounds -------------------------------------------
seal_freeze()
transfers, bids, fills = [], [], []
alice, ta = create_account("tlog-alice", 5000)
bob, tb = create_account("tlog-bob", 5000)
carol, tc = create_account("tlog-carol", 0)
seal_rows = []


def seal_round():
    out = seal_now()
    seal_freeze()
    return out


for rnd in range(3):
    for i in range(3 + rnd):
        r = post("/transfer", {"from": alice, "to": carol, "amount": 10 + i}, token=ta)
        is_(r.status, 201, f"round {rnd}: transfer {i} → 201")
        transfers.append(r.json["transfer"]["id"])
    lot = create_lot(kind="drop", seller=carol, price=25, quantity=1)
    r = place_bid(tb, lot["id"])
    is_(r.status, 201, f"round {rnd}: a drop claim sells the lot out")
    bids.append(r.json["bid"]["id"])
    mk = post("/markets", {"kind": "event", "title": f"tlog round {rnd}"}, token=ADMIN)
    is_(mk.status, 201, f"round {rnd}: an event market")
    mid = mk.json["market"]["id"]
    post("/order", {"market": mid, "side": "buy", "outcome": "yes", "price": 60, "quantity": 2,
                    "time_in_force": "gtc"}, token=ta)
    r = post("/order", {"market": mid, "side": "buy", "outcome": "no", "price": 40, "quantity": 2,
                        "time_in_force": "gtc"}, token=tb)
    is_(r.status, 201, f"round {rnd}: the opposite order fills")
    fills += [t for (t,) in query("SELECT id::text FROM trades WHERE market_id = %s", (mid,))]
    if rnd == 0:
        # Not sealed yet: the transfer exists, the proof says so.
        is_problem(pget(f"/proof/inclusion?transfer={transfers[0]}"), 404, "not_sealed",
                   "an unsealed transfer → 404 not_sealed")
    diag(f"round {rnd}: {seal_round().strip()}")
# The sealer stays frozen to the end: every read below takes the last seal as
# the log's size, and the jobs child would otherwise seal a lot that another
# suite left to settle meanwhile.

seals = query("SELECT seal_no, tree_size, encode(root, 'hex') FROM seals ORDER BY seal_no")
ok(len(seals) >= 3, f"the rounds made seals ({len(seals)})")
ok(len(fills) >= 3, f"the markets filled ({len(fills)} fills)")
sizes = [s[1] for s in seals]
roots = {s[1]: bytes.fromhex(s[2]) for s in seals}
latest = sizes[-1]

# ---- checkpoints ----------------------------------------------------------
cp = pget("/proof/checkpoint")
is_((cp.status, cp.headers.get("content-type", "").split(";")[0]), (200, "text/plain"),
    "GET /proof/checkpoint → 200 text/plain")
is_(cp.headers.get("cache-control"), "no-store", "…not cached (it moves)")
opened = open_note(cp.text)
ok(opened is not None, "the latest checkpoint is a signed note that verifies with the vkey", cp.text)
body, ck = opened if opened else (b"", {})
is_((ck.get("origin"), ck.get("size"), ck.get("root")), (origin, latest, roots[latest]),
    "…naming the origin, the latest seal's size and root")
tampered = cp.text.replace(f"\n{latest}\n", f"\n{latest + 1}\n", 1)
ok(open_note(tampered) is None, "a checkpoint with its size changed does not verify")
bad_ck = []
for s in sizes:
    r = pget(f"/proof/checkpoint?size={s}")
    o = open_note(r.text) if r.status == 200 else None
    if not o or o[1]["size"] != s or o[1]["root"] != roots[s] or "immutable" not in r.headers.get("cache-control", ""):
        bad_ck.append(s)
is_(bad_ck, [], "every seal's checkpoint (?size=N) verifies, names its size and root, and is cacheable")

# ---- records replay to the signed roots ------------------------------------
records, frm, pages = [], 0, 0
while True:
    r = pget(f"/proof/records?from={frm}&limit=7")
    if r.status != 200:
        ok(False, "GET /proof/records", r)
        break
    pages += 1
    page = r.json
    ok(all(x["index"] == frm + i for i, x in enumerate(page["records"])), f"page from {frm} is contiguous")
    records += [x["record"] for x in page["records"]]
    if page["next"] is None:
        break
    frm = page["next"]
is_(len(records), latest, f"/proof/records served every position 0..{latest - 1} ({pages} pages)")
leaves = [rfc9162.leaf_hash(rec.encode()) for rec in records]
is_([s for s in sizes if rfc9162.mth(leaves[:s]) != roots[s]], [],
    "the records hash to leaves whose RFC 9162 root is every seal's root")
kinds = {rec.split("\n", 1)[0] for rec in records}
ok({"zerosum/v1 transfer", "zerosum/v1 bid", "zerosum/v1 lot", "zerosum/v1 fill"} <= kinds,
   "transfers, bids, lots and fills are in the log", kinds)
r = pget(f"/proof/records?from={latest}")
is_((r.status, (r.json or {}).get("records"), (r.json or {}).get("next")), (200, [], None),
    "records from the end → an empty page, next null")
ok(all(rand not in rec and alice not in rec for rec in records), "no record shows a raw UUID")


# ---- inclusion ------------------------------------------------------------
def check_inclusion(kind, ident, size=None):
    q = f"/proof/inclusion?{kind}={ident}" + (f"&size={size}" if size else "")
    r = pget(q)
    if r.status != 200:
        return f"{q}: {r.status} {r.text[:200]}"
    j = r.json
    o = open_note(j["checkpoint"])
    if o is None:
        return f"{q}: checkpoint does not verify"
    leaf = bytes.fromhex(j["leaf_hash"])
    if leaf != rfc9162.leaf_hash(j["record"].encode()):
        return f"{q}: the record does not hash to the leaf"
    if j["tree_size"] != o[1]["size"] or (size and j["tree_size"] != size):
        return f"{q}: tree size {j['tree_size']} vs checkpoint {o[1]['size']}"
    path = [bytes.fromhex(h) for h in j["path"]]
    if not rfc9162.verify_inclusion(j["index"], j["tree_size"], leaf, path, o[1]["root"]):
        return f"{q}: the path does not verify"
    if records[j["index"]] != j["record"]:
        return f"{q}: the record differs from /proof/records"
    if len(path) > 1 and rfc9162.verify_inclusion(j["index"] ^ 1, j["tree_size"], leaf, path, o[1]["root"]):
        return f"{q}: verifies at the wrong index"
    return None


errs = [e for e in (check_inclusion("transfer", t) for t in transfers) if e]
is_(errs, [], f"the inclusion proof of each of {len(transfers)} transfers verifies against its checkpoint")
errs = [e for e in (check_inclusion("bid", b) for b in bids) if e]
is_(errs, [], f"…and of each of {len(bids)} bids")
errs = [e for e in (check_inclusion("fill", f) for f in fills) if e]
is_(errs, [], f"…and of each of {len(fills)} fills")
# Earlier suites on the same stack sealed logs of their own first: the
# transfer is in every seal from the one that sealed it on.
first_pos = query("SELECT sealed FROM transfers WHERE id = %s", (transfers[0],))[0][0]
later = [s for s in sizes if s > first_pos]
ok(len(later) >= 1, "the first transfer is in at least one seal")
errs = [e for e in (check_inclusion("transfer", transfers[0], s) for s in later) if e]
is_(errs, [], "the first transfer's proof verifies against every seal from the one that sealed it (?size=N)")
earlier = [s for s in sizes if s <= first_pos]
if earlier:
    r = pget(f"/proof/inclusion?transfer={transfers[0]}&size={earlier[-1]}")
    is_problem(r, 404, "not_sealed", "…and a seal before it answers 404 not_sealed")
is_problem(pget(f"/proof/inclusion?transfer={transfers[-1]}&size={sizes[0]}"), 404, "not_sealed",
           "a transfer sealed after the asked size → 404 not_sealed")
is_problem(pget(f"/proof/inclusion?transfer={transfers[0]}&size={latest + 1}"), 404, "no_checkpoint",
           "a size no seal has → 404 no_checkpoint")

# ---- consistency ----------------------------------------------------------
bad = []
# Every pair among the last seals (this suite's rounds among them) and a spread of
# the earlier ones: all pairs of a stack that earlier suites sealed hundreds of
# times would be tens of thousands of requests.
picked = sorted(set(sizes[-12:] + sizes[:-12][::max(1, len(sizes[:-12]) // 12)]))
pairs = [(a, b) for i, a in enumerate(picked) for b in picked[i:]]
for a, b in pairs:
    r = pget(f"/proof/consistency?from={a}&to={b}")
    if r.status != 200 or (r.json["from"], r.json["to"]) != (a, b):
        bad.append((a, b, r.status))
        continue
    path = [bytes.fromhex(h) for h in r.json["path"]]
    if not rfc9162.verify_consistency(a, b, roots[a], roots[b], path):
        bad.append((a, b, "does not verify"))
    elif a < b and rfc9162.verify_consistency(a, b, roots[b], roots[a], path):
        bad.append((a, b, "verifies with swapped roots"))
is_(bad, [], f"the consistency proof between every pair of {len(picked)} seal sizes verifies ({len(pairs)} pairs)")
if sizes[0] > 1:
    is_problem(pget(f"/proof/consistency?from={sizes[0] - 1}&to={latest}"), 404, "no_checkpoint",
               "from a size no seal has → 404 no_checkpoint")

seal_thaw()
contract_ok()
done()
