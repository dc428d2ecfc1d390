"""Cryptomus: an invoice per payment (POST /v1/payment), its webhook, and /v1/payment/info for polling.

Signatures as Cryptomus documents them. A request carries the `merchant`
uuid and `sign` = md5(base64(JSON body) + payment key); Cryptomus checks it
against PHP's json_encode of the body it decoded, which escapes "/" as "\\/",
so the body is sent exactly as PHP writes it (URLs with escaped slashes: still
JSON) and signed as sent. A webhook's `sign` field is md5(base64(json_encode of
the data without `sign`) + payment key), PHP's encoding again (escaped slashes,
unicode as is), recomputed here from the decoded data and compared in
constant time.

Our payment's id travels as the invoice's order_id ("smm-<id>"). Statuses:
paid and paid_over are paid (what `payment_amount` says arrived, in the
invoice `currency`), wrong_amount is paid too little (set aside for the
owner), cancel is expired, fail and system_fail failed, refund_paid a refund
of all that was paid; the rest are waiting.
"""

import base64
import hashlib
import hmac
import json
from decimal import Decimal

from django.conf import settings

from smmpanel.payments.kinds import base
from smmpanel.payments.kinds.http import request_json

PAID = ("paid", "paid_over", "wrong_amount")
FAILED = ("fail", "system_fail")


def php_json(data) -> str:
    """What PHP's json_encode(…, JSON_UNESCAPED_UNICODE) writes: compact, "/" escaped, {} as []."""
    text = json.dumps(_php_arrays(data), ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("/", "\\/")


def _php_arrays(value):
    if isinstance(value, dict):
        return {k: _php_arrays(v) for k, v in value.items()} if value else []
    if isinstance(value, list):
        return [_php_arrays(v) for v in value]
    return value


def sign(text: str, key: str) -> str:
    # md5: Cryptomus' scheme, not our choice.
    return hashlib.md5(base64.b64encode(text.encode()) + key.encode()).hexdigest()


def verdict(data: dict) -> base.Verdict:
    """What an invoice (a webhook's data, or /v1/payment/info's result) says about our payment."""
    status = str(data.get("status") or data.get("payment_status") or "")
    said = base.Verdict(
        event=base.PENDING,
        payment_id=base.our_id(data.get("order_id")),
        external_id=str(data.get("uuid") or "") or None,
        currency=str(data.get("currency") or "").upper(),
        note=status,
    )
    if status in PAID:
        said.event, said.amount = base.PAID, base.parse_amount(data.get("payment_amount") or 0, "payment_amount")
    elif status == "cancel":
        said.event = base.EXPIRED
    elif status in FAILED:
        said.event = base.FAILED
    elif status == "refund_paid":
        paid = data.get("payment_amount") or data.get("amount") or 0
        said.event, said.amount, said.key = base.REFUND, base.parse_amount(paid, "payment_amount"), "all"
    elif status in ("refund_process", "refund_fail", "locked"):
        said.event = base.IGNORED
    return said


class Cryptomus(base.Kind):
    name = "cryptomus"
    checkout_origins = ("https://pay.cryptomus.com",)
    api_base_setting = "CRYPTOMUS_API_BASE"
    label = "Crypto (Cryptomus)"
    env = {"merchant_id": "CRYPTOMUS_MERCHANT_ID", "api_key": "CRYPTOMUS_PAYMENT_KEY"}
    recorded_headers = ("Content-Type", "User-Agent")

    def _call(self, gateway, path: str, data: dict) -> dict:
        keys = self.credentials(gateway)
        body = php_json(data)
        headers = {"merchant": keys["merchant_id"], "sign": sign(body, keys["api_key"])}
        headers["Content-Type"] = "application/json"
        answer = request_json(
            "POST", settings.CRYPTOMUS_API_BASE + path, headers=headers, content=body.encode(), what="Cryptomus"
        )
        result = answer.get("result")
        if answer.get("state") != 0 or not isinstance(result, dict):
            raise base.GatewayDown(f"Cryptomus: {str(answer.get('message') or answer.get('errors'))[:200]}")
        return result

    def start(self, gateway, payment, *, return_url, cancel_url, notify_url) -> base.Checkout:
        data = {
            "amount": str(payment.to_pay.quantize(Decimal("0.01"))),
            "currency": payment.currency,
            "order_id": f"smm-{payment.pk}",
            "url_return": cancel_url,
            "url_success": return_url,
        }
        if notify_url.startswith(("http://", "https://")):  # absolute only with SITE_URL set
            data["url_callback"] = notify_url
        result = self._call(gateway, "/v1/payment", data)
        if not result.get("uuid") or not result.get("url"):
            raise base.GatewayDown("Cryptomus: no invoice in the answer")
        return base.Checkout(external_id=str(result["uuid"]), url=str(result["url"]))

    def verify(self, gateway, body: bytes, headers) -> list[base.Verdict]:
        key = self.credentials(gateway)["api_key"]
        if not key:
            raise base.Refused("no payment key is configured")
        try:
            data = json.loads(body)
        except ValueError:
            raise base.Refused("body is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("sign"), str):
            raise base.Refused("no sign")
        given = data.pop("sign")
        if not hmac.compare_digest(given.encode(), sign(php_json(data), key).encode()):
            raise base.Refused("sign does not match")
        return [verdict(data)]

    def fetch(self, gateway, payment) -> base.Verdict:
        return verdict(self._call(gateway, "/v1/payment/info", {"uuid": payment.external_id}))
