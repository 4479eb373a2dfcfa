"""Split and merge on event markets: POST /markets/{id}/split and /merge.

A split pays 100 per pair from the caller into the market's escrow and mints
one YES and one NO per pair to the caller; a merge burns pairs the caller
holds free of resting sells and pays 100 each back. Every case goes through
the API and asserts the answer (status, code, body, Idempotent-Replayed) and
the database before and after: the caller's balance and held, its YES/NO
positions (quantity, held, cost), the escrow's balance, the transfer written
(kind split/merge, from, to, amount), the outbox event, and, for refusals,
that nothing but the stored answer was written.

Cases: a split, its replay, merges (partial, too many, pairs held by a
resting sell), insufficient funds and the credit limit, every 422/404/409/403
refusal, trades on split contracts, closed markets; a cancelled market paying
50 per YES and 50 per NO contract whatever each cost; merges of contracts
with unequal cost basis (escrow is 100 x pairs, the basis is not), and the
resolving-cancel rule of event_pairs_backed on a tamper; real concurrent
clients: merges racing for too few pairs never over-burn, splits racing for
too little money never overspend, splits and merges racing end exact.
GET /proof stays consistent throughout.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import time

T0 = time.time()
ADMIN = admin_token()


def must(r, status, what):
    if r.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {r}")
    return r.json


def new_market(**spec):
    return must(post("/markets", spec, token=ADMIN), 201, f"POST /markets {spec}")["market"]


def split(tok, mid, qty, key="auto"):
    return post(f"/markets/{mid}/split", {"quantity": qty}, token=tok, key=key)


def merge(tok, mid, qty, key="auto"):
    return post(f"/markets/{mid}/merge", {"quantity": qty}, token=tok, key=key)


def order(tok, mid, side, outcome, price, qty, tif="gtc"):
    return must(post("/order", {"market": mid, "side": side, "outcome": outcome, "price": price,
                                "quantity": qty, "time_in_force": tif}, token=tok), 201,
                f"order {side} {outcome} {qty}@{price}")["order"]


def pos(mid, aid, outcome):
    """(quantity, held, cost) of a position, None if there is no row."""
    rows = query("SELECT quantity, held, cost FROM positions WHERE market_id = %s AND account_id = %s"
                 " AND outcome = %s", (mid, aid, outcome))
    return rows[0] if rows else None


def pairs(mid):
    """(outstanding YES, outstanding NO) of a market."""
    return query("SELECT coalesce(sum(quantity) FILTER (WHERE outcome = 'yes'), 0),"
                 " coalesce(sum(quantity) FILTER (WHERE outcome = 'no'), 0)"
                 " FROM positions WHERE market_id = %s", (mid,))[0]


def fingerprint():
    """Everything a split or merge writes, but the key (events: the market ones; the jobs
    child writes proof.status events of its own at any time)."""
    return query("SELECT (SELECT count(*) FROM transfers), (SELECT count(*) FROM entries),"
                 " (SELECT coalesce(sum(balance), 0) FROM accounts WHERE kind <> 'issuer'),"
                 " (SELECT coalesce(sum(quantity), 0) FROM positions),"
                 " (SELECT coalesce(sum(cost), 0) FROM positions), (SELECT count(*) FROM positions),"
                 " (SELECT count(*) FROM events WHERE left(type, 7) = 'market.')")[0]


def keys():
    return query("SELECT count(*) FROM idempotency_keys")[0][0]


def failing(r):
    return {c["name"] for c in (r.json or {}).get("checks", []) if not c.get("ok")}


def healthy(label):
    r = get("/proof", token=ADMIN)
    ok(r.status == 200 and (r.json or {}).get("consistent") is True and not failing(r),
       f"{label}: GET /proof is 200 and consistent", f"{r.status} failing: {sorted(failing(r))}")
    return r


def backed(mid, label):
    """escrow == 100 x outstanding pairs, YES == NO."""
    esc = query("SELECT e.balance FROM markets m JOIN accounts e ON e.id = m.escrow WHERE m.id = %s", (mid,))[0][0]
    y, n = pairs(mid)
    is_((y, esc), (n, 100 * n), f"{label}: YES == NO == {n}, escrow == 100 x {n}")


# ---- 1. a split, its replay, merges -------------------------------------------------

A, t_A = create_account("sm-a", 10_000)
B, t_B = create_account("sm-b", 10_000)
ev = new_market(kind="event", title="zerosum test: split and merge")
E, ESC = ev["id"], ev["escrow"]
key = new_key()
fp0, k0 = fingerprint(), keys()
r = split(t_A, E, 3, key=key)
is_(r.status, 201, "split 3: 201")
body = r.json or {}
is_({k: body.get(k) for k in ("market", "action", "quantity", "amount", "positions", "escrow_balance")},
    {"market": E, "action": "split", "quantity": 3, "amount": 300, "positions": {"yes": 3, "no": 3},
     "escrow_balance": 300}, "split 3: the answer says what moved and what A holds")
is_((balance(A), balance(ESC), pos(E, A, "yes"), pos(E, A, "no")),
    ((9700, 0), (300, 0), (3, 0, 150), (3, 0, 150)),
    "split 3: A paid 300 into escrow and holds 3 YES and 3 NO (50 of basis per contract)")
is_(query("SELECT kind, from_account::text, to_account::text, amount, idem_key FROM transfers WHERE id = %s",
          (body.get("transfer"),)),
    [("split", A, ESC, 300, f"user:{A}:{key}")], "split 3: one transfer of kind split, A -> escrow, 300")
is_(query("SELECT type, channels FROM events WHERE payload LIKE %s", (f'%{body.get("transfer")}%',)),
    [("market.split", f"markets/{E} accounts/{A}")], "split 3: a market.split event on the market and A")
fp1 = fingerprint()
r2 = split(t_A, E, 3, key=key)
is_((r2.status, r2.json, r2.headers.get("idempotent-replayed")), (201, body, "true"),
    "the split replayed with its key: the same answer, marked replayed")
is_((fingerprint(), balance(A), pos(E, A, "yes")), (fp1, (9700, 0), (3, 0, 150)), "the replay wrote nothing")
is_problem(split(t_A, E, 4, key=key), 422, "idempotency_key_reused", "the key with another quantity: 422")
backed(E, "after the split")
healthy("after the split")

r = merge(t_A, E, 2)
is_((r.status, (r.json or {}).get("action"), (r.json or {}).get("positions"), (r.json or {}).get("escrow_balance")),
    (200, "merge", {"yes": 1, "no": 1}, 100), "merge 2: 200, A holds 1 YES and 1 NO, escrow 100")
is_((balance(A), balance(ESC), pos(E, A, "yes"), pos(E, A, "no")),
    ((9900, 0), (100, 0), (1, 0, 50), (1, 0, 50)), "merge 2: 200 back from escrow, 2 pairs burned with their basis")
is_(query("SELECT kind, from_account::text, to_account::text, amount FROM transfers WHERE id = %s",
          ((r.json or {}).get("transfer"),)), [("merge", ESC, A, 200)], "merge 2: one merge transfer escrow -> A")
is_(query("SELECT count(*) FROM events WHERE type = 'market.merged' AND payload LIKE %s",
          (f'%{(r.json or {}).get("transfer")}%',))[0][0], 1, "merge 2: a market.merged event")
backed(E, "after the merge")

# too many: stored, replayed, nothing else written
fp, k = fingerprint(), keys()
key = new_key()
r = merge(t_A, E, 2, key=key)
is_problem(r, 422, "insufficient_pairs", "merge 2 of 1 pair: 422 insufficient_pairs")
is_((r.json or {}).get("pairs_free"), 1, "…the answer says 1 pair is available")
is_((fingerprint(), keys() - k, balance(A), pos(E, A, "yes")), (fp, 1, (9900, 0), (1, 0, 50)),
    "…nothing written but the stored answer")
r2 = merge(t_A, E, 2, key=key)
is_((r2.status, r2.code, r2.headers.get("idempotent-replayed")), (422, "insufficient_pairs", "true"),
    "…and a retry with the key replays it")
fp = fingerprint()
is_problem(merge(t_B, E, 1), 422, "insufficient_pairs", "B holds no pairs: 422 insufficient_pairs")
is_(fingerprint(), fp, "…nothing written")

# pairs held by a resting sell are not free
must(split(t_A, E, 2), 201, "split 2 more")
sell = order(t_A, E, "sell", "yes", 60, 2)
is_((pos(E, A, "yes"), pos(E, A, "no")), ((3, 2, 150), (3, 0, 150)), "A rests a sell of 2 YES: 2 held")
r = merge(t_A, E, 2)
is_problem(r, 422, "insufficient_pairs", "merge 2 with only 1 YES free: 422 insufficient_pairs")
is_((r.json or {}).get("pairs_free"), 1, "…1 pair available")
must(merge(t_A, E, 1), 200, "merge the 1 free pair")
is_((pos(E, A, "yes"), pos(E, A, "no")), ((2, 2, 100), (2, 0, 100)), "the held YES stayed held")
# a trade on split contracts: B buys the 2 YES A rests
bo = order(t_B, E, "buy", "yes", 60, 2)
is_((bo["status"], pos(E, B, "yes"), pos(E, A, "yes")), ("filled", (2, 0, 100), (0, 0, 0)),
    "B buys A's 2 split YES at 60: the contracts and their basis move")
is_((balance(A), balance(B)), ((9900 - 200 + 100 + 120, 0), (10_000 - 120, 0)), "cash moved at 60 each")
backed(E, "after a trade on split contracts")
is_problem(merge(t_A, E, 1), 422, "insufficient_pairs", "A holds NO but no YES: nothing to merge")
healthy("after the merges and the trade")

# ---- 2. funds and the credit limit ----------------------------------------------------

P, t_P = create_account("sm-poor", 250)
fp, k = fingerprint(), keys()
r = split(t_P, E, 3)
is_problem(r, 422, "insufficient_funds", "split 3 with 250: 422 insufficient_funds")
is_((fingerprint(), keys() - k, balance(P)), (fp, 1, (250, 0)), "…nothing written but the stored answer")
must(request("PATCH", f"/accounts/{P}", body={"credit_limit": 50}, token=ADMIN, key=new_key()), 200,
     "credit limit 50")
is_(split(t_P, E, 3).status, 201, "with a credit limit of 50 the split of 300 goes through")
is_(balance(P), (-50, 0), "…P ends at -50, within its limit")
is_problem(split(t_P, E, 1), 422, "insufficient_funds", "one more pair would pass the limit: refused")
must(merge(t_P, E, 3), 200, "P merges back")
is_(balance(P), (250, 0), "…and is whole")
must(request("PATCH", f"/accounts/{P}", body={"credit_limit": 0}, token=ADMIN, key=new_key()), 200,
     "credit limit back to 0")
backed(E, "after the credit split")

# ---- 3. refusals before the database, and of the market --------------------------------

S_OWNER, _ = create_account("sm-owner", 0)
shares = new_market(kind="shares", title="zerosum test: shares", owner=S_OWNER, supply=10)["id"]
fp, k = fingerprint(), keys()
for label, body_ in (("quantity 0", {"quantity": 0}), ("quantity -1", {"quantity": -1}),
                     ("quantity as a string", {"quantity": "3"}), ("quantity 1.5", {"quantity": 1.5}),
                     ("quantity past the maximum", {"quantity": 1_000_000_001}),
                     ("quantity that would overflow 100 x", {"quantity": 2**62}),
                     ("no quantity", {})):
    is_problem(post(f"/markets/{E}/split", body_, token=t_A), 422, "invalid_quantity", f"split, {label}: 422")
    is_problem(post(f"/markets/{E}/merge", body_, token=t_A), 422, "invalid_quantity", f"merge, {label}: 422")
is_problem(post(f"/markets/{E}/split", {"quantity": 1, "price": 5}, token=t_A), 422, "unknown_field",
           "an unknown member: 422 unknown_field")
is_problem(split(t_A, "not-a-uuid", 1), 404, "market_not_found", "a malformed market id: 404")
is_problem(split(ADMIN, E, 1), 403, "user_token_required", "the admin's token: 403 user_token_required")
is_problem(merge(ADMIN, E, 1), 403, "user_token_required", "…for a merge too")
is_((fingerprint(), keys()), (fp, k), "refusals before the database write nothing, not even a key")
is_problem(split(t_A, "00000000-0000-4000-8000-000000000000", 1), 404, "market_not_found",
           "an unknown market: 404 market_not_found")
is_problem(split(t_A, shares, 1), 409, "not_an_event_market", "a shares market: 409 not_an_event_market")
is_problem(merge(t_A, shares, 1), 409, "not_an_event_market", "…for a merge too")
is_((fingerprint(), keys() - k), (fp, 3), "the market refusals store their answers and nothing else")

# a closed market
C, t_C = create_account("sm-c", 1000)
closed = new_market(kind="event", title="zerosum test: closed")["id"]
must(split(t_C, closed, 2), 201, "C splits 2 on a market about to resolve")
must(post(f"/markets/{closed}/resolve", {"outcome": "yes"}, token=ADMIN), 200, "resolve YES")
is_(balance(C), (1000, 0), "C got 200 for its 2 winning YES: whole again")
fp = fingerprint()
is_problem(split(t_C, closed, 1), 409, "market_closed", "split on a resolved market: 409 market_closed")
is_problem(merge(t_C, closed, 1), 409, "market_closed", "merge on a resolved market: 409 market_closed")
is_(fingerprint(), fp, "…nothing written")
healthy("after the refusals")

# ---- 4. cancel: 50 per YES and 50 per NO, whatever each cost ------------------------------

Y, t_Y = create_account("sm-y", 1000)
N, t_N = create_account("sm-n", 1000)
D, t_D = create_account("sm-d", 1000)
F, t_F = create_account("sm-f", 1000)
cx = new_market(kind="event", title="zerosum test: cancelled after splits")
CX, CESC = cx["id"], cx["escrow"]
must(split(t_Y, CX, 4), 201, "Y splits 4")
order(t_Y, CX, "sell", "no", 30, 4)
order(t_N, CX, "buy", "no", 30, 4)
order(t_D, CX, "buy", "yes", 70, 1)
order(t_F, CX, "buy", "no", 30, 1)
is_((pos(CX, Y, "yes"), pos(CX, Y, "no"), pos(CX, N, "no"), pos(CX, D, "yes"), pos(CX, F, "no")),
    ((4, 0, 200), (0, 0, 0), (4, 0, 200), (1, 0, 70), (1, 0, 30)),
    "Y holds 4 YES (split), N 4 NO (bought at 30), D 1 YES at 70 and F 1 NO at 30 (a mint)")
is_(balance(CESC), (500, 0), "escrow 500 for 5 pairs")
healthy("before the cancel")
r = post(f"/markets/{CX}/resolve", {"outcome": "cancel"}, token=ADMIN)
is_((r.status, (r.json or {}).get("paid"), (r.json or {}).get("positions_settled")), (200, 500, 4),
    "cancel: 200, 500 paid over 4 positions")
is_(dict(query("SELECT to_account::text, amount FROM transfers WHERE from_account = %s AND kind = 'refund'",
               (CESC,))), {Y: 200, N: 200, D: 50, F: 50},
    "50 per contract: Y 4 YES -> 200, N 4 NO -> 200 (it paid 120), D -> 50 (paid 70), F -> 50 (paid 30)")
is_([balance(x) for x in (Y, N, D, F, CESC)],
    [(1000 - 400 + 120 + 200, 0), (1000 - 120 + 200, 0), (1000 - 70 + 50, 0), (1000 - 30 + 50, 0), (0, 0)],
    "balances after the cancel; escrow exactly 0")
healthy("after the cancel")

# ---- 5. unequal basis: escrow is 100 x pairs, the cost basis is not -----------------------

U, t_U = create_account("sm-u", 1000)
V, t_V = create_account("sm-v", 1000)
ux = new_market(kind="event", title="zerosum test: unequal basis")
UX, UESC = ux["id"], ux["escrow"]
order(t_U, UX, "buy", "yes", 70, 1)
order(t_V, UX, "buy", "no", 30, 1)
must(split(t_U, UX, 1), 201, "U splits 1 on top of a YES bought at 70")
must(merge(t_U, UX, 1), 200, "U merges 1: YES burned with half its 120 of basis, NO with its 50")
is_((pos(UX, U, "yes"), pos(UX, U, "no"), balance(UESC)), ((1, 0, 60), (0, 0, 0), (100, 0)),
    "U keeps 1 YES with 60 of basis; escrow 100 for the 1 pair left (the bases now sum to 90)")
healthy("escrow 100 x pairs with the cost bases summing to 90")

# event_pairs_backed mid-resolution on a cancel: escrow == 50 x the remaining contracts.
# The market is moved to resolving-cancel by hand with a lease far ahead (so the jobs child
# leaves it), with the sealer frozen; then one contract too many must fail the check.
seal_freeze()
try:
    query("UPDATE markets SET status = 'resolving', outcome = 'cancel',"
          " resolve_lease = now() + interval '1 hour' WHERE id = %s", (UX,), user="postgres")
    healthy("resolving cancel: escrow 100 == 50 x 2 remaining contracts")
    query("UPDATE positions SET quantity = quantity + 1 WHERE market_id = %s AND account_id = %s"
          " AND outcome = 'yes'", (UX, U), user="postgres")
    r = get("/proof", token=ADMIN)
    is_((r.status, failing(r)), (409, {"event_pairs_backed"}),
        "resolving cancel with 3 contracts against escrow 100: event_pairs_backed fails alone")
    query("UPDATE positions SET quantity = quantity - 1 WHERE market_id = %s AND account_id = %s"
          " AND outcome = 'yes'", (UX, U), user="postgres")
finally:
    query("UPDATE markets SET status = 'open', outcome = NULL, resolve_lease = NULL WHERE id = %s",
          (UX,), user="postgres")
    seal_thaw()
healthy("the tampered market is back")

# ---- 6. real concurrent clients --------------------------------------------------------------

G, t_G = create_account("sm-g", 10_000)
gx = new_market(kind="event", title="zerosum test: racing merges")
GX, GESC = gx["id"], gx["escrow"]
must(split(t_G, GX, 16), 201, "G splits 16")
res = concurrently(lambda: merge(t_G, GX, 1), [()] * 24, max_workers=24)
is_((sum(1 for x in res if x.status == 200), sum(1 for x in res if x.code == "insufficient_pairs"),
     len(res)), (16, 8, 24), "24 merges of 1 race for 16 pairs: exactly 16 succeed, 8 are refused")
is_((pos(GX, G, "yes"), pos(GX, G, "no"), balance(GESC), balance(G)), ((0, 0, 0), (0, 0, 0), (0, 0), (10_000, 0)),
    "no pair burned twice: G holds none, escrow 0, G whole")

H, t_H = create_account("sm-h", 700)
hx = new_market(kind="event", title="zerosum test: racing splits")
HX, HESC = hx["id"], hx["escrow"]
res = concurrently(lambda: split(t_H, HX, 1), [()] * 12, max_workers=12)
is_((sum(1 for x in res if x.status == 201), sum(1 for x in res if x.code == "insufficient_funds")), (7, 5),
    "12 splits of 100 race for 700: exactly 7 succeed, 5 are refused")
is_((balance(H), balance(HESC), pos(HX, H, "yes")), ((0, 0), (700, 0), (7, 0, 350)), "no money spent twice")

K, t_K = create_account("sm-k", 5_000)
must(split(t_K, HX, 5), 201, "K splits 5 first")
jobs = [(split, 1)] * 10 + [(merge, 1)] * 15
res = concurrently(lambda f, q: f(t_K, HX, q), jobs, max_workers=25)
n_split = sum(1 for x in res if x.status == 201)
n_merge = sum(1 for x in res if x.status == 200)
others = [(x.status, x.code) for x in res if x.status not in (200, 201) and x.code != "insufficient_pairs"]
is_((n_split, others), (10, []), "10 racing splits all succeed; merges are accepted or insufficient_pairs only")
held_k = pos(HX, K, "yes")[0]
is_((held_k, pos(HX, K, "no")[0]), (5 + 10 - n_merge, 5 + 10 - n_merge),
    f"K holds 5 + 10 - {n_merge} merged of each side, never below zero")
is_(balance(K), (5_000 - 100 * held_k, 0), "K's cash is 5000 less 100 per pair it holds")
backed(HX, "after the race")
healthy("after the races")
is_(ledger_invariants(), [], "ledger invariants hold")

# ---- 7. the split-merge stampede (small N) and its verifier's negative controls ------------

import copy  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

import zerosum_py.stampede as stampede_pkg  # noqa: E402

rec_path = os.path.join(tempfile.mkdtemp(prefix="split-merge-", dir=ZS_VAR), "sm.json")
p = subprocess.run([os.path.join(REPO, "scripts", "stampede"), "split-merge", "--n", "60", "--seed", "11",
                    "--record", rec_path], env=dict(os.environ, ZS_VAR=ZS_VAR), capture_output=True,
                   text=True, timeout=300)
lines = p.stdout.strip().splitlines()
summary = json.loads(lines[-1]) if lines else {}
ok(p.returncode == 0 and summary.get("ok") is True and summary.get("errors") == 0,
   "split-merge n=60: exit 0, ok: escrow 100 x pairs, YES == NO during and after, /proof consistent",
   f"exit {p.returncode}\n{json.dumps(summary)[:1500]}\n{p.stderr[-1500:]}")
ok(summary.get("split", 0) > 0 and summary.get("merged", 0) > 0 and summary.get("watch_reads", 0) > 0,
   "split-merge: the burst both split and merged, and was watched while it ran", summary)
diag(f"split-merge n=60: {summary.get('split')} split, {summary.get('merged')} merged,"
     f" {summary.get('minted')} minted, {summary.get('pairs')} pairs, {summary.get('watch_reads')} reads"
     f" ({summary.get('proof_reads')} of /proof),"
     f" {summary.get('duration_ms')} ms")
with open(rec_path) as f:
    rec = json.load(f)["record"]
_, c = stampede_pkg.VERIFY["split-merge"](rec)
ok(c.ok, "the recorded split-merge re-verifies", c.failures[:3])
bad = copy.deepcopy(rec)
next(w for w in bad["watch"] if w["read"] == "market")["outstanding"]["yes"] += 1
_, c = stampede_pkg.VERIFY["split-merge"](bad)
ok(not c.results.get("backed_throughout", True), "doctored: a market read mid-burst with YES != NO fails "
   "backed_throughout", c.results)
bad = copy.deepcopy(rec)
bad["escrow_after"]["balance"] += 100
_, c = stampede_pkg.VERIFY["split-merge"](bad)
ok(not c.results.get("escrow_100_per_pair", True), "doctored: escrow 100 over fails escrow_100_per_pair",
   c.results)
bad = copy.deepcopy(rec)
m = next(a for a in bad["answers"] if a["action"] == "merge" and a["status"] == 200)
m["quantity"] += 1
m["json"]["quantity"] += 1
m["json"]["amount"] += 100
_, c = stampede_pkg.VERIFY["split-merge"](bad)
ok(not c.results.get("outstanding_yes_eq_no", True),
   "doctored: a merge answered for one pair more than it burned fails outstanding_yes_eq_no", c.results)
bad = copy.deepcopy(rec)
next(w for w in bad["watch"] if w["read"] == "proof")["pairs_ok"] = False
_, c = stampede_pkg.VERIFY["split-merge"](bad)
ok(not c.results.get("backed_throughout", True), "doctored: one read mid-burst with escrow off fails "
   "backed_throughout", c.results)
healthy("after the stampede")
diag(f"split and merge took {time.time() - T0:.1f} s")
done()
