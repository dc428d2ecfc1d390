"""Average time per service (issue 16 §4): from each service's last 10 completed orders, scaled to 1,000,
computed by the worker's job (claimed like any due row, fenced), shown on /services/ and the New order page.

Orders are placed and completed through the orders layer with explicit times, and the job runs as
the worker runs it (`run_once(now=…)`), so nothing here waits on the clock.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from smmpanel.averagetime.models import AverageTime, AverageTimeJob
from smmpanel.averagetime.templatetags.average_time import duration_text
from smmpanel.orders import services
from smmpanel.orders.models import Order, Status
from smmpanel.orders.validation import validate_order
from smmpanel.worker import average_time as job
from smmpanel.worker.loop import run_once
from tests.conftest import new_link

T0 = timezone.now().replace(microsecond=0) - timedelta(days=2)


@pytest.fixture
def shop(customer, service):
    return customer("10000"), service


def done(cust, svc, *, quantity=1000, minutes: float, status=Status.COMPLETED, start=T0, **fields) -> Order:
    """An order of `quantity` placed at `start` and ending `minutes` later with `status`."""
    order = services.place_order(
        cust.account.pk, validate_order(svc, {"link": new_link(), "quantity": str(quantity), **fields})
    )
    Order.objects.filter(pk=order.pk).update(created=start)
    remains = 0 if status == Status.COMPLETED else quantity // 2
    services.apply_status(order.pk, status, remains=remains, now=start + timedelta(minutes=minutes), actor="admin")
    return order


def average(svc) -> AverageTime:
    return AverageTime.objects.get(service=svc)


def test_each_order_is_scaled_to_1000_and_only_completed_single_orders_count(shop):
    cust, service = shop
    svc = service(fulfilment="manual", dripfeed=True, max=100000)
    done(cust, svc, quantity=1000, minutes=60)  # 60 min per 1000
    done(cust, svc, quantity=500, minutes=45)  # 90 min per 1000
    done(cust, svc, quantity=2000, minutes=60)  # 30 min per 1000
    done(cust, svc, quantity=1000, minutes=1, status=Status.PARTIAL)  # did not complete
    done(cust, svc, quantity=1000, minutes=1, status=Status.CANCELED)
    done(cust, svc, quantity=100, minutes=1, runs="3", interval="60")  # drip-feed: waits on purpose
    run_once(now=timezone.now())
    assert (average(svc).seconds, average(svc).orders, average(svc).per_1000) == (3600, 3, True)


def test_only_the_last_10_completed_count_by_when_they_completed(shop):
    cust, service = shop
    svc = service(fulfilment="manual")
    for i in range(2):  # slow, and long ago
        done(cust, svc, minutes=600, start=T0 - timedelta(days=1, minutes=i))
    for i in range(10):
        done(cust, svc, minutes=10, start=T0 + timedelta(minutes=i))
    run_once(now=timezone.now())
    assert (average(svc).seconds, average(svc).orders) == (600, 10)


def test_fewer_than_3_orders_is_not_enough_data_and_a_package_is_timed_per_order(shop, client):
    cust, service = shop
    few = service(fulfilment="manual", name="Few orders")
    package = service(type="Package", fulfilment="manual", name="Package deal", min=1, max=1)
    for _ in range(2):
        done(cust, few, minutes=5)
    for minutes in (90, 150, 120):
        done(cust, package, quantity=1, minutes=minutes)
    run_once(now=timezone.now())
    assert (average(few).seconds, average(few).orders) == (None, 2)
    assert (average(package).seconds, average(package).per_1000) == (7200, False)
    page = client.get("/services/").content.decode()
    assert row_of(page, few).count("Not enough data") == 1
    assert "2 hours" in row_of(page, package)


def row_of(page: str, svc) -> str:
    return page.split(f'<tr id="service-{svc.pk}">', 1)[1].split("</tr>", 1)[0]


def test_pages_show_what_the_worker_computed_never_computing_it_themselves(shop, client):
    cust, service = shop
    svc = service(fulfilment="manual", name="Timed service")
    for minutes in (80, 90, 100):
        done(cust, svc, minutes=minutes)
    client.force_login(cust.user)
    # Completed orders, but the worker has not run: the pages know nothing yet.
    assert "Not enough data" in row_of(client.get("/services/").content.decode(), svc)
    assert "Not enough data" in client.get(f"/order/?service={svc.pk}").content.decode()

    run_once(now=timezone.now())
    assert "1 hour 30 minutes" in row_of(client.get("/services/").content.decode(), svc)
    order_page = client.get(f"/order/?service={svc.pk}").content.decode()
    assert "Average time" in order_page and "1 hour 30 minutes" in order_page


def test_the_job_runs_once_per_period_and_a_worker_whose_claim_ran_out_writes_nothing(shop, settings):
    cust, service = shop
    svc = service(fulfilment="manual")
    for minutes in (10, 20, 30):
        done(cust, svc, minutes=minutes)
    now = timezone.now()
    assert job.run_due(now) >= 1
    assert job.run_due(now + job.PERIOD / 2) == 0  # not due again yet: no work, no writes
    done(cust, svc, minutes=80, start=T0 + timedelta(hours=1))  # (10+20+30+80)/4 = 35 min

    # A slow worker claims the job, its lease runs out, another takes it over and finishes first.
    later = now + job.PERIOD
    slow = job.claim(later)
    assert slow is not None and job.claim(later) is None  # held: a second worker gets nothing
    stale = job.compute(type(svc).objects.filter(pk=svc.pk), later)
    taken_over = later + timedelta(seconds=settings.WORKER_LEASE_SECONDS + 1)
    fast = job.claim(taken_over)
    assert fast is not None and fast.claim_token != slow.claim_token
    fresh = job.compute(type(svc).objects.filter(pk=svc.pk), taken_over)
    assert job.finish(fast, fresh, taken_over)
    AverageTime.objects.filter(service=svc).update(seconds=1)  # what the slow worker must not overwrite
    assert not job.finish(slow, stale, taken_over)
    assert average(svc).seconds == 1
    due = AverageTimeJob.objects.get().due_at
    assert due == taken_over + job.PERIOD


def test_a_round_goes_over_the_services_a_chunk_per_pass_then_waits_a_period(shop):
    cust, service = shop
    for svc in [service(fulfilment="manual") for _ in range(3)]:
        for minutes in (10, 20, 30):
            done(cust, svc, minutes=minutes)
    now = timezone.now()
    assert job.run_due(now, chunk=2) == 2
    assert AverageTime.objects.count() == 2
    assert job.run_due(now, chunk=2) == 1  # due again at once, for the rest
    assert AverageTime.objects.filter(seconds=1200).count() == 3
    assert job.run_due(now, chunk=2) == 0  # the round is done: due again in a period
    assert job.run_due(now + job.PERIOD, chunk=2) == 2


def test_the_job_row_is_made_on_first_need_and_only_once(db):
    AverageTimeJob.objects.all().delete()
    now = timezone.now()
    assert job.claim(now) is not None
    assert AverageTimeJob.objects.count() == 1


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (20, "less than a minute"),
        (60, "1 minute"),
        (3900, "1 hour 5 minutes"),
        (2 * 86400 + 3 * 3600 + 59, "2 days 3 hours"),
        (86400 + 300, "1 day"),  # the minutes after a gap say little
        (5400, "1 hour 30 minutes"),
    ],
)
def test_durations_in_words(seconds, text):
    assert duration_text(seconds) == text
