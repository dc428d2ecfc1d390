"""The API v2 client: one method per action, on one pooled ``httpx.Client``.

Every request is a form-encoded ``POST`` of ``key``, ``action`` and the
action's fields, as the reference's PHP example sends it and every panel
expects. Answers go through one gate (``_call``): a JSON ``{"error": ...}`` is
an ``ApiError`` whatever the HTTP status; an answer that is not JSON, or a
non-2xx answer that is not an error, is a ``BadResponse``; no answer at all is
a ``TransportError`` that says whether the request may have been received.

A panel is someone else's server: every request ends by its deadline (the
client's ``timeout``, for the whole request, however slowly the panel
trickles its answer: see deadline.py), and an answer is read in chunks up to a
limit per action (``ANSWER_LIMITS``), refused as a ``BadResponse`` past it,
so that a panel sending 50 MB costs a few kilobytes of memory, not 50 MB.
The per-action methods then read the shapes the protocol allows (and the
sloppy variants panels really send) into the types of ``types.py``.

The key is a secret: it is kept in a private attribute, left out of ``repr``,
never logged, and scrubbed from any text a panel echoes back before that text
becomes part of an exception.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from importlib import metadata
from typing import Any
from urllib.parse import quote_plus, urlsplit, urlunsplit

import httpx

from . import deadline
from .errors import ApiError, BadResponse, ClientError, TransportError
from .types import (
    Balance,
    OrderStatus,
    Service,
    normalize_status,
    read_order_status,
    read_service,
    to_bool,
    to_decimal,
    to_int,
    to_text,
)

log = logging.getLogger("smmpanel.client")

MAX_IDS = 100  # the protocol's limit of ids per multi request

# The most an answer may weigh, per action (bytes, after any gzip). A status answer for 100 orders is a
# few kilobytes; a catalog of thousands of services a few megabytes.
ANSWER_LIMITS = {"services": 32 * 2**20}
ANSWER_LIMIT = 2**20

# httpx failures where the request surely never left this machine: safe to resend even an `add`.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.InvalidURL,
)


def _version() -> str:
    try:
        return metadata.version("smmpanel")
    except metadata.PackageNotFoundError:
        return "0"


def parse_id(value: Any) -> int:
    """An order, refill or service id from an int or a numeric string; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not an id: {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise ValueError(f"not an id: {value!r}")
    if number < 1:
        raise ValueError(f"not an id: {value!r}")
    return number


def _unique_ids(values: Any) -> list[int]:
    """One id or an iterable of ids -> the distinct ids, in the order given."""
    if isinstance(values, (int, str)):
        values = [values]
    return list(dict.fromkeys(parse_id(v) for v in values))


def _form_value(value: Any) -> str:
    """A Python value as the form field a panel expects."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")  # the reference's expiry format
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value)  # comments, usernames, groups ... are lines
    return str(value)


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), MAX_IDS):
        yield ids[start : start + MAX_IDS]


def _error_text(value: Any) -> str:
    if isinstance(value, dict) and "message" in value:
        value = value["message"]
    return value if isinstance(value, str) else json.dumps(value, default=str)


class Client:
    """A client of one panel's API v2 (``url`` is the full endpoint, e.g. ``https://panel.example/api/v2``).

    ``timeout`` bounds the whole of each request (connect, send, wait, read), ``connect_timeout`` the
    connect within it. ``answer_limits`` overrides ``ANSWER_LIMITS`` (bytes per action). Pass ``http``
    to share your own ``httpx.Client`` (its timeouts then bound each read; the client checks the deadline
    between the chunks it reads; ``close()`` leaves it open).
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        http: httpx.Client | None = None,
        user_agent: str | None = None,
        answer_limits: dict[str, int] | None = None,
    ):
        self.url = url
        self.timeout = timeout
        self.answer_limits = {**ANSWER_LIMITS, **(answer_limits or {})}
        self._key = key
        self._owns_http = http is None
        self._http = (
            http
            if http is not None
            else httpx.Client(
                timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
                follow_redirects=False,  # a redirected POST turns into a GET without our fields
                transport=deadline.transport(),
            )
        )
        self._headers = {
            "User-Agent": user_agent or f"smmpanel-client/{_version()}",
            "Accept": "application/json",
        }
        self.last_skipped = 0  # services(): items of the last answer left out for lack of an id/name/rate

    # --- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Client {self._safe_url()}>"

    def _safe_url(self) -> str:
        parts = urlsplit(self.url)
        netloc = parts.netloc.rsplit("@", 1)[-1]  # no user:password from the URL either
        return self._scrub(urlunsplit((parts.scheme, netloc, parts.path, "", "")))

    def _scrub(self, text: str) -> str:
        """The text without the key (panels' error pages sometimes echo the request back)."""
        if self._key:
            for form in {self._key, quote_plus(self._key)}:
                text = text.replace(form, "***")
        return text

    # --- the one gate every request goes through ----------------------------------------------------

    def _call(self, action: str, **fields: Any) -> Any:
        data = {"key": self._key, "action": action}
        data.update({name: _form_value(value) for name, value in fields.items() if value is not None})
        started = time.monotonic()
        try:
            with deadline.until(started + self.timeout):
                status, text, location = self._post(action, data, started + self.timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as e:  # InvalidURL is not an HTTPError
            sent = not isinstance(e, _NOT_SENT)
            reason = self._scrub(str(e)) or type(e).__name__
            log.debug("%s %s: %s (%s)", action, self._safe_url(), type(e).__name__, reason)
            raise TransportError(f"{action} {self._safe_url()}: {type(e).__name__}: {reason}", sent=sent) from None
        log.debug("%s %s -> HTTP %s in %.0f ms", action, self._safe_url(), status, (time.monotonic() - started) * 1000)
        try:
            # Money stays exact: a JSON number like 0.27819 becomes Decimal, never a float.
            body = json.loads(text.lstrip("\ufeff"), parse_float=Decimal)
        except ValueError:
            hint = f"a redirect to {location}" if location else "not JSON"
            raise BadResponse(f"{action}: the answer is {self._scrub(hint)}", status_code=status, text=text) from None
        if isinstance(body, dict) and body.get("error"):
            raise ApiError(_error_text(body["error"]), status)
        if not 200 <= status < 300:
            raise BadResponse(f"{action}: HTTP {status} without an error message", status_code=status, text=text)
        return body

    def _post(self, action: str, data: dict, ends: float) -> tuple[int, str, str | None]:
        """Send the request; (HTTP status, the answer's text with the key scrubbed, a redirect's location).

        The answer is read in chunks and refused (BadResponse) once it outgrows the action's limit.
        """
        limit = self.answer_limits.get(action, ANSWER_LIMIT)
        with self._http.stream("POST", self.url, data=data, headers=self._headers) as response:
            status = response.status_code
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise self._too_big(action, status, f"{int(declared)} bytes announced")
            content = bytearray()
            for chunk in response.iter_bytes():
                content += chunk
                if len(content) > limit:
                    raise self._too_big(action, status, f"more than {limit} bytes")
                if time.monotonic() > ends:  # a shared httpx.Client's transport does not know our deadline
                    raise httpx.ReadTimeout("the request's deadline passed", request=response.request)
            location = response.headers.get("location") if 300 <= status < 400 else None
            # Scrubbed once, here: nothing read from the answer (messages, raw dicts) can carry the key.
            text = self._scrub(content.decode(response.encoding or "utf-8", errors="replace"))
        return status, text, location

    def _too_big(self, action: str, status: int, size: str) -> BadResponse:
        return BadResponse(f"{action}: the answer is too large ({size})", status_code=status, text="")

    def _bad(self, action: str, what: str, body: Any) -> BadResponse:
        return BadResponse(f"{action}: {what}", status_code=200, text=json.dumps(body, default=str))

    def _multi(
        self, action: str, field: str, ids: list[int], id_key: str, value_key: str | None, read: Callable[[Any], Any]
    ) -> dict[int, Any]:
        """A multi-id action in chunks of MAX_IDS; every id asked for gets a result or an ApiError.

        Panels answer either an object keyed by the ids (status) or a list of items naming
        their id (refill, refill_status, cancel); both are read here. A chunk of one id that
        comes back in the single-id shape (``{"status": ...}``) is read as that id's answer.
        """
        results: dict[int, Any] = {}
        for chunk in _chunks(ids):
            body = self._call(action, **{field: ",".join(map(str, chunk))})
            entries: dict[int, Any] = {}
            single_key = value_key or "status"
            if len(chunk) == 1 and isinstance(body, dict) and single_key in body:
                entries[chunk[0]] = body[value_key] if value_key else body
            elif isinstance(body, dict):
                for key, value in body.items():
                    number = to_int(key)
                    if number is not None:
                        entries[number] = value
            elif isinstance(body, list):
                for item in body:
                    number = to_int(item.get(id_key)) if isinstance(item, dict) else None
                    if number is None:
                        continue
                    if value_key is None:
                        entries[number] = item
                    else:
                        entries[number] = item.get(value_key, item)
            else:
                raise self._bad(action, "expected an object or a list", body)
            for number in chunk:
                if number not in entries:
                    results[number] = ApiError("missing from the answer")
                else:
                    results[number] = read(entries[number])
        return results

    # --- actions ----------------------------------------------------------------------------------------

    def services(self) -> list[Service]:
        body = self._call("services")
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            body = body["data"]  # a few panels wrap the list
        if not isinstance(body, list):
            raise self._bad("services", "expected a list of services", body)
        services = [read_service(item) for item in body]
        self.last_skipped = sum(s is None for s in services)
        if self.last_skipped:
            log.info("services: %d item(s) without an id, a name or a rate skipped", self.last_skipped)
        return [s for s in services if s is not None]

    def add(self, service: int | str, **params: Any) -> int:
        """Places an order; ``params`` are the type's fields (link, quantity, runs, interval, comments ...).

        ``None`` values are left out; lists become lines; a ``date`` becomes d/m/Y.
        """
        reserved = {"key", "action"} & set(params)
        if reserved:
            raise ValueError(f"reserved field(s): {', '.join(sorted(reserved))}")
        body = self._call("add", service=parse_id(service), **params)
        order = to_int(body.get("order")) if isinstance(body, dict) else None
        if order is None:
            raise self._bad("add", "no order id in the answer", body)
        return order

    def status(self, order: int | str) -> OrderStatus:
        body = self._call("status", order=parse_id(order))
        result = read_order_status(body)
        if result is None:
            raise self._bad("status", "no status in the answer", body)
        return result

    def statuses(self, orders: Iterable[int | str]) -> dict[int, OrderStatus | ApiError]:
        return self._multi("status", "orders", _unique_ids(orders), "order", None, _read_status_entry)

    def refill(self, order: int | str) -> int:
        body = self._call("refill", order=parse_id(order))
        result = _read_refill_entry(body.get("refill")) if isinstance(body, dict) and "refill" in body else None
        if isinstance(result, ApiError):
            raise result
        if result is None:
            raise self._bad("refill", "no refill id in the answer", body)
        return result

    def refills(self, orders: Iterable[int | str]) -> dict[int, int | ApiError]:
        return self._multi("refill", "orders", _unique_ids(orders), "order", "refill", _read_refill_result)

    def refill_status(self, refill: int | str) -> str:
        body = self._call("refill_status", refill=parse_id(refill))
        result = _read_refill_status_entry(body.get("status")) if isinstance(body, dict) and "status" in body else None
        if isinstance(result, ApiError):
            raise result
        if result is None:
            raise self._bad("refill_status", "no status in the answer", body)
        return result

    def refill_statuses(self, refills: Iterable[int | str]) -> dict[int, str | ApiError]:
        return self._multi(
            "refill_status", "refills", _unique_ids(refills), "refill", "status", _read_refill_status_result
        )

    def cancel(self, orders: int | str | Iterable[int | str]) -> dict[int, ApiError | None]:
        """Asks to cancel one or many orders; None means the panel accepted the request."""
        return self._multi("cancel", "orders", _unique_ids(orders), "order", "cancel", _read_cancel_entry)

    def balance(self) -> Balance:
        body = self._call("balance")
        amount = to_decimal(body.get("balance")) if isinstance(body, dict) else None
        if amount is None:
            raise self._bad("balance", "no balance in the answer", body)
        return Balance(amount=amount, currency=to_text(body.get("currency")) or "")


# --- readers of one entry of a multi answer ---------------------------------------------------------
#
# An entry is the panel's answer for one id: a result, {"error": "..."}, or (sloppy panels) a bare
# error string. Whatever cannot be read becomes an ApiError for that id, so one odd entry does not
# cost the caller the other 99.


def _unreadable(value: Any) -> ApiError:
    return ApiError(f"unreadable answer: {json.dumps(value, default=str)[:200]}")


def _entry_error(value: Any) -> ApiError | None:
    if isinstance(value, dict) and value.get("error"):
        return ApiError(_error_text(value["error"]))
    if isinstance(value, str) and to_int(value) is None and value.strip():
        return ApiError(value.strip())
    return None


def _read_status_entry(value: Any) -> OrderStatus | ApiError:
    error = _entry_error(value)
    if error is not None:
        return error
    return read_order_status(value) or _unreadable(value)


def _read_refill_entry(value: Any) -> int | ApiError | None:
    if isinstance(value, dict) and "refill" in value and not value.get("error"):
        value = value["refill"]
    error = _entry_error(value)
    if error is not None:
        return error
    return to_int(value)


def _read_refill_result(value: Any) -> int | ApiError:
    result = _read_refill_entry(value)
    return _unreadable(value) if result is None else result


def _read_refill_status_entry(value: Any) -> str | ApiError | None:
    if isinstance(value, dict) and "status" in value and not value.get("error"):
        value = value["status"]
    if isinstance(value, dict):
        return _entry_error(value)
    text = to_text(value)
    return normalize_status(text) if text else None


def _read_refill_status_result(value: Any) -> str | ApiError:
    result = _read_refill_status_entry(value)
    return _unreadable(value) if result is None else result


def _read_cancel_entry(value: Any) -> ApiError | None:
    if isinstance(value, dict) and "cancel" in value and not value.get("error"):
        value = value["cancel"]
    if to_bool(value):
        return None
    if isinstance(value, str) and value.strip().lower() not in {"", "0", "false"}:
        return ApiError(value.strip())  # a bare error string
    if isinstance(value, dict) and value.get("error"):
        return ApiError(_error_text(value["error"]))
    if value in (0, False, "0", "false"):
        return ApiError("the panel did not accept the cancel")
    return _unreadable(value)


__all__ = ["ANSWER_LIMIT", "ANSWER_LIMITS", "MAX_IDS", "Client", "ClientError", "parse_id"]
