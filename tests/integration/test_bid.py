"""POST /bid and the lot lifecycle against the live stack: English bids with
holds, increments, anti-snipe and settlement (by the periodic sweep and on
read), Dutch claims at the database clock's price, fixed-price drops, and
idempotency of claims.

Every rule is checked through the API answer (status and problem `code`)
and through the database (balances, held, holds, bids, transfers). Input
that does not fit the lot's kind must write nothing at all, not even the
idempotency key (ledger_fingerprint()). The deadline tests create their lots
together and then wait once, so the file runs in about ten seconds.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import datetime
import threading
import uuid


def acct_state(aid):
    """(balance, held) from the database."""
    return balance(aid)


def holds_of(lot):
    return query("SELECT account_id::text, amount, state, bid_id::text FROM holds WHERE lot_id = %s"
                 " ORDER BY created_at, amount", (lot,))


def bids_of(lot):
    return query("SELECT bidder::text, amount, seq, status FROM bids WHERE lot_id = %s ORDER BY seq", (lot,))


def lot_row(lot):
    rows = query("SELECT status, winner::text, clearing_price, high_amount, high_bidder::text, qty_claimed,"
                 " seq FROM lots WHERE id = %s", (lot,))
    return rows[0] if rows else None


def lot_transfers(lot):
    return query("SELECT from_account::text, to_account::text, amount, kind FROM transfers WHERE memo = %s"
                 " ORDER BY created_at", (f"lot {lot}",))


def bid(tok, lot, key="auto", **fields):
    return place_bid(tok, lot, key=key, **fields)


def english(seller, start=100, increment=10, ends_in=3600, **kw):
    return create_lot(kind="english", seller=seller, start=start, increment=increment, ends_in=ends_in, **kw)


def no_write(name, fn):
    """fn() must be answered 422 and write nothing, not even its idempotency key."""
    key = new_key()
    fp = ledger_fingerprint()
    r = fn(key)
    keys = query("SELECT count(*) FROM idempotency_keys WHERE key = %s", (key,))[0][0]
    ok(fp == ledger_fingerprint() and keys == 0, f"{name}: nothing written (not even the key)",
       f"before {fp}\nafter {ledger_fingerprint()}\nkey rows {keys}")
    return r


seller, t_seller = create_account("bid-seller")
admin = admin_token()

# ---- input that does not fit the lot writes nothing ------------------------

eng = english(seller)
dutch_lot = create_lot(kind="dutch", seller=seller, start=1000, floor=500, step=100, interval=60)
drop_lot = create_lot(kind="drop", seller=seller, price=100, quantity=5)
x, t_x = create_account("bid-x", 10_000)

r = no_write("amount on a drop", lambda k: bid(t_x, drop_lot["id"], key=k, amount=100))
is_problem(r, 422, "field_not_applicable", "drop: amount -> 422 field_not_applicable")
r = no_write("max_price on a drop", lambda k: bid(t_x, drop_lot["id"], key=k, max_price=100))
is_problem(r, 422, "field_not_applicable", "drop: max_price -> 422 field_not_applicable")
r = no_write("quantity on a Dutch lot", lambda k: bid(t_x, dutch_lot["id"], key=k, quantity=1))
is_problem(r, 422, "field_not_applicable", "dutch: quantity -> 422 field_not_applicable")
r = no_write("amount on a Dutch lot", lambda k: bid(t_x, dutch_lot["id"], key=k, amount=1000))
is_problem(r, 422, "field_not_applicable", "dutch: amount -> 422 field_not_applicable")
r = no_write("max_price on an English lot", lambda k: bid(t_x, eng["id"], key=k, amount=100, max_price=100))
is_problem(r, 422, "field_not_applicable", "english: max_price -> 422 field_not_applicable")
r = no_write("quantity on an English lot", lambda k: bid(t_x, eng["id"], key=k, amount=100, quantity=1))
is_problem(r, 422, "field_not_applicable", "english: quantity -> 422 field_not_applicable")
r = no_write("English bid without amount", lambda k: bid(t_x, eng["id"], key=k))
is_problem(r, 422, "missing_field", "english: no amount -> 422 missing_field")
r = no_write("unknown field", lambda k: bid(t_x, drop_lot["id"], key=k, colour="red"))
is_problem(r, 422, "unknown_field", "unknown field -> 422 unknown_field")
r = no_write("lot is not a UUID", lambda k: bid(t_x, "lot-1", key=k))
is_problem(r, 422, "invalid_lot_id", "lot not a UUID -> 422 invalid_lot_id")
r = no_write("amount 0", lambda k: bid(t_x, eng["id"], key=k, amount=0))
is_problem(r, 422, "invalid_amount", "amount 0 -> 422 invalid_amount")
r = no_write("amount as a string", lambda k: bid(t_x, eng["id"], key=k, amount="100"))
is_problem(r, 422, "invalid_amount", "amount \"100\" -> 422 invalid_amount")
r = no_write("admin token", lambda k: bid(admin, drop_lot["id"], key=k))
is_problem(r, 403, "user_token_required", "an admin token cannot bid -> 403 user_token_required")
fp = ledger_fingerprint()
r = bid(t_x, drop_lot["id"], key=None)
is_problem(r, 400, "missing_idempotency_key", "no Idempotency-Key -> 400")
is_(ledger_fingerprint(), fp, "no Idempotency-Key: nothing written")
is_(lot_row(drop_lot["id"])[5], 0, "after all the refused input the drop has nothing claimed")

r = bid(t_x, str(uuid.uuid4()))
is_problem(r, 404, "lot_not_found", "unknown lot -> 404 lot_not_found")
r = bid(t_seller, drop_lot["id"])
is_problem(r, 403, "own_lot", "drop: the seller cannot buy their own lot -> 403 own_lot")
r = bid(token(ISSUER), drop_lot["id"])
is_problem(r, 403, "issuer_cannot_bid", "the issuer cannot buy -> 403 issuer_cannot_bid")

# ---- English: minimums, the seller, funds ---------------------------------

a, t_a = create_account("bid-a", 10_000)
b, t_b = create_account("bid-b", 10_000)
c, t_c = create_account("bid-c", 1_000)
lot = english(seller, start=500, increment=50)
L = lot["id"]
is_((lot["min_next_bid"], lot["high_amount"], lot["status"]), (500, None, "live"),
    "english: a new lot is live with min_next_bid = start")

r = bid(t_a, L, amount=499)
is_problem(r, 409, "bid_too_low", "english: first bid below start -> 409 bid_too_low")
is_((r.json or {}).get("minimum"), 500, "english: bid_too_low carries minimum = start")
is_(acct_state(a), (10_000, 0), "english: a refused bid holds nothing")

r = bid(t_seller, L, amount=500)
is_problem(r, 403, "own_lot", "english: the seller cannot bid -> 403 own_lot")

r = bid(t_a, L, amount=500)
ok(r.status == 201, "english: first bid at exactly start -> 201", r)
rb = (r.json or {}).get("bid") or {}
is_((rb.get("amount"), rb.get("seq"), rb.get("status"), rb.get("bidder")), (500, 1, "leading", a),
    "english: the answer's bid has amount, seq 1, status leading, the caller as bidder")
is_(((r.json or {}).get("lot") or {}).get("min_next_bid"), 550, "english: the answer's lot shows min_next_bid 550")
is_(acct_state(a), (10_000, 500), "english: the leader holds the bid amount")

r = bid(t_b, L, amount=549)
is_problem(r, 409, "bid_too_low", "english: below high + increment -> 409 bid_too_low")
is_((r.json or {}).get("minimum"), 550, "english: minimum = high + increment")
r = bid(t_b, L, amount=550)
ok(r.status == 201, "english: exactly high + increment -> 201", r)
b_bid = ((r.json or {}).get("bid") or {}).get("id")

# outbid: the previous leader's hold is released in the same transaction
is_((acct_state(a), acct_state(b)), ((10_000, 0), (10_000, 550)),
    "english: outbid releases the previous leader's hold; the new leader holds 550")
rows = query("SELECT h.account_id::text, h.state, h.updated_at = bb.created_at, h.amount FROM holds h,"
             " bids bb WHERE h.lot_id = %s AND bb.id = %s ORDER BY h.created_at", (L, b_bid))
is_(rows, [(a, "released", True, 500), (b, "active", True, 550)],
    "english: A's hold released and B's hold created at the timestamp of B's bid (one transaction)")
is_(bids_of(L), [(a, 500, 1, "outbid"), (b, 550, 2, "leading")], "english: bids are outbid / leading by seq")

# a leader raising their own bid holds only the difference
r = bid(t_b, L, amount=599)
is_problem(r, 409, "bid_too_low", "english: the leader too must beat high + increment")
r = bid(t_b, L, amount=700)
ok(r.status == 201, "english: the leader raises their own bid -> 201", r)
is_(acct_state(b), (10_000, 700), "english: raising to 700 holds 700 in all (the difference 150 added)")
is_([(h[0], h[1], h[2]) for h in holds_of(L) if h[2] == "active"], [(b, 700, "active")],
    "english: still one active hold for the leader, of the new amount")
is_(bids_of(L)[-2:], [(b, 550, 2, "outbid"), (b, 700, 3, "leading")],
    "english: the leader's previous bid is outbid, the new one leading")

# insufficient funds: held funds count
lot2 = english(seller, start=800, increment=10)
r = bid(t_c, lot2["id"], amount=800)
ok(r.status == 201, "funds: C leads another lot at 800 (holds 800 of 1000)", r)
r = bid(t_c, L, amount=750)
is_problem(r, 422, "insufficient_funds", "funds: C has only 200 available -> 422 insufficient_funds")
is_((r.json or {}).get("available"), 200, "funds: the problem says available 200")
is_(acct_state(c), (1_000, 800), "funds: C's balance and hold unchanged by the refusal")
is_(lot_row(L)[3:5], (700, b), "funds: the lot's high is unchanged by the refusal")

# a retried bid (same key) is applied once
k = new_key()
r1 = bid(t_a, L, key=k, amount=800)
r2 = bid(t_a, L, key=k, amount=800)
ok(r1.status == 201 and r2.status == 201 and r1.json == r2.json
   and r2.headers.get("idempotent-replayed") == "true", "english: a retried bid replays the first answer",
   f"{r1}\n{r2}")
is_((acct_state(a), acct_state(b)), ((10_000, 800), (10_000, 0)),
    "english: after the retry A holds 800 once and B's hold is released")
r = bid(t_a, L, key=k, amount=900)
is_problem(r, 422, "idempotency_key_reused", "english: same key, different amount -> 422")

# ---- Drop ---------------------------------------------------------------------

d1, t_d1 = create_account("drop-1", 1_000)
d2, t_d2 = create_account("drop-2", 1_000)
seller2, _ = create_account("drop-seller")
drop = create_lot(kind="drop", seller=seller2, price=100, quantity=5, max_per_claim=2)
D = drop["id"]
r = bid(t_d1, D)
rb = (r.json or {}).get("bid") or {}
ok(r.status == 201 and rb.get("quantity") == 1 and rb.get("amount") == 100 and rb.get("status") == "claimed",
   "drop: a claim without quantity takes 1 unit for 100", r)
tr = query("SELECT from_account::text, to_account::text, amount, kind FROM transfers WHERE id = %s",
           (rb.get("transfer_id"),))
is_(tr, [(d1, seller2, 100, "purchase")], "drop: the answer names the purchase transfer buyer -> seller")
r = bid(t_d1, D, quantity=3)
is_problem(r, 422, "quantity_over_limit", "drop: 3 units over max_per_claim 2 -> 422 quantity_over_limit")
is_((r.json or {}).get("max_per_claim"), 2, "drop: the problem carries max_per_claim")
r = bid(t_d1, D, quantity=2)
ok(r.status == 201 and ((r.json or {}).get("bid") or {}).get("amount") == 200, "drop: 2 units cost 200", r)
r = bid(t_d2, D)
ok(r.status == 201 and ((r.json or {}).get("lot") or {}).get("units_left") == 1, "drop: 4 claimed, 1 left", r)
r = bid(t_d2, D, quantity=2)
is_problem(r, 409, "sold_out", "drop: 2 units with 1 left -> 409 sold_out")
is_((r.json or {}).get("units_left"), 1, "drop: the problem says units_left 1")
is_(lot_row(D)[0], "live", "drop: still live with 1 unit left")
r = bid(t_d2, D)
lj = (r.json or {}).get("lot") or {}
ok(r.status == 201 and lj.get("status") == "sold_out" and lj.get("units_left") == 0 and lj.get("claimed") == 5,
   "drop: the last unit flips the status to sold_out", r)
r = bid(t_d1, D)
is_problem(r, 409, "sold_out", "drop: a claim on a sold-out lot -> 409 sold_out")
is_((r.json or {}).get("units_left"), 0, "drop: ...and says units_left 0, as every sold_out does")
is_((acct_state(d1), acct_state(d2), acct_state(seller2)), ((700, 0), (800, 0), (500, 0)),
    "drop: buyers paid 300 and 200, the seller got 500")
is_(lot_row(D)[5:], (5, 4), "drop: qty_claimed 5 from 4 claims (seq 4)")

# ---- Idempotency: the same claim fired 20 times at once buys once ----------

i1, t_i1 = create_account("idem-buyer", 1_000)
seller3, _ = create_account("idem-seller")
idrop = create_lot(kind="drop", seller=seller3, price=100, quantity=10)
key = new_key()
barrier = threading.Barrier(20)


def fire_same():
    barrier.wait(timeout=30)
    return bid(t_i1, idrop["id"], key=key)


answers = concurrently(fire_same, [()] * 20, max_workers=20)
wins = [x for x in answers if x.status == 201]
ids = {((x.json or {}).get("bid") or {}).get("id") for x in wins}
others = [x for x in answers if x.status != 201 and x.code != "idempotency_key_in_flight"]
ok(wins and len(ids) == 1 and not others,
   f"idempotency: 20 concurrent identical claims answer one bid ({len(wins)} x 201, the rest in flight)",
   f"{[(x.status, x.code) for x in answers]}")
is_((acct_state(i1), acct_state(seller3)), ((900, 0), (100, 0)), "idempotency: money moved once")
is_(lot_row(idrop["id"])[5], 1, "idempotency: one unit claimed")
is_(query("SELECT count(*) FROM bids WHERE lot_id = %s", (idrop["id"],))[0][0], 1, "idempotency: one bid row")
r = bid(t_i1, idrop["id"], key=key)
ok(r.status == 201 and r.headers.get("idempotent-replayed") == "true"
   and ((r.json or {}).get("bid") or {}).get("id") in ids, "idempotency: a later retry replays the same bid", r)
is_(acct_state(i1), (900, 0), "idempotency: still charged once")
# a terminal refusal is stored too: a retry cannot succeed later by accident
poor, t_poor = create_account("idem-poor", 50)
k = new_key()
r = bid(t_poor, idrop["id"], key=k)
is_problem(r, 422, "insufficient_funds", "idempotency: 50 cannot pay 100")
post("/transfer", {"from": ISSUER, "to": poor, "amount": 100}, token=admin)
r = bid(t_poor, idrop["id"], key=k)
ok(r.status == 422 and r.code == "insufficient_funds" and r.headers.get("idempotent-replayed") == "true",
   "idempotency: after funding, the same key still replays the refusal", r)
is_(acct_state(poor), (150, 0), "idempotency: and nothing was bought")

# ---- Timed lots: created together, then one wait -----------------------------

w1, t_w1 = create_account("eng-w1", 5_000)
w2, t_w2 = create_account("eng-w2", 5_000)
r1_, t_r1 = create_account("eng-r", 5_000)
sn, t_sn = create_account("eng-snipe", 5_000)
sw_seller, _ = create_account("sweep-seller")
cr_seller, _ = create_account("read-seller")
rs_seller, _ = create_account("reserve-seller")
nb_seller, _ = create_account("nobid-seller")
sn_seller, _ = create_account("snipe-seller")

# each short lot is bid on right after it is created, so a slow machine cannot miss its end
t0 = time.time()
sweep_lot = english(sw_seller, start=100, increment=10, ends_in=2)["id"]
ok(bid(t_w1, sweep_lot, amount=100).status == 201 and bid(t_w2, sweep_lot, amount=150).status == 201,
   "sweep lot: w1 bids 100, w2 outbids with 150")
read_lot = english(cr_seller, start=100, increment=10, ends_in=2)["id"]
ok(bid(t_w1, read_lot, amount=100).status == 201 and bid(t_w2, read_lot, amount=150).status == 201,
   "read lot: w1 bids 100, w2 outbids with 150")
reserve_lot = english(rs_seller, start=100, increment=10, ends_in=2, reserve=1000)["id"]
ok(bid(t_r1, reserve_lot, amount=500).status == 201, "reserve lot: a bid of 500 under the reserve 1000")
nobid_lot = english(nb_seller, start=100, increment=10, ends_in=2)["id"]
snipe = english(sn_seller, start=100, increment=10, ends_in=3, snipe_window=2, snipe_extend=5)
t_snipe = time.time()
far = english(sn_seller, start=100, increment=10, ends_in=60, snipe_window=2, snipe_extend=5)
dutch = create_lot(kind="dutch", seller=seller, start=1000, floor=500, step=100, interval=1)
t_dutch = time.time()
floor_lot = create_lot(kind="dutch", seller=seller, start=1000, floor=500, step=400, interval=1)
t_floor = time.time()
# the largest step the API takes: 5 whole intervals of it overflow bigint unless capped at the floor
BIG = (2**63 - 1) // 4
huge_step = create_lot(kind="dutch", seller=seller, start=BIG, floor=1000, step=BIG, interval=1)
t_huge = time.time()

r = get(f"/lots/{dutch['id']}")
cp = ((r.json or {}).get("lot") or {}).get("current_price")
ok(r.status == 200 and cp in (1000, 900), "dutch: GET shows current_price from the schedule (1000 at start)", r)

# a bid well before the window does not move the end
r = bid(t_sn, far["id"], amount=100)
is_(((r.json or {}).get("lot") or {}).get("ends_at"), far["ends_at"], "anti-snipe: a bid outside the window keeps ends_at")

# anti-snipe: bid ~1.5 s after creation of a lot ending at 3 s with a 2 s window
time.sleep(max(0.0, 1.5 - (time.time() - t_snipe)))
r = bid(t_sn, snipe["id"], amount=100)
lj = (r.json or {}).get("lot") or {}
ok(r.status == 201, "anti-snipe: a bid 1.5 s before the end is accepted", r)
if lj.get("ends_at"):
    moved = parse_ts(lj["ends_at"]) - parse_ts(snipe["ends_at"])
    left = parse_ts(lj["ends_at"]) - parse_ts(lj["now"])
    ok(left >= datetime.timedelta(seconds=4.9) and moved > datetime.timedelta(seconds=2),
       "anti-snipe: ends_at moved to the bid's database time + 5 s",
       f"ends_at {lj['ends_at']} (was {snipe['ends_at']}), now {lj['now']}")
row = query("SELECT ends_at - now() > interval '3 seconds' FROM lots WHERE id = %s", (snipe["id"],))
is_(row, [(True,)], "anti-snipe: the database agrees the lot now ends > 3 s from now")

# settlement without anyone asking: do not touch the sweep lot, watch the database
time.sleep(max(0.0, 4.0 - (time.time() - t0)))
settled = wait_for(lambda: lot_row(sweep_lot)[0] == "settled", timeout=8)
ok(settled, "sweep: the lot settled with nobody asking (periodic sweep)", lot_row(sweep_lot))
is_(lot_row(sweep_lot)[:3], ("settled", w2, 150), "sweep: status settled, winner w2, clearing price 150")
is_(lot_transfers(sweep_lot), [(w2, sw_seller, 150, "capture")], "sweep: one capture transfer winner -> seller")
is_(acct_state(sw_seller), (150, 0), "sweep: the seller got 150")
is_(holds_of(sweep_lot)[-1][:3], (w2, 150, "captured"), "sweep: the winner's hold is captured")
is_([h[2] for h in holds_of(sweep_lot)], ["released", "captured"], "sweep: the outbid hold stayed released")
is_([b_[3] for b_ in bids_of(sweep_lot)], ["lost", "won"], "sweep: bids lost / won")

# close-on-read (the sweep may have been first; either way a read shows it settled)
r = get(f"/lots/{read_lot}")
lj = (r.json or {}).get("lot") or {}
ok(r.status == 200 and lj.get("status") == "settled" and lj.get("winner") == w2 and lj.get("clearing_price") == 150
   and lj.get("ended") is True and lj.get("min_next_bid") is None,
   "close-on-read: GET right after the end shows settled, winner and clearing price", r)
is_((lot_row(read_lot)[0], acct_state(cr_seller)), ("settled", (150, 0)), "close-on-read: the database agrees")
r = bid(t_w1, read_lot, amount=1000)
is_problem(r, 409, "lot_ended", "ended lot: a bid -> 409 lot_ended")

# winners and losers of the two settled lots: w1 was outbid on both
is_((acct_state(w1)[0], acct_state(w2)), (5_000, (5_000 - 300, 0)),
    "settled: w2 paid 150 twice and holds nothing for them; w1 paid nothing")

# reserve not met, no bids
wait_for(lambda: lot_row(reserve_lot)[0] != "live" and lot_row(nobid_lot)[0] != "live", timeout=8)
is_(lot_row(reserve_lot)[:3], ("unsold", None, None), "reserve not met: unsold, no winner, no price")
is_(acct_state(r1_), (5_000, 0), "reserve not met: the bidder's hold is released, nothing captured")
is_([h[2] for h in holds_of(reserve_lot)], ["released"], "reserve not met: the hold is released")
is_(lot_transfers(reserve_lot), [], "reserve not met: no transfer")
is_(acct_state(rs_seller), (0, 0), "reserve not met: the seller got nothing")
is_([b_[3] for b_ in bids_of(reserve_lot)], ["lost"], "reserve not met: the bid is lost")
is_(lot_row(nobid_lot)[:3], ("unsold", None, None), "no bids: unsold")
is_(lot_transfers(nobid_lot), [], "no bids: no transfer")

# ---- Dutch --------------------------------------------------------------------

dj, t_dj = create_account("dutch-buyer", 5_000)
dk, t_dk = create_account("dutch-late", 5_000)
time.sleep(max(0.0, 2.1 - (time.time() - t_floor)))
r = get(f"/lots/{floor_lot['id']}")
is_(((r.json or {}).get("lot") or {}).get("current_price"), 500, "dutch: the price never falls below the floor")
r = get(f"/lots/{dutch['id']}")
cp = ((r.json or {}).get("lot") or {}).get("current_price")
ok(isinstance(cp, int) and 500 <= cp <= 800, "dutch: after >= 2 s the price has fallen to <= 800", r)
sel_before = acct_state(seller)[0]
r = bid(t_dj, dutch["id"])
rb = (r.json or {}).get("bid") or {}
amt = rb.get("amount")
ok(r.status == 201 and isinstance(amt, int) and 500 <= amt <= 800, "dutch: a claim pays the current price", r)
tr = query("SELECT from_account::text, to_account::text, amount, kind FROM transfers WHERE id = %s",
           (rb.get("transfer_id"),))
is_(tr, [(dj, seller, amt, "purchase")], "dutch: the transfer's amount equals the bid amount")
is_((acct_state(dj), acct_state(seller)[0] - sel_before), ((5_000 - amt, 0), amt),
    "dutch: the buyer is debited and the seller credited that amount")
is_(lot_row(dutch["id"])[:3], ("settled", dj, amt), "dutch: the lot ends, settled with winner and price")
r = bid(t_dk, dutch["id"])
is_problem(r, 409, "lot_ended", "dutch: a second claim -> 409 lot_ended")
is_(acct_state(dk), (5_000, 0), "dutch: the second claimer pays nothing")

slow = create_lot(kind="dutch", seller=seller, start=1000, floor=500, step=100, interval=3600)
fp = (acct_state(dk), acct_state(seller), lot_row(slow["id"]))
r = bid(t_dk, slow["id"], max_price=900)
is_problem(r, 409, "price_above_max", "dutch: max_price below the price -> 409 price_above_max")
is_((r.json or {}).get("price"), 1000, "dutch: the problem carries the price")
is_((acct_state(dk), acct_state(seller), lot_row(slow["id"])), fp, "dutch: price_above_max moves nothing")
r = bid(t_dk, slow["id"], max_price=1000)
ok(r.status == 201 and ((r.json or {}).get("bid") or {}).get("amount") == 1000,
   "dutch: max_price equal to the price -> 201 at 1000", r)

time.sleep(max(0.0, 5.5 - (time.time() - t_huge)))
r = get(f"/lots/{huge_step['id']}")
is_((r.status, ((r.json or {}).get("lot") or {}).get("current_price")), (200, 1000),
    "dutch: a huge step past 5 intervals shows the floor (no bigint overflow)")
r = get("/lots")
is_(r.status, 200, "dutch: GET /lots still lists with that lot in it")
r = bid(t_dk, huge_step["id"], max_price=999)
is_problem(r, 409, "price_above_max", "dutch: a claim on it is judged at the floor price")
is_((r.json or {}).get("price"), 1000, "dutch: ...of 1000")

# ---- the ledger's invariants after all of it --------------------------------
is_(ledger_invariants(), [], "ledger invariants hold")
rows = query("""SELECT a.id FROM accounts a LEFT JOIN (SELECT account_id, sum(amount) s FROM holds
                WHERE state = 'active' GROUP BY account_id) h ON h.account_id = a.id
                LEFT JOIN (SELECT account_id, sum(hold_amount) s FROM orders
                WHERE status = 'open' AND side = 'buy' GROUP BY account_id) o ON o.account_id = a.id
                LEFT JOIN (SELECT from_account, sum(amount) s FROM pending_transfers
                WHERE status = 'pending' GROUP BY from_account) p ON p.from_account = a.id
                WHERE a.held <> coalesce(h.s, 0) + coalesce(o.s, 0) + coalesce(p.s, 0)""")
is_(rows, [], "every account's held equals its active holds plus its resting buy orders' reserve"
    " plus its pending transfers")

done()
