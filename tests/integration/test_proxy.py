"""Proxy bids, increment tables and buy-now on English lots (POST /bid,
POST /lots), against the live stack.

Every rule is checked through the answer (status, problem `code`, members)
and the database before and after (bid rows with their hidden maxima and
`proxy` marks, holds, held, balances, the lot row), and /proof must stay
consistent after each step. The hidden maximum must never appear in a
public answer. Input that does not validate writes nothing at all, not
even its idempotency key. The proof cases tamper with a frozen sealer and
expect exactly the proxy checks to fail. Deadline lots are created
together and waited for once.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import hashlib
import time


def fingerprint():
    """ledger_fingerprint() plus the auction tables: any write changes it."""
    return ledger_fingerprint() + query(
        """SELECT (SELECT count(*) FROM lots), (SELECT count(*) FROM bids),
                  (SELECT count(*) FROM holds), (SELECT coalesce(sum(amount), 0) FROM holds),
                  (SELECT coalesce(sum(coalesce(high_amount, 0) + coalesce(high_max, 0)), 0) FROM lots)""")[0]


def no_write(name, fn):
    """fn(key) must write nothing, not even its idempotency key."""
    key = new_key()
    fp = fingerprint()
    r = fn(key)
    keys = query("SELECT count(*) FROM idempotency_keys WHERE key = %s", (key,))[0][0]
    ok(fp == fingerprint() and keys == 0, f"{name}: nothing written (not even the key)",
       f"before {fp}\nafter {fingerprint()}\nkey rows {keys}")
    return r


def numbers(v):
    """Every integer in a JSON value (what an answer could leak a maximum as)."""
    if isinstance(v, dict):
        return [n for x in v.values() for n in numbers(x)]
    if isinstance(v, list):
        return [n for x in v for n in numbers(x)]
    return [v] if isinstance(v, int) and not isinstance(v, bool) else []


def bids_of(lot):
    """(bidder, amount, max_amount, proxy, seq, status) in seq order."""
    return [tuple(r) for r in query(
        "SELECT bidder::text, amount, max_amount, coalesce(proxy, false), seq, status FROM bids"
        " WHERE lot_id = %s ORDER BY seq", (lot,))]


def holds_of(lot):
    return [tuple(r) for r in query(
        "SELECT account_id::text, amount, state FROM holds WHERE lot_id = %s ORDER BY created_at, state",
        (lot,))]


def lot_row(lot):
    return query("SELECT status, high_amount, high_bidder::text, high_max, seq, winner::text,"
                 " clearing_price FROM lots WHERE id = %s", (lot,))[0]


def held(aid):
    return balance(aid)[1]


def proof_ok(label):
    r = get("/proof", token=admin_token())
    bad = [c["name"] for c in (r.json or {}).get("checks", []) if not c.get("ok")]
    ok(r.status == 200 and not bad, f"{label}: /proof consistent", f"{r.status} failing {bad}")


def english(**kw):
    spec = dict(kind="english", seller=seller, start=100, ends_in=3600)
    if "increments" not in kw:
        spec["increment"] = 10
    spec.update(kw)
    return create_lot(**spec)


def bid(tok, lot, key="auto", **fields):
    return place_bid(tok, lot, key=key, **fields)


seller, t_seller = create_account("px-seller")
a, t_a = create_account("px-a", 100_000)
b, t_b = create_account("px-b", 100_000)
c, t_c = create_account("px-c", 100_000)
poor, t_poor = create_account("px-poor", 150)

# ---- validation: nothing written ---------------------------------------------

L = english()
drop = create_lot(kind="drop", seller=seller, price=100, quantity=5)
dutch = create_lot(kind="dutch", seller=seller, start=1000, floor=500, step=100, interval=60)
for label, fields, status, code in [
    ("max_amount with amount", dict(amount=100, max_amount=500), 422, "conflicting_fields"),
    ("buy_now with amount", dict(amount=100, buy_now=True), 422, "conflicting_fields"),
    ("buy_now with max_amount", dict(max_amount=500, buy_now=True), 422, "conflicting_fields"),
    ("buy_now false", dict(buy_now=False), 422, "invalid_field"),
    ("buy_now a number", dict(buy_now=1), 422, "invalid_field"),
    ("max_amount 0", dict(max_amount=0), 422, "invalid_field"),
    ("max_amount a string", dict(max_amount="500"), 422, "invalid_field"),
    ("buy_now on a lot without one", dict(buy_now=True), 422, "field_not_applicable"),
    ("nothing to bid", dict(), 422, "missing_field"),
]:
    r = no_write(label, lambda k, f=fields: bid(t_a, L["id"], key=k, **f))
    is_problem(r, status, code, f"{label} -> {status} {code}")
for label, lot, fields in [("max_amount on a drop", drop, dict(max_amount=100)),
                           ("buy_now on a drop", drop, dict(buy_now=True)),
                           ("max_amount on a Dutch lot", dutch, dict(max_amount=1000))]:
    r = no_write(label, lambda k, l=lot, f=fields: bid(t_a, l["id"], key=k, **f))
    is_problem(r, 422, "field_not_applicable", f"{label} -> 422 field_not_applicable")

base = dict(kind="english", seller=seller, start=100, ends_in=60)
for label, spec, code in [
    ("increment and increments", dict(base, increment=10, increments=[{"from": 0, "step": 10}]),
     "conflicting_fields"),
    ("neither increment nor increments", dict(base), "missing_field"),
    ("empty increments", dict(base, increments=[]), "invalid_increments"),
    ("increments not a list", dict(base, increments={"from": 0, "step": 1}), "invalid_increments"),
    ("first from not 0", dict(base, increments=[{"from": 5, "step": 10}]), "invalid_increments"),
    ("from not ascending", dict(base, increments=[{"from": 0, "step": 10}, {"from": 0, "step": 20}]),
     "invalid_increments"),
    ("a step of 0", dict(base, increments=[{"from": 0, "step": 0}]), "invalid_increments"),
    ("a decreasing step", dict(base, increments=[{"from": 0, "step": 50}, {"from": 100, "step": 10}]),
     "invalid_increments"),
    ("a row with another member", dict(base, increments=[{"from": 0, "step": 1, "x": 1}]),
     "invalid_increments"),
    ("17 rows", dict(base, increments=[{"from": i * 10, "step": 1 + i} for i in range(17)]),
     "invalid_increments"),
    ("buy_now below start", dict(base, increment=10, buy_now=99), "invalid_field"),
    ("buy_now below reserve", dict(base, increment=10, reserve=500, buy_now=400), "invalid_field"),
    ("buy_now 0", dict(base, increment=10, buy_now=0), "invalid_field"),
    ("increments on a Dutch lot", dict(kind="dutch", seller=seller, start=1000, floor=500, step=100,
                                       interval=60, increments=[{"from": 0, "step": 10}]),
     "field_not_applicable"),
    ("buy_now on a drop", dict(kind="drop", seller=seller, price=100, quantity=5, buy_now=100),
     "field_not_applicable"),
]:
    r = no_write(label, lambda k, s=spec: post("/lots", s, token=admin_token(), key=k))
    is_problem(r, 422, code, f"POST /lots {label} -> 422 {code}")

# ---- a proxy bid leads at the start price, its maximum hidden and held --------

lot = L["id"]
r = bid(t_a, lot, max_amount=500)
is_(r.status, 201, "A's proxy 500 -> 201")
is_((r.json["bid"]["amount"], r.json["lot"]["high_amount"], r.json["lot"]["high_bidder"]),
    (100, 100, a), "A leads at the start price 100")
is_(r.json["lot"]["min_next_bid"], 110, "the next minimum is 110")
ok(500 not in numbers(r.json) and "max_amount" not in r.body and "high_max" not in r.body,
   "the maximum is not in the answer", r.body)
is_(lot_row(lot)[:4], ("live", 100, a, 500), "lot: high 100, hidden maximum 500")
is_(held(a), 500, "A holds the whole maximum")
is_(holds_of(lot), [(a, 500, "active")], "one active hold of 500")
is_(bids_of(lot), [(a, 100, 500, False, 1, "leading")], "the bid row records the maximum")
proof_ok("after a proxy bid")

# ---- a plain bid the maximum beats: recorded, counter-bid, 409 ----------------

before_b = balance(b)
r = bid(t_b, lot, amount=200)
is_problem(r, 409, "outbid_by_proxy", "B's plain 200 -> 409 outbid_by_proxy")
is_((r.json.get("high_amount"), r.json.get("minimum")), (210, 220), "high 210, next minimum 220")
is_(bids_of(lot), [(a, 100, 500, False, 1, "outbid"), (b, 200, None, False, 2, "outbid"),
                   (a, 210, None, True, 3, "leading")],
    "B's bid is recorded outbid, A's counter-bid 210 is marked proxy")
is_(lot_row(lot)[:5], ("live", 210, a, 500, 3), "lot: A leads at 210, seq 3")
is_((held(a), balance(b)), (500, before_b), "A still holds 500; B holds nothing, pays nothing")
g = get(f"/lots/{lot}")
rb = g.json["lot"]["recent_bids"]
is_([(x["amount"], x["proxy"]) for x in rb], [(210, True), (200, False), (100, False)],
    "recent_bids mark the counter-bid proxy")
ok(500 not in numbers(g.json) and "max_amount" not in g.body, "GET /lots/{id} never shows the maximum",
   g.body)
r = bid(t_b, lot, amount=215)
is_problem(r, 409, "bid_too_low", "B's 215 -> 409 bid_too_low")
is_(r.json.get("minimum"), 220, "minimum 220")
proof_ok("after a counter-bid")

# a tie goes to the earlier maximum, at that maximum
k_tie = new_key()
r = bid(t_b, lot, key=k_tie, max_amount=500)
is_problem(r, 409, "outbid_by_proxy", "B's proxy 500 ties -> 409 outbid_by_proxy")
is_((r.json.get("high_amount"), r.json.get("minimum")), (500, 510), "high 500 (capped), minimum 510")
r2 = bid(t_b, lot, key=k_tie, max_amount=500)
ok(r2.status == 409 and r2.headers.get("idempotent-replayed") == "true" and r2.json == r.json,
   "the 409 is stored: a retry replays it", r2.body)
is_(lot_row(lot)[:5], ("live", 500, a, 500, 5), "lot: A at 500, seq 5")
is_(bids_of(lot)[3:], [(b, 500, 500, False, 4, "outbid"), (a, 500, None, True, 5, "leading")],
    "the tie: B's 500 then A's counter-bid at 500")
proof_ok("after a tie")

# the leader raises their own maximum
r = bid(t_a, lot, max_amount=450)
is_problem(r, 409, "max_not_raised", "A's lower maximum -> 409 max_not_raised")
is_(r.json.get("minimum"), 501, "must exceed 500")
r = bid(t_a, lot, max_amount=900)
is_(r.status, 201, "A raises the maximum to 900 -> 201")
is_((r.json["lot"]["high_amount"], r.json["bid"]["seq"]), (510, 6),
    "the capped high moves to B's 500 + 10 (a new row)")
is_(lot_row(lot)[:5], ("live", 510, a, 900, 6), "lot: 510, maximum 900")
is_((held(a), holds_of(lot)), (900, [(a, 900, "active")]), "A's hold grows to 900")
proof_ok("after a raised maximum")
r = bid(t_a, lot, max_amount=950)
is_((r.status, r.json["lot"]["high_amount"], r.json["bid"]["seq"]), (201, 510, 6),
    "raising again leaves the high (no new row)")
is_((lot_row(lot)[3], bids_of(lot)[-1][2], held(a)), (950, 950, 950), "the leading row and hold say 950")

# a proxy that beats it leads at the rule's price; the old leader's hold comes down first
r = bid(t_c, lot, max_amount=2000)
is_(r.status, 201, "C's proxy 2000 -> 201")
is_(r.json["lot"]["high_amount"], 960, "C leads at 950 + 10")
is_((held(a), held(c)), (0, 2000), "A released, C holds 2000")
is_(holds_of(lot), [(a, 510, "released"), (c, 2000, "active")],
    "A's released hold shows the price it backed (510), not the maximum")
# a plain bid above it leads at its amount
r = bid(t_a, lot, amount=2500)
is_((r.status, r.json["lot"]["high_amount"], r.json["lot"]["high_bidder"]), (201, 2500, a),
    "A's plain 2500 beats C's 2000: leads at 2500")
is_(lot_row(lot)[3], None, "no hidden maximum")
is_((held(a), held(c)), (2500, 0), "A holds 2500, C released")
is_(holds_of(lot)[1], (c, 960, "released"), "C's hold came down to 960 before release")
proof_ok("after a plain bid beat a proxy")

# funds: a proxy maximum must be payable, and so must a bid the maximum beats
L2 = english()["id"]
r = bid(t_poor, L2, max_amount=1000)
is_problem(r, 422, "insufficient_funds", "poor's proxy 1000 -> 422 insufficient_funds")
is_((bids_of(L2), held(poor)), ([], 0), "nothing bid, nothing held")
bid(t_a, L2, max_amount=5000)
r = bid(t_poor, L2, amount=200)
is_problem(r, 422, "insufficient_funds", "poor's 200 the maximum would beat -> 422 insufficient_funds")
is_(bids_of(L2), [(a, 100, 5000, False, 1, "leading")], "no counter-bid for a bid that could not pay")
r = bid(t_poor, L2, amount=150)
is_problem(r, 409, "outbid_by_proxy", "poor's 150 (payable) -> 409 outbid_by_proxy")
is_(lot_row(L2)[1], 160, "the counter-bid 160")

# ---- increment tables -----------------------------------------------------------

T = english(start=990, increments=[{"from": 0, "step": 10}, {"from": 1000, "step": 50}])
is_((T["increment"], T["increments"], T["min_next_bid"]),
    (None, [{"from": 0, "step": 10}, {"from": 1000, "step": 50}], 990), "the lot shows its table")
bid(t_a, T["id"], amount=990)
r = bid(t_b, T["id"], amount=999)
is_problem(r, 409, "bid_too_low", "999 below 990 + 10")
r = bid(t_b, T["id"], amount=1000)
is_((r.status, r.json["lot"]["min_next_bid"]), (201, 1050), "at 1000 the step is 50")
r = bid(t_c, T["id"], amount=1049)
is_problem(r, 409, "bid_too_low", "1049 -> bid_too_low")
is_(r.json.get("minimum"), 1050, "minimum 1050")
r = bid(t_c, T["id"], max_amount=3000)
is_((r.status, r.json["lot"]["high_amount"]), (201, 1050), "a proxy over 1000 leads at 1000 + 50")
r = bid(t_a, T["id"], amount=1100)
is_problem(r, 409, "outbid_by_proxy", "1100 < 3000")
is_(r.json.get("high_amount"), 1150, "counter-bid 1100 + 50")
proof_ok("increment tables")

# ---- buy-now ---------------------------------------------------------------------

s0 = balance(seller)[0]
B1 = english(buy_now=800)
is_(B1["buy_now"], 800, "the lot shows its buy-now price")
a0 = balance(a)
k_buy = new_key()
r = bid(t_a, B1["id"], key=k_buy, buy_now=True)
is_(r.status, 201, "buy_now: true -> 201")
is_((r.json["bid"]["status"], r.json["bid"]["amount"], r.json["lot"]["status"],
     r.json["lot"]["winner"], r.json["lot"]["clearing_price"]), ("won", 800, "settled", a, 800),
    "won and settled at once at 800")
is_(balance(a), (a0[0] - 800, a0[1]), "A paid 800, holds nothing more")
is_(balance(seller)[0], s0 + 800, "the seller got 800")
is_(holds_of(B1["id"]), [(a, 800, "captured")], "the hold is captured")
is_(query("SELECT count(*), sum(amount) FROM transfers WHERE kind = 'capture' AND memo = %s",
          (f"lot {B1['id']}",))[0], (1, 800), "one capture transfer of 800")
r2 = bid(t_a, B1["id"], key=k_buy, buy_now=True)
ok(r2.status == 201 and r2.headers.get("idempotent-replayed") == "true", "a retry replays it")
is_(balance(a)[0], a0[0] - 800, "and does not pay twice")
r = bid(t_b, B1["id"], buy_now=True)
is_problem(r, 409, "lot_ended", "buy-now on a sold lot -> 409 lot_ended")

B2 = english(buy_now=800)
r = bid(t_b, B2["id"], amount=900)
is_((r.status, r.json["lot"]["status"], r.json["lot"]["clearing_price"]), (201, "settled", 800),
    "a plain 900 at or above buy-now buys at 800")
B3 = english(buy_now=800)
r = bid(t_b, B3["id"], max_amount=900)
is_((r.status, r.json["lot"]["status"], r.json["lot"]["high_amount"]), (201, "live", 100),
    "a maximum above buy-now is a proxy bid, not a purchase")
B4 = english(buy_now=800)
bid(t_a, B4["id"], amount=200)
k_gone = new_key()
r = bid(t_b, B4["id"], key=k_gone, buy_now=True)
is_problem(r, 409, "buy_now_unavailable", "after the first bid -> 409 buy_now_unavailable")
is_(bids_of(B4["id"]), [(a, 200, None, False, 1, "leading")], "nothing but the stored answer")
r = bid(t_b, B4["id"], amount=900)
is_((r.status, r.json["lot"]["status"], r.json["lot"]["high_amount"]), (201, "live", 900),
    "then 900 is only a bid")
proof_ok("buy-now")

# ---- anti-snipe and settlement with proxies (deadline lots together) ------------

S = english(ends_in=3, snipe_window=3600, snipe_extend=120)
E1 = english(ends_in=3)
E2 = english(ends_in=3, reserve=1000)
bid(t_a, S["id"], max_amount=500)
end0 = get(f"/lots/{S['id']}").json["lot"]["ends_at"]
r = bid(t_b, S["id"], amount=200)
is_problem(r, 409, "outbid_by_proxy", "snipe lot: outbid_by_proxy")
ok(parse_ts(get(f"/lots/{S['id']}").json["lot"]["ends_at"]) > parse_ts(end0),
   "a bid the maximum beats still extends the end (anti-snipe)")
bid(t_a, E1["id"], max_amount=500)
bid(t_b, E1["id"], amount=150)
bid(t_a, E2["id"], max_amount=5000)
a1, s1 = balance(a), balance(seller)[0]
time.sleep(3.5)
g = get(f"/lots/{E1['id']}")
is_((g.json["lot"]["status"], g.json["lot"]["winner"], g.json["lot"]["clearing_price"]),
    ("settled", a, 160),
    "the proxy leader wins at the counter-bid 160")
is_(holds_of(E1["id"]), [(a, 160, "captured")], "the captured hold is the price, not the maximum")
g = get(f"/lots/{E2['id']}")
is_(g.json["lot"]["status"], "unsold", "the reserve is judged on the visible high: unsold")
is_(holds_of(E2["id"]), [(a, 100, "released")], "its released hold shows the price 100")
is_(balance(a), (a1[0] - 160, a1[1] - 500 - 5000), "A paid 160; 500 and 5000 released")
is_(balance(seller)[0], s1 + 160, "the seller got 160")
proof_ok("after settlement")

# ---- proof: the proxy rule from the recorded maxima (sealer frozen) -------------

P = english()["id"]
bid(t_a, P, max_amount=500)
bid(t_b, P, amount=200)  # 409, counter-bid 210
b_row = query("SELECT id::text FROM bids WHERE lot_id = %s AND bidder = %s", (P, b))[0][0]
a_hold = query("SELECT id::text FROM holds WHERE lot_id = %s AND state = 'active'", (P,))[0][0]


def su(stmts):
    conn = db("postgres")
    try:
        conn.autocommit = False
        with conn.cursor() as cur:
            for sql, params in stmts:
                cur.execute(sql, params)
        conn.commit()
        return None
    except Exception as e:  # noqa: BLE001
        conn.rollback()
        return str(e)
    finally:
        conn.close()


def failing():
    r = get("/proof", token=admin_token())
    return r, {c["name"]: c for c in r.json["checks"] if not c["ok"]}


def case(label, expected, tamper, repair, lot=P):
    err = su(tamper)
    ok(err is None, f"{label}: tamper committed", err)
    try:
        r, bad = failing()
        is_((r.status, set(bad)), (409, set(expected)), f"{label}: exactly {sorted(expected)} fail")
        for name in expected:
            ok(lot in (bad.get(name, {}).get("sample") or ""), f"{label}: {name} names the lot",
               bad.get(name))
    finally:
        ok(su(repair) is None, f"{label}: repaired")
    proof_ok(f"{label} repaired")


seal_freeze()
try:
    mx = "UPDATE bids SET max_amount = %s WHERE id = %s"
    case("second maximum 250 (the price should be 260)", {"english_proxy_price"},
         [(mx, (250, b_row))], [(mx, (None, b_row))])
    case("B's maximum 600 (B should lead)", {"english_proxy_price"},
         [(mx, (600, b_row))], [(mx, (None, b_row))])
    hm = "UPDATE lots SET high_max = %s WHERE id = %s"
    case("the lot's hidden maximum is not the recorded one",
         {"english_proxy_price", "english_live_holds"},
         [(hm, (499, P))], [(hm, (500, P))])
    ha = "UPDATE holds SET amount = amount + %s WHERE id = %s"
    hd = "UPDATE accounts SET held = held + %s WHERE id = %s"
    case("the leader's hold is not their maximum", {"english_live_holds"},
         [(ha, (-290, a_hold)), (hd, (-290, a))], [(ha, (290, a_hold)), (hd, (290, a))])
    # a tie is allowed only for the counter-bid: unmark the one on the tied lot
    pr = "UPDATE bids SET proxy = %s WHERE lot_id = %s AND seq = 5"
    case("an equal amount that is not a counter-bid", {"english_bids_increase"},
         [(pr, (None, lot))], [(pr, (True, lot))], lot=lot)
finally:
    seal_thaw()

# ---- the Merkle log: a sealed proxy bid commits to its maximum only privately ----

seal_now()
row = query("SELECT id::text, idem_key FROM bids WHERE lot_id = %s AND max_amount = 5000", (E2["id"],))[0]
r = get(f"/proof/inclusion?bid={row[0]}")
is_(r.status, 200, "the unsold lot's proxy bid is sealed")
text = (r.json or {}).get("record", "")
want = hashlib.sha256(("zerosum/v1 private\n\n" + row[1] + "\n5000").encode()).hexdigest()
ok("\namount 100\n" in text and not any(x.endswith(" 5000") for x in text.split("\n")),
   "its record shows the price 100, never 5000", text)
ok(f"\nprivate {want}\n" in text, "its private line is P(\"\", key, max_amount)", text)
done()
