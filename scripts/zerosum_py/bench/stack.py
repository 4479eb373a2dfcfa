"""bench/run's stacks: one per connection policy, started if need be, set up
once (10,003 funded bench accounts, a 1,000,000-entry ledger) and reused."""
import os
import random
import subprocess
import sys
import time
import uuid

from .. import metrics, tokens
from ..client import Api
from ..stack import ADMIN_SUB, ISSUER, REPO, key_file, load_env

BENCH = os.path.join(REPO, "bench")
POLICIES = ("per-request", "per-worker")
# stacks of their own, at port offsets 2, 3, 4 (after the two policies')
ROLES = (None, None, "proof-small", "proof-large", "tlog-large")
N_USERS = 10000          # bench accounts 1..10000: uniform transfers, bidders, buyers
HOT_A, HOT_B = 10001, 10002
SELLER = 10003
N_BENCH = 10003
FUND = 1_000_000_000     # minor units issued to each bench account
PROOF_MIN_ENTRIES = 1_000_000
SEED_BATCH = 100_000     # transfers per seeding transaction (2 entries each)
MEMORY_MAX_REQUESTS = 1_000_000


def bench_pools(concurrency):
    """The bench stacks' worker pools (ZS_POOLS overrides): scripts/stack's
    defaults, except that the transfer and bid pools get one worker per
    client of the load (--concurrency), so the HTTP side may have as many
    transactions in flight as pgbench has clients (a worker runs one request
    at a time, and waits on every round trip and COMMIT's flush)."""
    c = max(3, int(concurrency or 16))
    return f"default=2 bid={c} transfer={c} proof=1 order=2"


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)



def running_entries_sql(source, tag="seed"):
    """SQL appending the entries `source` selects (ord, transfer_id, account_id, amount: in ord
    order per account) with each account's next seq and balance after each, as the server
    writes them (sql/queries/ledger.sql): the accounts are locked first (in id order), each
    entry's balance_after is the account's balance before the batch plus the running sum, and
    its time never precedes the account's last entry. Run it BEFORE the batch's balance
    UPDATE, in the same transaction."""
    return f"""CREATE TEMP TABLE {tag}_entries ON COMMIT DROP AS {source};
SELECT count(*) AS locked FROM (SELECT 1 FROM accounts
  WHERE id IN (SELECT DISTINCT account_id FROM {tag}_entries) ORDER BY id FOR UPDATE) l \\g /dev/null
INSERT INTO entries (transfer_id, account_id, amount, created_at, seq, balance_after)
  SELECT x.transfer_id, x.account_id, x.amount, greatest(now(), l.created_at),
         coalesce(l.seq, 0) + row_number() OVER w, a.balance + sum(x.amount) OVER w
    FROM {tag}_entries x JOIN accounts a ON a.id = x.account_id
    LEFT JOIN LATERAL (SELECT e.seq, e.created_at FROM entries e WHERE e.account_id = x.account_id
                        AND e.seq IS NOT NULL ORDER BY e.seq DESC LIMIT 1) l ON true
  WINDOW w AS (PARTITION BY x.account_id ORDER BY x.ord);"""

class BenchError(Exception):
    pass


class Stack:
    """One policy's bench stack: ZS_VAR=var/bench-<policy>, its own ports and setup."""

    def __init__(self, policy, args, role=None):
        # role: a stack of a scenario of its own (ROLES, e.g. proof-scale's
        # two histories) rather than a policy's; it runs the given policy
        i = ROLES.index(role) if role else POLICIES.index(policy)
        self.policy = policy
        self.name = role or policy
        self.args = args
        self.var = os.path.realpath(os.path.join(REPO, "var", f"bench-{self.name}"
                                                 + (getattr(args, "var_suffix", "") or "")))
        base = getattr(args, "ports", None) or (18900, 15900, 16900)
        self.port, self.pg_port, self.pgb_port = base[0] + i, base[1] + i, base[2] + i
        self.bin = os.path.realpath(os.environ.get("ZS_BIN") or os.path.join(REPO, "build", "zerosum"))
        self.env = dict(os.environ, ZS_VAR=self.var, PORT=str(self.port),
                        ZS_PG_PORT=str(self.pg_port), ZS_PGB_PORT=str(self.pgb_port),
                        ZS_BIN=self.bin, ZS_POLICY=policy)
        self.env["ZS_POOLS"] = os.environ.get("ZS_POOLS") or bench_pools(getattr(args, "concurrency", 16))
        self.env.pop("ZS_DIALECT", None)       # the bench measures the postgres dialect
        self.pgsock = os.path.join(self.var, "pgsock")
        self.accounts_file = os.path.join(self.var, "bench", "accounts.txt")
        self.ids = {}
        self.tokens = {}

    # -- lifecycle --

    def stack(self, *args, check=True):
        p = subprocess.run([os.path.join(REPO, "scripts", "stack"), *args], env=self.env,
                           capture_output=True, text=True)
        if check and p.returncode != 0:
            raise BenchError(f"scripts/stack {' '.join(args)} ({self.name}) failed:\n"
                             f"{p.stdout}{p.stderr}")
        return p

    def pool_lines(self):
        """The pool_NAME = SIZE lines scripts/stack writes for this stack's ZS_POOLS."""
        return [f"pool_{name} = {size}" for name, size in
                (item.split("=", 1) for item in self.env["ZS_POOLS"].split())]

    def sup_pid(self):
        try:
            with open(os.path.join(self.var, "run", "zerosum.pid")) as f:
                pid = int(f.read().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def stale_reason(self):
        pid = self.sup_pid()
        if not pid:
            return None
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            return None
        if exe.endswith(" (deleted)"):
            return "its binary was rebuilt"
        if os.path.realpath(exe) != self.bin:
            return f"it runs {exe}, not {self.bin}"
        try:
            with open(os.path.join(self.var, "zerosum.conf")) as f:
                conf = f.read()
            if f"connection_policy = {self.policy}" not in conf:
                return "it runs another connection policy"
            want = self.pool_lines()
            if want != [ln for ln in conf.splitlines() if ln.startswith("pool_")]:
                return f"its pools are not {self.env['ZS_POOLS']}"
            # scripts/stack writes ZS_CONF_EXTRA's lines last, after the pools:
            # they must be exactly these (a setting of an earlier A/B run left
            # in place would otherwise go on unnoticed)
            lines = conf.splitlines()
            last_pool = max((i for i, ln in enumerate(lines) if ln.startswith("pool_")), default=-1)
            extra = [ln for ln in os.environ.get("ZS_CONF_EXTRA", "").splitlines() if ln.strip()]
            if [ln for ln in lines[last_pool + 1:] if ln.strip()] != extra:
                return "its ZS_CONF_EXTRA lines are not this run's"
        except OSError:
            pass
        return None

    def up(self):
        if not os.access(self.bin, os.X_OK):
            raise BenchError(f"{self.bin} not found; build it first (make)")
        why = self.stale_reason()
        if why:
            log(f"{self.name}: restarting the bench stack ({why})")
            self.stack("stop")
        p = self.stack("start", check=False)
        if p.returncode != 0:
            hint = ""
            if "was changed after it was applied" in p.stdout + p.stderr:
                hint = ("\nan applied migration was edited in place; this bench stack's database "
                        "cannot follow it: recreate the stack with bench/run --reset "
                        f"(deletes {self.var}, the 1M-entry ledger is seeded again)")
            raise BenchError(f"scripts/stack start ({self.name}) failed:\n{p.stdout}{p.stderr}{hint}")
        self._load_env()
        # The schema may have moved on since the stack was started.
        p = subprocess.run([os.path.join(REPO, "scripts", "migrate")], env=self.env,
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise BenchError(f"scripts/migrate failed:\n{p.stdout}{p.stderr}")
        self.wait_healthy()

    def _load_env(self):
        """The ports the stack really runs on (a running stack keeps its own)."""
        env = load_env(self.var) or {}
        for k, attr in (("PORT", "port"), ("ZS_PG_PORT", "pg_port"), ("ZS_PGB_PORT", "pgb_port")):
            if env.get(k, "").isdigit():
                setattr(self, attr, int(env[k]))

    def stop(self):
        if os.path.isdir(self.var):
            self.stack("stop", check=False)

    def reset(self):
        """Stop the bench stack and delete its runtime directory (ours alone)."""
        self.stop()
        if os.path.basename(self.var).startswith("bench-") and os.path.isdir(self.var):
            import shutil
            shutil.rmtree(self.var)

    def wait_healthy(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise BenchError(f"{self.name}: GET /healthz did not answer 200 within {timeout} s")

    # -- database --

    def sql(self, text, user="zerosum", db="zerosum", timeout=1800):
        p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.pgsock,
                            "-p", str(self.pg_port), "-U", user, "-d", db, "-f", "-"],
                           input=text, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise BenchError(f"psql failed: {p.stderr.strip()[:2000]}")
        return p.stdout.strip()

    # -- HTTP --

    @property
    def api(self):
        return Api(f"http://127.0.0.1:{self.port}", 60)

    def call(self, method, path, body=None, token=None, key=None, timeout=120):
        """One request on a fresh connection: (status, json, text, ms); a transport failure raises."""
        a = self.api.call(method, path, body, token, key, timeout=timeout, raise_errors=True)
        return a.status, a.json, a.text, a.ms

    def metrics(self):
        """The tx counters of GET /metrics (zerosum_py.metrics.counters)."""
        status, _, text, _ = self.call("GET", "/metrics")
        if status != 200:
            raise BenchError(f"GET /metrics answered {status}")
        return metrics.counters(text)

    def requests(self, endpoint):
        """zerosum_requests_total{endpoint=...} summed over statuses."""
        _, _, text, _ = self.call("GET", "/metrics")
        return metrics.requests_total(text, endpoint)

    def proof(self):
        # with a token: every request is computed (anonymous answers are
        # shared by nginx for two seconds, which would time the cache)
        status, j, text, ms = self.call("GET", "/proof", token=self.admin_token(), timeout=600)
        j = j if isinstance(j, dict) else {}
        bad = [c.get("name") for c in j.get("checks", []) if isinstance(c, dict) and not c.get("ok")]
        return status == 200 and j.get("consistent") is True, ms, bad, j

    def admin_token(self):
        return self.mint(ADMIN_SUB, admin=True, ttl=3600)

    def mint(self, sub, admin=False, ttl=86400):
        """The bearer token `zerosum token` would mint, from the ring read by setup()."""
        return tokens.mint(self.ring, sub, admin=admin, ttl=ttl)

    # -- setup --

    def setup(self, min_entries=PROOF_MIN_ENTRIES):
        self.ring = tokens.read_ring(key_file(self.var))
        have = self.sql("SELECT to_regclass('bench.accounts') IS NOT NULL")
        if have != "t":
            t0 = time.time()
            log(f"{self.name}: creating {N_BENCH} bench accounts, each funded by an issue transfer")
            funding_entries = running_entries_sql(
                f"SELECT n AS ord, id AS transfer_id, '{ISSUER}'::uuid AS account_id,"
                f" -{FUND}::bigint AS amount FROM seed_funding"
                f" UNION ALL SELECT n, id, to_account, {FUND}::bigint FROM seed_funding", "funding")
            self.sql(f"""
BEGIN;
CREATE SCHEMA bench;
-- n -> account id; pgbench scripts pick accounts by n
CREATE TABLE bench.accounts (n integer PRIMARY KEY, id uuid NOT NULL UNIQUE);
INSERT INTO bench.accounts SELECT n, md5('zerosum-bench:' || n)::uuid FROM generate_series(1, {N_BENCH}) n;
INSERT INTO accounts (id, name, kind, balance)
    SELECT id, 'bench-' || n, 'user', 0 FROM bench.accounts;
CREATE TEMP TABLE seed_funding ON COMMIT DROP AS
    SELECT gen_random_uuid() AS id, id AS to_account, n FROM bench.accounts;
INSERT INTO transfers (id, from_account, to_account, amount, kind, caller, memo)
    SELECT id, '{ISSUER}', to_account, {FUND}, 'issue', 'admin:{ADMIN_SUB}', 'bench funding'
      FROM seed_funding;
{funding_entries}
UPDATE accounts SET balance = balance - {FUND}::bigint * {N_BENCH} WHERE id = '{ISSUER}';
UPDATE accounts SET balance = {FUND} WHERE id IN (SELECT id FROM bench.accounts);
GRANT USAGE ON SCHEMA bench TO zerosum_app;
GRANT SELECT ON bench.accounts TO zerosum_app;
COMMIT;
""")
            log(f"{self.name}: accounts created in {time.time() - t0:.1f} s")
        n = int(self.sql("SELECT count(*) FROM bench.accounts a JOIN accounts b USING (id)"))
        if n != N_BENCH:
            raise BenchError(f"{self.var}: bench.accounts is inconsistent ({n} of {N_BENCH} accounts); "
                             f"remove the bench stack (bench/run --stop; rm -rf {self.var})")
        rows = self.sql("SELECT n, id FROM bench.accounts ORDER BY n").splitlines()
        for line in rows:
            n, aid = line.split("|")
            self.ids[int(n)] = aid
        self.tokens = {n: self.mint(aid) for n, aid in self.ids.items()}
        os.makedirs(os.path.dirname(self.accounts_file), exist_ok=True)
        tmp = self.accounts_file + ".tmp"
        with open(tmp, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            for n in sorted(self.ids):
                f.write(f"{n} {self.ids[n]} {self.tokens[n]}\n")
        os.replace(tmp, self.accounts_file)
        status, j, text, _ = self.call("GET", f"/accounts/{self.ids[1]}", token=self.tokens[1])
        if status != 200:
            raise BenchError(f"a minted bench token is refused: GET /accounts/{self.ids[1]}: {status} {text[:200]}")
        if min_entries:
            self.seed_entries(min_entries)

    def seed_entries(self, target):
        have = int(self.sql("SELECT count(*) FROM entries"))
        if have >= target:
            return
        t0 = time.time()
        log(f"{self.name}: seeding the ledger from {have:,} to {target:,} entries "
            f"(balanced transfers between bench accounts; once per bench stack)")
        while have < target:
            k = min(SEED_BATCH, (target - have + 1) // 2)
            off = random.randrange(0, 10 ** 9)
            seed_entries = running_entries_sql(
                "SELECT row_number() OVER (ORDER BY id) AS ord, id AS transfer_id, f AS account_id,"
                " -1::bigint AS amount FROM seed"
                " UNION ALL SELECT row_number() OVER (ORDER BY id), id, t, 1 FROM seed")
            self.sql(f"""
BEGIN;
CREATE TEMP TABLE seed ON COMMIT DROP AS
    SELECT gen_random_uuid() AS id, fa.id AS f, ta.id AS t
      FROM generate_series({off}, {off + k - 1}) g
      JOIN bench.accounts fa ON fa.n = 1 + g % {N_USERS}
      JOIN bench.accounts ta ON ta.n = 1 + (g % {N_USERS} + 1 + (g / {N_USERS}) % {N_USERS - 1}) % {N_USERS};
INSERT INTO transfers (id, from_account, to_account, amount, kind, caller, memo)
    SELECT id, f, t, 1, 'transfer', 'user:' || f, 'bench seed' FROM seed;
{seed_entries}
UPDATE accounts a SET balance = a.balance + d.delta
  FROM (SELECT account_id, sum(amount) AS delta
          FROM (SELECT f AS account_id, -1 AS amount FROM seed
                UNION ALL SELECT t, 1 FROM seed) x
         GROUP BY account_id) d
 WHERE a.id = d.account_id;
COMMIT;
""")
            have += 2 * k
            log(f"{self.name}:   {have:,} entries ({time.time() - t0:.0f} s)")
        self.sql("VACUUM ANALYZE accounts; VACUUM ANALYZE transfers; VACUUM ANALYZE entries;")
        log(f"{self.name}: seeded in {time.time() - t0:.0f} s")

    def create_lot(self, spec):
        status, j, text, _ = self.call("POST", "/lots", spec, self.admin_token(), str(uuid.uuid4()))
        if status != 201:
            raise BenchError(f"POST /lots {spec}: {status} {text[:300]}")
        return j["lot"]

    # -- workers --

    def pool_pids(self, pool):
        """Live worker pids of one pool: children of the supervisor holding the
        pool's listening socket (workers close the other pools' sockets)."""
        path = os.path.join(self.var, "run", f"fcgi-{pool}.sock")
        inodes = set()
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                parts = line.split()
                if len(parts) >= 8 and parts[7] == path:
                    inodes.add(f"socket:[{parts[6]}]")
        sup = self.sup_pid()
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
                fields = st[st.rindex(")") + 2:].split()
                if int(fields[1]) != sup or fields[0] == "Z":
                    continue
                fds = os.listdir(f"/proc/{d}/fd")
                if any(os.readlink(f"/proc/{d}/fd/{fd}") in inodes for fd in fds):
                    pids.append(int(d))
            except (OSError, ValueError):
                continue
        return sorted(pids)

    @staticmethod
    def rss_kib(pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

