"""A tiny upstream panel on 127.0.0.1 (port 0) that answers API v2 as the spec shows, and counts what it is asked.

Enough of a provider for the admin's tests: `balance`, `services` (two),
`add` (a new id each time), `status` (one order or many: every order it
placed is In progress with half remaining; an id it never gave is
"Incorrect order ID"), `cancel` (accepted). `requests` lists the actions it
was asked, in order, so a test can say that nothing reached it.
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from urllib.parse import parse_qs

SERVICES = [
    {"service": 1, "name": "Followers", "type": "Default", "category": "IG", "rate": "0.90", "min": 10, "max": 1000},
    {"service": 2, "name": "Likes", "type": "Default", "category": "IG", "rate": "0.50", "min": 10, "max": 5000},
]


class FakeProvider(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[str] = []
        self.services = [dict(item) for item in SERVICES]  # a test may change its catalog
        self.placed: dict[int, int] = {}  # upstream id -> quantity
        self.ids = count(9000)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/api/v2"

    def answer(self, fields: dict[str, str]):
        action = fields.get("action", "")
        with self.lock:
            self.requests.append(action)
            if action == "balance":
                return {"balance": "100.84292", "currency": "USD"}
            if action == "services":
                return self.services
            if action == "add":
                upstream_id = next(self.ids)
                self.placed[upstream_id] = int(fields.get("quantity") or 1)
                return {"order": upstream_id}
            if action == "status" and "orders" in fields:
                return {raw: self._status(raw) for raw in fields["orders"].split(",")}
            if action == "status":
                return self._status(fields.get("order", ""))
            if action == "cancel":
                return [{"order": int(raw), "cancel": 1} for raw in fields.get("orders", "").split(",") if raw]
        return {"error": "Incorrect request"}

    def _status(self, raw: str) -> dict:
        quantity = self.placed.get(int(raw)) if raw.strip().isdigit() else None
        if quantity is None:
            return {"error": "Incorrect order ID"}
        return {
            "charge": "0.5",
            "start_count": "10",
            "status": "In progress",
            "remains": str(quantity // 2),
            "currency": "USD",
        }


class _Handler(BaseHTTPRequestHandler):
    server: FakeProvider

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        fields = {name: values[-1] for name, values in parse_qs(body).items()}
        data = json.dumps(self.server.answer(fields)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@contextmanager
def fake_provider() -> Iterator[FakeProvider]:
    server = FakeProvider()
    # A short poll: shutdown() waits up to one poll interval (0.5 s by default) for the loop to notice.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
