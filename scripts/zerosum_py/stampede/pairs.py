"""split-merge: concurrent splits, merges and trades on one event market —
how it is fired (run_split_merge) and proved from the record
(verify_split_merge, pure).

N requests from max(2, N/4) accounts, each a random split or merge of 1-3
pairs, or an order (a YES/NO buy at 1-99, which mints against a resting
complement or takes a resting sell; a sell of 1-2 contracts at 1-99), all
fired together after each account split 3 pairs. While they run, one
watcher reads GET /proof (one snapshot: event_pairs_backed is escrow = 100 x
pairs, YES = NO) and another GET /markets/{id} (outstanding YES = NO), each
again and again."""
import random
import threading
import time
import uuid

from . import harness as h
from ..client import pmap
from .checks import Checks, is_error, no_unresolved, nonneg, order, proof_consistent, replays_identical

SETUP_PAIRS = 3
FUND = 2000
OK_CODES = {"split": {201: None, 422: ("insufficient_funds",)},
            "merge": {200: None, 422: ("insufficient_pairs",)},
            "order": {201: None, 422: ("insufficient_funds", "insufficient_position")}}


def _pairs_of(answers):
    """(+pairs split, -pairs merged, pairs minted by order fills, bad answers) of the answers."""
    split = merged = minted = 0
    bad = []
    for a in answers:
        j = a.get("json") or {}
        if a["action"] in ("split", "merge") and a["status"] in (200, 201):
            good = (j.get("action") == a["action"] and j.get("quantity") == a["quantity"]
                    and j.get("amount") == 100 * a["quantity"] and j.get("market") == a["market"]
                    and all(isinstance(v, int) and v >= 0 for v in (j.get("positions") or {"x": -1}).values()))
            if not good:
                bad.append(j)
            if a["action"] == "split":
                split += a["quantity"]
            else:
                merged += a["quantity"]
        elif a["action"] == "order" and a["status"] == 201:
            minted += sum(f.get("quantity") or 0 for f in order(a).get("fills") or [] if f.get("kind") == "mint")
    return split, merged, minted, bad


def verify_split_merge(rec):
    """rec: n, n_requests, market, escrow, funds {account: funded}, setup_pairs (per account),
    answers [{account, action, market, quantity, status, code, json, error}],
    watch [{read: proof|market, proof, pairs_ok, outstanding}] (a /proof read: outstanding
    None; a market read: proof "unavailable", pairs_ok true), market (GET after),
    escrow_after (account), accounts {id: account}, replays, unresolved, proof."""
    c = Checks()
    answers = rec["answers"]
    errors = sum(1 for a in answers if is_error(a))
    c.check("no_errors", errors == 0, f"{errors} answers were 5xx or transport failures")
    c.check("all_answered", len(answers) == rec["n_requests"],
            f"{len(answers)} answers for {rec['n_requests']} requests")
    wrong = [(a["action"], a["status"], a["code"]) for a in answers if not is_error(a)
             and not (a["status"] in OK_CODES[a["action"]]
                      and (OK_CODES[a["action"]][a["status"]] is None
                           or a["code"] in OK_CODES[a["action"]][a["status"]]))]
    c.check("expected_answers", not wrong,
            f"answers other than accepted, insufficient_funds/pairs/position: {wrong[:5]}")
    split, merged, minted, bad = _pairs_of(answers)
    c.check("pair_answers_exact", not bad, f"{len(bad)} split/merge answers do not say 100 x quantity: {bad[:2]}")
    setup = rec["setup_pairs"] * len(rec["funds"])
    want = setup + split - merged + minted
    m = rec["market"] or {}
    out = m.get("outstanding") or {}
    c.check("outstanding_yes_eq_no", out.get("yes", 0) == out.get("no", 0) == want,
            f"outstanding {out}, the answers say {setup} + {split} split - {merged} merged"
            f" + {minted} minted = {want}")
    e = rec["escrow_after"]
    c.check("escrow_100_per_pair", e is not None and e.get("balance") == 100 * want and e.get("held") == 0,
            f"escrow {e}, 100 x {want} pairs outstanding")
    badw = [w for w in rec["watch"] if not (w["pairs_ok"] and w["proof"] in ("consistent", "unavailable"))
            or (w["read"] == "market" and (not w["outstanding"]
                                           or w["outstanding"].get("yes", 0) != w["outstanding"].get("no", 0)))]
    reads = [w for w in rec["watch"] if w["read"] == "proof"], [w for w in rec["watch"] if w["read"] == "market"]
    c.check("backed_throughout", reads[0] and reads[1] and not badw,
            f"{len(badw)} of {len(rec['watch'])} reads during the burst saw YES != NO or escrow != 100 x pairs:"
            f" {badw[:3]}")
    total = sum(rec["funds"].values())
    held = sum((a or {}).get("balance", 0) for a in rec["accounts"].values()) + ((e or {}).get("balance") or 0)
    c.check("cash_conserved", held == total, f"accounts and escrow hold {held}, they were funded {total}")
    replays_identical(c, rec, "request")
    proof_consistent(c, rec)
    no_unresolved(c, rec)
    nonneg(c, dict(rec["accounts"], escrow=e))
    return {"accepted": sum(1 for a in answers if a["status"] in (200, 201)),
            "rejected": sum(1 for a in answers if not is_error(a) and a["status"] not in (200, 201)),
            "errors": errors, "split": split, "merged": merged, "minted": minted, "pairs": want,
            "watch_reads": len(rec["watch"]), "proof_reads": len(reads[0])}, c


def _job(mid, accounts):
    aid, tok = random.choice(accounts)
    kind = random.choice(("split", "merge", "order", "order"))
    if kind in ("split", "merge"):
        q = random.randint(1, 3)
        return {"method": "POST", "path": f"/markets/{mid}/{kind}", "token": tok, "key": str(uuid.uuid4()),
                "body": {"quantity": q}, "meta": {"account": aid, "action": kind, "market": mid, "quantity": q}}
    side = random.choice(("buy", "buy", "sell"))
    body = {"market": mid, "side": side, "outcome": random.choice(("yes", "no")), "price": random.randint(1, 99),
            "quantity": random.randint(1, 3) if side == "buy" else random.randint(1, 2),
            "time_in_force": random.choice(("gtc", "ioc"))}
    return {"method": "POST", "path": "/order", "token": tok, "key": str(uuid.uuid4()), "body": body,
            "meta": {"account": aid, "action": "order", "market": mid, "quantity": body["quantity"]}}


def _watch_proof(stack, stop, out):
    """Read /proof until stop is set (at least once): event_pairs_backed in one snapshot."""
    while True:
        a = stack.api.call_retrying("GET", "/proof", token=stack.admin)
        j = a.json if isinstance(a.json, dict) else {}
        pairs_ok = any(c.get("name") == "event_pairs_backed" and c.get("ok") for c in j.get("checks", [])
                       if isinstance(c, dict)) or a.status == 404
        proof = "unavailable" if a.status == 404 else "consistent" if j.get("consistent") is True else "inconsistent"
        out.append({"read": "proof", "proof": proof, "pairs_ok": pairs_ok, "outstanding": None})
        if stop.is_set():
            return
        time.sleep(0.05)


def _watch_market(stack, mid, stop, out):
    """Read the market's outstanding contracts (one snapshot) until stop is set (at least once)."""
    while True:
        out.append({"read": "market", "proof": "unavailable", "pairs_ok": True,
                    "outstanding": (stack.market_view(mid) or {}).get("outstanding")})
        if stop.is_set():
            return
        time.sleep(0.02)


def run_split_merge(stack, args):
    n = args.n
    run = uuid.uuid4().hex[:8]
    k = max(2, n // 4)
    h.log(f"split-merge {run}: {k} accounts funded {FUND}, {SETUP_PAIRS} pairs each, {n} random requests")
    market = stack.create_market({"kind": "event", "title": f"stampede split-merge {run}"})
    mid = market["id"]
    accounts = stack.create_users(f"stampede-{run}-trader", [FUND] * k)
    setup = pmap(lambda at: stack.api.call_retrying("POST", f"/markets/{mid}/split", {"quantity": SETUP_PAIRS},
                                                    at[1], str(uuid.uuid4())), accounts)
    bad = [a for a in setup if a.status != 201]
    if bad:
        raise h.SetupError(f"the setup splits: {bad[:3]}")
    jobs = [_job(mid, accounts) for _ in range(n)]
    proof_reads, market_reads, stop = [], [], threading.Event()
    watchers = [threading.Thread(target=_watch_proof, args=(stack, stop, proof_reads), daemon=True),
                threading.Thread(target=_watch_market, args=(stack, mid, stop, market_reads), daemon=True)]
    for w in watchers:
        w.start()
    try:
        answers, figures = h.burst(stack, jobs, args.concurrency, "markets", "splits, merges and orders")
    finally:
        stop.set()
        for w in watchers:
            w.join(60)
    watch = proof_reads + market_reads
    rep, recs, proof, detail = h.observe(stack, jobs, answers)
    rec = {"n": n, "n_requests": len(jobs), "market": stack.market_view(mid), "escrow": market["escrow"],
           "funds": {aid: FUND for aid, _ in accounts}, "setup_pairs": SETUP_PAIRS, "answers": recs,
           "watch": watch, "escrow_after": stack.account(market["escrow"]),
           "accounts": stack.accounts([aid for aid, _ in accounts]), "replays": rep,
           "unresolved": figures["unknown"], "proof": proof, "proof_detail": detail}
    head, c = verify_split_merge(rec)
    return dict(head, market=mid), figures, proof, c, rec
