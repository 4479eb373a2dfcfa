"""sse_client — an EventSource-like SSE client for the live-event suites
(test_events.py, test_events_room.py): GET /events/… through nginx, as a
browser's EventSource would, its messages read on a thread onto a queue.
"""
import http.client
import json
import queue
import socket
import threading
import time

from zs import PORT


class Sse:
    """One EventSource-like subscription: events (id, event, data) on a queue."""

    def __init__(self, path, token=None, last_id=None, query_id=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        headers = {"Accept": "text/event-stream"}
        if token:
            headers["Authorization"] = "Bearer " + token
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        if query_id is not None:
            path += "?last_event_id=" + query_id
        self.conn.request("GET", path, headers=headers)
        self.sock = self.conn.sock
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.events = queue.Queue()
        self.closed = False
        self.ended = threading.Event()  # set once the stream has ended (EOF or error)
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()
        else:
            self.body = self.resp.read()

    def _read(self):
        ev = {}
        try:
            while True:
                line = self.resp.fp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line == "":
                    if "data" in ev or "event" in ev:
                        if "data" in ev:
                            ev["json"] = json.loads(ev["data"]) if ev["data"].startswith("{") else None
                        self._put(ev)
                    ev = {}
                elif line.startswith(":"):
                    continue
                else:
                    k, _, v = line.partition(":")
                    ev[k] = v[1:] if v.startswith(" ") else v
        except (OSError, ValueError):
            pass
        self.ended.set()
        self.events.put(None)  # the end of the stream

    def _put(self, ev):
        """One SSE message onto the queue: a `batch` message as its events, in order,
        each with the message's id ("message": the message's event name, "size": its events)."""
        j = ev.get("json")
        if ev.get("event") == "batch" and j and j.get("type") == "batch":
            for inner in j["events"]:
                self.events.put({"id": ev.get("id"), "event": inner["type"], "data": json.dumps(inner),
                                 "json": inner, "message": "batch", "size": len(j["events"])})
        else:
            ev.update(message=ev.get("event"), size=1)
            self.events.put(ev)

    def next(self, timeout=5.0):
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self, n, timeout=10.0):
        out, deadline = [], time.time() + timeout
        while len(out) < n and time.time() < deadline:
            e = self.next(max(0.01, deadline - time.time()))
            if e is None:
                break
            out.append(e)
        return out

    def close(self):
        """Drop the connection as a network failure would."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()
