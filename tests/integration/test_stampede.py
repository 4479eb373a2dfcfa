"""scripts/stampede at moderate N against the live stack (oversell,
double-spend, bid-war, proxy-war), and proof that its checker can fail.

Each scenario runs as a subprocess (ZS_VAR and ZS_BIN from the toolkit) and
must exit 0 with a JSON summary on its last stdout line whose fields agree
with the rule (exactly K claims, one double-spend win, the bid war's top
offer winning). Negative controls, two kinds:

1. `--expect-accepted` with a wrong number: the same real run must now exit 1
   with ok false, and only the accepted_count check may fail, so the
   failure is the control's and not the system's.
2. The scenario's record (`--record FILE`: every answer and observation the
   checks used) is re-verified with the script's own pure verify_*
   functions (imported from zerosum_py.stampede): the untouched record passes, and each
   doctored copy (a refused claim turned into a 201 the server never saw, a
   unit too many on the lot, a seller credited twice, a hold left on an
   outbid bidder, amounts out of seq order, an inconsistent /proof) fails
   the named check, and a purchase on the seller's ledger that no answer
   announced fails too.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import copy
import subprocess
import json
import tempfile

SCRIPT = os.path.join(REPO, "scripts", "stampede")


def load_stampede():
    """The stampede's verifiers (zerosum_py.stampede, on sys.path through zs)."""
    import zerosum_py.stampede
    return zerosum_py.stampede


def stampede(*args, timeout=300):
    """Run the script; returns (exit status, summary dict or None, stderr)."""
    env = dict(os.environ, ZS_VAR=ZS_VAR, ZS_BIN=ZS_BIN)
    p = subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True, timeout=timeout)
    lines = p.stdout.strip().splitlines()
    try:
        summary = json.loads(lines[-1]) if lines else None
    except ValueError:
        summary = None
    return p.returncode, summary, p.stderr


def summary_ok(rc, s, name, **want):
    good = rc == 0 and isinstance(s, dict) and s.get("ok") is True and s.get("errors") == 0
    good = good and all(s.get(k) == v for k, v in want.items())
    return ok(good, name, f"exit {rc}\n{json.dumps(s)[:1500] if s else s}")


def has_fields(s, fields, name):
    missing = [f for f in fields if not isinstance(s, dict) or f not in s]
    return ok(not missing, name, f"missing {missing}")


def check_failed(verify, rec, check, name):
    """The doctored record must fail `check` (and so not be ok)."""
    _, c = verify(rec)
    return ok(not c.ok and c.results.get(check) is False, name,
              f"checks: {c.results}\nfailures: {c.failures[:5]}")


COMMON = ["scenario", "n", "accepted", "rejected", "errors", "duration_ms", "retries", "ok", "checks"]
st = load_stampede()
tmp = tempfile.mkdtemp(prefix="stampede-test-")

# ---- oversell: 60 buyers, 10 units -----------------------------------------

rec_path = os.path.join(tmp, "oversell.json")
rc, s, err = stampede("oversell", "--n", "60", "--k", "10", "--record", rec_path)
summary_ok(rc, s, "oversell n=60 k=10: exit 0, ok, no errors",
           scenario="oversell", n=60, k=10, accepted=10, rejected=50, claimed=10, lot_status="sold_out",
           seller_balance=10 * 500)
has_fields(s, COMMON + ["k"], "oversell: the summary has the documented fields")
ok(isinstance(s, dict) and s.get("max_in_flight", 0) >= 50, "oversell: at least 50 requests were in flight at once",
   s and s.get("max_in_flight"))
ok(isinstance(s, dict) and s.get("proof") in ("consistent", "unavailable"), "oversell: /proof consistent (or absent)",
   s and s.get("proof"))
if rc != 0:
    diag(err[-2000:])

# negative control 1: the same scenario with a wrong expectation must fail
rc2, s2, _ = stampede("oversell", "--n", "12", "--k", "3", "--expect-accepted", "4")
ok(rc2 == 1 and isinstance(s2, dict) and s2.get("ok") is False and s2.get("accepted") == 3
   and s2["checks"].get("accepted_count") is False
   and all(v for k, v in s2["checks"].items() if k != "accepted_count"),
   "negative control: --expect-accepted 4 on a K=3 drop fails (exit 1) on accepted_count alone",
   f"exit {rc2}\n{json.dumps(s2)[:1500] if s2 else s2}")

# negative control 2: doctored records
with open(rec_path) as f:
    saved = json.load(f)
rec = saved["record"]
_, c = st.verify_oversell(rec)
ok(c.ok, "oversell record: re-verified from the file it passes", c.failures)

bad = copy.deepcopy(rec)                       # the client was told 201, the server never saw it
loser = next(a for a in bad["answers"] if a["status"] != 201)
loser.update(status=201, code=None, error=None,
             json={"bid": {"id": "00000000-0000-4000-8000-000000000000", "bidder": loser["buyer"], "amount": 500,
                           "quantity": 1, "seq": 11, "transfer_id": None}})
check_failed(st.verify_oversell, bad, "accepted_count", "doctored: an 11th 201 fails accepted_count")
check_failed(st.verify_oversell, bad, "lot_seq_matches_answers", "doctored: ...and lot_seq_matches_answers")
check_failed(st.verify_oversell, bad, "buyer_balances_match_answers",
             "doctored: ...and buyer_balances_match_answers (that buyer was never charged)")
bad = copy.deepcopy(rec)                       # the server shows a sale no client was told about
bad["seller_entries"].append({"transfer_id": "00000000-0000-4000-8000-000000000001", "amount": 500,
                              "kind": "purchase", "counterparty": loser["buyer"]})
check_failed(st.verify_oversell, bad, "purchases_match_answers",
             "doctored: a purchase on the seller's ledger without a 201 fails purchases_match_answers")
bad = copy.deepcopy(rec)                       # the server shows one unit too many
bad["lot"]["claimed"] = 11
check_failed(st.verify_oversell, bad, "never_oversold", "doctored: 11 of 10 claimed fails never_oversold")
bad = copy.deepcopy(rec)
bad["seller"]["balance"] += 500
check_failed(st.verify_oversell, bad, "seller_credited", "doctored: the seller credited 11 x price fails")
bad = copy.deepcopy(rec)
w = next(a for a in bad["answers"] if a["status"] == 201)
bad["buyers"][w["buyer"]]["balance"] = -500
check_failed(st.verify_oversell, bad, "nobody_negative", "doctored: a negative buyer fails nobody_negative")
bad = copy.deepcopy(rec)
bad["answers"][0].update(status=502, code=None, error="502 from nginx")
check_failed(st.verify_oversell, bad, "no_errors", "doctored: a 502 answer fails no_errors")
bad = copy.deepcopy(rec)
bad["proof"], bad["proof_detail"] = "inconsistent", "GET /proof: 409"
check_failed(st.verify_oversell, bad, "proof_consistent", "doctored: an inconsistent /proof fails the run")
bad = copy.deepcopy(rec)
tid = next(iter(bad["transfers"]))
bad["transfers"][tid] = None
check_failed(st.verify_oversell, bad, "transfers_shown", "doctored: a 201's transfer the server does not show fails")

# ---- double-spend: one buyer, 20 lots -----------------------------------------

rec_path = os.path.join(tmp, "double-spend.json")
rc, s, err = stampede("double-spend", "--n", "20", "--record", rec_path)
summary_ok(rc, s, "double-spend n=20: exit 0, ok, one win, 19 refusals",
           scenario="double-spend", n=20, accepted=1, rejected=19, lots_sold=1, buyer_balance=0)
has_fields(s, COMMON, "double-spend: the summary has the documented fields")
if rc != 0:
    diag(err[-2000:])
with open(rec_path) as f:
    rec = json.load(f)["record"]
_, c = st.verify_double_spend(rec)
ok(c.ok, "double-spend record: re-verified it passes", c.failures)
bad = copy.deepcopy(rec)                       # the server sold a lot the client was told was refused
w = next(a for a in bad["answers"] if a["status"] == 201)
w.update(status=422, code="insufficient_funds", json={"code": "insufficient_funds"})
check_failed(st.verify_double_spend, bad, "lots_sold_match_answers",
             "doctored: a sale whose answer said refused fails lots_sold_match_answers")
bad = copy.deepcopy(rec)                       # a second lot sold
other = next(lid for lid, l in bad["lots"].items() if l["claimed"] == 0)
bad["lots"][other].update(claimed=1, seq=1, status="sold_out")
check_failed(st.verify_double_spend, bad, "units_sold", "doctored: a second unit sold fails units_sold")

# ---- bid-war: 60 bidders -----------------------------------------------------------

rec_path = os.path.join(tmp, "bid-war.json")
rc, s, err = stampede("bid-war", "--n", "60", "--record", rec_path)
summary_ok(rc, s, "bid-war n=60: exit 0, ok; the top offer (1590) is the final high",
           scenario="bid-war", n=60, final_high=1000 + 59 * 10, max_accepted=1590, max_offered=1590)
has_fields(s, COMMON, "bid-war: the summary has the documented fields")
ok(isinstance(s, dict) and s.get("accepted", 0) >= 1 and s.get("accepted", 0) + s.get("rejected", 0) == 60,
   "bid-war: accepted + rejected = 60", s)
if rc != 0:
    diag(err[-2000:])
with open(rec_path) as f:
    rec = json.load(f)["record"]
_, c = st.verify_bid_war(rec)
ok(c.ok, "bid-war record: re-verified it passes", c.failures)
bad = copy.deepcopy(rec)                       # a hold left on an outbid bidder
leader = rec["lot"]["high_bidder"]
someone = next(b for b in bad["bidders"] if b != leader)
bad["bidders"][someone]["held"] = 10
check_failed(st.verify_bid_war, bad, "only_leader_holds", "doctored: a hold left on a non-leader fails")
bad = copy.deepcopy(rec)                       # the lot's high is not the largest accepted bid
bad["lot"]["high_amount"] -= 10
check_failed(st.verify_bid_war, bad, "final_high", "doctored: a high below the largest accepted bid fails")
bad = copy.deepcopy(rec)                       # accepted amounts out of seq order
wins = sorted((a for a in bad["answers"] if a["status"] == 201), key=lambda a: a["json"]["bid"]["seq"])
if len(wins) >= 2:
    wins[0]["json"]["bid"]["seq"], wins[-1]["json"]["bid"]["seq"] = wins[-1]["json"]["bid"]["seq"], wins[0]["json"]["bid"]["seq"]
    check_failed(st.verify_bid_war, bad, "amounts_increase_with_seq", "doctored: amounts out of seq order fail")
else:
    ok(True, "doctored: amounts out of seq order (skipped: a single accepted bid)")
bad = copy.deepcopy(rec)                       # a refusal that is not bid_too_low
r_ = next(a for a in bad["answers"] if a["status"] != 201)
r_.update(status=422, code="insufficient_funds")
check_failed(st.verify_bid_war, bad, "rejections_bid_too_low", "doctored: a non-bid_too_low refusal fails")

# ---- proxy-war: 30 bidders with random maxima (one tie at the top) ------------

rec_path = os.path.join(tmp, "proxy-war.json")
rc, s, err = stampede("proxy-war", "--n", "30", "--record", rec_path)
summary_ok(rc, s, "proxy-war n=30: exit 0, ok; the winner and the price follow from the maxima",
           scenario="proxy-war", n=30)
ok(isinstance(s, dict) and s.get("final_high") == s.get("expected_high") is not None
   and s.get("led", 0) >= 1 and s.get("led", 0) + s.get("outbid_by_proxy", 0) + s.get("bid_too_low", 0) == 30,
   "proxy-war: final high = the maxima's price; every bid led, was beaten or was too low", s)
if rc != 0:
    diag(err[-2000:])
with open(rec_path) as f:
    rec = json.load(f)["record"]
_, c = st.verify_proxy_war(rec)
ok(c.ok, "proxy-war record: re-verified it passes", c.failures)
bad = copy.deepcopy(rec)                       # the high one off the rule's price
bad["lot"]["high_amount"] += 1
check_failed(st.verify_proxy_war, bad, "final_price_from_maxima", "doctored: a high off the rule fails")
bad = copy.deepcopy(rec)                       # someone without the highest maximum leads
top = max(a["max"] for a in bad["answers"] if a["status"] == 201 or a["code"] == "outbid_by_proxy")
other = next(a["bidder"] for a in bad["answers"] if a["max"] < top)
bad["lot"]["high_bidder"] = other
check_failed(st.verify_proxy_war, bad, "winner_highest_maximum", "doctored: a lower maximum leading fails")
bad = copy.deepcopy(rec)                       # the second-highest maximum 500 lower than recorded
counted = sorted((a for a in bad["answers"] if a["status"] == 201 or a["code"] == "outbid_by_proxy"),
                 key=lambda a: -a["max"])
if len(counted) >= 2:
    counted[1]["max"] -= 500
    check_failed(st.verify_proxy_war, bad, "final_price_from_maxima",
                 "doctored: a price that does not follow the second-highest maximum fails")
else:
    ok(True, "doctored: a second maximum (skipped: one recorded maximum)")
bad = copy.deepcopy(rec)                       # the leader's hold is not its maximum
bad["bidders"][bad["lot"]["high_bidder"]]["held"] -= 1
check_failed(st.verify_proxy_war, bad, "only_leader_holds_its_maximum", "doctored: a short hold fails")

# the ledger (and /proof when the stack has it) after all three
# ---- pending-storm: 24 payers hold, then post / void / expire --------------------

rec_path = os.path.join(tmp, "pending-storm.json")
rc, s, err = stampede("pending-storm", "--n", "24", "--record", rec_path)
summary_ok(rc, s, "pending-storm n=24: exit 0, ok, no errors", scenario="pending-storm", n=24, held=0)
has_fields(s, COMMON + ["posted", "voided", "expired", "held", "sum"], "pending-storm: the summary has its fields")
ok(isinstance(s, dict) and s.get("expired", 0) >= 8 and s.get("posted", 0) + s.get("voided", 0) >= 8,
   "pending-storm: the jobs child expired the untouched third; the posts and voids closed the rest", s)
with open(rec_path) as f:
    rec = json.load(f)["record"]
_, c = st.verify_pending_storm(rec)
ok(c.ok, "pending-storm record: re-verified it passes", c.failures)
payer = next(iter(rec["payers"]))
bad = copy.deepcopy(rec)                       # a hold left on a payer
bad["payers"][payer]["held"] = 5
check_failed(st.verify_pending_storm, bad, "held_zero_everywhere", "doctored: a hold left on a payer fails")
bad = copy.deepcopy(rec)                       # a transfer still pending
pid = next(iter(bad["pendings"]))
bad["pendings"][pid]["status"] = "pending"
check_failed(st.verify_pending_storm, bad, "none_left_pending", "doctored: a transfer left pending fails")
bad = copy.deepcopy(rec)                       # a post answered 200 on a transfer that expired
exp = [p for p, v in rec["pendings"].items() if v["status"] == "expired"]
act = next((a for a in bad["actions"] if a["status"] == 409), None)
if act is not None:
    act.update(status=200, code=None)
    check_failed(st.verify_pending_storm, bad, "answers_match_outcome",
                 "doctored: a post/void that won on a transfer closed otherwise fails")
else:
    ok(True, "doctored: a refused post turned into a win (skipped: no refusal in this run)")
bad = copy.deepcopy(rec)                       # money created on a payee
bad["payees"][next(iter(bad["payees"]))]["balance"] += 1
check_failed(st.verify_pending_storm, bad, "sum_conserved", "doctored: a payee credited one unit too many fails")
bad = copy.deepcopy(rec)
bad["money_sum"] = 1
check_failed(st.verify_pending_storm, bad, "ledger_sums_to_zero", "doctored: a ledger that does not sum to 0 fails")

# the ledger (and /proof when the stack has it) after all of them
is_(ledger_invariants(), [], "ledger invariants hold after the stampedes")
r = get("/proof")
ok(r.status == 404 or (r.status == 200 and (r.json or {}).get("consistent") is True),
   "GET /proof is consistent after the stampedes (or not available)", r)

done()
