"""Market scenarios: phantom-shares (a shares book raced by IOC takers) and
event-market (complementary YES/NO orders minting pairs, then resolution) —
how each is fired (run_*) and proved from the record (verify_*, pure)."""
import random
import uuid

from . import harness as h
from ..client import pmap
from .checks import Checks, market_common, nonneg, order


def verify_phantom_shares(rec):
    """rec: n, price, supply, n_requests, expect_accepted, dialect, retries, sells [order ids],
    answers [{buyer, status, code, json, error}], market (GET /markets/{id} after), seller_id,
    seller (account), buyers {id: account}, probes {account: {"one": answer, "more": answer}},
    replays, proof."""
    c = Checks()
    answers, n, price, supply = rec["answers"], rec["n"], rec["price"], rec["supply"]
    expect = n if rec.get("expect_accepted") is None else rec["expect_accepted"]
    accepted, rejected, errors = market_common(c, rec, answers, expect)
    wins = [a for a in answers if a["status"] == 201]
    sells = set(rec["sells"])
    c.check("resting_sells_placed", len(sells) == n, f"{len(sells)} distinct resting sells for n = {n}")
    bad = [order(a) for a in wins
           if not (order(a).get("filled") == 1 and order(a).get("remaining") == 0
                   and order(a).get("status") == "filled" and len(order(a).get("fills") or []) == 1
                   and (order(a)["fills"][0].get("price"), order(a)["fills"][0].get("quantity"),
                        order(a)["fills"][0].get("kind")) == (price, 1, "transfer"))]
    c.check("one_share_per_fill", not bad, f"{len(bad)} 201 answers are not one share at {price}: {bad[:3]}")
    makers = [f.get("maker_order") for a in wins for f in (order(a).get("fills") or [])]
    c.check("makers_distinct", len(makers) == len(set(makers)),
            f"{len(makers) - len(set(makers))} resting one-share sells were filled twice (phantom shares)")
    c.check("makers_are_resting_sells", set(makers) <= sells,
            f"fills against orders that are not the resting sells: {sorted(set(makers) - sells)[:5]}")
    fills = sum(order(a).get("filled") or 0 for a in wins)
    c.check("fills_total", fills == len(wins) and fills <= n, f"{fills} shares filled by {len(wins)} answers")
    m = rec["market"] or {}
    out = (m.get("outstanding") or {}).get("shares")
    c.check("supply_audit_delta_zero", out == supply and (m.get("market") or {}).get("total_supply") == supply,
            f"positions sum to {out}, total supply {(m.get('market') or {}).get('total_supply')}, issued {supply}")
    book = (m.get("book") or {}).get("shares") or {}
    want_asks = [] if fills == n else [[price, n - fills]]
    c.check("book_matches_fills", book.get("asks") == want_asks and book.get("bids") == [],
            f"book after the burst {book}, expected asks {want_asks} and no bids")
    winners = {a["buyer"] for a in wins}
    badb = [(b, acc and acc.get("balance"), acc and acc.get("held")) for b, acc in rec["buyers"].items()
            if acc is None or acc.get("held") != 0 or acc.get("balance") != (0 if b in winners else price)]
    c.check("buyer_cash_matches_answers", not badb, f"{len(badb)} buyers (id, balance, held): {badb[:5]}")
    s = rec["seller"]
    c.check("seller_credited", s is not None and s.get("balance") == fills * price and s.get("held") == 0,
            f"seller balance {s and s.get('balance')} held {s and s.get('held')}, expected {fills} x {price}")
    badp = []
    for who, p in rec["probes"].items():
        want = 1 if who in winners else 0
        if who == rec["seller_id"]:
            want = supply - fills
        one, more = p.get("one") or {}, p.get("more") or {}
        ok_one = want == 0 or (one.get("status") == 201 and order(one).get("filled") == 0)
        ok_more = more.get("status") == 422 and more.get("code") == "insufficient_position"
        if not (ok_one and ok_more):
            badp.append((who, want, one.get("status"), more.get("status"), more.get("code")))
    c.check("positions_match_fills", not badp and len(rec["probes"]) == len(rec["buyers"]) + 1,
            f"{len(badp)} accounts hold other than their fills say (id, want, sell-want, sell-want+1):"
            f" {badp[:5]}")
    if rec.get("dialect") == "postgres" and rec.get("retries") is not None:
        c.check("no_retries_on_postgres", rec["retries"] == 0,
                f"{rec['retries']} transaction retries on the postgres dialect (the market lock should queue)")
    nonneg(c, dict(rec["buyers"], seller=s))
    return {"accepted": accepted, "rejected": rejected, "errors": errors, "fills": fills,
            "supply": supply, "positions_total": out, "supply_delta": None if out is None else out - supply,
            "seller_position": supply - fills, "phantom_shares": len(makers) - len(set(makers)),
            "expected_accepted": expect}, c


EVENT_OUTCOMES = ("yes", "no", "cancel")


def verify_event_market(rec):
    """rec: n, n_requests, expect_accepted, markets [{id, escrow, resolve}], funds {account: funded},
    answers [{account, market, outcome, price, quantity, status, code, json, error}],
    before {market id: GET /markets/{id}}, escrow_before {market id: account},
    resolutions {market id: {status, code, json}}, after {market id: GET}, escrow_after,
    accounts {id: account}, entries {id: [entries]}, replays, proof_before, proof."""
    c = Checks()
    answers = rec["answers"]
    expect = rec["n_requests"] if rec.get("expect_accepted") is None else rec["expect_accepted"]
    accepted, rejected, errors = market_common(c, rec, answers, expect)
    wins = [a for a in answers if a["status"] == 201]
    orders = {order(a).get("id"): a for a in wins}
    escrow_of = {m["id"]: m["escrow"] for m in rec["markets"]}
    resolve_of = {m["id"]: m["resolve"] for m in rec["markets"]}
    # What every account paid into each market and what it holds, from the 201 answers alone:
    # a taker's fill is at its own fill price, its maker paid the maker's limit price.
    paid, cost, held, minted, used, problems = {}, {}, {}, {}, {}, []
    for a in wins:
        o, mkt = order(a), a["market"]
        if o.get("market") != mkt or o.get("outcome") != a["outcome"] or o.get("price") != a["price"]:
            problems.append(f"answer {o.get('id')} is not the order sent")
        fsum = 0
        for f in o.get("fills") or []:
            mk = orders.get(f.get("maker_order"))
            q, px = f.get("quantity") or 0, f.get("price") or 0
            fsum += q
            if f.get("kind") != "mint" or mk is None or mk["market"] != mkt or mk["outcome"] == a["outcome"] \
                    or px + mk["price"] != 100 or px > a["price"] or q <= 0:
                problems.append(f"fill {f} of order {o.get('id')} is not a mint against an answered"
                                f" complementary order at 100 - its price")
                continue
            for who, outc, p in ((a["account"], a["outcome"], px), (mk["account"], mk["outcome"], mk["price"])):
                paid[(who, mkt)] = paid.get((who, mkt), 0) + p * q
                cost[(who, mkt, outc)] = cost.get((who, mkt, outc), 0) + p * q
                held[(who, mkt, outc)] = held.get((who, mkt, outc), 0) + q
            minted[mkt] = minted.get(mkt, 0) + q
            used[f.get("maker_order")] = used.get(f.get("maker_order"), 0) + q
        used[o.get("id")] = used.get(o.get("id"), 0) + fsum
        if o.get("filled") != fsum:
            problems.append(f"order {o.get('id')} says filled {o.get('filled')}, its fills add up to {fsum}")
    c.check("fills_are_complementary_mints", not problems, "; ".join(problems[:4]))
    over = [(oid, q, orders[oid]["quantity"]) for oid, q in used.items() if oid in orders and q > orders[oid]["quantity"]]
    c.check("no_overfill", not over, f"orders filled beyond their quantity (id, filled, quantity): {over[:5]}")
    for m in rec["markets"]:
        mid, pairs = m["id"], minted.get(m["id"], 0)
        b = (rec["before"].get(mid) or {}).get("outstanding") or {}
        c.check("outstanding_yes_eq_no", b.get("yes", 0) == b.get("no", 0) == pairs,
                f"market {mid} before resolution: outstanding {b}, the answers minted {pairs} pairs")
        e = rec["escrow_before"].get(mid)
        c.check("escrow_backs_pairs", e is not None and e.get("balance") == 100 * pairs,
                f"market {mid} escrow {e and e.get('balance')} before resolution, {pairs} pairs")
        r = rec["resolutions"].get(mid) or {}
        want_status = "cancelled" if m["resolve"] == "cancel" else "resolved"
        rj = r.get("json") or {}
        c.check("resolved_through_api", r.get("status") == 200 and rj.get("status") == want_status
                and rj.get("outcome") == m["resolve"],
                f"POST /markets/{mid}/resolve {m['resolve']}: {r.get('status')} {r.get('code')} {rj}")
        c.check("resolution_paid_escrow", rj.get("paid") == 100 * pairs,
                f"market {mid} resolution paid {rj.get('paid')}, escrow held {100 * pairs}")
        ea = rec["escrow_after"].get(mid)
        c.check("escrow_zero", ea is not None and ea.get("balance") == 0 and ea.get("held") == 0,
                f"market {mid} escrow after resolution {ea}")
        after = rec["after"].get(mid) or {}
        am = after.get("market") or {}
        outs = after.get("outstanding") or {}
        book = after.get("book") or {}
        c.check("market_closed", am.get("status") == want_status and am.get("outcome") == m["resolve"]
                and not any(outs.values())
                and all(not v.get("bids") and not v.get("asks") for v in book.values()),
                f"market {mid} after: status {am.get('status')} outcome {am.get('outcome')}"
                f" outstanding {outs} book {book}")
    # Every account: balance = funded - paid + 100 per winning contract (50 per contract on a cancel).
    bad, badpay, badmint = [], [], []
    for who, funded in rec["funds"].items():
        want = funded
        for m in rec["markets"]:
            mid, res = m["id"], m["resolve"]
            p = paid.get((who, mid), 0)
            n_yes, n_no = held.get((who, mid, "yes"), 0), held.get((who, mid, "no"), 0)
            back = 50 * (n_yes + n_no) if res == "cancel" else 100 * held.get((who, mid, res), 0)
            want += back - p
            ents = [e for e in (rec["entries"].get(who) or []) if e.get("counterparty") == escrow_of[mid]]
            kind = "refund" if res == "cancel" else "payout"
            got_back = sorted(e.get("amount") for e in ents if e.get("kind") == kind)
            # one payout per winning position; a cancel pays each position (yes, no) 50 per contract
            c_yes = sorted(v for v in ([50 * n_yes, 50 * n_no] if res == "cancel" else [back]) if v > 0)
            if rec["entries"].get(who) is None or got_back != c_yes \
                    or any(e.get("kind") not in ("mint", kind) for e in ents):
                badpay.append((who[:8], mid[:8], res, got_back, c_yes))
            if -sum(e.get("amount") for e in ents if e.get("kind") == "mint") != p:
                badmint.append((who[:8], mid[:8], -sum(e.get("amount") for e in ents if e.get("kind") == "mint"), p))
        acc = rec["accounts"].get(who)
        if acc is None or acc.get("balance") != want or acc.get("held") != 0:
            bad.append((who[:8], acc and acc.get("balance"), acc and acc.get("held"), want))
    c.check("balances_match_fills_and_payouts", not bad,
            f"{len(bad)} accounts (id, balance, held, want): {bad[:5]}")
    c.check("winners_paid_100_per_contract", not badpay,
            f"payout/refund entries differ from 100 x winning contracts (50 x contracts on a cancel):"
            f" (account, market, outcome, entries, want) {badpay[:4]}")
    c.check("mint_legs_match_fills", not badmint,
            f"mint entries differ from the fills (account, market, paid, want): {badmint[:4]}")
    before_total = sum(rec["funds"].values())
    after_total = sum((a or {}).get("balance", 0) for a in rec["accounts"].values()) \
        + sum((e or {}).get("balance", 0) for e in rec["escrow_after"].values())
    c.check("cash_conserved", after_total == before_total,
            f"participants and escrows held {before_total} before, {after_total} after")
    nonneg(c, dict(rec["accounts"], **{f"escrow {k}": v for k, v in rec["escrow_after"].items()}))
    return {"accepted": accepted, "rejected": rejected, "errors": errors, "markets": len(rec["markets"]),
            "fills": sum(len(order(a).get("fills") or []) for a in wins),
            "pairs_minted": sum(minted.values()), "paid_out": sum(((rec["resolutions"].get(m["id"]) or {})
                                                                   .get("json") or {}).get("paid") or 0
                                                                  for m in rec["markets"]),
            "outcomes": [m["resolve"] for m in rec["markets"]], "cash_delta": after_total - before_total,
            "expected_accepted": expect}, c


# ---- running them -------------------------------------------------------------

def run_phantom_shares(stack, args):
    n, price = args.n, 100
    supply = 2 * n
    run = uuid.uuid4().hex[:8]
    h.log(f"phantom-shares {run}: a seller owning {supply} shares, {n} buyers funded {price} each")
    (seller, s_tok), = stack.create_users(f"stampede-{run}-seller", [0])
    market = stack.create_market({"kind": "shares", "title": f"stampede phantom-shares {run}",
                                    "owner": seller, "supply": supply})
    mid = market["id"]
    h.log(f"shares market {mid}: placing {n} resting sells of one share at {price}")
    placed = pmap(lambda i: stack.place(s_tok, {"market": mid, "side": "sell", "price": price,
                                                  "quantity": 1, "time_in_force": "gtc"}), list(range(n)))
    bad = [a for a in placed if a.status != 201 or order(a.record()).get("status") != "open"]
    if bad:
        raise h.SetupError(f"placing the resting sells: {bad[:3]}")
    sells = [order(a.record())["id"] for a in placed]
    buyers = stack.create_users(f"stampede-{run}-buyer", [price] * n)
    jobs = [{"method": "POST", "path": "/order", "token": tok, "key": str(uuid.uuid4()),
             "body": {"market": mid, "side": "buy", "price": price, "quantity": 1, "time_in_force": "ioc"},
             "meta": {"buyer": aid}} for aid, tok in buyers]
    random.shuffle(jobs)
    answers, figures = h.burst(stack, jobs, args.concurrency, "order", "orders")
    replays, records = h.replays(stack, jobs, answers), h.records(answers, jobs)
    view = stack.market_view(mid)
    # What each account holds, through the API: an IOC sell of what the fills say it holds
    # (at the top tick: it rests nowhere and fills nothing) is accepted, one more is refused.
    filled = {r["buyer"] for r in records if r["status"] == 201}
    nfill = sum(order(r).get("filled") or 0 for r in records if r["status"] == 201)
    tick = market["tick_max"]

    def probe(item):
        who, tok, want = item
        one = stack.place(tok, {"market": mid, "side": "sell", "price": tick, "quantity": want,
                                  "time_in_force": "ioc"}).record() if want > 0 else None
        more = stack.place(tok, {"market": mid, "side": "sell", "price": tick, "quantity": want + 1,
                                   "time_in_force": "ioc"}).record()
        return who, {"one": one, "more": more}
    h.log(f"probing {len(buyers) + 1} positions")
    probes = dict(pmap(probe, [(aid, tok, 1 if aid in filled else 0) for aid, tok in buyers]
                       + [(seller, s_tok, supply - nfill)]))
    proof, proof_detail = stack.proof()
    rec = {"n": n, "price": price, "supply": supply, "n_requests": len(jobs),
           "expect_accepted": args.expect_accepted, "dialect": stack.dialect(), "retries": figures["retries"],
           "sells": sells, "answers": records, "market": view, "seller_id": seller,
           "seller": stack.account(seller), "buyers": stack.accounts([aid for aid, _ in buyers]),
           "probes": probes, "replays": replays, "unresolved": figures["unknown"],
           "proof": proof, "proof_detail": proof_detail}
    head, c = verify_phantom_shares(rec)
    ms = figures["duration_ms"] or 0
    return dict(head, market=mid, price=price,
                fills_per_s=round(head["fills"] * 1000 / ms, 1) if ms else None,
                retries_per_fill=round(figures["retries"] / head["fills"], 3)
                if figures["retries"] is not None and head["fills"] else None), figures, proof, c, rec


def run_event_market(stack, args):
    n, k = args.n, args.markets
    run = uuid.uuid4().hex[:8]
    n_acc = max(2, (n + 5) // 6)
    h.log(f"event-market {run}: {k} event markets, {n} orders from {n_acc} accounts")
    markets = pmap(lambda i: stack.create_market({"kind": "event", "title": f"stampede event {run} #{i}"}),
                   list(range(k)))
    plan = []
    for i in range(n):
        outcome = random.choice(("yes", "no"))
        # YES 35..70 and NO 30..65: complementary (p + q = 100) and crossing (p + q > 100) pairs
        plan.append({"market": markets[i % k]["id"], "outcome": outcome,
                     "price": random.randint(35, 70) if outcome == "yes" else random.randint(30, 65),
                     "quantity": random.randint(1, 4), "acct": random.randrange(n_acc)})
    funds = [0] * n_acc
    for p in plan:
        funds[p["acct"]] += p["price"] * p["quantity"]        # exactly the worst case of its orders
    users = stack.create_users(f"stampede-{run}-trader", funds)
    jobs = [{"method": "POST", "path": "/order", "token": users[p["acct"]][1], "key": str(uuid.uuid4()),
             "body": {"market": p["market"], "side": "buy", "outcome": p["outcome"], "price": p["price"],
                      "quantity": p["quantity"], "time_in_force": "gtc"},
             "meta": {"account": users[p["acct"]][0], "market": p["market"], "outcome": p["outcome"],
                      "price": p["price"], "quantity": p["quantity"]}} for p in plan]
    random.shuffle(jobs)
    answers, figures = h.burst(stack, jobs, args.concurrency, "order", "orders")
    replays, records = h.replays(stack, jobs, answers), h.records(answers, jobs)
    ids = [m["id"] for m in markets]
    escrows = {m["id"]: m["escrow"] for m in markets}
    before = dict(zip(ids, pmap(stack.market_view, ids)))
    escrow_before = {mid: stack.account(escrows[mid]) for mid in ids}
    proof_before, proof_before_detail = stack.proof()
    specs = [{"id": m["id"], "escrow": m["escrow"], "resolve": EVENT_OUTCOMES[i % len(EVENT_OUTCOMES)]}
             for i, m in enumerate(markets)]
    h.log("resolving " + ", ".join(f"{s['id'][:8]} {s['resolve']}" for s in specs))
    resolutions = dict(pmap(lambda s: (s["id"], stack.api.call_retrying(
        "POST", f"/markets/{s['id']}/resolve", {"outcome": s["resolve"]}, stack.admin,
        str(uuid.uuid4())).record()), specs))
    after = dict(zip(ids, pmap(stack.market_view, ids)))
    escrow_after = {mid: stack.account(escrows[mid]) for mid in ids}
    accts = [aid for aid, _ in users]
    proof, proof_detail = stack.proof()
    rec = {"n": n, "n_requests": len(jobs), "expect_accepted": args.expect_accepted, "markets": specs,
           "funds": dict(zip(accts, funds)), "answers": records, "before": before,
           "escrow_before": escrow_before, "resolutions": resolutions, "after": after,
           "escrow_after": escrow_after, "accounts": stack.accounts(accts),
           "entries": dict(zip(accts, pmap(stack.entries, accts))), "replays": replays,
           "unresolved": figures["unknown"], "proof_before": proof_before,
           "proof_before_detail": proof_before_detail, "proof": proof, "proof_detail": proof_detail}
    head, c = verify_event_market(rec)
    return dict(head, accounts=n_acc), figures, proof, c, rec
