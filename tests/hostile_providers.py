"""Providers that misbehave on purpose: small real HTTP servers on 127.0.0.1 (port 0) speaking API v2.

`Panel` is a well-behaved provider: `add` stores an order (one active order
per link, as real panels refuse a second: "You have active order with this
link"), `status` answers Completed for the ids asked. The hostile ones change
one answer:

- `Trickler`: answers `status` one byte at a time, every `every` seconds
  (`headers_too`: the status line and headers as well), for as long as it runs;
- `Huge`: answers `status` with a 50 MB JSON string, streamed without a
  Content-Length (or announcing it, `announce=True`);
- `Liar`: answers the status of an order whose link has "poison" in it with
  charge "1e30" and remains 10**30;
- `LandsThen`: stores the `add` and then answers it with an HTTP error
  (`status`: 502, 503 (a proxy's page) or 429), the first `times` times;
- `SlowAdd`: answers `add` only after `seconds`.

Each records the requests it got (`actions`) and stops trickling or streaming
when it is closed.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from urllib.parse import parse_qs

ACTIVE = "You have active order with this link. Please wait until order being completed."
HUGE_BYTES = 50 * 2**20


class Panel:
    """A provider that behaves; subclasses override `on_add` / `on_status`."""

    def __init__(self):
        self.orders: dict[int, str] = {}  # id -> link
        self.actions: Counter[str] = Counter()
        self.stopping = threading.Event()
        self._ids = count(7001)
        self._lock = threading.Lock()
        panel = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                action = form.get("action", "")
                with panel._lock:
                    panel.actions[action] += 1
                handler = getattr(panel, f"on_{action}", None)
                if handler is None:
                    panel.reply(self, 200, {"error": "Incorrect request"})
                else:
                    handler(self, form)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/v2"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    # --- answers -------------------------------------------------------------------------

    @staticmethod
    def reply(handler, status: int, body, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def store(self, form) -> int | None:
        """The new order's id; None when an order for this link is active already."""
        with self._lock:
            if form.get("link") in self.orders.values():
                return None
            order = next(self._ids)
            self.orders[order] = form.get("link", "")
            return order

    def on_add(self, handler, form) -> None:
        order = self.store(form)
        self.reply(handler, 200, {"order": order} if order is not None else {"error": ACTIVE})

    def status_of(self, order: int) -> dict:
        return {"charge": "0.10", "start_count": "100", "status": "Completed", "remains": "0", "currency": "USD"}

    def status_body(self, form) -> dict:
        ids = [int(i) for i in (form.get("orders") or form.get("order") or "").split(",") if i.strip().isdigit()]
        return {str(i): self.status_of(i) if i in self.orders else {"error": "Incorrect order ID"} for i in ids}

    def on_status(self, handler, form) -> None:
        self.reply(handler, 200, self.status_body(form))


class Trickler(Panel):
    """Answers `status` a byte every `every` seconds (from the status line on, with `headers_too`)."""

    def __init__(self, every: float = 0.5, headers_too: bool = False):
        self.every, self.headers_too = every, headers_too
        super().__init__()

    def on_status(self, handler, form) -> None:
        body = json.dumps(self.status_body(form)).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        handler.close_connection = True
        try:
            if not self.headers_too:
                handler.wfile.write(head)
                handler.wfile.flush()
                head = b""
            for byte in head + body:
                if self.stopping.wait(self.every):
                    return
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
        except OSError:  # the client gave up: what a trickler expects
            pass


class Huge(Panel):
    """Answers `status` with a 50 MB JSON string (valid JSON, were it read to the end)."""

    def __init__(self, announce: bool = False):
        self.announce = announce
        self.sent = 0  # bytes of the last huge answer that went out
        super().__init__()

    def on_status(self, handler, form) -> None:
        prefix, suffix = b'{"note": "', b'"}'
        length = len(prefix) + HUGE_BYTES + len(suffix)
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if self.announce:
            handler.send_header("Content-Length", str(length))
        else:
            handler.send_header("Connection", "close")  # the body ends when the connection does
        handler.end_headers()
        chunk = b"x" * 2**16
        self.sent = 0
        try:
            handler.wfile.write(prefix)
            while self.sent < HUGE_BYTES and not self.stopping.is_set():
                handler.wfile.write(chunk)
                self.sent += len(chunk)
            handler.wfile.write(suffix)
        except OSError:
            pass


class Liar(Panel):
    """Sends impossible numbers for the orders whose link has "poison" in it."""

    def status_of(self, order: int) -> dict:
        if "poison" in self.orders[order]:
            return {"charge": "1e30", "start_count": 0, "status": "Completed", "remains": 10**30, "currency": "USD"}
        return super().status_of(order)


class LandsThen(Panel):
    """Stores the order, then answers the `add` with HTTP `status` (the first `times` adds)."""

    def __init__(self, status: int, times: int = 1):
        self.status, self.times = status, times
        super().__init__()

    def on_add(self, handler, form) -> None:
        order = self.store(form)
        if order is None:
            self.reply(handler, 200, {"error": ACTIVE})
        elif self.times > 0:
            self.times -= 1
            if self.status == 429:
                self.reply(handler, 429, {"error": "Too many requests"})
            else:
                page = f"<html><body><h1>{self.status} Bad Gateway</h1>nginx</body></html>".encode()
                self.reply(handler, self.status, page, content_type="text/html")
        else:
            self.reply(handler, 200, {"order": order})


class SlowAdd(Panel):
    """Takes `seconds` to answer an `add` (then places it)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__()

    def on_add(self, handler, form) -> None:
        if not self.stopping.wait(self.seconds):
            super().on_add(handler, form)
