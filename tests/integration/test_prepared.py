"""Prepared statements under the per-worker policy (fcgi/store/db.c).

per-worker: the workers talk to PostgreSQL directly (not PgBouncer), and
every statement goes by its table name: prepared once per connection (one
`parse NAME` in the server's log per backend and name), executed by name
afterwards (`execute NAME`, never `<unnamed>`). A killed connection is
replaced and its statements prepared again, without an error reaching a
client; a migration that changes a statement's result type ("cached plan
must not change result type") is survived: the worker drops its prepared
set, reconnects and runs the transaction once more — no 500.

per-request: through PgBouncer, every statement unnamed."""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import re

PG_LOG = os.path.join(ZS_VAR, "log", "postgresql.log")
NAME_RE = re.compile(r"\[(\d+)\] zerosum_app@zerosum (?:LOG|ERROR):\s+"
                     r"(?:duration: [0-9.]+ ms\s+)?(parse|bind|execute) ([^:]+):")


def logging_on(on):
    """Every parse, bind and execute in the log (a reload reaches open sessions)."""
    if on:
        query("ALTER SYSTEM SET log_min_duration_statement = 0", user="postgres")
    else:
        query("ALTER SYSTEM RESET log_min_duration_statement", user="postgres")
    query("SELECT pg_reload_conf()", user="postgres")
    time.sleep(0.5)


def log_size():
    return os.path.getsize(PG_LOG) if os.path.exists(PG_LOG) else 0


def log_since(offset):
    with open(PG_LOG, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def events(text):
    """(pid, parse|bind|execute, name) for each extended-protocol step of the app role."""
    return [(int(m.group(1)), m.group(2), m.group(3).strip()) for m in NAME_RE.finditer(text)]


def app_backends():
    return [r[0] for r in query("SELECT pid FROM pg_stat_activity WHERE usename = 'zerosum_app'"
                                " AND application_name = 'zerosum' AND pid <> pg_backend_pid()",
                                user="postgres")]


policy = conf_value("connection_policy")
a, ta = create_account("prep-a", 10_000)
b, _ = create_account("prep-b")

if policy != "per-worker":
    is_(conf_value("db_port"), ENV.get("ZS_PGB_PORT"), "per-request: the workers connect to PgBouncer")
    logging_on(True)
    try:
        off = log_size()
        r = post("/transfer", {"from": a, "to": b, "amount": 1}, token=ta)
        is_(r.status, 201, "per-request: a transfer → 201")
        time.sleep(0.3)
        ev = events(log_since(off))
    finally:
        logging_on(False)
    ok(ev and all(n == "<unnamed>" for _, _, n in ev),
       f"per-request: every statement of the transfer is unnamed ({len(ev)} steps)",
       sorted({n for _, _, n in ev})[:10])
    done()

is_(conf_value("db_port"), ENV.get("ZS_PG_PORT"),
    "per-worker: the workers connect to PostgreSQL directly, not to PgBouncer")

TABLE = {row["name"] for row in json.loads(
    subprocess.run([ZS_BIN, "sql"], capture_output=True, text=True, check=True).stdout)}

logging_on(True)
try:
    # ---- 1. by name, prepared once per connection -----------------------------
    off = log_size()
    statuses = [post("/transfer", {"from": a, "to": b, "amount": 1}, token=ta).status for _ in range(12)]
    statuses += [get(f"/accounts/{a}", token=ta).status for _ in range(12)]
    time.sleep(0.3)
    ev = events(log_since(off))
    is_(statuses, [201] * 12 + [200] * 12, "per-worker: 12 transfers and 12 account reads succeed")
    executes = [(p, n) for p, k, n in ev if k == "execute"]
    parses = [(p, n) for p, k, n in ev if k == "parse"]
    ok(executes and all(n in TABLE for _, n in executes),
       f"per-worker: every statement executed by its table name ({len(executes)} executes)",
       sorted({n for _, n in executes if n not in TABLE})[:10])
    ok("ledger_lock_account" in {n for _, n in executes} and "account_get" in {n for _, n in executes},
       "per-worker: the transfer's and the read's statements are among them", sorted({n for _, n in executes}))
    dup = sorted({x for x in parses if parses.count(x) > 1})
    is_(dup, [], "per-worker: no statement is prepared twice on one connection")
    ok(len(parses) < len(executes),
       f"per-worker: fewer parses ({len(parses)}) than executes ({len(executes)}): plans are reused",
       (len(parses), len(executes)))

    # ---- 2. a reconnect prepares again -----------------------------------------
    killed = app_backends()
    ok(killed, f"per-worker: the workers' backends are visible ({len(killed)})", killed)
    for pid in killed:
        query("SELECT pg_terminate_backend(%s)", (pid,), user="postgres")
    wait_for(lambda: not (set(app_backends()) & set(killed)), timeout=10)
    off = log_size()
    statuses = [post("/transfer", {"from": a, "to": b, "amount": 1}, token=ta).status for _ in range(12)]
    time.sleep(0.3)
    text = log_since(off)
    ev = events(text)
    is_(statuses, [201] * 12, "after the backends were killed: 12 transfers → 201 (reconnected)")
    new_pids = {p for p, _, _ in ev} - set(killed)
    ok(new_pids and any(k == "parse" and n == "ledger_lock_account" and p in new_pids for p, k, n in ev),
       "after a reconnect: the new connections prepare their statements again", sorted(new_pids))
    ok("does not exist" not in text, "after a reconnect: no 'prepared statement does not exist' error",
       [l for l in text.splitlines() if "does not exist" in l][:3])

    # ---- 3. a migration changes a statement's result type ----------------------
    for _ in range(12):  # every default worker has account_get prepared
        get(f"/accounts/{a}", token=ta)
    off = log_size()
    query("ALTER TABLE accounts ALTER COLUMN name TYPE varchar(100)")
    try:
        reads = [get(f"/accounts/{a}", token=ta) for _ in range(12)]
        time.sleep(0.3)
        text = log_since(off)
    finally:
        query("ALTER TABLE accounts ALTER COLUMN name TYPE text")
    is_([r.status for r in reads], [200] * 12, "after a result-type migration: 12 account reads → 200, no 500")
    is_({(r.json or {}).get("account", {}).get("name") for r in reads}, {"prep-a"},
        "after the migration: the reads answer the account")
    ok("cached plan must not change result type" in text,
       "the migration did invalidate a prepared statement (the path above was taken)",
       text[-2000:])
    r = post("/transfer", {"from": a, "to": b, "amount": 1}, token=ta)
    is_(r.status, 201, "after the column went back: a transfer → 201")
    reads = [get(f"/accounts/{a}", token=ta).status for _ in range(12)]
    is_(reads, [200] * 12, "…and account reads → 200 again")
finally:
    logging_on(False)

# ---- 4. a new worker connects before its first request ---------------------
# (db_open_worker_connection): a worker replaced by the supervisor holds its
# connection to PostgreSQL before any request reaches it, so a burst meeting
# fresh workers waits for no backend start-up. Seen from the sockets: the new
# worker owns the client end of a connection to PostgreSQL's Unix socket.
import signal
import subprocess

SUP_PID_FILE = os.path.join(ZS_VAR, "run", "zerosum.pid")


def sup_children():
    with open(SUP_PID_FILE) as f:
        sup = int(f.read().split()[0])
    out = set()
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if d.isdigit() and rest[0] != "Z" and int(rest[1]) == sup:
            out.add(int(d))
    return out


def socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            m = re.match(r"socket:\[(\d+)\]$", os.readlink(f"/proc/{pid}/fd/{fd}"))
            if m:
                out.add(m.group(1))
    except OSError:
        pass
    return out


def is_worker(pid):
    """A pool worker holds a FastCGI listening socket (the jobs child does not)."""
    run = os.path.join(ZS_VAR, "run")
    with open("/proc/net/unix") as f:
        fcgi = {ln.split()[6] for ln in f if len(ln.split()) >= 8
                and ln.split()[7].startswith(os.path.join(run, "fcgi-"))}
    return bool(socket_inodes(pid) & fcgi)


def connected_to_postgres(pid):
    """pid owns the client end of a Unix-socket connection to PostgreSQL (ss -xpn:
    the server end's local address is .s.PGSQL.<port>, its peer the client's inode)."""
    out = subprocess.run(["ss", "-xpn"], capture_output=True, text=True).stdout
    peers = {p[7] for p in (ln.split() for ln in out.splitlines())
             if len(p) >= 8 and ".s.PGSQL." in p[4]}
    return bool(socket_inodes(pid) & peers)


before = sup_children()
victim = next(pid for pid in sorted(before) if is_worker(pid))
os.kill(victim, signal.SIGKILL)
ok(wait_for(lambda: len(sup_children() - before) == 1, timeout=15),
   "a killed worker is replaced by the supervisor")
fresh = sorted(sup_children() - before)
ok(fresh and wait_for(lambda: connected_to_postgres(fresh[0]), timeout=10, interval=0.05),
   "…and the new worker is connected to PostgreSQL before any request reached it", fresh)

is_(ledger_invariants(), [], "ledger invariants hold")
done()
