import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib")); from zs import *

# test_platform — the platform against the live stack: HTTP basics and
# problem+json errors, request ids in the access log, one pool per endpoint,
# a worker killed with -9 is replaced in its own pool, SIGQUIT lets the
# request in flight finish, SIGHUP rolls the workers (used to switch the
# connection policy both ways), and a dead PgBouncer gives a quick 503.
#
# Other test files share the stack: every change made here (config, signals,
# PgBouncer) is undone before the file ends, and the stack is checked whole.


import re
import signal
import threading
import time
import uuid

LOG = os.path.join(ZS_VAR, "log")
ACCESS_LOG = os.path.join(LOG, "access.log")
SUP_LOG = os.path.join(LOG, "zerosum.log")
CONF = os.path.join(ZS_VAR, "zerosum.conf")
SUP_PID_FILE = os.path.join(ZS_VAR, "run", "zerosum.pid")
PGB_PID_FILE = os.path.join(ZS_VAR, "pgbouncer", "pgbouncer.pid")

ACCESS_RE = re.compile(r"^\S+ (?P<rid>\S+) (?P<method>\S+) (?P<path>\S+) (?P<status>\d+) "
                       r"attempts=(?P<attempts>\d+) (?P<ms>[\d.]+)ms pool=(?P<pool>\S+) pid=(?P<pid>\d+)$")


# ---- processes ---------------------------------------------------------------

def sup_pid():
    with open(SUP_PID_FILE) as f:
        return int(f.read().split()[0])


def proc_state(pid):
    """(state letter, ppid) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def alive(pid):
    st = proc_state(pid)
    return st is not None and st[0] != "Z"


def children(parent=None):
    """Live (non-zombie) child pids of the supervisor."""
    parent = parent or sup_pid()
    out = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_state(int(d))
            if st and st[1] == parent and st[0] != "Z":
                out.add(int(d))
    return out


def conf_pools():
    """{pool: size} from the running config file."""
    pools = {}
    with open(CONF) as f:
        for line in f:
            m = re.match(r"\s*pool_([a-z]+)\s*=\s*(\d+)\s*$", line)
            if m:
                pools[m.group(1)] = int(m.group(2))
    return pools


def pool_sockets():
    """{socket inode: pool name} for the pools' FastCGI sockets."""
    paths = {os.path.join(ZS_VAR, "run", f"fcgi-{p}.sock"): p for p in conf_pools()}
    out = {}
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7] in paths:
                out[parts[6]] = paths[parts[7]]
    return out


def pool_of(pid, socks=None):
    """The pool whose FastCGI socket process pid holds, or None (jobs child)."""
    socks = socks if socks is not None else pool_sockets()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]$", link)
        if m and m.group(1) in socks:
            return socks[m.group(1)]
    return None


def by_pool():
    """{pool: set of pids} of the supervisor's children; the jobs child under None."""
    socks = pool_sockets()
    out = {}
    for pid in children():
        out.setdefault(pool_of(pid, socks), set()).add(pid)
    return out


def expected_children():
    return sum(conf_pools().values()) + 1   # + the jobs child


def stack_whole():
    return len(children()) == expected_children()


# ---- logs ----------------------------------------------------------------------

def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def log_since(path, offset):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def access_entry(rid, timeout=5.0):
    """The parsed access-log line of request rid (waits for it), or None."""
    found = {}

    def look():
        with open(ACCESS_LOG, encoding="utf-8", errors="replace") as f:
            for line in f:
                if rid in line:
                    m = ACCESS_RE.match(line.strip())
                    found["e"] = m.groupdict() if m else {"raw": line.strip()}
                    return True
        return False
    wait_for(look, timeout=timeout, interval=0.05)
    return found.get("e")


def served_by(resp):
    """(pool, pid) of the worker that answered resp, from the access log."""
    e = access_entry(resp.headers.get("x-request-id", "?"))
    if not e or "pool" not in e:
        return None, None
    return e["pool"], int(e["pid"])


def metric(name):
    r = get("/metrics")
    m = re.search(rf"^{re.escape(name)} (\d+)$", r.body, re.M)
    return int(m.group(1)) if m else None


def set_policy(policy):
    with open(CONF) as f:
        text = f.read()
    text, n = re.subn(r"(?m)^connection_policy\s*=.*$", f"connection_policy = {policy}", text)
    if n == 0:
        text += f"\nconnection_policy = {policy}\n"
    # as scripts/stack writes it: per-worker straight to PostgreSQL (its
    # prepared statements), per-request through PgBouncer
    port = ENV["ZS_PG_PORT"] if policy == "per-worker" else ENV["ZS_PGB_PORT"]
    text = re.sub(r"(?m)^db_port\s*=.*$", f"db_port = {port}", text)
    with open(CONF + ".tmp", "w") as f:
        f.write(text)
    os.replace(CONF + ".tmp", CONF)


def roll_workers():
    """SIGHUP the supervisor; wait until every old child is gone and the pools
    are full again. Returns (old pids, new pids)."""
    before = children()
    os.kill(sup_pid(), signal.SIGHUP)
    wait_for(lambda: not (children() & before) and stack_whole(), timeout=15)
    return before, children()


class Load:
    """Requests in a loop on a thread until stopped; keeps the statuses."""

    def __init__(self, method, path, **kw):
        self.method, self.path, self.kw = method, path, kw
        self.statuses = []
        self.errors = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.statuses.append(request(self.method, self.path, timeout=10, **self.kw).status)
            except Exception as e:    # a reset connection counts as a failure
                self.errors.append(repr(e))
            time.sleep(0.01)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *a):
        self._stop.set()
        self._t.join(15)

    def failures(self, good):
        return [s for s in self.statuses if s not in good] + self.errors


# ---- 1. HTTP basics ------------------------------------------------------------

def test_basics():
    r = get("/healthz")
    is_(r.status, 200, "GET /healthz → 200")
    ok(r.headers.get("content-type", "").startswith("application/json"), "healthz is application/json",
       r.headers.get("content-type"))
    ok(isinstance(r.json, dict) and r.json.get("status") == "ok", 'healthz body has "status":"ok"', r.body)
    ok(r.headers.get("cache-control") == "no-store", "API answers carry Cache-Control: no-store",
       r.headers.get("cache-control"))

    r = get("/metrics")
    is_(r.status, 200, "GET /metrics → 200")
    ok(r.headers.get("content-type", "").startswith("text/plain"), "metrics is text/plain",
       r.headers.get("content-type"))
    ok("# TYPE zerosum_requests_total counter" in r.body, "metrics declares zerosum_requests_total",
       r.body[:400])
    ok(re.search(r'^zerosum_requests_total\{endpoint="healthz",status="200"\} [1-9]\d*$', r.body, re.M),
       "metrics counted the 200 from /healthz", r.body[:600])
    bad = [ln for ln in r.body.splitlines()
           if ln and not ln.startswith("#") and not re.match(r'^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$', ln)]
    ok(not bad, "every metrics line is Prometheus text (name{labels} value)", bad[:5])

    r = get("/no/such/thing")
    is_problem(r, 404, "not_found", "unknown path → 404 problem+json not_found")
    ok(isinstance(r.json, dict) and r.json.get("status") == 404 and r.json.get("title") == "Not Found"
       and r.json.get("type") and r.json.get("detail"),
       "404 problem has type, title, status and detail", r.body)

    r = get("/transfer")
    is_problem(r, 405, "method_not_allowed", "GET /transfer → 405")
    is_(r.headers.get("allow"), "POST", "GET /transfer: Allow: POST")
    r = request("DELETE", "/healthz")
    is_problem(r, 405, "method_not_allowed", "DELETE /healthz → 405")
    is_(r.headers.get("allow"), "GET, HEAD", "DELETE /healthz: Allow: GET, HEAD")

    admin = admin_token()
    before = ledger_fingerprint()
    r = post("/accounts", None, token=admin, raw='{"name": "x",')
    is_problem(r, 400, "malformed_json", "truncated JSON → 400 malformed_json")
    r = post("/accounts", None, token=admin, raw='{"name": NaN}')
    is_problem(r, 400, "malformed_json", "NaN (json-c accepts it) → 400 malformed_json")
    r = post("/accounts", None, token=admin, raw="{'name': 'x'}")
    is_problem(r, 400, "malformed_json", "single-quoted name → 400 malformed_json")
    r = post("/accounts", None, token=admin, raw='{"name": "x"}', content_type="text/plain")
    is_problem(r, 415, "unsupported_media_type", "text/plain body → 415")
    r = post("/accounts", None, token=admin, raw='{"name": "x"}', content_type=None)
    is_problem(r, 415, "unsupported_media_type", "no Content-Type → 415")

    big = '{"name": "' + "x" * (64 * 1024 + 1) + '"}'
    try:
        r = post("/accounts", None, token=admin, raw=big)
        is_(r.status, 413, "body over 64 KiB → 413")
    except Exception as e:
        ok(False, "body over 64 KiB → 413", repr(e))

    deep = '{"name": ' + "[" * 1000 + "]" * 1000 + "}"
    r = post("/accounts", None, token=admin, raw=deep)
    is_(r.status, 400, "JSON nested 1000 deep → 400")
    ok(r.headers.get("content-type", "").startswith("application/problem+json") and r.code,
       "…as problem+json with a code", r.body[:200])
    is_(ledger_fingerprint(), before, "rejected requests wrote nothing")

    # request ids: generated by nginx, echoed, logged with path and status
    r1, r2 = get("/healthz"), get("/no/such/thing")
    rid1, rid2 = r1.headers.get("x-request-id", ""), r2.headers.get("x-request-id", "")
    ok(re.fullmatch(r"[0-9a-f]{32}", rid1), "X-Request-Id is nginx's 32-hex $request_id", rid1)
    ok(rid1 != rid2, "each request gets its own id")
    ok(r2.json and r2.json.get("request_id") == rid2, "problem body carries the same request_id", r2.body)
    e = access_entry(rid1)
    ok(e and e.get("method") == "GET" and e.get("path") == "/healthz" and e.get("status") == "200",
       "access.log: request id on a line with GET /healthz 200", e)
    e = access_entry(rid2)
    ok(e and e.get("path") == "/no/such/thing" and e.get("status") == "404",
       "access.log: the 404 line carries its path and status", e)
    ok(e and e.get("attempts") == "0", "access.log: a 404 used no transaction attempts", e)


# ---- 2. pools ------------------------------------------------------------------

def test_pools():
    sup = sup_pid()
    expect = {
        ("GET", "/healthz"): "default",
        ("GET", "/metrics"): "default",
        ("GET", "/accounts/issuer"): "default",
        ("GET", "/no/such/thing"): "default",
        ("GET", "/transfer"): "transfer",
        ("GET", "/bid"): "bid",
        ("GET", "/bid/some/lot"): "bid",
        ("GET", "/proof"): "proof",
    }
    socks = pool_sockets()
    for (method, path), pool in expect.items():
        r = request(method, path)
        got_pool, pid = served_by(r)
        is_(got_pool, pool, f"{method} {path} served by pool {pool} (status {r.status})")
        ok(pid and proc_state(pid) and proc_state(pid)[1] == sup,
           f"{method} {path}: pid={pid} is a child of the supervisor")
        is_(pool_of(pid, socks) if pid else None, pool,
            f"{method} {path}: that pid holds the {pool} pool's socket")
    groups = by_pool()
    sizes = {p: len(pids) for p, pids in groups.items() if p}
    is_(sizes, {p: n for p, n in conf_pools().items() if n > 0}, "each pool runs its configured size")
    is_(len(groups.get(None, ())), 1, "one jobs child besides the workers")


# ---- 3. kill -9 ----------------------------------------------------------------

def test_kill9():
    before = children()
    is_(len(before), expected_children(), "before: every pool full and the jobs child")
    r = get("/transfer")
    pool, victim = served_by(r)
    is_(pool, "transfer", "access log names the transfer worker that answered")
    if not victim:
        return
    transfer_before = by_pool().get("transfer", set())
    mark = log_size(SUP_LOG)

    with Load("GET", "/transfer") as load:
        time.sleep(0.2)
        os.kill(victim, signal.SIGKILL)
        replaced = wait_for(lambda: not alive(victim) and len(children()) == len(before), timeout=10)
        after_kill = [request("GET", "/transfer").status for _ in range(5)]
        time.sleep(0.2)
    ok(replaced, "the killed worker is gone and the children count is back", children())
    after = children()
    new = after - before
    is_(before - after, {victim}, "only the killed worker is gone")
    is_(len(new), 1, "exactly one new child")
    transfer_after = by_pool().get("transfer", set())
    is_(len(transfer_after), len(transfer_before), "the transfer pool is back to its size")
    ok(new and new <= transfer_after, "the new child holds the transfer pool's socket", (new, transfer_after))
    if new:
        newpid = next(iter(new))
        seen = set()
        for _ in range(60):
            p, pid = served_by(get("/transfer"))
            seen.add((p, pid))
            if pid == newpid:
                break
        ok(("transfer", newpid) in seen, "the new worker answers transfer requests (pool=transfer in the log)",
           seen)
    ok(wait_for(lambda: f"transfer worker {victim} killed by signal 9" in log_since(SUP_LOG, mark), timeout=5),
       "the supervisor log names the death: 'killed by signal 9'", log_since(SUP_LOG, mark)[-500:])
    is_(after_kill, [405] * 5, "requests right after the kill are answered")
    fails = load.failures({405})
    ok(len(load.statuses) >= 5, f"requests kept flowing during the kill ({len(load.statuses)})")
    ok(len(fails) <= 1, "at most the one request in flight was lost during the kill", fails)
    is_(get("/healthz").status, 200, "the service still answers /healthz")


# ---- 4. SIGQUIT to a busy worker ---------------------------------------------------

def test_sigquit_in_flight():
    a, ta = create_account("quit-from", fund=1000)
    b, _ = create_account("quit-to")
    transfer_pids = by_pool().get("transfer", set())
    ok(len(transfer_pids) >= 1, "transfer workers found", transfer_pids)

    locker = db()
    result = {}
    try:
        cur = locker.cursor()
        cur.execute("BEGIN")
        cur.execute("SELECT id FROM accounts WHERE id = %s FOR UPDATE", (a,))

        def slow():
            try:
                result["r"] = post("/transfer", {"from": a, "to": b, "amount": 7}, token=ta, timeout=30)
            except Exception as e:
                result["e"] = repr(e)
        t = threading.Thread(target=slow, daemon=True)
        t.start()
        # the transfer is blocked on our row lock once PostgreSQL shows a waiter
        waiting = wait_for(lambda: query(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid','tuple')")[0][0] > 0,
            timeout=10)
        ok(waiting, "the transfer is blocked on the row lock")
        mark = log_size(SUP_LOG)
        for pid in transfer_pids:
            os.kill(pid, signal.SIGQUIT)
        # idle workers leave at once; the one holding the request must stay
        wait_for(lambda: sum(alive(p) for p in transfer_pids) <= 1, timeout=5)
        time.sleep(0.5)
        busy = [p for p in transfer_pids if alive(p)]
        is_(len(busy), 1, "SIGQUIT: idle transfer workers exited, the busy one stays")
        ok(t.is_alive() and "r" not in result, "the request is still in flight")
        cur.execute("COMMIT")
    finally:
        locker.close()
    t.join(20)
    r = result.get("r")
    ok(r is not None and r.status == 201, "the in-flight transfer completed with 201", r or result)
    if r is not None:
        pool, pid = served_by(r)
        ok(pool == "transfer" and pid in transfer_pids,
           "it was answered by one of the signalled workers", (pool, pid))
        if busy:
            is_(pid, busy[0], "…the one that stayed alive")
    ok(wait_for(lambda: not any(alive(p) for p in transfer_pids), timeout=5),
       "the busy worker exits after its request")
    ok(wait_for(stack_whole, timeout=10), "the transfer pool is respawned to full size")
    new_transfer = by_pool().get("transfer", set())
    ok(new_transfer and not (new_transfer & transfer_pids), "all transfer pids are new", new_transfer)
    logged = log_since(SUP_LOG, mark)
    ok(not re.search(r"transfer worker \d+ (killed by signal|exited with status)", logged),
       "the drained workers exited 0 (no death logged)", logged[-500:])
    is_(balance(a), (1000 - 7, 0), "the transfer took effect exactly once")
    r2 = post("/transfer", {"from": a, "to": b, "amount": 1}, token=ta)
    is_(r2.status, 201, "the respawned transfer pool serves a transfer")


# ---- 5. SIGHUP: roll the workers, switch the connection policy ---------------------

def connects_per(n, path="/healthz"):
    """zerosum_db_connects_total growth over n sequential GETs of path (all must be 200)."""
    c0 = metric("zerosum_db_connects_total")
    statuses = [get(path).status for _ in range(n)]
    c1 = metric("zerosum_db_connects_total")
    return (c1 - c0 if c0 is not None and c1 is not None else None), statuses


def check_policy(policy, a, ta, b):
    r = get("/healthz")
    is_(r.status, 200, f"{policy}: /healthz → 200")
    is_(r.json.get("policy") if r.json else None, policy, f"{policy}: /healthz reports the policy")
    r = post("/transfer", {"from": a, "to": b, "amount": 1}, token=ta)
    is_(r.status, 201, f"{policy}: a transfer → 201")
    for _ in range(10):     # warm every default worker (and the jobs child) up
        get("/healthz")
    n = 20
    delta, statuses = connects_per(n)
    is_(statuses, [200] * n, f"{policy}: {n} /healthz in a row all 200")
    default_size = conf_pools().get("default", 2)
    if policy == "per-request":
        ok(delta is not None and delta >= n, f"per-request: db_connects grew by ≥ {n} over {n} requests",
           delta)
    else:
        ok(delta is not None and delta <= default_size + 1,
           f"per-worker: db_connects grew by ≤ {default_size + 1} over {n} requests (connections reused)",
           delta)


def test_sighup_policies():
    a, ta = create_account("hup-from", fund=1000)
    b, _ = create_account("hup-to")
    try:
        set_policy("per-worker")
        with Load("GET", "/healthz") as load:
            old, new = roll_workers()
        ok(old and new and not (old & new), "SIGHUP: every worker pid changed", (old, new))
        is_(len(new), expected_children(), "SIGHUP: pools full again")
        ok(len(load.statuses) >= 3 and not load.failures({200}),
           f"SIGHUP: /healthz kept answering 200 during the roll ({len(load.statuses)} requests)",
           load.failures({200}))
        check_policy("per-worker", a, ta, b)
    finally:
        set_policy("per-request")
        old, new = roll_workers()
    ok(not (old & new) and len(new) == expected_children(), "SIGHUP back: workers rolled again")
    check_policy("per-request", a, ta, b)


def set_conf_value(name, value):
    """Set one key of the running config file (takes effect at the next SIGHUP)."""
    with open(CONF) as f:
        text = f.read()
    text, n = re.subn(r"(?m)^%s\s*=.*$" % re.escape(name), f"{name} = {value}", text)
    if n == 0:
        text += f"\n{name} = {value}\n"
    with open(CONF + ".tmp", "w") as f:
        f.write(text)
    os.replace(CONF + ".tmp", CONF)


def test_roll_deadline():
    """A roll never waits on an old child for ever: one stuck in a request (here
    behind a row lock) past drain_timeout is terminated, and what it was doing
    is rolled back with its connection."""
    a, ta = create_account("roll-from", fund=1000)
    b, _ = create_account("roll-to")
    before = (balance(a), balance(b))
    set_conf_value("drain_timeout", "2")
    roll_workers()
    locker = db()
    result = {}
    t = None
    try:
        cur = locker.cursor()
        cur.execute("BEGIN")
        cur.execute("SELECT id FROM accounts WHERE id = %s FOR UPDATE", (a,))

        def stuck():
            try:
                result["r"] = post("/transfer", {"from": a, "to": b, "amount": 5}, token=ta, timeout=30)
            except Exception as e:
                result["e"] = repr(e)
        t = threading.Thread(target=stuck, daemon=True)
        t.start()
        ok(wait_for(lambda: query(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid','tuple')")[0][0] > 0,
            timeout=10), "roll deadline: a transfer is stuck behind the row lock")
        mark = log_size(SUP_LOG)
        t0 = time.time()
        old, new = roll_workers()
        elapsed = time.time() - t0
        ok(not (children() & old) and stack_whole(),
           f"roll deadline: the roll completed while the lock was still held ({elapsed:.1f} s)",
           (sorted(children() & old), len(children()), expected_children()))
        # without the deadline the roll waits for the app role's 10 s statement_timeout
        ok(elapsed < 9, f"roll deadline: within drain_timeout + a few seconds, well before the "
                        f"10 s statement_timeout ({elapsed:.1f} s)")
        ok("terminating them" in log_since(SUP_LOG, mark),
           "roll deadline: the supervisor logged that it terminated the old generation",
           log_since(SUP_LOG, mark)[-600:])
        cur.execute("ROLLBACK")
    finally:
        locker.close()
        set_conf_value("drain_timeout", "10")
        roll_workers()
    if t is not None:
        t.join(20)
    r = result.get("r")
    ok(r is None or r.status == 503, "roll deadline: the terminated request did not succeed",
       r.status if r is not None else result)
    is_((balance(a), balance(b)), before, "roll deadline: and it moved nothing")


# ---- 6. database down ------------------------------------------------------------

def test_database_down():
    with open(PGB_PID_FILE) as f:
        pgb = int(f.read().split()[0])
    try:
        os.kill(pgb, signal.SIGTERM)
        ok(wait_for(lambda: not alive(pgb), timeout=10), "PgBouncer stopped")
        t0 = time.time()
        r = get("/healthz", timeout=10)
        elapsed = time.time() - t0
        is_problem(r, 503, "database_unavailable", "database down: /healthz → 503 database_unavailable")
        ok(r.headers.get("retry-after", "").isdigit(), "…with a Retry-After header", r.headers)
        ok(elapsed < 3.0, f"…within 3 s ({elapsed:.2f} s)")
        ok("pgbouncer" not in r.body.lower() and "socket" not in r.body.lower(),
           "no libpq text reaches the client", r.body)
        r = get("/metrics")
        is_(r.status, 200, "database down: /metrics still answers")
        r = get("/transfer")
        is_(r.status, 405, "database down: routing errors still answer")
    finally:
        res = stack("restart", "pgbouncer")
        ok(res.returncode == 0, "scripts/stack restart pgbouncer", res.stdout + res.stderr)
    ok(wait_for(lambda: get("/healthz").status == 200, timeout=10), "database back: /healthz → 200 again")
    a, ta = create_account("after-db", fund=10)
    b, _ = create_account("after-db-to")
    is_(post("/transfer", {"from": a, "to": b, "amount": 3}, token=ta).status, 201,
        "database back: a transfer → 201")


# ---- 7. a private supervisor: recycle, crash-loop throttle, USR1, QUIT, TERM -------
#
# Whole-supervisor signals cannot go to the shared stack, so these run a second
# `zerosum serve` of our own: its own sockets, pid file and logs under
# $ZS_VAR/tsup, the stack's PgBouncer for its database, and no nginx — requests
# speak FastCGI straight to its socket.

def fcgi_request(sock_path, method, uri, body=b"", content_type="", request_id=None, timeout=10):
    """One FastCGI request; returns (status, headers dict, body bytes, rid)."""
    import socket
    import struct

    def rec(rtype, content):
        return struct.pack("!BBHHBx", 1, rtype, 1, len(content), 0) + content

    def nv(k, v):
        k, v = k.encode(), v.encode()
        ln = lambda n: struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 0x80000000)  # noqa: E731
        return ln(len(k)) + ln(len(v)) + k + v

    rid = request_id or uuid.uuid4().hex
    path, _, query = uri.partition("?")
    params = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "QUERY_STRING": query,
              "REQUEST_ID": rid, "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": content_type}
    msg = rec(1, struct.pack("!HB5x", 1, 0))           # BEGIN_REQUEST, RESPONDER, no keep-alive
    msg += rec(4, b"".join(nv(k, v) for k, v in params.items())) + rec(4, b"")
    if body:
        msg += rec(5, body)
    msg += rec(5, b"")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(msg)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    out, i = b"", 0
    while i + 8 <= len(buf):
        _, rtype, _, clen, plen = struct.unpack("!BBHHB", buf[i:i + 7])
        if rtype == 6:                                  # STDOUT
            out += buf[i + 8:i + 8 + clen]
        i += 8 + clen + plen
    head, _, rbody = out.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    status = int(headers.get("status", "0").split()[0] or 0)
    return status, headers, rbody, rid


class PrivateSupervisor:
    def __init__(self, name, **settings):
        self.dir = os.path.join(ZS_VAR, name)
        self.run = os.path.join(self.dir, "run")
        self.log = os.path.join(self.dir, "zerosum.log")
        self.access = os.path.join(self.dir, "access.log")
        self.pid_file = os.path.join(self.run, "zerosum.pid")
        self.conf = os.path.join(self.dir, "zerosum.conf")
        self.proc = None
        stack_conf = {}
        with open(CONF) as f:
            for line in f:
                if "=" in line and not line.lstrip().startswith("#"):
                    k, v = line.split("=", 1)
                    stack_conf[k.strip()] = v.strip()
        self.settings = {
            "var_dir": self.dir, "socket_dir": self.run, "pid_file": self.pid_file,
            "log_file": self.log, "access_log": self.access,
            "jwt_secret_file": os.path.join(self.dir, "jwt.key"),
            "db_host": stack_conf.get("db_host", ""), "db_port": stack_conf.get("db_port", "6433"),
            "db_name": "zerosum", "db_user": "zerosum_app", "connection_policy": "per-request",
            "pool_default": "1", "pool_bid": "0", "pool_transfer": "0", "pool_proof": "0",
            "pool_order": "0",
            # the stack's own jobs child seals this database with the stack's
            # log key; a second sealer with another key would sign checkpoints
            # the stack's verifier key does not verify
            "seal_interval_ms": "0",
            "log_key_file": stack_conf.get("log_key_file", ""),
        }
        self.settings.update({k: str(v) for k, v in settings.items()})

    def sock(self, pool="default"):
        return os.path.join(self.run, f"fcgi-{pool}.sock")

    def start(self):
        import shutil
        import subprocess
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.run)
        with open(self.conf, "w") as f:
            for k, v in self.settings.items():
                f.write(f"{k} = {v}\n")
        errlog = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen([ZS_BIN, "serve", "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=errlog, stderr=errlog, start_new_session=True)
        errlog.close()
        return wait_for(lambda: os.path.exists(self.pid_file) and os.path.exists(self.sock())
                        and len(children(self.proc.pid)) == self.expected(), timeout=10)

    def expected(self):
        return sum(int(v) for k, v in self.settings.items() if k.startswith("pool_")) + 1

    def workers(self, pool="default"):
        socks = {}
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                parts = line.split()
                if len(parts) >= 8 and parts[7] == self.sock(pool):
                    socks[parts[6]] = pool
        return {p for p in children(self.proc.pid) if pool_of(p, socks) == pool}

    def logged(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def served_by(self, rid):
        try:
            with open(self.access, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if rid in line:
                        m = ACCESS_RE.match(line.strip())
                        return int(m.group("pid")) if m else None
        except OSError:
            pass
        return None

    def stop(self):
        """Make sure it is gone (after a test that failed halfway)."""
        if self.proc and self.proc.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                except OSError:
                    pass
                try:
                    self.proc.wait(5)
                    break
                except Exception:
                    pass


def test_private_supervisor():
    ps = PrivateSupervisor("tsup", max_requests=3, respawn_max=3, respawn_window=3, drain_timeout=5)
    try:
        ok(ps.start(), "private supervisor: started with its pool and jobs child", ps.logged()[-500:])
        st, hdr, body, rid = fcgi_request(ps.sock(), "GET", "/nowhere")
        is_(st, 404, "private supervisor: FastCGI GET /nowhere → 404")
        is_(hdr.get("x-request-id"), rid, "the REQUEST_ID param comes back as X-Request-Id")
        ok(hdr.get("content-type", "").startswith("application/problem+json"), "…as problem+json", hdr)

        # max_requests = 3: one worker answers three, then is replaced
        first = ps.workers()
        pids = []
        for _ in range(3):
            _, _, _, rid = fcgi_request(ps.sock(), "GET", "/metrics")
            wait_for(lambda: ps.served_by(rid), timeout=3)
            pids.append(ps.served_by(rid))
        # the first request above was the 2nd this worker served (after /nowhere)
        ok(wait_for(lambda: "recycling after 3 requests" in ps.logged(), timeout=5),
           "max_requests: the worker logs its recycling", ps.logged()[-400:])
        ok(wait_for(lambda: len(ps.workers()) == 1 and not (ps.workers() & first), timeout=5),
           "max_requests: a fresh worker replaces it", (first, ps.workers()))
        ok(not re.search(r"default worker \d+ (killed|exited with status)", ps.logged()),
           "a recycled worker is not counted as a death")
        is_(len(set(pids)), 2, "requests 2-3 by the first worker, request 4 by its replacement")

        # SIGUSR1 reopens logs: move them away, signal, the new files fill
        os.rename(ps.access, ps.access + ".1")
        os.rename(ps.log, ps.log + ".1")
        os.kill(ps.proc.pid, signal.SIGUSR1)
        ok(wait_for(lambda: "SIGUSR1: logs reopened" in ps.logged(), timeout=5),
           "SIGUSR1: the supervisor writes to a fresh log file")
        time.sleep(0.3)
        _, _, _, rid = fcgi_request(ps.sock(), "GET", "/metrics")
        ok(wait_for(lambda: ps.served_by(rid), timeout=5),
           "SIGUSR1: workers write the access log to the fresh file")

        # crash loop: 3 deaths within 3 s throttle the pool, then it recovers
        t_first = time.time()
        for i in range(3):
            w = ps.workers()
            if not w:
                wait_for(lambda: ps.workers(), timeout=5)
                w = ps.workers()
            for pid in w:
                os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not (ps.workers() & w) and (i == 2 or ps.workers()), timeout=5)
        ok(wait_for(lambda: "throttling respawns" in ps.logged(), timeout=3),
           "crash loop: the supervisor logs that it throttles the pool", ps.logged()[-600:])
        time.sleep(0.5)
        if time.time() - t_first < 1.9:   # deaths are stamped in whole seconds
            is_(len(ps.workers()), 0, "crash loop: no respawn while throttled")
        ok(wait_for(lambda: len(ps.workers()) == 1, timeout=8),
           "crash loop: the pool is refilled once the window has passed")
        st, _, _, _ = fcgi_request(ps.sock(), "GET", "/nowhere")
        is_(st, 404, "crash loop: the refilled pool answers")

        # SIGQUIT: drain and exit 0, removing the pid file and sockets
        t0 = time.time()
        os.kill(ps.proc.pid, signal.SIGQUIT)
        try:
            rc = ps.proc.wait(8)
        except Exception:
            rc = None
        is_(rc, 0, "SIGQUIT: the supervisor exits 0")
        ok(time.time() - t0 < 3, f"SIGQUIT: idle workers drain at once ({time.time() - t0:.2f} s)")
        ok("drain timed out" not in ps.logged(), "SIGQUIT: no drain timeout")
        ok(not os.path.exists(ps.pid_file) and not os.path.exists(ps.sock()),
           "SIGQUIT: pid file and sockets removed")
    finally:
        ps.stop()

    ps = PrivateSupervisor("tsup", pool_transfer=2)
    try:
        ok(ps.start(), "private supervisor (2nd run): started")
        kids = children(ps.proc.pid)
        t0 = time.time()
        os.kill(ps.proc.pid, signal.SIGTERM)
        try:
            rc = ps.proc.wait(8)
        except Exception:
            rc = None
        is_(rc, 0, "SIGTERM: the supervisor exits 0")
        ok(time.time() - t0 < 2, f"SIGTERM: fast stop ({time.time() - t0:.2f} s)")
        ok(not any(alive(p) for p in kids), "SIGTERM: no child left behind")
        ok("still alive after SIGTERM" not in ps.logged(),
           "SIGTERM: children stop on TERM, no escalation to KILL", ps.logged()[-400:])
        ok(not os.path.exists(ps.pid_file), "SIGTERM: pid file removed")
    finally:
        ps.stop()
    import shutil
    shutil.rmtree(ps.dir, ignore_errors=True)


def main():
    t0 = time.time()
    for t in (test_basics, test_pools, test_kill9, test_sigquit_in_flight, test_sighup_policies,
              test_roll_deadline,
              test_database_down, test_private_supervisor):
        try:
            t()
        except Exception as e:
            import traceback
            ok(False, f"{t.__name__} raised {e!r}", traceback.format_exc())
    ok(wait_for(stack_whole, timeout=10), "the stack is whole at the end (pools full, jobs child)")
    problems = ledger_invariants()
    ok(not problems, "ledger invariants hold", problems)
    diag(f"platform tests took {time.time() - t0:.1f} s")


main()
done()
