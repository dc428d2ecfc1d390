"""FakeNOWPayments: NOWPayments invoices and IPNs as the panel uses them, served on 127.0.0.1 for tests.

Followed: NOWPayments' API documentation (the Postman collection it publishes) and its help
centre's IPN page.
- auth: the `x-api-key` header; a missing or wrong key -> 403
  `{"status": false, "statusCode": 403, "code": "INVALID_API_KEY", "message": "Invalid api key"}`;
- POST /v1/invoice (JSON: price_amount and price_currency required; order_id, order_description,
  ipn_callback_url, success_url, cancel_url, pay_currency optional) -> the invoice
  `{id, token_id, order_id, ..., invoice_url, created_at, updated_at}`; `invoice_url` is this
  fake's hosted page; bad fields -> 400 INVALID_REQUEST_PARAMS;
- GET /v1/payment/{payment_id} -> the payment (payment_id, invoice_id, payment_status,
  price_amount, price_currency, pay_amount, actually_paid, pay_currency, order_id,
  outcome_amount, ...); an unknown id -> 404 (the code word is our guess);
- GET /v1/payment/?invoiceId=... (the list) also needs `Authorization: Bearer <JWT>` from
  POST /v1/auth {email, password}, as documented; GET /v1/status -> {"message": "OK"};
- IPN: POST JSON to the invoice's ipn_callback_url (or `webhook_url` / `deliver`) with
  `x-nowpayments-sig` = hex HMAC-SHA512(IPN secret, the body re-serialised with its keys sorted,
  compact separators), as the docs' Python example computes it. The body itself is sent in the
  fake's field order, not sorted, so a receiver that signs the raw body fails as it would live.
  Amounts are JSON numbers: integers when whole (what a JavaScript sender writes), floats otherwise.

Payment statuses: waiting, confirming, confirmed, sending, partially_paid, finished, failed,
refunded, expired. Test controls: `pay(invoice_id, status="finished", actually_paid=...)`,
`expire(invoice_id)`, `refund(invoice_id)`, `event(invoice_id, ...)` -> (body, headers) signed
and NOT delivered.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.fake_gateways import FakeGateway, Request, Response

STATUSES = frozenset(
    {"waiting", "confirming", "confirmed", "sending", "partially_paid", "finished", "failed", "refunded", "expired"}
)
FEE = Decimal("0.005")  # the fake's service fee: outcome_amount = actually_paid - 0.5 %


def ipn_signature(data: dict[str, Any], secret: str) -> str:
    """x-nowpayments-sig: hex HMAC-SHA512 over json.dumps(data, sort_keys=True, separators=(",", ":"))."""
    message = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha512).hexdigest()


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, code: str, message: str) -> Response:
    return Response.json(status, {"status": False, "statusCode": status, "code": code, "message": message})


class FakeNOWPayments(FakeGateway):
    name = "nowpayments"

    def __init__(
        self,
        api_key: str = "FAKE0NP-0000000-0000000-0000000",
        ipn_secret: str = "fake-ipn-secret-0000000000000000",
        *,
        email: str = "owner@panel.test",
        password: str = "fake-password",
    ) -> None:
        super().__init__()
        self.api_key, self.ipn_secret = api_key, ipn_secret
        self.email, self.password = email, password
        self.invoices: dict[str, dict[str, Any]] = {}  # id -> invoice
        self.payments: dict[int, dict[str, Any]] = {}  # payment_id -> payment
        self._tokens: set[str] = set()
        self._next_id = 4_500_000_000 + secrets.randbelow(100_000_000)

    def settings(self) -> dict[str, str]:
        """The panel's settings that point it at this fake."""
        return {
            "NOWPAYMENTS_API_BASE": self.base_url,
            "NOWPAYMENTS_API_KEY": self.api_key,
            "NOWPAYMENTS_IPN_SECRET": self.ipn_secret,
        }

    def _new_id(self) -> int:
        self._next_id += 1 + secrets.randbelow(1000)
        return self._next_id

    # --- HTTP ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/pay/"):
            return self._checkout_page(request)
        with self.lock:
            self.requests.append(request)
        path = request.path.rstrip("/")
        if path == "/v1/status":
            return Response.json(200, {"message": "OK"})
        if path == "/v1/auth" and request.method == "POST":
            return self._auth(request)
        key = request.header("x-api-key") or ""
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return _error(403, "INVALID_API_KEY", "Invalid api key")
        with self.lock:
            if path == "/v1/invoice" and request.method == "POST":
                return self._create_invoice(request)
            if path == "/v1/payment" and request.method == "GET":
                return self._list_payments(request)
            if path.startswith("/v1/payment/") and request.method == "GET":
                payment = self.payments.get(int(p)) if (p := path.rsplit("/", 1)[1]).isdigit() else None
                if payment is None:
                    return _error(404, "NOT_FOUND", "Payment not found")
                return Response.json(200, payment)
        return _error(404, "NOT_FOUND", f"Cannot {request.method} {request.path}")

    def _auth(self, request: Request) -> Response:
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            data = {}
        if not isinstance(data, dict) or (data.get("email"), data.get("password")) != (self.email, self.password):
            return _error(401, "INVALID_CREDENTIALS", "Invalid email or password")
        token = secrets.token_urlsafe(32)
        with self.lock:
            self._tokens.add(token)
        return Response.json(200, {"token": token})

    def _create_invoice(self, request: Request) -> Response:
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return _error(400, "INVALID_REQUEST_PARAMS", "Invalid JSON")
        if not isinstance(data, dict):
            return _error(400, "INVALID_REQUEST_PARAMS", "Invalid JSON")
        for name in ("price_amount", "price_currency"):
            if data.get(name) in (None, ""):
                return _error(400, "INVALID_REQUEST_PARAMS", f'"{name}" is required')
        try:
            price = Decimal(str(data["price_amount"]))
        except InvalidOperation:
            price = Decimal(-1)
        if isinstance(data["price_amount"], bool) or price <= 0:
            return _error(400, "INVALID_REQUEST_PARAMS", '"price_amount" must be a positive number')
        invoice_id = str(self._new_id())
        now = _now_iso()
        invoice = {
            "id": invoice_id,
            "token_id": secrets.token_urlsafe(7),
            "order_id": data.get("order_id"),
            "order_description": data.get("order_description"),
            "price_amount": str(data["price_amount"]),
            "price_currency": str(data["price_currency"]).lower(),
            "pay_currency": data.get("pay_currency"),
            "ipn_callback_url": data.get("ipn_callback_url"),
            "invoice_url": f"{self.base_url}/pay/{invoice_id}",
            "success_url": data.get("success_url"),
            "cancel_url": data.get("cancel_url"),
            "created_at": now,
            "updated_at": now,
        }
        self.invoices[invoice_id] = invoice
        return Response.json(200, invoice)

    def _list_payments(self, request: Request) -> Response:
        auth = request.header("Authorization") or ""
        if not auth.startswith("Bearer ") or auth[len("Bearer ") :] not in self._tokens:
            return _error(401, "AUTH_REQUIRED", "Authorization header is empty (Bearer JWTtoken is required)")
        query = dict(request.query)
        try:
            limit = max(1, min(500, int(query.get("limit", 10))))
            page = max(0, int(query.get("page", 0)))
        except ValueError:
            return _error(400, "INVALID_REQUEST_PARAMS", '"limit" and "page" must be numbers')
        found = [p for p in self.payments.values() if query.get("invoiceId") in (None, str(p["invoice_id"]))]
        if query.get("orderBy", "asc") == "desc":
            found.reverse()
        return Response.json(
            200,
            {
                "data": found[page * limit : (page + 1) * limit],
                "limit": limit,
                "page": page,
                "pagesCount": (len(found) + limit - 1) // limit,
                "total": len(found),
            },
        )

    def invoice(self, invoice_id: str | int) -> dict[str, Any]:
        with self.lock:
            if str(invoice_id) not in self.invoices:
                raise KeyError(f"no NOWPayments invoice {invoice_id}")
            return self.invoices[str(invoice_id)]

    def payment_for(self, invoice_id: str | int) -> dict[str, Any] | None:
        """The invoice's latest payment, once the customer started one."""
        with self.lock:
            mine = [p for p in self.payments.values() if str(p["invoice_id"]) == str(invoice_id)]
            return mine[-1] if mine else None

    # --- test controls ------------------------------------------------------------------

    def pay(
        self,
        invoice_id: str | int,
        status: str = "finished",
        *,
        actually_paid: Decimal | str | None = None,
        price_currency: str | None = None,
        pay_currency: str = "usdttrc20",
    ) -> dict[str, Any]:
        """The invoice's payment moves to `status` (created on the first call) and the IPN goes.

        `actually_paid`: in pay_currency, which the fake prices 1:1 with the invoice's currency
        (default: the full price for finished/confirmed/sending, 0 for waiting/expired);
        `price_currency` overrides the currency the IPN reports. Returns the IPN data sent.
        """
        if status not in STATUSES:
            raise ValueError(f"unknown NOWPayments status {status!r}")
        with self.lock:
            invoice = self.invoice(invoice_id)
            payment = self.payment_for(invoice_id) or self._start_payment(invoice, pay_currency)
            price = Decimal(invoice["price_amount"])
            if actually_paid is not None:
                paid = Decimal(str(actually_paid))
            elif status in ("waiting", "expired", "failed"):
                paid = Decimal(str(payment["actually_paid"]))
            else:
                paid = price
            payment.update(
                payment_status=status,
                actually_paid=_number(paid),
                actually_paid_at_fiat=_number(paid),
                outcome_amount=_number((paid * (1 - FEE)).quantize(Decimal("0.000001"))),
                updated_at=_now_iso(),
            )
            if price_currency:
                payment["price_currency"] = price_currency
            data = self._ipn_data(payment)
        self._send(invoice, data)
        return data

    def expire(self, invoice_id: str | int) -> dict[str, Any]:
        """Nothing (or too little) arrived in time: the payment is expired."""
        return self.pay(invoice_id, "expired")

    def refund(self, invoice_id: str | int) -> dict[str, Any]:
        return self.pay(invoice_id, "refunded")

    def _start_payment(self, invoice: dict[str, Any], pay_currency: str) -> dict[str, Any]:
        price = Decimal(invoice["price_amount"])
        payment_id = self._new_id()
        now = _now_iso()
        payment = {
            "payment_id": payment_id,
            "invoice_id": int(invoice["id"]),
            "payment_status": "waiting",
            "pay_address": "TNDFkiSmBQorNFacb3735q8MnT29sn8BLn",
            "payin_extra_id": None,
            "price_amount": _number(price),
            "price_currency": invoice["price_currency"],
            "pay_amount": _number(price),
            "actually_paid": 0,
            "actually_paid_at_fiat": 0,
            "pay_currency": invoice["pay_currency"] or pay_currency,
            "order_id": invoice["order_id"],
            "order_description": invoice["order_description"],
            "purchase_id": str(self._new_id()),
            "outcome_amount": 0,
            "outcome_currency": "usdttrc20",
            "created_at": now,
            "updated_at": now,
        }
        self.payments[payment_id] = payment
        return payment

    def _ipn_data(self, payment: dict[str, Any]) -> dict[str, Any]:
        data = dict(payment)
        data["fee"] = {"currency": data["outcome_currency"], "depositFee": 0, "serviceFee": 0, "withdrawalFee": 0}
        data["parent_payment_id"] = None
        data["payment_extra_ids"] = None
        data["updated_at"] = int(time.time() * 1000)  # the IPN carries a millisecond timestamp
        return data

    def event(
        self, invoice_id: str | int, status: str = "finished", *, secret: str | None = None, **fields: Any
    ) -> tuple[bytes, dict[str, str]]:
        """An IPN for the invoice's payment as it would be sent, NOT delivered: (body, headers).

        `fields` override the data before signing (e.g. actually_paid=5); `secret` signs with
        another IPN secret (a forgery). The invoice needs a payment (a `pay(...)` call) first.
        """
        with self.lock:
            payment = self.payment_for(invoice_id)
            if payment is None:
                raise ValueError(f"invoice {invoice_id} has no payment yet: call pay() first")
            data = dict(self._ipn_data(payment), payment_status=status, **fields)
        return self.encode(data, secret=secret)

    def encode(self, data: dict[str, Any], *, secret: str | None = None) -> tuple[bytes, dict[str, str]]:
        """An IPN's body (in field order, not sorted) and headers with its x-nowpayments-sig."""
        body = json.dumps(data, separators=(",", ":")).encode()
        sig = ipn_signature(data, self.ipn_secret if secret is None else secret)
        return body, {"Content-Type": "application/json", "x-nowpayments-sig": sig}

    def _send(self, invoice: dict[str, Any], data: dict[str, Any]) -> None:
        body, headers = self.encode(data)
        self.send_webhook(body, headers, url=invoice["ipn_callback_url"])

    # --- the hosted invoice page --------------------------------------------------------

    def _checkout_page(self, request: Request) -> Response:
        invoice_id = request.path[len("/pay/") :].strip("/")
        with self.lock:
            invoice = self.invoices.get(invoice_id)
        if invoice is None:
            return Response.html(404, "<h1>Invoice not found</h1>")
        payment = self.payment_for(invoice_id)
        done = payment is not None and payment["payment_status"] in ("finished", "failed", "refunded", "expired")
        if done:
            return Response.html(409, f"<h1>This invoice is {html.escape(payment['payment_status'])}</h1>")
        if request.method == "POST":
            self.pay(invoice_id)
            target = invoice["success_url"]
            return Response.redirect(target) if target else Response.html(200, "<h1>Paid</h1>")
        amount = f"{invoice['price_amount']} {invoice['price_currency'].upper()}"
        back = invoice["cancel_url"]
        link = f'<p><a id="cancel" href="{html.escape(back)}">Cancel</a></p>' if back else ""
        return Response.html(
            200,
            f"""<!doctype html><html><head><meta charset="utf-8"><title>Fake NOWPayments</title></head>
<body><h1>Fake NOWPayments</h1><p>Pay <strong id="amount">{html.escape(amount)}</strong></p>
<form method="post" action="/pay/{html.escape(invoice_id)}"><button type="submit" id="pay">Pay</button></form>
{link}</body></html>""",
        )
