"""Linked batches: POST /transfers/batch applies its transfers in order, all or
none, in one transaction under one Idempotency-Key.

Every outcome is checked against the database (the ledger fingerprint and
balances before and after). The overlap test uses real concurrent clients
on the same accounts in different item orders and checks that none of them
deadlocked (no 5xx, no 40P01 in the server's log) and that the ledger's
invariants and /proof hold afterwards.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import random

ADMIN = admin_token()
MAX = 100
alice, ta = create_account("batch-alice", 10_000)
bob, tb = create_account("batch-bob", 0)
carol, tc = create_account("batch-carol", 0)


def batch(items, token=ta, key="auto"):
    return post("/transfers/batch", {"transfers": items}, token=token, key=key)


def tr(frm, to, amount, **extra):
    d = {"from": frm, "to": to, "amount": amount}
    d.update(extra)
    return d


def state(*accounts):
    return (ledger_fingerprint(), tuple(balance(a) for a in accounts),
            query("SELECT count(*) FROM pending_transfers")[0][0])


def results_codes(r):
    return [x.get("code") for x in (r.json or {}).get("results", [])]


# ---- a batch of 100 with one bad item moves nothing ---------------------------------
before = state(alice, bob, carol)
items = [tr(alice, bob, 1) for _ in range(MAX)]
items[57] = tr(alice, bob, 10**9)  # more than alice has
r = batch(items)
is_problem(r, 422, "insufficient_funds", "100 items, item 57 unaffordable: 422 with its own code")
is_((r.json or {}).get("index"), 57, "the problem names the failing item")
codes = results_codes(r)
is_(len(codes), MAX, "one result per item")
is_(codes[57], "insufficient_funds", "the failing item carries its code")
ok(all(c == "linked_transfer_failed" for i, c in enumerate(codes) if i != 57),
   "every other item is linked_transfer_failed")
after = state(alice, bob, carol)
is_(after[1:], before[1:], "no balance, held or pending row changed")
is_(after[0][:5], before[0][:5], "no transfer, entry or balance sum changed")
is_(after[0][5], before[0][5] + 1, "only the refusal was stored under the key")

before = state(alice, bob)
items = [tr(alice, bob, 1) for _ in range(MAX)]
items[99] = tr(alice, str(uuid.uuid4()), 1)
r = batch(items)
is_problem(r, 422, "to_account_not_found", "an unknown payee in the last item")
is_(((r.json or {}).get("index"), results_codes(r)[0]), (99, "linked_transfer_failed"),
    "index 99; the items before it are linked_transfer_failed")
is_(state(alice, bob)[1:], before[1:], "nothing moved")

# ---- bad input, refused before the database ------------------------------------------
before = state(alice, bob, carol)
is_problem(batch([tr(alice, bob, 1)] * (MAX + 1)), 422, "batch_too_large", "101 items")
is_problem(batch([]), 422, "empty_batch", "no items")
is_problem(post("/transfers/batch", {"transfers": {}}, token=ta), 422, "invalid_transfers",
           "transfers must be an array")
is_problem(post("/transfers/batch", {}, token=ta), 422, "missing_field", "transfers is required")
is_problem(post("/transfers/batch", {"transfers": [], "x": 1}, token=ta), 422, "unknown_field",
           "unknown member")
r = batch([tr(alice, bob, 1), tr(alice, bob, 0)])
is_problem(r, 422, "invalid_amount", "an item's own validation code")
is_(((r.json or {}).get("index"), results_codes(r)), (1, ["linked_transfer_failed", "invalid_amount"]),
    "with its index")
is_problem(batch([tr(alice, alice, 1)]), 422, "same_account", "same account in an item")
is_problem(batch([3]), 422, "invalid_transfer", "an item that is not an object")
is_problem(batch([tr(alice, bob, 1, pending=True, timeout=0)]), 422, "invalid_timeout",
           "an item's bad timeout")
r = batch([tr(alice, bob, 1), tr(bob, carol, 1)])
is_problem(r, 403, "not_account_owner", "an item from someone else's account: 403")
is_((r.json or {}).get("index"), 1, "the unauthorised item is named")
is_problem(batch([tr(alice, bob, 1)], token=ADMIN), 403, "not_account_owner", "an admin moves money only out of the issuer")
is_(state(alice, bob, carol), before, "nothing was written by any of these")

# ---- a good batch applies in order ----------------------------------------------------
# Every item of a batch spends the caller's money (a user's own account; an admin's: the
# issuer's), so item i sees the debits and holds of items 0..i-1 on that one payer.
dave, td = create_account("batch-dave", 0)
r = post("/transfers/batch", {"transfers": [tr(ISSUER, dave, 100), tr(ISSUER, dave, 5)]}, token=ADMIN)
is_((r.status, balance(dave)[0]), (201, 105), "an admin batch of issues, applied in order")
r = batch([tr(dave, bob, 60), tr(dave, carol, 45)], token=td)
is_((r.status, balance(dave)[0]), (201, 0), "exactly the balance, spent across two items")
r = post("/transfers/batch", {"transfers": [tr(ISSUER, dave, 100), tr(dave, carol, 50)]}, token=ADMIN)
is_problem(r, 403, "not_account_owner", "an admin batch may not spend what it just issued")

before = state(alice, bob, carol)
k = new_key()
items = [tr(alice, bob, 300, memo="first"), tr(alice, carol, 200),
         tr(alice, bob, 50, pending=True, timeout=600)]
r = batch(items, key=k)
is_(r.status, 201, "a good mixed batch: 201")
res = (r.json or {}).get("results", [])
is_([(x.get("index"), x.get("status")) for x in res], [(0, 201), (1, 201), (2, 201)],
    "one 201 result per item, in order")
is_([x["transfer"]["kind"] for x in res], ["transfer", "transfer", "pending"],
    "immediate and pending items mixed")
is_((res[0]["transfer"]["memo"], res[2]["transfer"]["status"]), ("first", "pending"),
    "each item is answered as POST /transfer answers it")
is_(balance(alice), (before[1][0][0] - 500, before[1][0][1] + 50), "alice paid 500 and holds 50")
is_(balance(bob)[0], before[1][1][0] + 300, "bob got 300 (the pending 50 not yet)")
is_(balance(carol)[0], before[1][2][0] + 200, "carol got 200")
pid = res[2]["transfer"]["id"]
is_(query("SELECT status, amount FROM pending_transfers WHERE id = %s", (pid,))[0], ("pending", 50),
    "the pending item is a pending transfer")
is_(query("SELECT count(*) FROM transfers WHERE id = ANY(%s::uuid[])",
          ([res[0]["transfer"]["id"], res[1]["transfer"]["id"]],))[0][0], 2,
    "both immediate transfers are in the ledger")
g = get(f"/transfers/{res[0]['transfer']['id']}", token=tb)
is_((g.status, g.json["transfer"]["amount"]), (200, 300), "an item's transfer reads back")
is_(post(f"/transfers/{pid}/post", {}, token=ta).status, 200, "the pending item can be posted")

# replay: the same key and body give the same answer; another body under it is refused
mid = state(alice, bob, carol)
r2 = batch(items, key=k)
is_((r2.status, r2.headers.get("idempotent-replayed")), (201, "true"), "the same key replays")
is_(r2.json, r.json, "with the same body")
is_problem(batch(items[:2], key=k), 422, "idempotency_key_reused", "another body under the key")
is_(state(alice, bob, carol), mid, "neither moved anything")
k = new_key()
r = batch([tr(alice, bob, 1), tr(alice, bob, 10**9)], key=k)
is_problem(r, 422, "insufficient_funds", "(a refused batch)")
r2 = batch([tr(alice, bob, 1), tr(alice, bob, 10**9)], key=k)
is_((r2.status, r2.headers.get("idempotent-replayed"), r2.json), (422, "true", r.json),
    "a refused batch replays its refusal")

# running balance: item 1 sees item 0's debit, item 2 the hold of item 1
e, te = create_account("batch-erin", 100)
r = batch([tr(e, bob, 70), tr(e, carol, 31)], token=te)
is_problem(r, 422, "insufficient_funds", "item 1 sees item 0's debit")
is_(((r.json or {}).get("index"), balance(e)), (1, (100, 0)), "item 1 failed, item 0 undone")
r = batch([tr(e, bob, 60, pending=True), tr(e, carol, 41)], token=te)
is_problem(r, 422, "insufficient_funds", "an item sees the hold of a pending item before it")
r = batch([tr(e, bob, 60, pending=True), tr(e, carol, 40)], token=te)
is_((r.status, balance(e)), (201, (60, 60)), "exactly the available funds across items")

# ---- overlapping batches from real concurrent clients ----------------------------------
N_ACC, N_BATCH = 5, 20
accts = [create_account(f"batch-ring-{i}", 1_000) for i in range(N_ACC)]
rng = random.Random(18)


def ring_batch(i):
    me, tok = accts[i % N_ACC]
    others = [a for a, _ in accts if a != me]
    rng_i = random.Random(i)
    rng_i.shuffle(others)
    items = [tr(me, o, 1 + rng_i.randrange(5)) for o in others]
    items += [tr(me, others[0], 1, pending=True, timeout=600)]
    return batch(items, token=tok)


def ring_single(i):
    me, tok = accts[i % N_ACC]
    return post("/transfer", {"from": me, "to": accts[(i + 1) % N_ACC][0], "amount": 1}, token=tok)


jobs = [(lambda i=i: ring_batch(i),) for i in range(N_BATCH)] + \
       [(lambda i=i: ring_single(i),) for i in range(N_BATCH)]
rng.shuffle(jobs)
log_path = os.path.join(ZS_VAR, "log", "postgresql.log")
log_from = os.path.getsize(log_path)
outs = concurrently(lambda f: f(), jobs, max_workers=40)
statuses = sorted({o.status for o in outs})
ok(all(o.status == 201 for o in outs), "every overlapping batch and single transfer succeeded",
   statuses)
ok(all(o.status < 500 for o in outs), "no 5xx")
with open(log_path, errors="replace") as f:
    f.seek(log_from)
    log = f.read()
ok("40P01" not in log and "deadlock detected" not in log, "no deadlock in the database's log")
total = sum(balance(a)[0] for a, _ in accts)
is_(total, N_ACC * 1_000, "money among the ring accounts is conserved")
is_(ledger_invariants(), [], "the ledger's invariants hold")
p = get("/proof")
is_((p.status, (p.json or {}).get("consistent")), (200, True), "/proof is consistent")

done()
