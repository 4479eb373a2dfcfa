"""Auction scenarios: oversell, double-spend and bid-war — how each is fired
(run_*) and how its outcome is proved from the record (verify_*, pure)."""
import random
import uuid

from . import harness as h
from ..client import pmap
from .checks import Checks, bid, common, nonneg, purchases_match, seqs, transfers_shown


def verify_oversell(rec):
    """rec: n, k, price, n_requests, expect_accepted, answers [{buyer, status, code, json, error}],
    lot, seller (account), seller_entries, buyers {id: account}, transfers {id: transfer}, replays, proof."""
    c = Checks()
    answers, n, k, price = rec["answers"], rec["n"], rec["k"], rec["price"]
    expect = rec.get("expect_accepted")
    expect = min(n, k) if expect is None else expect
    accepted, rejected, errors = common(c, rec, answers, expect, 409, "sold_out")
    wins = [a for a in answers if a["status"] == 201]
    winners = {a["buyer"] for a in wins}
    lot, seller = rec["lot"], rec["seller"]
    c.check("one_claim_per_winner", len(winners) == len(wins), "a buyer won twice")
    c.check("claims_one_unit_at_price", all(bid(a).get("quantity") == 1 and bid(a).get("amount") == price
                                            and bid(a).get("bidder") == a["buyer"] for a in wins),
            "a 201 answer is not one unit at the lot price for its caller")
    seqs(c, wins, lot)
    c.check("lot_claimed_matches", lot is not None and lot.get("claimed") == len(wins)
            and lot.get("units_left") == k - len(wins),
            f"lot claimed {lot and lot.get('claimed')} units_left {lot and lot.get('units_left')},"
            f" answers said {len(wins)}")
    c.check("never_oversold", lot is not None and lot.get("claimed", k + 1) <= k,
            f"lot claimed {lot and lot.get('claimed')} of {k}")
    if len(wins) >= k:
        c.check("lot_sold_out", lot is not None and lot.get("status") == "sold_out",
                f"lot status {lot and lot.get('status')}")
    c.check("seller_credited", seller is not None and seller.get("balance") == len(wins) * price
            and seller.get("held") == 0,
            f"seller balance {seller and seller.get('balance')}, expected {len(wins)} x {price}")
    bad = []
    for bid_, acc in rec["buyers"].items():
        want = 0 if bid_ in winners else price
        if acc is None or acc.get("balance") != want or acc.get("held") != 0:
            bad.append((bid_, acc and acc.get("balance"), want))
    c.check("buyer_balances_match_answers", not bad,
            f"{len(bad)} buyers' balances disagree with their answers (id, got, want): {bad[:5]}")
    transfers_shown(c, wins, rec["transfers"], lambda b: rec["seller_id"], lambda b: price)
    purchases_match(c, wins, rec.get("seller_entries"), +1, "seller")
    nonneg(c, dict(rec["buyers"], seller=seller))
    return {"accepted": accepted, "rejected": rejected, "errors": errors,
            "claimed": lot and lot.get("claimed"), "lot_status": lot and lot.get("status"),
            "seller_balance": seller and seller.get("balance"), "expected_accepted": expect}, c


def verify_double_spend(rec):
    """rec: n, price, n_requests, expect_accepted, buyer_id, buyer (account), buyer_entries,
    answers [{lot, status, code, json, error}], lots {id: lot}, sellers {lot id: account},
    seller_ids {lot id: seller id}, transfers, replays, proof."""
    c = Checks()
    answers, price = rec["answers"], rec["price"]
    expect = 1 if rec.get("expect_accepted") is None else rec["expect_accepted"]
    accepted, rejected, errors = common(c, rec, answers, expect, 422, "insufficient_funds")
    wins = [a for a in answers if a["status"] == 201]
    won_lots = sorted((a["lot"] for a in wins), key=str)
    sold = sorted((lid for lid, l in rec["lots"].items() if l is None or l.get("claimed") != 0), key=str)
    c.check("lots_sold_match_answers", sold == won_lots,
            f"lots the server shows sold {sold[:5]}, lots the answers say were won {won_lots[:5]}")
    c.check("units_sold", sum((l or {}).get("claimed", 0) for l in rec["lots"].values()) == len(wins),
            "units claimed across the lots differ from the 201 answers")
    for lid, l in rec["lots"].items():
        w = [a for a in wins if a["lot"] == lid]
        c.check("lot_seq_matches_answers", l is not None and l.get("seq") == len(w),
                f"lot {lid} seq {l and l.get('seq')} but {len(w)} answers said 201")
        c.check("lot_status", l is not None and l.get("status") == ("sold_out" if w else "live"),
                f"lot {lid} status {l and l.get('status')} with {len(w)} wins")
        s = rec["sellers"].get(lid)
        c.check("seller_balances_match_answers", s is not None and s.get("balance") == price * len(w),
                f"seller of lot {lid} has {s and s.get('balance')}, answers say {price * len(w)}")
    buyer = rec["buyer"]
    c.check("buyer_balance", buyer is not None and buyer.get("balance") == rec["funded"] - price * len(wins)
            and buyer.get("held") == 0,
            f"buyer balance {buyer and buyer.get('balance')}, funded {rec['funded']}, {len(wins)} wins")
    transfers_shown(c, wins, rec["transfers"], lambda b: rec["seller_ids"].get(b.get("lot")),
                     lambda b: price)
    purchases_match(c, wins, rec.get("buyer_entries"), -1, "buyer")
    nonneg(c, dict(rec["sellers"], buyer=buyer))
    return {"accepted": accepted, "rejected": rejected, "errors": errors,
            "lots_sold": len(sold), "buyer_balance": buyer and buyer.get("balance"),
            "expected_accepted": expect}, c


def verify_bid_war(rec):
    """rec: n, start, increment, n_requests, expect_accepted, answers [{bidder, amount, status,
    code, json, error}], lot, bidders {id: account}, funds {id: funded}, replays, proof."""
    c = Checks()
    answers = rec["answers"]
    accepted, rejected, errors = common(c, rec, answers, rec.get("expect_accepted"), 409, "bid_too_low")
    c.check("some_accepted", accepted >= 1, "no bid was accepted")
    wins = sorted((a for a in answers if a["status"] == 201),
                  key=lambda a: bid(a).get("seq") if isinstance(bid(a).get("seq"), int) else 0)
    lot = rec["lot"]
    c.check("bids_match_requests", all(bid(a).get("amount") == a["amount"] and bid(a).get("bidder") == a["bidder"]
                                       for a in wins), "a 201 answer's amount or bidder differs from the request")
    seqs(c, wins, lot)
    amounts = [bid(a).get("amount") for a in wins]
    inc = rec["increment"]
    c.check("amounts_increase_with_seq", all(b >= a + inc for a, b in zip(amounts, amounts[1:]))
            and (not amounts or amounts[0] >= rec["start"]),
            f"accepted amounts by seq are not strictly increasing by >= {inc}: {amounts[:12]}")
    low = [(a["amount"], (a.get("json") or {}).get("minimum")) for a in answers if a["code"] == "bid_too_low"]
    c.check("rejected_below_minimum", all(isinstance(m, int) and m > amt for amt, m in low),
            f"bid_too_low answers whose minimum is not above the amount: "
            f"{[x for x in low if not (isinstance(x[1], int) and x[1] > x[0])][:5]}")
    top = wins[-1] if wins else None
    top_amount = bid(top).get("amount") if top else None
    top_bidder = bid(top).get("bidder") if top else None
    offered_max = max((a["amount"] for a in answers), default=None)
    c.check("max_offer_won", top_amount == offered_max,
            f"the highest offer {offered_max} is not the last accepted bid ({top_amount})")
    c.check("final_high", lot is not None and lot.get("high_amount") == top_amount
            and lot.get("high_bidder") == top_bidder,
            f"lot high {lot and lot.get('high_amount')} by {lot and lot.get('high_bidder')},"
            f" largest accepted {top_amount} by {top_bidder}")
    c.check("lot_live", lot is not None and lot.get("status") == "live", f"lot status {lot and lot.get('status')}")
    recent = (lot or {}).get("recent_bids") or []
    by_seq = {bid(a).get("seq"): bid(a) for a in wins}
    mism = [r for r in recent if by_seq.get(r.get("seq"), {}).get("id") != r.get("id")
            or by_seq[r["seq"]].get("amount") != r.get("amount") or by_seq[r["seq"]].get("bidder") != r.get("bidder")]
    c.check("recent_bids_match_answers", len(recent) == min(20, len(wins)) and not mism,
            f"{len(recent)} recent bids, {len(mism)} differ from the 201 answers: {mism[:3]}")
    st = [r.get("status") for r in sorted(recent, key=lambda r: -(r.get("seq") or 0))]
    c.check("recent_bid_statuses", not st or (st[0] == "leading" and all(s == "outbid" for s in st[1:])),
            f"recent bid statuses (newest first) {st[:6]}")
    bad = []
    for bid_, acc in rec["bidders"].items():
        want_held = top_amount if bid_ == top_bidder else 0
        if acc is None or acc.get("held") != want_held or acc.get("balance") != rec["funds"][bid_]:
            bad.append((bid_, acc and acc.get("balance"), acc and acc.get("held"), want_held))
    c.check("only_leader_holds", not bad,
            f"{len(bad)} bidders' balance/held disagree (id, balance, held, want held): {bad[:5]}")
    nonneg(c, rec["bidders"])
    return {"accepted": accepted, "rejected": rejected, "errors": errors,
            "final_high": lot and lot.get("high_amount"), "max_accepted": top_amount,
            "max_offered": offered_max, "leader": top_bidder}, c


# ---- running them -------------------------------------------------------------

def run_oversell(stack, args):
    n, k, price = args.n, args.k, 500
    run = uuid.uuid4().hex[:8]
    h.log(f"oversell {run}: creating a seller and {n} buyers funded {price} each")
    seller = stack.create_account(f"stampede-{run}-seller", 0)
    buyers = stack.create_users(f"stampede-{run}-buyer", [price] * n)
    lot = stack.create_lot({"kind": "drop", "seller": seller, "price": price, "quantity": k,
                            "title": f"stampede oversell {run}"})
    h.log(f"drop {lot['id']}: {k} units at {price}")
    jobs = [{"method": "POST", "path": "/bid", "body": {"lot": lot["id"]}, "token": tok,
             "key": str(uuid.uuid4()), "meta": {"buyer": aid}} for aid, tok in buyers]
    random.shuffle(jobs)
    answers, figures = h.burst(stack, jobs, args.concurrency, "bid")
    replays, records, proof, proof_detail = h.observe(stack, jobs, answers)
    wins = [r for r in records if r["status"] == 201]
    tids = [bid(r).get("transfer_id") for r in wins if bid(r).get("transfer_id")]
    rec = {"n": n, "k": k, "price": price, "n_requests": len(jobs), "expect_accepted": args.expect_accepted,
           "answers": records, "lot": stack.lot(lot["id"]), "seller_id": seller,
           "seller": stack.account(seller), "seller_entries": stack.entries(seller),
           "buyers": stack.accounts([aid for aid, _ in buyers]),
           "transfers": stack.transfers(tids), "replays": replays, "unresolved": figures["unknown"], "proof": proof, "proof_detail": proof_detail}
    head, c = verify_oversell(rec)
    return dict(head, lot=lot["id"], price=price), figures, proof, c, rec


def run_double_spend(stack, args):
    n, price = args.n, 700
    run = uuid.uuid4().hex[:8]
    h.log(f"double-spend {run}: one buyer funded {price}, {n} sellers with a one-unit drop each")
    (buyer, tok), = stack.create_users(f"stampede-{run}-buyer", [price])
    sellers = [aid for aid, _ in pmap(lambda i: (stack.create_account(f"stampede-{run}-seller-{i}", 0), None),
                                      list(range(n)))]
    lots = pmap(lambda s: stack.create_lot({"kind": "drop", "seller": s, "price": price, "quantity": 1,
                                            "title": f"stampede double-spend {run}"}), sellers)
    seller_ids = {l["id"]: s for l, s in zip(lots, sellers)}
    jobs = [{"method": "POST", "path": "/bid", "body": {"lot": l["id"]}, "token": tok,
             "key": str(uuid.uuid4()), "meta": {"lot": l["id"]}} for l in lots]
    answers, figures = h.burst(stack, jobs, args.concurrency, "bid")
    replays, records, proof, proof_detail = h.observe(stack, jobs, answers)
    wins = [r for r in records if r["status"] == 201]
    tids = [bid(r).get("transfer_id") for r in wins if bid(r).get("transfer_id")]
    lot_ids = [l["id"] for l in lots]
    seller_accounts = stack.accounts(sellers)
    rec = {"n": n, "price": price, "funded": price, "n_requests": len(jobs),
           "expect_accepted": args.expect_accepted, "buyer_id": buyer, "answers": records,
           "buyer": stack.account(buyer), "buyer_entries": stack.entries(buyer),
           "lots": dict(zip(lot_ids, pmap(stack.lot, lot_ids))),
           "sellers": {lid: seller_accounts[s] for lid, s in seller_ids.items()},
           "seller_ids": seller_ids, "transfers": stack.transfers(tids), "replays": replays, "unresolved": figures["unknown"],
           "proof": proof, "proof_detail": proof_detail}
    head, c = verify_double_spend(rec)
    return dict(head, buyer=buyer, price=price), figures, proof, c, rec


def run_bid_war(stack, args):
    n, start, inc = args.n, 1000, 10
    run = uuid.uuid4().hex[:8]
    amounts = [start + i * inc for i in range(n)]
    h.log(f"bid-war {run}: a seller and {n} bidders, bidder i funded start + i x increment")
    seller = stack.create_account(f"stampede-{run}-seller", 0)
    bidders = stack.create_users(f"stampede-{run}-bidder", amounts)
    lot = stack.create_lot({"kind": "english", "seller": seller, "start": start, "increment": inc,
                            "ends_in": 3600, "title": f"stampede bid-war {run}"})
    h.log(f"English lot {lot['id']}: start {start}, increment {inc}, ends in an hour, no anti-snipe")
    jobs = [{"method": "POST", "path": "/bid", "body": {"lot": lot["id"], "amount": amt}, "token": tok,
             "key": str(uuid.uuid4()), "meta": {"bidder": aid, "amount": amt}}
            for (aid, tok), amt in zip(bidders, amounts)]
    random.shuffle(jobs)
    answers, figures = h.burst(stack, jobs, args.concurrency, "bid")
    replays, records, proof, proof_detail = h.observe(stack, jobs, answers)
    ids = [aid for aid, _ in bidders]
    rec = {"n": n, "start": start, "increment": inc, "n_requests": len(jobs),
           "expect_accepted": args.expect_accepted, "answers": records, "lot": stack.lot(lot["id"]),
           "bidders": stack.accounts(ids), "funds": dict(zip(ids, amounts)), "replays": replays, "unresolved": figures["unknown"],
           "proof": proof, "proof_detail": proof_detail}
    head, c = verify_bid_war(rec)
    return dict(head, lot=lot["id"]), figures, proof, c, rec
