"""The verifiers' shared checks. Every verify_* function is pure: a record
(the answers and observations of a run, as --record writes it) in, a Checks
out, so a test can re-verify a real record or a doctored copy of it."""


class Checks:
    """Named checks: results {name: all passed}, failures [detail...]."""

    def __init__(self):
        self.results = {}
        self.failures = []

    def check(self, name, cond, detail=""):
        cond = bool(cond)
        self.results[name] = self.results.get(name, True) and cond
        if not cond:
            self.failures.append(f"{name}: {detail}" if detail else name)
        return cond

    @property
    def ok(self):
        return not self.failures


def is_error(a):
    """A record of a 5xx or a transport failure."""
    return a["error"] is not None or a["status"] is None or a["status"] >= 500


def count(answers):
    """(accepted (201), rejected (other 4xx and below), errors) of answer records."""
    accepted = sum(1 for a in answers if a["status"] == 201)
    errors = sum(1 for a in answers if is_error(a))
    return accepted, len(answers) - accepted - errors, errors


def bid(a):
    return (a.get("json") or {}).get("bid") or {}


def order(a):
    return (a.get("json") or {}).get("order") or {}


def replays_identical(c, rec, what="request"):
    for first, again in rec.get("replays", []):
        c.check("replay_identical", again["status"] == first["status"] and again["json"] == first["json"]
                and again["replayed"],
                f"a re-sent {what} (same key) answered {again['status']} {again['code']}"
                f" replayed={again['replayed']}, first {first['status']} {first['code']}")


def proof_consistent(c, rec, keys=("proof",)):
    for key in keys:
        if key in rec:
            c.check("proof_consistent", rec[key] in ("consistent", "unavailable"),
                    rec.get(key + "_detail") or rec[key])


def no_unresolved(c, rec, what="failed requests'"):
    c.check("no_unresolved", not rec.get("unresolved"),
            f"{rec.get('unresolved')} {what} outcomes could not be learned by re-sending")


def _answered(c, rec, answers, expect_accepted):
    accepted, rejected, errors = count(answers)
    c.check("no_errors", errors == 0, f"{errors} answers were 5xx or transport failures")
    c.check("all_answered", len(answers) == rec["n_requests"],
            f"{len(answers)} answers for {rec['n_requests']} requests")
    if expect_accepted is not None:
        c.check("accepted_count", accepted == expect_accepted,
                f"{accepted} accepted (201), expected {expect_accepted}")
    return accepted, rejected, errors


def _refusals(answers, allowed):
    return [(a["status"], a["code"]) for a in answers
            if a["status"] != 201 and not is_error(a) and not allowed(a)]


def common(c, rec, answers, expect_accepted, reject_status, reject_code):
    """The checks of every auction scenario: no errors, every request answered,
    the demanded number of 201s, every refusal reject_status reject_code (a
    code, or a tuple of the codes allowed), replays identical, /proof
    consistent, no outcome left unknown."""
    codes = reject_code if isinstance(reject_code, tuple) else (reject_code,)
    accepted, rejected, errors = _answered(c, rec, answers, expect_accepted)
    wrong = _refusals(answers, lambda a: a["status"] == reject_status and a["code"] in codes)
    c.check("rejections_" + "_or_".join(codes), not wrong,
            f"{len(wrong)} rejections were not {reject_status} {'/'.join(codes)}: {wrong[:5]}")
    replays_identical(c, rec)
    c.check("proof_consistent", rec.get("proof") in ("consistent", "unavailable"),
            rec.get("proof_detail") or rec.get("proof"))
    no_unresolved(c, rec)
    return accepted, rejected, errors


def market_common(c, rec, answers, expect_accepted):
    """Like common, for scenarios where every order must be accepted: any 4xx is wrong."""
    accepted, rejected, errors = _answered(c, rec, answers, expect_accepted)
    wrong = _refusals(answers, lambda a: False)
    c.check("no_rejections", not wrong, f"{len(wrong)} orders were refused: {wrong[:5]}")
    replays_identical(c, rec)
    proof_consistent(c, rec, ("proof", "proof_before"))
    no_unresolved(c, rec)
    return accepted, rejected, errors


def seqs(c, wins, lot):
    """The 201s' seq numbers are exactly 1..len(wins) and the lot's seq agrees."""
    got = sorted((bid(a).get("seq") for a in wins),
                 key=lambda x: (not isinstance(x, int), x if isinstance(x, int) else 0))
    c.check("seqs_contiguous", got == list(range(1, len(wins) + 1)),
            f"201 answers carry seqs {got[:10]}..., expected 1..{len(wins)}")
    c.check("lot_seq_matches_answers", lot is not None and lot.get("seq") == len(wins),
            f"lot seq {lot and lot.get('seq')} but {len(wins)} answers said 201")


def transfers_shown(c, wins, transfers, seller_of, amount_of):
    """Every 201's purchase transfer is what the server shows at GET /transfers/{id}."""
    for a in wins:
        b = bid(a)
        tid = b.get("transfer_id")
        t = transfers.get(tid) if tid else None
        c.check("transfers_shown", t is not None
                and t.get("from") == b.get("bidder") and t.get("to") == seller_of(b)
                and t.get("amount") == amount_of(b) and t.get("kind") == "purchase",
                f"bid {b.get('id')} names transfer {tid}, the server shows {t}")


def purchases_match(c, wins, entries, sign, who):
    """The purchase entries on one account are exactly the 201 answers' transfers (both ways)."""
    told = sorted((bid(a).get("transfer_id") for a in wins), key=str)
    shown = None if entries is None else sorted(
        (e.get("transfer_id") for e in entries if e.get("kind") == "purchase" and (e.get("amount") or 0) * sign > 0),
        key=str)
    c.check("purchases_match_answers", shown == told,
            f"purchase transfers on the {who}'s ledger {(shown or [])[:5]} ({'unreadable' if shown is None else len(shown)}),"
            f" the 201 answers name {told[:5]} ({len(told)})")


def nonneg(c, accounts):
    """No account negative, over-held or unreadable."""
    neg = [(k, v) for k, v in accounts.items()
           if v is None or v.get("balance", -1) < 0 or v.get("held", -1) < 0
           or v.get("held", 0) > v.get("balance", 0)]
    c.check("nobody_negative", not neg, f"negative, over-held or unreadable accounts: {neg[:5]}")
