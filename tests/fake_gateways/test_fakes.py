"""Tests of the fake gateways themselves: that they speak and sign as the real ones document.

The proofs that matter: the official `stripe` library works against FakeStripe unchanged, and
`stripe.Webhook.construct_event` accepts the fake's signatures (and refuses altered ones);
Cryptomus' sign is PHP's json_encode as its docs write it; NOWPayments' sig is over the key-sorted
JSON. No database: these tests need none.
"""

import time

import httpx
import pytest
import stripe

from tests.fake_gateways import FakeGateway, Request, Response
from tests.fake_gateways.stripe import FakeStripe, form_decode


def client_for(fake: FakeStripe, key: str | None = None) -> stripe.StripeClient:
    return stripe.StripeClient(key or fake.secret_key, base_addresses={"api": fake.base_url}, max_network_retries=0)


def new_session(fake: FakeStripe, **extra) -> stripe.checkout.Session:
    params = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {"currency": "usd", "unit_amount": 1250, "product_data": {"name": "Add funds"}},
                "quantity": 1,
            }
        ],
        "success_url": "http://panel.test/funds/payments/7/?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://panel.test/funds/add/",
        "client_reference_id": "7",
        "metadata": {"payment": "7"},
        **extra,
    }
    return client_for(fake).v1.checkout.sessions.create(params)  # type: ignore[arg-type]


class Inbox:
    """A `deliver` callable that keeps what the fake posted and answers 200."""

    def __init__(self) -> None:
        self.got: list[tuple[bytes, dict[str, str]]] = []

    def __call__(self, body: bytes, headers: dict[str, str]) -> int:
        self.got.append((body, headers))
        return 200

    def events(self, secret: str) -> list[stripe.Event]:
        return [stripe.Webhook.construct_event(b, h["Stripe-Signature"], secret) for b, h in self.got]


# --- Stripe -------------------------------------------------------------------------------


def test_form_decoding_reads_stripes_nested_keys():
    body = "line_items[0][price_data][unit_amount]=5&line_items[0][quantity]=2&metadata[a]=b&expand[0]=x&expand[]=y"
    assert form_decode(body) == {
        "line_items": [{"price_data": {"unit_amount": "5"}, "quantity": "2"}],
        "metadata": {"a": "b"},
        "expand": ["x", "y"],
    }


def test_the_stripe_library_creates_and_retrieves_a_checkout_session(fake_stripe):
    created = new_session(fake_stripe)
    assert created.object == "checkout.session" and created.id.startswith("cs_test_")
    assert (created.status, created.payment_status, created.amount_total, created.currency) == (
        "open",
        "unpaid",
        1250,
        "usd",
    )
    assert created.url == f"{fake_stripe.base_url}/pay/{created.id}"
    assert created.payment_intent is None  # created only when the customer pays (API 2022-08-01 on)
    got = client_for(fake_stripe).v1.checkout.sessions.retrieve(created.id)
    assert (got.id, got.client_reference_id, got.metadata["payment"]) == (created.id, "7", "7")
    # What went over the wire is what Stripe documents: Bearer key, form-encoded nested keys.
    post = fake_stripe.requests[0]
    assert post.headers["authorization"] == f"Bearer {fake_stripe.secret_key}"
    assert post.headers["content-type"] == "application/x-www-form-urlencoded"
    assert b"line_items[0][price_data][unit_amount]=1250" in post.body.replace(b"%5B", b"[").replace(b"%5D", b"]")


def test_the_module_level_api_base_reaches_the_fake_too(fake_stripe, monkeypatch):
    monkeypatch.setattr(stripe, "api_key", fake_stripe.secret_key)
    monkeypatch.setattr(stripe, "api_base", fake_stripe.base_url)
    session_id = new_session(fake_stripe).id
    assert stripe.checkout.Session.retrieve(session_id).amount_total == 1250


def test_a_wrong_or_missing_key_is_refused_as_stripe_does(fake_stripe):
    with pytest.raises(stripe.AuthenticationError, match="Invalid API Key provided") as wrong:
        client_for(fake_stripe, key="sk_test_not_the_right_key_at_all").v1.checkout.sessions.retrieve("cs_x")
    assert wrong.value.http_status == 401
    answer = httpx.get(f"{fake_stripe.base_url}/v1/checkout/sessions/cs_x")
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert "did not provide an API key" in answer.json()["error"]["message"]


def test_an_unknown_session_is_a_404_resource_missing(fake_stripe):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client_for(fake_stripe).v1.checkout.sessions.retrieve("cs_test_nope")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")


def test_a_session_without_line_items_is_refused(fake_stripe):
    with pytest.raises(stripe.InvalidRequestError, match="line item") as refused:
        client_for(fake_stripe).v1.checkout.sessions.create({"mode": "payment", "success_url": "http://x.test/"})
    assert refused.value.http_status == 400


def test_the_pay_button_pays_delivers_the_webhook_then_redirects(fake_stripe):
    inbox = fake_stripe.deliver = Inbox()
    session = new_session(fake_stripe)
    page = httpx.get(session.url)
    assert page.status_code == 200 and 'id="pay"' in page.text and "12.50 USD" in page.text
    answer = httpx.post(session.url)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"http://panel.test/funds/payments/7/?session={session.id}"
    # Synchronous: the notification was delivered before the redirect came back.
    [event] = inbox.events(fake_stripe.webhook_secret)
    assert event.type == "checkout.session.completed" and event.api_version
    assert (event.data.object.id, event.data.object.payment_status) == (session.id, "paid")
    paid = client_for(fake_stripe).v1.checkout.sessions.retrieve(session.id, {"expand": ["payment_intent"]})
    assert paid.status == "complete" and paid.payment_intent.amount_received == 1250


def test_construct_event_accepts_the_fakes_signature_and_refuses_altered_ones(fake_stripe):
    session = new_session(fake_stripe)
    body, headers = fake_stripe.event("checkout.session.completed", session.id)
    secret, header = fake_stripe.webhook_secret, headers["Stripe-Signature"]
    assert stripe.Webhook.construct_event(body, header, secret).data.object.id == session.id
    tampered = body.replace(b'"amount_total": 1250', b'"amount_total": 9250')
    assert tampered != body
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, header, secret)
    _, wrong = fake_stripe.event("checkout.session.completed", session.id, secret="whsec_someone_else")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, wrong["Stripe-Signature"], secret)
    old_body, old = fake_stripe.event("checkout.session.completed", session.id, timestamp=int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(old_body, old["Stripe-Signature"], secret)


def test_async_payment_completes_unpaid_then_settles(fake_stripe):
    inbox = fake_stripe.deliver = Inbox()
    first, second = new_session(fake_stripe).id, new_session(fake_stripe).id
    fake_stripe.pay(first, async_=True)
    fake_stripe.pay(second, async_=True)
    fake_stripe.settle_async(first, ok=True)
    fake_stripe.settle_async(second, ok=False)
    seen = [(e.type, e.data.object.id, e.data.object.payment_status) for e in inbox.events(fake_stripe.webhook_secret)]
    assert seen == [
        ("checkout.session.completed", first, "unpaid"),
        ("checkout.session.completed", second, "unpaid"),
        ("checkout.session.async_payment_succeeded", first, "paid"),
        ("checkout.session.async_payment_failed", second, "unpaid"),
    ]


def test_refund_dispute_and_expiry_send_their_events(fake_stripe):
    inbox = fake_stripe.deliver = Inbox()
    paid, left_open = new_session(fake_stripe).id, new_session(fake_stripe).id
    fake_stripe.pay(paid)
    fake_stripe.refund(paid, 250)
    fake_stripe.dispute(paid)
    fake_stripe.expire(left_open)
    completed, refunded, disputed, expired = inbox.events(fake_stripe.webhook_secret)
    intent = completed.data.object.payment_intent
    assert refunded.type == "charge.refunded"
    charge = refunded.data.object
    assert (charge.object, charge.amount, charge.amount_refunded, charge.refunded, charge.payment_intent) == (
        "charge",
        1250,
        250,
        False,
        intent,
    )
    assert disputed.type == "charge.dispute.created"
    dispute = disputed.data.object
    assert (dispute.object, dispute.amount, dispute.charge, dispute.payment_intent) == (
        "dispute",
        1250,
        charge.id,
        intent,
    )
    assert (expired.type, expired.data.object.id, expired.data.object.status) == (
        "checkout.session.expired",
        left_open,
        "expired",
    )
    assert httpx.get(f"{fake_stripe.base_url}/pay/{left_open}").status_code == 410


def test_dropped_webhooks_change_the_state_and_send_nothing(fake_stripe):
    inbox = fake_stripe.deliver = Inbox()
    fake_stripe.drop_webhooks = True
    session_id = new_session(fake_stripe).id
    fake_stripe.pay(session_id)
    assert inbox.got == [] and fake_stripe.delivered() == []
    assert client_for(fake_stripe).v1.checkout.sessions.retrieve(session_id).payment_status == "paid"
    # ... and the event is still listed by the API, as Stripe lists events not delivered.
    events = client_for(fake_stripe).v1.events.list({"type": "checkout.session.completed"})
    assert [e.data.object.id for e in events.data] == [session_id]


def test_held_webhooks_go_out_when_released(fake_stripe):
    inbox = fake_stripe.deliver = Inbox()
    fake_stripe.hold_webhooks = True
    fake_stripe.pay(new_session(fake_stripe).id)
    assert inbox.got == []
    [released] = fake_stripe.release_webhooks()
    assert released.status == 200 and len(inbox.got) == 1


class Receiver(FakeGateway):
    """A stand-in for the panel's notify URL: keeps each request, answers 200."""

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        return Response(200, b"ok")


def test_a_webhook_url_receives_a_real_post(fake_stripe):
    with Receiver() as receiver:
        fake_stripe.webhook_url = f"{receiver.base_url}/payments/notify/stripe/"
        fake_stripe.pay(new_session(fake_stripe).id)
        [delivery] = fake_stripe.delivered()
        [received] = receiver.requests
        assert delivery.status == 200 and received.path == "/payments/notify/stripe/"
        event = stripe.Webhook.construct_event(
            received.body, received.headers["stripe-signature"], fake_stripe.webhook_secret
        )
        assert event.type == "checkout.session.completed"


def test_the_same_idempotency_key_replays_the_first_answer(fake_stripe):
    client = client_for(fake_stripe)
    params = {"mode": "payment", "line_items": [{"price_data": {"currency": "usd", "unit_amount": 100,
              "product_data": {"name": "x"}}, "quantity": 1}]}  # fmt: skip
    first = client.v1.checkout.sessions.create(params, {"idempotency_key": "pay-7"})  # type: ignore[arg-type]
    again = client.v1.checkout.sessions.create(params, {"idempotency_key": "pay-7"})  # type: ignore[arg-type]
    assert first.id == again.id and len(fake_stripe.sessions) == 1
    params["line_items"][0]["quantity"] = 2
    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.create(params, {"idempotency_key": "pay-7"})  # type: ignore[arg-type]
