"""Manual transfers: the customer submits amount + reference, the owner approves once (one deposit) or rejects."""

import threading
from decimal import Decimal

import pytest

from smmpanel.ledger.models import LedgerEntry
from smmpanel.payments import services
from smmpanel.payments.errors import PaymentError
from smmpanel.payments.models import Payment

# Threads of a test have connections of their own: those tests commit (transaction=True); the others
# run in a transaction rolled back at the end, much cheaper than emptying every table on PostgreSQL.
pytestmark = pytest.mark.django_db


def deposits(payment) -> list:
    return list(LedgerEntry.objects.filter(payment=payment, kind="deposit").values_list("amount", flat=True))


def test_an_approved_transfer_is_deposited_once_however_often_it_is_approved(customer, gateway, conserved):
    gateway("manual", instructions="IBAN DE00 …", bonuses=[(Decimal(50), Decimal(10))])
    cust = customer(balance="0")
    payment = services.submit_manual(cust.account, "manual", "60", "SEPA ref 123")
    assert payment.state == Payment.State.PENDING and payment.bonus == Decimal("6")

    assert services.approve_manual(payment.pk, cust.user) is True
    assert services.approve_manual(payment.pk, cust.user) is False  # the second click changes nothing

    payment.refresh_from_db()
    assert payment.state == Payment.State.PAID and payment.credited == Decimal(60)
    assert deposits(payment) == [Decimal(60)]
    assert cust.balance() == Decimal(66)  # and the bonus, once
    conserved(cust)


@pytest.mark.django_db(transaction=True)
def test_approvals_racing_each_other_deposit_once(customer, gateway, conserved):
    gateway("manual")
    cust = customer(balance="0")
    payment = services.submit_manual(cust.account, "manual", "25", "ref")
    barrier, results = threading.Barrier(8), []

    def approve():
        from django.db import connection

        try:
            barrier.wait(timeout=10)
            results.append(services.approve_manual(payment.pk, None))
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == [False] * 7 + [True]
    assert deposits(payment) == [Decimal(25)]
    assert cust.balance() == Decimal(25)
    conserved(cust)


def test_a_rejected_transfer_credits_nothing_and_a_credited_one_cannot_be_rejected(customer, gateway, conserved):
    gateway("manual")
    cust = customer(balance="0")
    rejected = services.submit_manual(cust.account, "manual", "10", "ref A")
    assert services.reject_manual(rejected.pk, None, "no such transfer") is True
    assert services.reject_manual(rejected.pk, None) is False
    rejected.refresh_from_db()
    assert rejected.state == Payment.State.CANCELED and deposits(rejected) == []

    approved = services.submit_manual(cust.account, "manual", "10", "ref B")
    services.approve_manual(approved.pk, None)
    with pytest.raises(PaymentError) as refused:
        services.reject_manual(approved.pk, None)
    assert refused.value.code == "already_credited"
    assert cust.balance() == Decimal(10)
    conserved(cust)


@pytest.mark.parametrize(
    "amount,reference,code",
    [
        ("0.5", "ref", "below_min"),
        ("20000", "ref", "above_max"),
        ("abc", "ref", "bad_amount"),
        ("5", "", "bad_reference"),
    ],
)
def test_a_transfer_outside_the_gateways_limits_is_refused(customer, gateway, amount, reference, code):
    gateway("manual")
    cust = customer(balance="0")
    with pytest.raises(PaymentError) as refused:
        services.submit_manual(cust.account, "manual", amount, reference)
    assert refused.value.code == code
    assert not Payment.objects.exists()
