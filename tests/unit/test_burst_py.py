#!/usr/bin/env python3
"""test_burst_py.py — bench/run's side of build/zerosum-burst
(scripts/zerosum_py/bench/load.py burst_request, run_burst) against a small
keep-alive HTTP/1.1 server here: the claims arrive as the threaded client
would send them (method, path, bearer token, Idempotency-Key, JSON body),
every answer comes back on its own request with its problem code, and a
request the client gets no answer to, or a missing client, fails the
scenario loudly (BenchError). TAP output."""

import http.server
import json
import os
import sys
import threading
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
from zerosum_py.bench.load import burst_request, run_burst  # noqa: E402
from zerosum_py.bench.stack import BenchError  # noqa: E402

BUILD = os.environ.get("ZS_BUILD", "build")
N = 12
count = 0
failed = 0
seen = {}


def ok(cond, name):
    global count, failed
    count += 1
    print(("ok" if cond else "not ok") + f" {count} - {name}", flush=True)
    if not cond:
        failed += 1


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        key = self.headers["Idempotency-Key"]
        i = int(key.rsplit("-", 1)[1])
        seen[i] = {"path": self.path, "auth": self.headers["Authorization"],
                   "type": self.headers["Content-Type"], "body": json.loads(body)}
        if i == 7 and getattr(self.server, "drop_7", False):
            self.close_connection = True
            return
        status, out = (201, {"i": i}) if i % 3 else (409, {"code": "sold_out", "i": i})
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(drop_7=False):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.drop_7 = drop_7
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    binary = os.path.abspath(os.path.join(BUILD, "zerosum"))
    srv = serve()
    stack = types.SimpleNamespace(port=srv.server_address[1], bin=binary)
    reqs = [burst_request(stack, "POST", "/bid", {"lot": "L"}, f"tok{i}", f"run-{i}") for i in range(N)]
    rep = run_burst(stack, reqs, timeout_s=20)
    ans = rep["answers"]
    ok(rep["client"] == "c" and len(ans) == N and rep["errors"] == 0, "every request answered")
    ok(all(a["status"] == (201 if i % 3 else 409) for i, a in enumerate(ans)),
       "each answer on its own request")
    ok(all(a["code"] == (None if i % 3 else "sold_out") for i, a in enumerate(ans)),
       "the problem code read from the body")
    ok(all(json.loads(a["body"])["i"] == i for i, a in enumerate(ans)), "the bodies")
    ok(all(seen[i] == {"path": "/bid", "auth": f"Bearer tok{i}", "type": "application/json",
                       "body": {"lot": "L"}} for i in range(N)),
       "the server saw each claim's path, token, content type and body")
    ok(rep["done_ms"] >= max(a["end_ms"] for a in ans) > 0 and rep["connect_ms"] >= 0,
       "done_ms is the last answer")
    srv.shutdown()

    srv = serve(drop_7=True)
    stack.port = srv.server_address[1]
    try:
        run_burst(stack, reqs, timeout_s=20)
        ok(False, "an unanswered request fails the burst")
    except BenchError as e:
        ok("1 of 12" in str(e) and "#7" in str(e), "an unanswered request fails the burst, named")
    srv.shutdown()

    try:
        run_burst(types.SimpleNamespace(port=1, bin="/nonexistent/zerosum"), reqs)
        ok(False, "a missing client fails the burst")
    except BenchError as e:
        ok("not found" in str(e), "a missing client fails the burst")
    print(f"1..{count}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
