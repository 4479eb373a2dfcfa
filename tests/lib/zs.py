"""zs — the integration tests' toolkit: TAP output, the live stack's HTTP API,
tokens, and direct database access for before/after assertions. Stack
discovery, the HTTP client and token minting are the zerosum_py package's
(scripts/zerosum_py, put on sys.path here); this module is the TAP layer and
the names the suites import with `from zs import *`.

Every test file is a script that imports this module, talks to the stack
described by $ZS_VAR/stack.env (written by `scripts/stack start`), prints TAP
and exits non-zero if anything failed. `prove --exec /usr/bin/python3` runs them.
"""
# Some of these are only here because `from zs import *` hands them to the suites.
import atexit
import http.client  # noqa: F401
import json  # noqa: F401
import os
import re  # noqa: F401
import shlex  # noqa: F401
import subprocess  # noqa: F401
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "scripts"))

from zerosum_py import stack as _stack, tokens as _tokens  # noqa: E402
from zerosum_py.client import Answer as Response, Api as _Api  # noqa: E402,F401
from zerosum_py.stack import ADMIN_SUB, ISSUER, REPO  # noqa: E402,F401

ZS_VAR = os.environ.get("ZS_VAR", os.path.join(REPO, "var"))
ENV = _stack.load_env(ZS_VAR)
if ENV is None:
    raise SystemExit(f"zs: no {ZS_VAR}/stack.env (start a stack: scripts/stack start)")
PORT = int(ENV.get("PORT", "8080"))
ZS_BIN = os.environ.get("ZS_BIN", os.path.join(REPO, "build", "zerosum"))
KEY_FILE = _stack.key_file(ZS_VAR)
_api = _Api(f"http://127.0.0.1:{PORT}")

# Every answer this module's client receives is checked against the API
# contract (docs/openapi.yaml, scripts/zerosum_py/contract.py); done() fails
# the suite on any violation.
from zerosum_py.contract import Recorder as _Recorder  # noqa: E402
CONTRACT = _Recorder()
_api.observer = CONTRACT

# ---- TAP -------------------------------------------------------------------

_count = 0
_failed = 0
_lock = threading.Lock()


def ok(cond, name, diag=None):
    global _count, _failed
    with _lock:
        _count += 1
        if cond:
            print(f"ok {_count} - {name}")
        else:
            _failed += 1
            print(f"not ok {_count} - {name}")
            sys.stdout.flush()
            # on stderr, as Test::More does: prove shows it without -v, so a
            # failure in CI says why
            print(f"#   Failed test {_count} - {name}", file=sys.stderr)
            if diag is not None:
                for line in str(diag).splitlines()[:20]:
                    print(f"#   {line}", file=sys.stderr)
            sys.stderr.flush()
        sys.stdout.flush()
    return bool(cond)


def is_(got, want, name):
    return ok(got == want, name, f"got: {got!r}\nexpected: {want!r}")


def diag(msg):
    for line in str(msg).splitlines():
        print(f"# {line}")
    sys.stdout.flush()


def contract_ok():
    """One TAP line for the contract: every answer checked so far conforms."""
    v = CONTRACT.violations
    ok(not v, f"all {CONTRACT.checked} answers conform to docs/openapi.yaml",
       "\n".join(v[:20]) + (f"\n… and {len(v) - 20} more" if len(v) > 20 else ""))


def done():
    contract_ok()
    print(f"1..{_count}")
    sys.stdout.flush()
    sys.exit(1 if _failed else 0)


# ---- HTTP ------------------------------------------------------------------

def request(method, path, body=None, token=None, key=None, headers=None, raw=None,
            content_type="application/json", timeout=30):
    """One HTTP request on a fresh connection. body is JSON-encoded unless raw (bytes/str) is given;
    a transport failure raises."""
    return _api.call(method, path, body=body, token=token, key=key, headers=headers, raw=raw,
                     content_type=content_type, accept=None, timeout=timeout, raise_errors=True)


def get(path, token=None, **kw):
    return request("GET", path, token=token, **kw)


def post(path, body, token=None, key="auto", **kw):
    if key == "auto":
        key = new_key()
    return request("POST", path, body=body, token=token, key=key, **kw)


def new_key():
    return str(uuid.uuid4())


def is_problem(resp, status, code, name):
    good = (resp.status == status and resp.code == code
            and resp.headers.get("content-type", "").startswith("application/problem+json"))
    return ok(good, name, f"got: {resp.status} {resp.headers.get('content-type')} {resp.body[:300]}\n"
                          f"expected: {status} {code}")


# ---- tokens and accounts ---------------------------------------------------

def token(sub, admin=False, ttl=3600):
    """What `zerosum token sub [--admin] --ttl ttl` mints, signed with the ring's current key."""
    return _tokens.mint(jwt_keys(), sub, admin=admin, ttl=ttl)


_admin = None


def admin_token():
    global _admin
    if _admin is None:
        _admin = token(ADMIN_SUB, admin=True, ttl=86400)
    return _admin


def create_account(name="acct", fund=0):
    """Create an account through the API and fund it from the issuer; returns (id, user token)."""
    r = post("/accounts", {"name": name}, token=admin_token())
    if r.status != 201:
        raise RuntimeError(f"POST /accounts: {r}")
    aid = r.json["account"]["id"]
    if fund:
        r = post("/transfer", {"from": ISSUER, "to": aid, "amount": fund}, token=admin_token())
        if r.status != 201:
            raise RuntimeError(f"funding transfer: {r}")
    return aid, token(aid)


# ---- the stack's configuration ---------------------------------------------

def conf_value(name):
    """A setting of the suite's stack as its zerosum.conf has it (a string), or None."""
    try:
        with open(os.path.join(ZS_VAR, "zerosum.conf")) as f:
            for line in f:
                m = re.match(r"^\s*%s\s*=\s*(\S+)" % re.escape(name), line)
                if m:
                    return m.group(1)
    except OSError:
        pass
    return None


# ---- database --------------------------------------------------------------

def db(user="zerosum"):
    """A psycopg2 connection straight to PostgreSQL (not PgBouncer), autocommit."""
    return _stack.db_connect(ENV, user=user)


def query(sql, params=(), user="zerosum"):
    conn = db(user)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def balance(aid):
    rows = query("SELECT balance, held FROM accounts WHERE id = %s", (aid,))
    return rows[0] if rows else None


def _suite_start():
    try:
        return query("SELECT now()")[0][0]
    except Exception:
        return None


# The database's time when this suite started. The suites share one stack, and
# the jobs child settles (as caller 'system') lots that earlier suites left, and
# releases their holds, at any time: ledger_fingerprint() leaves out exactly
# those effects, and nothing a request of this suite can cause.
_SUITE_T0 = _suite_start()


def ledger_fingerprint():
    """Counts and sums that any write of this suite would change: every account,
    every transfer and entry except the jobs child's settlements between accounts
    older than the suite, the sum of balances, the held of the suite's own accounts,
    every idempotency key."""
    return query("""WITH t AS (SELECT t.id FROM transfers t WHERE t.caller <> 'system'
                                 OR EXISTS (SELECT 1 FROM accounts a WHERE a.id IN (t.from_account, t.to_account)
                                            AND a.created_at >= %(t0)s))
                    SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM t),
                           (SELECT count(*) FROM entries e JOIN t ON t.id = e.transfer_id),
                           (SELECT coalesce(sum(balance),0) FROM accounts),
                           (SELECT coalesce(sum(held),0) FROM accounts WHERE created_at >= %(t0)s),
                           (SELECT count(*) FROM idempotency_keys)""", {"t0": _SUITE_T0})[0]


def ledger_invariants():
    """(entries sum to zero per transfer, balances equal entries, total zero) as a list of problems."""
    problems = []
    rows = query("""SELECT t.id FROM transfers t LEFT JOIN entries e ON e.transfer_id = t.id
                    GROUP BY t.id HAVING count(e.id) < 2 OR coalesce(sum(e.amount),0) <> 0""")
    if rows:
        problems.append(f"unbalanced transfers: {rows[:5]}")
    rows = query("""SELECT a.id, a.balance, coalesce(sum(e.amount),0) FROM accounts a
                    LEFT JOIN entries e ON e.account_id = a.id GROUP BY a.id, a.balance
                    HAVING a.balance <> coalesce(sum(e.amount),0)""")
    if rows:
        problems.append(f"balance != entries: {rows[:5]}")
    total = query("SELECT coalesce(sum(balance),0) FROM accounts")[0][0]
    if total != 0:
        problems.append(f"sum of balances is {total}")
    # balance - held >= -credit_limit (a limit of 0: never negative, held <= balance)
    rows = query("SELECT id, balance FROM accounts WHERE kind <> 'issuer'"
                 " AND (held - coalesce(credit_limit, 0) > balance OR held < 0)")
    if rows:
        problems.append(f"negative or over-held: {rows[:5]}")
    return problems


# ---- sealing (fcgi/domain/seal.c) -------------------------------------------
# The sealer seals only while it holds the `sealer` row of `leases`. A test
# that tampers with rows it needs unsealed holds that row itself (freeze), so
# nothing is sealed under it whatever the scheduling; seal_now() seals every
# sealable row at once, through the real sealer, and returns what it printed.

SEAL_FREEZER = "test-freeze"
_thaw_at_exit = False


def seal_freeze(seconds=3600):
    """Take the sealer's lease for this test (waits for the sealer to finish a batch).

    Given back at exit whatever happens, so a test that dies frozen does not
    stop the sealer for the suites after it."""
    global _thaw_at_exit
    if not _thaw_at_exit:
        atexit.register(seal_thaw)
        _thaw_at_exit = True
    conn = db()
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO leases (name) VALUES ('sealer') ON CONFLICT (name) DO NOTHING")
        deadline = time.time() + 30
        while True:
            with conn.cursor() as cur:
                cur.execute("""UPDATE leases SET owner = %s,
                                      expires = clock_timestamp() + make_interval(secs => %s)
                                WHERE name = 'sealer' AND (owner IS NULL OR owner = %s
                                      OR expires < clock_timestamp())""",
                            (SEAL_FREEZER, seconds, SEAL_FREEZER))
                if cur.rowcount == 1:
                    return
            if time.time() > deadline:
                raise RuntimeError("the sealer's lease stayed taken for 30 s")
            time.sleep(0.05)
    finally:
        conn.close()


def seal_thaw():
    """Give the sealer's lease back (only if this test holds it)."""
    query("UPDATE leases SET owner = NULL, expires = NULL WHERE name = 'sealer' AND owner = %s",
          (SEAL_FREEZER,))


def seal_now():
    """Seal everything sealable now, through the real sealer (zerosum seal), and
    return what it printed.

    The lease goes from this test straight to that process (its owner name is
    cli-<pid>), so the jobs child cannot take part of the backlog in between:
    what the command reports sealed is all that was sealable. It gives the
    lease back when it ends, so the sealer is thawed afterwards."""
    seal_freeze()
    p = subprocess.Popen([ZS_BIN, "seal", "-c", os.path.join(ZS_VAR, "zerosum.conf")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    query("UPDATE leases SET owner = %s WHERE name = 'sealer' AND owner = %s", (f"cli-{p.pid}", SEAL_FREEZER))
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise RuntimeError(f"zerosum seal: timed out {err.strip()}")
    if p.returncode != 0:
        raise RuntimeError(f"zerosum seal: {p.returncode} {err.strip()}")
    return out


def concurrently(fn, args_list, max_workers=50):
    """Run fn(*args) for every args tuple on real threads, max_workers at once; results in order."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=max_workers) as ex:
        return list(ex.map(lambda a: fn(*a), args_list))


def stack(*args, env=None):
    return _stack.run_stack(*args, env=dict(os.environ, **(env or {})))


def wait_for(pred, timeout=15.0, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if pred():
                return True
        except Exception:
            pass
        time.sleep(interval)
    return False


# ---- auctions (added for test_bid.py / test_stampede.py) -------------------

def create_lot(**spec):
    """POST /lots as admin with the given fields; returns the lot JSON (raises unless 201)."""
    r = post("/lots", spec, token=admin_token())
    if r.status != 201:
        raise RuntimeError(f"POST /lots {spec}: {r}")
    return r.json["lot"]


def place_bid(tok, lot, key="auto", **fields):
    """POST /bid {"lot": lot, **fields} with the bidder's token."""
    return post("/bid", dict({"lot": lot}, **fields), token=tok, key=key)


def parse_ts(s):
    """The API's UTC timestamps ("2025-01-02T03:04:05.123456Z") as aware datetimes."""
    import datetime
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)

# ---- end of auction helpers --------------------------------------------------


# ---- hand-made bearer tokens -------------------------------------------------

def jwt_keys(path=None):
    """The key ring file (fcgi/jwt.h) as [(kid, key bytes)], current first."""
    return _tokens.read_ring(path or KEY_FILE)


def sign_jwt(claims, header=None, key=None, kid=None):
    """A JWT with exactly these claims, HS256 with key (bytes; default the ring's
    current key) and header (default {"alg":"HS256","typ":"JWT","kid": kid or
    the current kid})."""
    return _tokens.sign_jwt(claims, jwt_keys(), header=header, key=key, kid=kid)


std_claims = _tokens.std_claims
