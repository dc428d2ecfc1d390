"""Requests to a gateway's API (the crypto kinds): a deadline on each, and at most so much of an answer read.

A gateway is someone else's server: it may stall or answer with anything.
Every request here ends within PAYMENTS_HTTP_TIMEOUT seconds and reads at
most PAYMENTS_HTTP_MAX_BYTES of the answer; anything wrong (network, a non-2xx
status, a body that is not a JSON object) is GatewayDown, for the caller to
try again later.
"""

import json
import time

import httpx
from django.conf import settings

from smmpanel.payments.kinds.base import GatewayDown


def _read_capped(response: httpx.Response, limit: int, deadline: float) -> bytes:
    """The body, refused past `limit` bytes or past the deadline (httpx's timeout is per read: a trickle passes it)."""
    body = b""
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise GatewayDown(f"answer larger than {limit} bytes")
        if time.monotonic() > deadline:
            raise GatewayDown("answer not complete within the deadline")
    return body


def request_json(method: str, url: str, *, headers: dict, content: bytes | None = None, what: str) -> dict:
    """One request; the answer's JSON object. GatewayDown for anything else (its words say what went wrong)."""
    timeout = settings.PAYMENTS_HTTP_TIMEOUT
    deadline = time.monotonic() + timeout
    try:
        with httpx.Client(timeout=timeout) as client, client.stream(method, url, headers=headers, content=content) as r:
            body = _read_capped(r, settings.PAYMENTS_HTTP_MAX_BYTES, deadline)
            status = r.status_code
    except httpx.HTTPError as e:
        raise GatewayDown(f"{what}: {type(e).__name__}") from None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not 200 <= status < 300:
        said = answer.get("message") if isinstance(answer, dict) else None
        raise GatewayDown(f"{what} answered HTTP {status}" + (f": {str(said)[:200]}" if said else ""))
    if not isinstance(answer, dict):
        raise GatewayDown(f"{what} answered something other than a JSON object")
    return answer
