"""Pending (two-phase) transfers: POST /transfer with "pending": true, then
POST /transfers/{id}/post or /void, or expiry (the database clock, the jobs
child, or the first post/void after the deadline).

Every outcome is checked against the database: balances and held before and
after, the pending row's status, the posting transfer. Races use real
concurrent clients, and real concurrent expirers (`zerosum expire-pending`,
the jobs child's expiry run in the foreground); expiry is forced by moving
the deadline in the database, never by sleeping.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import subprocess
import threading

ADMIN = admin_token()
alice, ta = create_account("alice", 1000)
bob, tb = create_account("bob", 0)
carol, tc = create_account("carol", 0)


def pend(amount, token=ta, frm=None, to=None, **extra):
    body = {"from": frm or alice, "to": to or bob, "amount": amount, "pending": True}
    body.update(extra)
    return post("/transfer", body, token=token)


def row(pid):
    rows = query("SELECT status, posted_amount, transfer_id::text, resolved_by"
                 " FROM pending_transfers WHERE id = %s", (pid,))
    return rows[0] if rows else None


def pending_count():
    return query("SELECT count(*) FROM pending_transfers")[0][0]


def expire_in_db(pid):
    query("UPDATE pending_transfers SET expires_at = now() - interval '1 second' WHERE id = %s",
          (pid,), user="postgres")


# ---- create -----------------------------------------------------------------
r = pend(300, timeout=600)
is_(r.status, 201, "a pending transfer is created")
t = (r.json or {}).get("transfer", {})
P1 = t.get("id")
is_((t.get("status"), t.get("kind"), t.get("amount")), ("pending", "pending", 300),
    "its answer says pending")
ok(t.get("posted_amount") is None and t.get("posted_transfer") is None, "nothing posted yet")
delta = parse_ts(t["expires_at"]) - parse_ts(t["created_at"])
ok(abs(delta.total_seconds() - 600) < 0.001, "expires_at is created_at + timeout", delta)
is_(balance(alice), (1000, 300), "the amount is held on the payer, nothing moved")
is_(balance(bob), (0, 0), "the payee has nothing yet")
a = get(f"/accounts/{alice}", token=ta).json["account"]
is_(a["available"], 700, "available falls by the pending amount")
db_row = query("SELECT expires_at - created_at FROM pending_transfers WHERE id = %s", (P1,))[0][0]
is_(db_row.total_seconds(), 600.0, "the database deadline is created_at + 600 s")

for who, tok in (("payer", ta), ("payee", tb), ("admin", ADMIN)):
    g = get(f"/transfers/{P1}", token=tok)
    is_((g.status, (g.json or {}).get("transfer", {}).get("status")), (200, "pending"),
        f"the {who} reads it")
is_problem(get(f"/transfers/{P1}", token=tc), 404, "transfer_not_found", "a stranger gets 404")

r = pend(50)
D = r.json["transfer"]
ok(abs((parse_ts(D["expires_at"]) - parse_ts(D["created_at"])).total_seconds() - 3600) < 0.001,
   "the default timeout is 3600 s")
is_(post(f"/transfers/{D['id']}/void", {}, token=ta).status, 200, "(voided again)")

# ---- bad input: stable codes, nothing written ------------------------------
before = (balance(alice), balance(bob), pending_count(),
          query("SELECT count(*) FROM transfers")[0][0])
is_problem(pend(10, timeout=0), 422, "invalid_timeout", "timeout 0")
is_problem(pend(10, timeout=604801), 422, "invalid_timeout", "timeout over 7 days")
is_problem(pend(10, timeout="60"), 422, "invalid_timeout", "timeout as a string")
is_problem(post("/transfer", {"from": alice, "to": bob, "amount": 5, "timeout": 60}, token=ta),
           422, "timeout_without_pending", "timeout without pending")
is_problem(pend(10, pending="yes"), 422, "invalid_pending", "pending must be a boolean")
is_problem(pend(701), 422, "insufficient_funds", "more than available (the hold counts)")
is_problem(pend(10, token=ADMIN, frm=ISSUER), 422, "pending_from_issuer",
           "the issuer cannot make a pending transfer")
is_problem(pend(10, token=tb), 403, "not_account_owner", "only the owner of from")
is_problem(post(f"/transfers/{P1}/post", {"amount": 301}, token=ta), 422,
           "post_amount_exceeds_pending", "post more than pending")
is_problem(post(f"/transfers/{P1}/post", {"amount": 0}, token=ta), 422, "invalid_amount",
           "post 0")
is_problem(post(f"/transfers/{P1}/post", {"x": 1}, token=ta), 422, "unknown_field",
           "unknown member")
is_problem(post(f"/transfers/{P1}/void", {"amount": 1}, token=ta), 422, "unknown_field",
           "void takes no amount")
is_problem(post(f"/transfers/{P1}/post", {}, token=tb), 403, "not_payer", "the payee may not post")
is_problem(post(f"/transfers/{P1}/post", {}, token=tc), 404, "transfer_not_found",
           "a stranger may not post")
is_problem(post(f"/transfers/{P1}/void", {}, token=tc), 404, "transfer_not_found",
           "a stranger may not void")
is_problem(post(f"/transfers/{uuid.uuid4()}/post", {}, token=ta), 404, "transfer_not_found",
           "unknown id")
is_problem(post("/transfers/nope/void", {}, token=ta), 404, "transfer_not_found", "not a uuid")
after = (balance(alice), balance(bob), pending_count(),
         query("SELECT count(*) FROM transfers")[0][0])
is_(after, before, "nothing was written by any refusal")
is_(row(P1)[0], "pending", "still pending")

# ---- partial post -----------------------------------------------------------
k = new_key()
r = post(f"/transfers/{P1}/post", {"amount": 120}, token=ta, key=k)
is_(r.status, 200, "partial post")
t = (r.json or {}).get("transfer", {})
is_((t.get("status"), t.get("posted_amount")), ("posted", 120), "posted 120")
is_(balance(alice), (880, 0), "payer: 120 left, the whole hold released")
is_(balance(bob), (120, 0), "payee got 120")
g = get(f"/transfers/{t['posted_transfer']}", token=tb)
is_((g.status, g.json["transfer"]["amount"], g.json["transfer"]["kind"]), (200, 120, "transfer"),
    "the posting transfer is an ordinary transfer")
is_(row(P1)[:3], ("posted", 120, t["posted_transfer"]), "the row records it")
r2 = post(f"/transfers/{P1}/post", {"amount": 120}, token=ta, key=k)
is_((r2.status, r2.headers.get("idempotent-replayed")), (200, "true"), "the same key replays")
is_(r2.json, r.json, "with the same answer")
is_problem(post(f"/transfers/{P1}/post", {}, token=ta), 409, "transfer_already_posted",
           "post twice")
is_problem(post(f"/transfers/{P1}/void", {}, token=ta), 409, "transfer_already_posted",
           "void after post")
is_(balance(alice), (880, 0), "nothing more moved")
g = get(f"/transfers/{P1}", token=tb).json["transfer"]
is_((g["status"], g["posted_amount"]), ("posted", 120), "GET shows posted and the amount")

# ---- void -------------------------------------------------------------------
r = pend(200)
P2 = r.json["transfer"]["id"]
is_(balance(alice), (880, 200), "held again")
r = post(f"/transfers/{P2}/void", {}, token=tb)
is_((r.status, r.json["transfer"]["status"]), (200, "voided"), "the payee voids")
is_(balance(alice), (880, 0), "the hold is released")
is_(balance(bob), (120, 0), "nothing moved")
is_problem(post(f"/transfers/{P2}/post", {}, token=ta), 409, "transfer_already_voided",
           "post after void")
is_(row(P2)[:3], ("voided", None, None), "voided row moved nothing")

# ---- expiry by the jobs child ----------------------------------------------
r = pend(70)
P3 = r.json["transfer"]["id"]
is_(balance(alice), (880, 70), "held")
expire_in_db(P3)
ok(wait_for(lambda: row(P3)[0] == "expired", timeout=20), "the jobs child expires it")
is_(row(P3)[3], "system:jobs", "expired by the jobs child")
is_(balance(alice), (880, 0), "its hold is released")
is_problem(post(f"/transfers/{P3}/post", {}, token=ta), 409, "transfer_expired", "expired: no post")
is_problem(post(f"/transfers/{P3}/void", {}, token=ta), 409, "transfer_expired", "expired: no void")
is_(get(f"/transfers/{P3}", token=ta).json["transfer"]["status"], "expired", "GET says expired")

# ---- expiry by a post that comes after the deadline --------------------------
r = pend(40)
P4 = r.json["transfer"]["id"]
expire_in_db(P4)
is_(get(f"/transfers/{P4}", token=ta).json["transfer"]["status"], "expired",
    "past its deadline it reads as expired at once")
is_problem(post(f"/transfers/{P4}/post", {}, token=ta), 409, "transfer_expired",
           "a post after the deadline is refused")
is_(row(P4)[0], "expired", "and the row is expired (by that post or the jobs child)")
is_(balance(alice), (880, 0), "its hold is released")

# ---- 50 concurrent post/void on one pending transfer ------------------------
CODES = {"posted": "transfer_already_posted", "voided": "transfer_already_voided",
         "expired": "transfer_expired"}


EXPIRERS = {5, 15, 35, 45}  # these contenders run the jobs child's expiry (zerosum expire-pending)


def cli_expire():
    return subprocess.run([ZS_BIN, "expire-pending", "-c", os.path.join(ZS_VAR, "zerosum.conf")],
                          capture_output=True, text=True, timeout=60)


def race(with_expiry, expired_first=False):
    r = pend(100)
    pid = r.json["transfer"]["id"]
    start = threading.Barrier(50)
    if expired_first:
        expire_in_db(pid)

    def one(i):
        start.wait()
        if with_expiry and i == 25:
            if not expired_first:
                expire_in_db(pid)
            return None
        if with_expiry and i in EXPIRERS:
            out = cli_expire()
            ok(out.returncode == 0, "zerosum expire-pending ran", out.stderr)
            return None
        if i % 3 == 0:
            return post(f"/transfers/{pid}/void", {}, token=tb)
        if i % 3 == 1:
            return post(f"/transfers/{pid}/void", {}, token=ta)
        return post(f"/transfers/{pid}/post", {"amount": 10 + i}, token=ta)

    res = [x for x in concurrently(one, [(i,) for i in range(50)], max_workers=50) if x]
    wins = [x for x in res if x.status == 200]
    label = ("expired first" if expired_first else "with expiry") if with_expiry else "post/void"
    ok(len(wins) <= 1, f"{label}: at most one winner", [x.status for x in wins])
    if not with_expiry:
        is_(len(wins), 1, f"{label}: exactly one winner")
    if expired_first:
        is_(len(wins), 0, f"{label}: past its deadline no post or void wins")
        is_(row(pid)[0], "expired", f"{label}: the expiry won")
    if not wins:
        ok(wait_for(lambda: row(pid)[0] == "expired", timeout=20),
           f"{label}: no request won, so the expiry did")
    st = row(pid)[0]
    if wins:
        is_(wins[0].json["transfer"]["status"], st, f"{label}: the winner's status is the row's")
    want = CODES[st]
    losers = [x for x in res if x.status != 200]
    ok(all(x.status == 409 and x.code == want for x in losers),
       f"{label}: every other request got 409 {want}",
       sorted({(x.status, x.code) for x in losers}))
    is_(balance(alice)[1], 0, f"{label}: the hold is released exactly once")
    moved = query("SELECT coalesce(sum(t.amount), 0) FROM transfers t JOIN pending_transfers p"
                  " ON p.transfer_id = t.id WHERE p.id = %s", (pid,))[0][0]
    is_(moved, row(pid)[1] or 0, f"{label}: what moved is what was posted")


bal0 = balance(alice)[0] + balance(bob)[0]
race(False)
race(True)
race(True, expired_first=True)
is_(balance(alice)[0] + balance(bob)[0], bal0, "the races moved money only between the two")

# ---- the end: the books ---------------------------------------------------
is_(ledger_invariants(), [], "entries balance, balances match entries, Σ balances = 0")
is_(query("SELECT coalesce(sum(held), 0) FROM accounts WHERE id IN (%s, %s, %s)",
          (alice, bob, carol))[0][0], 0, "held is back to 0")
is_(query("SELECT count(*) FROM pending_transfers WHERE status = 'pending' AND from_account = %s",
          (alice,))[0][0], 0,
    "nothing is left pending")
r = get("/proof", token=ADMIN)
is_((r.status, (r.json or {}).get("consistent")), (200, True), "/proof is consistent")
for name in ("holds_match_held", "pending_released"):
    c = [x for x in r.json["checks"] if x["name"] == name]
    ok(c and c[0]["ok"], f"/proof check {name} holds")
done()
