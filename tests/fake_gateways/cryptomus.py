"""FakeCryptomus: Cryptomus invoices as the panel uses them, served on 127.0.0.1 for tests.

Followed: doc.cryptomus.com (request format, creating an invoice, payment information, webhook).
- Every request is JSON, signed by two headers: `merchant` (the merchant's uuid) and
  `sign` = md5(base64(json body) + payment API key); an empty body signs the empty string.
  The real API checks the sign against PHP's json_encode of the body it decoded (a client that
  signs `https://` unescaped gets "Invalid Sign.", as reported against a client library where
  url_* fields broke the sign), so the fake re-encodes the decoded body the PHP way
  (`php_json_encode`) and accepts either of PHP's unicode modes. A bad or missing sign or an
  unknown merchant -> 401 `{"message": "Invalid Sign."}` (the message seen from the real API;
  the status code is our reading).
- POST /v1/payment: amount, currency, order_id (alpha_dash, 1-128) required; url_return,
  url_success, url_callback (6-255, a URL), lifetime (300-43200 s, default 3600) optional.
  Validation errors -> 422 `{"state": 1, "errors": {field: ["validation.<rule>"]}}`. An
  order_id already used returns that invoice (documented), no new one.
  -> `{"state": 0, "result": {uuid, order_id, amount, payment_amount, payer_amount, ..., url,
  expired_at, status, payment_status, is_final, ...}}`; `url` is this fake's hosted page.
- POST /v1/payment/info with uuid or order_id (order_id wins when both, as documented).
- Webhook: POST JSON to the invoice's url_callback (or `webhook_url` / `deliver`), fields as the
  webhook page lists them plus `sign` = md5(base64(json_encode(data without sign,
  JSON_UNESCAPED_UNICODE)) + payment key): slashes escaped `\\/`, unicode left as UTF-8.

Test controls: `pay(uuid, status="paid", amount=..., currency=...)`, `expire(uuid)`,
`refund(uuid)`, `event(uuid, ...)` -> (body, headers) signed and NOT delivered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import time
import uuid as uuidlib
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.fake_gateways import FakeGateway, Request, Response

FINAL = frozenset(
    {"paid", "paid_over", "wrong_amount", "fail", "cancel", "system_fail", "refund_paid", "refund_fail", "locked"}
)
NOT_FINAL = frozenset({"check", "process", "confirm_check", "wrong_amount_waiting", "refund_process"})
COMMISSION = Decimal("0.02")  # the fake's merchant commission: merchant_amount = paid - 2 %
_ALPHA_DASH = re.compile(r"^[A-Za-z0-9_-]+$")


def php_json_encode(value: Any, *, unescaped_unicode: bool = True) -> str:
    """What PHP's json_encode writes for a value decoded from JSON (json_decode(..., true)).

    PHP escapes "/" as "\\/" (no JSON_UNESCAPED_SLASHES), escapes non-ASCII as \\uXXXX unless
    JSON_UNESCAPED_UNICODE (and then still U+2028/U+2029), writes no spaces, and an empty
    array (what `{}` decodes to) as `[]`. Floats: PHP >= 7.1 writes the shortest round-trip
    form, as Python's repr does, for the values a payment carries.
    """
    text = json.dumps(_php_arrays(value), ensure_ascii=not unescaped_unicode, separators=(",", ":"))
    if unescaped_unicode:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.replace("/", "\\/")  # "/" occurs only inside strings in JSON


def _php_arrays(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _php_arrays(v) for k, v in value.items()} if value else []
    if isinstance(value, list):
        return [_php_arrays(v) for v in value]
    return value


def sign_body(body: bytes | str, key: str) -> str:
    """The request `sign` header: md5(base64(body) + key), hex."""
    raw = body.encode() if isinstance(body, str) else body
    return hashlib.md5(base64.b64encode(raw) + key.encode()).hexdigest()  # Cryptomus' scheme, not ours to choose


def sign_webhook(data: dict[str, Any], key: str) -> str:
    """A webhook's `sign` field: md5(base64(json_encode(data without sign, JSON_UNESCAPED_UNICODE)) + key)."""
    unsigned = {k: v for k, v in data.items() if k != "sign"}
    return sign_body(php_json_encode(unsigned, unescaped_unicode=True), key)


def _money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.00000001")), "f")


def _now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class FakeCryptomus(FakeGateway):
    name = "cryptomus"

    def __init__(
        self,
        merchant_id: str = "8b03432e-385b-4670-8d06-064591096795",
        payment_key: str = "fakepaymentkey" + "0" * 50,
    ) -> None:
        super().__init__()
        self.merchant_id = merchant_id
        self.payment_key = payment_key
        self.invoices: dict[str, dict[str, Any]] = {}  # uuid -> invoice
        self.callbacks: dict[str, dict[str, str | None]] = {}  # uuid -> url_callback/url_success/url_return

    def settings(self) -> dict[str, str]:
        """The panel's settings that point it at this fake."""
        return {
            "CRYPTOMUS_API_BASE": self.base_url,
            "CRYPTOMUS_MERCHANT_ID": self.merchant_id,
            "CRYPTOMUS_PAYMENT_KEY": self.payment_key,
        }

    # --- HTTP ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/pay/"):
            return self._checkout_page(request)
        with self.lock:
            self.requests.append(request)
        if request.method != "POST":
            return Response.json(405, {"state": 1, "message": "Method not allowed."})
        if request.path.rstrip("/") not in ("/v1/payment", "/v1/payment/info"):
            return Response.json(404, {"state": 1, "message": "Not found."})
        try:
            data = json.loads(request.body) if request.body else {}
        except ValueError:
            data = None
        if data == []:
            data = {}  # what PHP's json_encode writes for an empty array, i.e. a request without fields
        if not isinstance(data, dict) or not self._signed(request, data):
            return Response.json(401, {"message": "Invalid Sign."})
        with self.lock:
            if request.path.rstrip("/") == "/v1/payment":
                return self._create(data)
            return self._info(data)

    def _signed(self, request: Request, data: dict[str, Any]) -> bool:
        merchant, sign = request.header("merchant") or "", request.header("sign") or ""
        if not hmac.compare_digest(merchant.encode(), self.merchant_id.encode()) or not sign:
            return False
        if not request.body:
            expected = [sign_body(b"", self.payment_key)]
        else:
            expected = [
                sign_body(php_json_encode(data, unescaped_unicode=mode), self.payment_key) for mode in (False, True)
            ]
        return any(hmac.compare_digest(sign.encode(), e.encode()) for e in expected)

    def _create(self, data: dict[str, Any]) -> Response:
        errors = self._validate(data)
        if errors:
            return Response.json(422, {"state": 1, "errors": errors})
        order_id = str(data["order_id"])
        for invoice in self.invoices.values():
            if invoice["order_id"] == order_id:
                return Response.json(200, {"state": 0, "result": invoice})  # documented: no second invoice
        invoice_id = str(uuidlib.uuid4())
        lifetime = int(data.get("lifetime") or 3600)
        now = _now_iso()
        invoice = {
            "uuid": invoice_id,
            "order_id": order_id,
            "amount": str(data["amount"]),
            "payment_amount": None,
            "payer_amount": None,
            "discount_percent": None,
            "discount": "0.00000000",
            "payer_currency": None,
            "currency": str(data["currency"]),
            "comments": None,
            "merchant_amount": None,
            "network": data.get("network"),
            "address": None,
            "from": None,
            "txid": None,
            "payment_status": "check",
            "url": f"{self.base_url}/pay/{invoice_id}",
            "expired_at": int(time.time()) + lifetime,
            "status": "check",
            "is_final": False,
            "additional_data": data.get("additional_data"),
            "created_at": now,
            "updated_at": now,
        }
        self.invoices[invoice_id] = invoice
        self.callbacks[invoice_id] = {k: data.get(k) for k in ("url_callback", "url_success", "url_return")}
        return Response.json(200, {"state": 0, "result": invoice})

    @staticmethod
    def _validate(data: dict[str, Any]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for name in ("amount", "currency", "order_id"):
            if data.get(name) in (None, ""):
                errors[name] = ["validation.required"]
        if "amount" not in errors:
            try:
                if Decimal(str(data["amount"])) <= 0:
                    errors["amount"] = ["validation.gt.numeric"]
            except InvalidOperation:
                errors["amount"] = ["validation.numeric"]
        order_id = str(data.get("order_id") or "")
        if "order_id" not in errors and (len(order_id) > 128 or not _ALPHA_DASH.match(order_id)):
            errors["order_id"] = ["validation.alpha_dash" if len(order_id) <= 128 else "validation.max.string"]
        for name in ("url_return", "url_success", "url_callback"):
            url = data.get(name)
            if url is None:
                continue
            if not isinstance(url, str) or not 6 <= len(url) <= 255:
                errors[name] = ["validation.between.string"]
            elif not re.match(r"^https?://[^\s/]+", url):
                errors[name] = ["validation.url"]
        if data.get("lifetime") is not None:
            try:
                if not 300 <= int(data["lifetime"]) <= 43200:
                    errors["lifetime"] = ["validation.between.numeric"]
            except (TypeError, ValueError):
                errors["lifetime"] = ["validation.integer"]
        return errors

    def _info(self, data: dict[str, Any]) -> Response:
        if not data.get("uuid") and not data.get("order_id"):
            errors = {"uuid": ["validation.required_without"], "order_id": ["validation.required_without"]}
            return Response.json(422, {"state": 1, "errors": errors})
        if data.get("order_id"):
            found = [i for i in self.invoices.values() if i["order_id"] == str(data["order_id"])]
        else:
            found = [self.invoices[data["uuid"]]] if data["uuid"] in self.invoices else []
        if not found:
            return Response.json(404, {"state": 1, "message": "Not found payment"})  # our guess at the words
        return Response.json(200, {"state": 0, "result": found[0]})

    def invoice(self, invoice_id: str) -> dict[str, Any]:
        with self.lock:
            if invoice_id not in self.invoices:
                raise KeyError(f"no Cryptomus invoice {invoice_id}")
            return self.invoices[invoice_id]

    # --- test controls ------------------------------------------------------------------

    def pay(
        self,
        invoice_id: str,
        status: str = "paid",
        *,
        amount: Decimal | str | None = None,
        currency: str | None = None,
        payer_currency: str = "USDT",
        network: str = "tron",
    ) -> dict[str, Any]:
        """The invoice moves to `status` (paid, paid_over, wrong_amount, process, ...) and the webhook goes.

        `amount`: what the customer paid, in the invoice currency (default: the invoice amount);
        `currency`: overrides the invoice currency the webhook reports (another currency).
        Returns the webhook data sent (with its sign).
        """
        if status not in FINAL | NOT_FINAL:
            raise ValueError(f"unknown Cryptomus status {status!r}")
        with self.lock:
            invoice = self.invoice(invoice_id)
            paid = Decimal(str(invoice["amount"] if amount is None else amount))
            merchant = paid * (1 - COMMISSION)
            invoice.update(
                status=status,
                payment_status=status,
                is_final=status in FINAL,
                payment_amount=_money(paid),
                payer_amount=_money(paid),
                payer_currency=payer_currency,
                merchant_amount=_money(merchant),
                network=network,
                address=invoice["address"] or "TXhfYSWt2oKRrHAJVJeYRuit6ZzKuoEKXj",
                txid=invoice["txid"] or hashlib.sha256(invoice_id.encode()).hexdigest(),
                updated_at=_now_iso(),
            )
            if currency:
                invoice["currency"] = currency
            data = self._webhook_data(invoice, paid, merchant)
        self._send(invoice_id, data)
        return data

    def expire(self, invoice_id: str) -> dict[str, Any]:
        """The invoice's lifetime ran out unpaid: status cancel (final)."""
        with self.lock:
            invoice = self.invoice(invoice_id)
            invoice.update(status="cancel", payment_status="cancel", is_final=True, updated_at=_now_iso())
            data = self._webhook_data(invoice, Decimal(0), Decimal(0))
        self._send(invoice_id, data)
        return data

    def refund(self, invoice_id: str, status: str = "refund_paid") -> dict[str, Any]:
        """A refund of a paid invoice: refund_process, then refund_paid (or refund_fail)."""
        with self.lock:
            invoice = self.invoice(invoice_id)
            paid = Decimal(invoice["payment_amount"] or 0)
            invoice.update(status=status, payment_status=status, is_final=status in FINAL, updated_at=_now_iso())
            data = self._webhook_data(invoice, paid, paid * (1 - COMMISSION))
        self._send(invoice_id, data)
        return data

    def _webhook_data(self, invoice: dict[str, Any], paid: Decimal, merchant: Decimal) -> dict[str, Any]:
        data = {
            "type": "payment",
            "uuid": invoice["uuid"],
            "order_id": invoice["order_id"],
            "amount": _money(Decimal(invoice["amount"])),
            "payment_amount": _money(paid),
            "payment_amount_usd": _money(paid),  # the fake's USDT is worth one USD
            "merchant_amount": _money(merchant),
            "commission": _money(paid - merchant),
            "is_final": invoice["is_final"],
            "status": invoice["status"],
            "from": None,
            "wallet_address_uuid": None,
            "network": invoice["network"],
            "currency": invoice["currency"],
            "payer_currency": invoice["payer_currency"],
            "payer_amount": invoice["payer_amount"],
            "payer_amount_exchange_rate": "1.00000000",
            "additional_data": invoice["additional_data"],
            "txid": invoice["txid"],
        }
        data["sign"] = sign_webhook(data, self.payment_key)
        return data

    def event(
        self, invoice_id: str, status: str = "paid", *, key: str | None = None, **fields: Any
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook for the invoice as it would be sent, NOT delivered: (body, headers).

        `fields` override the data before signing (e.g. amount="5.00000000"); `key` signs with
        another payment key (a forgery).
        """
        with self.lock:
            invoice = dict(self.invoice(invoice_id), status=status, is_final=status in FINAL)
            paid = Decimal(str(invoice["payment_amount"] or invoice["amount"]))
            data = self._webhook_data(invoice, paid, paid * (1 - COMMISSION))
        data.pop("sign")
        data.update(fields)
        data["sign"] = sign_webhook(data, self.payment_key if key is None else key)
        return self.encode(data)

    @staticmethod
    def encode(data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """A webhook's body as Cryptomus (PHP) writes it, and its headers."""
        return php_json_encode(data).encode(), {"Content-Type": "application/json"}

    def _send(self, invoice_id: str, data: dict[str, Any]) -> None:
        body, headers = self.encode(data)
        self.send_webhook(body, headers, url=self.callbacks.get(invoice_id, {}).get("url_callback"))

    # --- the hosted payment page --------------------------------------------------------

    def _checkout_page(self, request: Request) -> Response:
        invoice_id = request.path[len("/pay/") :].strip("/")
        with self.lock:
            invoice = self.invoices.get(invoice_id)
            urls = self.callbacks.get(invoice_id, {})
        if invoice is None:
            return Response.html(404, "<h1>Invoice not found</h1>")
        if request.method == "POST":
            if invoice["is_final"]:
                return Response.html(409, f"<h1>This invoice is {html.escape(invoice['status'])}</h1>")
            self.pay(invoice_id)
            target = urls.get("url_success") or urls.get("url_return")
            return Response.redirect(target) if target else Response.html(200, "<h1>Paid</h1>")
        if invoice["is_final"]:
            return Response.html(410, f"<h1>This invoice is {html.escape(invoice['status'])}</h1>")
        amount = f"{invoice['amount']} {invoice['currency']}"
        back = urls.get("url_return")
        link = f'<p><a id="cancel" href="{html.escape(back)}">Back to the store</a></p>' if back else ""
        return Response.html(
            200,
            f"""<!doctype html><html><head><meta charset="utf-8"><title>Fake Cryptomus</title></head>
<body><h1>Fake Cryptomus</h1><p>Pay <strong id="amount">{html.escape(amount)}</strong></p>
<form method="post" action="/pay/{html.escape(invoice_id)}"><button type="submit" id="pay">Pay</button></form>
{link}</body></html>""",
        )
