"""Idempotency keys: exactly-once across transactions, and the IETF draft's rules.

- Market resolution spans several transactions. Faults are injected between
  them with a test-side trigger that raises SQLSTATE 57014 (what a statement
  timeout raises: the worker answers 503) exactly once at a chosen statement:
  when the key is finished (the last step), and in the middle of paying
  positions. A retry with the same key gets the original 200 and every
  holder is paid once; left alone, the jobs child finishes the resolution and
  a retry replays it. A retry while the resolution genuinely runs (held by a
  test-side lock on the escrow row) gets 409 idempotency_key_in_flight with
  Retry-After at once. One key on two concurrent resolves of different
  markets resolves one; the other gets 422 and its market is untouched.
- The header is an RFC 8941 sf-string: "K" and K name one key (replay, money
  moved once); malformed sf-strings get 400 and write nothing.
- The fingerprint applies defaults: memo omitted = null; time_in_force
  omitted = "gtc"; ticks omitted = their defaults; title/reserve/snipe_*
  omitted = null/0: replays, not 422.
- A new key whose claim waits past the brief wait on a lock that is not
  the key's (the test holds the key table in SHARE mode) is run again and
  commits: never 409 idempotency_key_in_flight.
- PostgreSQL only: a burst of duplicates (more than the transfer pool has
  workers) while the original is held open by a test-side row lock gets 409
  idempotency_key_in_flight with Retry-After quickly, and an unrelated
  transfer on the same pool is served meanwhile. (On the dsql dialect a
  duplicate never waits on real Aurora DSQL: optimistic concurrency; the
  local profile is PostgreSQL, whose insert would wait, so this part is
  skipped there.)
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import re
import subprocess
import threading
import time

ADMIN = admin_token()
DIALECT = os.environ.get("ZS_DIALECT", "postgres")


def must(r, status, what):
    if r.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {r}")
    return r.json


def order(tok, market, side, price, qty, outcome=None, key="auto", **extra):
    body = dict({"market": market, "side": side, "price": price, "quantity": qty}, **extra)
    if outcome:
        body["outcome"] = outcome
    return post("/order", body, token=tok, key=key)


def resolve(mid, outcome, key):
    return post(f"/markets/{mid}/resolve", {"outcome": outcome}, token=ADMIN, key=key)


def settle(fn, what, limit=20.0):
    """Call fn() until its answer is not 409 idempotency_key_in_flight (honouring Retry-After)."""
    deadline = time.time() + limit
    while True:
        r = fn()
        if r.status != 409 or r.code != "idempotency_key_in_flight" or time.time() > deadline:
            return r
        time.sleep(min(float(r.headers.get("retry-after", "1")), 1.0))


def event_market(pairs=3):
    """An event market with `pairs` YES/NO pairs minted between two funded users.
    Returns (market id, escrow id, yes holder, no holder)."""
    m = must(post("/markets", {"kind": "event", "title": "idem"}, token=ADMIN), 201, "POST /markets")["market"]
    y, ty = create_account("yes", fund=1000)
    n, tn = create_account("no", fund=1000)
    must(order(ty, m["id"], "buy", 60, pairs, "yes"), 201, "YES buy")
    must(order(tn, m["id"], "buy", 40, pairs, "no"), 201, "NO buy")
    return m["id"], m["escrow"], y, n


def market_state(mid):
    return query("SELECT status, coalesce(outcome, '') FROM markets WHERE id = %s", (mid,))[0]


def expected_body(mid, pairs):
    return {"market": mid, "outcome": "yes", "status": "resolved", "paid": 100 * pairs, "positions_settled": 2}


FAULT_FN = """
CREATE OR REPLACE FUNCTION zs_test_fault() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  IF nextval(TG_ARGV[0]::regclass) = 1 THEN
    RAISE EXCEPTION 'injected fault' USING ERRCODE = 'query_canceled';
  END IF;
  RETURN NEW;
END $$"""


def inject_once(name, table, when):
    """A trigger on table that fails the first statement matching `when` with 57014."""
    query(f"CREATE SEQUENCE IF NOT EXISTS {name}_seq")
    query(FAULT_FN)
    query(f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} FOR EACH ROW WHEN ({when})"
          f" EXECUTE FUNCTION zs_test_fault('{name}_seq')")


def drop_fault(name, table):
    query(f"DROP TRIGGER IF EXISTS {name} ON {table}")


def lock_waiters(holder=None):
    """Backends waiting for a lock that backend `holder` holds (any lock when
    holder is None). pg_blocking_pids names who really blocks whom, so a
    stray waiter elsewhere in the cluster (the jobs child) does not count."""
    if holder is None:
        return query("SELECT count(*) FROM pg_locks WHERE NOT granted")[0][0]
    return query("SELECT count(*) FROM pg_stat_activity"
                 " WHERE pg_blocking_pids(pid) @> ARRAY[%s]::int[]", (holder,))[0][0]


def proof_ok(what):
    r = get("/proof")
    ok(r.status == 200 and r.json.get("consistent"), f"{what}: /proof consistent",
       [c for c in (r.json or {}).get("checks", []) if not c.get("ok")])


# ---- resolve: a failure between its transactions ---------------------------------

PAIRS = 3
M1, ESC1, Y1, N1 = event_market(PAIRS)
k1 = new_key()
inject_once("fault_finish", "idempotency_keys", f"NEW.key = '{k1}' AND NEW.state = 'done'")
try:
    r = resolve(M1, "yes", k1)
    is_((r.status, r.code), (503, "database_unavailable"), "resolve: the last step fails (injected 57014) → 503")
    r = settle(lambda: resolve(M1, "yes", k1), "retry")
finally:
    drop_fault("fault_finish", "idempotency_keys")
is_((r.status, r.json), (200, expected_body(M1, PAIRS)), "the retry with the same key gets the original 200")
is_((balance(Y1), balance(N1), balance(ESC1), market_state(M1)),
    ((1000 - 60 * PAIRS + 100 * PAIRS, 0), (1000 - 40 * PAIRS, 0), (0, 0), ("resolved", "yes")),
    "the YES holder is paid once, the escrow ends at 0, the market is resolved")
r2 = resolve(M1, "yes", k1)
is_((r2.status, r2.json, r2.headers.get("idempotent-replayed")), (200, expected_body(M1, PAIRS), "true"),
    "a further retry replays the same 200")
is_(query("SELECT count(*) FROM transfers WHERE kind = 'payout' AND from_account = %s", (ESC1,))[0][0], 1,
    "exactly one payout transfer")
proof_ok("after the interrupted resolution")

# ---- resolve: a failure in the middle of paying ------------------------------------

M2, ESC2, Y2, N2 = event_market(PAIRS)
k2 = new_key()
inject_once("fault_pay", "positions", f"NEW.market_id = '{M2}' AND OLD.quantity > 0 AND NEW.quantity = 0")
try:
    r = resolve(M2, "yes", k2)
    is_(r.status, 503, "resolve: a payout batch fails (injected) → 503")
    r = settle(lambda: resolve(M2, "yes", k2), "retry")
finally:
    drop_fault("fault_pay", "positions")
is_((r.status, r.json), (200, expected_body(M2, PAIRS)), "the retry finishes it: 200 with the whole payout")
is_((balance(Y2), balance(ESC2)), ((1000 - 60 * PAIRS + 100 * PAIRS, 0), (0, 0)), "paid once, escrow 0")

# ---- resolve: left alone, the jobs child finishes it ---------------------------------

M3, ESC3, Y3, N3 = event_market(PAIRS)
k3 = new_key()
inject_once("fault_jobs", "idempotency_keys", f"NEW.key = '{k3}' AND NEW.state = 'done'")
try:
    r = resolve(M3, "yes", k3)
    is_(r.status, 503, "resolve: the last step fails → 503, and no retry comes")
    finished = wait_for(lambda: query("SELECT state FROM idempotency_keys WHERE key = %s", (k3,))[0][0] == "done",
                    timeout=20)
finally:
    drop_fault("fault_jobs", "idempotency_keys")
ok(finished, "the jobs child finishes the pending resolution and its key")
r = resolve(M3, "yes", k3)
is_((r.status, r.json, r.headers.get("idempotent-replayed")), (200, expected_body(M3, PAIRS), "true"),
    "a late retry replays the 200 the jobs child stored")
is_((balance(Y3), balance(ESC3), market_state(M3)),
    ((1000 - 60 * PAIRS + 100 * PAIRS, 0), (0, 0), ("resolved", "yes")), "paid once, escrow 0, resolved")

# ---- resolve: a retry while it genuinely runs ---------------------------------------

M4, ESC4, Y4, N4 = event_market(PAIRS)
k4 = new_key()
hold = db()
hold.autocommit = False
hc = hold.cursor()
hc.execute("SELECT 1 FROM accounts WHERE id = %s FOR UPDATE", (ESC4,))   # the payout batch waits here
hc.execute("SELECT pg_backend_pid()")
holder4 = hc.fetchone()[0]
res = {}
th = threading.Thread(target=lambda: res.setdefault("r", resolve(M4, "yes", k4)))
th.start()
waiting = wait_for(lambda: lock_waiters(holder4) > 0, timeout=10)
ok(waiting, "the resolution is held in its payout batch by a test-side lock on the escrow row")
t0 = time.time()
r = resolve(M4, "yes", k4)
el = time.time() - t0
ok(r.status == 409 and r.code == "idempotency_key_in_flight" and "retry-after" in r.headers and el < 3,
   f"a retry meanwhile: 409 idempotency_key_in_flight with Retry-After, in {el:.2f} s", r)
hold.rollback()
hold.close()
th.join(30)
is_((res.get("r").status if res.get("r") else None, res["r"].json if res.get("r") else None),
    (200, expected_body(M4, PAIRS)), "released, the original finishes with 200")
r = resolve(M4, "yes", k4)
is_((r.status, r.json), (200, expected_body(M4, PAIRS)), "and the retry now replays it")
is_(balance(Y4), (1000 - 60 * PAIRS + 100 * PAIRS, 0), "paid once")

# ---- resolve: one key, two markets at once --------------------------------------------

M5, ESC5, Y5, N5 = event_market(PAIRS)
M6, ESC6, Y6, N6 = event_market(PAIRS)
before = {m: (market_state(m), balance(e), balance(y)) for m, e, y in ((M5, ESC5, Y5), (M6, ESC6, Y6))}
k5 = new_key()
barrier = threading.Barrier(2)


def racer(mid):
    barrier.wait()
    return settle(lambda: resolve(mid, "yes", k5), "race")


rs = concurrently(racer, [(M5,), (M6,)], max_workers=2)
got = sorted((r.status, r.code) for r in rs)
is_(got, [(200, None), (422, "idempotency_key_reused")], "one key on two concurrent resolves: one 200, one 422")
loser = M5 if rs[0].status == 422 else M6
winner = M6 if loser == M5 else M5
esc = {M5: ESC5, M6: ESC6}
yes = {M5: Y5, M6: Y6}
is_((market_state(loser), balance(esc[loser]), balance(yes[loser])), before[loser],
    "the 422 changed nothing: its market still open, its escrow and holders untouched")
is_(market_state(winner), ("resolved", "yes"), "the 200 resolved its market")
r = resolve(loser, "yes", new_key())
is_((r.status, balance(esc[loser])), (200, (0, 0)), "the other market resolves with a key of its own")
proof_ok("after the resolution tests")

# ---- sf-string keys ---------------------------------------------------------------------

A, tA = create_account("sf-a", fund=500)
B, tB = create_account("sf-b")
kk = new_key()
r1 = post("/transfer", {"from": A, "to": B, "amount": 7}, token=tA, key=kk)
r2 = post("/transfer", {"from": A, "to": B, "amount": 7}, token=tA, key=f'"{kk}"')
is_((r1.status, r2.status, r2.body == r1.body, r2.headers.get("idempotent-replayed")), (201, 201, True, "true"),
    "bare key, then the same key as an sf-string: replayed")
r3 = post("/transfer", {"from": A, "to": B, "amount": 7}, token=tA, key='"q\\"uo\\\\te"')
r4 = post("/transfer", {"from": A, "to": B, "amount": 7}, token=tA, key='q"uo\\te')
is_((r3.status, r4.status, r4.body == r3.body), (201, 201, True),
    'sf-string "q\\"uo\\\\te" and the bare q"uo\\te are one key')
is_(balance(A), (486, 0), "money moved once per key (2 x 7)")
fp = ledger_fingerprint()
for bad in ['"abc', '"abc"x', '""', '"a\\nb"', '"a\\u0041"', '"ab\\"', '"abc" ;p=1', '"a"b"']:
    r = post("/transfer", {"from": A, "to": B, "amount": 1}, token=tA, key=bad)
    is_problem(r, 400, "invalid_idempotency_key", f"malformed sf-string {bad!r}: 400")
is_(ledger_fingerprint(), fp, "malformed keys wrote nothing")

# ---- defaults in the fingerprint ----------------------------------------------------------

kk = new_key()
r1 = post("/transfer", {"from": A, "to": B, "amount": 3}, token=tA, key=kk)
r2 = post("/transfer", {"from": A, "to": B, "amount": 3, "memo": None}, token=tA, key=kk)
is_((r1.status, r2.status, r2.body == r1.body), (201, 201, True), "transfer: memo omitted, then null: replayed")
r3 = post("/transfer", {"from": A, "to": B, "amount": 3, "memo": "x"}, token=tA, key=kk)
is_problem(r3, 422, "idempotency_key_reused", "…but a real memo is another request: 422")

SH = must(post("/markets", {"kind": "shares", "title": "d", "owner": A, "supply": 10}, token=ADMIN), 201,
          "shares market")["market"]["id"]
kk = new_key()
C, tC = create_account("sf-c", fund=100)
r1 = order(tC, SH, "buy", 5, 1, key=kk)
r2 = order(tC, SH, "buy", 5, 1, key=kk, time_in_force="gtc", outcome=None)
is_((r1.status, r2.status, r2.body == r1.body), (201, 201, True),
    "order: time_in_force and outcome omitted, then \"gtc\" and null: replayed")
is_(balance(C), (100, 5), "one resting buy holds 5")
kk = new_key()
r1 = post("/markets", {"kind": "event", "title": "t"}, token=ADMIN, key=kk)
r2 = post("/markets", {"kind": "event", "title": "t", "tick_min": 1, "tick_max": 99}, token=ADMIN, key=kk)
is_((r1.status, r2.status, r2.body == r1.body), (201, 201, True), "event market: ticks omitted, then 1..99: replayed")
kk = new_key()
EL = {"kind": "english", "seller": A, "start": 10, "increment": 1, "ends_in": 600}
r1 = post("/lots", EL, token=ADMIN, key=kk)
r2 = post("/lots", dict(EL, title=None, reserve=None, snipe_window=0, snipe_extend=0), token=ADMIN, key=kk)
is_((r1.status, r2.status, r2.body == r1.body), (201, 201, True),
    "english lot: title/reserve null and snipe_* 0, as omitted: replayed")

# ---- a burst of duplicates while the original is held --------------------------------------

if DIALECT != "postgres":
    ok(True, "# SKIP in-flight burst: PostgreSQL only (Aurora DSQL never waits on a key)")
else:
    P, tP = create_account("burst-p", fund=100)
    Q, _ = create_account("burst-q")
    U, tU = create_account("burst-u", fund=100)
    V, _ = create_account("burst-v")
    kk = new_key()
    hold = db()
    hold.autocommit = False
    hc = hold.cursor()
    hc.execute("SELECT 1 FROM accounts WHERE id = %s FOR UPDATE", (P,))
    hc.execute("SELECT pg_backend_pid()")
    holder_p = hc.fetchone()[0]
    orig = {}
    th = threading.Thread(target=lambda: orig.setdefault(
        "r", post("/transfer", {"from": P, "to": Q, "amount": 10}, token=tP, key=kk, timeout=60)))
    th.start()
    ok(wait_for(lambda: lock_waiters(holder_p) > 0, timeout=10),
       "the original transfer holds its key and waits on the test's row lock")
    N = 12                                          # the transfer pool has 3 workers

    def timed(fn):
        t0 = time.time()
        try:
            r = fn()
        except OSError as e:                        # a client timeout: the request was held
            r = Response(0, [], str(e))
        return r, time.time() - t0

    def dup(i):
        return timed(lambda: post("/transfer", {"from": P, "to": Q, "amount": 10}, token=tP, key=kk, timeout=10))

    def other():
        return timed(lambda: post("/transfer", {"from": U, "to": V, "amount": 1}, token=tU, timeout=10))

    side = {}
    ts = threading.Thread(target=lambda: side.setdefault("r", other()))
    ts.start()
    rs = concurrently(dup, [(i,) for i in range(N)], max_workers=N)
    ts.join(15)
    inflight = [r for r, _ in rs if r.status == 409 and r.code == "idempotency_key_in_flight"
                and "retry-after" in r.headers]
    slowest = max(el for _, el in rs)
    is_(len(inflight), N, f"{N} concurrent duplicates: all 409 idempotency_key_in_flight with Retry-After")
    ok(slowest < 3, f"…quickly (slowest {slowest:.2f} s)")
    sr = side.get("r")
    ok(sr is not None and sr[0].status == 201 and sr[1] < 3 and "r" not in orig,
       f"an unrelated transfer on the same pool is served meanwhile ({sr[1]:.2f} s)" if sr else "unrelated transfer")
    hold.rollback()
    hold.close()
    th.join(30)
    is_(orig["r"].status if "r" in orig else None, 201, "released, the original commits 201")
    r = post("/transfer", {"from": P, "to": Q, "amount": 10}, token=tP, key=kk)
    is_((r.status, r.body == orig["r"].body, r.headers.get("idempotent-replayed")), (201, True, "true"),
        "a retry after it replays the 201")
    is_((balance(P), balance(Q)), ((90, 0), (10, 0)), "money moved once")

# ---- a new key is never "in flight" ------------------------------------------------------
# The claim's brief wait (idempotency_wait_ms, postgres) is for a concurrent
# holder of the same key. A claim that outwaits it on another lock (here the
# test holds the key table in SHARE mode, which every insert waits for, as it
# may wait for the table's relation-extension lock under load) is run again,
# never answered 409 idempotency_key_in_flight: the transfer commits once the
# table is free (10 attempts of at least one 20 ms wait each outlast the
# test's hold), or, should they all be spent first, answers 503 having moved
# nothing.
W, tW = create_account("newkey-w", fund=100)
X, _ = create_account("newkey-x")


def transfer_attempts():
    m = re.search(r'^zerosum_tx_attempts_total{endpoint="transfer"} (\d+)$', get("/metrics").body, re.M)
    return int(m.group(1)) if m else 0


attempts0 = transfer_attempts()
locker = db("postgres")
locker.autocommit = False
lcur = locker.cursor()
lcur.execute("LOCK TABLE idempotency_keys IN SHARE MODE")
lcur.execute("SELECT pg_backend_pid()")
locker_pid = lcur.fetchone()[0]
got = {}
th = threading.Thread(target=lambda: got.setdefault(
    "r", post("/transfer", {"from": W, "to": X, "amount": 10}, token=tW, timeout=60)))
th.start()
waited = wait_for(lambda: lock_waiters(locker_pid) > 0, timeout=10, interval=0.005)
time.sleep(0.05)                                    # past the 20 ms brief wait
locker.rollback()
locker.close()
th.join(60)
ok(waited, "the new key's claim waits on the test's table lock")
r = got.get("r")
ok(r is not None and not (r.status == 409 and r.code == "idempotency_key_in_flight"),
   "a new key whose claim outwaits the brief wait on another lock is not answered 409 in flight", r)
ok(r is not None and r.status in (201, 503),
   "…it is run again: 201 once the table is free (503 only had every attempt been spent first)", r)
if DIALECT == "postgres":
    ok(transfer_attempts() - attempts0 >= 2, "…after its claim timed out on the table lock at least once")
is_((balance(W), balance(X)), ((90, 0), (10, 0)) if r and r.status == 201 else ((100, 0), (0, 0)),
    "…moving the money once")

# ---- resolve: a failed driver releases only its own lease -------------------------
# The statement a driver runs after a failed step (market_release_lease), as
# the daemon sends it: another driver's lease, taken over meanwhile, stays.
release_sql = subprocess.run([ZS_BIN, "sql", "market_release_lease"], capture_output=True,
                             text=True, check=True).stdout.strip()
M9 = must(post("/markets", {"kind": "event", "title": "idem-lease"}, token=ADMIN), 201,
          "POST /markets")["market"]["id"]
query("UPDATE markets SET status = 'resolving', outcome = 'yes', resolve_owner = 'driver-b',"
      " resolve_lease = now() + interval '60 seconds' WHERE id = %s", (M9,))
with db() as c9, c9.cursor() as cur:
    cur.execute(release_sql.replace("$1", "%s").replace("$2", "%s"), (M9, "driver-a"))
lease = query("SELECT resolve_lease IS NOT NULL FROM markets WHERE id = %s", (M9,))[0][0]
ok(lease, "a failed driver (a) does not release the lease driver b took over")
with db() as c9, c9.cursor() as cur:
    cur.execute(release_sql.replace("$1", "%s").replace("$2", "%s"), (M9, "driver-b"))
lease = query("SELECT resolve_lease IS NOT NULL FROM markets WHERE id = %s", (M9,))[0][0]
ok(not lease, "…and driver b releases its own")
query("UPDATE markets SET status = 'open', outcome = NULL, resolve_owner = NULL WHERE id = %s", (M9,))

proof_ok("at the end")
problems = ledger_invariants()
ok(not problems, "ledger invariants hold", problems)
done()
