"""Order-type scenarios: fok-storm (fill-or-kill buys racing a thin book) —
how it is fired (run_fok_storm) and proved from the record (verify_fok_storm,
pure)."""
import random
import uuid

from . import harness as h
from ..client import pmap
from .checks import Checks, is_error, no_unresolved, nonneg, order, proof_consistent, replays_identical


def verify_fok_storm(rec):
    """rec: n, n_requests, supply, asks [{id, price, quantity}], funds {buyer: funded},
    answers [{buyer, price, quantity, status, code, json, error}], market (GET after),
    buyers {id: account}, seller (account), seller_id, replays, proof."""
    c = Checks()
    answers, asks = rec["answers"], {a["id"]: a for a in rec["asks"]}
    errors = sum(1 for a in answers if is_error(a))
    c.check("no_errors", errors == 0, f"{errors} answers were 5xx or transport failures")
    c.check("all_answered", len(answers) == rec["n_requests"],
            f"{len(answers)} answers for {rec['n_requests']} requests")
    wins = [a for a in answers if a["status"] == 201]
    killed = [a for a in answers if a["status"] == 409 and a["code"] == "order_killed"]
    other = [(a["status"], a["code"]) for a in answers
             if not is_error(a) and a not in wins and a not in killed]
    c.check("filled_or_killed", not other, f"answers neither 201 nor 409 order_killed: {other[:5]}")
    partial, used, spent = [], {}, {}
    for a in wins:
        o = order(a)
        fs = o.get("fills") or []
        q = sum(f.get("quantity") or 0 for f in fs)
        if not (o.get("status") == "filled" and o.get("filled") == a["quantity"] == q
                and o.get("remaining") == 0 and o.get("time_in_force") == "fok"
                and all(f.get("maker_order") in asks and (f.get("price") or 0) <= a["price"]
                        and f.get("price") == asks[f["maker_order"]]["price"] for f in fs)):
            partial.append(o)
        for f in fs:
            used[f.get("maker_order")] = used.get(f.get("maker_order"), 0) + (f.get("quantity") or 0)
        spent[a["buyer"]] = spent.get(a["buyer"], 0) + sum((f.get("price") or 0) * (f.get("quantity") or 0)
                                                           for f in fs)
    c.check("fills_complete", not partial,
            f"{len(partial)} accepted fok orders are not filled completely at or under their limit: {partial[:2]}")
    badk = [a for a in killed if not (0 <= (a.get("json") or {}).get("fillable", -1) < a["quantity"])]
    c.check("killed_short", not badk, f"{len(badk)} killed answers claim enough was fillable: {badk[:2]}")
    over = [(k, q, asks[k]["quantity"]) for k, q in used.items() if k in asks and q > asks[k]["quantity"]]
    c.check("no_overfill", not over, f"asks filled beyond their quantity (id, filled, quantity): {over[:5]}")
    filled = sum(used.values())
    book = ((rec["market"] or {}).get("book") or {}).get("shares") or {}
    left = sum(q for _, q in book.get("asks") or [])
    total = sum(a["quantity"] for a in rec["asks"])
    c.check("book_matches_fills", left == total - filled and not book.get("bids"),
            f"asks left {left}, resting {total} - filled {filled}; bids {book.get('bids')}")
    out = (((rec["market"] or {}).get("outstanding")) or {}).get("shares")
    c.check("supply_conserved", out == rec["supply"], f"positions sum to {out}, supply {rec['supply']}")
    badb = [(b, acc) for b, acc in rec["buyers"].items()
            if acc is None or acc.get("held") != 0 or acc.get("balance") != rec["funds"][b] - spent.get(b, 0)]
    c.check("killed_wrote_nothing", not badb,
            f"{len(badb)} buyers' cash is not funded - their fills (a killed order moved money?): {badb[:3]}")
    s = rec["seller"]
    earned = sum(spent.values())
    c.check("seller_credited", s is not None and s.get("balance") == earned,
            f"seller balance {s and s.get('balance')}, the fills paid {earned}")
    replays_identical(c, rec, "order")
    proof_consistent(c, rec)
    no_unresolved(c, rec)
    nonneg(c, dict(rec["buyers"], seller=s))
    return {"accepted": len(wins), "rejected": len(answers) - len(wins) - errors, "errors": errors,
            "killed": len(killed), "units_filled": filled, "units_resting": total,
            "units_left": left}, c


def run_fok_storm(stack, args):
    n = args.n
    run = uuid.uuid4().hex[:8]
    levels = max(2, n // 4)
    asks = [{"price": random.randint(10, 15), "quantity": random.randint(1, 3)} for _ in range(levels)]
    supply = sum(a["quantity"] for a in asks) + 10
    h.log(f"fok-storm {run}: {levels} thin asks ({supply - 10} units), {n} fill-or-kill buyers")
    (seller, s_tok), = stack.create_users(f"stampede-{run}-seller", [0])
    market = stack.create_market({"kind": "shares", "title": f"stampede fok-storm {run}", "owner": seller,
                                  "supply": supply})
    mid = market["id"]
    placed = pmap(lambda a: stack.place(s_tok, {"market": mid, "side": "sell", "price": a["price"],
                                                "quantity": a["quantity"]}), asks)
    bad = [p for p in placed if p.status != 201 or order(p.record()).get("status") != "open"]
    if bad:
        raise h.SetupError(f"placing the asks: {bad[:3]}")
    for a, p in zip(asks, placed):
        a["id"] = order(p.record())["id"]
    plan = [{"price": random.randint(10, 15), "quantity": random.randint(1, 4)} for _ in range(n)]
    funds = [p["price"] * p["quantity"] for p in plan]
    buyers = stack.create_users(f"stampede-{run}-buyer", funds)
    jobs = [{"method": "POST", "path": "/order", "token": tok, "key": str(uuid.uuid4()),
             "body": {"market": mid, "side": "buy", "price": p["price"], "quantity": p["quantity"],
                      "time_in_force": "fok"},
             "meta": {"buyer": aid, "price": p["price"], "quantity": p["quantity"]}}
            for (aid, tok), p in zip(buyers, plan)]
    random.shuffle(jobs)
    answers, figures = h.burst(stack, jobs, args.concurrency, "order", "orders")
    rep, recs, proof, detail = h.observe(stack, jobs, answers)
    rec = {"n": n, "n_requests": len(jobs), "supply": supply, "asks": asks,
           "funds": {aid: f for (aid, _), f in zip(buyers, funds)}, "answers": recs,
           "market": stack.market_view(mid), "buyers": stack.accounts([aid for aid, _ in buyers]),
           "seller": stack.account(seller), "seller_id": seller, "replays": rep,
           "unresolved": figures["unknown"], "proof": proof, "proof_detail": detail}
    head, c = verify_fok_storm(rec)
    return dict(head, market=mid), figures, proof, c, rec
