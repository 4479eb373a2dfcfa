"""The fault suite: faults cost availability for seconds, never correctness.

While background clients send transfers, English bids and drop claims —
each client re-sending its own request with the SAME Idempotency-Key after a
503/5xx, a transport failure, 429 or 409 idempotency_key_in_flight, until it
gets a final answer (2xx or a 4xx business rejection) — faults are injected
one after another:

  1. kill -9 every child of the supervisor (all pools and the jobs child)
  2. kill -9 three random workers
  3. scripts/stack restart pgbouncer
  4. scripts/stack restart postgres           (pg_ctl -m fast)
  5. pg_ctl restart -m immediate              (a crash: recovery from WAL)
  6. scripts/stack restart nginx              (reload)
  7. PgBouncer stopped for ~3 s: the database is unreachable
  8. PostgreSQL stopped for ~6 s behind a running PgBouncer

After each fault a probe (GET /healthz, a transfer and a drop claim, each
re-sent with its own key) measures how long until the service answers
again; every fault must recover within RECOVERY_MAX seconds. While the
database is down (7 and 8), every request must fail fast: 503 database_unavailable
with Retry-After, each in under 3 s (the probe's and the clients' attempts),
and a request already in flight when the database went away must not wait
for it to come back (under 4 s: PgBouncer's query_wait_timeout is 2 s).

Afterwards the ledger must match exactly what the clients were told:
every acknowledged (201) transfer and bid is in the ledger once (by id and by
idempotency key "user:<sub>:<key>"), no request left a row unless it was
acknowledged, the money moved equals the acknowledged amounts, every
account's balance is its opening balance plus the acknowledged moves, the
idempotency keys are all settled with the answer the client got, /proof is
consistent and the ledger invariants hold.

Last, `scripts/stampede bank` runs while PgBouncer restarts and workers are
killed: zero bad snapshot reads; and its checker is shown able to fail on
doctored copies of the real record.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "faults"))
import atexit
import collections
import copy
import json
import subprocess
import tempfile
import time

from faultlib import (Clients, Req, attempt, ensure_up, kill_workers, pg_ctl, pg_restart, pgb_stop, pgbouncer_pid,
                      retryable_attempt, stack_cmd, supervisor_pid, workers)

RECOVERY_MAX = 10.0        # seconds from a fault to the service answering again
DOWN_MAX_MS = 3000         # a request while the database is down must fail within this
QUEUED_MAX_MS = 4000       # ... and one already in flight when it went (PgBouncer's query_wait_timeout 2 s)
HANG_MS = 5000             # no attempt at all, whatever the fault, takes longer
SETTLE = 2.5               # seconds of normal traffic between faults
FUND = 100_000
BIG = 10 ** 9
PRICE = 5
T0 = time.monotonic()

# ---- accounts, lots, clients ------------------------------------------------------

# Every transfer account also sends, so money keeps circulating among them.
senders = [create_account(f"faults-t{i}", FUND) for i in range(6)]
english_bidders = [create_account(f"faults-e{i}", BIG) for i in range(2)]
claimers = [create_account(f"faults-d{i}", BIG) for i in range(2)]
probe, probe_tok = create_account("faults-probe", BIG)
sink, _ = create_account("faults-sink", 0)
eng_seller, _ = create_account("faults-english-seller", 0)
drop_seller, _ = create_account("faults-drop-seller", 0)
english = create_lot(kind="english", seller=eng_seller, start=100, increment=1, ends_in=3600,
                     title="faults english")["id"]
drop = create_lot(kind="drop", seller=drop_seller, price=PRICE, quantity=1_000_000,
                  title="faults drop")["id"]
ok(True, "setup: 6 transfer accounts, 2 English bidders, 2 drop claimers, a probe, two lots")


def make_transfer(frm, tok):
    def make(rnd, st):
        to = rnd.choice([a for a, _ in senders if a != frm])
        amount = rnd.randint(1, 20_000) if rnd.random() < 0.8 else rnd.randint(FUND + 1, 3 * FUND)
        return Req("transfer", "POST", "/transfer", {"from": frm, "to": to, "amount": amount},
                   tok, frm, new_key(), amount)
    return make


def make_english(bidder, tok):
    def make(rnd, st):
        nxt = st.get("next", 100)
        last = st.get("last")
        if last is not None and last.final is not None:
            if last.status == 201:
                nxt = max(nxt, last.amount + 1)
            elif last.final.code == "bid_too_low" and isinstance(last.final.json.get("minimum"), int):
                nxt = max(nxt, last.final.json["minimum"])
        st["next"] = nxt
        amount = nxt + rnd.randint(0, 3)
        return Req("english", "POST", "/bid", {"lot": english, "amount": amount}, tok, bidder,
                   new_key(), amount)
    return make


def make_drop(claimer, tok):
    def make(rnd, st):
        return Req("drop", "POST", "/bid", {"lot": drop}, tok, claimer, new_key(), PRICE)
    return make


clients = Clients()
for aid, tok in senders:
    clients.add(make_transfer(aid, tok), f"transfer-{aid[:8]}")
for aid, tok in english_bidders:
    clients.add(make_english(aid, tok), f"english-{aid[:8]}")
for aid, tok in claimers:
    clients.add(make_drop(aid, tok), f"drop-{aid[:8]}")

probe_reqs = []            # the probes' own transfers and claims (checked like the clients')


def probe_transfer():
    r = Req("transfer", "POST", "/transfer", {"from": probe, "to": sink, "amount": 1}, probe_tok, probe,
            new_key(), 1)
    probe_reqs.append(r)
    return r


def probe_claim():
    r = Req("drop", "POST", "/bid", {"lot": drop}, probe_tok, probe, new_key(), PRICE)
    probe_reqs.append(r)
    return r


def recover(t0, limit=30.0):
    """Seconds from t0 until GET /healthz answers 200 and a transfer and a drop claim (each
    re-sent with its own key) are acknowledged; probing starts now (after the injection
    returned). None if not within `limit`."""
    t_tr, t_cl = probe_transfer(), probe_claim()
    got = {}
    end = time.monotonic() + limit
    while len(got) < 3 and time.monotonic() < end:
        if "healthz" not in got:
            r, a = attempt("GET", "/healthz", timeout=5)
            if r is not None and r.status == 200:
                got["healthz"] = time.monotonic() - t0
        for name, req in (("transfer", t_tr), ("claim", t_cl)):
            if name not in got and req.final is None:
                req.send_once(timeout=5)
                if req.final is not None:
                    got[name] = time.monotonic() - t0
        if len(got) < 3:
            time.sleep(0.05)
    return (max(got.values()) if len(got) == 3 else None), got


faults = []


def fault(name, inject, after=None):
    t0 = time.monotonic()
    rc, out = inject()
    returned = time.monotonic() - t0
    rec, parts = recover(t0)
    faults.append({"fault": name, "inject_s": round(returned, 2), "recovery_s": rec and round(rec, 2),
                   "parts": {k: round(v, 2) for k, v in parts.items()}, "t": round(t0 - T0, 1)})
    ok(rc == 0, f"{name}: injected ({returned:.2f} s)", out)
    ok(rec is not None and rec <= RECOVERY_MAX,
       f"{name}: the service answered again {rec if rec is None else round(rec, 2)} s after the fault"
       f" (<= {RECOVERY_MAX:g} s)", f"first successes (s): {parts}")
    if after:
        after()
    time.sleep(SETTLE)


atexit.register(ensure_up)   # a failure half-way must not leave the database down
sup0 = supervisor_pid()
pool0 = workers()
ok(sup0 is not None and len(pool0) >= 5, f"supervisor {sup0} with {len(pool0)} children")

clients.start()
time.sleep(3)
n0 = len(clients.snapshot())
ok(n0 > 10, f"clients are running ({n0} requests in the first 3 s)")


killed = []


def kill(n):
    def inject():
        killed[:] = kill_workers(n)
        want = len(pool0) if n is None else n
        return 0 if len(killed) == want else 1, f"killed {len(killed)} children: {killed}"
    return inject


def respawned():
    good = wait_for(lambda: len(workers()) == len(pool0) and not (set(workers()) & set(killed)), 15)
    ok(good, f"the supervisor replaced the {len(killed)} killed children ({len(pool0)} running)",
       f"killed {killed}, now {workers()}")


fault("kill -9 every worker", kill(None), respawned)
fault("kill -9 three random workers", kill(3), respawned)
fault("restart PgBouncer", lambda: stack_cmd("restart", "pgbouncer"))
fault("restart PostgreSQL (fast)", lambda: stack_cmd("restart", "postgres"))
fault("restart PostgreSQL (immediate)", lambda: pg_restart("immediate"))
fault("reload nginx", lambda: stack_cmd("restart", "nginx"))

# ---- the database down: PgBouncer stopped ~3 s, then PostgreSQL stopped ~3 s -----------

down = []                  # (window, what, Attempt)
down_reqs = []


def down_window(name, stop, start, seconds=3.0):
    """Take the database away with stop(); for `seconds` send a transfer (its own key, settled
    later), an account read and /healthz in turn; every one must answer 503
    database_unavailable with Retry-After within DOWN_MAX_MS, the background clients' attempts
    too; then start() and measure recovery from that moment."""
    t_stop = time.monotonic()
    rc, out = stop()
    t_down = time.monotonic()
    ok(rc == 0, f"{name}: stopped ({t_down - t_stop:.2f} s)", out)
    mine = []
    while time.monotonic() - t_down < seconds:
        r = Req("transfer", "POST", "/transfer", {"from": probe, "to": sink, "amount": 1}, probe_tok, probe,
                new_key(), 1)
        down_reqs.append(r)
        r.send_once(timeout=10)
        mine.append(("POST /transfer", r.attempts[-1]))
        mine.append(("GET /accounts/{id}", attempt("GET", f"/accounts/{probe}", token=probe_tok, timeout=10)[1]))
        mine.append(("GET /healthz", attempt("GET", "/healthz", timeout=10)[1]))
        time.sleep(0.1)
    t_up = time.monotonic()
    rc, out = start()
    rec, parts = recover(t_up)
    faults.append({"fault": f"database down ({name} ~{seconds:g} s)", "inject_s": round(t_up - t_stop, 2),
                   "recovery_s": rec and round(rec, 2), "parts": {k: round(v, 2) for k, v in parts.items()},
                   "t": round(t_stop - T0, 1)})
    down.extend((name, w, a) for w, a in mine)
    ok(rc == 0, f"{name}: started again", out)
    ok(rec is not None and rec <= RECOVERY_MAX,
       f"{name}: the service answered again {rec if rec is None else round(rec, 2)} s after the start"
       f" (<= {RECOVERY_MAX:g} s)", parts)
    bad = [(w, a.status, a.code, a.retry_after, round(a.ms)) for w, a in mine
           if not (a.status == 503 and a.code == "database_unavailable" and a.retry_after
                   and a.retry_after.isdigit() and int(a.retry_after) >= 1)]
    ok(len(mine) >= 9 and not bad,
       f"{name}: all {len(mine)} probe requests answered 503 database_unavailable with Retry-After",
       f"wrong answers (what, status, code, Retry-After, ms): {bad[:8]}")
    slow = [(w, round(a.ms)) for w, a in mine if a.ms >= DOWN_MAX_MS]
    ok(not slow, f"{name}: every probe request failed fast (max {max(a.ms for _, a in mine):.0f} ms"
       f" < {DOWN_MAX_MS} ms)", f"slow: {slow[:8]}")
    # The background clients' attempts made entirely inside the window, too.
    bg = [a for q in clients.snapshot() for a in q.attempts if t_down <= a.start and a.start + a.ms / 1000 <= t_up]
    bg_slow = [(a.status, round(a.ms)) for a in bg if a.ms >= DOWN_MAX_MS]
    bg_not503 = [(a.status, a.code) for a in bg if a.status != 503]
    ok(not bg_slow and not bg_not503,
       f"{name}: the clients' {len(bg)} attempts all answered 503 fast"
       f" (max {max((a.ms for a in bg), default=0):.0f} ms)", f"slow {bg_slow[:5]}, not 503: {bg_not503[:5]}")
    # Requests already in flight when the database went away (queued in PgBouncer for a
    # server connection) must not wait for it to come back either.
    over = [a for q in clients.snapshot() for a in q.attempts if a.start < t_up and a.start + a.ms / 1000 > t_stop]
    worst = max(over, key=lambda a: a.ms)
    ok(worst.ms < QUEUED_MAX_MS, f"{name}: no attempt overlapping the outage waited for the database"
       f" (slowest of {len(over)}: {worst.ms:.0f} ms < {QUEUED_MAX_MS} ms)",
       f"slowest: {worst.status} {worst.code or worst.error}")
    time.sleep(SETTLE)


def stop_pgbouncer():
    stopped = pgb_stop()
    return (0 if stopped and pgbouncer_pid() is None else 1), "PgBouncer still running"


def workers_use_pgbouncer():
    """The per-request policy goes through PgBouncer; per-worker straight to
    PostgreSQL (scripts/stack writes the port), where PgBouncer is not in the path."""
    with open(os.path.join(ZS_VAR, "zerosum.conf")) as f:
        ports = [l.split("=", 1)[1].strip() for l in f if l.split("=", 1)[0].strip() == "db_port"]
    return ports[-1:] == [ENV["ZS_PGB_PORT"]]


if workers_use_pgbouncer():
    down_window("PgBouncer stopped", stop_pgbouncer, lambda: stack_cmd("restart", "pgbouncer"))
else:
    rc, out = stop_pgbouncer()
    ok(rc == 0, "per-worker: PgBouncer stopped", out)
    got = []
    t_down = time.monotonic()
    while time.monotonic() - t_down < 1.5:
        got.append(attempt("GET", f"/accounts/{probe}", token=probe_tok, timeout=10)[1].status)
        got.append(attempt("GET", "/healthz", timeout=10)[1].status)
    rc, out = stack_cmd("restart", "pgbouncer")
    ok(rc == 0, "per-worker: PgBouncer started again", out)
    ok(got and all(st == 200 for st in got),
       f"per-worker: with PgBouncer stopped the workers (straight to PostgreSQL) answer all {len(got)} 200",
       got[:10])
down_window("PostgreSQL stopped", lambda: pg_ctl("stop", "fast"), lambda: pg_ctl("start"), seconds=6.0)
down_max = max((a.ms for _, _, a in down), default=0)

# ---- stop the clients; settle every request ------------------------------------------

finished = clients.finish(timeout=120)
ok(finished, "every client finished its last request")
for r in probe_reqs + down_reqs:
    if r.final is None:
        r.send_until_final(budget=60)
ok(supervisor_pid() == sup0, f"the supervisor {sup0} survived every fault")
ok(wait_for(lambda: len(workers()) == len(pool0), 15), f"{len(pool0)} children running at the end",
   f"now {workers()}")

reqs = clients.snapshot() + probe_reqs + down_reqs
unresolved = [r for r in reqs if r.final is None]
ok(not unresolved, f"all {len(reqs)} requests got a final answer",
   f"{len(unresolved)} without one; last attempts: "
   f"{[(r.kind, r.attempts[-1].status, r.attempts[-1].error) for r in unresolved[:5]]}")
FINAL_OK = {"transfer": {(201, None), (422, "insufficient_funds")},
            "english": {(201, None), (409, "bid_too_low")},
            "drop": {(201, None), (409, "sold_out"), (422, "insufficient_funds")}}
unexpected = [(r.kind, r.status, r.final.code) for r in reqs if r.final is not None
              and (r.status, r.final.code if r.status != 201 else None) not in FINAL_OK[r.kind]]
ok(not unexpected, "every final answer is 201 or the kind's business rejection",
   f"unexpected: {collections.Counter(unexpected).most_common(8)}")

# ---- the ledger against the answers ---------------------------------------------------


def acked(kind):
    return {r.idem_key: r for r in reqs if r.kind == kind and r.status == 201}


def differences(rows, ack, body_key):
    """rows: (id, idem_key, amount, ...); ack: idem_key -> Req. (lost, duplicated, phantom, mismatched)."""
    per_key = collections.Counter(row[1] for row in rows)
    lost = [k for k in ack if per_key[k] == 0]
    dup = [k for k, n in per_key.items() if n > 1]
    phantom = [row for row in rows if row[1] not in ack]
    mism = []
    for row in rows:
        r = ack.get(row[1])
        if r is not None and (row[0] != r.final.json[body_key]["id"] or row[2] != r.amount):
            mism.append((row, r.final.json[body_key]))
    return lost, dup, phantom, mism


def compare(name, rows, ack, body_key):
    lost, dup, phantom, mism = differences(rows, ack, body_key)
    ok(not lost, f"{name}: every acknowledged one ({len(ack)}) is in the ledger", f"lost: {lost[:5]}")
    ok(not dup, f"{name}: no idempotency key has two rows", f"duplicated: {dup[:5]}")
    ok(not phantom, f"{name}: no row without an acknowledgement ({len(rows)} rows)",
       f"rows nobody was told about: {phantom[:5]}")
    ok(not mism, f"{name}: each row is the one its 201 named (id, amount)", f"{mism[:3]}")
    moved, told = sum(row[2] for row in rows), sum(r.amount for r in ack.values())
    is_(moved, told, f"{name}: total in the ledger {moved} = sum of acknowledged amounts")
    # The comparison can fail: a row removed, a row doubled, a row without an answer.
    if rows:
        gone = differences(rows[1:], ack, body_key)[0]
        twice = differences(rows + [(new_key(),) + tuple(rows[0][1:])], ack, body_key)[1]
        extra = differences(rows + [(new_key(), "user:x:" + new_key(), 1)], ack, body_key)[2]
        ok(gone and twice and extra, f"{name}: the comparison catches a lost, a doubled and an unacknowledged row")
    return len(lost), len(dup), len(phantom)


owners = [a for a, _ in senders] + [probe]
t_rows = query("SELECT id::text, idem_key, amount, from_account::text, to_account::text FROM transfers"
               " WHERE kind = 'transfer' AND from_account = ANY(%s::uuid[])", (owners,))
t_ack = acked("transfer")
lost_t, dup_t, ph_t = compare("transfers", t_rows, t_ack, "transfer")
bad_parties = [row for row in t_rows if row[1] in t_ack and
               (row[3], row[4]) != (t_ack[row[1]].body["from"], t_ack[row[1]].body["to"])]
ok(not bad_parties, "transfers: each row moves between the accounts its request named", bad_parties[:3])

b_rows = query("SELECT id::text, idem_key, amount, bidder::text, lot_id::text FROM bids"
               " WHERE lot_id = ANY(%s::uuid[])", ([english, drop],))
b_ack = dict(acked("english"), **acked("drop"))
lost_b, dup_b, ph_b = compare("bids", b_rows, b_ack, "bid")
p_rows = query("SELECT id::text, idem_key, amount FROM transfers WHERE kind = 'purchase' AND to_account = %s",
               (drop_seller,))
d_ack = acked("drop")
ok(sorted(r[1] for r in p_rows) == sorted(d_ack) and sum(r[2] for r in p_rows) == PRICE * len(d_ack),
   f"drop purchases: exactly one purchase transfer per acknowledged claim ({len(d_ack)}),"
   f" {PRICE * len(d_ack)} in total", f"{len(p_rows)} purchase rows, sum {sum(r[2] for r in p_rows)}")

# balances: opening balance plus the acknowledged moves, nothing else
want = collections.Counter()
for a, _ in senders:
    want[a] += FUND
for a, _ in english_bidders + claimers:
    want[a] += BIG
want[probe] += BIG
for r in t_ack.values():
    want[r.body["from"]] -= r.amount
    want[r.body["to"]] += r.amount
for r in d_ack.values():
    want[r.owner] -= PRICE
    want[drop_seller] += PRICE
ids = list(want) + [sink, drop_seller]
got = dict(query("SELECT id::text, balance FROM accounts WHERE id = ANY(%s::uuid[])", (ids,)))
wrong = [(a, got.get(a), want[a]) for a in ids if got.get(a) != want[a]]
ok(not wrong, f"balances of all {len(ids)} accounts = opening + acknowledged moves",
   f"(account, balance, expected): {wrong[:5]}")

e_ack = acked("english")
lot = get(f"/lots/{english}").json["lot"]
top = max(e_ack.values(), key=lambda r: r.amount) if e_ack else None
ok(lot["seq"] == len(e_ack) and top is not None and lot["high_amount"] == top.amount
   and lot["high_bidder"] == top.owner,
   f"English lot: seq {lot['seq']} = {len(e_ack)} acknowledged bids, high {lot['high_amount']} is the top one",
   f"lot {json.dumps(lot)[:400]}")
held = dict(query("SELECT id::text, held FROM accounts WHERE id = ANY(%s::uuid[])",
                  ([a for a, _ in english_bidders],)))
ok(top is not None and all(held[a] == (top.amount if a == top.owner else 0) for a, _ in english_bidders),
   "English lot: only the leader holds funds, exactly its bid", held)

# idempotency keys: settled, with the answer the client got
callers = sorted({f"user:{r.owner}" for r in reqs})
keys = {(c, k): (s, st) for c, k, s, st in query(
    "SELECT caller, key, state, status FROM idempotency_keys WHERE caller = ANY(%s)", (callers,))}
unsettled = [(r.kind, r.status, keys.get((f"user:{r.owner}", r.key))) for r in reqs
             if keys.get((f"user:{r.owner}", r.key)) != ("done", r.status)]
ok(not unsettled, f"all {len(reqs)} idempotency keys are done and store the final status the client got",
   f"{unsettled[:5]}")

proof = get("/proof")
ok(proof.status == 200 and proof.json.get("consistent") is True, "/proof is consistent after the faults",
   f"{proof.status} failing: {[c.get('name') for c in (proof.json or {}).get('checks', []) if not c.get('ok')]}")
problems = ledger_invariants()
ok(not problems, "ledger invariants hold (entries balance, balances = entries, total 0)", problems)

# ---- figures ------------------------------------------------------------------------
attempts = [a for r in reqs for a in r.attempts]
n_ack = sum(1 for r in reqs if r.status == 201)
n_rej = sum(1 for r in reqs if r.final is not None and r.status != 201)
by_status = collections.Counter("transport" if a.status is None else f"{a.status} {a.code}" for a in attempts
                                if retryable_attempt(a))
unknown_acked = sum(1 for r in reqs if r.unknown_then_acked)
replayed = sum(1 for r in reqs if r.status == 201 and r.final.headers.get("idempotent-replayed") == "true")
slowest = max(attempts, key=lambda a: a.ms)
diag("faults (t = seconds into the run; inject = time the injection took; recovery = fault start"
     " until healthz, a transfer and a claim all answered):")
for f in faults:
    diag(f"  t={f['t']:>5}  {f['fault']:<42} inject {f['inject_s']:>5.2f} s  recovery {f['recovery_s']} s  {f['parts']}")
diag(f"requests: {len(reqs)} ({sum(1 for r in reqs if r.kind == 'transfer')} transfers,"
     f" {sum(1 for r in reqs if r.kind == 'english')} English bids, {sum(1 for r in reqs if r.kind == 'drop')} claims);"
     f" acknowledged {n_ack}, rejected {n_rej}, unresolved {len(unresolved)};"
     f" lost {lost_t + lost_b}, duplicated {dup_t + dup_b}, unacknowledged rows {ph_t + ph_b}")
diag(f"attempts: {len(attempts)}; answers that made a client re-send: {dict(by_status)}")
diag(f"acknowledged only after an unknown outcome (5xx/transport, then the same key): {unknown_acked};"
     f" of which replayed (the first attempt had committed): {replayed}")
diag(f"slowest attempt: {slowest.ms:.0f} ms ({slowest.status} {slowest.code or slowest.error or ''})"
     f" at t={slowest.start - T0:.1f}s; database down: {len(down)} probe requests, max {down_max:.0f} ms")
no500 = [a for a in attempts if a.status == 500]
ok(not no500, "no attempt answered 500 during the faults (a lost database is 503, not a crash)",
   f"{len(no500)} 500s: {collections.Counter(a.code for a in no500)}")
ok(slowest.ms < HANG_MS, f"no attempt hung: the slowest took {slowest.ms:.0f} ms (< {HANG_MS} ms)")

# ---- the bank workload under faults ---------------------------------------------------
SCRIPT = os.path.join(REPO, "scripts", "stampede")
tmp = tempfile.mkdtemp(prefix="faults-bank-")
rec_path = os.path.join(tmp, "bank.json")
env = dict(os.environ, ZS_VAR=ZS_VAR, ZS_BIN=ZS_BIN)
t_bank = time.monotonic()
bank = subprocess.Popen([sys.executable, SCRIPT, "bank", "--accounts", "8", "--clients", "4", "--readers", "2",
                         "--seconds", "14", "--read-via", "pgbouncer", "--record", rec_path],
                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
bank_faults = []
time.sleep(5)
t = time.monotonic()
rc1, out1 = stack_cmd("restart", "pgbouncer")
bank_faults.append(f"restart PgBouncer at +{t - t_bank:.1f}s (rc {rc1})")
time.sleep(3)
bank_killed = kill_workers(2)
bank_faults.append(f"kill -9 {bank_killed} at +{time.monotonic() - t_bank:.1f}s")
time.sleep(2.5)
bank_killed = kill_workers(2)
bank_faults.append(f"kill -9 {bank_killed} at +{time.monotonic() - t_bank:.1f}s")
try:
    out, err = bank.communicate(timeout=240)
except subprocess.TimeoutExpired:
    bank.kill()
    out, err = bank.communicate()
lines = out.strip().splitlines()
try:
    s = json.loads(lines[-1]) if lines else None
except ValueError:
    s = None
diag(f"bank under faults: {'; '.join(bank_faults)}")
ok(rc1 == 0 and isinstance(s, dict), "bank: ran while PgBouncer restarted and workers were killed",
   f"exit {bank.returncode}\n{err[-1500:]}")
s = s or {}
diag("bank summary: " + json.dumps({k: s.get(k) for k in ("reads", "bad_reads", "read_errors", "transfers_ok",
                                                         "transfers_rejected", "errors", "client_retries",
                                                         "total", "proof", "duration_ms")}))
ok(bank.returncode == 0 and s.get("ok") is True, "bank: every check passed", f"failures: {s.get('failures')}")
ok(s.get("bad_reads") == 0 and (s.get("reads") or 0) > 0,
   f"bank: {s.get('reads')} snapshot reads, {s.get('bad_reads')} bad", s.get("failures"))
ok(s.get("errors") == 0 and (s.get("transfers_ok") or 0) > 0,
   f"bank: {s.get('transfers_ok')} transfers acknowledged, {s.get('transfers_rejected')} rejected, no errors")
# The faults reached the run: a writer had to re-send, or a reader's PgBouncer connection broke.
ok((s.get("client_retries") or 0) + (s.get("read_errors") or 0) > 0,
   f"bank: the faults reached the run ({s.get('client_retries')} re-sends, {s.get('read_errors')} failed reads)")

# The checker can fail: doctored copies of the real record fail the named check.
import zerosum_py.stampede as mod  # noqa: E402 (on sys.path through zs)
try:
    with open(rec_path) as f:
        brec = json.load(f)["record"]
except (OSError, ValueError, KeyError) as e:
    brec = None
    ok(False, "bank: record written", e)
if brec is not None:
    _, c = mod.verify_bank(brec)
    ok(c.ok, "bank: the untouched record re-verifies", c.failures[:5])

    def doctored(check, change, name):
        d = copy.deepcopy(brec)
        change(d)
        _, c = mod.verify_bank(d)
        ok(not c.ok and c.results.get(check) is False, f"bank checker fails a doctored record: {name}",
           f"checks {c.results}")

    def skew(d):
        d["reads"][len(d["reads"]) // 2][1] += 1
    doctored("reads_sum_to_total", skew, "one snapshot read sums to T+1")

    def negative(d):
        d["reads"][0][3] = 1
    doctored("reads_nonnegative", negative, "one snapshot read shows a negative balance")

    def lose(d):
        d["ledger"] = [r for r in d["ledger"] if r[0] != next(
            a["transfer"]["id"] for a in d["answers"] if a["status"] == 201)]
    doctored("ledger_matches_acks", lose, "an acknowledged transfer missing from the ledger")

    def dup(d):
        d["ledger"].append([new_key()] + d["ledger"][0][1:])
    doctored("keys_once", dup, "one idempotency key with two transfers")

    def http(d):
        k = next(iter(d["http_accounts"]))
        d["http_accounts"][k]["balance"] += 5
    doctored("http_sum_total", http, "GET /accounts balances sum to T+5")

diag(f"fault suite took {time.monotonic() - T0:.0f} s")
done()
