"""faultlib — fault injection and retrying clients for tests/integration/test_faults.py.

Imported after the toolkit (tests/lib/zs.py), which it uses for HTTP and the
stack's paths. Nothing here edits the stack's configuration: faults are what
an operator or a crash does to a running stack —

  kill_workers()     SIGKILL children of the supervisor ($ZS_VAR/run/zerosum.pid)
  pg_restart(mode)   pg_ctl restart -m fast|immediate as the database OS user,
                     holding the stack's lock as scripts/stack does
  pg_ctl(action)     pg_ctl start|stop the same way
  pgb_stop()         stop PgBouncer (SIGINT, as scripts/stack does; SIGTERM after 5 s)
  stack_cmd(...)     scripts/stack (restart pgbouncer|postgres|nginx)

and a client that sends one request and re-sends it with the SAME
Idempotency-Key after a 5xx, a transport failure, 429 or 409
idempotency_key_in_flight, until it gets a final answer or its time budget
runs out, keeping every attempt (start, latency, status, code, error).
"""
import fcntl
import os
import random
import signal
import subprocess
import threading
import time

from zs import REPO, ZS_VAR, request

PG_BIN = os.environ.get("ZS_PG_BIN", "/usr/lib/postgresql/15/bin")
PGDATA = os.path.join(ZS_VAR, "pg")
SUP_PID_FILE = os.path.join(ZS_VAR, "run", "zerosum.pid")
PGB_PID_FILE = os.path.join(ZS_VAR, "pgbouncer", "pgbouncer.pid")
LOCK_FILE = os.path.join(ZS_VAR, ".stack.lock")


# ---- processes ----------------------------------------------------------------

def _exe_name(pid):
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe").replace(" (deleted)", ""))
    except OSError:
        return None


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pid_from(path, names):
    """The pid in file `path` if alive and its executable is one of names (never a recycled pid)."""
    try:
        with open(path) as f:
            pid = int(f.readline().strip() or 0)
    except (OSError, ValueError):
        return None
    if pid > 0 and _alive(pid) and _exe_name(pid) in names:
        return pid
    return None


def supervisor_pid():
    return _pid_from(SUP_PID_FILE, {"zerosum"})


def workers():
    """pids of the supervisor's live children (every pool's workers and the jobs child)."""
    sup = supervisor_pid()
    if sup is None:
        return []
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == sup:
            out.append(int(d))
    return sorted(out)


def kill_workers(n=None):
    """SIGKILL n random children of the supervisor (all if n is None); returns their pids."""
    pids = workers()
    if n is not None:
        pids = random.sample(pids, min(n, len(pids)))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids


def pgbouncer_pid():
    return _pid_from(PGB_PID_FILE, {"pgbouncer"})


def postgres_pid():
    return _pid_from(os.path.join(PGDATA, "postmaster.pid"), {"postgres"})


def ensure_up():
    """Start PostgreSQL and PgBouncer again if a fault left them down (a test that failed
    half-way must not leave the next suite without a database)."""
    if postgres_pid() is None:
        pg_ctl("start")
    if pgbouncer_pid() is None:
        stack_cmd("restart", "pgbouncer")


def wait_gone(pid, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return not _alive(pid)


def pgb_stop():
    """Stop PgBouncer: SIGINT (safe shutdown, as scripts/stack), SIGTERM after 5 s. True if it stopped."""
    pid = pgbouncer_pid()
    if pid is None:
        return False
    os.kill(pid, signal.SIGINT)
    if not wait_gone(pid, 5):
        os.kill(pid, signal.SIGTERM)
        wait_gone(pid, 5)
    return not _alive(pid)


def stack_cmd(*args, timeout=120):
    p = subprocess.run([os.path.join(REPO, "scripts", "stack"), *args], capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).strip()


def pg_restart(mode):
    """pg_ctl restart -m MODE -w as the database OS user, under the stack's lock; (rc, output)."""
    return pg_ctl("restart", mode)


def pg_ctl(action, mode=None):
    """pg_ctl ACTION [-m MODE] -w (start|stop|restart) as the database OS user, as scripts/stack
    runs it (from /, holding $ZS_VAR/.stack.lock); (rc, output)."""
    cmd = [os.path.join(PG_BIN, "pg_ctl"), "-D", PGDATA, "-l", os.path.join(ZS_VAR, "log", "postgresql.log"),
           *(["-m", mode] if mode else []), "-w", "-t", "60", "-s", action]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    with open(LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            p = subprocess.run(cmd, cwd="/", capture_output=True, text=True, timeout=120)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return p.returncode, (p.stdout + p.stderr).strip()


# ---- clients --------------------------------------------------------------------

def retryable(resp):
    return (resp is None or resp.status >= 500 or resp.status == 429
            or resp.code == "idempotency_key_in_flight")


class Attempt:
    __slots__ = ("start", "ms", "status", "code", "error", "retry_after")

    def __init__(self, start, ms, status, code, error, retry_after):
        self.start, self.ms, self.status, self.code = start, ms, status, code
        self.error, self.retry_after = error, retry_after


def attempt(method, path, body=None, token=None, key=None, timeout=10):
    """One request; (Response or None, Attempt)."""
    t0 = time.monotonic()
    try:
        r = request(method, path, body=body, token=token, key=key, timeout=timeout)
        err = None
    except Exception as e:  # noqa: BLE001 — any transport failure
        r, err = None, f"{type(e).__name__}: {e}"
    a = Attempt(t0, (time.monotonic() - t0) * 1000, r.status if r else None, r.code if r else None, err,
                r.headers.get("retry-after") if r else None)
    return r, a


class Req:
    """One logical request: a fixed key and body, every attempt, the final answer."""

    def __init__(self, kind, method, path, body, token, owner, key, amount=None):
        self.kind, self.method, self.path, self.body = kind, method, path, body
        self.token, self.owner, self.key, self.amount = token, owner, key, amount
        self.attempts = []
        self.final = None          # the final Response (2xx or a 4xx business answer)

    @property
    def idem_key(self):
        return f"user:{self.owner}:{self.key}"

    @property
    def status(self):
        return self.final.status if self.final is not None else None

    def send_once(self, timeout=10):
        r, a = attempt(self.method, self.path, self.body, self.token, self.key, timeout)
        self.attempts.append(a)
        if r is not None and not retryable(r):
            self.final = r
        return r

    def send_until_final(self, budget=60.0, stop=None, timeout=10):
        """Re-send (same key) after a short sleep until final or the budget is spent."""
        t0 = time.monotonic()
        while self.final is None:
            r = self.send_once(timeout)
            if self.final is not None or time.monotonic() - t0 >= budget:
                break
            wait = 0.2
            if r is not None and r.headers.get("retry-after"):
                try:
                    wait = float(r.headers["retry-after"])
                except ValueError:
                    pass
            time.sleep(0.05 + random.random() * min(wait, 0.25))
        return self.final

    @property
    def unknown_then_acked(self):
        """Acknowledged (201) after at least one attempt whose outcome was unknown."""
        return self.status == 201 and any(retryable_attempt(a) for a in self.attempts[:-1])


def retryable_attempt(a):
    return a.status is None or a.status >= 500 or a.status == 429 or a.code == "idempotency_key_in_flight"


class Clients:
    """Background client threads; each loops: make a request, send it until final."""

    def __init__(self):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.reqs = []
        self.threads = []

    def add(self, make, name):
        """make(rnd, state) -> Req or None; state is the thread's own dict (and gets 'last')."""
        def loop():
            rnd = random.Random()
            state = {}
            while not self.stop.is_set():
                req = make(rnd, state)
                if req is None:
                    break
                with self.lock:
                    self.reqs.append(req)
                req.send_until_final(budget=90.0)
                state["last"] = req
                time.sleep(rnd.random() * 0.01)
        t = threading.Thread(target=loop, name=name, daemon=True)
        self.threads.append(t)

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self, timeout=120):
        self.stop.set()
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))
        return all(not t.is_alive() for t in self.threads)

    def snapshot(self):
        with self.lock:
            return list(self.reqs)
