"""A real HTTP receiver on loopback (http.server in a thread) that records what partners would receive."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Answers each POST with the next status of ``script`` (then ``then``). ``redirect_to`` makes a 302
    answer point there. ``hold`` (an Event) makes the first request wait until it is set."""

    def __init__(self, script=(), *, then: int = 200, redirect_to: str = "", hold: threading.Event | None = None):
        self.script = list(script)
        self.then = then
        self.redirect_to = redirect_to
        self.hold = hold
        self.received: list[Received] = []
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                    number = len(receiver.received)
                    status = receiver.script.pop(0) if receiver.script else receiver.then
                    receiver._lock.notify_all()
                if receiver.hold is not None and number == 1:
                    receiver.hold.wait(60)
                try:
                    self.send_response(status)
                    if status in (301, 302, 303, 307, 308):
                        self.send_header("Location", receiver.redirect_to)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender is gone (a killed worker)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/medilens"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the receiver got {len(self.received)} requests, expected {count}")
                self._lock.wait(left)
            return list(self.received)
