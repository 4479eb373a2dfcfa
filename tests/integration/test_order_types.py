"""Order types and terms: fill-or-kill, good-till-date, market orders with a
protection price, post-only, and the self-trade prevention modes.

Every case goes through POST /order (and DELETE /order/{id}) and asserts the
answer (status, code, body) and the database before and after: order rows
(status, remaining, hold_amount, tif, order_type, end_reason), trades,
positions (quantity, held), accounts (balance, held), and, for refusals,
that nothing but the stored answer was written (a fingerprint of every
table a order touches, and the key's row). GET /proof stays consistent, and
the new checks fok_all_or_nothing and expired_orders_release each fail on a
tamper made while the sealer is frozen.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import copy
import datetime
import json
import subprocess
import tempfile

ADMIN = admin_token()


def must(r, status, what):
    if r.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {r}")
    return r.json


def new_market(**spec):
    return must(post("/markets", spec, token=ADMIN), 201, f"POST /markets {spec}")["market"]


def order(tok, market, key="auto", **fields):
    return post("/order", dict({"market": market}, **fields), token=tok, key=key)


def placed(tok, market, **fields):
    return must(order(tok, market, **fields), 201, f"order {fields}")["order"]


def cancel(tok, oid, key="auto"):
    return request("DELETE", f"/order/{oid}", token=tok, key=key if key != "auto" else new_key())


def orow(oid):
    rows = query("SELECT status, remaining, hold_amount, time_in_force, tif, order_type,"
                 " coalesce(end_reason, ''), post_only, stp FROM orders WHERE id = %s", (oid,))
    return rows[0] if rows else None


def pos(mid, aid, outcome="shares"):
    rows = query("SELECT quantity, held FROM positions WHERE market_id = %s AND account_id = %s"
                 " AND outcome = %s", (mid, aid, outcome))
    return rows[0] if rows else None


def fingerprint():
    """Everything an order could write, but the idempotency keys."""
    return query("""SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM trades),
                           (SELECT coalesce(sum(remaining), 0) FROM orders WHERE status = 'open'),
                           (SELECT count(*) FROM orders WHERE status = 'open'),
                           (SELECT coalesce(sum(quantity), 0) + coalesce(sum(held), 0) FROM positions),
                           (SELECT count(*) FROM transfers), (SELECT coalesce(sum(held), 0) FROM accounts)""")[0]


def key_row(account, key):
    rows = query("SELECT state, status FROM idempotency_keys WHERE caller = %s AND key = %s",
                 ("user:" + account, key))
    return rows[0] if rows else None


def fills(o):
    return [(f["maker_order"], f["price"], f["quantity"]) for f in o["fills"]]


def healthy(label):
    r = get("/proof", token=ADMIN)
    bad = sorted(c["name"] for c in (r.json or {}).get("checks", []) if not c.get("ok"))
    ok(r.status == 200 and (r.json or {}).get("consistent") is True and not bad,
       f"{label}: GET /proof is 200 and consistent", f"{r.status} failing: {bad}")


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def db_now():
    return query("SELECT now() AT TIME ZONE 'UTC'")[0][0]


def refused_clean(label, send, status, code, account, extra=None, stored=None):
    """send(key) must answer status/code with nothing written but, when stored
    (by default: unless a 422), the answer under the key, which replays."""
    if stored is None:
        stored = status != 422
    before = fingerprint()
    key = new_key()
    r = send(key)
    is_problem(r, status, code, f"{label}: {status} {code}")
    if extra:
        for k, v in extra.items():
            is_((r.json or {}).get(k), v, f"{label}: the answer's {k} is {v}")
    is_(fingerprint(), before, f"{label}: nothing written (orders, trades, positions, transfers, holds)")
    if not stored:
        is_(key_row(account, key), None, f"{label}: the key is not stored")
    else:
        is_(key_row(account, key), ("done", status), f"{label}: the answer is stored under the key")
        again = send(key)
        ok(again.status == r.status and again.json == r.json
           and again.headers.get("idempotent-replayed") == "true",
           f"{label}: the same key replays it", f"{again}")
        is_(fingerprint(), before, f"{label}: the replay writes nothing")
    return r


# ---- accounts and markets ---------------------------------------------------

O, t_O = create_account("ot-owner", 10000)
A, t_A = create_account("ot-a", 10000)
B, t_B = create_account("ot-b", 10000)
C, t_C = create_account("ot-c", 10000)
M = new_market(kind="shares", title="order types shares", owner=O, supply=1000, tick_min=1,
               tick_max=1000)["id"]
# O sells: 10@10, 10@11, 10@12 (the thin book)
s10 = placed(t_O, M, side="sell", price=10, quantity=10)
s11 = placed(t_O, M, side="sell", price=11, quantity=10)
s12 = placed(t_O, M, side="sell", price=12, quantity=10)
is_(pos(M, O), (1000, 30), "the owner's 30 resting shares are held")

# ---- 1. validation: conflicting or bad terms, 422 and nothing written --------

cases = [
    ("unknown type", {"side": "buy", "price": 10, "quantity": 1, "type": "stop"}, "invalid_type"),
    ("market with price", {"side": "buy", "type": "market", "price": 10, "protection_price": 12,
                           "quantity": 1}, "conflicting_fields"),
    ("market without protection_price", {"side": "buy", "type": "market", "quantity": 1},
     "missing_field"),
    ("limit with protection_price", {"side": "buy", "price": 10, "protection_price": 12,
                                     "quantity": 1}, "conflicting_fields"),
    ("bad protection_price", {"side": "buy", "type": "market", "protection_price": 0, "quantity": 1},
     "invalid_protection_price"),
    ("market gtc", {"side": "buy", "type": "market", "protection_price": 12, "quantity": 1,
                    "time_in_force": "gtc"}, "conflicting_fields"),
    ("market gtd", {"side": "buy", "type": "market", "protection_price": 12, "quantity": 1,
                    "time_in_force": "gtd", "expires_at": "2999-01-01T00:00:00Z"},
     "conflicting_fields"),
    ("unknown time_in_force", {"side": "buy", "price": 10, "quantity": 1, "time_in_force": "day"},
     "invalid_time_in_force"),
    ("gtd without expires_at", {"side": "buy", "price": 5, "quantity": 1, "time_in_force": "gtd"},
     "missing_field"),
    ("expires_at without gtd", {"side": "buy", "price": 5, "quantity": 1,
                                "expires_at": "2999-01-01T00:00:00Z"}, "conflicting_fields"),
    ("expires_at not a time", {"side": "buy", "price": 5, "quantity": 1, "time_in_force": "gtd",
                               "expires_at": "tomorrow"}, "invalid_expires_at"),
    ("expires_at 30 February", {"side": "buy", "price": 5, "quantity": 1, "time_in_force": "gtd",
                                "expires_at": "2031-02-30T00:00:00Z"}, "invalid_expires_at"),
    ("expires_at a number", {"side": "buy", "price": 5, "quantity": 1, "time_in_force": "gtd",
                             "expires_at": 1893456000}, "invalid_expires_at"),
    ("expires_at in the past", {"side": "buy", "price": 5, "quantity": 1, "time_in_force": "gtd",
                                "expires_at": "2001-01-01T00:00:00Z"}, "invalid_expires_at"),
    ("post_only not a boolean", {"side": "buy", "price": 5, "quantity": 1, "post_only": "yes"},
     "invalid_post_only"),
    ("post_only market", {"side": "buy", "type": "market", "protection_price": 12, "quantity": 1,
                          "post_only": True}, "conflicting_fields"),
    ("post_only ioc", {"side": "buy", "price": 5, "quantity": 1, "time_in_force": "ioc",
                       "post_only": True}, "conflicting_fields"),
    ("post_only fok", {"side": "buy", "price": 5, "quantity": 1, "time_in_force": "fok",
                       "post_only": True}, "conflicting_fields"),
    ("unknown stp", {"side": "buy", "price": 5, "quantity": 1, "stp": "decrement"}, "invalid_stp"),
    ("market protection outside the ticks", {"side": "buy", "type": "market",
                                             "protection_price": 1001, "quantity": 1},
     "price_out_of_range"),
]
for label, body, code in cases:
    refused_clean(label, lambda k, b=body: order(t_A, M, key=k, **b), 422, code, A)

# ---- 2. fill or kill ------------------------------------------------------------

bal_A = balance(A)
r = refused_clean("fok 31@12 against 30 units", lambda k: order(
    t_A, M, key=k, side="buy", price=12, quantity=31, time_in_force="fok"), 409, "order_killed", A,
    {"fillable": 30})
r = refused_clean("fok 15@10 against 10 units at 10", lambda k: order(
    t_A, M, key=k, side="buy", price=10, quantity=15, time_in_force="fok"), 409, "order_killed", A,
    {"fillable": 10})
is_((orow(s10["id"])[:3], orow(s11["id"])[:3], balance(A)), (("open", 10, 0), ("open", 10, 0), bal_A),
    "killed fok orders leave the makers and the taker's cash untouched")

f1 = placed(t_A, M, side="buy", price=11, quantity=15, time_in_force="fok")
is_((f1["status"], f1["filled"], f1["remaining"], f1["time_in_force"], fills(f1)),
    ("filled", 15, 0, "fok", [(s10["id"], 10, 10), (s11["id"], 11, 5)]),
    "fok 15@11 fills completely across two makers at their prices")
is_(orow(f1["id"]), ("filled", 0, 0, "ioc", "fok", "limit", "", False, "cancel_maker"),
    "its row: filled, time_in_force ioc (never rests), tif fok")
is_(balance(A), (bal_A[0] - 155, 0), "the fok buyer paid 10x10 + 5x11")
is_(pos(M, A), (15, 0), "and holds the 15 shares")

# fok with an own resting order in front (cancel_maker): killed, the own order NOT cancelled
mine = placed(t_O, M, side="buy", price=2, quantity=5)
refused_clean("fok sell 20@1 with an own bid in front", lambda k: order(
    t_O, M, key=k, side="sell", price=1, quantity=20, time_in_force="fok"), 409, "order_killed", O,
    {"fillable": 0})
is_(orow(mine["id"])[:3], ("open", 5, 10), "a killed fok cancels no own resting order either")
must(cancel(t_O, mine["id"]), 200, "cancel O's bid")
healthy("after fok")

# ---- 3. market orders with a protection price ---------------------------------

# the book now: s11 5@11, s12 10@12
bal_B = balance(B)
m1 = placed(t_B, M, side="buy", type="market", protection_price=11, quantity=8)
is_((m1["status"], m1["filled"], m1["remaining"], m1["type"], m1["protection_price"], m1["price"],
     m1["time_in_force"], fills(m1)),
    ("cancelled", 5, 0, "market", 11, 11, "ioc", [(s11["id"], 11, 5)]),
    "market buy 8 protected at 11: fills the 5 at 11, never the 12s; the rest is cancelled")
is_(orow(m1["id"]), ("cancelled", 0, 0, "ioc", "ioc", "market", "", False, "cancel_maker"),
    "its row: market, price = protection, nothing held")
is_((balance(B), pos(M, B)), ((bal_B[0] - 55, 0), (5, 0)), "the buyer paid 55 and holds nothing back")
is_(orow(s12["id"])[:2], ("open", 10), "the 12s were not touched")
# an ask of A at 20 and bids of C: a market sell walks down to its protection
c9 = placed(t_C, M, side="buy", price=9, quantity=4)
c8 = placed(t_C, M, side="buy", price=8, quantity=4)
r = refused_clean("market fok sell 6 protected at 9 (only 4 at 9 or better)", lambda k: order(
    t_A, M, key=k, side="sell", type="market", protection_price=9, quantity=6, time_in_force="fok"),
    409, "order_killed", A, {"fillable": 4})
m3 = placed(t_A, M, side="sell", type="market", protection_price=8, quantity=6)
is_((m3["status"], m3["filled"], fills(m3)), ("filled", 6, [(c9["id"], 9, 4), (c8["id"], 8, 2)]),
    "market sell 6 protected at 8 fills 4@9 and 2@8")
is_((orow(c8["id"])[:3], balance(C)[1]), (("open", 2, 16), 16), "the partly filled bid still holds 2x8")
must(cancel(t_C, c8["id"]), 200, "cancel C's bid")
m4 = placed(t_A, M, side="sell", type="market", protection_price=1, quantity=3)
is_((m4["status"], m4["filled"], m4["remaining"], m4["fills"]), ("cancelled", 0, 0, []),
    "a market order with nothing to meet is cancelled, nothing filled")
healthy("after market orders")

# ---- 4. post-only --------------------------------------------------------------

refused_clean("post-only buy 12 crossing the 12s", lambda k: order(
    t_B, M, key=k, side="buy", price=12, quantity=1, post_only=True), 409, "would_take", B)
p1 = placed(t_B, M, side="buy", price=11, quantity=3, post_only=True)
is_((p1["status"], p1["post_only"], orow(p1["id"])[:3]), ("open", True, ("open", 3, 33)),
    "a post-only buy below the ask rests, holding 3x11")
refused_clean("post-only sell crossing the post-only bid", lambda k: order(
    t_O, M, key=k, side="sell", price=11, quantity=1, post_only=True), 409, "would_take", O)
refused_clean("post-only sell crossing an own bid", lambda k: order(
    t_B, M, key=k, side="sell", price=11, quantity=1, post_only=True), 409, "would_take", B)
must(cancel(t_B, p1["id"]), 200, "cancel B's post-only bid")

# ---- 5. self-trade prevention modes ---------------------------------------------

# book: O's s12 10@12; O adds an own bid; then O sells into bids of C and O
cb = placed(t_C, M, side="buy", price=7, quantity=2)
ob = placed(t_O, M, side="buy", price=6, quantity=2)
cc = placed(t_C, M, side="buy", price=5, quantity=2)
t1 = placed(t_O, M, side="sell", price=5, quantity=6, stp="cancel_taker")
is_((t1["status"], t1["filled"], t1["remaining"], t1["stp"], fills(t1)),
    ("cancelled", 2, 0, "cancel_taker", [(cb["id"], 7, 2)]),
    "cancel_taker: fills C's 7s, stops at its own 6s, the gtc remainder is cancelled")
is_((orow(ob["id"])[:3], orow(cc["id"])[:3]), (("open", 2, 12), ("open", 2, 10)),
    "cancel_taker: the own maker and the orders behind it stay")
t2 = placed(t_O, M, side="sell", price=5, quantity=6, stp="cancel_both")
is_((t2["status"], t2["filled"], t2["remaining"], t2["fills"]), ("cancelled", 0, 0, []),
    "cancel_both: meets its own 6s first, both are cancelled")
is_((orow(ob["id"])[:3], orow(cc["id"])[:3]), (("cancelled", 2, 0), ("open", 2, 10)),
    "cancel_both: the own maker is cancelled (hold released), C's 5s stay")
ob2 = placed(t_O, M, side="buy", price=6, quantity=2)
t3 = placed(t_O, M, side="sell", price=5, quantity=6)
is_((t3["status"], t3["filled"], t3["remaining"], t3["stp"], fills(t3)),
    ("open", 2, 4, "cancel_maker", [(cc["id"], 5, 2)]),
    "cancel_maker (the default): cancels its own 6s, fills C's 5s, rests the 4 left")
is_(orow(ob2["id"])[:3], ("cancelled", 2, 0), "cancel_maker: the own maker is cancelled")
must(cancel(t_O, t3["id"]), 200, "cancel O's resting sell")
healthy("after stp")

# ---- 6. good till date ------------------------------------------------------------

now = db_now()
g1 = placed(t_C, M, side="buy", price=4, quantity=5, time_in_force="gtd",
            expires_at=iso(now + datetime.timedelta(seconds=3)))
is_((g1["status"], g1["time_in_force"], parse_ts(g1["expires_at"]).replace(tzinfo=None)),
    ("open", "gtd", now + datetime.timedelta(seconds=3)), "a gtd bid rests with its deadline")
is_((orow(g1["id"]), balance(C)[1]), (("open", 5, 20, "gtc", "gtd", "limit", "", False,
                                        "cancel_maker"), 20), "it holds 5x4 until then")
g_off = placed(t_C, M, side="buy", price=3, quantity=1, time_in_force="gtd",
               expires_at=(now + datetime.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S+02:00"))
is_(parse_ts(g_off["expires_at"]).replace(tzinfo=None),
    (now + datetime.timedelta(hours=3)).replace(microsecond=0) - datetime.timedelta(hours=2),
    "an offset deadline is kept as the instant it names (answered in UTC)")
must(cancel(t_C, g_off["id"]), 200, "a gtd order before its deadline cancels as any other")
ok(wait_for(lambda: orow(g1["id"])[6] == "expired", timeout=20),
   "the jobs child expires the gtd order after its deadline")
is_((orow(g1["id"])[:3], balance(C)[1]), (("cancelled", 5, 0), 0),
    "expired: cancelled, its hold released")
ev = query("SELECT type, channels, payload FROM events WHERE payload LIKE %s", (f'%{g1["id"]}%',))
ev = [(t, c, json.loads(p)) for t, c, p in ev if json.loads(p).get("order", {}).get("reason") == "expired"]
is_([(t, c, p["order"]["status"], p["order"]["released_cash"]) for t, c, p in ev],
    [("order.cancelled", f"markets/{M} accounts/{C}", "cancelled", 20)],
    "the jobs child's expiry announced itself: one order.cancelled, reason expired, to the market and owner")
key = new_key()
is_problem(cancel(t_C, g1["id"], key=key), 409, "order_expired", "DELETE an expired order: 409 order_expired")
is_(key_row(C, key), ("done", 409), "the refusal is stored under the key")

# a gtd order past its deadline is never matched, even before the sweep
g2 = placed(t_C, M, side="buy", price=4, quantity=5, time_in_force="gtd",
            expires_at=iso(db_now() + datetime.timedelta(hours=1)))
query("UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = %s", (g2["id"],))
x = placed(t_A, M, side="sell", price=4, quantity=5, time_in_force="ioc")
is_((x["filled"], x["fills"]), (0, []), "a sell at 4 does not meet the bid past its deadline")
r = cancel(t_C, g2["id"])
is_problem(r, 409, "order_expired", "DELETE past the deadline: 409 order_expired (expired now or by the jobs child)")
is_((orow(g2["id"])[:3], orow(g2["id"])[6], balance(C)[1]), (("cancelled", 5, 0), "expired", 0),
    "either way it is expired and holds nothing")
is_([t for t, p in query("SELECT type, payload FROM events WHERE payload LIKE %s", (f'%{g2["id"]}%',))
     if json.loads(p).get("order", {}).get("reason") == "expired"], ["order.cancelled"],
    "either way its expiry wrote one order.cancelled event")
healthy("after gtd")

# ---- 7. amend: PATCH /order/{id} ----------------------------------------------------


def amend(tok, oid, key="auto", **body):
    return request("PATCH", f"/order/{oid}", body=body, token=tok,
                   key=key if key != "auto" else new_key())


def seq(oid):
    return query("SELECT seq, price, quantity FROM orders WHERE id = %s", (oid,))[0]


G, t_G = create_account("ot-g", 100)
M2 = new_market(kind="shares", title="order amends", owner=O, supply=100, tick_min=1,
                tick_max=1000)["id"]
ask = placed(t_O, M2, side="sell", price=20, quantity=10)
a1 = placed(t_A, M2, side="buy", price=10, quantity=5)
c1 = placed(t_C, M2, side="buy", price=10, quantity=5)
held_A, held_C = balance(A)[1], balance(C)[1]
s_a1 = seq(a1["id"])

for label, body, code in (("no member", {}, "missing_field"),
                          ("an unknown member", {"price": 10, "side": "sell"}, "unknown_field"),
                          ("a zero quantity", {"quantity": 0}, "invalid_quantity"),
                          ("a fractional price", {"price": 10.5}, "invalid_price"),
                          ("a price outside the ticks", {"price": 1001}, "price_out_of_range")):
    refused_clean(f"amend with {label}", lambda k, b=body: amend(t_A, a1["id"], key=k, **b), 422,
                  code, A)

r = amend(t_A, a1["id"], quantity=3)
is_((r.status, r.json["order"]["quantity"], r.json["order"]["remaining"], r.json["order"]["fills"]),
    (200, 3, 3, []), "amend down 5 -> 3: 200, nothing fills")
is_((seq(a1["id"]), orow(a1["id"])[:3], balance(A)[1]), ((s_a1[0], 10, 3), ("open", 3, 30), held_A - 20),
    "lowering the quantity keeps the priority stamp; the hold drops to 3x10 at once")
x = placed(t_O, M2, side="sell", price=10, quantity=2, time_in_force="ioc")
is_(fills(x), [(a1["id"], 10, 2)], "a1 kept its place ahead of c1: the sell at 10 fills it first")
refused_clean("amend to what already filled", lambda k: amend(t_A, a1["id"], key=k, quantity=2),
              409, "quantity_below_filled", A)
refused_clean("another user's order", lambda k: amend(t_B, a1["id"], key=k, quantity=2),
              404, "order_not_found", B)

s_c1 = seq(c1["id"])
r = amend(t_C, c1["id"], quantity=8)
is_((r.status, r.json["order"]["remaining"], orow(c1["id"])[:3], balance(C)[1]),
    (200, 8, ("open", 8, 80), held_C + 30), "amend up 5 -> 8: the hold grows to 8x10 in the same transaction")
ok(seq(c1["id"])[0] > s_c1[0], "a larger quantity loses the priority stamp",
   (seq(c1["id"]), s_c1))
bal_C = balance(C)
r = amend(t_C, c1["id"], price=20)
o = r.json["order"]
is_((r.status, o["status"], o["filled"], o["remaining"], fills(o)),
    (200, "filled", 8, 0, [(ask["id"], 20, 8)]),
    "amend the price up to the ask: it matches like a new order, at the maker's price")
is_((orow(c1["id"])[:3], balance(C), pos(M2, C)), (("filled", 0, 0), (bal_C[0] - 160, bal_C[1] - 80), (8, 0)),
    "its old hold is released, 160 paid, 8 shares received")
is_((orow(ask["id"])[:2], pos(M2, O)), (("open", 2), (90, 2)), "the ask has 2 left, held")
refused_clean("amend a filled order", lambda k: amend(t_C, c1["id"], key=k, quantity=9), 409,
              "order_not_open", C)

r = amend(t_O, ask["id"], quantity=9)
is_((r.status, orow(ask["id"])[:2], pos(M2, O)), (200, ("open", 1), (90, 1)),
    "amend a partly filled sell down (total 10 -> 9): 1 left, the held shares follow")
refused_clean("amend a sell beyond the position", lambda k: amend(t_O, ask["id"], key=k, quantity=200),
              422, "insufficient_position", O, stored=True)
g5 = placed(t_G, M2, side="buy", price=10, quantity=5)
refused_clean("amend a buy beyond the cash", lambda k: amend(t_G, g5["id"], key=k, quantity=20), 422,
              "insufficient_funds", G, stored=True)
is_((orow(g5["id"])[:3], balance(G)), (("open", 5, 50), (100, 50)), "the refused amendment changed nothing")
po = placed(t_B, M2, side="buy", price=5, quantity=2, post_only=True)
refused_clean("amend a post-only bid across the ask", lambda k: amend(t_B, po["id"], key=k, price=20),
              409, "would_take", B)
is_(orow(po["id"])[:3], ("open", 2, 10), "the post-only bid rests unchanged")
s_a1 = seq(a1["id"])
r = amend(t_A, a1["id"], price=11)
is_((r.status, orow(a1["id"])[:3], r.json["order"]["filled"]), (200, ("open", 1, 11), 2),
    "a new price that does not cross: rests with hold 1x11 (the 2 filled before still count)")
ok(seq(a1["id"])[0] > s_a1[0], "a new price loses the priority stamp")
is_problem(amend(t_C, g1["id"], quantity=1), 409, "order_expired", "amend an expired order: 409 order_expired")
healthy("after amendments")

# ---- 8. the new checks see what they guard (sealer frozen) ------------------------

seal_freeze()
# a fok order left partly filled
fk = placed(t_A, M, side="buy", price=12, quantity=2, time_in_force="fok")
query("UPDATE orders SET remaining = 1, status = 'cancelled' WHERE id = %s", (fk["id"],))
r = get("/proof", token=ADMIN)
bad = {c["name"] for c in (r.json or {}).get("checks", []) if not c.get("ok")}
ok(r.status == 409 and "fok_all_or_nothing" in bad, "tamper: a partly filled fok order fails fok_all_or_nothing",
   f"{r.status} {sorted(bad)}")
query("UPDATE orders SET remaining = 0, status = 'filled' WHERE id = %s", (fk["id"],))
# an expired order still holding cash (expired while the sealer is frozen: unsealed)
g3 = placed(t_C, M, side="buy", price=4, quantity=5, time_in_force="gtd",
            expires_at=iso(db_now() + datetime.timedelta(hours=1)))
query("UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = %s", (g3["id"],))
is_problem(cancel(t_C, g3["id"]), 409, "order_expired", "a third gtd order expires")
query("UPDATE orders SET hold_amount = 20 WHERE id = %s", (g3["id"],))
query("UPDATE accounts SET held = held + 20 WHERE id = %s", (C,))
r = get("/proof", token=ADMIN)
bad = {c["name"] for c in (r.json or {}).get("checks", []) if not c.get("ok")}
ok(r.status == 409 and "expired_orders_release" in bad,
   "tamper: an expired order holding cash fails expired_orders_release", f"{r.status} {sorted(bad)}")
query("UPDATE orders SET hold_amount = 0 WHERE id = %s", (g3["id"],))
query("UPDATE accounts SET held = held - 20 WHERE id = %s", (C,))
healthy("after the tampers are repaired")
seal_thaw()

# ---- 9. the fok-storm stampede (small N) and its verifier's negative controls ------------

import zerosum_py.stampede as stampede_pkg  # noqa: E402

rec_path = os.path.join(tempfile.mkdtemp(prefix="fok-storm-"), "fok.json")
p = subprocess.run([os.path.join(REPO, "scripts", "stampede"), "fok-storm", "--n", "40", "--seed", "7",
                    "--record", rec_path], env=dict(os.environ, ZS_VAR=ZS_VAR), capture_output=True,
                   text=True, timeout=300)
lines = p.stdout.strip().splitlines()
summary = json.loads(lines[-1]) if lines else {}
ok(p.returncode == 0 and summary.get("ok") is True and summary.get("errors") == 0
   and summary.get("accepted", 0) + summary.get("killed", 0) == 40,
   "fok-storm n=40: exit 0, ok, every order filled completely or killed",
   f"exit {p.returncode}\n{json.dumps(summary)[:1500]}\n{p.stderr[-1500:]}")
ok(summary.get("accepted", 0) > 0 and summary.get("killed", 0) > 0,
   "fok-storm: the thin book both filled and killed orders", summary)
diag(f"fok-storm n=40: {summary.get('accepted')} filled, {summary.get('killed')} killed,"
     f" {summary.get('units_filled')}/{summary.get('units_resting')} units, {summary.get('duration_ms')} ms")
with open(rec_path) as f:
    rec = json.load(f)["record"]
_, c = stampede_pkg.VERIFY["fok-storm"](rec)
ok(c.ok, "the recorded fok-storm re-verifies", c.failures[:3])
win = next(a for a in rec["answers"] if a["status"] == 201)
bad = copy.deepcopy(rec)
w = next(a for a in bad["answers"] if a["json"] == win["json"])
w["json"]["order"]["fills"] = w["json"]["order"]["fills"][:-1] if len(win["json"]["order"]["fills"]) > 1 \
    else [dict(w["json"]["order"]["fills"][0], quantity=w["json"]["order"]["fills"][0]["quantity"] - 1)]
_, c = stampede_pkg.VERIFY["fok-storm"](bad)
ok(not c.results.get("fills_complete", True), "doctored: a partly filled fok answer fails fills_complete",
   c.results)
bad = copy.deepcopy(rec)
k = next((a for a in bad["answers"] if a["status"] == 409), None)
if k is not None:
    bad["buyers"][k["buyer"]]["balance"] -= 1
    _, c = stampede_pkg.VERIFY["fok-storm"](bad)
    ok(not c.results.get("killed_wrote_nothing", True),
       "doctored: money moved for a killed order fails killed_wrote_nothing", c.results)

done()
