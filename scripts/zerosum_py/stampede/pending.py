"""pending-storm: N payers each hold a pending transfer, then post (in part or
whole) or void it, all together, while the jobs child expires others (run_*),
and the pure proof of the outcome from the record (verify_*)."""
import random
import time
import uuid

from . import harness as h
from ..client import pmap
from .checks import Checks, count, is_error, no_unresolved, proof_consistent, replays_identical

STORM_FUND = 1000          # each payer's opening balance
SHORT_TIMEOUT = 1          # seconds: the ones left to expire (and some raced by a post or void)
LONG_TIMEOUT = 600
CLOSE_CODES = {"posted": "transfer_already_posted", "voided": "transfer_already_voided",
               "expired": "transfer_expired"}


def _t(a):
    return (a.get("json") or {}).get("transfer") or {}


def verify_pending_storm(rec):
    """rec: n, fund, money_sum (money_conserved's observed sum), holds [{payer, payee, amount, plan, status, code, json, error}],
    actions [{payer, action, amount, status, code, json, error}], pendings {id: transfer as
    GET shows it}, payers {id: account}, payees {id: account}, posted {transfer id: transfer},
    n_requests, replays, unresolved, proof, proof_detail."""
    c = Checks()
    holds, actions = rec["holds"], rec["actions"]
    answers = holds + actions
    _, _, errors = count(answers)
    # accepted: the holds made (201) and the posts and voids that closed one (200)
    accepted = sum(1 for a in holds if a["status"] == 201) + sum(1 for a in actions if a["status"] == 200)
    rejected = len(answers) - accepted - errors
    c.check("no_errors", errors == 0, f"{errors} answers were 5xx or transport failures")
    c.check("all_answered", len(answers) == rec["n_requests"],
            f"{len(answers)} answers for {rec['n_requests']} requests")
    c.check("every_hold_accepted", all(a["status"] == 201 and _t(a).get("status") == "pending" for a in holds),
            f"holds not answered 201 pending: {[(a['status'], a['code']) for a in holds if a['status'] != 201][:5]}")
    by_payer = {a["payer"]: a for a in holds}
    still, wrong, moved = [], [], []
    for a in holds:
        pid = _t(a).get("id")
        final = rec["pendings"].get(pid) or {}
        st = final.get("status")
        if st not in ("posted", "voided", "expired"):
            still.append((pid, st))
            continue
        if st == "posted":
            t = rec["posted"].get(final.get("posted_transfer")) or {}
            pa = final.get("posted_amount")
            if not (isinstance(pa, int) and 1 <= pa <= a["amount"] and t.get("amount") == pa
                    and t.get("from") == a["payer"] and t.get("to") == a["payee"]):
                moved.append((pid, pa, t))
        elif final.get("posted_amount") is not None or final.get("posted_transfer") is not None:
            moved.append((pid, final.get("posted_amount"), final.get("posted_transfer")))
    c.check("none_left_pending", not still, f"{len(still)} pending transfers did not end: {still[:5]}")
    c.check("posted_moved_exactly", not moved, f"closed transfers that moved the wrong thing: {moved[:5]}")
    for a in actions:
        hold = by_payer.get(a["payer"]) or {}
        final = rec["pendings"].get(_t(hold).get("id")) or {}
        st = final.get("status")
        if a["status"] == 200:
            good = _t(a).get("status") == st and st == ("posted" if a["action"] == "post" else "voided")
            if good and a["action"] == "post":
                good = final.get("posted_amount") == (a["amount"] if a["amount"] is not None else hold["amount"])
        else:
            good = a["status"] == 409 and a["code"] == CLOSE_CODES.get(st)
        if not good:
            wrong.append((a["payer"][:8], a["action"], a["status"], a["code"], st))
    c.check("answers_match_outcome", not wrong,
            f"{len(wrong)} post/void answers disagree with how their transfer ended: {wrong[:5]}")
    one_winner = [p for p, n in _wins(actions).items() if n > 1]
    c.check("one_winner_each", not one_winner, f"transfers closed twice by the answers: {one_winner[:5]}")
    bad = []
    for payer, hold in by_payer.items():
        final = rec["pendings"].get(_t(hold).get("id")) or {}
        paid = final.get("posted_amount") or 0
        acc, dst = rec["payers"].get(payer), rec["payees"].get(hold["payee"])
        if acc is None or acc.get("balance") != rec["fund"] - paid or acc.get("held") != 0:
            bad.append(("payer", payer[:8], acc and acc.get("balance"), acc and acc.get("held"), rec["fund"] - paid))
        if dst is None or dst.get("balance") != paid or dst.get("held") != 0:
            bad.append(("payee", hold["payee"][:8], dst and dst.get("balance"), dst and dst.get("held"), paid))
    c.check("balances_match_outcome", not bad,
            f"{len(bad)} accounts disagree with how their transfer ended (who, id, balance, held, want): {bad[:5]}")
    held = sum((v or {}).get("held", 1) for v in list(rec["payers"].values()) + list(rec["payees"].values()))
    c.check("held_zero_everywhere", held == 0, f"held still {held} across the run's accounts")
    total = sum((v or {}).get("balance", 0) for v in list(rec["payers"].values()) + list(rec["payees"].values()))
    c.check("sum_conserved", total == rec["fund"] * rec["n"],
            f"the run's accounts hold {total}, {rec['fund']} x {rec['n']} were issued to them")
    c.check("ledger_sums_to_zero", rec.get("money_sum") == 0,
            f"GET /proof says the balances of all accounts sum to {rec.get('money_sum')}")
    replays_identical(c, rec)
    proof_consistent(c, rec)
    no_unresolved(c, rec)
    counts = {"posted": 0, "voided": 0, "expired": 0}
    for p in rec["pendings"].values():
        if (p or {}).get("status") in counts:
            counts[p["status"]] += 1
    return dict({"accepted": accepted, "rejected": rejected, "errors": errors, "held": held, "sum": total},
                **counts), c


def _wins(actions):
    out = {}
    for a in actions:
        if a["status"] == 200:
            out[a["payer"]] = out.get(a["payer"], 0) + 1
    return out


def _wait_closed(stack, ids, seconds=60):
    """GET every pending transfer until none is pending (the jobs child expires
    the short ones), at most `seconds`; the last views."""
    deadline = time.monotonic() + seconds
    views = {}
    while True:
        views = dict(zip(ids, pmap(stack.transfer, ids)))
        left = [i for i, v in views.items() if v is None or v.get("status") == "pending"]
        held = [a for a in pmap(lambda i: stack.account(views[i]["from"]) if views[i] else None, ids)
                if a is None or a.get("held")]
        if (not left and not held) or time.monotonic() > deadline:
            return views
        time.sleep(0.3)


def run_pending_storm(stack, args):
    n = args.n
    run = uuid.uuid4().hex[:8]
    h.log(f"pending-storm {run}: {n} payers funded {STORM_FUND} each, {n} payees")
    payers = stack.create_users(f"stampede-{run}-payer", [STORM_FUND] * n)
    payees = [aid for aid, _ in stack.create_users(f"stampede-{run}-payee", [0] * n)]
    # a third expire untouched, a sixth are raced by a post or void at their deadline, the rest are
    # posted (whole or in part) or voided long before theirs
    plans = [("expire", "expire", "race", "act", "act", "act")[i % 6] for i in range(n)]
    random.shuffle(plans)
    holds = []
    for (payer, tok), payee, plan in zip(payers, payees, plans):
        amount = random.randint(100, STORM_FUND)
        timeout = LONG_TIMEOUT if plan == "act" else SHORT_TIMEOUT
        holds.append({"method": "POST", "path": "/transfer", "token": tok, "key": str(uuid.uuid4()),
                      "body": {"from": payer, "to": payee, "amount": amount, "pending": True, "timeout": timeout},
                      "meta": {"payer": payer, "payee": payee, "amount": amount, "plan": plan}})
    hold_answers, f1 = h.burst(stack, holds, args.concurrency, "transfer", "pending holds")
    hold_recs = h.records(hold_answers, holds)
    acts = []
    for job, a in zip(holds, hold_answers):
        pid = ((a.json or {}).get("transfer") or {}).get("id") if a.status == 201 else None
        meta = job["meta"]
        if not pid or meta["plan"] == "expire":
            continue
        action = random.choice(("post", "post", "void"))
        amount = random.choice((None, random.randint(1, meta["amount"]))) if action == "post" else None
        body = {} if amount is None else {"amount": amount}
        acts.append({"method": "POST", "path": f"/transfers/{pid}/{action}", "token": job["token"],
                     "key": str(uuid.uuid4()), "body": body,
                     "meta": {"payer": meta["payer"], "action": action, "amount": amount}})
    random.shuffle(acts)
    # the raced ones reach their deadline about now: the jobs child expires them while these fly
    wait = SHORT_TIMEOUT - f1["duration_ms"] / 1000.0
    if wait > 0:
        time.sleep(wait)
    act_answers, f2 = h.burst(stack, acts, args.concurrency, "transfers", "posts and voids")
    replays = h.replays(stack, acts, act_answers)
    act_recs = h.records(act_answers, acts)
    ids = [((a.get("json") or {}).get("transfer") or {}).get("id") for a in hold_recs]
    ids = [i for i in ids if i]
    views = _wait_closed(stack, ids)
    posted_ids = [v.get("posted_transfer") for v in views.values() if v and v.get("posted_transfer")]
    proof, proof_detail = stack.proof()
    money = stack.api.call_retrying("GET", "/proof", token=stack.admin)
    sums = [ck.get("observed") for ck in ((money.json or {}).get("checks") or []) if isinstance(ck, dict)
            and ck.get("name") == "money_conserved"]
    rec = {"money_sum": sums[0] if sums else None, "n": n, "fund": STORM_FUND, "holds": hold_recs, "actions": act_recs, "pendings": views,
           "payers": stack.accounts([p for p, _ in payers]), "payees": stack.accounts(payees),
           "posted": stack.transfers(posted_ids), "n_requests": len(holds) + len(acts), "replays": replays,
           "unresolved": f1["unknown"] + f2["unknown"], "proof": proof, "proof_detail": proof_detail}
    head, c = verify_pending_storm(rec)
    figures = {"duration_ms": f1["duration_ms"] + f2["duration_ms"],
               "retries": None if f1["retries"] is None or f2["retries"] is None else f1["retries"] + f2["retries"],
               "client_retries": f1["client_retries"] + f2["client_retries"],
               "max_in_flight": max(f1["max_in_flight"], f2["max_in_flight"]),
               "failed": f1["failed"] + f2["failed"], "unknown": f1["unknown"] + f2["unknown"]}
    return head, figures, proof, c, rec


__all__ = ["run_pending_storm", "verify_pending_storm", "is_error"]
