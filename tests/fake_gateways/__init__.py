"""Fake payment gateways for tests: the shared threaded HTTP server and webhook delivery.

Each fake (stripe.py, cryptomus.py, nowpayments.py) is a real HTTP server on 127.0.0.1 (port 0),
answering the paths, auth headers, encodings and error shapes its gateway documents, so the
panel's gateway code (and the official `stripe` library) talks to it unchanged. This module owns
what they share:

- `FakeGateway`: start/stop (a context manager too), `base_url`, a lock over the fake's state,
  routing of requests to the subclass's `handle(request)`;
- webhook delivery (`send_webhook`): synchronous by default (a control such as `pay()` returns
  after the panel answered the notification), or held for later (`hold_webhooks = True`, then
  `release_webhooks()`), or lost (`drop_webhooks = True`: the state changes, nothing is sent).
  Where it goes: `deliver(body, headers) -> status` when set (e.g. into Django's test client,
  in-process), else `webhook_url` when set, else the URL the panel gave with the payment
  (Cryptomus' url_callback, NOWPayments' ipn_callback_url). Every attempt is recorded in
  `deliveries`.

A `deliver` callable runs in the thread that caused the notification: the test's own thread for
controls (`fake.pay(...)`), a server thread for the hosted checkout page's Pay button.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Deliver = Callable[[bytes, dict[str, str]], int]

MAX_BODY = 1 << 20  # what a fake reads of a request body; more is refused (413)


@dataclass
class Request:
    """One request as a fake sees it."""

    method: str
    path: str  # without the query string
    query: list[tuple[str, str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, obj: Any, **headers: str) -> Response:
        body = json.dumps(obj, indent=2).encode()
        return cls(status, body, {"Content-Type": "application/json", **headers})

    @classmethod
    def html(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})

    @classmethod
    def redirect(cls, location: str) -> Response:
        # 303: the browser follows a POST (the Pay button) with a GET, as checkout pages do.
        return cls(303, b"", {"Location": location})


@dataclass
class Delivery:
    """One webhook the fake sent (or held, or dropped)."""

    url: str | None
    body: bytes
    headers: dict[str, str]
    status: int | None = None  # the panel's answer; None: not sent (dropped/held) or no answer
    error: str | None = None
    dropped: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


class FakeGateway:
    """A threaded HTTP server on 127.0.0.1:0 with webhook delivery; subclasses implement `handle`."""

    name = "gateway"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.webhook_url: str | None = None
        self.deliver: Deliver | None = None
        self.drop_webhooks = False
        self.hold_webhooks = False
        self.deliveries: list[Delivery] = []
        self.held: list[Delivery] = []
        self.requests: list[Request] = []  # every API request received, for assertions
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> FakeGateway:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30  # an idle keep-alive connection ends, so its thread does too

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._answer(Response.json(413, {"error": "body too large"}), close=True)
                    return
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    path=split.path,
                    query=parse_qsl(split.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                try:
                    response = fake.handle(request)
                except Exception as exc:  # noqa: BLE001 - a fake's bug must show as a 500, not a hung client
                    response = Response.json(500, {"error": f"fake {fake.name} crashed: {exc!r}"})
                self._answer(response)

            def _answer(self, response: Response, close: bool = False) -> None:
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                if close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = do_POST = do_DELETE = do_PUT = _serve  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows what matters

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"fake {self.name} is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    # --- webhooks -----------------------------------------------------------------------

    def send_webhook(self, body: bytes, headers: dict[str, str], url: str | None = None) -> Delivery:
        """Deliver one notification now (or hold/drop it, as the switches say); returns its record."""
        delivery = Delivery(url=self.webhook_url or url, body=body, headers=dict(headers))
        with self.lock:
            self.deliveries.append(delivery)
            if self.drop_webhooks:
                delivery.dropped = True
                return delivery
            if self.hold_webhooks:
                self.held.append(delivery)
                return delivery
        # Outside the lock: the panel may call the fake's API while answering the webhook.
        self._post(delivery)
        return delivery

    def release_webhooks(self) -> list[Delivery]:
        """Send the held notifications now, in order (the panel's answers land in each record)."""
        with self.lock:
            held, self.held = self.held, []
        for delivery in held:
            self._post(delivery)
        return held

    def resend(self, delivery: Delivery) -> Delivery:
        """Send a notification again (the gateway's retry after a failed answer); returns the new record."""
        return self.send_webhook(delivery.body, self.retry_headers(delivery), url=delivery.url)

    def retry_headers(self, delivery: Delivery) -> dict[str, str]:
        return dict(delivery.headers)

    def _post(self, delivery: Delivery) -> None:
        if self.deliver is not None:
            delivery.status = self.deliver(delivery.body, dict(delivery.headers))
            return
        if not delivery.url:
            delivery.error = "no webhook_url and no deliver callable"
            return
        request = urllib.request.Request(delivery.url, data=delivery.body, headers=delivery.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=15) as answer:
                delivery.status = answer.status
        except urllib.error.HTTPError as exc:
            delivery.status = exc.code
        except OSError as exc:
            delivery.error = repr(exc)

    def delivered(self) -> list[Delivery]:
        """The notifications actually sent (not dropped, not still held)."""
        with self.lock:
            held = {id(d) for d in self.held}
            return [d for d in self.deliveries if not d.dropped and id(d) not in held]
