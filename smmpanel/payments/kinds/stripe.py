"""Stripe Checkout: one Checkout Session per payment, through the official `stripe` library.

Webhooks (the endpoint's events: checkout.session.completed,
checkout.session.async_payment_succeeded / _failed, checkout.session.expired,
charge.refunded, charge.dispute.created) are verified by the library's
`Webhook.construct_event`: the Stripe-Signature's HMAC-SHA256 with the
endpoint's signing secret, compared in constant time, and its timestamp within
STRIPE_WEBHOOK_TOLERANCE seconds (an old event replayed is refused). Polling
retrieves the session through the authenticated API.

The amount credited is the session's `amount_total` as Stripe reports it, in
its `currency`; our payment's id travels as `client_reference_id` (and in the
metadata). A refund or dispute names the PaymentIntent, which the completed
session gave us (`external_ref`).
"""

import json
import threading
from decimal import Decimal

import stripe
from django.conf import settings

from smmpanel.payments.kinds import base

_clients: dict[tuple, stripe.StripeClient] = {}
_lock = threading.Lock()


def client(api_key: str) -> stripe.StripeClient:
    """One StripeClient per key and API base (kept: connection reuse), with a deadline on every request."""
    config = (api_key, settings.STRIPE_API_BASE, settings.PAYMENTS_HTTP_TIMEOUT)
    with _lock:
        if config not in _clients:
            _clients[config] = stripe.StripeClient(
                api_key,
                base_addresses={"api": settings.STRIPE_API_BASE},
                http_client=stripe.HTTPXClient(timeout=settings.PAYMENTS_HTTP_TIMEOUT, allow_sync_methods=True),
                max_network_retries=0,
            )
        return _clients[config]


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _money(value, currency) -> tuple[Decimal, str]:
    """Stripe's smallest-unit integer (cents) as an amount; Refused when it is not an integer."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise base.Refused(f"amount is not a whole number of cents: {str(value)[:40]!r}")
    return base.parse_amount(Decimal(value) / 100), str(currency or "").upper()


def _from_session(session: dict, event: str | None = None) -> base.Verdict:
    """What a Checkout Session (as an event's object or as retrieved) says about our payment."""
    status, paid = session.get("status"), session.get("payment_status") == "paid"
    if event == "checkout.session.async_payment_failed":
        what = base.FAILED
    elif event == "checkout.session.expired" or status == "expired":
        what = base.EXPIRED
    elif status == "complete" and paid:
        what = base.PAID
    else:
        what = base.PENDING
    amount, currency = _money(session.get("amount_total") or 0, session.get("currency"))
    return base.Verdict(
        event=what,
        payment_id=base.our_id(session.get("client_reference_id") or (session.get("metadata") or {}).get("payment")),
        external_id=str(session.get("id") or "") or None,
        external_ref=str(session.get("payment_intent") or ""),
        amount=amount if what == base.PAID else None,
        currency=currency,
    )


SESSION_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
)


def verdict(event_type: str, obj: dict) -> base.Verdict:
    if event_type in SESSION_EVENTS:
        return _from_session(obj, event_type)
    if event_type == "charge.refunded":
        amount, currency = _money(obj.get("amount_refunded"), obj.get("currency"))
        # The refunded total so far names this refund: each new total is taken back once.
        return base.Verdict(
            event=base.REFUND,
            external_ref=str(obj.get("payment_intent") or ""),
            amount=amount,
            currency=currency,
            key=str(obj.get("amount_refunded")),
        )
    if event_type == "charge.dispute.created":
        amount, currency = _money(obj.get("amount"), obj.get("currency"))
        return base.Verdict(
            event=base.DISPUTE,
            external_ref=str(obj.get("payment_intent") or ""),
            amount=amount,
            currency=currency,
            key=str(obj.get("id") or "")[:30],
        )
    return base.Verdict(event=base.IGNORED, note=event_type[:100])


class Stripe(base.Kind):
    name = "stripe"
    checkout_origins = ("https://checkout.stripe.com",)
    api_base_setting = "STRIPE_API_BASE"
    label = "Card (Stripe)"
    env = {"api_key": "STRIPE_SECRET_KEY", "webhook_secret": "STRIPE_WEBHOOK_SECRET"}
    recorded_headers = ("Stripe-Signature", "Content-Type", "User-Agent")

    def start(self, gateway, payment, *, return_url, cancel_url, notify_url) -> base.Checkout:
        keys = self.credentials(gateway)
        params = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": payment.currency.lower(),
                        "unit_amount": cents(payment.to_pay),
                        "product_data": {"name": f"Add funds: {payment.amount} {payment.currency}"},
                    },
                }
            ],
            "client_reference_id": str(payment.pk),
            "metadata": {"payment": str(payment.pk)},
            "success_url": return_url,
            "cancel_url": cancel_url,
        }
        # A retried create (our own retry, a double click) makes one session, not two.
        options = {"idempotency_key": f"smmpanel-payment-{payment.pk}-{int(payment.created.timestamp())}"}
        try:
            session = client(keys["api_key"]).v1.checkout.sessions.create(params=params, options=options)  # type: ignore[arg-type]
        except stripe.StripeError as e:
            raise base.GatewayDown(f"Stripe: {e.user_message or type(e).__name__}") from None
        return base.Checkout(external_id=session.id, url=session.url or "")

    def verify(self, gateway, body: bytes, headers) -> list[base.Verdict]:
        secret = self.credentials(gateway)["webhook_secret"]
        if not secret:
            raise base.Refused("no webhook signing secret is configured")
        try:
            stripe.Webhook.construct_event(
                body, headers.get("Stripe-Signature"), secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE
            )
            event = json.loads(body)
        except stripe.SignatureVerificationError as e:
            raise base.Refused(f"signature: {e.user_message or e}") from None
        except ValueError:
            raise base.Refused("body is not JSON") from None
        if not isinstance(event, dict) or not isinstance((event.get("data") or {}).get("object"), dict):
            raise base.Refused("not a Stripe event")
        return [verdict(str(event.get("type") or ""), event["data"]["object"])]

    def fetch(self, gateway, payment) -> base.Verdict:
        try:
            session = client(self.credentials(gateway)["api_key"]).v1.checkout.sessions.retrieve(payment.external_id)
        except stripe.StripeError as e:
            raise base.GatewayDown(f"Stripe: {e.user_message or type(e).__name__}") from None
        return _from_session(session.to_dict())
