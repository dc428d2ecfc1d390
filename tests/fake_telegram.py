"""A Telegram Bot API on 127.0.0.1 (port 0) answering sendMessage as the Bot API documents, and keeping what it got.

POST /bot<token>/sendMessage with a JSON body {chat_id, text, …}:
  - `{"ok": true, "result": <Message>}` for the right token, and the message is kept in `messages`;
  - `{"ok": false, "error_code": 401, "description": "Unauthorized"}` (HTTP 401) for any other token;
  - `{"ok": false, "error_code": 400, "description": "Bad Request: message is too long"}` over 4096
    characters (UTF-16 code units), and "Bad Request: message text is empty" for none;
  - queued refusals first: `refuse_next(retry_after=N)` answers the next call with flood control,
    `{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after N",
    "parameters": {"retry_after": N}}` (HTTP 429).
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count

TOKEN = "123456:TEST-fake-bot-token"
CHAT_ID = "-1001234567890"


class FakeTelegram(ThreadingHTTPServer):
    def __init__(self, token: str = TOKEN):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = token
        self.messages: list[dict] = []  # the bodies of the messages accepted, in order
        self.calls = 0
        self.refusals: list[int] = []  # retry_after of the next calls to refuse
        self.ids = count(1)
        self.lock = threading.Lock()
        # A test's gate: each call waits at it until as many calls arrived (tests' race controls).
        self.gate: threading.Barrier | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def refuse_next(self, retry_after: int) -> None:
        with self.lock:
            self.refusals.append(retry_after)

    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        if self.gate is not None:
            self.gate.wait()
        with self.lock:
            self.calls += 1
            if path != f"/bot{self.token}/sendMessage":
                if path.startswith("/bot") and path.endswith("/sendMessage"):
                    return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            if self.refusals:
                wait = self.refusals.pop(0)
                return 429, {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {wait}",
                    "parameters": {"retry_after": wait},
                }
            text = body.get("text")
            if not isinstance(text, str) or not text.strip():
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
            if len(text.encode("utf-16-le")) // 2 > 4096:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
            self.messages.append(body)
            message = {
                "message_id": next(self.ids),
                "date": 0,
                "chat": {"id": int(body.get("chat_id", 0)), "type": "supergroup"},
                "text": text,
            }
            return 200, {"ok": True, "result": message}


class _Handler(BaseHTTPRequestHandler):
    server: FakeTelegram

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        status, answer = self.server.answer(self.path, body if isinstance(body, dict) else {})
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


@contextmanager
def fake_telegram(token: str = TOKEN) -> Iterator[FakeTelegram]:
    server = FakeTelegram(token)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
