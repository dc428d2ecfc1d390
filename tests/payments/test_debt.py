"""Refunds and chargebacks at the gateway take the money back through the ledger; what the balance no longer
holds becomes the customer's debt, which stops new orders (API and web say why) until a deposit pays it."""

from decimal import Decimal

import pytest
from django.urls import reverse

from smmpanel.accounts.models import Account
from smmpanel.ledger.models import LedgerEntry
from smmpanel.payments import services
from smmpanel.payments.models import Payment
from tests.conftest import new_link
from tests.payments.conftest import RETURN_BASE, deposits, in_threads, notify

# Threads of a test have connections of their own: those tests commit (transaction=True); the others
# run in a transaction rolled back at the end, much cheaper than emptying every table on PostgreSQL.
pytestmark = [
    pytest.mark.django_db,
    # The stripe library's own httpx call (data= with bytes), not ours.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning"),
]

IN_DEBT = "Your account owes 15.00 USD after a refunded payment: add funds to settle it before placing new orders"


def paid(fake_stripe, cust, amount: str) -> Payment:
    payment = services.start_payment(cust.account, "stripe", amount, return_url_base=RETURN_BASE)
    fake_stripe.pay(payment.external_id)
    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID
    return payment


def debt(cust) -> Decimal:
    return Account.objects.get(pk=cust.account.pk).debt


def test_a_refund_after_the_money_was_spent_leaves_a_debt_that_stops_orders_until_paid(
    stripe_gateway, fake_stripe, customer, service, api, client, conserved
):
    cust = customer(balance="0")
    svc = service(rate="1", min=10, max=100000)
    payment = paid(fake_stripe, cust, "20")
    assert set(api(cust.key, "add", service=svc.pk, link=new_link(), quantity=15000)) == {"order"}  # 15 USD spent

    fake_stripe.refund(payment.external_id)  # all 20 USD back to the card

    payment.refresh_from_db()
    assert payment.state == Payment.State.REFUNDED and payment.refunded == Decimal(20)
    assert cust.balance() == 0 and debt(cust) == Decimal(15)
    taken = LedgerEntry.objects.get(payment=payment, kind="chargeback")
    assert taken.amount == Decimal(-5) and "15.00000 USD owed" in taken.memo
    conserved(cust)

    # No new order, and the customer is told why: through the API (JSON) and on the page.
    assert api(cust.key, "add", service=svc.pk, link=new_link(), quantity=100) == {"error": IN_DEBT}
    client.force_login(cust.user)
    page = client.post(reverse("web:new-order"), {"service": svc.pk, "link": new_link(), "quantity": "100"})
    assert page.status_code == 200 and IN_DEBT in page.content.decode()
    assert cust.orders().count() == 1

    # Stripe repeats the event: nothing more is taken, no more debt.
    body, headers = fake_stripe.event("charge.refunded", fake_stripe.charge_for(payment.external_id))
    assert notify("stripe", body, headers).status_code == 200
    assert debt(cust) == Decimal(15) and cust.balance() == 0

    # The next deposit pays the debt first; then orders go through again.
    settling = paid(fake_stripe, cust, "30")
    assert deposits(settling) == [Decimal(30)]
    assert LedgerEntry.objects.get(payment=settling, kind="debt").amount == Decimal(-15)
    assert cust.balance() == Decimal(15) and debt(cust) == 0
    assert set(api(cust.key, "add", service=svc.pk, link=new_link(), quantity=100)) == {"order"}
    conserved(cust)


def test_partial_refunds_each_take_back_their_share_once(stripe_gateway, fake_stripe, customer, conserved):
    cust = customer(balance="0")
    stripe_gateway.bonuses.create(min_amount=Decimal(10), percent=Decimal(10))
    payment = paid(fake_stripe, cust, "20")
    assert cust.balance() == Decimal(22)  # 20 + the 10 % bonus

    fake_stripe.refund(payment.external_id, 500)  # 5 of 20 USD: a quarter of what was given (22)
    first = fake_stripe.events[-1]
    assert cust.balance() == Decimal("16.5")
    fake_stripe.refund(payment.external_id, 500)
    assert cust.balance() == Decimal(11)
    body, headers = fake_stripe.signed(first)  # the first refund's event again, late
    assert notify("stripe", body, headers).status_code == 200
    assert cust.balance() == Decimal(11)
    fake_stripe.refund(payment.external_id)  # the rest: all that was given is back, bonus included
    assert cust.balance() == 0 and debt(cust) == 0
    assert LedgerEntry.objects.filter(payment=payment, kind="chargeback").count() == 3
    conserved(cust)


@pytest.mark.django_db(transaction=True)
def test_the_same_refund_ten_times_at_once_is_taken_back_once(stripe_gateway, fake_stripe, customer, conserved):
    cust = customer(balance="0")
    payment = paid(fake_stripe, cust, "20")
    fake_stripe.drop_webhooks = True
    fake_stripe.refund(payment.external_id)
    body, headers = fake_stripe.signed(fake_stripe.events[-1])

    assert in_threads(10, lambda: notify("stripe", body, headers).status_code) == [200] * 10

    assert list(LedgerEntry.objects.filter(payment=payment, kind="chargeback").values_list("amount", flat=True)) == [
        Decimal(-20)
    ]
    assert cust.balance() == 0 and debt(cust) == 0
    conserved(cust)


def test_a_chargeback_takes_the_payment_back_and_marks_it_disputed(stripe_gateway, fake_stripe, customer, conserved):
    cust = customer(balance="3")
    payment = paid(fake_stripe, cust, "20")
    fake_stripe.dispute(payment.external_id)
    payment.refresh_from_db()
    assert payment.state == Payment.State.DISPUTED
    assert cust.balance() == Decimal(3) and debt(cust) == 0
    conserved(cust)


def test_a_dispute_after_a_partial_refund_takes_back_only_the_rest(stripe_gateway, fake_stripe, customer, conserved):
    cust = customer(balance="0")
    payment = paid(fake_stripe, cust, "20")
    fake_stripe.refund(payment.external_id, 500)
    assert cust.balance() == Decimal(15)
    fake_stripe.dispute(payment.external_id)  # the cardholder disputes the whole charge (20)
    assert cust.balance() == 0 and debt(cust) == 0  # 15 more, not 20: the refund's 5 went back already
    payment.refresh_from_db()
    assert payment.state == Payment.State.DISPUTED and payment.refunded == Decimal(20)
    conserved(cust)


def test_an_owners_deposit_pays_the_debt_first_too(stripe_gateway, fake_stripe, customer, conserved):
    from smmpanel.ledger import services as ledger

    cust = customer(balance="0")
    payment = paid(fake_stripe, cust, "20")
    ledger.adjust(cust.account, Decimal(-20), memo="spent")
    fake_stripe.refund(payment.external_id)
    assert debt(cust) == Decimal(20)
    ledger.deposit(cust.account, Decimal(25), memo="Bank transfer, entered by the owner")
    assert cust.balance() == Decimal(5) and debt(cust) == 0
    conserved(cust)


def test_a_subscription_paid_post_by_post_is_refused_too_while_in_debt(customer, service, api, gateway, conserved):
    from smmpanel.ledger import services as ledger

    gateway("manual")
    cust = customer(balance="0")
    payment = services.submit_manual(cust.account, "manual", "15", "ref")
    services.approve_manual(payment.pk, None)
    ledger.adjust(cust.account, Decimal(-15), memo="spent")
    ledger.take_back(cust.account.pk, Decimal(15), payment.pk, "refund:all", "the bank took it back")
    svc = service("Subscriptions", rate="1", min=10, max=1000)
    # No `posts`: nothing is charged now, each post's order later; refused now all the same.
    answer = api(cust.key, "add", service=svc.pk, username="nasa", min=100, max=200, delay=0, expiry="31/12/2099")
    assert answer == {"error": IN_DEBT}
    assert not cust.orders().exists()
    conserved(cust)
