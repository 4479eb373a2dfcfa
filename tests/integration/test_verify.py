"""scripts/zerosum verify (build/zerosum-verify): a third party checks the
sealed log with nothing but the URL, or a bundle file.

Two sources of the same log are checked the same way:
- the bundle built here from the database rows by an independent Python
  encoder of docs/PROOF-FORMAT.md (records, RFC 9162 root with
  tests/lib/rfc9162.py, state commitment) signed with a Python Ed25519 key
  — it checks the verifier against a second implementation of the format;
- the live stack (/proof/checkpoint, /proof/records ...) once the stack
  serves them, with scripts/zerosum seal sealing on demand.

Cases: a clean log verifies (--replay, --transfer, --since, pin on first
use); a wrong key fails; a truncated or garbled note fails; tamper (a), the
rows of a sealed transfer rewritten with its entries and both balances,
fails --replay (root), --transfer and --size N --replay (the checkpoint of
an earlier size; the first N records only); tamper (b), the same rewrite and the
log re-derived and re-signed, fails --since <checkpoint saved before> and
a run against the checkpoint pinned before; restoring the rows passes again.
A market's split, merge and cancel (transfers of kinds split, merge and
refund at 50 per contract) replay clean; a split doctored to 250 and
re-signed fails escrow_pairs.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import base64
import hashlib
import tempfile

import rfc9162
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

VERIFY = os.path.join(REPO, "build", "zerosum-verify")
ORIGIN = "zerosum.local/ledger"
TMP = tempfile.mkdtemp(prefix="verify-", dir=ZS_VAR)
ISSUER_ID = "00000000-0000-0000-0000-000000000001"


def H(s):
    return hashlib.sha256(s.encode()).hexdigest()


def R(kind, uid):
    return H(f"zerosum/v1 {kind} {str(uid).lower()}")


def P(caller, key, memo):
    return H(f"zerosum/v1 private\n{caller or ''}\n{key or ''}\n{memo or ''}")


# ---- the independent encoder: transfers (with their entries) from the rows ----

def transfer_records():
    """(records, entries-per-account): every credit limit set (its `limit` record, by
    created_at, id; the replay holds an account overdrawn under a limit, as a suite before
    this one may leave it, to the latest), then every transfer in seal order (created_at,
    id). The limits come first so that a later call's log extends an earlier one's."""
    rows = query("""SELECT id::text, kind, from_account::text, to_account::text, amount,
                           (extract(epoch FROM created_at) * 1000000)::bigint, caller, idem_key, memo
                      FROM transfers ORDER BY created_at, id""")
    ents = {}
    for tid, eid, acct, amount in query("SELECT transfer_id::text, id::text, account_id::text, amount"
                                        " FROM entries"):
        ents.setdefault(tid, []).append((R("entry", eid), R("account", acct), amount))
    records, accts = [], {}
    limits = [f"zerosum/v1 limit\nref {R('limit', lid)}\naccount {R('account', acct)}\n"
              f"credit_limit {limit}\nat {at}\n"
              for lid, acct, limit, at in query("""SELECT id::text, account_id::text, credit_limit,
                                                  (extract(epoch FROM created_at) * 1000000)::bigint
                                                 FROM credit_limits ORDER BY created_at, id""")]
    for tid, kind, frm, to, amount, at, caller, key, memo in rows:
        lines = [f"zerosum/v1 transfer", f"ref {R('transfer', tid)}", f"kind {kind}",
                 f"from {R('account', frm)}", f"to {R('account', to)}", f"amount {amount}",
                 f"at {at}", f"private {P(caller, key, memo)}"]
        for eref, aref, eamount in sorted(ents.get(tid, [])):
            lines.append(f"entry {eref} {aref} {eamount}")
            bal, n = accts.get(aref, (0, 0))
            accts[aref] = (bal + eamount, n + 1)
        records.append("\n".join(lines) + "\n")
    return limits + records, accts


class Key:
    def __init__(self):
        self.sk = Ed25519PrivateKey.generate()
        self.pub = self.sk.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw)
        self.id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + self.pub).digest()[:4]
        b64 = base64.b64encode(b"\x01" + self.pub).decode()
        self.vkey = f"{ORIGIN}+{self.id.hex()}+{b64}"

    def sign(self, body):
        sig = self.sk.sign(body.encode())
        return body + "\n\u2014 " + ORIGIN + " " + base64.b64encode(self.id + sig).decode() + "\n"


def bundle(key, records, accts, note=None, path=None):
    """Write a bundle of records (signed with key unless note is given); returns (path, note)."""
    leaves = [rfc9162.leaf_hash(r.encode()) for r in records]
    root = rfc9162.mth(leaves)
    state = "zerosum/v1 state\nsize %d\n" % len(records) + "".join(
        f"account {a} {b} {n}\n" for a, (b, n) in sorted(accts.items()))
    body = (f"{ORIGIN}\n{len(records)}\n{base64.b64encode(root).decode()}\n"
            f"zerosum-state {H(state)}\n")
    note = note or key.sign(body)
    doc = {"format": "zerosum-proof-bundle/v1", "url": "", "key": {"origin": ORIGIN, "vkey": key.vkey},
           "checkpoint": note, "records": [{"index": i, "record": r} for i, r in enumerate(records)],
           "inclusions": [], "consistency": []}
    path = path or tempfile.mktemp(suffix=".json", dir=TMP)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path, note


def save(text):
    path = tempfile.mktemp(suffix=".note", dir=TMP)
    with open(path, "w") as f:
        f.write(text)
    return path


def verify(*args):
    """Run the verifier; (exit status, verdict dict from its last stdout line)."""
    p = subprocess.run([VERIFY, *args], capture_output=True, text=True, timeout=300)
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else "{}"
    try:
        verdict = json.loads(last)
    except ValueError:
        verdict = {"unparsable": last}
    if p.returncode not in (0, 1):
        diag(p.stderr)
    return p.returncode, verdict


def passes(args, name):
    rc, v = verify(*args)
    return ok(rc == 0 and v.get("ok") is True and v.get("failed") == [], name,
              f"exit {rc}: {json.dumps(v)[:1500]}")


def fails(args, check, name):
    rc, v = verify(*args)
    return ok(rc == 1 and v.get("ok") is False and check in v.get("failed", []), name,
              f"exit {rc}, expected {check} among the failed: {json.dumps(v)[:1500]}")


# ---- the rows tamper: a transfer, its entries and both balances, as superuser ----

def rewrite(tid, delta, aggregates=False):
    """Add delta to transfer tid's amount, its entries (and the running balances after them) and
    both balances (guards off)."""
    conn = db("postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute("SELECT from_account, to_account FROM transfers WHERE id = %s", (tid,))
            frm, to = cur.fetchone()
            cur.execute("UPDATE transfers SET amount = amount + %s WHERE id = %s", (delta, tid))
            cur.execute("UPDATE entries SET amount = amount - %s WHERE transfer_id = %s"
                        " AND account_id = %s", (delta, tid, frm))
            cur.execute("UPDATE entries SET amount = amount + %s WHERE transfer_id = %s"
                        " AND account_id = %s", (delta, tid, to))
            # the running balances from the transfer's entries on (running_balances_match)
            for acct, d in ((frm, -delta), (to, delta)):
                cur.execute("UPDATE entries SET balance_after = balance_after + %s WHERE account_id = %s"
                            " AND seq >= (SELECT seq FROM entries WHERE transfer_id = %s AND account_id = %s)",
                            (d, acct, tid, acct))
            cur.execute("UPDATE accounts SET balance = balance - %s WHERE id = %s", (delta, frm))
            cur.execute("UPDATE accounts SET balance = balance + %s WHERE id = %s", (delta, to))
            if aggregates:
                cur.execute("UPDATE seal_accounts SET balance = balance - %s WHERE account_id = %s",
                            (delta, frm))
                cur.execute("UPDATE seal_accounts SET balance = balance + %s WHERE account_id = %s",
                            (delta, to))
            cur.execute("COMMIT")
    finally:
        conn.close()


# ---- the log: accounts and transfers ---------------------------------------

ADMIN = admin_token()
alice, ta = create_account("alice", 5000)
bob, tb = create_account("bob", 0)
moves = []
for amount in (100, 250, 75):
    r = post("/transfer", {"from": alice, "to": bob, "amount": amount}, token=ta)
    ok(r.status == 201, f"transfer {amount} committed")
    moves.append(r.json["transfer"]["id"] if "transfer" in r.json else r.json["id"])
T = moves[1]


def bundle_cases():
    key = Key()
    records, accts = transfer_records()
    b1, note1 = bundle(key, records, accts)
    passes(["--bundle", b1, "--key", key.vkey, "--no-pin", "--replay", "--transfer", T],
           "bundle: a clean log verifies: signature, replay, inclusion of a transfer")
    since = save(note1)
    r = post("/transfer", {"from": alice, "to": bob, "amount": 5}, token=ta)
    ok(r.status == 201, "one more transfer")
    records2, accts2 = transfer_records()
    b2, note2 = bundle(key, records2, accts2)
    passes(["--bundle", b2, "--key", key.vkey, "--no-pin", "--replay", "--since", since],
           "bundle: the grown log is consistent with the checkpoint saved before (--since)")

    state = os.path.join(TMP, "state-bundle")
    passes(["--bundle", b1, "--state", state], "bundle: first use pins the key and the checkpoint")
    ok(os.path.exists(os.path.join(state, "key")) and os.path.exists(os.path.join(state, "checkpoint")),
       "the pin is written")
    passes(["--bundle", b2, "--state", state], "bundle: a later, consistent checkpoint advances the pin")
    rc, v = verify("--bundle", b1, "--state", state)
    pin = [c for c in v.get("checks", []) if c.get("name") == "pin"]
    ok(rc == 1 and pin and not pin[0]["ok"] and "shrank" in pin[0].get("detail", ""),
       "bundle: a log that went back to an earlier checkpoint fails against the pin (it shrank)",
       json.dumps(v)[:1500])
    other = Key()
    ob, _ = bundle(other, records2, accts2)
    fails(["--bundle", ob, "--state", state], "signature",
          "bundle: a log signed by another key than the pinned one fails")
    fails(["--bundle", b2, "--key", other.vkey, "--no-pin"], "signature", "a wrong --key fails")

    cut, _ = bundle(key, records2, accts2, note=note2[:len(note2) // 2])
    fails(["--bundle", cut, "--key", key.vkey, "--no-pin"], "checkpoint", "a truncated note fails")
    garbled = note2.replace(f"\n{len(records2)}\n", f"\n{len(records2) + 1}\n", 1)
    gb, _ = bundle(key, records2, accts2, note=garbled)
    fails(["--bundle", gb, "--key", key.vkey, "--no-pin"], "signature",
          "a garbled note (its size changed) fails")

    # tamper (a): rows only, the signed checkpoint stays. The sealer is frozen
    # until the rows are restored: it would otherwise seal T while tampered
    # (if it is not sealed yet), and the restore would then break the log.
    seal_freeze()
    rewrite(T, 40)
    records3, accts3 = transfer_records()
    b3, _ = bundle(key, records3, accts3, note=note2)
    fails(["--bundle", b3, "--key", key.vkey, "--no-pin", "--replay"], "replay_root",
          "tamper (a): rewritten rows no longer hash to the signed root")
    fails(["--bundle", b3, "--key", key.vkey, "--no-pin", "--transfer", T], f"inclusion:transfer:{T}",
          "tamper (a): the rewritten transfer's inclusion fails")
    # tamper (b): the operator re-derives the log and signs it again
    b4, _ = bundle(key, records3, accts3)
    passes(["--bundle", b4, "--key", key.vkey, "--no-pin", "--replay"],
           "tamper (b): the re-derived log is self-consistent")
    fails(["--bundle", b4, "--key", key.vkey, "--no-pin", "--replay", "--since", since], "since",
          "tamper (b): the re-derived log is not an extension of the checkpoint saved before")
    fails(["--bundle", b4, "--state", state, "--replay"], "pin",
          "tamper (b): nor of the pinned one")
    rewrite(T, -40)
    seal_thaw()
    records5, accts5 = transfer_records()
    b5, _ = bundle(key, records5, accts5, note=note2)
    passes(["--bundle", b5, "--key", key.vkey, "--no-pin", "--replay", "--transfer", T,
            "--since", since], "restored: the log verifies again")


def live():
    """Does the stack serve a signed checkpoint once everything is sealed?"""
    r = get("/proof/checkpoint")
    if r.status == 404 and r.code == "no_checkpoint":
        seal_now()
        r = get("/proof/checkpoint")
    return r.status == 200


def live_cases():
    URL = ENV["BASE_URL"]
    seal_now()
    state = os.path.join(TMP, "state-live")
    passes([URL, "--state", state, "--replay", "--transfer", T],
           "live: the sealed log verifies on first use (--replay, --transfer)")
    before = get("/proof/checkpoint").body
    since = save(before)
    r = post("/transfer", {"from": alice, "to": bob, "amount": 7}, token=ta)
    seal_now()
    passes([URL, "--state", state, "--since", since, "--replay"],
           "live: the grown log is consistent with the checkpoint saved before and the pin")
    # --size N: the checkpoint of an earlier size, and a replay of the first N records only
    n = int(before.split("\n")[1])
    latest = int(get("/proof/checkpoint").body.split("\n")[1])
    ok(n < latest, "live: the log grew past the saved checkpoint", f"{n} -> {latest}")
    passes([URL, "--no-pin", "--size", str(n), "--replay", "--transfer", T],
           "live: --size N --replay rebuilds the first N records against the checkpoint of size N")
    with open(os.path.join(state, "checkpoint")) as f:
        pin_before = f.read()
    passes([URL, "--state", state, "--size", str(n), "--replay"],
           "live: --size below the pin: the pinned checkpoint extends the one of size N")
    with open(os.path.join(state, "checkpoint")) as f:
        ok(f.read() == pin_before, "live: --size below the pin leaves the pin where it was")
    fails([URL, "--no-pin", "--size", str(latest + 1000)], "checkpoint",
          "live: --size of a size no seal has fails (no checkpoint of that size)")
    rc, v = verify(URL, "--no-pin", "--size", "0")
    ok(rc == 1, "live: --size 0 is a usage error", f"exit {rc}")
    pinned = os.path.join(TMP, "state-pinned")
    passes([URL, "--state", pinned], "live: a second pin")
    bad = Key()
    fails([URL, "--key", bad.vkey, "--no-pin"], "signature", "live: a wrong key fails")
    b = tempfile.mktemp(suffix=".json", dir=TMP)
    p = subprocess.run([VERIFY, "export-proof", "--url", URL, "--transfer", T, "--since", since],
                       capture_output=True, text=True, timeout=300)
    with open(b, "w") as f:
        f.write(p.stdout)
    ok(p.returncode == 0, "live: export-proof writes a bundle", p.stderr)
    passes(["--bundle", b, "--state", os.path.join(TMP, "state-export"), "--replay", "--transfer", T,
            "--since", since], "live: the exported bundle verifies offline")

    seal_freeze()
    try:
        rewrite(T, 40, aggregates=True)
        fails([URL, "--no-pin", "--key", bad.vkey], "signature", "still a wrong key")
        fails([URL, "--state", pinned, "--replay"], "replay_root",
              "live tamper (a): the records served no longer hash to the signed root")
        fails([URL, "--state", pinned, "--transfer", T], f"inclusion:transfer:{T}",
              "live tamper (a): the rewritten transfer's inclusion fails")
        fails([URL, "--state", pinned, "--size", str(n), "--replay"], "replay_root",
              "live tamper (a): --size N: the first N records no longer hash to the root signed at N")
        rewrite(T, -40, aggregates=True)
        passes([URL, "--state", pinned, "--replay", "--transfer", T], "live: restored, it verifies")
        # tamper (b): rewrite, then re-derive the log from the transfer's position on
        pos = query("SELECT sealed FROM transfers WHERE id = %s", (T,))[0][0]
        saved = query("SELECT seal_no, tree_size, records, counts, root, state_hash, prev_hash, hash,"
                      " checkpoint, oldest_at, created_at FROM seals WHERE tree_size > %s", (pos,))
        rewrite(T, 40, aggregates=False)
        rederive(pos)
    finally:
        seal_thaw()
    seal_now()
    fails([URL, "--no-pin", "--since", since], "since",
          "live tamper (b): the re-signed log is not an extension of the checkpoint saved before")
    fails([URL, "--state", pinned, "--replay"], "pin",
          "live tamper (b): nor of the checkpoint pinned before")
    diag(f"re-derived from position {pos}; {len(saved)} seals replaced")


def rederive(pos):
    """What an operator hiding a rewrite does: unseal from pos on and fix the aggregates."""
    conn = db("postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute("SELECT min(tree_size - records) FROM seals WHERE tree_size > %s", (pos,))
            start = cur.fetchone()[0]
            for t in ("transfers", "entries", "holds", "bids", "lots", "trades", "orders",
                      "pending_transfers"):
                cur.execute(f"UPDATE {t} SET sealed = NULL WHERE sealed >= %s", (start,))
            cur.execute("DELETE FROM seals WHERE tree_size > %s", (start,))
            cur.execute("DELETE FROM merkle_nodes WHERE (idx + 1) * (1::bigint << level) > %s", (start,))
            cur.execute("""UPDATE seal_accounts s SET balance = coalesce(x.b, 0), entries = coalesce(x.n, 0)
                             FROM (SELECT a.account_id, sum(e.amount) b, count(e.id) n FROM seal_accounts a
                                   LEFT JOIN entries e ON e.account_id = a.account_id AND e.sealed IS NOT NULL
                                   GROUP BY a.account_id) x WHERE x.account_id = s.account_id""")
            cur.execute("DELETE FROM seal_accounts WHERE entries = 0")
            cur.execute("COMMIT")
    finally:
        conn.close()


def split_merge_cases():
    """A market's splits, merges and a cancel's 50-per-contract payouts replay; a split
    doctored to 250 (not 100 per pair) and re-signed fails escrow_pairs."""
    mkt = post("/markets", {"kind": "event", "title": "verify: split and merge"}, token=ADMIN).json["market"]
    holder, th = create_account("verify-pairs", 1000)
    r = post(f"/markets/{mkt['id']}/split", {"quantity": 3}, token=th)
    ok(r.status == 201, "a split of 3 pairs", r)
    sid = (r.json or {}).get("transfer")
    ok(post(f"/markets/{mkt['id']}/merge", {"quantity": 1}, token=th).status == 200, "a merge of 1 pair")
    r = post(f"/markets/{mkt['id']}/resolve", {"outcome": "cancel"}, token=ADMIN)
    ok(r.status == 200 and (r.json or {}).get("paid") == 200, "cancelled: 2 pairs paid 50 per contract", r)
    is_(query("SELECT kind, amount FROM transfers WHERE from_account = %s OR to_account = %s ORDER BY created_at",
              (mkt["escrow"], mkt["escrow"])), [("split", 300), ("merge", 100), ("refund", 100), ("refund", 100)],
        "the escrow's transfers: split 300, merge 100, two refunds of 2 x 50")
    key = Key()
    records, accts = transfer_records()
    b, _ = bundle(key, records, accts)
    passes(["--bundle", b, "--key", key.vkey, "--no-pin", "--replay", "--transfer", sid],
           "bundle: a log with a split, a merge and a cancel's payouts verifies (replay, inclusion)")
    ref, payer, esc = R("transfer", sid), R("account", holder), R("account", mkt["escrow"])
    doctored = []
    for rec in records:
        if f"ref {ref}\n" in rec:
            lines = [("amount 250" if ln == "amount 300" else ln.replace(" -300", " -250") if ln.endswith(" -300")
                      else ln[:-4] + " 250" if ln.startswith("entry ") and ln.endswith(" 300") else ln)
                     for ln in rec.rstrip("\n").split("\n")]
            rec = "\n".join(lines) + "\n"
        doctored.append(rec)
    accts = dict(accts)
    accts[payer] = (accts[payer][0] + 50, accts[payer][1])
    accts[esc] = (accts[esc][0] - 50, accts[esc][1])
    ok(doctored != records, "the split's record is doctored to 250")
    b2, _ = bundle(key, doctored, accts)
    fails(["--bundle", b2, "--key", key.vkey, "--no-pin", "--replay"], "escrow_pairs",
          "bundle: a split of 250 (not 100 per pair), re-signed, fails escrow_pairs")


bundle_cases()
split_merge_cases()
if live():
    live_cases()
else:
    diag("the stack serves no signed checkpoint (no /proof/checkpoint, or the sealer signs "
         "none): live cases skipped")
done()
