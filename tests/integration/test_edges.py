"""Arithmetic at the edges of bigint, and a settlement sweep that does not stall.

Every sum the service computes or stores is range-checked: an issue, a
credit, a bid's next minimum, a drop's price x quantity and a settlement's
capture that would leave bigint are refused with 422 amount_out_of_range
(rolled back: nothing written, not even the idempotency key), never a 500
and never a wrapped number. A lot the sweep cannot settle is skipped, logged
and counted, and the lots after it still settle.

Some states need more money than a shared stack can legally hold (a credit
can only overflow when one account holds every unit in existence), so they
are built by tampering as the database superuser, as test_proof.py does,
and undone before the end; /proof is consistent at the end.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import re

I64_MAX = 2 ** 63 - 1
A = admin_token()


def su(sql, params=()):
    return query(sql, params, user="postgres")


def issuer_balance():
    return query("SELECT balance FROM accounts WHERE id = %s", (ISSUER,))[0][0]


def metric(name):
    m = re.search(r"^" + re.escape(name) + r" (\d+)", get("/metrics").body, re.M)
    return int(m.group(1)) if m else None


def lot_row(lid):
    return query("SELECT status, winner, clearing_price FROM lots WHERE id = %s", (lid,))[0]


def out_of_range(r, name):
    return is_problem(r, 422, "amount_out_of_range", name)


# ---- issue and credit past bigint -------------------------------------------------

rich, t_rich = create_account("edges-rich", 0)
poor, t_poor = create_account("edges-poor", 1000)
ok(issuer_balance() <= -2, "the issuer has issued money already (its balance is negative)")
before = ledger_fingerprint()
r = post("/transfer", {"from": ISSUER, "to": rich, "amount": I64_MAX}, token=A)
out_of_range(r, "issue: INT64_MAX more would take the issuer below -2^63: 422 amount_out_of_range")
is_(ledger_fingerprint(), before, "issue: nothing written (not even the idempotency key)")

# a credit: the payee at INT64_MAX - 10 (tampered), a payment of 100
su("UPDATE accounts SET balance = %s WHERE id = %s", (I64_MAX - 10, rich))
before = ledger_fingerprint()
key = new_key()
r = post("/transfer", {"from": poor, "to": rich, "amount": 100}, token=t_poor, key=key)
out_of_range(r, "credit: a balance past INT64_MAX: 422 amount_out_of_range")
is_(ledger_fingerprint(), before, "credit: nothing written")
is_(balance(poor), (1000, 0), "credit: the payer's balance unchanged")
r = post("/transfer", {"from": poor, "to": rich, "amount": 10}, token=t_poor, key=new_key())
ok(r.status == 201, "credit: exactly up to INT64_MAX is still accepted", r)
is_(balance(rich)[0], I64_MAX, "credit: the payee holds INT64_MAX")
su("UPDATE accounts SET balance = 10 WHERE id = %s", (rich,))      # back to what its entries say
# …and the balance its entry recorded while the account was tampered (running_balances_match)
conn = db(user="postgres")
with conn.cursor() as cur:
    cur.execute("ALTER TABLE entries DISABLE TRIGGER USER")
    cur.execute("UPDATE entries SET balance_after = balance_after - %s WHERE account_id = %s",
                (I64_MAX - 10, rich))
    cur.execute("ALTER TABLE entries ENABLE TRIGGER USER")
conn.close()
r = post("/transfer", {"from": poor, "to": rich, "amount": 100}, token=t_poor, key=key)
ok(r.status == 201, "credit: the same key, once the payee has room, moves the money (the 422 was not stored)", r)
is_(ledger_invariants(), [], "ledger invariants hold after the tamper is undone")

# ---- a drop's price x quantity ----------------------------------------------------

seller, t_seller = create_account("edges-seller", 0)
drop = create_lot(kind="drop", seller=seller, price=I64_MAX // 4, quantity=10)
before = ledger_fingerprint()
r = place_bid(t_poor, drop["id"], quantity=5)
out_of_range(r, "drop: price x 5 past INT64_MAX: 422 amount_out_of_range (was insufficient_funds)")
is_(ledger_fingerprint(), before, "drop: nothing written")
is_(query("SELECT qty_claimed FROM lots WHERE id = %s", (drop["id"],))[0][0], 0, "drop: no unit claimed")

# ---- the sweep skips a lot it cannot settle ---------------------------------------
# Three English lots, ended in this order by setting ends_at as the superuser:
#   bad_sum   — its seller's balance tampered to INT64_MAX - 50: the capture of 100
#               would overflow it (the C range check refuses the settlement);
#   bad_check — its winner's held tampered to 0: the capture's held - 100 breaks a
#               CHECK (the statement fails);
#   good      — an ordinary lot, ending last. It must settle all the same.

s_bad, _ = create_account("edges-seller-bad", 0)
s_chk, _ = create_account("edges-seller-check", 0)
s_good, _ = create_account("edges-seller-good", 0)
b1, t_b1 = create_account("edges-bidder-1", 500)
b2, t_b2 = create_account("edges-bidder-2", 500)
b3, t_b3 = create_account("edges-bidder-3", 500)
lots = {}
for name, sel, tok in [("bad_sum", s_bad, t_b1), ("bad_check", s_chk, t_b2), ("good", s_good, t_b3)]:
    lots[name] = create_lot(kind="english", seller=sel, start=100, increment=10, ends_in=3600)["id"]
    r = place_bid(tok, lots[name], amount=100)
    ok(r.status == 201, f"sweep: a bid of 100 on the {name} lot", r)
skipped_before = metric("zerosum_settlement_skipped_total")
ok(skipped_before is not None, "sweep: /metrics has zerosum_settlement_skipped_total", skipped_before)
log_path = os.path.join(ZS_VAR, "log", "zerosum.log")
log_mark = os.path.getsize(log_path)
conn = db(user="postgres")
with conn.cursor() as cur:    # one transaction: the sweep sees all three ended at once
    cur.execute("BEGIN")
    cur.execute("UPDATE accounts SET balance = %s WHERE id = %s", (I64_MAX - 50, s_bad))
    cur.execute("UPDATE accounts SET held = 0 WHERE id = %s", (b2,))
    for name, ago in [("bad_sum", 3), ("bad_check", 2), ("good", 1)]:
        cur.execute("UPDATE lots SET ends_at = now() - make_interval(secs => %s) WHERE id = %s", (ago, lots[name]))
    cur.execute("COMMIT")
conn.close()
settled = wait_for(lambda: lot_row(lots["good"])[0] == "settled", timeout=20, interval=0.2)
ok(settled, "sweep: the lot that ended after two unsettleable ones is settled by the sweep",
   lot_row(lots["good"]))
is_(lot_row(lots["good"]), ("settled", b3, 100), "sweep: …won by its bidder at 100")
is_(lot_row(lots["bad_sum"])[0], "live", "sweep: the lot whose capture would overflow is left live")
is_(lot_row(lots["bad_check"])[0], "live", "sweep: the lot whose settlement fails a CHECK is left live")
ok(wait_for(lambda: metric("zerosum_settlement_skipped_total") >= skipped_before + 2, timeout=5),
   "sweep: zerosum_settlement_skipped_total counted both", (skipped_before, metric("zerosum_settlement_skipped_total")))
with open(log_path, errors="replace") as f:
    f.seek(log_mark)
    log = f.read()
ok(f"lot {lots['bad_sum']} cannot be settled" in log and f"lot {lots['bad_check']} cannot be settled" in log,
   "sweep: both skips are logged with the lot id", [l for l in log.splitlines() if "cannot be settled" in l][:4])

g = get(f"/lots/{lots['bad_sum']}")
ok(g.status == 200 and g.json["lot"]["status"] == "live" and g.json["lot"]["ended"] is True
   and g.json["lot"]["min_next_bid"] is None,
   "close-on-read: the unsettleable lot reads as ended, not a 500", g)
before = ledger_fingerprint()
r = place_bid(t_b3, lots["bad_sum"], amount=500)
is_problem(r, 409, "lot_ended", "a bid on the unsettleable lot: 409 lot_ended")
is_(ledger_fingerprint(), before, "…and nothing written")

# undo the tampers: both lots settle on their next read
su("UPDATE accounts SET balance = 0 WHERE id = %s", (s_bad,))
su("UPDATE accounts SET held = 100 WHERE id = %s", (b2,))
for name, bidder, sel in [("bad_sum", b1, s_bad), ("bad_check", b2, s_chk)]:
    g = get(f"/lots/{lots[name]}")
    ok(g.status == 200 and g.json["lot"]["status"] == "settled" and g.json["lot"]["winner"] == bidder,
       f"repaired: the {name} lot settles on read", g)
    is_(balance(sel), (100, 0), f"repaired: the {name} seller received 100")

# ---- an English lot whose next minimum does not fit --------------------------------
# A bidder funded with nearly every unit the issuer can still issue bids it
# all on a lot with a huge increment: the leading bid plus the increment
# exceeds INT64_MAX.

big_inc = I64_MAX // 4
s_big, t_s_big = create_account("edges-seller-big", 0)
whale, t_whale = create_account("edges-whale", 0)
room = 2 ** 63 + issuer_balance()          # what the issuer can still issue
amount = room - 1000
r = post("/transfer", {"from": ISSUER, "to": whale, "amount": amount}, token=A)
ok(r.status == 201, f"whale: funded with {amount}", r)
lot = create_lot(kind="english", seller=s_big, start=1, increment=big_inc, ends_in=3600)["id"]
r = place_bid(t_whale, lot, amount=amount)
ok(r.status == 201, "whale: bids everything", r)
ok(r.json and r.json["lot"]["min_next_bid"] is None,
   "whale: the bid's answer shows min_next_bid null (amount + increment does not fit), not a negative number",
   r.json and r.json["lot"].get("min_next_bid"))
g = get(f"/lots/{lot}")
ok(g.status == 200 and g.json["lot"]["min_next_bid"] is None, "GET /lots/{id}: min_next_bid null", g)
lst = get("/lots?limit=100")
mine = [x for x in (lst.json or {}).get("data", []) if x["id"] == lot]
ok(mine and mine[0]["min_next_bid"] is None, "GET /lots: min_next_bid null", mine)
before = ledger_fingerprint()
r = place_bid(t_poor, lot, amount=500)
out_of_range(r, "a bid after it: 422 amount_out_of_range (no higher bid is representable)")
is_(ledger_fingerprint(), before, "…and nothing written")

# undo: end the lot, settle it on read, and give the money back to the issuer
su("UPDATE lots SET ends_at = now() - interval '1 second' WHERE id = %s", (lot,))
g = get(f"/lots/{lot}")
ok(g.status == 200 and g.json["lot"]["status"] == "settled" and g.json["lot"]["clearing_price"] == amount,
   "whale: the lot settles at the whole amount", g)
r = post("/transfer", {"from": s_big, "to": ISSUER, "amount": amount}, token=t_s_big)
ok(r.status == 201, "whale: the seller returns it to the issuer", r)

is_(ledger_invariants(), [], "ledger invariants hold at the end")
r = get("/proof")
ok(r.status == 200 and (r.json or {}).get("consistent") is True, "/proof is consistent at the end", r.body[:400])
done()
