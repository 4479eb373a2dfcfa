"""A claim on a sold-out drop never queues on the lot's lock (POST /bid,
lot_lock_unless_sold_out in sql/queries/auction.sql).

While another session holds the lot row's lock (FOR UPDATE, as a claim in
flight does), a claim on a sold-out drop is answered 409 sold_out at once —
the lock holder is still holding it when the answer arrives — and the
refusal is stored under its key as before (a replay answers it again). A
claim on a drop that still has units waits for the lock as it must, and then
takes the last unit or is refused sold_out: never an oversell."""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import threading


class LotLock:
    """Hold lot_id's row lock in an open transaction until release()."""

    def __init__(self, lot_id):
        self.conn = db()
        self.conn.autocommit = False
        with self.conn.cursor() as cur:
            cur.execute("SELECT id FROM lots WHERE id = %s FOR UPDATE", (lot_id,))
        self.held = True

    def release(self):
        if self.held:
            self.conn.rollback()
            self.conn.close()
            self.held = False


seller, _ = create_account("soldout-seller")
buyers = [create_account(f"soldout-buyer-{i}", 1000) for i in range(4)]
lot = create_lot(kind="drop", seller=seller, price=100, quantity=1)
r = place_bid(buyers[0][1], lot["id"])
is_(r.status, 201, "the only unit is claimed")
got = get(f"/lots/{lot['id']}")
is_((got.json or {}).get("lot", {}).get("status"), "sold_out", "the drop is sold out")
PARTIES = [seller] + [b[0] for b in buyers]


def parties_state():
    """What a claim on this lot could change (not the whole ledger: the jobs
    child may settle another suite's lot meanwhile)."""
    return query("""SELECT (SELECT array_agg(balance || '/' || held ORDER BY id) FROM accounts
                            WHERE id = ANY(%s::uuid[])),
                           (SELECT count(*) FROM transfers WHERE from_account = ANY(%s::uuid[])
                            OR to_account = ANY(%s::uuid[])),
                           (SELECT count(*) FROM bids WHERE lot_id = %s),
                           (SELECT qty_claimed FROM lots WHERE id = %s)""",
                 (PARTIES, PARTIES, PARTIES, lot["id"], lot["id"]))[0]


fp = parties_state()

# ---- 1. sold out: refused at once, while the lot's lock is held ------------
lock = LotLock(lot["id"])
try:
    key = new_key()
    t0 = time.monotonic()
    r = place_bid(buyers[1][1], lot["id"], key=key)
    took = time.monotonic() - t0
    still_held = lock.held
finally:
    lock.release()
is_problem(r, 409, "sold_out", "a claim on a sold-out drop → 409 sold_out")
is_((r.json or {}).get("units_left"), 0, "…with units_left 0")
ok(still_held and took < 5, f"…answered while another session held the lot's lock ({took:.3f} s)", took)

r2 = place_bid(buyers[1][1], lot["id"], key=key)
is_((r2.status, r2.headers.get("idempotent-replayed")), (409, "true"),
    "the refusal is stored under the key: a replay answers it again")
is_(r2.body, r.body, "…with the same body")
is_(query("SELECT status FROM idempotency_keys WHERE key = %s", (key,)), [(409,)],
    "the key row holds the 409")
is_(parties_state(), fp, "refusals moved no money and wrote no transfer or claim")

# input errors still come first, as on the locked path
r = place_bid(buyers[2][1], lot["id"], amount=5)
is_problem(r, 422, "field_not_applicable", "an English-style amount on a sold-out drop → 422 first")

# ---- 2. units left: the claim waits for the lock, then wins; never oversells
lot2 = create_lot(kind="drop", seller=seller, price=100, quantity=1)
lock = LotLock(lot2["id"])
results = {}


def claim(i):
    results[i] = place_bid(buyers[i][1], lot2["id"])


threads = [threading.Thread(target=claim, args=(i,)) for i in (2, 3)]
for t in threads:
    t.start()
time.sleep(0.5)
waiting = not results
lock.release()
for t in threads:
    t.join(30)
ok(waiting, "claims on a drop with a unit left wait while the lot's lock is held")
statuses = sorted(results[i].status for i in results)
is_(statuses, [201, 409], "after the lock is released: one claim wins the unit, the other is sold out")
loser = [results[i] for i in results if results[i].status == 409]
ok(loser and (loser[0].json or {}).get("code") == "sold_out", "the loser is refused sold_out", loser)
is_(query("SELECT qty_claimed, qty_total, status FROM lots WHERE id = %s", (lot2["id"],)),
    [(1, 1, "sold_out")], "the lot: exactly its one unit claimed")

# ---- 3. round trips: a sold-out claim is answered in two --------------------
# (round 1: BEGIN, the key, the lot locked unless sold out and read unlocked;
# round 2: the stored refusal and COMMIT), a winning claim in two on the
# postgres dialect (round 1 also locks the buyer's and the seller's accounts;
# round 2: the payment, the claim row, the lot, the stored answer and COMMIT)
# and three on dsql (whose FOR UPDATE takes one table by key: the accounts are
# locked in a round of their own). Counted by the server
# (zerosum_tx_round_trips_total, committed transactions only); nothing else
# on this stack posts /bid meanwhile.
import re

DIALECT = os.environ.get("ZS_DIALECT", "postgres")


def bid_counters():
    body = get("/metrics").body
    def one(name):
        m = re.search(rf'^{name}{{endpoint="bid"}} (\d+)$', body, re.M)
        return int(m.group(1)) if m else 0
    return one("zerosum_tx_round_trips_total"), one("zerosum_tx_commits_total")


def round_trips(claim):
    (rt0, c0) = bid_counters()
    r = claim()
    (rt1, c1) = bid_counters()
    return r, rt1 - rt0, c1 - c0


r, rts, commits = round_trips(lambda: place_bid(buyers[3][1], lot["id"]))
is_problem(r, 409, "sold_out", "another claim on the sold-out drop → 409 sold_out")
is_((rts, commits), (2, 1), "…committed in two round trips (the lot read rides with its lock)")
WIN_RTS = 2 if DIALECT == "postgres" else 3


def same_lot(answer_lot, lot_id, name):
    """The answer's lot is the lot as stored (computed, not read back: it
    rides with the writes), every member but the clock's (and the bids GET adds)."""
    stored = (get(f"/lots/{lot_id}").json or {}).get("lot", {})
    a = {k: v for k, v in (answer_lot or {}).items() if k != "now"}
    b = {k: v for k, v in stored.items() if k not in ("now", "recent_bids")}
    is_(a, b, name)


lot3 = create_lot(kind="drop", seller=seller, price=100, quantity=2)
r, rts, commits = round_trips(lambda: place_bid(buyers[3][1], lot3["id"]))
is_(r.status, 201, "a claim with units left wins one")
is_((rts, commits), (WIN_RTS, 1), f"…in {WIN_RTS} round trips ({DIALECT}: key, lot and accounts "
    "locked, then the writes, the answer and COMMIT)")
is_(((r.json or {}).get("lot") or {}).get("claimed"), 1, "…its answer shows the unit claimed")
same_lot((r.json or {}).get("lot"), lot3["id"], "…and the lot as it is stored (still live)")
r, rts, commits = round_trips(lambda: place_bid(buyers[2][1], lot3["id"]))
is_((r.status, rts, commits), (201, WIN_RTS, 1), "the last unit: won in as many round trips")
is_(((r.json or {}).get("lot") or {}).get("status"), "sold_out", "…its answer: the lot sold out")
same_lot((r.json or {}).get("lot"), lot3["id"], "…as stored, settled_at included")
dutch = create_lot(kind="dutch", seller=seller, start=900, floor=100, step=1, interval=3600)
r, rts, commits = round_trips(lambda: place_bid(buyers[1][1], dutch["id"]))
is_((r.status, rts, commits), (201, WIN_RTS, 1), "a Dutch claim: the same round trips")
same_lot((r.json or {}).get("lot"), dutch["id"], "…its answer's lot (settled, winner, price) "
    "as stored")
r = place_bid(buyers[0][1], dutch["id"])
is_problem(r, 409, "lot_ended", "the settled Dutch lot takes no second claim")

r = get("/proof")
is_(r.status, 200, "/proof holds")
done()
