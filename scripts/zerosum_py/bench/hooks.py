"""bench/run's webhook scenario webhook-dead: --webhook-endpoints (10) loopback
receivers registered with ["*"] under a paced transfer load, twice side by
side: every endpoint alive, then the same with one of them dead. The dead
one accepts the TCP connection and then never reads nor answers: every
attempt at it lasts the whole webhook_timeout_ms (a refused connection
fails in well under a millisecond, so it is the milder case). The figure is
whether the live endpoints' delivery latency moves when one is dead.

Each receiver is a ThreadingHTTPServer (stdlib) on 127.0.0.1 answering 200;
it keeps the first arrival of each event id and counts repeats. An
endpoint's expected events are the outbox's ordered positions after its
registration up to the last one ordered when the load ended (every type: it
subscribed to "*"). Latency: arrival time minus the event's created_at (in
the body: the database clock at the start of the transaction that wrote
it, at or before its commit)."""
import json
import socket
import threading
import time
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .fanout import wait_published
from .load import pct, r3
from .stack import N_USERS, BenchError, log


class Receiver:
    """A live loopback endpoint: first arrival (time, created_at) per event id, in arrival order."""

    def __init__(self):
        self.first, self.order, self.repeats, self.lock = {}, [], 0, threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.time()
                try:
                    e = json.loads(body)
                    eid, created = int(e["id"]), e["created_at"]
                except (ValueError, KeyError, TypeError):
                    eid = created = None
                if eid is not None:   # recorded before answering: the next one waits for the answer
                    with outer.lock:
                        if eid in outer.first:
                            outer.repeats += 1
                        else:
                            outer.first[eid] = (now, created)
                            outer.order.append(eid)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/hook"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class Dead:
    """A dead endpoint: accepts connections, never reads, never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.held, self.stop = [], False
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        threading.Thread(target=self._hold, daemon=True).start()

    def _hold(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(c)

    def close(self):
        self.stop = True
        for c in self.held:
            c.close()
        self.sock.close()


def _epoch(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def paced_transfers(stack, seconds, rate, threads=4):
    """POST /transfer at `rate` per second in all for `seconds` (bench accounts paying
    their neighbour 1 unit), from `threads` keep-alive clients. (sent, 201s, duration s)."""
    run = uuid.uuid4().hex[:12]
    lock = threading.Lock()
    counts = {"sent": 0, "ok": 0}
    t0 = time.perf_counter() + 0.05
    per = rate / threads

    def worker(w):
        conn, i = None, 0
        while True:
            at = t0 + i / per
            if at >= t0 + seconds:
                break
            delay = at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            k = i * threads + w
            n = 1 + k % N_USERS
            m = 1 + n % N_USERS
            conn, a = stack.api.send(conn, "POST", "/transfer",
                                     {"from": stack.ids[n], "to": stack.ids[m], "amount": 1},
                                     stack.tokens[n], f"{run}-{k}")
            with lock:
                counts["sent"] += 1
                counts["ok"] += a.status == 201
            i += 1
        if conn is not None:
            conn.close()

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return counts["sent"], counts["ok"], time.perf_counter() - t0


def ordered_cursor(stack):
    return int(stack.sql("SELECT pos FROM event_cursors WHERE name = 'ordered'") or 0)


def one_run(stack, args, dead):
    """Register the endpoints (the last one dead if dead), run the load, wait for
    the live ones; their figures."""
    n = args.webhook_endpoints
    live = [Receiver() for _ in range(n - 1 if dead else n)]
    dead_ep = Dead() if dead else None
    urls = [r.url for r in live] + ([dead_ep.url] if dead_ep else [])
    admin = stack.admin_token()
    ids = []
    try:
        for u in urls:
            s, j, text, _ = stack.call("POST", "/webhooks", {"url": u, "events": ["*"]}, admin, str(uuid.uuid4()))
            if s != 201:
                raise BenchError(f"POST /webhooks: {s} {text[:300]}")
            ids.append(j["webhook"]["id"])
        first = ordered_cursor(stack)
        sent, ok201, dur = paced_transfers(stack, args.seconds, args.webhook_rate)
        wait_published(stack, None)
        last = ordered_cursor(stack)
        want = [int(x) for x in stack.sql(
            f"SELECT pos FROM events WHERE pos > {first} AND pos <= {last} ORDER BY pos").splitlines() if x]
        deadline = time.time() + args.webhook_drain_s
        while time.time() < deadline:
            if all(sum(1 for p in r.first if first < p <= last) >= len(want) for r in live):
                break
            time.sleep(0.2)
        drained = time.time() - (deadline - args.webhook_drain_s)
        lat, per_ep = [], []
        for r in live:
            with r.lock:
                got = [p for p in r.order if first < p <= last]
                lat += [(r.first[p][0] - _epoch(r.first[p][1])) * 1000 for p in got]
                per_ep.append({"received": len(got), "in_order": got == want, "repeats": r.repeats})
        dead_log = None
        if dead_ep:
            row = stack.sql(f"SELECT count(*), coalesce(max(duration_ms), 0) FROM webhook_deliveries"
                            f" WHERE webhook_id = '{ids[-1]}'")
            a, b = row.split("|")
            dead_log = {"attempts": int(a), "longest_attempt_ms": int(b),
                        "events_owed": len(want)}
    finally:
        for i in ids:
            stack.call("DELETE", f"/webhooks/{i}", None, admin, str(uuid.uuid4()))
        for r in live:
            r.close()
        if dead_ep:
            dead_ep.close()
    return {"endpoints": n, "live": len(live), "dead": 1 if dead else 0, "transfers": ok201, "sent": sent,
            "duration_s": round(dur, 3), "events": len(want),
            "every_event_in_order": all(e["in_order"] and e["received"] == len(want) for e in per_ep),
            "endpoints_complete": sum(1 for e in per_ep if e["in_order"] and e["received"] == len(want)),
            "repeats": sum(e["repeats"] for e in per_ep), "drain_s": round(drained, 1),
            "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "max_ms": max(lat) if lat else None,
            "deliveries": len(lat), "dead_endpoint": dead_log}


def sc_webhook_dead(stack, args):
    alive = one_run(stack, args, dead=False)
    log(f"{stack.policy}: webhook-dead: all alive: p50 {alive['p50_ms']} ms, p99 {alive['p99_ms']} ms")
    dead = one_run(stack, args, dead=True)
    r50 = dead["p50_ms"] / alive["p50_ms"] if alive["p50_ms"] and dead["p50_ms"] is not None else None
    r99 = dead["p99_ms"] / alive["p99_ms"] if alive["p99_ms"] and dead["p99_ms"] is not None else None
    return {"tps": dead["transfers"] / dead["duration_s"], "p50_ms": dead["p50_ms"], "p99_ms": dead["p99_ms"],
            "retries_per_commit": None, "pgbench": None, "ratio": r99,
            "extra": {"endpoints": args.webhook_endpoints, "rate": args.webhook_rate,
                      "live_every_event_in_order": dead["every_event_in_order"] and alive["every_event_in_order"],
                      "alive_p50_ms": r3(alive["p50_ms"]), "alive_p99_ms": r3(alive["p99_ms"]),
                      "dead_p50_ms": r3(dead["p50_ms"]), "dead_p99_ms": r3(dead["p99_ms"]),
                      "p50_ratio": r3(r50), "p99_ratio": r3(r99), "all_alive": alive, "one_dead": dead}}

