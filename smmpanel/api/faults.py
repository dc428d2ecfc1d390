"""Fault injection: a panel that misbehaves on purpose, as upstream providers do.

A reseller's forwarding engine must survive providers that time out after
placing an order, drop the connection, answer an HTML error page, refuse for
lack of funds, rate-limit, forget orders, or spell statuses and ids their own
way. The tests make a second smmpanel instance the provider and switch those
behaviours on here, by a JSON file (format: docs/faults.md):

    SMMPANEL_FAULTS_FILE=/path/faults.json gunicorn smmpanel.wsgi:application

`wrap(app)` returns a WSGI app around the /api/v2 one (smmpanel.api.wsgi
applies it only when the variable is set, so a normal panel does not even pay
for a check); it lives beside the app it wraps and reads requests by the
API's own rules. The file is re-read when it changes, looked at no more than
once per CHECK_EVERY seconds per process. The real endpoint always does the real work;
this module only decides, per call, whether to refuse before it, to misbehave
after it, or to rewrite the JSON it answered.
"""

import hashlib
import io
import itertools
import json
import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings

from smmpanel.api.body import raw_request
from smmpanel.api.errors import ApiError, message
from smmpanel.api.params import read_fields
from smmpanel.ids import parse_id

log = logging.getLogger(__name__)

ENV_VAR = "SMMPANEL_FAULTS_FILE"
# Seconds between two looks at the file, per process: a stat per call costs a benchmark a little; tests set
# SMMPANEL_FAULTS_CHECK_EVERY=0, so that a call made after the file changed always sees the change.
CHECK_EVERY = float(os.environ.get("SMMPANEL_FAULTS_CHECK_EVERY", "0.5"))

# Faults drawn per call, in this order, from ONE uniform draw: each fires with
# its own probability as long as they add up to at most 1. "Before" faults
# refuse the call untouched; "after" faults let the add happen first.
BEFORE_ANY = ("rate_limit", "http_5xx", "html")
BEFORE_ADD = ("funds",)
AFTER_ADD = ("add_timeout", "add_drop", "http_500_after_add")
PROBABILITIES = BEFORE_ANY + BEFORE_ADD + AFTER_ADD
SWITCHES = ("spellings", "string_ids", "numbers", "bare_string_errors")

# How other panels spell our statuses; an order keeps one spelling for life.
SPELLINGS = {
    "In progress": ("Inprogress", "In Progress"),
    "Canceled": ("Cancelled",),
}
NOT_FOUND = message("bad_order")


@dataclass(frozen=True)
class Faults:
    """One version of the faults file, checked."""

    seed: int = 0
    latency: tuple[float, float] | None = None
    hang_seconds: float = 30.0
    forget: float = 0.0
    actions: frozenset[str] | None = None  # None: every action
    chances: dict[str, float] = field(default_factory=dict)  # the probabilistic faults that are > 0
    switches: frozenset[str] = frozenset()

    @property
    def rewrites(self) -> bool:
        return bool(self.switches) or self.forget > 0

    @property
    def idle(self) -> bool:
        """Nothing to do: calls go straight to the real app, untouched."""
        return not (self.latency or self.chances or self.rewrites)

    @classmethod
    def from_json(cls, data) -> "Faults":
        if not isinstance(data, dict):
            raise ValueError("the faults file must hold a JSON object")
        known = {"seed", "latency", "hang_seconds", "forget", "actions", *PROBABILITIES, *SWITCHES}
        for unknown in sorted(set(data) - known):
            log.warning("faults file: unknown key %r ignored", unknown)
        latency = data.get("latency")
        if latency is not None:
            low, high = (float(x) for x in latency)
            latency = (low, high) if high > 0 else None
        actions = data.get("actions")
        return cls(
            seed=int(data.get("seed", 0)),
            latency=latency,
            hang_seconds=float(data.get("hang_seconds", 30)),
            forget=_probability(data, "forget"),
            actions=None if actions is None else frozenset(str(a) for a in actions),
            chances={name: p for name in PROBABILITIES if (p := _probability(data, name)) > 0},
            switches=frozenset(name for name in SWITCHES if data.get(name)),
        )


def _probability(data: dict, name: str) -> float:
    value = float(data.get(name, 0) or 0)
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability from 0 to 1")
    return value


NO_FAULTS = Faults()


class FaultsFile:
    """The faults file's current content, re-read when it changed (stat at most every CHECK_EVERY s)."""

    def __init__(self, path: str):
        self.path = path
        self.faults = NO_FAULTS
        self._stamp: tuple[int, int, int] | None = None
        self._next_look = 0.0
        self._lock = threading.Lock()

    def current(self) -> Faults:
        if time.monotonic() >= self._next_look:
            with self._lock:  # one thread looks; the others keep the version they have
                if time.monotonic() >= self._next_look:
                    self._look()
                    self._next_look = time.monotonic() + CHECK_EVERY
        return self.faults

    def _look(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            self._stamp, self.faults = None, NO_FAULTS
            return
        stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            with open(self.path, "rb") as f:
                faults = Faults.from_json(json.loads(f.read() or b"{}"))
            self.faults = NO_FAULTS if faults.idle else faults
        except (OSError, ValueError, TypeError) as e:
            # A broken file means no faults (loudly), not a broken panel.
            log.warning("faults file %s ignored: %s", self.path, e)
            self.faults = NO_FAULTS


def stable_fraction(seed: int, kind: str, number: int) -> float:
    """A number in [0, 1) fixed by (seed, kind, id): the same id always gets the same fate."""
    digest = hashlib.blake2b(f"{seed}:{kind}:{number}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


# --- the answers a misbehaving provider gives ------------------------------------------------

HTML_PAGES = {
    502: b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
    503: b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n",
    200: b'<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body>'
    b"<h1>Checking if the site connection is secure</h1><p>Enable JavaScript and cookies to continue"
    b"</p><p>Performance &amp; security by Cloudflare</p></body></html>",
}
STATUS_LINES = {
    200: "200 OK",
    429: "429 Too Many Requests",
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Unavailable",
}


def _answer(start_response, status: int, body: bytes, content_type: str, headers=()):
    start_response(STATUS_LINES[status], [("Content-Type", content_type), *headers, ("Content-Length", str(len(body)))])
    return [body]


def _json_answer(start_response, status: int, body, headers=()):
    return _answer(start_response, status, json.dumps(body).encode(), "application/json", headers)


class DroppedConnection(Exception):
    """Raised to make the server abort the response (the add_drop fault)."""


def _dropped(environ):
    """Close the connection without a byte of answer.

    gunicorn sends nothing until the first body chunk, and answers an
    exception raised before it with a 500 page; shutting its socket first
    leaves the client with a closed connection and no answer at all. Other
    servers abort the response when its body iterator raises.
    """
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise DroppedConnection("fault injection: add_drop (the order was placed)")
    yield b""  # type: ignore[unreachable]  # never reached: the `yield` makes this the body iterator, raising when read


# --- rewriting the real answer as other panels shape it ----------------------------------------


class Rewriter:
    """Reshapes one action's JSON answer according to the switches (and `forget`) in force."""

    def __init__(self, faults: Faults):
        self.f = faults
        self.on = faults.switches

    def forgotten(self, raw_id) -> bool:
        number = parse_id(raw_id)
        return (
            number is not None and self.f.forget > 0 and stable_fraction(self.f.seed, "forget", number) < self.f.forget
        )

    def spelled(self, status, kind: str, raw_id):
        alternatives = SPELLINGS.get(status) if "spellings" in self.on else None
        number = parse_id(raw_id)
        if not alternatives or number is None:
            return status
        return alternatives[int(stable_fraction(self.f.seed, kind, number) * len(alternatives))]

    def ident(self, value):
        return str(value) if "string_ids" in self.on and isinstance(value, int) else value

    def order_status(self, body, raw_id):
        if not isinstance(body, dict) or "error" in body:
            return body
        body = dict(body)
        if "status" in body:
            body["status"] = self.spelled(body["status"], "order", raw_id)
        if "numbers" in self.on:
            for name in ("start_count", "remains"):
                if isinstance(body.get(name), str) and body[name].lstrip("-").isdigit():
                    body[name] = int(body[name])
        if isinstance(body.get("orders"), list):
            body["orders"] = [self.ident(i) for i in body["orders"]]
        return body

    def not_found(self):
        return NOT_FOUND if "bare_string_errors" in self.on else {"error": NOT_FOUND}

    def rewrite(self, action: str, fields: dict, body):
        if action == "add" and isinstance(body, dict) and "order" in body:
            return {**body, "order": self.ident(body["order"])}
        if action == "status":
            if isinstance(body, dict) and fields.get("orders", "").strip():
                return {
                    raw: self.not_found()
                    if self.forgotten(raw) or _is_error(answer)
                    else self.order_status(answer, raw)
                    for raw, answer in body.items()
                }
            raw = fields.get("order", "")
            return {"error": NOT_FOUND} if self.forgotten(raw) else self.order_status(body, raw)
        if action in ("refill", "cancel") and isinstance(body, list):
            return [
                {k: self.ident(v) if k in ("order", "refill") else v for k, v in item.items()}
                if isinstance(item, dict)
                else item
                for item in body
            ]
        if action == "refill_status":
            if isinstance(body, list):
                return [
                    {
                        **item,
                        "refill": self.ident(item.get("refill")),
                        "status": self.spelled(item.get("status"), "refill", item.get("refill")),
                    }
                    if isinstance(item, dict) and "refill" in item
                    else item
                    for item in body
                ]
            if isinstance(body, dict) and "status" in body:
                return {**body, "status": self.spelled(body["status"], "refill", fields.get("refill", ""))}
        return body


def _is_error(answer) -> bool:
    return isinstance(answer, dict) and "error" in answer


# --- the wrapper ---------------------------------------------------------------------------------


def _buffer_request(environ) -> tuple[dict, str, dict]:
    """(environ for the real app, action, fields): the body is read once and handed on intact.

    Only a body with a Content-Length within the limit is read here; any other
    (too big, or chunked) goes on untouched to the real app, which has the
    rules for it, and the action is then read from the query string alone.
    """
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        length = None
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if length is not None and length > 0 and (limit is None or length <= limit):
        body = environ["wsgi.input"].read(length)
        environ = {**environ, "wsgi.input": io.BytesIO(body)}
        look = {**environ, "wsgi.input": io.BytesIO(body)}
    else:
        look = {**environ, "CONTENT_LENGTH": "0", "wsgi.input": io.BytesIO(b"")}
        look.pop("wsgi.input_terminated", None)
    try:
        fields = read_fields(raw_request(look, look["wsgi.input"]))
    except ApiError:
        fields = {}  # the real app will answer the error; no action to pick faults by
    except Exception:  # a test tool must not turn a request into a crash
        log.exception("faults: could not read the request's action")
        fields = {}
    return environ, fields.get("action", "").strip(), fields


def wrap(app, path: str | None = None):
    """`app` (the /api/v2 WSGI app) misbehaving as the faults file at `path` (default: $SMMPANEL_FAULTS_FILE) says."""
    source = FaultsFile(path or os.environ[ENV_VAR])
    calls = itertools.count()

    def faulty(environ, start_response):
        faults = source.current()
        if faults is NO_FAULTS:
            return app(environ, start_response)
        environ, action, fields = _buffer_request(environ)
        # A generator per call, so that concurrent threads do not share one.
        rng = random.Random(f"{faults.seed}:{next(calls)}")
        drawn = None
        if faults.actions is None or action in faults.actions:
            if faults.latency:
                time.sleep(rng.uniform(*faults.latency))
            drawn = _draw(faults, rng, action)
        refused = _refused(drawn, rng, start_response)
        if refused is not None:
            return refused
        status, headers, data = _real_answer(app, environ)
        # The real answer exists (an add is committed); now misbehave with it.
        if drawn == "add_timeout":
            time.sleep(faults.hang_seconds)
        elif drawn == "add_drop":
            start_response(status, headers)
            return _dropped(environ)
        elif drawn == "http_500_after_add":
            return _json_answer(start_response, 500, {"error": "Internal server error, please try again later"})
        if faults.rewrites and status.startswith("200"):
            data = _rewritten(faults, action, fields, data)
            headers = [(k, str(len(data)) if k.lower() == "content-length" else v) for k, v in headers]
        start_response(status, headers)
        return [data]

    faulty.__wrapped__ = app  # type: ignore[attr-defined]  # the real app, as functools.wraps would name it
    return faulty


def _refused(drawn: str | None, rng: random.Random, start_response):
    """The answer of a fault drawn to refuse the call before the real app sees it; None for any other."""
    if drawn == "rate_limit":
        return _json_answer(start_response, 429, {"error": "Too many requests"}, [("Retry-After", "1")])
    if drawn == "http_5xx":
        status = rng.choice((502, 503))
        return _answer(start_response, status, HTML_PAGES[status], "text/html")
    if drawn == "html":
        return _answer(start_response, 200, HTML_PAGES[200], "text/html; charset=UTF-8")
    if drawn == "funds":
        return _json_answer(start_response, 200, {"error": message("funds")})
    return None


def _real_answer(app, environ) -> tuple[str, list, bytes]:
    """(status line, headers, body) of the real app's answer, read whole."""
    started = {}

    def keep(status, headers, exc_info=None):
        started["status"], started["headers"] = status, headers

    result = app(environ, keep)
    try:
        data = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return started["status"], started["headers"], data


def _draw(faults: Faults, rng: random.Random, action: str) -> str | None:
    names = BEFORE_ANY + (BEFORE_ADD + AFTER_ADD if action == "add" else ())
    if not any(name in faults.chances for name in names):
        return None
    u, cumulative = rng.random(), 0.0
    for name in names:
        cumulative += faults.chances.get(name, 0.0)
        if u < cumulative:
            return name
    return None


def _rewritten(faults: Faults, action: str, fields: dict, data: bytes) -> bytes:
    try:
        body = json.loads(data)
    except ValueError:
        return data
    new = Rewriter(faults).rewrite(action, fields, body)
    return data if new is body else json.dumps(new, ensure_ascii=False).encode()
