"""Gateways as the owner sets them up: keys from the environment win over the admin's, fees and bonuses,
`smmpanel gateway list`, and the notification endpoint's manners (CSRF-exempt, POST only, known names)."""

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from smmpanel.payments import gateways, services
from smmpanel.payments.models import Gateway, Notification, Payment
from smmpanel.worker import payments as payment_job
from tests.payments.conftest import RETURN_BASE, deposits

pytestmark = [
    pytest.mark.django_db,
    # The stripe library's own httpx call (data= with bytes), not ours.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning"),
]


def test_keys_from_the_environment_win_over_the_admins(fake_stripe, settings, customer):
    gw = Gateway.objects.create(
        name="card", kind="stripe", enabled=True, api_key="sk_test_stale_admin_key", webhook_secret="whsec_old"
    )
    settings.STRIPE_API_BASE = fake_stripe.base_url
    cust = customer(balance="0")
    from smmpanel.payments.errors import PaymentError

    with pytest.raises(PaymentError):  # the admin's stale key: the fake refuses it
        services.start_payment(cust.account, "card", "10", return_url_base=RETURN_BASE)
    settings.STRIPE_SECRET_KEY = fake_stripe.secret_key
    settings.STRIPE_WEBHOOK_SECRET = fake_stripe.webhook_secret
    payment = services.start_payment(cust.account, "card", "10", return_url_base=RETURN_BASE)
    assert payment.state == Payment.State.PENDING
    gw.refresh_from_db()
    assert gw.api_key == "sk_test_stale_admin_key"  # the environment's key is never written to the database
    # The environment configured stripe, but the owner's own gateway of that kind is the one kept.
    assert list(Gateway.objects.values_list("name", flat=True)) == ["card"]


def test_keys_set_in_the_admin_alone_work(fake_stripe, settings, customer):
    Gateway.objects.create(
        name="card",
        kind="stripe",
        enabled=True,
        api_key=fake_stripe.secret_key,
        webhook_secret=fake_stripe.webhook_secret,
    )
    settings.STRIPE_API_BASE = fake_stripe.base_url
    payment = services.start_payment(customer(balance="0").account, "card", "10", return_url_base=RETURN_BASE)
    assert payment.checkout_url.startswith(fake_stripe.base_url)


def test_only_enabled_gateways_within_their_limits_take_payments(gateway, customer):
    gateway("manual", enabled=False)
    cust = customer(balance="0")
    from smmpanel.payments.errors import PaymentError

    with pytest.raises(PaymentError) as refused:
        services.submit_manual(cust.account, "manual", "10", "ref")
    assert refused.value.code == "unknown_gateway"
    assert gateways.enabled() == []


def test_a_gateway_whose_keys_are_missing_is_not_offered(gateway, customer):
    gateway("stripe", name="card")  # enabled, but no key anywhere
    gateway("manual")
    assert [g.name for g in gateways.enabled()] == ["manual"]
    from smmpanel.payments.errors import PaymentError

    with pytest.raises(PaymentError) as refused:
        services.start_payment(customer(balance="0").account, "card", "10", return_url_base=RETURN_BASE)
    assert refused.value.code == "unknown_gateway"


def test_fee_and_bonus_are_computed_from_the_gateways_rules(gateway):
    gw = gateway(
        "manual",
        fee_percent=Decimal("2.5"),
        fee_fixed=Decimal("0.25"),
        bonuses=[("50", "5"), ("100", "10")],
    )
    assert gateways.fee(gw, Decimal(10)) == Decimal("0.5")
    assert gateways.fee(gw, Decimal("10.1")) == Decimal("0.5")  # whole cents: 0.5025 → 0.50
    assert gateways.bonus(gw, Decimal(49)) == 0
    assert gateways.bonus(gw, Decimal(50)) == Decimal("2.5")
    assert gateways.bonus(gw, Decimal(200)) == Decimal(20)  # the best rule reached


def test_an_owner_absorbed_fee_is_not_charged_to_the_customer(gateway, customer, conserved):
    gateway("manual", fee_percent=Decimal(3), fee_payer="owner")
    cust = customer(balance="0")
    payment = services.submit_manual(cust.account, "manual", "100", "ref")
    assert (payment.fee, payment.to_pay) == (Decimal(3), Decimal(100))
    services.approve_manual(payment.pk, None)
    assert cust.balance() == Decimal(100)
    conserved(cust)


def test_a_customer_paid_fee_is_added_to_what_the_transfer_asks_and_not_credited(gateway, customer, conserved):
    gateway("manual", fee_percent=Decimal(2), fee_fixed=Decimal(1))
    cust = customer(balance="0")
    payment = services.submit_manual(cust.account, "manual", "50", "ref")
    assert (payment.fee, payment.to_pay) == (Decimal(2), Decimal(52))
    services.approve_manual(payment.pk, None)
    payment.refresh_from_db()
    assert (payment.credited, payment.amount_received) == (Decimal(50), Decimal(52))
    assert cust.balance() == Decimal(50)
    conserved(cust)


def test_gateway_list_shows_names_limits_and_the_absolute_notification_url(gateway, fake_stripe, settings):
    settings.SITE_ORIGIN = "https://panel.example.com"
    settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET = "sk_test_x", "whsec_x"
    gateway("manual", position=1)
    out = StringIO()
    call_command("gateway", "list", "--json", stdout=out)
    rows = {row["name"]: row for row in json.loads(out.getvalue())}
    assert rows["stripe"] == {
        "name": "stripe",
        "kind": "stripe",
        "enabled": True,
        "min": "1.00000",
        "max": "10000.00000",
        "keys": "env",
        "notify_url": "https://panel.example.com/payments/notify/stripe/",
    }
    assert rows["manual"]["notify_url"] == "" and rows["manual"]["keys"] == ""
    out = StringIO()
    call_command("gateway", "list", stdout=out)
    assert "notifications: https://panel.example.com/payments/notify/stripe/" in out.getvalue()
    assert "sk_test_x" not in out.getvalue()


def test_the_notification_endpoint_is_csrf_exempt_post_only_and_knows_its_gateways(stripe_gateway, fake_stripe):
    client = Client(enforce_csrf_checks=True)
    body, headers = fake_stripe.event("checkout.session.expired", {"id": "cs_test_nobody", "object": "x"})
    answer = client.post(
        "/payments/notify/stripe/",
        body,
        content_type="application/json",
        headers={"Stripe-Signature": headers["Stripe-Signature"]},
    )
    assert answer.status_code == 200  # not 403: a gateway has no CSRF token
    assert client.get("/payments/notify/stripe/").status_code == 405
    assert client.post("/payments/notify/nosuch/", b"{}", content_type="application/json").status_code == 404
    assert Notification.objects.count() == 1


def test_the_poll_stops_after_its_days_and_asks_the_owner(stripe_gateway, customer, settings):
    cust = customer(balance="0")
    payment = services.start_payment(cust.account, "stripe", "10", return_url_base=RETURN_BASE)
    later = payment.created + timedelta(days=settings.PAYMENTS_POLL_DAYS, hours=1)
    Payment.objects.filter(pk=payment.pk).update(due_at=later)
    assert payment_job.run_once(later, 60) == 1
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING and payment.due_at is None
    assert payment.needs_attention and "No final answer" in payment.attention_reason
    assert deposits(payment) == []


def test_a_gateway_that_cannot_be_asked_is_asked_again_later(stripe_gateway, customer, settings):
    cust = customer(balance="0")
    payment = services.start_payment(cust.account, "stripe", "10", return_url_base=RETURN_BASE)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    assert services.refresh(payment.pk, quiet=True).state == Payment.State.PENDING
    payment.refresh_from_db()
    assert payment_job.run_once(payment.due_at, 60) == 1
    retried = Payment.objects.get(pk=payment.pk)
    assert retried.attempts == 1 and retried.due_at > payment.due_at and retried.claim_token is None
