"""proxy-war: N bidders with random hidden maxima race one English lot with
proxy bids (POST /bid {lot, max_amount}) — how it is fired (run_proxy_war)
and how its outcome is proved from the record (verify_proxy_war, pure).

The rule (README, "Auctions"): the visible high is the second-highest
maximum plus the increment at it, capped at the highest; the earlier
maximum wins a tie. Which maxima count is decided by the answers: a maximum
the server recorded was answered 201 (it led) or 409 outbid_by_proxy (the
leader's maximum beat it); one answered 409 bid_too_low was below the
minimum at its turn and is not recorded. From those maxima alone the
verifier derives the winner and the exact final price, and compares them
with the lot the server shows."""
import random
import uuid

from . import harness as h
from .checks import Checks, common, nonneg

# The lot's increment table (so the price rule's step depends on the price).
START = 1000
INCREMENTS = [{"from": 0, "step": 10}, {"from": 2000, "step": 50}, {"from": 5000, "step": 100}]


def step_at(table, p):
    """The step of the table's last row whose from is at most p."""
    return [r["step"] for r in table if r["from"] <= p][-1]


def expected_outcome(maxima, start, table):
    """(winner candidates, price) from the recorded maxima {bidder: max}: the
    highest maximum's bidders (several on a tie: the earliest of them must
    lead) and max(start, min(M1, M2 + step(M2))) with M2 the second-highest
    (M1 again on a tie)."""
    if not maxima:
        return set(), None
    ranked = sorted(maxima.values(), reverse=True)
    top = ranked[0]
    winners = {b for b, m in maxima.items() if m == top}
    if len(ranked) == 1:
        return winners, start
    second = ranked[1]
    return winners, max(start, min(top, second + step_at(table, second)))


def verify_proxy_war(rec):
    """rec: n, start, increments, n_requests, expect_accepted, answers [{bidder, max,
    status, code, json, error}], lot, bidders {id: account}, funds {id: funded},
    replays, proof."""
    c = Checks()
    answers = rec["answers"]
    accepted, rejected, errors = common(c, rec, answers, rec.get("expect_accepted"), 409,
                                        ("outbid_by_proxy", "bid_too_low"))
    c.check("some_accepted", accepted >= 1, "no proxy bid led")
    led = [a for a in answers if a["status"] == 201]
    beaten = [a for a in answers if a["code"] == "outbid_by_proxy"]
    low = [a for a in answers if a["code"] == "bid_too_low"]
    recorded = {a["bidder"]: a["max"] for a in led + beaten}
    winners, price = expected_outcome(recorded, rec["start"], rec["increments"])
    lot = rec["lot"] or {}
    c.check("winner_highest_maximum", lot.get("high_bidder") in winners,
            f"the lot's leader {lot.get('high_bidder')} does not hold the highest recorded maximum"
            f" {max(recorded.values(), default=None)} (its bidders {sorted(winners)[:3]})")
    # on a tie the earliest maximum leads: the others tied with it were answered outbid_by_proxy
    tied_losers = [a for a in beaten if a["bidder"] in winners]
    c.check("tie_goes_to_earliest", all(a["bidder"] != lot.get("high_bidder") for a in tied_losers)
            and any(a["bidder"] == lot.get("high_bidder") for a in led),
            "the leader was not the first of the tied maxima (its own bid was not a 201)")
    c.check("final_price_from_maxima", lot.get("high_amount") == price,
            f"the high is {lot.get('high_amount')}, the maxima give {price}")
    c.check("bid_answers_show_no_maximum", all("max_amount" not in (a.get("json") or {}).get("bid", {})
                                               for a in led), "a 201 answer shows a maximum")
    c.check("beaten_answers", all((a.get("json") or {}).get("high_amount", 0) >= a["max"]
                                  and (a.get("json") or {}).get("minimum", 0) > a["max"] for a in beaten),
            "an outbid_by_proxy answer's high is below the maximum it beat, or its minimum not above it")
    c.check("too_low_below_minimum", all(isinstance((a.get("json") or {}).get("minimum"), int)
                                         and a["json"]["minimum"] > a["max"] for a in low),
            "a bid_too_low answer's minimum is not above the maximum offered")
    # rows: a bid that led wrote one, a beaten one two (itself and the counter-bid)
    c.check("lot_seq_matches_answers", lot.get("seq") == len(led) + 2 * len(beaten),
            f"lot seq {lot.get('seq')}, answers give {len(led)} + 2 x {len(beaten)}")
    leader = lot.get("high_bidder")
    bad = []
    for b, acc in rec["bidders"].items():
        want_held = recorded.get(b) if b == leader else 0
        if acc is None or acc.get("held") != want_held or acc.get("balance") != rec["funds"][b]:
            bad.append((b, acc and acc.get("held"), want_held))
    c.check("only_leader_holds_its_maximum", not bad,
            f"{len(bad)} bidders hold other than the leader's maximum (id, held, want): {bad[:5]}")
    nonneg(c, rec["bidders"])
    return {"accepted": accepted, "rejected": rejected, "errors": errors, "led": len(led),
            "outbid_by_proxy": len(beaten), "bid_too_low": len(low),
            "final_high": lot.get("high_amount"), "expected_high": price,
            "max_recorded": max(recorded.values(), default=None)}, c


def run_proxy_war(stack, args):
    n = args.n
    run = uuid.uuid4().hex[:8]
    maxima = [random.randint(START, 8000) for _ in range(n)]
    if n >= 3:  # a tie at the top: the earlier of the two must win
        i, j = random.sample(range(n), 2)
        maxima[j] = maxima[i] = max(maxima)
    h.log(f"proxy-war {run}: a seller and {n} bidders with random maxima, each funded its maximum")
    seller = stack.create_account(f"stampede-{run}-seller", 0)
    bidders = stack.create_users(f"stampede-{run}-proxy", maxima)
    lot = stack.create_lot({"kind": "english", "seller": seller, "start": START, "increments": INCREMENTS,
                            "ends_in": 3600, "title": f"stampede proxy-war {run}"})
    h.log(f"English lot {lot['id']}: start {START}, increments {INCREMENTS}, ends in an hour")
    jobs = [{"method": "POST", "path": "/bid", "body": {"lot": lot["id"], "max_amount": m}, "token": tok,
             "key": str(uuid.uuid4()), "meta": {"bidder": aid, "max": m}}
            for (aid, tok), m in zip(bidders, maxima)]
    random.shuffle(jobs)
    answers, figures = h.burst(stack, jobs, args.concurrency, "bid")
    replays, records, proof, proof_detail = h.observe(stack, jobs, answers)
    ids = [aid for aid, _ in bidders]
    rec = {"n": n, "start": START, "increments": INCREMENTS, "n_requests": len(jobs),
           "expect_accepted": args.expect_accepted, "answers": records, "lot": stack.lot(lot["id"]),
           "bidders": stack.accounts(ids), "funds": dict(zip(ids, maxima)), "replays": replays,
           "unresolved": figures["unknown"], "proof": proof, "proof_detail": proof_detail}
    head, c = verify_proxy_war(rec)
    return dict(head, lot=lot["id"]), figures, proof, c, rec
