"""What every stampede scenario shares: the stack it runs against (setup and
observation through the API, as admin), the burst with its before/after
retry counters, and the records the pure verifiers read."""
import sys
import uuid

from .. import metrics, tokens
from ..client import Api, fire, pmap, resolve_unknown
from ..stack import ADMIN_SUB, ISSUER, base_url, key_file, load_env, var_dir

MAX_CONCURRENCY = 400          # nginx has 1,024 worker connections: 2 per request


def log(msg):
    print(f"stampede: {msg}", file=sys.stderr, flush=True)


class SetupError(Exception):
    pass


class Stack:
    """The stack a run talks to: found through --url or $var/stack.env; the
    admin and user tokens are minted from $var/secrets/jwt.key."""

    def __init__(self, args):
        self.var = var_dir(args.var)
        env = load_env(self.var)
        url = args.url
        if not url:
            if env is None:
                raise SetupError(f"no {self.var}/stack.env (start a stack, or pass --url/--var)")
            url = base_url(env)
        self.url = url
        try:
            self.api = Api(url, args.timeout)
        except ValueError as e:
            raise SetupError(str(e))
        self.key_file = key_file(self.var)
        try:
            self.ring = tokens.read_ring(self.key_file)
        except (OSError, ValueError) as e:
            raise SetupError(f"reading the key ring {self.key_file}: {e}")
        self.admin = self.token(ADMIN_SUB, admin=True)

    def token(self, sub, admin=False, ttl=7200):
        return tokens.mint(self.ring, sub, admin=admin, ttl=ttl)

    # -- setup through the API (admin) --

    def create(self, path, spec, what):
        """POST path spec as admin (re-sent with its key on an unknown outcome); the
        answer's `what` object, or SetupError unless 201."""
        a = self.api.call_retrying("POST", path, spec, self.admin, str(uuid.uuid4()))
        if a.status != 201:
            raise SetupError(f"POST {path} {spec}: {a!r}")
        return a.json[what]

    def create_account(self, name, fund):
        aid = self.create("/accounts", {"name": name}, "account")["id"]
        if fund:
            a = self.api.call_retrying("POST", "/transfer", {"from": ISSUER, "to": aid, "amount": fund},
                                       self.admin, str(uuid.uuid4()))
            if a.status != 201:
                raise SetupError(f"funding {aid} with {fund}: {a!r}")
        return aid

    def create_users(self, prefix, funds):
        """One account per amount in funds (0: unfunded), with a user token each."""
        def one(item):
            i, fund = item
            aid = self.create_account(f"{prefix}-{i}", fund)
            return aid, self.token(aid)
        return pmap(one, list(enumerate(funds)))

    def create_lot(self, spec):
        return self.create("/lots", spec, "lot")

    def create_market(self, spec):
        return self.create("/markets", spec, "market")

    def place(self, tok, body):
        """A setup or probe order (re-sent with its key on an unknown outcome)."""
        return self.api.call_retrying("POST", "/order", body, tok, str(uuid.uuid4()))

    # -- observation --

    def _get(self, path, member=None, admin=True):
        a = self.api.call_retrying("GET", path, token=self.admin if admin else None)
        if a.status != 200 or not isinstance(a.json, dict):
            return None
        return a.json if member is None else a.json.get(member)

    def account(self, aid):
        return self._get(f"/accounts/{aid}", "account")

    def accounts(self, ids):
        return dict(zip(ids, pmap(self.account, ids)))

    def lot(self, lid):
        return self._get(f"/lots/{lid}", "lot", admin=False)

    def market_view(self, mid):
        return self._get(f"/markets/{mid}", admin=False)

    def transfer(self, tid):
        return self._get(f"/transfers/{tid}", "transfer")

    def transfers(self, ids):
        return dict(zip(ids, pmap(self.transfer, ids)))

    def entries(self, aid, max_pages=250):
        """All ledger entries of an account, newest first (None if unreadable): cursor pages of
        100, each starting after the last entry of the one before, until has_more is false."""
        out, after = [], None
        for _ in range(max_pages):
            q = f"/accounts/{aid}/entries?limit=100" + (f"&starting_after={after}" if after else "")
            a = self.api.call_retrying("GET", q, token=self.admin)
            if a.status != 200 or not isinstance(a.json, dict):
                return None
            page = a.json.get("data") or []
            out += page
            if not a.json.get("has_more") or not page:
                return out
            after = page[-1]["id"]
        return None

    def dialect(self):
        a = self.api.call_retrying("GET", "/proof")
        j = a.json if isinstance(a.json, dict) else {}
        return (j.get("backend") or {}).get("dialect")

    def tx_retries(self, endpoint):
        """zerosum_tx_retries_total{endpoint=...} (0 until that pool has run a
        transaction); None if /metrics is unreadable."""
        a = self.api.call_retrying("GET", "/metrics")
        v = metrics.tx_retries(a.text, endpoint) if a.status == 200 else None
        if v is None:
            log(f"GET /metrics: no zerosum_tx_retries_total ({a!r:.120})")
        return v

    def proof(self):
        """('consistent' | 'unavailable' (404) | 'inconsistent' | 'error', detail).

        With the admin token: a fresh audit of what this run wrote, never an
        anonymous answer nginx may have shared for up to two seconds."""
        a = self.api.call_retrying("GET", "/proof", token=self.admin)
        if a.status == 404:
            return "unavailable", None
        j = a.json if isinstance(a.json, dict) else {}
        if a.status == 200 and j.get("consistent") is True:
            return "consistent", None
        bad = [c.get("name") for c in j.get("checks", []) if isinstance(c, dict) and c.get("ok") is False]
        verdict = "inconsistent" if a.status in (200, 409) else "error"
        return verdict, f"GET /proof: {a!r:.300} consistent={j.get('consistent')!r} failing={bad}"


def delta(before, after):
    """after - before for two counter readings, None unless both are known and it grew."""
    return after - before if before is not None and after is not None and after >= before else None


def burst(stack, jobs, concurrency, endpoint, what="requests"):
    """Fire the jobs together (client.fire), learn the outcome of failed ones by
    re-sending, and read the endpoint's server retries over the burst:
    (answers, figures {duration_ms, retries, client_retries, max_in_flight,
    failed, unknown})."""
    before = stack.tx_retries(endpoint)
    log(f"firing {len(jobs)} {what} from {min(concurrency, len(jobs))} threads at once")
    answers, ms, client_retries, max_in_flight = fire(stack.api, jobs, concurrency)
    after = stack.tx_retries(endpoint)
    failed = sum(1 for a in answers if a.failed)
    if failed:
        samples = [repr(a) for a in answers if a.failed][:3]
        log(f"{failed} requests failed (5xx/transport): {samples}; re-sending them with the same keys")
    unknown = resolve_unknown(stack.api, jobs, answers, log) if failed else 0
    retries = delta(before, after)
    log(f"burst done in {ms} ms; server retries {retries}, client retries {client_retries},"
        f" max in flight {max_in_flight}")
    return answers, {"duration_ms": ms, "retries": retries, "client_retries": client_retries,
                     "max_in_flight": max_in_flight, "failed": failed, "unknown": unknown}


def replays(stack, jobs, answers, how_many=3):
    """Re-send a few answered requests (the first 201s and a rejection) with their original keys."""
    picks = [i for i, a in enumerate(answers) if a.status == 201][:how_many - 1]
    picks += [i for i, a in enumerate(answers) if a.status is not None and 400 <= a.status < 500][:1]
    out = []
    for i in picks:
        j = jobs[i]
        b = stack.api.call_retrying(j["method"], j["path"], j.get("body"), j.get("token"), j.get("key"))
        out.append((answers[i].record(), b.record()))
    return out


def records(answers, jobs):
    """The answers as records, each with its job's meta; an answer the client saw
    fail stays an error even when re-sending learned its outcome."""
    out = []
    for a, j in zip(answers, jobs):
        r = a.record()
        if getattr(a, "resolved_from", None) is not None or a.failed:
            r["error"] = r["error"] or "5xx or transport failure (outcome resolved by re-sending)"
        r.update(j.get("meta", {}))
        out.append(r)
    return out


def observe(stack, jobs, answers):
    """After a burst: (replays, records, proof verdict, proof detail)."""
    rep = replays(stack, jobs, answers)
    recs = records(answers, jobs)
    proof, detail = stack.proof()
    return rep, recs, proof, detail

