"""FakeStripe: Stripe Checkout as the panel uses it, served on 127.0.0.1 for tests.

What it answers, as Stripe's API reference documents it (API version `API_VERSION`, the one
stripe-python 16 pins):
- auth: `Authorization: Bearer <secret key>` (or HTTP Basic with the key as user name, which
  Stripe also accepts); a missing or wrong key -> 401 with Stripe's error JSON;
- POST /v1/checkout/sessions (form-encoded, nested keys such as
  `line_items[0][price_data][unit_amount]`), GET /v1/checkout/sessions/{id},
  POST /v1/checkout/sessions/{id}/expire, GET /v1/payment_intents/{id}, GET /v1/charges/{id},
  GET /v1/disputes/{id}, GET /v1/events/{id}, GET /v1/events (newest first, `type`, `limit`);
  `expand[]` of session.payment_intent and payment_intent.latest_charge;
- `Idempotency-Key` on POST: the same key and body replays the first answer
  (`Idempotent-Replayed: true`), the same key with another body -> 400 idempotency_error;
- errors: `{"error": {"type", "code", "message", "param", "doc_url"}}`, 404 for an unknown id.
- the hosted checkout page GET /pay/{session id}: a "Pay" button (form POST) that pays, delivers
  the webhook and 303-redirects to the session's success_url (`{CHECKOUT_SESSION_ID}` replaced,
  as Stripe does); a cancel link to cancel_url.

Since API version 2022-08-01 a payment-mode session has no PaymentIntent until the customer
pays: `payment_intent` is null until `pay()`.

Test controls: `pay(id)`, `pay(id, async_=True)` then `settle_async(id, ok=...)`, `expire(id)`,
`refund(id, amount=None)`, `dispute(id)`, `event(type, obj)` -> (body, headers) signed and NOT
delivered, `sign(body, ...)` to re-sign with another secret/timestamp. Webhooks go to the
endpoint (`webhook_url` or `deliver`, see tests/fake_gateways/__init__.py), only for the types in
`enabled_events` (a Stripe endpoint receives only the events it was set up for).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import string
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tests.fake_gateways import Delivery, FakeGateway, Request, Response

API_VERSION = "2026-10-28.endive"  # stripe-python 16.1's stripe._api_version.CURRENT

# The events the panel's README tells an owner to enable on the endpoint.
PANEL_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
        "charge.refunded",
        "charge.dispute.created",
    }
)

DOC = "https://stripe.com/docs/error-codes/"

# Checkout Session create's documented parameters: anything else is refused, as Stripe refuses it.
SESSION_PARAMS = frozenset(
    [
        "adaptive_pricing",
        "after_expiration",
        "allow_promotion_codes",
        "automatic_tax",
        "billing_address_collection",
        "cancel_url",
        "client_reference_id",
        "consent_collection",
        "currency",
        "custom_fields",
        "custom_text",
        "customer",
        "customer_creation",
        "customer_email",
        "customer_update",
        "discounts",
        "expand",
        "expires_at",
        "invoice_creation",
        "line_items",
        "locale",
        "metadata",
        "mode",
        "optional_items",
        "payment_intent_data",
        "payment_method_collection",
        "payment_method_configuration",
        "payment_method_data",
        "payment_method_options",
        "payment_method_types",
        "permissions",
        "phone_number_collection",
        "redirect_on_completion",
        "return_url",
        "saved_payment_method_options",
        "setup_intent_data",
        "shipping_address_collection",
        "shipping_options",
        "submit_type",
        "subscription_data",
        "success_url",
        "tax_id_collection",
        "ui_mode",
        "wallet_options",
    ]
)
_ALNUM = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def form_decode(body: bytes | str) -> dict[str, Any]:
    """Stripe's form encoding -> nested dicts and lists (`a[0][b]=1&a[0][c]=2&m[k]=v&expand[]=x`)."""
    text = body.decode() if isinstance(body, bytes) else body
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        head, _, rest = key.partition("[")
        parts = [head] + ([p.rstrip("]") for p in ("[" + rest).split("[")[1:]] if rest else [])
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # `expand[]=x`: append
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    node = {k: _listify(v) for k, v in node.items()}
    if node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


def sign_payload(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: t=<unix time>,v1=<hex HMAC-SHA256(secret, "t.payload")>."""
    t = int(time.time()) if timestamp is None else timestamp
    text = payload.decode() if isinstance(payload, bytes) else payload
    digest = hmac.new(secret.encode(), f"{t}.{text}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.param, self.type = status, code, param, type_

    def response(self) -> Response:
        error: dict[str, Any] = {"message": str(self), "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = DOC + self.code
        if self.param:
            error["param"] = self.param
        return Response.json(self.status, {"error": error}, **{"Request-Id": new_id("req_", 14)})


class FakeStripe(FakeGateway):
    name = "stripe"

    def __init__(
        self,
        secret_key: str = "sk_test_fakepanel0000000000000000",
        webhook_secret: str = "whsec_fakepanel000000000000000000",
        *,
        enabled_events: frozenset[str] | set[str] = PANEL_EVENTS,
    ) -> None:
        super().__init__()
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.enabled_events = set(enabled_events)  # "*" receives every type
        self.checkout_async = False  # the Pay button starts an async payment (settles later)
        self.sessions: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._idempotency: dict[str, tuple[bytes, Response]] = {}
        self._intent_metadata: dict[str, dict[str, str]] = {}  # session id -> payment_intent_data[metadata]

    def settings(self) -> dict[str, str]:
        """The panel's settings that point it at this fake."""
        return {
            "STRIPE_API_BASE": self.base_url,
            "STRIPE_SECRET_KEY": self.secret_key,
            "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
        }

    # --- HTTP ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/pay/"):
            return self._checkout_page(request)
        with self.lock:
            self.requests.append(request)
        outbox: list[dict[str, Any]] = []  # events this request caused, delivered once it let go of the lock
        try:
            self._authenticate(request)
            if request.method == "POST":
                return self._idempotent(request, outbox)
            return self._route(request, form_decode(_query_string(request)), outbox)
        except StripeError as exc:
            return exc.response()
        finally:
            self._deliver(*outbox)

    def _authenticate(self, request: Request) -> None:
        auth = request.header("Authorization") or ""
        key = ""
        if auth.startswith("Bearer "):
            key = auth[len("Bearer ") :].strip()
        elif auth.startswith("Basic "):
            try:
                key = base64.b64decode(auth[len("Basic ") :]).decode().partition(":")[0]
            except ValueError:
                key = ""
        if not key:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#"
                "authentication for details, or we can help at https://support.stripe.com/.",
            )
        if not hmac.compare_digest(key.encode(), self.secret_key.encode()):
            shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else "*" * len(key)
            raise StripeError(401, f"Invalid API Key provided: {shown}")

    def _idempotent(self, request: Request, outbox: list[dict[str, Any]]) -> Response:
        key = request.header("Idempotency-Key")
        if key:
            with self.lock:
                seen = self._idempotency.get(key)
            if seen is not None:
                body, answer = seen
                if body != request.body:
                    raise StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they were first "
                        f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
                        type_="idempotency_error",
                    )
                return Response(answer.status, answer.body, {**answer.headers, "Idempotent-Replayed": "true"})
        answer = self._route(request, form_decode(request.body), outbox)
        if key and answer.status < 500:
            with self.lock:
                self._idempotency.setdefault(key, (request.body, answer))
        return answer

    def _route(self, request: Request, params: dict[str, Any], outbox: list[dict[str, Any]]) -> Response:
        parts = request.path.strip("/").split("/")
        expand = params.get("expand") or []
        get = request.method == "GET"
        with self.lock:
            if parts == ["v1", "checkout", "sessions"] and request.method == "POST":
                return self._ok(self._create_session(params), expand)
            if parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 4 and get:
                return self._ok(self._get(self.sessions, parts[3], "checkout.session", "session"), expand)
            if parts[:3] == ["v1", "checkout", "sessions"] and parts[4:] == ["expire"] and not get:
                session = self._get(self.sessions, parts[3], "checkout.session", "session")
                if session["status"] != "open":
                    raise StripeError(
                        400,
                        f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session '
                        f'has a status of "{session["status"]}".',
                        code="checkout_session_not_open",  # hedged: Stripe's exact code here is not documented
                    )
                outbox.append(self._expire(session))
                return self._ok(session, expand)
            if parts[:2] == ["v1", "payment_intents"] and len(parts) == 3 and get:
                return self._ok(self._get(self.payment_intents, parts[2], "payment_intent", "intent"), expand)
            if parts[:2] == ["v1", "charges"] and len(parts) == 3 and get:
                return self._ok(self._get(self.charges, parts[2], "charge", "charge"), expand)
            if parts[:2] == ["v1", "disputes"] and len(parts) == 3 and get:
                return self._ok(self._get(self.disputes, parts[2], "dispute", "dispute"), expand)
            if parts[:2] == ["v1", "events"] and len(parts) == 3 and get:
                by_id = {e["id"]: e for e in self.events}
                return self._ok(self._get(by_id, parts[2], "event", "id"), [])
            if parts == ["v1", "events"] and get:
                return self._ok(self._list_events(params), [])
        raise StripeError(404, f"Unrecognized request URL ({request.method}: {request.path}).")

    def _ok(self, obj: dict[str, Any], expand: list[str]) -> Response:
        return Response.json(
            200,
            self._expanded(obj, expand),
            **{"Request-Id": new_id("req_", 14), "Stripe-Version": API_VERSION},
        )

    def _expanded(self, obj: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        out = json.loads(json.dumps(obj))  # a copy: later changes must not show in an old answer
        for path in expand:
            head, _, rest = path.partition(".")
            value = out.get(head)
            table = {"payment_intent": self.payment_intents, "latest_charge": self.charges, "charge": self.charges}
            if isinstance(value, str) and head in table and value in table[head]:
                out[head] = self._expanded(table[head][value], [rest] if rest else [])
        return out

    @staticmethod
    def _get(table: dict[str, dict[str, Any]], object_id: str, kind: str, param: str) -> dict[str, Any]:
        if object_id not in table:
            raise StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)
        return table[object_id]

    def _list_events(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            limit = max(1, min(100, int(params.get("limit", 10))))
        except ValueError:
            raise StripeError(400, "Invalid integer: limit", param="limit") from None
        events = [e for e in reversed(self.events) if params.get("type") in (None, e["type"])]
        if params.get("starting_after"):
            ids = [e["id"] for e in events]
            start = ids.index(params["starting_after"]) + 1 if params["starting_after"] in ids else len(ids)
            events = events[start:]
        return {"object": "list", "url": "/v1/events", "has_more": len(events) > limit, "data": events[:limit]}

    # --- Checkout Sessions ----------------------------------------------------------------

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - SESSION_PARAMS)
        if unknown:
            raise StripeError(400, f"Received unknown parameter: {unknown[0]}", param=unknown[0])
        for name in ("success_url", "cancel_url"):
            if params.get(name) is not None and not re.match(r"^https?://[^\s/]+", str(params[name])):
                raise StripeError(400, "Not a valid URL", code="url_invalid", param=name)
        mode = params.get("mode")
        if not mode:
            raise StripeError(400, "Missing required param: mode.", code="parameter_missing", param="mode")
        if mode != "payment":
            raise StripeError(400, f"The fake supports mode=payment only, not {mode!r}.", param="mode")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise StripeError(
                400,
                "You must provide at least one line item (`line_items`) in `payment` mode.",
                code="parameter_missing",
                param="line_items",
            )
        total, currency = 0, None
        for i, item in enumerate(items):
            price = item.get("price_data") if isinstance(item, dict) else None
            if not isinstance(price, dict):
                # A saved Price (`line_items[i][price]=price_...`) is not something the panel uses.
                raise StripeError(400, "Missing required param: line_items[{i}][price_data].", param=f"line_items[{i}]")
            amount = _int_param(price.get("unit_amount"), f"line_items[{i}][price_data][unit_amount]")
            quantity = _int_param(item.get("quantity", "1"), f"line_items[{i}][quantity]")
            cur = str(price.get("currency") or "").lower()
            if not cur:
                raise StripeError(
                    400,
                    f"Missing required param: line_items[{i}][price_data][currency].",
                    code="parameter_missing",
                    param=f"line_items[{i}][price_data][currency]",
                )
            if not price.get("product") and not (price.get("product_data") or {}).get("name"):
                raise StripeError(
                    400,
                    f"Missing required param: line_items[{i}][price_data][product_data][name].",
                    code="parameter_missing",
                    param=f"line_items[{i}][price_data][product_data][name]",
                )
            if amount < 0 or quantity < 1:
                raise StripeError(400, "Invalid amount or quantity.", param=f"line_items[{i}]")
            if currency not in (None, cur):
                raise StripeError(400, "All line items must use the same currency.", param="line_items")
            currency = cur
            total += amount * quantity
        if total < 50:
            # Stripe's minimum charge is 0.50 USD (and about that in other currencies).
            raise StripeError(
                400,
                f"The Checkout Session's total amount due must add up to at least $0.50 {currency}",
                code="amount_too_small",
            )
        metadata = _metadata(params.get("metadata"), "metadata")
        intent_data = params.get("payment_intent_data") or {}
        if not isinstance(intent_data, dict):
            raise StripeError(400, "Invalid object", param="payment_intent_data")
        intent_metadata = _metadata(intent_data.get("metadata"), "payment_intent_data[metadata]")
        now = int(time.time())
        expires_at = _int_param(params.get("expires_at", now + 24 * 3600), "expires_at")
        if not now + 30 * 60 - 60 <= expires_at <= now + 24 * 3600 + 60:
            # Documented: 30 minutes to 24 hours after creation (a minute's slack for clocks).
            raise StripeError(
                400, "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.", param="expires_at"
            )
        session_id = new_id("cs_test_", 58)
        self._intent_metadata[session_id] = intent_metadata
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer": None,
            "customer_email": params.get("customer_email"),
            "expires_at": expires_at,
            "livemode": False,
            "metadata": metadata,
            "mode": "payment",
            "payment_intent": None,
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params.get("success_url"),
            "ui_mode": "hosted",
            "url": f"{self.base_url}/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return session

    def session(self, session_id: str) -> dict[str, Any]:
        with self.lock:
            return self._get(self.sessions, session_id, "checkout.session", "session")

    # --- test controls ------------------------------------------------------------------

    def pay(self, session_id: str, *, async_: bool = False) -> dict[str, Any]:
        """The customer pays: session complete; paid now, or (async_) paid later by settle_async()."""
        with self.lock:
            session = self.session(session_id)
            if session["status"] != "open":
                raise ValueError(f"session {session_id} is {session['status']}, not open")
            amount, currency = session["amount_total"], session["currency"]
            intent_id, charge_id = new_id("pi_"), new_id("ch_")
            now = int(time.time())
            intent = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": amount,
                "amount_received": 0 if async_ else amount,
                "created": now,
                "currency": currency,
                "latest_charge": charge_id,
                "livemode": False,
                "metadata": self._intent_metadata.get(session_id, {}),
                "status": "processing" if async_ else "succeeded",
            }
            charge = {
                "id": charge_id,
                "object": "charge",
                "amount": amount,
                "amount_captured": amount,
                "amount_refunded": 0,
                "captured": True,
                "created": now,
                "currency": currency,
                "disputed": False,
                "livemode": False,
                "metadata": {},
                "paid": not async_,
                "payment_intent": intent_id,
                "refunded": False,
                "status": "pending" if async_ else "succeeded",
            }
            self.payment_intents[intent_id], self.charges[charge_id] = intent, charge
            # `url` is only present while the session is open, as Stripe documents.
            session.update(
                status="complete", url=None, payment_intent=intent_id, payment_status="unpaid" if async_ else "paid"
            )
            completed = self._record("checkout.session.completed", session)
            extra = [] if async_ else [self._record("payment_intent.succeeded", intent)]
        self._deliver(completed, *extra)
        return session

    def settle_async(self, session_id: str, *, ok: bool = True) -> dict[str, Any]:
        """The delayed payment method settles (or fails): async_payment_succeeded / _failed."""
        with self.lock:
            session = self.session(session_id)
            if session["status"] != "complete" or session["payment_status"] != "unpaid":
                raise ValueError(f"session {session_id} has no payment waiting to settle")
            intent = self.payment_intents[session["payment_intent"]]
            charge = self.charges[intent["latest_charge"]]
            if ok:
                session["payment_status"] = "paid"
                intent.update(status="succeeded", amount_received=intent["amount"])
                charge.update(status="succeeded", paid=True)
                event = self._record("checkout.session.async_payment_succeeded", session)
            else:
                intent["status"] = "requires_payment_method"
                charge["status"] = "failed"
                event = self._record("checkout.session.async_payment_failed", session)
        self._deliver(event)
        return session

    def expire(self, session_id: str) -> dict[str, Any]:
        with self.lock:
            session = self.session(session_id)
            if session["status"] != "open":
                raise ValueError(f"session {session_id} is {session['status']}, not open")
            event = self._expire(session)
        self._deliver(event)
        return session

    def _expire(self, session: dict[str, Any]) -> dict[str, Any]:
        session.update(status="expired", url=None)
        return self._record("checkout.session.expired", session)

    def charge_for(self, session_id: str) -> dict[str, Any]:
        """The Charge of a paid session (e.g. to build a charge.refunded event by hand)."""
        with self.lock:
            return self._paid_charge(session_id)

    def _paid_charge(self, session_id: str) -> dict[str, Any]:
        session = self.session(session_id)
        if not session["payment_intent"]:
            raise ValueError(f"session {session_id} was not paid")
        return self.charges[self.payment_intents[session["payment_intent"]]["latest_charge"]]

    def refund(self, session_id: str, amount: int | None = None) -> dict[str, Any]:
        """Refund `amount` cents (all that is left when None): charge.refunded with the Charge."""
        with self.lock:
            charge = self._paid_charge(session_id)
            left = charge["amount"] - charge["amount_refunded"]
            amount = left if amount is None else amount
            if not 0 < amount <= left:
                raise ValueError(f"cannot refund {amount}: {left} left on {charge['id']}")
            before = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            event = self._record("charge.refunded", charge, previous=before)
        self._deliver(event)
        return charge

    def dispute(self, session_id: str, amount: int | None = None, reason: str = "fraudulent") -> dict[str, Any]:
        """The cardholder disputes the charge: charge.dispute.created with the Dispute."""
        with self.lock:
            charge = self._paid_charge(session_id)
            charge["disputed"] = True
            dispute = {
                "id": new_id("dp_"),
                "object": "dispute",
                "amount": charge["amount"] if amount is None else amount,
                "balance_transactions": [],
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": charge["currency"],
                "evidence_details": {"due_by": int(time.time()) + 7 * 86400, "has_evidence": False},
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "status": "needs_response",
            }
            self.disputes[dispute["id"]] = dispute
            event = self._record("charge.dispute.created", dispute)
        self._deliver(event)
        return dispute

    # --- events and signatures ----------------------------------------------------------

    def _event(self, type_: str, obj: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"object": json.loads(json.dumps(obj))}
        if previous:
            data["previous_attributes"] = previous
        return {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
        }

    def _record(self, type_: str, obj: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
        event = self._event(type_, obj, previous)
        self.events.append(event)
        return event

    def _deliver(self, *events: dict[str, Any]) -> None:
        for event in events:
            if "*" in self.enabled_events or event["type"] in self.enabled_events:
                body, headers = self.signed(event)
                self.send_webhook(body, headers)

    def signed(self, event: dict[str, Any], *, secret: str | None = None, timestamp: int | None = None):
        """An event as Stripe posts it: (body bytes, headers) with a Stripe-Signature over the body."""
        body = json.dumps(event, indent=2).encode()  # Stripe posts pretty-printed JSON
        return body, self.headers(body, secret=secret, timestamp=timestamp)

    def headers(self, body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> dict[str, str]:
        return {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": self.sign(body, secret=secret, timestamp=timestamp),
        }

    def sign(self, body: bytes | str, *, secret: str | None = None, timestamp: int | None = None) -> str:
        return sign_payload(body, self.webhook_secret if secret is None else secret, timestamp)

    def retry_headers(self, delivery: Delivery) -> dict[str, str]:
        # Stripe signs each attempt anew: a retry carries the time it was sent.
        return self.headers(delivery.body)

    def event(
        self, type_: str, obj: dict[str, Any] | str, *, secret: str | None = None, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A correctly signed event that is NOT delivered: (body, headers) for the test to send.

        `obj` is the data.object, or a session id (its current state). Recorded in `events`, so
        GET /v1/events lists it as Stripe would have.
        """
        with self.lock:
            if isinstance(obj, str):
                obj = self.session(obj)
            event = self._record(type_, obj)
        return self.signed(event, secret=secret, timestamp=timestamp)

    # --- the hosted checkout page -------------------------------------------------------

    def _checkout_page(self, request: Request) -> Response:
        session_id = request.path[len("/pay/") :].strip("/")
        with self.lock:
            session = self.sessions.get(session_id)
        if session is None:
            return Response.html(404, "<h1>Something went wrong</h1><p>This checkout session does not exist.</p>")
        if request.method == "POST":
            try:
                self.pay(session_id, async_=self.checkout_async)
            except ValueError:
                return Response.html(409, f"<h1>This checkout session is {html.escape(session['status'])}</h1>")
            target = (session["success_url"] or "").replace("{CHECKOUT_SESSION_ID}", session_id)
            return Response.redirect(target) if target else Response.html(200, "<h1>Payment complete</h1>")
        if session["status"] != "open":
            return Response.html(410, f"<h1>This checkout session is {html.escape(session['status'])}</h1>")
        amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
        cancel = session["cancel_url"]
        back = f'<p><a id="cancel" href="{html.escape(cancel)}">Back</a></p>' if cancel else ""
        return Response.html(
            200,
            f"""<!doctype html><html><head><meta charset="utf-8"><title>Fake Stripe Checkout</title></head>
<body><h1>Fake Stripe Checkout</h1><p>Pay <strong id="amount">{html.escape(amount)}</strong></p>
<form method="post" action="/pay/{html.escape(session_id)}"><button type="submit" id="pay">Pay</button></form>
{back}</body></html>""",
        )


def _query_string(request: Request) -> str:
    return urlencode(request.query)


def _metadata(value: Any, param: str) -> dict[str, str]:
    """Stripe's metadata limits: at most 50 keys, keys up to 40 characters, values up to 500."""
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise StripeError(400, "Invalid object", param=param)
    if len(value) > 50 or any(len(k) > 40 or len(str(v)) > 500 for k, v in value.items()):
        raise StripeError(400, "Metadata exceeds Stripe's limits (50 keys, 40/500 characters).", param=param)
    return {k: str(v) for k, v in value.items()}


def _int_param(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", param=param) from None
