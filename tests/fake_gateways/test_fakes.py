"""Tests of the fake gateways themselves: that they speak and sign as the real ones document.

The proofs that matter: the official `stripe` library works against FakeStripe unchanged, and
`stripe.Webhook.construct_event` accepts the fake's signatures (and refuses altered ones);
Cryptomus' sign is PHP's json_encode as its docs write it; NOWPayments' sig is over the key-sorted
JSON. No database: these tests need none.
"""

import base64
import hashlib
import hmac
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import stripe
from django.http import HttpRequest, HttpResponse
from django.urls import path

from tests.fake_gateways import FakeGateway, Request, Response, cryptomus, nowpayments
from tests.fake_gateways.cryptomus import php_json_encode
from tests.fake_gateways.fixtures import deliver_to
from tests.fake_gateways.stripe import FakeStripe, form_decode

# stripe-python 16's HTTPXClient posts bytes through httpx's deprecated `data=`: its warning, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")

HTTP = httpx.Client(timeout=10)  # one client: httpx.get() builds a TLS context (~50 ms) per call


def client_for(fake: FakeStripe, key: str | None = None) -> stripe.StripeClient:
    # The panel's configuration (smmpanel/payments/kinds/stripe.py): httpx, no retries.
    return stripe.StripeClient(
        key or fake.secret_key,
        base_addresses={"api": fake.base_url},
        http_client=stripe.HTTPXClient(timeout=10, allow_sync_methods=True),
        max_network_retries=0,
    )


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
    answer = HTTP.get(f"{fake_stripe.base_url}/v1/checkout/sessions/cs_x")
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
    page = HTTP.get(session.url)
    assert page.status_code == 200 and 'id="pay"' in page.text and "12.50 USD" in page.text
    answer = HTTP.post(session.url)
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
    assert HTTP.get(f"{fake_stripe.base_url}/pay/{left_open}").status_code == 410


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


# --- Cryptomus ----------------------------------------------------------------------------

KEY = "test-payment-key-0123456789"
# Written by PHP 8.2 itself (php -r, json_decode(..., true) then json_encode): the outputs below
# are PHP's, not ours, so the fake's encoder is checked against the language Cryptomus signs in.
PHP_WEBHOOK_IN = (
    '{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"pay-7","amount":"10.00000000",'
    '"payment_amount":"10.00000000","is_final":true,"status":"paid","url":"https://panel.test/funds/payments/7/",'
    '"additional_data":"Café ☕ 2/3","convert":{},"txid":null,"sign":"x"}'
)
PHP_WEBHOOK_UNSIGNED = (  # json_encode($data, JSON_UNESCAPED_UNICODE), the sign's basis per Cryptomus' docs
    '{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"pay-7","amount":"10.00000000",'
    '"payment_amount":"10.00000000","is_final":true,"status":"paid","url":"https:\\/\\/panel.test\\/funds\\/payments'
    '\\/7\\/","additional_data":"Café ☕ 2\\/3","convert":[],"txid":null}'
)
PHP_WEBHOOK_SIGN = "0ce0e81fc80ff642cae1e0eca11cb466"  # md5(base64_encode($json) . $key) in PHP
PHP_REQUEST = {
    "amount": "10.00",
    "currency": "USD",
    "order_id": "pay-7",
    "url_callback": "https://panel.test/payments/notify/crypto/",
    "additional_data": "Café",
}
PHP_REQUEST_JSON = (  # plain json_encode($req): slashes and unicode escaped
    '{"amount":"10.00","currency":"USD","order_id":"pay-7","url_callback":"https:\\/\\/panel.test\\/payments\\/'
    'notify\\/crypto\\/","additional_data":"Caf\\u00e9"}'
)
PHP_REQUEST_SIGN = "b58652d3d3b0c2854ecd29e57796cec0"


def test_cryptomus_signs_what_php_json_encode_writes():
    data = json.loads(PHP_WEBHOOK_IN)
    assert php_json_encode({k: v for k, v in data.items() if k != "sign"}) == PHP_WEBHOOK_UNSIGNED
    assert cryptomus.sign_webhook(data, KEY) == PHP_WEBHOOK_SIGN
    assert php_json_encode(PHP_REQUEST, unescaped_unicode=False) == PHP_REQUEST_JSON
    assert hashlib.md5(base64.b64encode(PHP_REQUEST_JSON.encode()) + KEY.encode()).hexdigest() == PHP_REQUEST_SIGN


def cryptomus_post(fake, path: str, data: dict, *, key: str | None = None, merchant: str | None = None, body=None):
    """Post as a Cryptomus client does: PHP-style JSON body, merchant + sign headers."""
    raw = php_json_encode(data, unescaped_unicode=False).encode() if body is None else body
    sign = hashlib.md5(base64.b64encode(raw) + (key or fake.payment_key).encode()).hexdigest()
    headers = {"merchant": merchant or fake.merchant_id, "sign": sign, "Content-Type": "application/json"}
    return HTTP.post(f"{fake.base_url}{path}", content=raw, headers=headers)


def new_invoice(fake, order_id: str = "pay-7", **extra) -> dict:
    data = {
        "amount": "10.00",
        "currency": "USD",
        "order_id": order_id,
        "url_callback": "https://panel.test/payments/notify/crypto/",
        "url_success": f"https://panel.test/funds/payments/{order_id}/",
        "url_return": "https://panel.test/funds/add/",
        **extra,
    }
    answer = cryptomus_post(fake, "/v1/payment", data)
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == 0
    return answer.json()["result"]


def test_cryptomus_creates_an_invoice_and_tells_its_state(fake_cryptomus):
    invoice = new_invoice(fake_cryptomus)
    assert (invoice["order_id"], invoice["amount"], invoice["currency"]) == ("pay-7", "10.00", "USD")
    assert (invoice["status"], invoice["is_final"]) == ("check", False)
    assert invoice["url"] == f"{fake_cryptomus.base_url}/pay/{invoice['uuid']}"
    by_uuid = cryptomus_post(fake_cryptomus, "/v1/payment/info", {"uuid": invoice["uuid"]}).json()["result"]
    by_order = cryptomus_post(fake_cryptomus, "/v1/payment/info", {"order_id": "pay-7"}).json()["result"]
    assert by_uuid == by_order == invoice
    # The same order_id returns the same invoice, as documented.
    assert new_invoice(fake_cryptomus)["uuid"] == invoice["uuid"]


def test_cryptomus_refuses_what_is_not_signed_right(fake_cryptomus):
    data = {"amount": "10.00", "currency": "USD", "order_id": "x1", "url_callback": "https://panel.test/n/"}
    wrong_key = cryptomus_post(fake_cryptomus, "/v1/payment", data, key="not-the-key")
    wrong_merchant = cryptomus_post(fake_cryptomus, "/v1/payment", data, merchant=str(uuid.uuid4()))
    # Signed over JSON with "/" unescaped (as json.dumps writes it): not what PHP re-encodes.
    python_json = cryptomus_post(fake_cryptomus, "/v1/payment", data, body=json.dumps(data).encode())
    unsigned = HTTP.post(f"{fake_cryptomus.base_url}/v1/payment", json=data)
    for answer in (wrong_key, wrong_merchant, python_json, unsigned):
        assert (answer.status_code, answer.json()) == (401, {"message": "Invalid Sign."})
    assert fake_cryptomus.invoices == {}


def test_cryptomus_answers_invalid_fields_with_its_errors_shape(fake_cryptomus):
    answer = cryptomus_post(fake_cryptomus, "/v1/payment", {"amount": "10", "order_id": "has space"})
    assert answer.status_code == 422
    assert answer.json() == {
        "state": 1,
        "errors": {"currency": ["validation.required"], "order_id": ["validation.alpha_dash"]},
    }
    missing = cryptomus_post(fake_cryptomus, "/v1/payment/info", {})
    assert missing.status_code == 422 and set(missing.json()["errors"]) == {"uuid", "order_id"}


def verify_cryptomus(body: bytes, key: str) -> dict:
    data = json.loads(body)
    assert data["sign"] == cryptomus.sign_webhook(data, key)
    return data


def test_cryptomus_pay_button_pays_notifies_then_redirects(fake_cryptomus):
    inbox = fake_cryptomus.deliver = Inbox()
    invoice = new_invoice(fake_cryptomus)
    assert "10.00 USD" in HTTP.get(invoice["url"]).text
    answer = HTTP.post(invoice["url"])
    assert (answer.status_code, answer.headers["location"]) == (303, "https://panel.test/funds/payments/pay-7/")
    [(body, _)] = inbox.got
    data = verify_cryptomus(body, fake_cryptomus.payment_key)
    assert (data["uuid"], data["status"], data["is_final"], data["amount"]) == (
        invoice["uuid"],
        "paid",
        True,
        "10.00000000",
    )
    info = cryptomus_post(fake_cryptomus, "/v1/payment/info", {"uuid": invoice["uuid"]}).json()["result"]
    assert (info["status"], info["is_final"], info["payment_amount"]) == ("paid", True, "10.00000000")


def test_cryptomus_controls_report_amounts_statuses_and_forgeries(fake_cryptomus):
    inbox = fake_cryptomus.deliver = Inbox()
    short, other, lapsed = (new_invoice(fake_cryptomus, f"pay-{n}")["uuid"] for n in (1, 2, 3))
    fake_cryptomus.pay(short, "wrong_amount", amount="4.50")
    fake_cryptomus.pay(other, currency="EUR")
    fake_cryptomus.expire(lapsed)
    got = [verify_cryptomus(body, fake_cryptomus.payment_key) for body, _ in inbox.got]
    assert [(d["uuid"], d["status"], d["payment_amount"], d["currency"]) for d in got] == [
        (short, "wrong_amount", "4.50000000", "USD"),
        (other, "paid", "10.00000000", "EUR"),
        (lapsed, "cancel", "0.00000000", "USD"),
    ]
    body, _ = fake_cryptomus.event(short, "paid", key="someone-elses-key")
    with pytest.raises(AssertionError):
        verify_cryptomus(body, fake_cryptomus.payment_key)
    fake_cryptomus.drop_webhooks = True
    fake_cryptomus.refund(other)
    assert len(inbox.got) == 3 and fake_cryptomus.invoice(other)["status"] == "refund_paid"


# --- NOWPayments --------------------------------------------------------------------------


def test_nowpayments_signs_the_key_sorted_compact_json():
    data = {"payment_status": "finished", "payment_id": 5077125051, "fee": {"serviceFee": 0, "currency": "trx"}}
    # Sorted at every level, no spaces: what the docs' example (json.dumps sort_keys) signs.
    literal = '{"fee":{"currency":"trx","serviceFee":0},"payment_id":5077125051,"payment_status":"finished"}'
    expected = hmac.new(b"ipn-secret", literal.encode(), hashlib.sha512).hexdigest()
    assert nowpayments.ipn_signature(data, "ipn-secret") == expected


def np_request(fake, method: str, path: str, *, key: str | None = None, **kwargs):
    headers = {"x-api-key": fake.api_key if key is None else key, **kwargs.pop("headers", {})}
    return HTTP.request(method, f"{fake.base_url}{path}", headers=headers, **kwargs)


def new_np_invoice(fake, order_id: str = "pay-9") -> dict:
    answer = np_request(
        fake,
        "POST",
        "/v1/invoice",
        json={
            "price_amount": 10,
            "price_currency": "usd",
            "order_id": order_id,
            "ipn_callback_url": "https://panel.test/payments/notify/np/",
            "success_url": f"https://panel.test/funds/payments/{order_id}/",
            "cancel_url": "https://panel.test/funds/add/",
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def verify_np(body: bytes, headers: dict, secret: str) -> dict:
    data = json.loads(body)
    signed = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    assert hmac.compare_digest(
        hmac.new(secret.encode(), signed, hashlib.sha512).hexdigest(), headers["x-nowpayments-sig"]
    )
    return data


def test_nowpayments_refuses_a_wrong_key_and_bad_fields(fake_nowpayments):
    wrong = np_request(fake_nowpayments, "POST", "/v1/invoice", key="nope", json={"price_amount": 1})
    assert (wrong.status_code, wrong.json()) == (
        403,
        {"status": False, "statusCode": 403, "code": "INVALID_API_KEY", "message": "Invalid api key"},
    )
    missing = np_request(fake_nowpayments, "POST", "/v1/invoice", json={"price_amount": 10})
    assert missing.status_code == 400 and missing.json()["code"] == "INVALID_REQUEST_PARAMS"
    assert fake_nowpayments.invoices == {}


def test_nowpayments_pay_button_sends_a_signed_ipn_then_redirects(fake_nowpayments):
    inbox = fake_nowpayments.deliver = Inbox()
    invoice = new_np_invoice(fake_nowpayments)
    assert invoice["invoice_url"] == f"{fake_nowpayments.base_url}/pay/{invoice['id']}"
    assert "10 USD" in HTTP.get(invoice["invoice_url"]).text
    answer = HTTP.post(invoice["invoice_url"])
    assert (answer.status_code, answer.headers["location"]) == (303, "https://panel.test/funds/payments/pay-9/")
    [(body, headers)] = inbox.got
    data = verify_np(body, headers, fake_nowpayments.ipn_secret)
    assert json.dumps(data, sort_keys=True, separators=(",", ":")).encode() != body  # the body is not sorted
    assert (data["invoice_id"], data["order_id"], data["payment_status"]) == (int(invoice["id"]), "pay-9", "finished")
    assert (data["price_amount"], data["price_currency"], data["actually_paid"]) == (10, "usd", 10)
    payment = np_request(fake_nowpayments, "GET", f"/v1/payment/{data['payment_id']}").json()
    assert (payment["payment_status"], payment["actually_paid"]) == ("finished", 10)
    assert np_request(fake_nowpayments, "GET", "/v1/payment/12").status_code == 404


def test_nowpayments_statuses_the_payment_list_and_forgeries(fake_nowpayments):
    inbox = fake_nowpayments.deliver = Inbox()
    short, lapsed = new_np_invoice(fake_nowpayments, "pay-1")["id"], new_np_invoice(fake_nowpayments, "pay-2")["id"]
    fake_nowpayments.pay(short, "confirming", actually_paid="4.5")
    fake_nowpayments.pay(short, "partially_paid", actually_paid="4.5")
    fake_nowpayments.expire(lapsed)
    got = [verify_np(body, headers, fake_nowpayments.ipn_secret) for body, headers in inbox.got]
    assert [(str(d["invoice_id"]), d["payment_status"], d["actually_paid"]) for d in got] == [
        (short, "confirming", 4.5),
        (short, "partially_paid", 4.5),
        (lapsed, "expired", 0),
    ]
    assert got[0]["payment_id"] == got[1]["payment_id"]  # one payment moving through its statuses
    listing = np_request(fake_nowpayments, "GET", "/v1/payment/", params={"invoiceId": short})
    assert listing.status_code == 401  # the list needs the JWT as well as the key
    auth = HTTP.post(
        f"{fake_nowpayments.base_url}/v1/auth", json={"email": "owner@panel.test", "password": "fake-password"}
    )
    bearer = {"Authorization": f"Bearer {auth.json()['token']}"}
    listing = np_request(fake_nowpayments, "GET", "/v1/payment/", params={"invoiceId": short}, headers=bearer)
    assert [p["payment_status"] for p in listing.json()["data"]] == ["partially_paid"]
    body, headers = fake_nowpayments.event(short, "finished", secret="someone-elses-secret")
    with pytest.raises(AssertionError):
        verify_np(body, headers, fake_nowpayments.ipn_secret)


# --- shared: the server under parallel clicks, delivery into Django in-process ------------


def test_ten_parallel_pay_clicks_pay_once(fake_stripe):
    inbox = fake_stripe.deliver = Inbox()
    url = new_session(fake_stripe).url
    with ThreadPoolExecutor(10) as pool:
        statuses = sorted(pool.map(lambda _: HTTP.post(url).status_code, range(10)))
    assert statuses == [303] + [409] * 9
    assert len(inbox.got) == 1 and len(fake_stripe.payment_intents) == 1


def notify(request: HttpRequest, name: str) -> HttpResponse:
    """A stand-in for the panel's notify view: 200 when the Stripe signature holds, else 400."""
    try:
        event = stripe.Webhook.construct_event(request.body, request.headers.get("Stripe-Signature"), SECRET)
    except stripe.SignatureVerificationError:
        return HttpResponse(status=400)
    return HttpResponse(event.type)


SECRET = "whsec_in_process"
urlpatterns = [path("payments/notify/<str:name>/", notify)]


def test_deliver_to_posts_into_django_in_process(client, settings):
    settings.ROOT_URLCONF = __name__  # the view above, and nothing of the panel's
    with FakeStripe(webhook_secret=SECRET) as fake:
        fake.deliver = deliver_to(client, "/payments/notify/stripe/")
        fake.pay(new_session(fake).id)
        body, headers = fake.event("checkout.session.completed", next(iter(fake.sessions)))
        forged = deliver_to(client, "/payments/notify/stripe/")(body + b" ", headers)
    assert [d.status for d in fake.delivered()] == [200] and forged == 400


def test_stripe_refuses_what_stripe_refuses_and_keeps_what_it_keeps(fake_stripe):
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter: colour"):
        new_session(fake_stripe, colour="red")
    with pytest.raises(stripe.InvalidRequestError, match="at least"):
        new_session(fake_stripe, line_items=[{"price_data": {"currency": "usd", "unit_amount": 10,
                    "product_data": {"name": "x"}}, "quantity": 1}])  # fmt: skip
    session = new_session(fake_stripe, payment_intent_data={"metadata": {"payment": "7"}})
    fake_stripe.pay(session.id)
    intent = client_for(fake_stripe).v1.payment_intents.retrieve(fake_stripe.session(session.id)["payment_intent"])
    assert intent.metadata["payment"] == "7" and intent.amount_received == 1250


def test_expiring_through_the_api_notifies_and_a_retry_is_signed_anew(fake_stripe):
    inbox = fake_stripe.deliver = Inbox()
    session = client_for(fake_stripe).v1.checkout.sessions.expire(new_session(fake_stripe).id)
    assert session.status == "expired"
    [first] = fake_stripe.delivered()
    again = fake_stripe.resend(first)
    assert again.body == first.body and again.status == 200
    [event, retried] = inbox.events(fake_stripe.webhook_secret)
    assert event.id == retried.id and event.type == "checkout.session.expired"
