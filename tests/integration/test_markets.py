"""Markets and orders: matching rules, holds, cancels, resolution payouts, the
market checks of /proof (one tamper each), and both market stampedes.

Every scenario goes through the API (POST /markets, POST /order, DELETE
/order/{id}, POST /markets/{id}/resolve) and asserts the answer (status, code,
body) and the database before and after: positions (quantity, held, cost),
order rows (status, remaining, hold_amount), trades, accounts (balance, held)
and the event markets' escrow accounts. After each scenario GET /proof must be
200 and consistent.

Shares market M (supply 1000, owner O), in order: O sells 20@5 and X buys
them; price-time priority (two sells at 10: the older fills first; a newer
sell at 11 beats an older one at 12); a taker walking the book and leaving a
partially filled maker resting with its held shares reduced exactly; a buy
maker partially filled with its cash hold reduced exactly; an IOC remainder
cancelled; a GTC remainder resting with hold = remaining x price; self-trade
prevention from both sides; cancels (cash and shares released, replay with
the same key, 409 order_not_open, 404 for another user, admin may cancel);
insufficient_position and insufficient_funds stored and replayed; orders
outside the ticks and otherwise invalid answer 422 with nothing written.

Event markets: the mint (YES 60 resting, NO 45 → 4 pairs at 60/40 into
escrow); resolution YES and NO paying 100 per winning contract from escrow,
resting orders cancelled and holds released; cancel paying 50 per YES and 50
per NO contract (whatever each cost) after a secondary trade moved contracts,
so escrow pays out exactly; 409 market_closed
for a second resolve and for orders on a closed market.

Tampers (as in test_proof.py, as the postgres superuser): one per market
check, each breaking exactly that check; CHECK constraints dropped for the
tamper are re-added NOT VALID in the same transaction and validated after the
repair, then compared with their original definitions. The dsql profile has
no triggers or foreign keys; no tamper here needs to disable one, and the
CHECKs are looked up by their definition before they are dropped.

Stampedes: phantom-shares n=40 and event-market n=60 markets=3 as
subprocesses, plus a negative control (--expect-accepted off by one must fail
on accepted_count alone) and doctored records that must fail named checks.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import copy
import json
import subprocess
import tempfile
import time
import uuid

import psycopg2

T0 = time.time()
ADMIN = admin_token()
seal_freeze()  # see the tampers (section 3): thawed after them
DIALECT = os.environ.get("ZS_DIALECT", "postgres")
URL = f"http://127.0.0.1:{PORT}/proof"
MARKET_CHECKS = ["order_holds_exact", "shares_supply_conserved", "positions_held_match_orders",
                 "event_pairs_backed", "trade_cash_legs", "no_negative_positions"]


# ---- helpers ---------------------------------------------------------------

def must(r, status, what):
    if r.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {r}")
    return r.json


def new_market(**spec):
    return must(post("/markets", spec, token=ADMIN), 201, f"POST /markets {spec}")["market"]


def order(tok, market, side, price, qty, outcome=None, tif="gtc", key="auto"):
    body = {"market": market, "side": side, "price": price, "quantity": qty, "time_in_force": tif}
    if outcome:
        body["outcome"] = outcome
    return post("/order", body, token=tok, key=key)


def placed(tok, market, side, price, qty, outcome=None, tif="gtc"):
    """An order that must be accepted; returns its "order" object."""
    return must(order(tok, market, side, price, qty, outcome, tif), 201,
                f"order {side} {qty}@{price} {outcome or ''} {tif}")["order"]


def cancel(tok, oid, key="auto"):
    if key == "auto":
        key = new_key()
    return request("DELETE", f"/order/{oid}", token=tok, key=key)


def resolve(mid, outcome, key="auto", tok=None):
    return post(f"/markets/{mid}/resolve", {"outcome": outcome}, token=tok or ADMIN, key=key)


def pos(mid, aid, outcome="shares"):
    """(quantity, held, cost) of a position, None if there is no row."""
    rows = query("SELECT quantity, held, cost FROM positions WHERE market_id = %s AND account_id = %s"
                 " AND outcome = %s", (mid, aid, outcome))
    return rows[0] if rows else None


def orow(oid):
    """(status, remaining, hold_amount) of an order row."""
    rows = query("SELECT status, remaining, hold_amount FROM orders WHERE id = %s", (oid,))
    return rows[0] if rows else None


def fills(o):
    return [(f["maker_order"], f["kind"], f["price"], f["quantity"]) for f in o["fills"]]


def book(mid, outcome="shares"):
    return must(get(f"/markets/{mid}"), 200, "GET /markets/{id}")["book"][outcome]


def view(mid):
    return must(get(f"/markets/{mid}"), 200, "GET /markets/{id}")


def orders_count():
    return query("SELECT count(*), (SELECT count(*) FROM trades), (SELECT count(*) FROM positions)"
                 " FROM orders")[0]


def failing(r):
    return {c["name"] for c in (r.json or {}).get("checks", []) if not c.get("ok")}


def check_of(r, name):
    return next((c for c in (r.json or {}).get("checks", []) if c.get("name") == name), {})


# The gating calls carry the admin token: a token always gets a fresh
# computation (anonymous answers may be two seconds old) and the sample ids.
def curl_rc():
    return subprocess.run(["curl", "-fsS", "-o", "/dev/null", "-H", f"Authorization: Bearer {ADMIN}", URL],
                          capture_output=True).returncode


def healthy(label):
    r = get("/proof", token=ADMIN)
    ok(r.status == 200 and (r.json or {}).get("consistent") is True and not failing(r),
       f"{label}: GET /proof is 200 and consistent", f"{r.status} failing: {sorted(failing(r))}")
    return r


def stored_key(account, key):
    """(state, status) of the caller's idempotency key row."""
    rows = query("SELECT state, status FROM idempotency_keys WHERE caller = %s AND key = %s",
                 ("user:" + account, key))
    return rows[0] if rows else None


def replayed_same(first, key, send, label):
    again = send(key)
    ok(again.status == first.status and again.json == first.json
       and again.headers.get("idempotent-replayed") == "true",
       f"{label}: the same key replays the stored answer (Idempotent-Replayed: true)",
       f"first {first}\nagain {again} {again.headers.get('idempotent-replayed')}")


# ---- 1. shares market: matching rules -----------------------------------------

O, t_O = create_account("mk-owner", 1000)
X, t_X = create_account("mk-x", 1000)
B, t_B = create_account("mk-b", 1000)
C, t_C = create_account("mk-c", 1000)
D, t_D = create_account("mk-d", 1000)
E, t_E = create_account("mk-e", 1000)
F, t_F = create_account("mk-f", 200)
G, t_G = create_account("mk-g", 50)
SH_ACCTS = {O: 1000, X: 1000, B: 1000, C: 1000, D: 1000, E: 1000, F: 200, G: 50}

mk = new_market(kind="shares", title="zerosum test shares", owner=O, supply=1000, tick_min=1, tick_max=1000)
M = mk["id"]
is_((mk["kind"], mk["owner"], mk["escrow"], mk["total_supply"], mk["status"], mk["tick_min"], mk["tick_max"]),
    ("shares", O, None, 1000, "open", 1, 1000), "shares market: created with its supply, owner and ticks")
is_(pos(M, O), (1000, 0, 0), "shares market: the whole supply is issued to the owner's position")
is_(view(M)["outstanding"], {"shares": 1000}, "shares market: GET shows 1000 outstanding")

o1 = placed(t_O, M, "sell", 5, 20)
is_((o1["status"], o1["filled"], o1["remaining"], o1["fills"]), ("open", 0, 20, []), "O's sell 20@5 rests")
is_(pos(M, O), (1000, 20, 0), "a resting sell holds its shares on the position (held 20)")
is_(orow(o1["id"]), ("open", 20, 0), "a resting sell reserves no cash")
is_(book(M), {"bids": [], "asks": [[5, 20]]}, "the book shows the ask level")
x1 = placed(t_X, M, "buy", 5, 20, tif="ioc")
is_((x1["status"], x1["filled"], x1["remaining"], fills(x1)), ("filled", 20, 0, [(o1["id"], "transfer", 5, 20)]),
    "X buys the 20 shares at 5")
is_((pos(M, O), pos(M, X), balance(O), balance(X)), ((980, 0, 0), (20, 0, 0), (1100, 0), (900, 0)),
    "shares and cash moved: O 980 shares +100, X 20 shares -100")
is_(orow(o1["id"]), ("filled", 0, 0), "the maker is filled")
tr = query("SELECT kind, outcome, price, quantity, buyer::text, seller::text, taker_order::text,"
           " maker_order::text, cash_b FROM trades WHERE market_id = %s", (M,))
is_(tr, [("transfer", "shares", 5, 20, X, O, x1["id"], o1["id"], None)], "one trade row with both orders")
cash = query("SELECT t.kind, t.from_account::text, t.to_account::text, t.amount FROM trades r"
             " JOIN transfers t ON t.id = r.cash_a WHERE r.market_id = %s", (M,))
is_(cash, [("trade", X, O, 100)], "its cash leg is a trade transfer of price x quantity, buyer to seller")

# price-time priority: two sells at the same price, the older fills first
p1 = placed(t_X, M, "sell", 10, 5)
p2 = placed(t_O, M, "sell", 10, 5)
b1 = placed(t_B, M, "buy", 10, 5, tif="ioc")
is_(fills(b1), [(p1["id"], "transfer", 10, 5)], "time priority: the older of two sells at 10 fills first")
is_((orow(p1["id"]), orow(p2["id"])), (("filled", 0, 0), ("open", 5, 0)), "the newer sell at 10 still rests")
is_((balance(X), balance(B), pos(M, X), pos(M, B)), ((950, 0), (950, 0), (15, 0, 0), (5, 0, 0)),
    "X +50, B -50, 5 shares X -> B")

# price beats time: a newer sell at 11 fills before an older one at 12
p3 = placed(t_X, M, "sell", 12, 5)
p4 = placed(t_O, M, "sell", 11, 5)
b2 = placed(t_B, M, "buy", 12, 10, tif="ioc")
is_(fills(b2), [(p2["id"], "transfer", 10, 5), (p4["id"], "transfer", 11, 5)],
    "price priority: 10 then the newer 11 before the older 12")
is_(orow(p3["id"]), ("open", 5, 0), "the older sell at 12 is untouched")
is_((balance(B), balance(O), pos(M, O), pos(M, B)), ((845, 0), (1205, 0), (970, 0, 0), (15, 0, 0)),
    "B paid 50 + 55, O received them, 10 shares O -> B")

# partial fills: a taker larger than the best level walks the book; the maker keeps the rest
p5 = placed(t_O, M, "sell", 13, 5)
is_(pos(M, O), (970, 5, 0), "O's sell 5@13 holds 5 shares")
c1 = placed(t_C, M, "buy", 13, 7)
is_((c1["status"], c1["filled"], c1["remaining"], fills(c1)),
    ("filled", 7, 0, [(p3["id"], "transfer", 12, 5), (p5["id"], "transfer", 13, 2)]),
    "a buy of 7@13 walks the book: 5@12 then 2@13")
is_(orow(p5["id"]), ("open", 3, 0), "the partially filled maker keeps 3 resting")
is_(pos(M, O), (968, 3, 0), "its held shares are reduced exactly (5 -> 3)")
is_((balance(C), balance(X), balance(O)), ((914, 0), (1010, 0), (1231, 0)), "C paid 60 + 26 to X and O")
is_(book(M)["asks"], [[13, 3]], "the book shows the 3 left at 13")

# a buy maker partially filled: its cash hold is reduced exactly
d1 = placed(t_D, M, "buy", 8, 10)
is_((orow(d1["id"]), balance(D)), (("open", 10, 80), (1000, 80)), "D's resting buy 10@8 holds 80")
x2 = placed(t_X, M, "sell", 8, 4, tif="ioc")
is_(fills(x2), [(d1["id"], "transfer", 8, 4)], "X sells 4 into D's bid at 8")
is_((orow(d1["id"]), balance(D), pos(M, D)), (("open", 6, 48), (968, 48), (4, 0, 0)),
    "the buy maker keeps 6 resting, its hold reduced exactly to 6 x 8 = 48")
is_((balance(X), pos(M, X)), ((1042, 0), (6, 0, 0)), "X received 32 for 4 shares")

# IOC: the remainder is cancelled, nothing rests, nothing is held
e1 = placed(t_E, M, "buy", 14, 10, tif="ioc")
is_((e1["status"], e1["filled"], e1["remaining"], fills(e1)), ("cancelled", 3, 0, [(p5["id"], "transfer", 13, 3)]),
    "IOC buy 10@14: 3 filled, the rest cancelled")
is_((orow(e1["id"]), balance(E), pos(M, E)), (("cancelled", 0, 0), (961, 0), (3, 0, 0)),
    "the IOC order row is cancelled with no hold; E paid only for 3")
is_(book(M), {"bids": [[8, 6]], "asks": []}, "nothing of the IOC rests in the book")

# GTC: the remainder rests with hold = remaining x price
p6 = placed(t_O, M, "sell", 9, 2)
f1 = placed(t_F, M, "buy", 9, 6)
is_((f1["status"], f1["filled"], f1["remaining"], fills(f1)), ("open", 2, 4, [(p6["id"], "transfer", 9, 2)]),
    "GTC buy 6@9: 2 filled, 4 rest")
is_((orow(f1["id"]), balance(F)), (("open", 4, 36), (182, 36)), "the resting remainder holds 4 x 9 = 36")
is_(book(M)["bids"], [[9, 4], [8, 6]], "bids best first")

# self-trade prevention, sell side: F's sell would hit F's own bid at 9: the bid is cancelled
f2 = placed(t_F, M, "sell", 9, 1, tif="ioc")
is_((f2["status"], f2["filled"], f2["fills"]), ("cancelled", 0, []), "F's IOC sell matched nothing (own bid skipped)")
is_((orow(f1["id"]), balance(F), pos(M, F)), (("cancelled", 4, 0), (182, 0), (2, 0, 0)),
    "self-trade prevention cancelled F's resting bid and released its 36")
is_(book(M)["bids"], [[8, 6]], "only D's bid is left")

# self-trade prevention, buy side: O's own cheaper ask is cancelled, X's ask fills
xs = placed(t_X, M, "sell", 20, 3)
os_ = placed(t_O, M, "sell", 19, 2)
is_(pos(M, O), (963, 2, 0), "O's ask 2@19 holds 2 shares")
ob = placed(t_O, M, "buy", 20, 5)
is_((ob["status"], ob["filled"], ob["remaining"], fills(ob)), ("open", 3, 2, [(xs["id"], "transfer", 20, 3)]),
    "O's buy 5@20 skips its own ask at 19, fills X's 3@20, rests 2")
is_((orow(os_["id"]), pos(M, O)), (("cancelled", 2, 0), (966, 0, 0)),
    "O's own ask was cancelled and its 2 shares released")
is_((orow(ob["id"]), balance(O), balance(X), pos(M, X)), (("open", 2, 40), (1228, 40), (1102, 0), (3, 0, 0)),
    "O paid 60 to X and holds 2 x 20 = 40 for the rest")
healthy("matching")

# ---- cancels ----------------------------------------------------------------

k = new_key()
r = cancel(t_O, ob["id"], key=k)
is_((r.status, r.json), (200, {"order": {"id": ob["id"], "market": M, "status": "cancelled",
                                          "released_quantity": 2, "released_cash": 40}}),
    "DELETE /order/{id}: 200, a buy's remainder and cash released")
is_((orow(ob["id"]), balance(O)), (("cancelled", 2, 0), (1228, 0)), "the order is cancelled and O holds nothing")
replayed_same(r, k, lambda key: cancel(t_O, ob["id"], key=key), "cancel")
is_problem(cancel(t_O, ob["id"]), 409, "order_not_open", "a second cancel (new key): 409 order_not_open")
is_problem(cancel(t_X, d1["id"]), 404, "order_not_found", "another user cancelling: 404, as for a missing order")
is_((orow(d1["id"]), balance(D)), (("open", 6, 48), (968, 48)), "...and D's order is untouched")
r = cancel(t_D, d1["id"])
is_((r.status, (r.json or {}).get("order", {}).get("released_cash")), (200, 48), "D cancels: 48 released")
is_(balance(D), (968, 0), "D holds nothing")
xs2 = placed(t_X, M, "sell", 50, 2)
is_(pos(M, X), (3, 2, 0), "X's ask 2@50 holds 2 shares")
r = cancel(t_X, xs2["id"])
is_((r.status, r.json["order"]["released_quantity"], r.json["order"]["released_cash"]), (200, 2, 0),
    "a sell's cancel releases its contracts, no cash")
is_(pos(M, X), (3, 0, 0), "X's 2 shares are free again")
cb = placed(t_C, M, "buy", 2, 1)
r = cancel(ADMIN, cb["id"])
is_((r.status, orow(cb["id"]), balance(C)), (200, ("cancelled", 1, 0), (914, 0)), "an admin may cancel an order")
is_problem(cancel(t_C, str(uuid.uuid4())), 404, "order_not_found", "cancel of an unknown order: 404")
is_problem(cancel(t_C, "not-a-uuid"), 404, "order_not_found", "cancel of a malformed id: 404")
is_problem(request("DELETE", f"/order/{cb['id']}", token=t_C), 400, "missing_idempotency_key",
           "cancel without Idempotency-Key: 400")

# ---- position and funds -----------------------------------------------------

k = new_key()
r = order(t_B, M, "sell", 30, 16, key=k)
is_problem(r, 422, "insufficient_position", "B (15 shares) sells 16: 422 insufficient_position")
replayed_same(r, k, lambda key: order(t_B, M, "sell", 30, 16, key=key), "insufficient_position")
is_(stored_key(B, k), ("done", 422), "the refusal is stored under the key")
is_(pos(M, B), (15, 0, 0), "B's position is unchanged")
bs = placed(t_B, M, "sell", 40, 10)
is_problem(order(t_B, M, "sell", 40, 6), 422, "insufficient_position",
           "shares held by a resting sell are not available (10 of 15 held, sells 6)")
is_(cancel(t_B, bs["id"]).status, 200, "B cancels the resting sell")
is_problem(order(t_G, M, "sell", 5, 1), 422, "insufficient_position", "an account without a position cannot sell")

before = ledger_fingerprint()
n_orders = orders_count()
k = new_key()
r = order(t_G, M, "buy", 6, 10, key=k)
is_problem(r, 422, "insufficient_funds", "G (50) buys 10@6: 422 insufficient_funds")
replayed_same(r, k, lambda key: order(t_G, M, "buy", 6, 10, key=key), "insufficient_funds")
is_(stored_key(G, k), ("done", 422), "the refusal is stored under the key")
after = ledger_fingerprint()
is_((after[:5], after[5] - before[5], orders_count(), balance(G)), (before[:5], 1, n_orders, (50, 0)),
    "nothing but the key was written (no order, no transfer, no hold)")
is_problem(order(t_F, M, "buy", 20, 10), 422, "insufficient_funds",
           "F (182) cannot buy 10@20 (the worst case is held in full)")

# ---- validation: nothing written ------------------------------------------------

mk2 = new_market(kind="shares", title="ticks 5..50", owner=O, supply=100, tick_min=5, tick_max=50)
M2 = mk2["id"]
EV0 = new_market(kind="event", title="zerosum validation event")["id"]
before, n_orders = ledger_fingerprint(), orders_count()
bad_orders = [
    ({"market": M2, "side": "buy", "price": 4, "quantity": 1}, 422, "price_out_of_range", "a price below tick_min"),
    ({"market": M2, "side": "buy", "price": 51, "quantity": 1}, 422, "price_out_of_range", "a price above tick_max"),
    ({"market": M2, "side": "sell", "price": 51, "quantity": 1}, 422, "price_out_of_range", "a sell above tick_max"),
    ({"market": EV0, "side": "buy", "outcome": "yes", "price": 100, "quantity": 1}, 422, "price_out_of_range",
     "an event price of 100"),
    ({"market": M2, "side": "buy", "price": 0, "quantity": 1}, 422, "invalid_price", "price 0"),
    ({"market": M2, "side": "buy", "price": "10", "quantity": 1}, 422, "invalid_price", "a string price"),
    ({"market": M2, "side": "buy", "price": 10.5, "quantity": 1}, 422, "invalid_price", "a fractional price"),
    ({"market": M2, "side": "buy", "price": 10, "quantity": 0}, 422, "invalid_quantity", "quantity 0"),
    ({"market": M2, "side": "hold", "price": 10, "quantity": 1}, 422, "invalid_side", "side hold"),
    ({"market": M2, "side": "buy", "price": 10, "quantity": 1, "time_in_force": "day"}, 422,
     "invalid_time_in_force", "time_in_force day"),
    ({"market": M2, "side": "buy", "outcome": "yes", "price": 10, "quantity": 1}, 422, "field_not_applicable",
     "an outcome on a shares market"),
    ({"market": EV0, "side": "buy", "price": 10, "quantity": 1}, 422, "missing_field",
     "an event order without an outcome"),
    ({"market": EV0, "side": "buy", "outcome": "maybe", "price": 10, "quantity": 1}, 422, "invalid_outcome",
     "outcome maybe"),
    ({"market": "nope", "side": "buy", "price": 10, "quantity": 1}, 422, "invalid_market_id", "a malformed market"),
    ({"market": M2, "side": "buy", "price": 10, "quantity": 1, "limit": 3}, 422, "unknown_field", "an unknown field"),
]
for body, status, code, what in bad_orders:
    is_problem(post("/order", body, token=t_C), status, code, f"{what}: {status} {code}")
is_problem(post("/order", {"market": M2, "side": "buy", "price": 10, "quantity": 1}, token=ADMIN), 403,
           "user_token_required", "an admin token cannot place orders: 403")
is_((ledger_fingerprint(), orders_count()), (before, n_orders),
    "none of the invalid orders wrote anything (no order, transfer, hold or key)")
k = new_key()
r = order(t_C, str(uuid.uuid4()), "buy", 10, 1, key=k)
is_problem(r, 404, "market_not_found", "an unknown market: 404 market_not_found")
is_(stored_key(C, k), ("done", 404), "...stored under the key")

# ---- conservation in the shares market ----------------------------------------

is_(query("SELECT sum(quantity) FROM positions WHERE market_id = %s", (M,))[0][0], 1000,
    "shares: positions sum to the total supply")
is_(view(M)["outstanding"]["shares"], 1000, "GET /markets/{id}: 1000 outstanding")
is_(sum(balance(a)[0] for a in SH_ACCTS), sum(SH_ACCTS.values()), "shares: cash only moved between the traders")
is_(query("SELECT coalesce(sum(quantity), 0) FROM trades WHERE market_id = %s", (M,))[0][0],
    20 + 5 + 10 + 7 + 4 + 3 + 2 + 3, "trade rows add up to every fill")
is_(query("SELECT count(*) FROM orders WHERE market_id = %s AND status = 'open'", (M,))[0][0], 0,
    "no order left open in M")
is_problem(resolve(M, "yes"), 409, "not_an_event_market", "resolving a shares market: 409 not_an_event_market")
healthy("shares market")

# ---- 2. event market: mint, then YES -----------------------------------------

Y, t_Y = create_account("ev-y", 1000)
N, t_N = create_account("ev-n", 1000)
R, t_R = create_account("ev-r", 1000)
ev = new_market(kind="event", title="zerosum test: yes?")
E1, ESC1 = ev["id"], ev["escrow"]
is_((ev["kind"], ev["tick_min"], ev["tick_max"], ev["total_supply"], ev["owner"] == ESC1, bool(ESC1)),
    ("event", 1, 99, None, True, True), "event market: ticks 1..99, its own escrow account")
is_(balance(ESC1), (0, 0), "the escrow starts at 0")
y1 = placed(t_Y, E1, "buy", 60, 4, outcome="yes")
is_((y1["status"], orow(y1["id"]), balance(Y)), ("open", ("open", 4, 240), (1000, 240)),
    "YES buy 4@60 rests, holding 240")
n1 = placed(t_N, E1, "buy", 45, 4, outcome="no")
is_((n1["status"], n1["filled"], fills(n1)), ("filled", 4, [(y1["id"], "mint", 40, 4)]),
    "NO buy 4@45 mints 4 pairs against it, the NO side paying 100 - 60 = 40")
is_((balance(ESC1), balance(Y), balance(N)), ((400, 0), (760, 0), (840, 0)),
    "escrow holds 400 = 100 per pair; YES paid 240 from its hold, NO 160")
is_((pos(E1, Y, "yes"), pos(E1, N, "no"), pos(E1, Y, "no"), pos(E1, N, "yes")),
    ((4, 0, 240), (4, 0, 160), None, None), "4 YES to the YES buyer, 4 NO to the NO buyer, each at its cost")
v = view(E1)
is_((v["outstanding"], v["implied_probability"]), ({"yes": 4, "no": 4}, 0.6),
    "outstanding YES = NO = 4; implied probability 0.60")
tr = query("SELECT r.kind, r.outcome, r.price, r.quantity, r.buyer::text, r.seller::text,"
           " a.kind, a.from_account::text, a.to_account::text, a.amount,"
           " b.kind, b.from_account::text, b.to_account::text, b.amount"
           " FROM trades r JOIN transfers a ON a.id = r.cash_a JOIN transfers b ON b.id = r.cash_b"
           " WHERE r.market_id = %s", (E1,))
is_(tr, [("mint", "yes", 60, 4, Y, N, "mint", Y, ESC1, 240, "mint", N, ESC1, 160)],
    "one mint trade: YES 60 x 4, two mint legs into escrow")
is_(orow(y1["id"]), ("filled", 0, 0), "the YES maker is filled, nothing held")
healthy("event mint")

# self-trade prevention frees the cash it releases before the new order is paid for
S1, t_S1 = create_account("ev-s1", 100)
sn = placed(t_S1, E1, "buy", 90, 1, outcome="no")
is_((orow(sn["id"]), balance(S1)), (("open", 1, 90), (100, 90)), "S1's NO bid 1@90 holds 90 of its 100")
sy = placed(t_S1, E1, "buy", 20, 1, outcome="yes")
is_((sy["status"], sy["filled"], sy["fills"]), ("open", 0, []),
    "S1's YES bid at 20 would mint against its own NO bid at 90: no fill, it rests")
is_((orow(sn["id"]), orow(sy["id"]), balance(S1)), (("cancelled", 1, 0), ("open", 1, 20), (100, 20)),
    "self-trade prevention cancelled the NO bid and its 90 funded the new bid (held 20 of 100)")
healthy("event self-trade prevention")

# resting orders and a resting sell of contracts, then resolve YES
r1 = placed(t_R, E1, "buy", 30, 2, outcome="yes")
n2 = placed(t_N, E1, "buy", 20, 1, outcome="no")
ys = placed(t_Y, E1, "sell", 90, 1, outcome="yes")
is_((r1["status"], n2["status"], ys["status"], pos(E1, Y, "yes"), balance(R), balance(N)),
    ("open", "open", "open", (4, 1, 240), (1000, 60), (840, 20)),
    "three resting orders: R's bid (60 held), N's bid (20 held), Y's ask (1 contract held)")
healthy("event resting")
k = new_key()
r = resolve(E1, "yes", key=k)
is_((r.status, r.json), (200, {"market": E1, "outcome": "yes", "status": "resolved", "paid": 400,
                                "positions_settled": 2}),
    "resolve YES: 200, 400 paid, 2 positions settled")
is_((balance(Y), balance(N), balance(R), balance(ESC1)), ((1160, 0), (840, 0), (1000, 0), (0, 0)),
    "YES holder paid 100 x 4, NO holder 0, every hold released, escrow ends at 0")
is_((pos(E1, Y, "yes"), pos(E1, N, "no")), ((0, 0, 0), (0, 0, 0)), "positions are settled to zero")
is_([orow(o["id"]) for o in (r1, n2, ys, sy)],
    [("cancelled", 2, 0), ("cancelled", 1, 0), ("cancelled", 1, 0), ("cancelled", 1, 0)],
    "every resting order was cancelled")
is_(balance(S1), (100, 0), "S1's resting bid was released")
is_(query("SELECT kind, from_account::text, to_account::text, amount FROM transfers"
          " WHERE from_account = %s AND kind IN ('payout', 'refund')", (ESC1,)),
    [("payout", ESC1, Y, 400)], "one payout transfer, escrow -> winner")
v = view(E1)
is_((v["market"]["status"], v["market"]["outcome"], bool(v["market"]["resolved_at"]), v["book"]["yes"],
     v["book"]["no"]),
    ("resolved", "yes", True, {"bids": [], "asks": []}, {"bids": [], "asks": []}),
    "the market is resolved YES with an empty book")
replayed_same(r, k, lambda key: resolve(E1, "yes", key=key), "resolve")
is_problem(resolve(E1, "no"), 409, "market_closed", "resolving again with a new key: 409 market_closed")
is_problem(resolve(E1, "yes"), 409, "market_closed", "...even with the same outcome")
is_problem(order(t_R, E1, "buy", 50, 1, outcome="yes"), 409, "market_closed",
           "an order on a resolved market: 409 market_closed")
is_problem(resolve(str(uuid.uuid4()), "yes"), 404, "market_not_found", "resolving an unknown market: 404")
is_problem(resolve(E1, "maybe"), 422, "invalid_outcome", "resolve outcome maybe: 422")
is_problem(resolve(E1, "yes", tok=t_R), 403, "admin_required", "a user cannot resolve: 403")
healthy("event resolved yes")

# ---- event market resolved NO, after a secondary trade -------------------------

Y2, t_Y2 = create_account("ev-y2", 1000)
Y3, t_Y3 = create_account("ev-y3", 1000)
N2, t_N2 = create_account("ev-n2", 1000)
K2, t_K2 = create_account("ev-k2", 1000)
ev = new_market(kind="event", title="zerosum test: no?")
E2, ESC2 = ev["id"], ev["escrow"]
a = placed(t_Y2, E2, "buy", 70, 3, outcome="yes")
b = placed(t_N2, E2, "buy", 35, 5, outcome="no")
is_((b["status"], b["filled"], b["remaining"], fills(b)), ("open", 3, 2, [(a["id"], "mint", 30, 3)]),
    "NO 5@35 mints 3 pairs at 70/30 and rests 2")
is_((orow(b["id"]), balance(N2)), (("open", 2, 70), (910, 70)), "its remainder holds 2 x 35")
c = placed(t_Y3, E2, "buy", 65, 2, outcome="yes")
is_(fills(c), [(b["id"], "mint", 65, 2)], "YES 2@65 mints against the resting NO bid at 35, paying 65")
is_((balance(N2), balance(Y3), balance(ESC2), view(E2)["outstanding"]), ((840, 0), (870, 0), (500, 0),
                                                                          {"yes": 5, "no": 5}),
    "escrow 500 for 5 pairs")
s = placed(t_N2, E2, "sell", 50, 1, outcome="no")
k2 = placed(t_K2, E2, "buy", 50, 1, outcome="no")
is_(fills(k2), [(s["id"], "transfer", 50, 1)], "a secondary trade: K2 buys one NO contract from N2 at 50")
is_((pos(E2, N2, "no"), pos(E2, K2, "no"), balance(N2), balance(K2)),
    ((4, 0, 128), (1, 0, 32), (890, 0), (950, 0)),
    "the contract moved with its share of cost basis (160 x 1/5 = 32)")
healthy("event secondary trade")
# a YES buy sees both a resting YES sell and a complementary NO bid: the cheaper first
ys2 = placed(t_Y2, E2, "sell", 75, 1, outcome="yes")
kn = placed(t_K2, E2, "buy", 40, 1, outcome="no")
is_((ys2["status"], kn["status"], pos(E2, Y2, "yes"), balance(K2)), ("open", "open", (3, 1, 210), (950, 40)),
    "a YES ask at 75 and a NO bid at 40 (a YES at 60) rest side by side")
y3b = placed(t_Y3, E2, "buy", 75, 2, outcome="yes")
is_(fills(y3b), [(kn["id"], "mint", 60, 1), (ys2["id"], "transfer", 75, 1)],
    "YES 2@75: the mint at 60 first, then the ask at 75 (best price across both kinds of maker)")
is_((pos(E2, Y3, "yes"), pos(E2, Y2, "yes"), pos(E2, K2, "no"), balance(Y3), balance(Y2), balance(ESC2)),
    ((4, 0, 260), (2, 0, 140), (2, 0, 72), (735, 0), (865, 0), (600, 0)),
    "contracts, cost basis (210 x 1/3 = 70 moved) and cash as expected; escrow 600 for 6 pairs")
healthy("event mixed makers")
yc = placed(t_Y2, E2, "sell", 95, 2, outcome="yes")
is_(pos(E2, Y2, "yes"), (2, 2, 140), "a resting YES ask holds the contracts (held 2)")
r = cancel(t_Y2, yc["id"])
is_((r.status, r.json["order"]["released_quantity"], r.json["order"]["released_cash"], pos(E2, Y2, "yes"),
     orow(yc["id"])), (200, 2, 0, (2, 0, 140), ("cancelled", 2, 0)),
    "cancelling it releases the contracts, no cash")
r = resolve(E2, "no")
is_((r.status, (r.json or {}).get("paid"), (r.json or {}).get("status")), (200, 600, "resolved"),
    "resolve NO: 600 paid")
is_((balance(N2), balance(K2), balance(Y2), balance(Y3), balance(ESC2)),
    ((1290, 0), (1110, 0), (865, 0), (735, 0), (0, 0)),
    "each NO contract paid 100 (N2 4, K2 2), YES holders 0, escrow 0")
is_(sorted(query("SELECT to_account::text, amount FROM transfers WHERE from_account = %s AND kind = 'payout'",
                 (ESC2,))), sorted([(N2, 400), (K2, 200)]), "payout transfers: 400 and 200")
is_(sum(balance(x)[0] for x in (Y2, Y3, N2, K2)), 4000, "cash conserved among the four traders")
healthy("event resolved no")

# ---- event market cancelled: 50 per contract, YES and NO alike ----------------------

Y4, t_Y4 = create_account("ev-y4", 1000)
N4, t_N4 = create_account("ev-n4", 1000)
Y5, t_Y5 = create_account("ev-y5", 1000)
N5, t_N5 = create_account("ev-n5", 1000)
B4, t_B4 = create_account("ev-b4", 1000)
ev = new_market(kind="event", title="zerosum test: cancelled?")
E3, ESC3 = ev["id"], ev["escrow"]
a = placed(t_Y4, E3, "buy", 67, 3, outcome="yes")
b = placed(t_N4, E3, "buy", 40, 3, outcome="no")
is_(fills(b), [(a["id"], "mint", 33, 3)], "3 pairs at 67/33")
c = placed(t_Y5, E3, "buy", 55, 2, outcome="yes")
d = placed(t_N5, E3, "buy", 50, 2, outcome="no")
is_(fills(d), [(c["id"], "mint", 45, 2)], "2 pairs at 55/45")
is_(balance(ESC3), (500, 0), "escrow 500")
s = placed(t_Y4, E3, "sell", 80, 2, outcome="yes")
bb = placed(t_B4, E3, "buy", 80, 2, outcome="yes")
is_(fills(bb), [(s["id"], "transfer", 80, 2)], "B4 buys 2 YES from Y4 at 80")
is_((pos(E3, Y4, "yes"), pos(E3, B4, "yes")), ((1, 0, 67), (2, 0, 134)),
    "cost basis split exactly: 201 -> 67 + 134 (floor of 201 x 2/3)")
rest = placed(t_N5, E3, "buy", 10, 1, outcome="no")
costs = dict(query("SELECT account_id::text || '/' || outcome, cost FROM positions WHERE market_id = %s"
                   " AND quantity > 0", (E3,)))
is_(sum(costs.values()), 500, "the cost bases (informational) sum to the escrow: no merges here")
healthy("event before cancel")
r = resolve(E3, "cancel")
is_((r.status, (r.json or {}).get("status"), (r.json or {}).get("paid"), (r.json or {}).get("positions_settled")),
    (200, "cancelled", 500, 5), "cancel: 200, 500 paid over 5 positions")
refunds = dict(query("SELECT to_account::text, amount FROM transfers WHERE from_account = %s AND kind = 'refund'",
                     (ESC3,)))
is_(refunds, {Y4: 50, B4: 100, N4: 150, Y5: 100, N5: 100},
    "each holder paid 50 per contract it holds (1, 2, 3, 2, 2), not its cost basis")
is_(sum(refunds.values()), 500, "the cancel payouts sum to the escrow")
is_([balance(x) for x in (Y4, B4, N4, Y5, N5, ESC3)],
    [(1009, 0), (940, 0), (1051, 0), (990, 0), (1010, 0), (0, 0)],
    "balances: 1000 - cost + 50 per contract (+ the secondary trade's cash), escrow 0")
is_((orow(rest["id"]), view(E3)["market"]["status"], view(E3)["market"]["outcome"]),
    (("cancelled", 1, 0), "cancelled", "cancel"), "the resting bid was cancelled; the market is cancelled")
is_problem(resolve(E3, "cancel"), 409, "market_closed", "cancelling again: 409 market_closed")
healthy("event cancelled")

# ---- 3. tampers: one per market check ---------------------------------------------

# The live /proof reads unsealed rows (fills among them): the whole suite runs with the
# sealer frozen (from the start, so the fill tampered below stays unsealed), thawed after.
# live state the tampers corrupt: a resting buy and sell in M, an open event market with pairs
tb = placed(t_D, M, "buy", 7, 3)                 # D holds 21
ts = placed(t_X, M, "sell", 60, 1)               # X holds 1 of 3 shares
Y6, t_Y6 = create_account("ev-y6", 1000)
N6, t_N6 = create_account("ev-n6", 1000)
ET = new_market(kind="event", title="zerosum test: tampered")["id"]
ya = placed(t_Y6, ET, "buy", 58, 2, outcome="yes")
placed(t_N6, ET, "buy", 42, 2, outcome="no")
mint_trade = query("SELECT id::text, cash_a::text, cash_b::text FROM trades WHERE market_id = %s", (ET,))[0]
xfer_trade = query("SELECT id::text FROM trades WHERE market_id = %s AND maker_order = %s", (M, p3["id"]))[0][0]
r = healthy("before the tampers")
names = {c["name"]: c["kind"] for c in r.json["checks"]}
is_({n_: names.get(n_) for n_ in MARKET_CHECKS},
    {n_: ("constraint" if n_ == "no_negative_positions" else "evidence") for n_ in MARKET_CHECKS},
    "/proof lists the six market checks with their kinds")


def su(statements):
    """Run statements in ONE transaction as the superuser; None or the error."""
    conn = db("postgres")
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            for st in statements:
                sql, params = (st, ()) if isinstance(st, str) else st
                cur.execute(sql, params)
        conn.commit()
        return None
    except psycopg2.Error as e:
        conn.rollback()
        return e
    finally:
        conn.close()


def case(label, expected, tamper, repair, observed, samples=()):
    err = su(tamper)
    if not ok(err is None, f"{label}: tamper committed", err):
        return
    try:
        r = get("/proof", token=ADMIN)
        is_(r.status, 409, f"{label}: /proof answers 409")
        is_((r.json or {}).get("consistent"), False, f"{label}: consistent is false")
        is_(failing(r), set(expected), f"{label}: failing checks are exactly {sorted(expected)}")
        c = check_of(r, expected[0])
        is_((c.get("observed"), c.get("expected")), (observed, 0), f"{label}: observed {observed}, expected 0")
        if samples:
            ok(all(s in (c.get("sample") or "") for s in samples), f"{label}: the sample names the tampered rows",
               f"sample {c.get('sample')!r}, wanted {samples}")
        is_(curl_rc(), 22, f"{label}: curl -fsS fails (exit 22)")
    finally:
        ok(su(repair) is None, f"{label}: repair committed")
    healthy(f"{label} repaired")


# CHECKs on positions, looked up by definition (both profiles have them: sql/schema.sql)
PCHECKS = dict(query("SELECT pg_get_constraintdef(oid), conname FROM pg_constraint"
                     " WHERE conrelid = 'positions'::regclass AND contype = 'c'", user="postgres"))
q_check = PCHECKS.get("CHECK ((quantity >= 0))")
h_check = PCHECKS.get("CHECK (((held >= 0) AND (held <= quantity)))")
ok(q_check and h_check, "the positions CHECKs on quantity and held are found", PCHECKS)
SAVED = {n_: d_ for d_, n_ in PCHECKS.items()}


def drop(name):
    return [f"ALTER TABLE positions DROP CONSTRAINT {name}"] if name else []


def readd(name):
    return [f"ALTER TABLE positions ADD CONSTRAINT {name} {SAVED[name]} NOT VALID"] if name else []


def validate(name):
    return [f"ALTER TABLE positions VALIDATE CONSTRAINT {name}"] if name else []


hold = "UPDATE orders SET hold_amount = hold_amount + %s WHERE id = %s"
held = "UPDATE accounts SET held = held + %s WHERE id = %s"
case("order_holds_exact", ["order_holds_exact"],
     [(hold, (5, tb["id"])), (held, (5, D))], [(hold, (-5, tb["id"])), (held, (-5, D))],
     1, [tb["id"]])

pq = "UPDATE positions SET quantity = quantity + %s WHERE market_id = %s AND account_id = %s AND outcome = %s"
case("shares_supply_conserved", ["shares_supply_conserved"],
     [(pq, (1, M, B, "shares"))], [(pq, (-1, M, B, "shares"))], 1, [M])

ph = "UPDATE positions SET held = held + %s WHERE market_id = %s AND account_id = %s AND outcome = %s"
case("positions_held_match_orders", ["positions_held_match_orders"],
     [(ph, (1, M, B, "shares"))], [(ph, (-1, M, B, "shares"))], 1, [f"{M}/{B}"])

case("event_pairs_backed (yes != no)", ["event_pairs_backed"],
     [(pq, (1, ET, Y6, "yes"))], [(pq, (-1, ET, Y6, "yes"))], 1, [ET])
case("event_pairs_backed (escrow != 100 x pairs)", ["event_pairs_backed"],
     [(pq, (1, ET, Y6, "yes")), (pq, (1, ET, N6, "no"))],
     [(pq, (-1, ET, Y6, "yes")), (pq, (-1, ET, N6, "no"))], 1, [ET])

tq = "UPDATE trades SET quantity = quantity + %s WHERE id = %s"
case("trade_cash_legs (transfer fill)", ["trade_cash_legs"],
     [(tq, (1, xfer_trade))], [(tq, (-1, xfer_trade))], 1, [xfer_trade])
legs = "UPDATE trades SET cash_a = %s, cash_b = %s WHERE id = %s"
case("trade_cash_legs (mint legs swapped)", ["trade_cash_legs"],
     [(legs, (mint_trade[2], mint_trade[1], mint_trade[0]))],
     [(legs, (mint_trade[1], mint_trade[2], mint_trade[0]))], 1, [mint_trade[0]])

# no_negative_positions: G holds -1 share and O one more: the supply still adds up,
# held (0) matches G's orders (none); only the position is negative.
ins = "INSERT INTO positions (market_id, account_id, outcome, quantity) VALUES (%s, %s, 'shares', -1)"
case("no_negative_positions", ["no_negative_positions"],
     drop(q_check) + drop(h_check) + [(ins, (M, G)), (pq, (1, M, O, "shares"))] + readd(q_check) + readd(h_check),
     [("DELETE FROM positions WHERE market_id = %s AND account_id = %s", (M, G)), (pq, (-1, M, O, "shares"))]
     + validate(q_check) + validate(h_check), 1)

is_(dict(query("SELECT pg_get_constraintdef(oid), conname FROM pg_constraint"
               " WHERE conrelid = 'positions'::regclass AND contype = 'c'", user="postgres")), PCHECKS,
    "the positions CHECKs are back as they were")
is_(query("SELECT count(*) FROM pg_constraint WHERE conrelid IN ('positions'::regclass, 'orders'::regclass,"
          " 'trades'::regclass, 'markets'::regclass) AND NOT convalidated", user="postgres")[0][0], 0,
    "no market constraint left NOT VALID")
if DIALECT != "dsql":
    is_(query("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid IN ('positions'::regclass,"
              " 'orders'::regclass, 'trades'::regclass, 'markets'::regclass)", user="postgres")[0][0], 7,
        "the market foreign keys (postgres guards) are all in place")
is_((orow(tb["id"]), balance(D), pos(M, B), pos(ET, Y6, "yes")), (("open", 3, 21), (968, 21), (15, 0, 0), (2, 0, 116)),
    "the tampered rows are back to their values")
for o_, t_ in ((tb, t_D), (ts, t_X)):
    is_(cancel(t_, o_["id"]).status, 200, "clean up a resting order")
is_(ledger_invariants(), [], "ledger invariants hold after the tampers")
seal_thaw()
diag(f"matching, resolution and tampers took {time.time() - T0:.1f} s")

# ---- 4. the market stampedes ------------------------------------------------------

SCRIPT = os.path.join(REPO, "scripts", "stampede")


def stampede(*args, timeout=240):
    env = dict(os.environ, ZS_VAR=ZS_VAR, ZS_BIN=ZS_BIN)
    p = subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True, timeout=timeout)
    lines = p.stdout.strip().splitlines()
    try:
        s_ = json.loads(lines[-1]) if lines else None
    except ValueError:
        s_ = None
    return p.returncode, s_, p.stderr


def load_stampede():
    """The stampede's verifiers (zerosum_py.stampede, on sys.path through zs)."""
    import zerosum_py.stampede
    return zerosum_py.stampede


def summary_ok(rc, s_, name, **want):
    good = rc == 0 and isinstance(s_, dict) and s_.get("ok") is True and s_.get("errors") == 0
    good = good and all(s_.get(k_) == v_ for k_, v_ in want.items())
    return ok(good, name, f"exit {rc}\n{json.dumps(s_)[:1500] if s_ else s_}")


COMMON = ["scenario", "n", "accepted", "rejected", "errors", "duration_ms", "retries", "client_retries",
          "max_in_flight", "proof", "checks", "failures", "ok"]
st = load_stampede()
tmp = tempfile.mkdtemp(prefix="markets-stampede-")

t1 = time.time()
rec_path = os.path.join(tmp, "phantom.json")
rc, s1, err = stampede("phantom-shares", "--n", "40", "--record", rec_path)
summary_ok(rc, s1, "phantom-shares n=40: exit 0, ok, 40 fills, supply delta 0, no phantom shares",
           scenario="phantom-shares", n=40, accepted=40, rejected=0, fills=40, supply=80, positions_total=80,
           supply_delta=0, seller_position=40, phantom_shares=0, proof="consistent")
missing = [f for f in COMMON + ["fills", "fills_per_s", "retries_per_fill"] if not isinstance(s1, dict) or f not in s1]
ok(not missing, "phantom-shares: the summary has the documented fields", missing)
if isinstance(s1, dict):
    if DIALECT == "postgres":
        is_(s1.get("retries"), 0, "phantom-shares on postgres: 0 retries (the market lock queues the takers)")
    else:
        ok(isinstance(s1.get("retries"), int) and s1["retries"] >= 0, "phantom-shares: retries reported",
           s1.get("retries"))
    diag(f"phantom-shares n=40: {s1.get('fills')} fills, {s1.get('retries')} retries,"
         f" {s1.get('duration_ms')} ms ({time.time() - t1:.1f} s with setup)")
if rc != 0:
    diag(err[-2000:])

t1 = time.time()
rec_path2 = os.path.join(tmp, "event.json")
rc, s2, err = stampede("event-market", "--n", "60", "--markets", "3", "--seed", "9", "--record", rec_path2)
summary_ok(rc, s2, "event-market n=60 markets=3: exit 0, ok, cash conserved",
           scenario="event-market", n=60, accepted=60, rejected=0, markets=3, cash_delta=0,
           outcomes=["yes", "no", "cancel"], proof="consistent")
ok(isinstance(s2, dict) and s2.get("pairs_minted", 0) > 0 and s2.get("paid_out") == 100 * s2.get("pairs_minted", -1),
   "event-market: contracts were minted and exactly 100 per pair was paid out", s2)
missing = [f for f in COMMON + ["markets", "fills", "pairs_minted", "paid_out", "cash_delta"]
           if not isinstance(s2, dict) or f not in s2]
ok(not missing, "event-market: the summary has the documented fields", missing)
if isinstance(s2, dict):
    diag(f"event-market n=60: {s2.get('fills')} fills, {s2.get('pairs_minted')} pairs, {s2.get('retries')}"
         f" retries, {s2.get('duration_ms')} ms ({time.time() - t1:.1f} s with setup)")
if rc != 0:
    diag(err[-2000:])

# negative control: a wrong expectation must fail the same real run, on accepted_count alone
rc3, s3, _ = stampede("phantom-shares", "--n", "8", "--expect-accepted", "9")
ok(rc3 == 1 and isinstance(s3, dict) and s3.get("ok") is False and s3.get("accepted") == 8
   and s3["checks"].get("accepted_count") is False
   and all(v_ for k_, v_ in s3["checks"].items() if k_ != "accepted_count"),
   "negative control: --expect-accepted 9 for 8 buyers fails (exit 1) on accepted_count alone",
   f"exit {rc3}\n{json.dumps(s3)[:1500] if s3 else s3}")

# the checkers can fail: doctored records
try:
    with open(rec_path) as f_:
        rec = json.load(f_)["record"]
    _, c_ = st.verify_phantom_shares(rec)
    ok(c_.ok, "phantom-shares record: re-verified it passes", c_.failures)
    bad = copy.deepcopy(rec)                  # two takers filled against one resting share
    w = [a_ for a_ in bad["answers"] if a_["status"] == 201]
    w[1]["json"]["order"]["fills"][0]["maker_order"] = w[0]["json"]["order"]["fills"][0]["maker_order"]
    _, c_ = st.verify_phantom_shares(bad)
    ok(c_.results.get("makers_distinct") is False, "doctored: one resting share filled twice fails makers_distinct")
    bad = copy.deepcopy(rec)                  # a phantom share in the market's positions
    bad["market"]["outstanding"]["shares"] += 1
    _, c_ = st.verify_phantom_shares(bad)
    ok(c_.results.get("supply_audit_delta_zero") is False, "doctored: supply + 1 fails supply_audit_delta_zero")
    bad = copy.deepcopy(rec)                  # a buyer holding 2
    who = next(iter(bad["buyers"]))
    bad["probes"][who]["more"] = {"status": 201, "code": None, "json": {"order": {"filled": 0}}}
    _, c_ = st.verify_phantom_shares(bad)
    ok(c_.results.get("positions_match_fills") is False, "doctored: a buyer holding 2 fails positions_match_fills")

    with open(rec_path2) as f_:
        rec = json.load(f_)["record"]
    _, c_ = st.verify_event_market(rec)
    ok(c_.ok, "event-market record: re-verified it passes", c_.failures)
    win_m = next(m_ for m_ in rec["markets"] if m_["resolve"] == "yes")
    bad = copy.deepcopy(rec)                  # a winner paid 99 for a contract
    ents = [e_ for ents_ in bad["entries"].values() for e_ in (ents_ or [])
            if e_.get("kind") == "payout" and e_.get("counterparty") == win_m["escrow"]]
    if ents:
        ents[0]["amount"] -= 1
        _, c_ = st.verify_event_market(bad)
        ok(c_.results.get("winners_paid_100_per_contract") is False,
           "doctored: a payout of 99 per contract fails winners_paid_100_per_contract")
    else:
        ok(True, "doctored payout (skipped: the YES market minted nothing)")
    bad = copy.deepcopy(rec)                  # escrow not empty after resolution
    bad["escrow_after"][win_m["id"]]["balance"] = 100
    _, c_ = st.verify_event_market(bad)
    ok(c_.results.get("escrow_zero") is False and c_.results.get("cash_conserved") is False,
       "doctored: 100 left in escrow fails escrow_zero and cash_conserved")
    bad = copy.deepcopy(rec)                  # outstanding YES != NO before resolution
    bad["before"][win_m["id"]]["outstanding"]["yes"] = bad["before"][win_m["id"]]["outstanding"].get("yes", 0) + 1
    _, c_ = st.verify_event_market(bad)
    ok(c_.results.get("outstanding_yes_eq_no") is False, "doctored: YES != NO fails outstanding_yes_eq_no")
except (OSError, ValueError, KeyError, IndexError, TypeError) as e_:
    ok(False, "the stampede records could be re-verified", repr(e_))

healthy("after the stampedes")

# ---- an escrow account moves only with its market ---------------------------
em = new_market(kind="event", title="escrow is closed to transfers")
esc = em["escrow"]
payer, payer_tok = create_account("escrow-payer", 100)
before = (balance(payer), balance(esc))
r = post("/transfer", {"from": payer, "to": esc, "amount": 1}, token=payer_tok)
is_problem(r, 403, "escrow_account", "a transfer into a market's escrow is refused")
r = post("/transfer", {"from": ISSUER, "to": esc, "amount": 1}, token=admin_token())
is_problem(r, 403, "escrow_account", "…even from the issuer by an admin")
is_((balance(payer), balance(esc)), before, "…and nothing moved")
is_(query("SELECT kind FROM accounts WHERE id = %s", (esc,))[0][0], "escrow", "the escrow account's kind is escrow")

is_(ledger_invariants(), [], "ledger invariants hold at the end")
diag(f"test_markets.py took {time.time() - T0:.1f} s")

done()
