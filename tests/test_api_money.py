"""Money as the customer sees it: charges, refunds, the ledger, and the refill rules."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from smmpanel.accounts.models import Account
from smmpanel.ledger import services as ledger
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Order, Refill
from smmpanel.orders.services import add_post_order, apply_refill_status, apply_status
from tests.conftest import money_is_conserved, new_link


def refunds_of(order_id):
    return list(LedgerEntry.objects.filter(order_id=order_id, kind="refund").values_list("reason", "amount"))


# --- refunds ---------------------------------------------------------------------------------


def test_a_partial_order_refunds_the_undelivered_share(api, customer, service, place):
    cust = customer("10")
    order_id = place(cust, service(rate="1"), quantity="1000")

    apply_status(order_id, "Partial", remains=250, start_count=3572)

    assert api(cust.key, "status", order=order_id) == {
        "charge": "0.75000",
        "start_count": "3572",
        "status": "Partial",
        "remains": "250",
        "currency": "USD",
    }
    assert api(cust.key, "balance")["balance"] == "9.25000"
    assert refunds_of(order_id) == [("partial", Decimal("0.25"))]
    money_is_conserved(cust)


@pytest.mark.parametrize(
    "remains, refund",
    [
        ("1", "0.00033"),  # 0.33333 × 1 / 1000 = 0.00033333
        ("5", "0.00167"),  # 0.00166665: half-up
        ("15", "0.00500"),  # 0.00499995
        ("999", "0.33300"),  # 0.33299667
    ],
)
def test_partial_refunds_are_rounded_half_up(api, customer, service, place, remains, refund):
    cust = customer("10")
    order_id = place(cust, service(rate="0.33333", min=1), quantity="1000")
    apply_status(order_id, "Partial", remains=remains)
    assert refunds_of(order_id) == [("partial", Decimal(refund))]
    assert api(cust.key, "status", order=order_id)["charge"] == str(Decimal("0.33333") - Decimal(refund))
    money_is_conserved(cust)


def test_a_partial_drip_feed_refunds_its_share_of_all_runs(api, customer, service, place):
    cust = customer("100")
    svc = service(rate="2", dripfeed=True)
    order_id = place(cust, svc, quantity="1000", runs="4", interval="10")  # 4000 units, 8.00
    apply_status(order_id, "Partial", remains=1000)
    assert refunds_of(order_id) == [("partial", Decimal(2))]
    assert api(cust.key, "status", order=order_id)["charge"] == "6.00000"
    money_is_conserved(cust)


def test_a_canceled_order_refunds_the_whole_charge(api, customer, service, place):
    cust = customer("10")
    order_id = place(cust, service(rate="3"), quantity="1000")
    assert api(cust.key, "balance")["balance"] == "7.00000"

    apply_status(order_id, "Canceled")

    assert api(cust.key, "status", order=order_id)["charge"] == "0.00000"
    assert api(cust.key, "status", order=order_id)["status"] == "Canceled"
    assert api(cust.key, "balance")["balance"] == "10.00000"
    money_is_conserved(cust)


def test_a_partial_that_delivered_nothing_is_canceled_with_a_full_refund(api, customer, service, place):
    cust = customer("10")
    order_id = place(cust, service(rate="1"), quantity="500")
    apply_status(order_id, "Partial", remains=500)
    assert api(cust.key, "status", order=order_id)["status"] == "Canceled"
    assert api(cust.key, "balance")["balance"] == "10.00000"


def test_a_partial_that_delivered_everything_is_completed_without_refund(api, customer, service, place):
    cust = customer("10")
    order_id = place(cust, service(rate="1"), quantity="500")
    apply_status(order_id, "Partial", remains=0)
    assert api(cust.key, "status", order=order_id)["status"] == "Completed"
    assert refunds_of(order_id) == []
    assert api(cust.key, "balance")["balance"] == "9.50000"


def test_a_completed_order_keeps_its_whole_charge(api, customer, service, place):
    cust = customer("10")
    order_id = place(cust, service(rate="1"), quantity="500")
    apply_status(order_id, "In progress", start_count=10, remains=200)
    apply_status(order_id, "Completed")
    assert api(cust.key, "status", order=order_id) == {
        "charge": "0.50000",
        "start_count": "10",
        "status": "Completed",
        "remains": "0",
        "currency": "USD",
    }
    assert refunds_of(order_id) == []


@pytest.mark.parametrize(
    "first, then",
    [
        (("Partial", 100), ("Partial", 100)),
        (("Partial", 100), ("Partial", 400)),
        (("Partial", 100), ("Canceled", None)),
        (("Canceled", None), ("Canceled", None)),
        (("Canceled", None), ("Partial", 100)),
        (("Completed", None), ("Canceled", None)),
    ],
)
def test_a_final_order_cannot_be_refunded_again(api, customer, service, place, first, then):
    cust = customer("10")
    order_id = place(cust, service(rate="1"), quantity="500")
    apply_status(order_id, first[0], remains=first[1])
    balance, rows = cust.balance(), LedgerEntry.objects.count()
    status = api(cust.key, "status", order=order_id)

    apply_status(order_id, then[0], remains=then[1])
    apply_status(order_id, then[0], remains=then[1])

    assert cust.balance() == balance and LedgerEntry.objects.count() == rows
    assert api(cust.key, "status", order=order_id) == status
    money_is_conserved(cust)


def test_the_ledger_pays_one_refund_per_order_and_reason(customer, service, place):
    cust = customer("10")
    order = Order.objects.get(pk=place(cust, service(rate="1"), quantity="1000"))

    assert ledger.refund(cust.account.pk, Decimal("0.4"), order, "partial") is not None
    assert ledger.refund(cust.account.pk, Decimal("0.4"), order, "partial") is None
    assert cust.balance() == Decimal("9.4") == cust.ledger_sum()


def test_the_database_itself_refuses_a_second_refund_row_for_the_same_reason(customer, service, place):
    cust = customer("10")
    order = Order.objects.get(pk=place(cust, service(rate="1"), quantity="1000"))
    row = dict(
        account_id=cust.account.pk,
        kind="refund",
        amount=Decimal("0.1"),
        balance_after=Decimal("9.1"),
        order=order,
        reason="partial",
    )
    LedgerEntry.objects.create(**row)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(**row)


def test_the_database_itself_refuses_a_negative_balance(customer):
    cust = customer("1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=cust.account.pk).update(balance=Decimal("-0.00001"))
    assert cust.balance() == Decimal(1)


def test_a_debit_larger_than_the_balance_changes_nothing(customer, service, place):
    cust = customer("1")
    order = Order.objects.get(pk=place(cust, service(rate="0"), quantity="100"))
    with pytest.raises(ledger.NotEnoughFunds), transaction.atomic():
        ledger.debit(cust.account.pk, Decimal("1.00001"), order)
    assert cust.balance() == Decimal(1) == cust.ledger_sum()


def test_an_adjustment_cannot_take_the_balance_below_zero(customer):
    cust = customer("5")
    with pytest.raises(ledger.NotEnoughFunds), transaction.atomic():
        ledger.adjust(cust.account, Decimal("-5.00001"), memo="too much")
    ledger.adjust(cust.account, Decimal(-5), memo="all of it")
    assert cust.balance() == 0 == cust.ledger_sum()


def test_the_ledger_sums_to_the_balance_through_a_customers_history(api, customer, service, place):
    cust = customer("20")
    svc = service(rate="1.23457", min=1, cancel=True)
    orders = [place(cust, svc, quantity=str(q)) for q in (1, 333, 1000, 4567, 999)]
    apply_status(orders[0], "Completed")
    apply_status(orders[1], "Partial", remains=111)
    apply_status(orders[2], "Canceled")
    apply_status(orders[3], "Partial", remains=4566)
    ledger.deposit(cust.account, Decimal("0.00001"))
    ledger.adjust(cust.account, Decimal("-1.5"), memo="correction")

    rows = list(LedgerEntry.objects.filter(account_id=cust.account.pk).order_by("id"))
    running = Decimal(0)
    for row in rows:
        running += row.amount
        assert row.balance_after == running
    assert api(cust.key, "balance")["balance"] == str(running)
    money_is_conserved(cust)


def test_a_failed_add_leaves_no_trace_in_the_ledger(api, customer, service):
    cust = customer("0.5")
    svc = service(rate="1")
    assert api(cust.key, "add", service=svc.pk, link=new_link(), quantity="1000") == {
        "error": "Not enough funds on balance"
    }
    assert LedgerEntry.objects.filter(account_id=cust.account.pk).count() == 1
    assert not Order.objects.exists()


# --- subscriptions ---------------------------------------------------------------------------


def subscription(api, cust, svc, **fields):
    params = {"username": "nasa", "min": "100", "max": "200", "delay": "0", **fields}
    return api(cust.key, "add", service=svc.pk, **params)["order"]


def test_a_prepaid_subscription_refunds_the_posts_it_did_not_use(api, customer, service):
    cust = customer("10")
    svc = service("Subscriptions", rate="1", min=10, max=1000)
    sub_id = subscription(api, cust, svc, posts="5", old_posts="2")  # 1 × 200 × 7 / 1000 = 1.40
    first = add_post_order(sub_id, number=1, link="https://instagram.com/p/1", quantity=150, old=False)
    second = add_post_order(sub_id, number=1, link="https://instagram.com/p/0", quantity=200, old=True)
    assert (first.charge, second.charge) == (Decimal("0.15"), Decimal("0.2"))
    assert cust.balance() == Decimal("8.6")  # the posts were paid up front

    body = api(cust.key, "status", order=sub_id)
    assert body["posts"] == "2" and body["orders"] == [first.pk, second.pk]
    assert body["charge"] == "1.40000"

    apply_status(sub_id, "Canceled")

    assert refunds_of(sub_id) == [("unused-posts", Decimal("1.05"))]
    assert api(cust.key, "status", order=sub_id)["charge"] == "0.35000"
    assert cust.balance() == Decimal("9.65")
    money_is_conserved(cust)


def test_a_refund_of_a_prepaid_subscriptions_order_reaches_the_customer_once(api, customer, service):
    cust = customer("10")
    svc = service("Subscriptions", rate="1", min=10, max=1000)
    sub_id = subscription(api, cust, svc, posts="2")  # 0.40
    child = add_post_order(sub_id, number=1, link="https://instagram.com/p/1", quantity=200, old=False)
    apply_status(child.pk, "Partial", remains=50)  # 0.05 back
    apply_status(sub_id, "Completed")  # 0.20 unused back
    apply_status(sub_id, "Canceled")

    assert api(cust.key, "status", order=sub_id)["charge"] == "0.15000"
    assert cust.balance() == Decimal("9.85")
    money_is_conserved(cust)


def test_a_pay_per_post_subscription_pays_each_order_and_pauses_when_funds_run_out(api, customer, service):
    cust = customer("0.25")
    svc = service("Subscriptions", rate="1", min=10, max=1000)
    sub_id = subscription(api, cust, svc, max="100", min="100")
    assert cust.balance() == Decimal("0.25")

    made = [
        add_post_order(sub_id, number=i + 1, link=f"https://instagram.com/p/{i}", quantity=100, old=False)
        for i in range(3)
    ]

    assert made[2] is None and all(o is not None for o in made[:2])
    body = api(cust.key, "status", order=sub_id)
    assert body["status"] == "Paused" and body["charge"] == "0.20000"
    assert body["posts"] == "2" and body["orders"] == [made[0].pk, made[1].pk]
    assert cust.balance() == Decimal("0.05")
    money_is_conserved(cust)

    ledger.deposit(cust.account, Decimal(1))
    resumed = add_post_order(sub_id, number=3, link="https://instagram.com/p/9", quantity=100, old=False)
    assert resumed is not None
    assert api(cust.key, "status", order=sub_id)["status"] == "Active"


def test_a_subscriptions_orders_are_the_customers_own_orders(api, customer, service):
    cust, other = customer("10"), customer("10")
    svc = service("Subscriptions", rate="1", min=10, max=1000)
    sub_id = subscription(api, cust, svc)
    child = add_post_order(sub_id, number=1, link="https://instagram.com/p/1", quantity=100, old=False)
    assert api(cust.key, "status", order=child.pk)["charge"] == "0.10000"
    assert api(other.key, "status", order=child.pk) == {"error": "Incorrect order ID"}
    assert api(other.key, "status", order=sub_id) == {"error": "Incorrect order ID"}


# --- refills ----------------------------------------------------------------------------------


@pytest.fixture
def refillable(customer, service, place):
    """A customer and their Completed order on a refill-enabled service (30-day period)."""
    cust = customer("10")
    svc = service(rate="1", refill=True, refill_days=30)
    order_id = place(cust, svc, quantity="100")
    apply_status(order_id, "Completed")
    return cust, svc, order_id


def test_a_refill_of_a_completed_order_moves_no_money(api, refillable):
    cust, _, order_id = refillable
    balance = cust.balance()
    refill_id = api(cust.key, "refill", order=order_id)["refill"]
    assert Refill.objects.get(pk=refill_id).order_id == order_id
    assert cust.balance() == balance
    money_is_conserved(cust)


@pytest.mark.parametrize(
    "status, remains",
    [("Pending", None), ("In progress", None), ("Processing", None), ("Partial", 50), ("Canceled", None)],
)
def test_only_completed_orders_can_be_refilled(api, customer, service, place, status, remains):
    cust = customer("10")
    order_id = place(cust, service(rate="1", refill=True), quantity="100")
    if status != "Pending":
        apply_status(order_id, status, remains=remains)
    assert api(cust.key, "refill", order=order_id) == {
        "error": f"Refill is available only for completed orders (this one is {status})"
    }
    assert not Refill.objects.exists()


def test_a_refill_after_the_refill_period_is_refused(api, customer, service, place):
    cust = customer("10")
    svc = service(rate="1", refill=True, refill_days=30)
    old = place(cust, svc, quantity="100")
    apply_status(old, "Completed", now=timezone.now() - timedelta(days=30, minutes=1))
    recent = place(cust, svc, quantity="100")
    apply_status(recent, "Completed", now=timezone.now() - timedelta(days=29, hours=23))

    assert api(cust.key, "refill", order=old) == {"error": "Refill period of 30 days has expired"}
    assert "refill" in api(cust.key, "refill", order=recent)


def test_only_one_refill_at_a_time_per_order(api, refillable):
    cust, _, order_id = refillable
    first = api(cust.key, "refill", order=order_id)["refill"]
    assert api(cust.key, "refill", order=order_id) == {"error": "A refill for this order is already in progress"}
    apply_refill_status(int(first), "In progress")
    assert api(cust.key, "refill", orders=str(order_id)) == [
        {"order": order_id, "refill": {"error": "A refill for this order is already in progress"}}
    ]

    apply_refill_status(int(first), "Completed")

    second = api(cust.key, "refill", order=order_id)["refill"]
    assert second != first
    apply_refill_status(int(second), "Rejected")
    assert "refill" in api(cust.key, "refill", order=order_id)
    assert Refill.objects.filter(order_id=order_id).count() == 3


def test_the_same_order_twice_in_one_multi_refill_gets_one_refill(api, refillable):
    cust, _, order_id = refillable
    body = api(cust.key, "refill", orders=f"{order_id},{order_id}")
    assert type(body[0]["refill"]) is int
    assert body[1] == {"order": order_id, "refill": {"error": "A refill for this order is already in progress"}}


def test_a_subscription_cannot_be_refilled(api, customer, service):
    cust = customer("10")
    svc = service("Subscriptions", rate="1", min=10, max=1000, refill=True)
    sub_id = subscription(api, cust, svc)
    apply_status(sub_id, "Completed")
    assert api(cust.key, "refill", order=sub_id) == {"error": "Refill is disabled for this service"}


def test_a_finished_refill_keeps_its_status(api, refillable):
    cust, _, order_id = refillable
    refill_id = int(api(cust.key, "refill", order=order_id)["refill"])
    apply_refill_status(refill_id, "Rejected")
    apply_refill_status(refill_id, "Completed")
    assert api(cust.key, "refill_status", refill=refill_id) == {"status": "Rejected"}
