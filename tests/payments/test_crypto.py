"""The crypto gateways against their fakes: Cryptomus (md5 sign over PHP's JSON, escaped slashes) and
NOWPayments (HMAC-SHA512 over the key-sorted JSON): paid once -> one deposit, forgeries refused,
paying too little or in another currency set aside, lost notifications found by the poll."""

import hashlib
import json
from decimal import Decimal

import pytest

from smmpanel.payments import services
from smmpanel.payments.models import Notification, Payment
from tests.payments.conftest import RETURN_BASE, deposits, in_threads, notify, poll_due

# Threads of a test have connections of their own: those tests commit (transaction=True); the others
# run in a transaction rolled back at the end, much cheaper than emptying every table on PostgreSQL.
pytestmark = [
    pytest.mark.django_db,
    # The stripe library's own httpx call (data= with bytes), not ours.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning"),
]


def start(cust, gateway: str, amount="20") -> Payment:
    payment = services.start_payment(cust.account, gateway, amount, return_url_base=RETURN_BASE)
    assert payment.state == Payment.State.PENDING and payment.external_id and payment.checkout_url
    return payment


def last_note() -> Notification:
    return Notification.objects.order_by("-id").first()


# --- Cryptomus ----------------------------------------------------------------------------------


def test_a_paid_cryptomus_invoice_is_deposited_once(cryptomus_gateway, fake_cryptomus, customer, conserved):
    cust = customer(balance="0")
    payment = start(cust, "cryptomus", "20")
    invoice = fake_cryptomus.invoice(payment.external_id)
    assert (invoice["amount"], invoice["currency"], invoice["order_id"]) == ("20.00", "USD", f"smm-{payment.pk}")

    fake_cryptomus.pay(payment.external_id, "paid")
    body, headers = fake_cryptomus.event(payment.external_id, "paid")
    assert notify("cryptomus", body, headers).status_code == 200  # Cryptomus repeats: nothing more

    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID and deposits(payment) == [Decimal(20)]
    assert cust.balance() == Decimal(20)
    conserved(cust)


def test_a_cryptomus_sign_over_escaped_slashes_is_verified(cryptomus_gateway, fake_cryptomus, customer):
    """PHP's json_encode writes "/" as "\\/": the sign is over that text, which the panel must rebuild exactly."""
    cust = customer(balance="0")
    payment = start(cust, "cryptomus", "20")
    url = "https://panel.example.com/funds/payments/1/"
    body, headers = fake_cryptomus.event(payment.external_id, "paid", additional_data=url)
    assert b"https:\\/\\/panel.example.com" in body
    assert notify("cryptomus", body, headers).status_code == 200
    assert last_note().verified and deposits(payment) == [Decimal(20)]


def test_a_cryptomus_sign_made_over_unescaped_slashes_is_not_cryptomus_and_is_refused(
    cryptomus_gateway, fake_cryptomus, customer
):
    cust = customer(balance="0")
    payment = start(cust, "cryptomus", "20")
    body, _ = fake_cryptomus.event(payment.external_id, "paid", additional_data="https://x.example/")
    data = json.loads(body)
    data.pop("sign")
    plain = json.dumps(data, separators=(",", ":"), ensure_ascii=False)  # slashes as they are
    import base64

    key = fake_cryptomus.payment_key.encode()
    data["sign"] = hashlib.md5(base64.b64encode(plain.encode()) + key).hexdigest()
    response = notify("cryptomus", json.dumps(data).encode(), {"Content-Type": "application/json"})
    assert response.status_code == 400 and "sign" in last_note().result
    assert deposits(payment) == []


def test_a_forged_cryptomus_webhook_is_refused_and_recorded(cryptomus_gateway, fake_cryptomus, customer):
    cust = customer(balance="0")
    payment = start(cust, "cryptomus", "20")
    body, headers = fake_cryptomus.event(payment.external_id, "paid", key="not-the-payment-key")
    assert notify("cryptomus", body, headers).status_code == 400
    note = last_note()
    assert not note.verified and note.body == body.decode() and "sign does not match" in note.result
    # Altered after signing: more paid than was.
    body, headers = fake_cryptomus.event(payment.external_id, "paid")
    assert notify("cryptomus", body.replace(b'"20.00000000"', b'"90.00000000"'), headers).status_code == 400
    assert deposits(payment) == [] and cust.balance() == 0


@pytest.mark.parametrize(
    "pay,reason",
    [
        (dict(status="wrong_amount", amount="12.5"), "Paid less than asked: received 12.50 of 20.00 USD"),
        (dict(status="paid", currency="EUR"), "Paid in EUR, not USD"),
    ],
)
def test_a_cryptomus_payment_that_does_not_match_needs_attention(
    cryptomus_gateway, fake_cryptomus, customer, pay, reason
):
    cust = customer(balance="0")
    payment = start(cust, "cryptomus", "20")
    fake_cryptomus.pay(payment.external_id, **pay)
    payment.refresh_from_db()
    assert payment.needs_attention and reason in payment.attention_reason
    assert deposits(payment) == [] and cust.balance() == 0


def test_a_lost_cryptomus_webhook_is_found_by_the_poll(cryptomus_gateway, fake_cryptomus, customer, conserved):
    cust = customer(balance="0")
    payment = start(cust, "cryptomus", "20")
    fake_cryptomus.drop_webhooks = True
    fake_cryptomus.pay(payment.external_id, "paid")
    assert poll_due(payment) == 1
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID and deposits(payment) == [Decimal(20)]
    assert any(r.path == "/v1/payment/info" for r in fake_cryptomus.requests)
    conserved(cust)


def test_a_cryptomus_invoice_that_ran_out_expires(cryptomus_gateway, fake_cryptomus, customer):
    cust = customer(balance="0")
    payment = start(cust, "cryptomus", "20")
    fake_cryptomus.expire(payment.external_id)
    payment.refresh_from_db()
    assert payment.state == Payment.State.EXPIRED and payment.due_at is None and deposits(payment) == []


def test_a_cryptomus_key_the_gateway_refuses_fails_the_start(cryptomus_gateway, customer, settings):
    settings.CRYPTOMUS_PAYMENT_KEY = "wrong"
    from smmpanel.payments.errors import PaymentError

    with pytest.raises(PaymentError) as refused:
        services.start_payment(customer(balance="0").account, "cryptomus", "20", return_url_base=RETURN_BASE)
    assert refused.value.code == "gateway_down"


# --- NOWPayments --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_finished_nowpayments_invoice_is_deposited_once_from_ten_ipns_at_once(
    nowpayments_gateway, fake_nowpayments, customer, conserved
):
    cust = customer(balance="0")
    payment = start(cust, "nowpayments", "20")
    assert fake_nowpayments.invoice(payment.external_id)["order_id"] == f"smm-{payment.pk}"
    fake_nowpayments.drop_webhooks = True
    fake_nowpayments.pay(payment.external_id, "finished")
    body, headers = fake_nowpayments.event(payment.external_id, "finished")
    assert list(json.loads(body)) != sorted(json.loads(body))  # sent unsorted; signed over the sorted keys

    statuses = in_threads(10, lambda: notify("nowpayments", body, headers).status_code)

    assert statuses == [200] * 10
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID and deposits(payment) == [Decimal(20)]
    assert payment.external_ref == str(fake_nowpayments.payment_for(payment.external_id)["payment_id"])
    conserved(cust)


def test_a_forged_nowpayments_ipn_is_refused(nowpayments_gateway, fake_nowpayments, customer):
    cust = customer(balance="0")
    payment = start(cust, "nowpayments", "20")
    fake_nowpayments.drop_webhooks = True
    fake_nowpayments.pay(payment.external_id, "waiting")
    body, headers = fake_nowpayments.event(payment.external_id, "finished", secret="not-the-ipn-secret")
    assert notify("nowpayments", body, headers).status_code == 400
    assert "x-nowpayments-sig" in last_note().result and not last_note().verified
    body, headers = fake_nowpayments.event(payment.external_id, "finished", actually_paid_at_fiat=20)
    altered = body.replace(b'"actually_paid_at_fiat":20', b'"actually_paid_at_fiat":200')
    assert altered != body and notify("nowpayments", altered, headers).status_code == 400
    assert deposits(payment) == [] and cust.balance() == 0


def test_a_partial_nowpayments_payment_waits_for_the_owner_until_it_is_finished(
    nowpayments_gateway, fake_nowpayments, customer, conserved
):
    cust = customer(balance="0")
    payment = start(cust, "nowpayments", "20")
    fake_nowpayments.pay(payment.external_id, "partially_paid", actually_paid="8")
    payment.refresh_from_db()
    assert payment.needs_attention and "received 8.00 of 20.00 USD" in payment.attention_reason
    assert deposits(payment) == []
    fake_nowpayments.pay(payment.external_id, "finished")  # the rest arrived
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID and not payment.needs_attention
    assert deposits(payment) == [Decimal(20)]
    conserved(cust)


def test_a_lost_nowpayments_ipn_is_found_by_the_poll(nowpayments_gateway, fake_nowpayments, customer, settings):
    cust = customer(balance="0")
    named = start(cust, "nowpayments", "20")  # the first IPN named its payment, the last was lost
    fake_nowpayments.pay(named.external_id, "waiting")
    fake_nowpayments.drop_webhooks = True
    fake_nowpayments.pay(named.external_id, "finished")
    unnamed = start(cust, "nowpayments", "5")  # no IPN at all: found through the payments list
    fake_nowpayments.pay(unnamed.external_id, "finished")

    assert poll_due(named) >= 1
    named.refresh_from_db()
    assert named.state == Payment.State.PAID and deposits(named) == [Decimal(20)]

    settings.NOWPAYMENTS_EMAIL, settings.NOWPAYMENTS_PASSWORD = fake_nowpayments.email, fake_nowpayments.password
    poll_due(unnamed)
    unnamed.refresh_from_db()
    assert unnamed.state == Payment.State.PAID and deposits(unnamed) == [Decimal(5)]
    assert cust.balance() == Decimal(25)
