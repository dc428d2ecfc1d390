"""NOWPayments: an invoice per payment (POST /v1/invoice), its IPNs, and the payment's status for polling.

An IPN carries `x-nowpayments-sig`, the hex HMAC-SHA512 with the IPN secret
over the notification's JSON re-serialised with its keys sorted (compact),
as NOWPayments documents; recomputed here from the decoded body and compared
in constant time.

Our payment's id travels as the invoice's order_id ("smm-<id>"); the
invoice's id is `external_id`, and the payment NOWPayments opens for it
(named by the first IPN) `external_ref`, which polling asks about
(GET /v1/payment/<id>, the API key is enough). Before any IPN has named it,
polling can find it only through the payments list, which NOWPayments guards
with a login (NOWPAYMENTS_EMAIL / NOWPAYMENTS_PASSWORD, optional).

Statuses: finished is paid (what `actually_paid_at_fiat` says arrived, in the
invoice's `price_currency`), partially_paid is paid too little (set aside for
the owner; a later finished still credits), failed, expired, refunded; the
rest are waiting.
"""

import hashlib
import hmac
import json

from django.conf import settings

from smmpanel.payments.kinds import base
from smmpanel.payments.kinds.http import request_json


def signature(data, secret: str) -> str:
    message = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha512).hexdigest()


def verdict(data: dict) -> base.Verdict:
    """What a payment (an IPN, or GET /v1/payment's answer) says about our payment."""
    status = str(data.get("payment_status") or "")
    said = base.Verdict(
        event=base.PENDING,
        payment_id=base.our_id(data.get("order_id")),
        external_id=str(data["invoice_id"]) if data.get("invoice_id") else None,
        external_ref=str(data.get("payment_id") or ""),
        currency=str(data.get("price_currency") or "").upper(),
        note=status,
    )
    fiat = data.get("actually_paid_at_fiat")
    if status in ("finished", "partially_paid"):
        amount = fiat if fiat else (data.get("price_amount") if status == "finished" else 0)
        said.event, said.amount = base.PAID, base.parse_amount(amount, "actually_paid_at_fiat")
    elif status in ("failed", "expired"):
        said.event = base.FAILED if status == "failed" else base.EXPIRED
    elif status == "refunded":
        amount = fiat or data.get("price_amount") or 0
        said.event, said.amount, said.key = base.REFUND, base.parse_amount(amount, "actually_paid_at_fiat"), "all"
    return said


class NOWPayments(base.Kind):
    name = "nowpayments"
    checkout_origins = ("https://nowpayments.io",)
    api_base_setting = "NOWPAYMENTS_API_BASE"
    label = "Crypto (NOWPayments)"
    env = {"api_key": "NOWPAYMENTS_API_KEY", "webhook_secret": "NOWPAYMENTS_IPN_SECRET"}
    recorded_headers = ("x-nowpayments-sig", "Content-Type", "User-Agent")

    def _call(self, gateway, method: str, path: str, data=None, token: str = "") -> dict:
        headers = {"x-api-key": self.credentials(gateway)["api_key"], "Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        content = json.dumps(data).encode() if data is not None else None
        url = settings.NOWPAYMENTS_API_BASE + path
        return request_json(method, url, headers=headers, content=content, what="NOWPayments")

    def start(self, gateway, payment, *, return_url, cancel_url, notify_url) -> base.Checkout:
        data = {
            "price_amount": float(payment.to_pay),
            "price_currency": payment.currency.lower(),
            "order_id": f"smm-{payment.pk}",
            "order_description": f"Add funds: {payment.amount} {payment.currency}",
            "success_url": return_url,
            "cancel_url": cancel_url,
        }
        if notify_url.startswith(("http://", "https://")):  # absolute only with SITE_URL set
            data["ipn_callback_url"] = notify_url
        invoice = self._call(gateway, "POST", "/v1/invoice", data)
        if not invoice.get("id") or not invoice.get("invoice_url"):
            raise base.GatewayDown("NOWPayments: no invoice in the answer")
        return base.Checkout(external_id=str(invoice["id"]), url=str(invoice["invoice_url"]))

    def verify(self, gateway, body: bytes, headers) -> list[base.Verdict]:
        secret = self.credentials(gateway)["webhook_secret"]
        if not secret:
            raise base.Refused("no IPN secret is configured")
        given = headers.get("x-nowpayments-sig") or ""
        try:
            data = json.loads(body)
        except ValueError:
            raise base.Refused("body is not JSON") from None
        if not isinstance(data, dict):
            raise base.Refused("not a JSON object")
        if not hmac.compare_digest(given.encode(), signature(data, secret).encode()):
            raise base.Refused("x-nowpayments-sig does not match")
        return [verdict(data)]

    def fetch(self, gateway, payment) -> base.Verdict:
        if payment.external_ref:
            return verdict(self._call(gateway, "GET", f"/v1/payment/{payment.external_ref}"))
        if not (settings.NOWPAYMENTS_EMAIL and settings.NOWPAYMENTS_PASSWORD):
            return base.Verdict(event=base.PENDING, note="no payment named yet")
        login = {"email": settings.NOWPAYMENTS_EMAIL, "password": settings.NOWPAYMENTS_PASSWORD}
        token = str(self._call(gateway, "POST", "/v1/auth", login).get("token") or "")
        found = self._call(gateway, "GET", f"/v1/payment/?invoiceId={payment.external_id}&orderBy=desc", token=token)
        payments = found.get("data")
        if not isinstance(payments, list) or not payments or not isinstance(payments[0], dict):
            return base.Verdict(event=base.PENDING, note="no payment started yet")
        return verdict(payments[0])
