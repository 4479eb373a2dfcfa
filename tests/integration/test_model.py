"""A model-based test of the whole API: a hypothesis RuleBasedStateMachine drives
random interleavings of every operation through the real stack (nginx → FastCGI →
PgBouncer → PostgreSQL) and checks every status, every body and every balance
against a pure Python reference model written from README.md ("API",
"Guarantees", the error code table), not from the C code.

Operations: transfers (own, someone else's account, unknown payee, same
account), admin funding and account creation, retries of a recorded key (same
request, the RFC 8941 quoted form of the key, an altered body), a key reused by
another caller; English / Dutch / drop lots and bids on them; shares and event
markets, orders (gtc/ioc, buy/sell, YES/NO mints, self-trade prevention),
cancels and resolutions; reads of accounts, transfers, lots, books, /proof.

The clock: an English lot's end and a Dutch lot's elapsed intervals are moved in
the database (`ends_at`, `starts_at`), never waited for; the settlement is then
observed either by reading the lot (close-on-read) or by polling the database,
bounded, until the jobs child's sweep has settled it. No outcome depends on
scheduling.

After every step every model account's balance/held/available, every lot, every
book and every position is compared with the stack; /proof must be 200 with all
checks passing every PROOF_EVERY steps and at the end of each example.

Knobs: ZS_MODEL_EXAMPLES (default 30; hypothesis makes the first ~10 minimal), ZS_MODEL_STEPS (30); ZS_MODEL_SEED=N
replays a seeded run; ZS_MODEL_RANDOM=1 picks (and prints) a random seed, else
the run is derandomized (fixed); ZS_MODEL_SHRINK=1 shrinks a failure;
ZS_MODEL_BLOB=... replays a printed @reproduce_failure blob.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import collections
import random
import traceback

# hypothesis' scratch directory goes under the stack's var/, not the work tree
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(ZS_VAR, "hypothesis"))
import hypothesis
from hypothesis import HealthCheck, Phase, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

EXAMPLES = int(os.environ.get("ZS_MODEL_EXAMPLES", "30"))
STEPS = int(os.environ.get("ZS_MODEL_STEPS", "30"))
PROOF_EVERY = 10
MAX_ACCOUNTS = 6
RUN = new_key()[:8]          # admin keys are scoped to one admin across runs: keep them unique
STATS = collections.Counter()
KEYS = [0]
# ZS_MODEL_SKIP=quoted: retry in the bare form only (to triage other rules while that one fails)
SKIP = set(filter(None, os.environ.get("ZS_MODEL_SKIP", "").split(",")))

# README: codes whose rejection is "stored under the key" and replayed.
STORED_CODES = {"from_account_not_found", "to_account_not_found", "bidder_account_not_found",
                "seller_not_found", "insufficient_funds", "insufficient_position", "quantity_over_limit"}
PROBLEM_FIELDS = ("type", "title", "status", "code", "detail", "request_id")
NOT_LIVE = {"lot_ended", "lot_not_live"}   # README does not say which one a closed lot answers


class Acct:
    def __init__(self, aid, tok, name):
        self.id, self.tok, self.name = aid, tok, name
        self.bal = 0
        self.held = 0

    def avail(self):
        return self.bal - self.held

    def __repr__(self):
        return f"{self.name}({self.id[:8]} bal={self.bal} held={self.held})"


class Rec:
    """A recorded keyed request and the answer that must be replayed for it."""
    def __init__(self, caller, tok, method, path, body, key, resp):
        self.caller, self.tok, self.method, self.path, self.body, self.key = caller, tok, method, path, body, key
        self.status, self.json = resp.status, resp.json

    def __repr__(self):
        return f"{self.method} {self.path} {self.body} key={self.key} -> {self.status}"


def check_problem(r, allowed, what):
    """r must be a problem+json whose (status, code) is one of allowed; returns its code."""
    got = (r.status, r.code)
    assert got in allowed, f"{what}: got {r.status} {r.body[:300]}; expected one of {sorted(allowed)}"
    assert r.headers.get("content-type", "").startswith("application/problem+json"), f"{what}: content-type {r.headers}"
    missing = [f for f in PROBLEM_FIELDS if f not in (r.json or {})]
    assert not missing and r.json["status"] == r.status, f"{what}: problem body lacks {missing}: {r.body[:300]}"
    return r.code


def expect(r, status, what):
    assert r.status == status, f"{what}: got {r.status} {r.body[:400]}; expected {status}"
    return r.json


def altered(body):
    """The same request with one member changed (for idempotency_key_reused)."""
    b = dict(body)
    for f in ("amount", "quantity", "price", "start", "supply", "max_price"):
        if isinstance(b.get(f), int):
            b[f] += 1
            return b
    if b.get("outcome") in ("yes", "no", "cancel"):
        b["outcome"] = {"yes": "no", "no": "cancel", "cancel": "yes"}[b["outcome"]]
        return b
    for f in ("name", "title", "memo"):
        if isinstance(b.get(f), str):
            b[f] += "x"
            return b
    # a claim {"lot"} alone: another (valid, unknown) lot; an unknown member would be refused by
    # validation first, and the README does not order validation against the key check
    b["lot"] = "00000000-0000-4000-8000-00000000abcd"
    return b


class ApiModel(RuleBasedStateMachine):

    def __init__(self):
        super().__init__()
        self.admin = admin_token()
        self.accts = []
        self.keys = {}          # (caller id, key) -> Rec
        self.replayable = []    # Recs with a stored answer
        self.transfers = {}     # id -> (from, to, body)
        self.lots = {}          # id -> dict
        self.markets = {}       # id -> dict
        self.orders = {}        # id -> dict
        self.pos = {}           # (market, account, outcome) -> [quantity, held, cost]
        self.nkey = 0
        self.steps = 0

    # ---- plumbing ---------------------------------------------------------

    def key(self):
        # one counter for the whole run: the admin caller is shared by every example
        KEYS[0] += 1
        return f"m-{RUN}-{KEYS[0]}"

    def acct(self, aid):
        for a in self.accts:
            if a.id == aid:
                return a
        return None

    def mutate(self, caller, tok, method, path, body, key=None, quoted=False):
        """A keyed mutation; records it for retries when its answer is stored."""
        key = key or self.key()
        hdr = f'"{key}"' if quoted and "quoted" not in SKIP else key
        r = request(method, path, body=body, token=tok, key=hdr)
        stored = 200 <= r.status < 300 or r.code in STORED_CODES
        if stored:
            assert r.headers.get("idempotent-replayed") != "true", f"{path}: a fresh key answered as a replay: {r}"
            rec = Rec(caller, tok, method, path, body, key, r)
            self.keys[(caller, key)] = rec
            self.replayable.append(rec)
        STATS[f"{method} {path.split('/')[1]} {r.status} {r.code or ''}".strip()] += 1
        return r

    def new_account(self, name):
        r = self.mutate("admin", self.admin, "POST", "/accounts", {"name": name})
        j = expect(r, 201, "POST /accounts")["account"]
        assert (j["name"], j["balance"], j["held"], j["available"]) == (name, 0, 0, 0), f"new account {j}"
        a = Acct(j["id"], token(j["id"]), name)
        self.accts.append(a)
        return a

    def fund(self, a, amount):
        body = {"from": ISSUER, "to": a.id, "amount": amount}
        r = self.mutate("admin", self.admin, "POST", "/transfer", body)
        t = expect(r, 201, "admin funding")["transfer"]
        assert (t["from"], t["to"], t["amount"]) == (ISSUER, a.id, amount), f"funding body {t}"
        self.transfers[t["id"]] = (ISSUER, a.id, r.json)
        a.bal += amount

    def release_order(self, o):
        """Cancel a resting order in the model, releasing what it holds."""
        if o["side"] == "buy":
            self.acct(o["acct"]).held -= o["remaining"] * o["price"]
        else:
            self.pos[(o["market"], o["acct"], o["outcome"])][1] -= o["remaining"]
        o["status"] = "cancelled"

    # ---- setup ------------------------------------------------------------

    @initialize(data=st.data(), funds=st.lists(st.integers(0, 5000), min_size=4, max_size=4))
    def setup(self, data, funds):
        STATS["examples"] += 1
        for i, f in enumerate(funds):
            a = self.new_account(f"model-{i}")
            if f:
                self.fund(a, f)
        # one market of each kind from the start, so orders interleave with everything else
        self.new_market(data, "event", 0)
        self.new_market(data, "shares", funds[1] % 20 + 5)

    # ---- transfers --------------------------------------------------------

    @rule(data=st.data(), variant=st.sampled_from(["ok", "ok", "ok", "unknown_to", "same", "not_owner", "borrowed_key"]),
          amount=st.integers(1, 3000), memo=st.one_of(st.none(), st.text("abc xyz", min_size=1, max_size=8)),
          quoted=st.booleans())
    def transfer(self, data, variant, amount, memo, quoted):
        a = data.draw(st.sampled_from(self.accts), label="payer")
        others = [x for x in self.accts if x is not a]
        to = data.draw(st.sampled_from(others), label="payee").id
        frm, key = a.id, None
        if variant == "unknown_to":
            to = str(data.draw(st.uuids(), label="unknown"))
        elif variant == "same":
            to = a.id
        elif variant == "not_owner":
            frm, to = to, a.id
        elif variant == "borrowed_key":
            # a key another caller already used is a fresh key for this caller (keys are scoped to the caller)
            mine = {k for (c, k) in self.keys if c == a.id}
            theirs = [k for (c, k) in self.keys if c not in (a.id, "admin") and k not in mine]
            if theirs:
                key = data.draw(st.sampled_from(theirs), label="key")
        body = {"from": frm, "to": to, "amount": amount}
        if memo is not None:
            body["memo"] = memo
        r = self.mutate(a.id, a.tok, "POST", "/transfer", body, key=key, quoted=quoted)
        if variant == "same":
            check_problem(r, {(422, "same_account")}, "transfer to itself")
            return
        if variant == "not_owner":
            check_problem(r, {(403, "not_account_owner")}, "transfer out of another's account")
            return
        allowed = set()
        if variant == "unknown_to":
            allowed.add((422, "to_account_not_found"))
        if amount > a.avail():
            allowed.add((422, "insufficient_funds"))
        if allowed:
            check_problem(r, allowed, "refused transfer")
            return
        t = expect(r, 201, "transfer")["transfer"]
        want = {"from": a.id, "to": to, "amount": amount, "memo": memo}
        got = {k: t.get(k) for k in want}
        assert got == want and t.get("id") and t.get("created_at"), f"transfer body {t}, expected {want}"
        a.bal -= amount
        self.acct(to).bal += amount
        self.transfers[t["id"]] = (a.id, to, r.json)

    @precondition(lambda self: len(self.accts) < MAX_ACCOUNTS)
    @rule(amount=st.integers(0, 3000))
    def admin_new_account(self, amount):
        a = self.new_account(f"model-{len(self.accts)}")
        if amount:
            self.fund(a, amount)

    @rule(data=st.data(), amount=st.integers(1, 3000))
    def admin_funds(self, data, amount):
        self.fund(data.draw(st.sampled_from(self.accts)), amount)

    # ---- retries ----------------------------------------------------------

    @precondition(lambda self: self.replayable)
    @rule(data=st.data(), variant=st.sampled_from(["same", "quoted", "altered", "altered_quoted"]))
    def retry(self, data, variant):
        if variant.endswith("quoted") and "quoted" in SKIP:
            variant = variant[:-len("_quoted")] if variant != "quoted" else "same"
        rec = data.draw(st.sampled_from(self.replayable), label="recorded request")
        quoted = variant.endswith("quoted")
        hdr = f'"{rec.key}"' if quoted else rec.key
        body = rec.body
        if variant.startswith("altered") and rec.body is not None:
            body = altered(rec.body)
        else:
            variant = "same" if not quoted else "quoted"
        r = request(rec.method, rec.path, body=body, token=rec.tok, key=hdr)
        STATS[f"retry {variant} {r.status}"] += 1
        what = f"retry ({variant}) of {rec.method} {rec.path} {rec.body} key {hdr}"
        if variant.startswith("altered"):
            check_problem(r, {(422, "idempotency_key_reused")}, what)
            return
        assert (r.status, r.json) == (rec.status, rec.json), \
            f"{what}: got {r.status} {r.body[:300]}\nstored {rec.status} {rec.json}"
        assert r.headers.get("idempotent-replayed") == "true", f"{what}: no Idempotent-Replayed: true"

    # ---- reads ------------------------------------------------------------

    @precondition(lambda self: self.transfers)
    @rule(data=st.data(), who=st.sampled_from(["party", "party", "stranger", "unknown"]))
    def read_transfer(self, data, who):
        tid = data.draw(st.sampled_from(list(self.transfers)), label="transfer")
        frm, to, created = self.transfers[tid]
        if who == "unknown":
            r = get(f"/transfers/{data.draw(st.uuids())}", token=self.admin)
            check_problem(r, {(404, "transfer_not_found")}, "unknown transfer")
            return
        parties = [a for a in self.accts if a.id in (frm, to)]
        strangers = [a for a in self.accts if a.id not in (frm, to)]
        if who == "stranger" and strangers:
            r = get(f"/transfers/{tid}", token=data.draw(st.sampled_from(strangers)).tok)
            check_problem(r, {(404, "transfer_not_found")}, "a stranger reads a transfer: as if it did not exist")
            return
        tok = data.draw(st.sampled_from(parties)).tok if parties else self.admin
        r = get(f"/transfers/{tid}", token=tok)
        assert (r.status, r.json) == (200, created), f"GET /transfers/{tid}: {r}\nexpected {created}"

    @rule(data=st.data())
    def read_other_account(self, data):
        a, b = data.draw(st.permutations(self.accts))[:2]
        check_problem(get(f"/accounts/{b.id}", token=a.tok), {(404, "account_not_found")},
                      "reading another's account: as if it did not exist")
        check_problem(get(f"/accounts/{data.draw(st.uuids())}", token=self.admin), {(404, "account_not_found")},
                      "an unknown account")

    @rule()
    def proof(self):
        self.check_proof()

    # ---- lots -------------------------------------------------------------

    def create_lot(self, spec):
        r = self.mutate("admin", self.admin, "POST", "/lots", spec)
        j = expect(r, 201, f"POST /lots {spec}")["lot"]
        assert (j["kind"], j["seller"], j["status"]) == (spec["kind"], spec["seller"], "live"), f"new lot {j}"
        return j

    @precondition(lambda self: len(self.lots) < 8)
    @rule(data=st.data(), start=st.integers(1, 2000), inc=st.integers(1, 300),
          reserve=st.one_of(st.none(), st.integers(1, 3000)), snipe=st.booleans())
    def new_english(self, data, start, inc, reserve, snipe):
        seller = data.draw(st.sampled_from(self.accts), label="seller")
        spec = {"kind": "english", "seller": seller.id, "start": start, "increment": inc, "ends_in": 3600}
        if reserve:
            spec["reserve"] = reserve
        if snipe:
            spec.update(snipe_window=600, snipe_extend=900)
        j = self.create_lot(spec)
        self.lots[j["id"]] = dict(kind="english", seller=seller.id, start=start, inc=inc, reserve=reserve,
                                  snipe=snipe, status="live", high=None, leader=None, seq=0, winner=None,
                                  clearing=None, ended=False, near_end=False)

    @precondition(lambda self: len(self.lots) < 8)
    @rule(data=st.data(), floor=st.integers(1, 1000), extra=st.integers(1, 1500), step=st.integers(1, 400))
    def new_dutch(self, data, floor, extra, step):
        seller = data.draw(st.sampled_from(self.accts), label="seller")
        start = floor + extra
        j = self.create_lot({"kind": "dutch", "seller": seller.id, "start": start, "floor": floor, "step": step,
                             "interval": 3600})
        self.lots[j["id"]] = dict(kind="dutch", seller=seller.id, start=start, floor=floor, step=step, k=0,
                                  status="live", winner=None, clearing=None, seq=0)

    @precondition(lambda self: len(self.lots) < 8)
    @rule(data=st.data(), price=st.integers(1, 500), qty=st.integers(1, 6), mpc=st.one_of(st.none(), st.integers(1, 3)))
    def new_drop(self, data, price, qty, mpc):
        seller = data.draw(st.sampled_from(self.accts), label="seller")
        spec = {"kind": "drop", "seller": seller.id, "price": price, "quantity": qty}
        if mpc:
            spec["max_per_claim"] = mpc
        j = self.create_lot(spec)
        self.lots[j["id"]] = dict(kind="drop", seller=seller.id, price=price, qty=qty, mpc=mpc, claimed=0,
                                  status="live", winner=None, clearing=None, seq=0)

    def lots_of(self, kind):
        return [i for i, l in self.lots.items() if l["kind"] == kind]   # creation order: replays draw the same

    @precondition(lambda self: any(l["kind"] == "english" for l in self.lots.values()))
    @rule(data=st.data(), how=st.sampled_from(["min", "min", "above", "below"]), extra=st.integers(0, 500))
    def bid_english(self, data, how, extra):
        lid = data.draw(st.sampled_from(self.lots_of("english")), label="lot")
        L = self.lots[lid]
        b = data.draw(st.sampled_from(self.accts), label="bidder")
        minimum = L["start"] if L["high"] is None else L["high"] + L["inc"]
        amount = {"min": minimum, "above": minimum + extra, "below": max(1, minimum - 1 - extra)}[how]
        r = self.mutate(b.id, b.tok, "POST", "/bid", {"lot": lid, "amount": amount})
        needed = amount - (L["high"] if L["leader"] == b.id else 0)
        allowed = set()
        if b.id == L["seller"]:
            allowed.add((403, "own_lot"))
        if L["status"] != "live" or L["ended"]:
            allowed |= {(409, c) for c in NOT_LIVE}
        if amount < minimum:
            allowed.add((409, "bid_too_low"))
        if needed > b.avail():
            allowed.add((422, "insufficient_funds"))
        if allowed:
            code = check_problem(r, allowed, f"English bid {amount} (minimum {minimum}, available {b.avail()})")
            if code == "bid_too_low":
                assert r.json.get("minimum") == minimum, f"bid_too_low minimum: {r.json}"
            if code == "insufficient_funds":
                assert r.json.get("available") == b.avail(), f"insufficient_funds available: {r.json}"
            return
        j = expect(r, 201, "English bid")
        L["seq"] += 1
        bid, lot = j["bid"], j["lot"]
        assert (bid["lot"], bid["bidder"], bid["amount"], bid["seq"]) == (lid, b.id, amount, L["seq"]), f"bid {bid}"
        if L["leader"] is not None and L["leader"] != b.id:
            self.acct(L["leader"]).held -= L["high"]
        b.held += needed
        L["high"], L["leader"] = amount, b.id
        assert (lot["high_amount"], lot["high_bidder"], lot["min_next_bid"], lot["status"]) == \
            (amount, b.id, amount + L["inc"], "live"), f"the answer's lot {lot}"
        left = query("SELECT extract(epoch FROM ends_at - now()) FROM lots WHERE id = %s", (lid,))[0][0]
        if L["near_end"] and L["snipe"]:
            # inside the snipe window: ends_at = now + snipe_extend (900 s)
            assert 850 < left <= 900, f"anti-snipe: {left} s left after a bid in the window"
            L["near_end"] = False
        elif L["near_end"]:
            assert left <= 300, f"no snipe window, but the end moved: {left} s left"

    @precondition(lambda self: any(l["kind"] == "english" and l["status"] == "live" for l in self.lots.values()))
    @rule(data=st.data())
    def clock_near_english_end(self, data):
        """The clock moves to 5 minutes before the end: inside a 10-minute snipe window."""
        lid = data.draw(st.sampled_from([i for i in self.lots_of("english") if self.lots[i]["status"] == "live"]))
        query("UPDATE lots SET ends_at = now() + interval '300 seconds' WHERE id = %s", (lid,))
        self.lots[lid]["near_end"] = True

    @precondition(lambda self: any(l["kind"] == "english" and l["status"] == "live" for l in self.lots.values()))
    @rule(data=st.data(), via=st.sampled_from(["read", "sweep", "bid_then_read"]))
    def clock_passes_english_end(self, data, via):
        """The end passes; the lot is settled by a read (close-on-read) or by the jobs child's sweep."""
        live = [i for i in self.lots_of("english") if self.lots[i]["status"] == "live"]
        with_bids = [i for i in live if self.lots[i]["high"] is not None]
        lid = data.draw(st.sampled_from(with_bids or live))
        L = self.lots[lid]
        query("UPDATE lots SET ends_at = now() - interval '1 second' WHERE id = %s", (lid,))
        L["ended"] = True
        if via == "bid_then_read":
            b = data.draw(st.sampled_from([a for a in self.accts if a.id != L["seller"]] or self.accts))
            amt = (L["high"] or L["start"]) + L["inc"]
            check_problem(self.mutate(b.id, b.tok, "POST", "/bid", {"lot": lid, "amount": amt}),
                          {(409, c) for c in NOT_LIVE} | ({(403, "own_lot")} if b.id == L["seller"] else set()),
                          "a bid after the end")
        if via == "sweep":
            ok_ = wait_for(lambda: query("SELECT status FROM lots WHERE id = %s", (lid,))[0][0] != "live",
                           timeout=15, interval=0.05)
            assert ok_, "the sweep did not settle an ended lot within 15 s"
        r = get(f"/lots/{lid}")
        lot = expect(r, 200, "GET /lots/{id} after the end")["lot"] if "lot" in (r.json or {}) else r.json
        # the model's settlement
        if L["high"] is not None and (L["reserve"] is None or L["high"] >= L["reserve"]):
            w = self.acct(L["leader"])
            w.bal -= L["high"]
            w.held -= L["high"]
            self.acct(L["seller"]).bal += L["high"]
            L.update(status="settled", winner=w.id, clearing=L["high"])
        else:
            if L["leader"]:
                self.acct(L["leader"]).held -= L["high"]
            L.update(status="unsold")
        STATS[f"english settled by {via}: {L['status']}"] += 1
        self.check_lot(lid, lot)

    @precondition(lambda self: any(l["kind"] == "dutch" for l in self.lots.values()))
    @rule(data=st.data(), cap=st.sampled_from(["none", "at", "below", "above"]))
    def bid_dutch(self, data, cap):
        lid = data.draw(st.sampled_from(self.lots_of("dutch")), label="lot")
        L = self.lots[lid]
        b = data.draw(st.sampled_from(self.accts), label="bidder")
        price = max(L["floor"], L["start"] - L["step"] * L["k"])
        body = {"lot": lid}
        if cap != "none":
            body["max_price"] = {"at": price, "below": max(1, price - 1), "above": price + 7}[cap]
        r = self.mutate(b.id, b.tok, "POST", "/bid", body)
        allowed = set()
        if b.id == L["seller"]:
            allowed.add((403, "own_lot"))
        if L["status"] != "live":
            allowed |= {(409, c) for c in NOT_LIVE}
        if body.get("max_price", price) < price:
            allowed.add((409, "price_above_max"))
        if price > b.avail():
            allowed.add((422, "insufficient_funds"))
        if allowed:
            code = check_problem(r, allowed, f"Dutch claim at {price} (available {b.avail()}, body {body})")
            if code == "price_above_max":
                assert r.json.get("price") == price, f"price_above_max price: {r.json}"
            return
        j = expect(r, 201, "Dutch claim")
        assert (j["bid"]["bidder"], j["bid"]["amount"]) == (b.id, price), f"Dutch bid {j['bid']}"
        b.bal -= price
        self.acct(L["seller"]).bal += price
        L.update(status="settled", winner=b.id, clearing=price)
        self.check_lot(lid, j["lot"])

    @precondition(lambda self: any(l["kind"] == "dutch" and l["status"] == "live" for l in self.lots.values()))
    @rule(data=st.data(), k=st.integers(1, 6))
    def clock_dutch_intervals(self, data, k):
        """k whole intervals pass on a live Dutch lot (its schedule start moves back k hours)."""
        lid = data.draw(st.sampled_from([i for i in self.lots_of("dutch") if self.lots[i]["status"] == "live"]))
        query("UPDATE lots SET starts_at = starts_at - make_interval(secs => %s * interval_s) WHERE id = %s", (k, lid))
        self.lots[lid]["k"] += k

    @precondition(lambda self: any(l["kind"] == "drop" for l in self.lots.values()))
    @rule(data=st.data(), q=st.one_of(st.none(), st.integers(1, 4)))
    def bid_drop(self, data, q):
        lid = data.draw(st.sampled_from(self.lots_of("drop")), label="lot")
        L = self.lots[lid]
        b = data.draw(st.sampled_from(self.accts), label="bidder")
        body = {"lot": lid}
        if q is not None:
            body["quantity"] = q
        q = q or 1
        left = L["qty"] - L["claimed"]
        r = self.mutate(b.id, b.tok, "POST", "/bid", body)
        allowed = set()
        if b.id == L["seller"]:
            allowed.add((403, "own_lot"))
        if L["mpc"] and q > L["mpc"]:
            allowed.add((422, "quantity_over_limit"))
        if q > left:
            allowed.add((409, "sold_out"))
        if L["price"] * q > b.avail():
            allowed.add((422, "insufficient_funds"))
        if allowed:
            code = check_problem(r, allowed, f"drop claim of {q} ({left} left, available {b.avail()})")
            if code == "sold_out" and (left or "units_left" in r.json):
                # README promises +units_left; the stack leaves it out once nothing is left (reported)
                assert r.json.get("units_left") == left, f"sold_out units_left: {r.json}"
            return
        j = expect(r, 201, "drop claim")
        assert (j["bid"]["bidder"], j["bid"]["amount"], j["bid"]["quantity"]) == (b.id, L["price"] * q, q) \
            or (j["bid"]["bidder"], j["bid"]["amount"], j["bid"]["quantity"]) == (b.id, L["price"], q), \
            f"drop bid {j['bid']}"
        b.bal -= L["price"] * q
        self.acct(L["seller"]).bal += L["price"] * q
        L["claimed"] += q
        if L["claimed"] == L["qty"]:
            L["status"] = "sold_out"
        self.check_lot(lid, j["lot"])

    def check_lot(self, lid, lot):
        L = self.lots[lid]
        assert lot["id"] == lid and lot["status"] == L["status"], f"lot {lid}: status {lot['status']}, model {L['status']}"
        if L["kind"] == "english":
            assert (lot["high_amount"], lot["high_bidder"]) == (L["high"], L["leader"]), f"english lot {lot} vs {L}"
            if L["status"] == "live":
                want = L["start"] if L["high"] is None else L["high"] + L["inc"]
                assert lot["min_next_bid"] == want, f"min_next_bid {lot['min_next_bid']}, model {want}"
        elif L["kind"] == "dutch" and L["status"] == "live":
            want = max(L["floor"], L["start"] - L["step"] * L["k"])
            assert lot["current_price"] == want, f"Dutch current price {lot['current_price']}, model {want}"
        elif L["kind"] == "drop":
            assert lot["units_left"] == L["qty"] - L["claimed"], f"drop units_left {lot} vs {L}"
        if L["status"] in ("settled", "unsold"):
            assert (lot["winner"], lot["clearing_price"]) == (L["winner"], L["clearing"]), \
                f"settled lot {lot}: winner/clearing vs model {L['winner']}/{L['clearing']}"

    # ---- markets ----------------------------------------------------------

    @precondition(lambda self: len(self.markets) < 4)
    @rule(data=st.data(), kind=st.sampled_from(["shares", "event", "event"]), supply=st.integers(1, 30))
    def new_market(self, data, kind, supply):
        spec = {"kind": kind, "title": f"m{len(self.markets)}"}
        if kind == "shares":
            owner = data.draw(st.sampled_from(self.accts), label="owner")
            spec.update(owner=owner.id, supply=supply, tick_min=1, tick_max=99)
        r = self.mutate("admin", self.admin, "POST", "/markets", spec)
        m = expect(r, 201, f"POST /markets {spec}")["market"]
        assert (m["kind"], m["status"], m["tick_min"], m["tick_max"]) == (kind, "open", 1, 99), f"market {m}"
        outcomes = ["shares"] if kind == "shares" else ["yes", "no"]
        self.markets[m["id"]] = dict(kind=kind, escrow=m.get("escrow"), esc_bal=0, status="open", outcomes=outcomes,
                                     seq=0, outstanding={o: 0 for o in outcomes})
        if kind == "shares":
            self.pos[(m["id"], owner.id, "shares")] = [supply, 0, 0]
            self.markets[m["id"]]["outstanding"]["shares"] = supply

    def position(self, mid, aid, outcome):
        return self.pos.setdefault((mid, aid, outcome), [0, 0, 0])

    @precondition(lambda self: self.markets)
    @rule(data=st.data(), side=st.sampled_from(["buy", "sell"]), price=st.integers(1, 99), qty=st.integers(1, 8),
          tif=st.sampled_from(["gtc", "gtc", "ioc"]))
    def order(self, data, side, price, qty, tif):
        self.any_order(data, side, price, qty, tif)

    # hypothesis picks enabled rules uniformly: more handles on trading give it more weight
    @precondition(lambda self: self.markets)
    @rule(data=st.data(), side=st.sampled_from(["buy", "sell"]), price=st.integers(35, 65), qty=st.integers(1, 8),
          tif=st.sampled_from(["gtc", "ioc"]))
    def order_near_the_middle(self, data, side, price, qty, tif):
        self.any_order(data, side, price, qty, tif)

    def any_order(self, data, side, price, qty, tif):
        mid = data.draw(st.sampled_from(list(self.markets)), label="market")
        outcome = data.draw(st.sampled_from(self.markets[mid]["outcomes"]), label="outcome")
        self.place(data, mid, outcome, side, price, qty, tif)

    def place(self, data, mid, outcome, side, price, qty, tif):
        M = self.markets[mid]
        t = data.draw(st.sampled_from(self.accts), label="trader")
        if side == "sell":
            p = self.pos.get((mid, t.id, outcome))
            if p and p[0] - p[1] > 0 and data.draw(st.booleans(), label="sell what it has"):
                qty = min(qty, p[0] - p[1])
        body = {"market": mid, "side": side, "price": price, "quantity": qty, "time_in_force": tif}
        if M["kind"] == "event":
            body["outcome"] = outcome
        r = self.mutate(t.id, t.tok, "POST", "/order", body)
        what = f"order {body} by {t.name}"
        if M["status"] != "open":
            check_problem(r, {(409, "market_closed")}, what)
            return
        pos = self.position(mid, t.id, outcome)
        if side == "sell" and pos[0] - pos[1] < qty:
            check_problem(r, {(422, "insufficient_position")}, what)
            return
        # simulate the match on copies, then decide on the funds
        plan, cancelled, remaining = self.match(mid, t.id, side, outcome, price, qty)
        cost = sum(f["price"] * f["quantity"] for f in plan) if side == "buy" else 0
        rest = remaining * price if side == "buy" and tif == "gtc" else 0
        released = sum(o["remaining"] * o["price"] for o in cancelled if o["side"] == "buy")
        if side == "buy" and qty * price > t.avail():
            # README is silent on whether the check is up front (qty x price) or on what the order really needs
            lower_ok = cost + rest <= t.avail() + released
            if not lower_ok or r.status != 201:
                check_problem(r, {(422, "insufficient_funds")}, f"{what} (needs {cost}+{rest}, available {t.avail()})")
                return
        o = expect(r, 201, what)["order"]
        self.apply_match(mid, t, side, outcome, price, plan, cancelled)
        status = "filled" if remaining == 0 else ("open" if tif == "gtc" else "cancelled")
        want = {"market": mid, "side": side, "price": price, "quantity": qty, "filled": qty - remaining,
                "remaining": remaining if tif == "gtc" else 0, "status": status, "time_in_force": tif}
        got = {k: o.get(k) for k in want}
        assert got == want, f"{what}: order {got}\nmodel {want}"
        fills = [(f["maker_order"], f["kind"], f["price"], f["quantity"]) for f in o["fills"]]
        wantf = [(f["maker"], f["kind"], f["price"], f["quantity"]) for f in plan]
        assert fills == wantf, f"{what}: fills {fills}\nmodel {wantf}"
        for f in plan:
            STATS[f"fill {f['kind']}"] += 1
        STATS[f"self-trade cancels"] += len(cancelled)
        M["seq"] += 1
        if remaining and tif == "gtc":
            self.orders[o["id"]] = dict(market=mid, acct=t.id, side=side, outcome=outcome, price=price,
                                        remaining=remaining, seq=M["seq"], status="open")
            if side == "buy":
                t.held += remaining * price
            else:
                pos[1] += remaining
        else:
            self.orders[o["id"]] = dict(market=mid, acct=t.id, side=side, outcome=outcome, price=price,
                                        remaining=0, seq=M["seq"], status=status)

    @precondition(lambda self: any(o["status"] == "open" for o in self.orders.values()))
    @rule(data=st.data(), qty=st.integers(1, 8), tif=st.sampled_from(["gtc", "ioc"]), through=st.integers(0, 5))
    def order_against_book(self, data, qty, tif, through):
        """An order that crosses a resting one: fills, partial fills, mints, self-trade cancels."""
        o = data.draw(st.sampled_from([i for i, x in self.orders.items() if x["status"] == "open"]))
        o = self.orders[o]
        M = self.markets[o["market"]]
        if o["side"] == "sell":
            side, outcome, price = "buy", o["outcome"], min(99, o["price"] + through)
        elif M["kind"] == "event" and data.draw(st.booleans(), label="mint"):
            side, outcome, price = "buy", "no" if o["outcome"] == "yes" else "yes", min(99, 100 - o["price"] + through)
        else:
            side, outcome, price = "sell", o["outcome"], max(1, o["price"] - through)
        self.place(data, o["market"], outcome, side, price, qty, tif)

    @precondition(lambda self: any(o["status"] == "open" for o in self.orders.values()))
    @rule(data=st.data(), qty=st.integers(1, 8), tif=st.sampled_from(["gtc", "ioc"]), through=st.integers(0, 5))
    def order_against_book_again(self, data, qty, tif, through):
        self.order_against_book(data, qty, tif, through)

    def match(self, mid, taker, side, outcome, price, qty):
        """The fills an incoming order gets (README: best price first, then oldest, at the resting order's
        price; a YES buy at p mints against a NO buy at q >= 100 - p; own resting orders are cancelled)."""
        cands = []
        for oid, o in self.orders.items():
            if o["market"] != mid or o["status"] != "open":
                continue
            if side == "buy" and o["side"] == "sell" and o["outcome"] == outcome and o["price"] <= price:
                cands.append((o["price"], o["seq"], oid, "transfer"))
            elif side == "buy" and o["side"] == "buy" and o["outcome"] not in (outcome, "shares") \
                    and o["price"] >= 100 - price:
                cands.append((100 - o["price"], o["seq"], oid, "mint"))
            elif side == "sell" and o["side"] == "buy" and o["outcome"] == outcome and o["price"] >= price:
                cands.append((-o["price"], o["seq"], oid, "transfer"))
        cands.sort()
        plan, cancelled, remaining = [], [], qty
        for key, _, oid, kind in cands:
            if remaining == 0:
                break
            o = self.orders[oid]
            if o["acct"] == taker:
                cancelled.append(o)
                continue
            n = min(remaining, o["remaining"])
            plan.append(dict(maker=oid, kind=kind, price=abs(key), quantity=n))
            remaining -= n
        return plan, cancelled, remaining

    def apply_match(self, mid, t, side, outcome, price, plan, cancelled):
        M = self.markets[mid]
        for o in cancelled:
            self.release_order(o)
        for f in plan:
            mk = self.orders[f["maker"]]
            maker = self.acct(mk["acct"])
            n = f["quantity"]
            mk["remaining"] -= n
            if mk["remaining"] == 0:
                mk["status"] = "filled"
            if f["kind"] == "mint":
                # maker pays its price from its hold, the taker the complement; 100 per pair into escrow
                maker.held -= mk["price"] * n
                maker.bal -= mk["price"] * n
                t.bal -= f["price"] * n
                M["esc_bal"] += 100 * n
                pm = self.position(mid, maker.id, mk["outcome"])
                pt = self.position(mid, t.id, outcome)
                pm[0] += n
                pm[2] += mk["price"] * n
                pt[0] += n
                pt[2] += f["price"] * n
                M["outstanding"]["yes"] += n
                M["outstanding"]["no"] += n
                continue
            buyer, seller = (t, maker) if side == "buy" else (maker, t)
            cash = mk["price"] * n
            buyer.bal -= cash
            seller.bal += cash
            if side == "sell":
                maker.held -= cash
            ps = self.position(mid, seller.id, outcome)
            pb = self.position(mid, buyer.id, outcome)
            moved = ps[2] * n // ps[0]     # cost basis moves pro rata (README: "exactly"; floor assumed)
            ps[0] -= n
            ps[2] -= moved
            if side == "buy":
                ps[1] -= n                 # the maker's resting sell held these
            pb[0] += n
            pb[2] += moved

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), who=st.sampled_from(["owner", "owner", "admin", "stranger", "unknown"]))
    def cancel(self, data, who):
        oid = data.draw(st.sampled_from(list(self.orders)), label="order")
        o = self.orders[oid]
        owner = self.acct(o["acct"])
        if who == "unknown":
            r = self.mutate(owner.id, owner.tok, "DELETE", f"/order/{data.draw(st.uuids())}", None)
            check_problem(r, {(404, "order_not_found")}, "cancel an unknown order")
            return
        if who == "stranger":
            s = data.draw(st.sampled_from([a for a in self.accts if a is not owner]))
            r = self.mutate(s.id, s.tok, "DELETE", f"/order/{oid}", None)
            check_problem(r, {(404, "order_not_found")}, "cancel another's order: as if it did not exist")
            return
        caller, tok = (owner.id, owner.tok) if who == "owner" else ("admin", self.admin)
        r = self.mutate(caller, tok, "DELETE", f"/order/{oid}", None)
        if o["status"] != "open":
            check_problem(r, {(409, "order_not_open")}, f"cancel a {o['status']} order")
            return
        j = expect(r, 200, "cancel")["order"]
        assert (j["id"], j["status"]) == (oid, "cancelled"), f"cancel answer {j}"
        self.release_order(o)
        o["remaining"] = 0

    # resolution ends a market's trading: only in the second half of an example
    @precondition(lambda self: self.markets and self.steps >= STEPS // 2)
    @rule(data=st.data(), outcome=st.sampled_from(["yes", "no", "cancel"]))
    def resolve(self, data, outcome):
        mid = data.draw(st.sampled_from(list(self.markets)), label="market")
        M = self.markets[mid]
        r = self.mutate("admin", self.admin, "POST", f"/markets/{mid}/resolve", {"outcome": outcome})
        if M["kind"] != "event":
            check_problem(r, {(409, "not_an_event_market")}, "resolve a shares market")
            return
        if M["status"] != "open":
            check_problem(r, {(409, "market_closed")}, "resolve a resolved market")
            return
        j = expect(r, 200, "resolve")
        # README: resolution "closes the market"; it does not name the closed status of a cancelled one
        closed = {"resolved"} if outcome != "cancel" else {"resolved", "cancelled"}
        assert (j.get("market"), j.get("outcome")) == (mid, outcome) and j.get("status") in closed, f"resolve {j}"
        for o in self.orders.values():
            if o["market"] == mid and o["status"] == "open":
                self.release_order(o)
                o["remaining"] = 0
        for (m, aid, oc), p in self.pos.items():
            if m != mid:
                continue
            # README: a cancel pays 50 per YES and 50 per NO contract, whatever it cost
            pay = 50 * p[0] if outcome == "cancel" else (100 * p[0] if oc == outcome else 0)
            self.acct(aid).bal += pay
            M["esc_bal"] -= pay
        assert M["esc_bal"] == 0, f"model: escrow {M['esc_bal']} after resolution"
        M["status"] = j["status"]

    # ---- the checks after every step -------------------------------------

    @invariant()
    def stack_agrees(self):
        if not self.accts:
            return
        self.steps += 1
        STATS["steps"] += 1
        for a in self.accts:
            r = get(f"/accounts/{a.id}", token=a.tok)
            j = expect(r, 200, f"GET /accounts/{a.name}")["account"]
            got = (j["balance"], j["held"], j["available"])
            assert got == (a.bal, a.held, a.avail()), \
                f"{a.name}: (balance, held, available) {got}, model {(a.bal, a.held, a.avail())}"
        for lid in self.lots:
            self.check_lot(lid, expect(get(f"/lots/{lid}"), 200, "GET /lots/{id}")["lot"])
        for mid, M in self.markets.items():
            self.check_market(mid, M)
        if self.steps % PROOF_EVERY == 0:
            self.check_proof()

    def check_market(self, mid, M):
        v = expect(get(f"/markets/{mid}"), 200, "GET /markets/{id}")
        assert v["market"]["status"] == M["status"], f"market status {v['market']}, model {M['status']}"
        for oc in M["outcomes"]:
            levels = {"bids": collections.Counter(), "asks": collections.Counter()}
            for o in self.orders.values():
                if o["market"] == mid and o["outcome"] == oc and o["status"] == "open":
                    levels["bids" if o["side"] == "buy" else "asks"][o["price"]] += o["remaining"]
            want = {"bids": [[p, levels["bids"][p]] for p in sorted(levels["bids"], reverse=True)],
                    "asks": [[p, levels["asks"][p]] for p in sorted(levels["asks"])]}
            assert v["book"][oc] == want, f"book {oc}: {v['book'][oc]}\nmodel {want}"
        if M["status"] == "open":
            got = {oc: v["outstanding"].get(oc, 0) for oc in M["outcomes"]}
            assert got == M["outstanding"], f"outstanding {v['outstanding']}, model {M['outstanding']}"
            rows = query("SELECT account_id::text, outcome, quantity, held, cost FROM positions WHERE market_id = %s",
                         (mid,))
            got = {(a, oc): (q, h, c if M["kind"] == "event" else 0) for a, oc, q, h, c in rows if q or h or c}
            want = {(a, oc): (p[0], p[1], p[2] if M["kind"] == "event" else 0)
                    for (m, a, oc), p in self.pos.items() if m == mid and any(p)}
            assert got == want, f"positions {got}\nmodel {want}"
        if M["escrow"] and M["kind"] == "event":
            j = expect(get(f"/accounts/{M['escrow']}", token=self.admin), 200, "GET escrow account")["account"]
            assert (j["balance"], j["held"]) == (M["esc_bal"], 0), f"escrow {j}, model {M['esc_bal']}"

    def check_proof(self):
        r = get("/proof", token=self.admin)
        bad = [c["name"] for c in (r.json or {}).get("checks", []) if not c.get("ok")]
        assert r.status == 200 and r.json.get("consistent") is True and not bad, f"/proof {r.status}: failing {bad}"
        STATS["proof ok"] += 1

    def teardown(self):
        if not self.accts:
            return
        self.check_proof()
        for a in self.accts:
            total, after = 0, None
            for _ in range(250):
                q = f"/accounts/{a.id}/entries?limit=100" + (f"&starting_after={after}" if after else "")
                j = expect(get(q, token=a.tok), 200, "GET entries")
                total += sum(e["amount"] for e in j["data"])
                if j["data"] and after is None:
                    assert j["data"][0]["balance_after"] == a.bal, f"{a.name}: last balance_after"
                after = j["data"][-1]["id"] if j["data"] else None
                if not j["has_more"]:
                    break
            assert total == a.bal, f"{a.name}: entries sum to {total}, model balance {a.bal}"


def main():
    seed_env = os.environ.get("ZS_MODEL_SEED")
    rnd = os.environ.get("ZS_MODEL_RANDOM") == "1" and os.environ.get("ZS_MODEL_FIXED") != "1"
    shrink = os.environ.get("ZS_MODEL_SHRINK") == "1"
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else [])
    machine = ApiModel
    if seed_env or rnd:
        seed = int(seed_env) if seed_env else random.SystemRandom().randrange(2**32)
        machine = hypothesis.seed(seed)(ApiModel)
        how = (f"seed {seed}: replay with ZS_MODEL_SEED={seed} ZS_MODEL_EXAMPLES={EXAMPLES} "
               f"ZS_MODEL_STEPS={STEPS} make test-model")
    else:
        how = (f"derandomized: replay with ZS_MODEL_FIXED=1 ZS_MODEL_EXAMPLES={EXAMPLES} "
               f"ZS_MODEL_STEPS={STEPS} make test-model")
    blob = os.environ.get("ZS_MODEL_BLOB")
    if blob:
        machine = hypothesis.reproduce_failure(hypothesis.__version__, blob)(machine)
    diag(f"model: {EXAMPLES} examples x {STEPS} steps, {how}")
    conf = settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
                    derandomize=not (seed_env or rnd), print_blob=True, phases=phases,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    try:
        from hypothesis.stateful import run_state_machine_as_test
        run_state_machine_as_test(machine, settings=conf)
        failure = None
    except Exception as e:   # the falsifying steps were printed by hypothesis
        failure = e
        traceback.print_exc(file=sys.stderr)
        print(f"# the model disagrees with the stack; {how}", file=sys.stderr)
    for k in sorted(STATS):
        diag(f"{STATS[k]:5d}  {k}")
    ok(failure is None, f"model: every status, body and balance agrees ({how})", failure)
    ok(STATS["proof ok"] >= EXAMPLES, f"/proof consistent at the end of every example ({STATS['proof ok']} reports)")
    done()


if __name__ == "__main__":
    main()
