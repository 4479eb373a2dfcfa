"""The HTTP client every tool uses against nginx: one-shot requests, keep-alive
sends for load generators, bounded same-key re-sends, and the barrier-released
burst that scripts/stampede fires."""
import http.client
import json
import random
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

SETUP_WORKERS = 16
RESEND_ATTEMPTS = 5            # bounded re-sends (same key) after an unknown outcome


class Answer:
    """One request's outcome as the client saw it: status (None on a transport
    failure, then error says why), headers (lower-cased names), text (= body),
    json (None unless the body parses), ms (latency), t_end (perf_counter)."""

    def __init__(self, status=None, headers=None, body=b"", error=None, ms=0.0):
        self.status = status
        self.headers = {k.lower(): v for k, v in (headers or [])}
        self.text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        self.error = error
        self.ms = ms
        self.t_end = time.perf_counter()
        try:
            self.json = json.loads(self.text) if self.text else None
        except ValueError:
            self.json = None

    @property
    def body(self):
        return self.text

    @property
    def code(self):
        return self.json.get("code") if isinstance(self.json, dict) else None

    @property
    def failed(self):
        """A transport failure or a 5xx: the outcome is unknown to the client."""
        return self.error is not None or self.status is None or self.status >= 500

    def record(self):
        """The JSON-able view a scenario record keeps."""
        return {"status": self.status, "code": self.code, "json": self.json,
                "error": self.error, "replayed": self.headers.get("idempotent-replayed") == "true"}

    def __repr__(self):
        if self.error:
            return f"<error {self.error}>"
        return f"<{self.status} {self.text[:300]!r}>"


class Api:
    """A base URL (http or https, optional path prefix) and a per-request timeout."""

    def __init__(self, url, timeout=30.0):
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"--url must be http(s)://host[:port], not {url!r}")
        self.https = u.scheme == "https"
        self.host = u.hostname
        self.port = u.port or (443 if self.https else 80)
        self.prefix = u.path.rstrip("/")
        self.timeout = timeout
        # observer(method, path, answer), if set, sees every answer received
        # (the integration tests check each against docs/openapi.yaml).
        self.observer = None

    def connection(self, timeout=None):
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=self.timeout if timeout is None else timeout)

    def _exchange(self, conn, method, path, body, token, key, headers, raw, content_type, accept):
        h = {"Accept": accept} if accept else {}
        if token:
            h["Authorization"] = f"Bearer {token}"
        if key is not None:
            h["Idempotency-Key"] = key
        data = None
        if raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None and content_type:
            h["Content-Type"] = content_type
        if headers:
            h.update(headers)
        t0 = time.perf_counter()
        conn.request(method, self.prefix + path, body=data, headers=h)
        resp = conn.getresponse()
        raw_body = resp.read()
        a = Answer(resp.status, resp.getheaders(), raw_body, ms=(time.perf_counter() - t0) * 1000)
        a.will_close = resp.will_close
        if self.observer is not None:
            self.observer(method, path, a)
        return a

    def call(self, method, path, body=None, token=None, key=None, conn=None, headers=None, raw=None,
             content_type="application/json", accept="application/json", timeout=None, raise_errors=False):
        """One attempt on a fresh (or the given, already connected) connection,
        closed afterwards. body is JSON-encoded unless raw (bytes/str) is given.
        A transport failure is an error Answer, or raised if raise_errors."""
        conn = conn or self.connection(timeout)
        t0 = time.perf_counter()
        try:
            return self._exchange(conn, method, path, body, token, key, headers, raw, content_type, accept)
        except Exception as e:  # noqa: BLE001 — any transport failure is an error
            if raise_errors:
                raise
            return Answer(error=f"{type(e).__name__}: {e}", ms=(time.perf_counter() - t0) * 1000)
        finally:
            conn.close()

    def send(self, conn, method, path, body=None, token=None, key=None):
        """One request on a keep-alive connection (a new one if conn is None):
        (the connection to reuse or None, Answer)."""
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = self.connection()
                conn.connect()
            a = self._exchange(conn, method, path, body, token, key, None, None, "application/json",
                               "application/json")
            if a.will_close:
                conn.close()
                conn = None
            return conn, a
        except Exception as e:  # noqa: BLE001
            if conn is not None:
                conn.close()
            return None, Answer(error=f"{type(e).__name__}: {e}", ms=(time.perf_counter() - t0) * 1000)

    def call_retrying(self, method, path, body=None, token=None, key=None, attempts=RESEND_ATTEMPTS):
        """Setup and observation calls: re-send (same key) on 429/503/in-flight/transport failure."""
        a = None
        for i in range(attempts):
            a = self.call(method, path, body, token, key)
            if not (a.failed or a.status == 429 or a.code == "idempotency_key_in_flight"):
                return a
            time.sleep(min(2.0, 0.1 * 2 ** i) * random.random() + 0.05)
        return a


def retry_wait(a, cap):
    """Seconds to wait before re-sending after answer a: its Retry-After (0.2 if
    absent or unparsable), at most cap."""
    try:
        wait = float(a.headers.get("retry-after", "0.2"))
    except ValueError:
        wait = 0.2
    return min(wait, cap)


def fire(api, jobs, concurrency):
    """Send every job {method, path, body, token, key} from `concurrency` threads.

    Each thread connects first, all wait at one barrier, then they send
    together; a thread takes the next job when its answer arrives. A 429 or
    409 idempotency_key_in_flight is re-sent with the same key (bounded,
    counted as client retries); anything else is final. Returns (answers,
    duration_ms from the barrier's release to the last answer, client_retries,
    max_in_flight); a job left without an answer when the deadline passes gets
    an error answer.
    """
    n = len(jobs)
    answers = [None] * n
    threads_n = max(1, min(concurrency, n))
    lock = threading.Lock()
    state = {"next": 0, "in_flight": 0, "max_in_flight": 0, "client_retries": 0, "fired": None}

    def release():             # the barrier's action: the moment the burst starts
        state["fired"] = time.monotonic()
    barrier = threading.Barrier(threads_n, action=release)
    deadline_s = api.timeout * (2 + RESEND_ATTEMPTS) + 30 + n * 0.5

    def take():
        with lock:
            i = state["next"]
            state["next"] += 1
            return i if i < n else None

    def flight(d):
        with lock:
            state["in_flight"] += d
            state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])

    def worker():
        conn = api.connection()
        try:
            conn.connect()
        except Exception:  # noqa: BLE001 — call() reconnects and reports
            conn = None
        t0 = time.monotonic()
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass
        if conn is not None and time.monotonic() - t0 > 5:
            conn.close()        # the server may have dropped an idle connection
            conn = None
        while True:
            i = take()
            if i is None:
                break
            j = jobs[i]
            for attempt in range(RESEND_ATTEMPTS + 1):
                flight(+1)
                a = api.call(j["method"], j["path"], j.get("body"), j.get("token"), j.get("key"), conn)
                flight(-1)
                conn = None
                if (a.status == 429 or a.code == "idempotency_key_in_flight") and attempt < RESEND_ATTEMPTS:
                    with lock:
                        state["client_retries"] += 1
                    time.sleep(retry_wait(a, 2.0) * (0.5 + random.random() / 2))
                    continue
                break
            answers[i] = a
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(threads_n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    end = t0 + deadline_s
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    duration_ms = int((time.monotonic() - (state["fired"] or t0)) * 1000)
    answers = list(answers)    # a straggler past the deadline no longer writes into the result
    for i in range(n):
        if answers[i] is None:
            answers[i] = Answer(error="no answer before the run's deadline")
    return answers, duration_ms, state["client_retries"], state["max_in_flight"]


def resolve_unknown(api, jobs, answers, log):
    """For each failed answer, re-send the same request with the same key (bounded)
    to learn the outcome the server settled on; returns how many stayed unknown."""
    unknown = 0
    for i, a in enumerate(answers):
        if not a.failed:
            continue
        j = jobs[i]
        b = api.call_retrying(j["method"], j["path"], j.get("body"), j.get("token"), j.get("key"))
        if b.failed:
            unknown += 1
        else:
            log(f"resolved unknown outcome of request {i}: {b.status} {b.code or ''}")
            answers[i] = Answer(b.status, list(b.headers.items()), b.text, error=None, ms=b.ms)
            answers[i].resolved_from = a.error or a.status
    return unknown


def pmap(fn, items, workers=SETUP_WORKERS):
    """fn over items on up to `workers` threads; results in order."""
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items) or 1))) as ex:
        return list(ex.map(fn, items))
