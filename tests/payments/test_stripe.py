"""Stripe Checkout against the fake Stripe: a paid session is deposited exactly once, whatever arrives how often;
what is not Stripe's verified word (a forged, old or oversized notification) credits nothing."""

import json
import time
from decimal import Decimal

import pytest
from django.db import connection

from smmpanel.accounts.models import Account
from smmpanel.ledger.models import LedgerEntry
from smmpanel.payments import services
from smmpanel.payments.models import Gateway, Notification, Payment
from tests.payments.conftest import RETURN_BASE, in_threads, notify

# Threads of a test have connections of their own: those tests commit (transaction=True); the others
# run in a transaction rolled back at the end, much cheaper than emptying every table on PostgreSQL.
pytestmark = [
    pytest.mark.django_db,
    # The stripe library's own httpx call (data= with bytes), not ours.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning"),
]


def deposits(payment) -> list:
    return list(LedgerEntry.objects.filter(payment=payment, kind="deposit").values_list("amount", flat=True))


def start(cust, amount="20"):
    payment = services.start_payment(cust.account, "stripe", amount, return_url_base=RETURN_BASE)
    assert payment.state == Payment.State.PENDING and payment.external_id.startswith("cs_test_")
    return payment


def test_an_env_configured_stripe_is_enabled_with_defaults(stripe_gateway):
    gw = stripe_gateway
    assert (gw.name, gw.kind, gw.enabled) == ("stripe", "stripe", True)
    assert (gw.min_amount, gw.max_amount, gw.fee_percent, gw.fee_fixed) == (Decimal(1), Decimal(10000), 0, 0)
    assert not gw.bonuses.exists()
    assert gw.api_key == ""  # the key stays in the environment, not copied into the database


def test_a_paid_checkout_is_deposited_once(stripe_gateway, fake_stripe, customer, conserved):
    cust = customer(balance="0")
    payment = start(cust, "20")
    session = fake_stripe.session(payment.external_id)
    assert session["amount_total"] == 2000 and session["currency"] == "usd"
    assert session["client_reference_id"] == str(payment.pk)
    assert payment.checkout_url == session["url"]

    fake_stripe.pay(payment.external_id)

    assert [d.status for d in fake_stripe.delivered()] == [200]  # checkout.session.completed
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID and payment.credited == Decimal(20)
    assert payment.external_ref.startswith("pi_")
    assert deposits(payment) == [Decimal(20)]
    assert cust.balance() == Decimal(20)
    note = Notification.objects.filter(payment=payment).order_by("id").first()
    assert note.verified and "credited 20" in note.result and "Stripe-Signature" in note.headers
    conserved(cust)


def test_a_customer_paid_fee_and_a_bonus_are_applied_once(stripe_gateway, fake_stripe, customer, conserved):
    Gateway.objects.filter(pk=stripe_gateway.pk).update(fee_percent=Decimal("3"), fee_fixed=Decimal("0.30"))
    stripe_gateway.bonuses.create(min_amount=Decimal(100), percent=Decimal(5))
    cust = customer(balance="0")
    payment = start(cust, "100")
    assert (payment.fee, payment.bonus, payment.to_pay) == (Decimal("3.3"), Decimal(5), Decimal("103.3"))
    assert fake_stripe.session(payment.external_id)["amount_total"] == 10330  # the customer pays the fee
    fake_stripe.pay(payment.external_id)
    body, headers = fake_stripe.event("checkout.session.completed", payment.external_id)
    assert notify("stripe", body, headers).status_code == 200  # a repeat: nothing more
    assert cust.balance() == Decimal(105)
    assert sorted(LedgerEntry.objects.filter(payment=payment).values_list("kind", "amount")) == [
        ("bonus", Decimal(5)),
        ("deposit", Decimal(100)),
    ]
    conserved(cust)


def _paid_but_not_told(fake_stripe, cust, amount="20"):
    fake_stripe.drop_webhooks = True
    payment = start(cust, amount)
    fake_stripe.pay(payment.external_id)
    fake_stripe.drop_webhooks = False
    return payment


@pytest.mark.django_db(transaction=True)
def test_the_same_webhook_ten_times_at_once_deposits_once(stripe_gateway, fake_stripe, customer, conserved):
    cust = customer(balance="0")
    payment = _paid_but_not_told(fake_stripe, cust)
    body, headers = fake_stripe.event("checkout.session.completed", payment.external_id)

    statuses = in_threads(10, lambda: notify("stripe", body, headers).status_code)

    assert statuses == [200] * 10
    assert deposits(payment) == [Decimal(20)]
    assert cust.balance() == Decimal(20)
    assert Notification.objects.filter(payment=payment, verified=True).count() == 10
    conserved(cust)


@pytest.mark.django_db(transaction=True)
def test_control_without_the_constraint_the_same_webhook_deposits_many_times(stripe_gateway, fake_stripe, customer):
    """The race the constraint stops is real: without it, the concurrent webhooks each deposit."""
    cust = customer(balance="0")
    payment = _paid_but_not_told(fake_stripe, cust)
    body, headers = fake_stripe.event("checkout.session.completed", payment.external_id)
    constraint = next(c for c in LedgerEntry._meta.constraints if c.name == "one_deposit_per_payment")
    with connection.schema_editor() as editor:
        editor.remove_constraint(LedgerEntry, constraint)
    try:
        in_threads(10, lambda: notify("stripe", body, headers).status_code)
        assert len(deposits(payment)) > 1
    finally:
        LedgerEntry.objects.filter(payment=payment).delete()
        Account.objects.filter(pk=cust.account.pk).update(balance=0)  # as it was before the control
        with connection.schema_editor() as editor:
            editor.add_constraint(LedgerEntry, constraint)


def _refused(payment, response, words: str):
    assert response.status_code == 400
    note = Notification.objects.order_by("-id").first()
    assert not note.verified and words in note.result, note.result
    assert deposits(payment) == []
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING


def test_a_forged_signature_is_refused_recorded_and_credits_nothing(stripe_gateway, fake_stripe, customer):
    cust = customer(balance="0")
    payment = _paid_but_not_told(fake_stripe, cust)
    body, headers = fake_stripe.event("checkout.session.completed", payment.external_id, secret="whsec_not_ours")
    _refused(payment, notify("stripe", body, headers), "signature")
    assert Notification.objects.order_by("-id").first().body == body.decode()  # the raw body, kept
    # Altered after signing: the amount doubled.
    body, headers = fake_stripe.event("checkout.session.completed", payment.external_id)
    _refused(payment, notify("stripe", body.replace(b'"amount_total": 2000', b'"amount_total": 4000'), headers), "")
    assert cust.balance() == 0


def test_an_event_older_than_the_tolerance_is_refused(stripe_gateway, fake_stripe, customer):
    cust = customer(balance="0")
    payment = _paid_but_not_told(fake_stripe, cust)
    old = int(time.time()) - 301
    body, headers = fake_stripe.event("checkout.session.completed", payment.external_id, timestamp=old)
    _refused(payment, notify("stripe", body, headers), "signature")


def test_a_body_over_the_limit_is_refused_unread(stripe_gateway, fake_stripe, customer, settings):
    cust = customer(balance="0")
    payment = _paid_but_not_told(fake_stripe, cust)
    session = dict(fake_stripe.session(payment.external_id), metadata={"padding": "x" * 70_000})
    body, headers = fake_stripe.event("checkout.session.completed", session)  # correctly signed, but too big
    assert len(body) > settings.PAYMENTS_NOTIFY_MAX_BYTES
    _refused(payment, notify("stripe", body, headers), "body over")


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"amount_total": 1500}, "Paid less than asked: received 15.00 of 20.00 USD"),
        ({"currency": "eur"}, "Paid in EUR, not USD"),
    ],
)
def test_a_payment_that_does_not_match_needs_attention_and_credits_nothing(
    stripe_gateway, fake_stripe, customer, change, reason
):
    cust = customer(balance="0")
    payment = _paid_but_not_told(fake_stripe, cust)
    body, headers = fake_stripe.event(
        "checkout.session.completed", {**fake_stripe.session(payment.external_id), **change}
    )
    assert notify("stripe", body, headers).status_code == 200
    payment.refresh_from_db()
    assert payment.needs_attention and reason in payment.attention_reason
    assert deposits(payment) == [] and cust.balance() == 0

    # The owner decides: credit 15 USD. Twice clicked, once credited.
    assert services.settle_attention(payment.pk, cust.user, Decimal(15)) is True
    assert services.settle_attention(payment.pk, cust.user, Decimal(15)) is False
    assert deposits(payment) == [Decimal(15)] and cust.balance() == Decimal(15)


def test_a_payment_set_aside_may_be_settled_without_credit_once(stripe_gateway, fake_stripe, customer):
    cust = customer(balance="0")
    payment = _paid_but_not_told(fake_stripe, cust)
    body, headers = fake_stripe.event(
        "checkout.session.completed", {**fake_stripe.session(payment.external_id), "currency": "eur"}
    )
    notify("stripe", body, headers)
    assert services.settle_attention(payment.pk, cust.user) is True
    assert services.settle_attention(payment.pk, cust.user) is False
    payment.refresh_from_db()
    assert not payment.needs_attention and "without credit" in payment.attention_reason
    assert deposits(payment) == [] and cust.balance() == 0


def test_an_unknown_payment_is_recorded_for_the_owner_and_credits_nothing(stripe_gateway, fake_stripe, customer):
    cust = customer(balance="0")
    payment = _paid_but_not_told(fake_stripe, cust)
    session = {**fake_stripe.session(payment.external_id), "id": "cs_test_unknown", "client_reference_id": "999999"}
    body, headers = fake_stripe.event("checkout.session.completed", session)
    assert notify("stripe", body, headers).status_code == 200  # Stripe must not retry it forever
    note = Notification.objects.order_by("-id").first()
    assert note.verified and note.needs_attention and "unknown payment" in note.result and note.payment is None
    assert not LedgerEntry.objects.filter(kind="deposit", payment__isnull=False).exists()


def test_an_expired_checkout_ends_and_an_async_payment_is_credited_when_it_settles(
    stripe_gateway, fake_stripe, customer, conserved
):
    cust = customer(balance="0")
    expired = start(cust, "5")
    fake_stripe.expire(expired.external_id)
    expired.refresh_from_db()
    assert expired.state == Payment.State.EXPIRED and expired.due_at is None

    later = start(cust, "7")
    fake_stripe.pay(later.external_id, async_=True)
    later.refresh_from_db()
    assert later.state == Payment.State.PENDING and deposits(later) == []
    fake_stripe.settle_async(later.external_id, ok=True)
    later.refresh_from_db()
    assert later.state == Payment.State.PAID and cust.balance() == Decimal(7)
    conserved(cust)


@pytest.mark.django_db(transaction=True)
def test_a_lost_webhook_is_found_by_the_poll_of_two_workers_at_once(stripe_gateway, fake_stripe, customer, conserved):
    from django.utils import timezone

    from smmpanel.worker import loop

    cust = customer(balance="0")
    payment = _paid_but_not_told(fake_stripe, cust)
    assert fake_stripe.delivered() == []
    due = timezone.now() + (payment.due_at - payment.created) + timezone.timedelta(seconds=1)

    handled = in_threads(2, lambda: loop.run_once(due))  # two workers' passes at once

    assert sum(handled) >= 1
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID and payment.due_at is None and payment.claim_token is None
    assert deposits(payment) == [Decimal(20)]
    # The webhook that comes after all changes nothing.
    body, headers = fake_stripe.event("checkout.session.completed", payment.external_id)
    assert notify("stripe", body, headers).status_code == 200
    assert cust.balance() == Decimal(20)
    conserved(cust)


@pytest.mark.django_db(transaction=True)
def test_webhooks_racing_polls_deposit_once(stripe_gateway, fake_stripe, customer, conserved):
    cust = customer(balance="0")
    payment = _paid_but_not_told(fake_stripe, cust)
    body, headers = fake_stripe.event("checkout.session.completed", payment.external_id)
    calls = iter([lambda: services.refresh(payment.pk), lambda: notify("stripe", body, headers)] * 3)
    jobs = [next(calls) for _ in range(6)]
    in_threads(6, lambda: jobs.pop()())
    assert deposits(payment) == [Decimal(20)] and cust.balance() == Decimal(20)
    conserved(cust)


def test_the_return_page_may_ask_stripe_and_never_credits_an_unpaid_session(stripe_gateway, fake_stripe, customer):
    cust = customer(balance="0")
    payment = start(cust, "9")
    assert services.refresh(payment.pk).state == Payment.State.PENDING  # not paid: nothing happens
    fake_stripe.drop_webhooks = True
    fake_stripe.pay(payment.external_id)
    assert services.refresh(payment.pk).state == Payment.State.PAID
    assert cust.balance() == Decimal(9)


def test_a_gateway_that_refuses_our_key_fails_the_start_with_words(stripe_gateway, customer, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_wrong"
    cust = customer(balance="0")
    from smmpanel.payments.errors import PaymentError

    with pytest.raises(PaymentError) as refused:
        services.start_payment(cust.account, "stripe", "10", return_url_base=RETURN_BASE)
    assert refused.value.code == "gateway_down"
    assert Payment.objects.get().state == Payment.State.FAILED


def test_stripe_events_are_json_the_notification_keeps(stripe_gateway, fake_stripe, customer):
    cust = customer(balance="0")
    payment = start(cust, "3")
    fake_stripe.pay(payment.external_id)
    note = Notification.objects.filter(payment=payment).order_by("id").first()
    assert json.loads(note.body)["type"] == "checkout.session.completed"
