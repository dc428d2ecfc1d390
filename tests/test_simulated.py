"""Simulated fulfilment driven by the worker: orders, drip-feed, subscriptions, cancels, refills.

Time is passed to the worker explicitly (`run_once(now=…)`), so the tests see
minutes of progress without waiting for them.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from smmpanel.ledger import services as ledger
from smmpanel.orders import services
from smmpanel.orders.models import Order, Refill, Status
from smmpanel.orders.validation import validate_order
from smmpanel.worker.loop import run_once

from .conftest import money_is_conserved


def place(cust, service, **fields):
    return services.place_order(cust.account.pk, validate_order(service, fields))


def run_until(order, seconds, step=1):
    """Run the worker over `seconds` of simulated time after the order was placed."""
    start = order.created
    for t in range(0, seconds + 1, step):
        run_once(now=start + timedelta(seconds=t))
    order.refresh_from_db()
    return order


@pytest.fixture
def sim_service(service):
    def make(**fields):
        fields.setdefault("fulfilment", "simulated")
        fields.setdefault("sim_units_per_minute", 6000)  # 100 units a second
        return service(**fields)

    return make


def test_an_order_starts_then_completes_by_itself(customer, sim_service):
    cust = customer("10")
    order = place(cust, sim_service(rate="1"), link="https://x.test/a", quantity="1000")
    assert order.status == Status.PENDING

    run_once(now=order.created + timedelta(seconds=3))
    order.refresh_from_db()
    assert order.status == Status.IN_PROGRESS
    assert order.start_count > 0

    run_once(now=order.created + timedelta(seconds=8))
    order.refresh_from_db()
    assert order.status == Status.IN_PROGRESS
    assert 0 < order.remains < 1000

    order = run_until(order, 20)
    assert (order.status, order.remains) == (Status.COMPLETED, 0)
    assert order.charge - order.refunded == Decimal("1.00000")
    money_is_conserved(cust)


def test_an_order_that_stops_short_ends_partial_and_is_refunded(customer, sim_service):
    cust = customer("10")
    order = place(cust, sim_service(rate="2", sim_partial_percent=100), link="https://x.test/p", quantity="1000")
    order = run_until(order, 20)
    assert order.status == Status.PARTIAL
    assert 0 < order.remains < 1000
    expected_refund = (Decimal("2.00000") * order.remains / 1000).quantize(Decimal("0.00001"))
    assert order.refunded == expected_refund
    assert cust.balance() == Decimal("8") + expected_refund
    money_is_conserved(cust)


def test_a_cancel_before_delivery_refunds_everything(customer, sim_service):
    cust = customer("10")
    order = place(cust, sim_service(rate="3", cancel=True), link="https://x.test/c", quantity="1000")
    services.request_cancel(cust.account.pk, str(order.pk))
    run_once(now=order.created + timedelta(seconds=1))
    order.refresh_from_db()
    assert order.status == Status.CANCELED
    assert cust.balance() == Decimal("10")
    money_is_conserved(cust)


def test_a_cancel_during_delivery_ends_partial(customer, sim_service):
    cust = customer("10")
    order = place(cust, sim_service(rate="1", cancel=True), link="https://x.test/c2", quantity="1000")
    run_until(order, 6)
    services.request_cancel(cust.account.pk, str(order.pk))
    run_once(now=order.created + timedelta(seconds=7))
    order.refresh_from_db()
    assert order.status == Status.PARTIAL
    assert 0 < order.remains < 1000
    assert order.refunded == (Decimal(1) * order.remains / 1000).quantize(Decimal("0.00001"))
    money_is_conserved(cust)


def test_drip_feed_delivers_one_run_per_interval(customer, sim_service):
    cust = customer("10")
    service = sim_service(rate="1", dripfeed=True)
    order = place(cust, service, link="https://x.test/d", quantity="100", runs="3", interval="1")
    assert order.charge == Decimal("0.30000")

    run_until(order, 30, step=2)
    assert (order.status, order.remains) == (Status.IN_PROGRESS, 200)  # first run done, waiting

    run_until(order, 70, step=2)
    assert order.remains == 100

    run_until(order, 130, step=2)
    assert (order.status, order.remains) == (Status.COMPLETED, 0)
    money_is_conserved(cust)


def test_a_prepaid_subscription_orders_each_post_and_refunds_the_unused(customer, sim_service):
    cust = customer("10")
    service = sim_service(type="Subscriptions", rate="1", min=10, max=1000, sim_post_every_seconds=10)
    sub = place(cust, service, username="someone", min="100", max="200", posts="2", old_posts="1", delay="0")
    assert sub.status == Status.ACTIVE
    assert sub.charge == Decimal("0.60000")  # 1 × 200 × (2 + 1) / 1000

    run_until(sub, 25, step=5)
    assert sub.status == Status.COMPLETED
    children = list(sub.children.order_by("id"))
    assert len(children) == 3
    assert all(100 <= c.quantity <= 200 and c.paid_by_parent for c in children)
    used = sum(c.charge for c in children)
    assert sub.refunded == sub.charge - used
    money_is_conserved(cust)


def test_a_pay_per_post_subscription_pauses_when_funds_run_out_and_resumes(customer, sim_service):
    cust = customer("0.15")
    service = sim_service(type="Subscriptions", rate="1", min=10, max=1000, sim_post_every_seconds=10)
    sub = place(cust, service, username="someone", min="100", max="100", delay="0")
    assert sub.charge == 0

    run_until(sub, 25, step=5)  # posts at 10s (paid 0.1) and 20s (0.05 left: not enough)
    assert sub.status == Status.PAUSED
    assert sub.children.count() == 1

    ledger.deposit(cust.account, Decimal("1"), memo="top-up")
    run_once(now=sub.created + timedelta(seconds=31))  # paused subscriptions retry every 5 s
    sub.refresh_from_db()
    assert sub.status == Status.ACTIVE
    assert sub.children.count() == 3  # the post it paused on, and the one at 30 s
    money_is_conserved(cust)


def test_a_subscription_expires_after_its_expiry_date(customer, sim_service):
    cust = customer("10")
    service = sim_service(type="Subscriptions", rate="1", min=10, max=1000)
    expiry = timezone.localdate().strftime("%d/%m/%Y")
    sub = place(cust, service, username="someone", min="100", max="100", posts="5", delay="0", expiry=expiry)
    run_once(now=sub.created + timedelta(days=1, seconds=5))
    sub.refresh_from_db()
    assert sub.status == Status.EXPIRED
    assert sub.charge - sub.refunded == sum(c.charge for c in sub.children.all())
    money_is_conserved(cust)


def test_a_subscription_order_waits_for_the_delay(customer, sim_service):
    cust = customer("10")
    service = sim_service(type="Subscriptions", rate="1", min=10, max=1000)
    sub = place(cust, service, username="someone", min="100", max="100", old_posts="1", delay="30")
    run_once(now=sub.created + timedelta(seconds=3))  # the simulator first looks 2 s after an order
    child = sub.children.get()
    run_once(now=sub.created + timedelta(minutes=10))
    child.refresh_from_db()
    assert child.status == Status.PENDING
    run_once(now=sub.created + timedelta(minutes=31))
    child.refresh_from_db()
    assert child.status == Status.IN_PROGRESS


def test_a_refill_goes_pending_then_in_progress_then_completed(customer, sim_service):
    cust = customer("10")
    order = place(cust, sim_service(rate="1", refill=True), link="https://x.test/r", quantity="100")
    order = run_until(order, 5)
    assert order.status == Status.COMPLETED
    refill = services.request_refill(cust.account.pk, str(order.pk))
    now = timezone.now()
    statuses = []
    for t in range(0, 12, 2):
        run_once(now=now + timedelta(seconds=t))
        refill.refresh_from_db()
        statuses.append(refill.status)
    assert statuses[0] == Refill.Status.PENDING
    assert Refill.Status.IN_PROGRESS in statuses
    assert statuses[-1] == Refill.Status.COMPLETED
    assert cust.balance() == Decimal("9.90000")  # refills are free


def test_orders_of_manual_services_are_left_to_a_person(customer, service):
    cust = customer("10")
    order = place(cust, service(rate="1", fulfilment="manual"), link="https://x.test/m", quantity="100")
    run_once(now=order.created + timedelta(minutes=5))
    order.refresh_from_db()
    assert order.status == Status.PENDING
    assert Order.objects.filter(pk=order.pk, due_at__isnull=True).exists()
