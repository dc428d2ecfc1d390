"""The owner's dashboard on the admin index: revenue, provider cost and profit by period, orders per day and status."""

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from smmpanel.dashboard import stats
from smmpanel.dashboard.models import Refresh, Snapshot
from smmpanel.orders import services
from smmpanel.orders.models import Order, Status
from smmpanel.orders.validation import validate_order
from smmpanel.providers.models import Provider, UpstreamOrder
from smmpanel.worker import dashboard as jobs
from smmpanel.worker.loop import run_once

from .conftest import ORDER_EXAMPLES, new_link


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()  # the dashboard caches its sums for a minute; each test starts without
    yield
    cache.clear()


@pytest.fixture
def owner_client(client, db):
    owner = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-owner-1")
    client.force_login(owner)
    return client


def days_ago(n: int) -> datetime:
    """Noon, local time, n days ago: safely inside that day whatever the hour of the test."""
    day = timezone.localdate() - timedelta(days=n)
    return datetime(day.year, day.month, day.day, 12, tzinfo=timezone.get_current_timezone())


@pytest.fixture
def panel(customer, service):
    """A small panel whose figures are known (see each order's comment)."""
    cust = customer("100")
    svc = service(rate="2", fulfilment="manual", cancel=True)

    def order(quantity: int, ago: int) -> Order:
        placed = services.place_order(
            cust.account.pk, validate_order(svc, {"link": new_link(), "quantity": str(quantity)})
        )
        Order.objects.filter(pk=placed.pk).update(created=days_ago(ago))
        return placed

    completed = order(1000, 0)  # today: 2.00, kept
    services.apply_status(completed.pk, Status.COMPLETED, actor="admin")
    canceled = order(1000, 0)  # today: 2.00, refunded whole: 0
    services.apply_status(canceled.pk, Status.CANCELED, actor="admin")
    partial = order(2000, 3)  # 3 days ago: 4.00, 500 of 2000 undelivered: 1.00 back, 3.00 kept
    services.apply_status(partial.pk, Status.PARTIAL, remains=500, actor="admin")
    pending = order(1000, 10)  # 10 days ago: 2.00
    services.flag_attention(pending.pk, "Look at me")
    order(1000, 40)  # 40 days ago: outside every period

    # A prepaid subscription today: 1.40 paid once; its post's order (0.15) was paid through it, not again.
    sub_fields, sub_params, *_ = ORDER_EXAMPLES["Subscriptions"]
    sub_service = service(type="Subscriptions", fulfilment="manual", **sub_fields)
    sub = services.place_order(cust.account.pk, validate_order(sub_service, sub_params))
    services.add_post_order(sub.pk, number=1, old=False, link=new_link(), quantity=150)

    # A provider charging in its own currency (0.5 USD each): 1.20 → 0.60 USD today, 2.00 → 1.00 USD 3 days ago.
    provider = Provider.objects.create(
        name="Upstream Z",
        api_url="https://z.test/api/v2",
        api_key="k" * 32,
        currency="EUR",
        currency_rate=Decimal("0.5"),
        balance=Decimal("12.34"),
    )
    for placed, charge in ((completed, "1.2"), (partial, "2"), (canceled, None)):  # None: not priced yet
        UpstreamOrder.objects.create(
            order=placed,
            provider=provider,
            state="placed",
            submitted_at=timezone.now(),
            charge=None if charge is None else Decimal(charge),
        )
    return cust


def test_the_figures_of_each_period(panel):
    figures = stats.compute()
    assert [(p.days, p.orders, p.revenue, p.cost, p.profit) for p in figures.periods] == [
        (1, 4, Decimal("3.40000"), Decimal("0.60000"), Decimal("2.80000")),
        (7, 5, Decimal("6.40000"), Decimal("1.60000"), Decimal("4.80000")),
        (30, 6, Decimal("8.40000"), Decimal("1.60000"), Decimal("6.80000")),
    ]


def test_orders_per_day_cover_30_days_oldest_first(panel):
    days = stats.compute().days
    assert len(days) == 30
    assert days[-1].day == timezone.localdate()
    assert [(d.orders, d.revenue) for d in days if d.orders] == [
        (1, Decimal("2.00000")),  # 10 days ago
        (1, Decimal("3.00000")),  # 3 days ago
        (4, Decimal("3.40000")),  # today
    ]


def test_orders_by_status_of_the_last_30_days(panel):
    assert stats.compute().by_status == [
        ("Pending", 2),  # 10 days ago, and the subscription's post
        ("Completed", 1),
        ("Partial", 1),
        ("Canceled", 1),
        ("Active", 1),
    ]


def test_the_dashboard_page_shows_the_figures_the_chart_and_the_providers(owner_client, panel):
    page = owner_client.get("/admin/")
    assert page.status_code == 200
    body = page.content.decode()
    for text in ("3.40 USD", "2.80 USD", "6.40 USD", "6.80 USD", "Upstream Z", "12.34 EUR", "1 order"):
        assert text in body, text
    assert "/admin/orders/order/?attention=yes" in body
    # Each status links to the order list of those 30 days.
    link = re.search(r'href="(/admin/orders/order/\?status__exact=Pending&amp;created__gte=[^"]+)"', body).group(1)
    listed = owner_client.get(link.replace("&amp;", "&")).context["cl"].result_list
    assert sorted(o.pk for o in listed) == sorted(
        Order.objects.filter(status="Pending", created__gte=days_ago(29) - timedelta(hours=12)).values_list(
            "pk", flat=True
        )
    )
    assert len(listed) == 2
    data = re.search(r'<script id="dashboard-chart-data" type="application/json">(.*?)</script>', body, re.S)
    chart = json.loads(data.group(1))
    assert len(chart["labels"]) == len(chart["orders"]) == 30
    assert chart["orders"][-1] == 4 and chart["orders"][-4] == 1
    # The chart's library is the panel's own file, not a CDN's.
    assert '<script src="/static/dashboard/vendor/chart.umd.min.js" defer></script>' in body
    assert "cdn" not in body.lower()


def test_the_chart_library_is_served_by_the_panel(owner_client):
    response = owner_client.get("/static/dashboard/vendor/chart.umd.min.js")
    assert response.status_code == 200
    assert b"Chart.js v4" in b"".join(response.streaming_content)[:500]


def test_the_sums_are_cached_for_a_minute_but_attention_is_fresh(owner_client, panel, service):
    owner_client.get("/admin/")
    order = Order.objects.get(needs_attention=True)
    services.apply_status(order.pk, Status.CANCELED, actor="admin")  # 2.00 refunded now
    body = owner_client.get("/admin/").content.decode()
    assert "8.40 USD" in body  # the 30 days' revenue as it was a moment ago
    assert "0 orders" in body  # the canceled order no longer needs attention
    cache.clear()
    Snapshot.objects.all().delete()  # and what was kept behind the cache
    body = owner_client.get("/admin/").content.decode()
    assert "8.40 USD" not in body and "6.80 USD" not in body  # 30 days: 6.40 revenue, 4.80 profit now


def test_a_customer_does_not_see_the_dashboard(client, customer):
    cust = customer("1")
    client.force_login(cust.user)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_a_page_reads_the_kept_sums_and_the_worker_refreshes_them(customer, service, monkeypatch):
    cust = customer("100")
    svc = service(rate="2", fulfilment="manual")

    def place():
        services.place_order(cust.account.pk, validate_order(svc, {"link": new_link(), "quantity": "1000"}))

    place()
    assert stats.cached().periods[0].revenue == Decimal("2.00000")  # the first view sums, once
    place()
    monkeypatch.setattr(stats, "CACHE_SECONDS", 0)  # today's sums are out of date at once
    with CaptureQueriesContext(connection) as queries:
        assert stats.cached().periods[0].revenue == Decimal("2.00000")  # shown as they were
    assert not [q for q in queries.captured_queries if "GROUP BY" in q["sql"]]  # a page never sums them again
    run_once(now=timezone.now() + timedelta(seconds=61))  # the worker's pass a minute later: the refresh is due
    cache.clear()  # another process: reads what the worker kept
    assert stats.cached().periods[0].revenue == Decimal("4.00000")


def test_the_worker_refreshes_the_sums_every_minute_not_every_pass(panel):
    stats.cached()  # the first view: the worker refreshes from now on
    now = timezone.now()
    assert jobs.run_due(now) == 0  # not due yet: the sums were just made
    assert jobs.run_due(now + timedelta(seconds=stats.CACHE_SECONDS + 1)) == 1
    assert jobs.run_due(now + timedelta(seconds=stats.CACHE_SECONDS + 2)) == 0
    assert Refresh.objects.get().due_at > now + timedelta(seconds=2 * stats.CACHE_SECONDS)


@pytest.mark.django_db(transaction=True)  # two workers, each on its own connection
def test_two_workers_make_one_refresh_not_two(customer, service):
    cust = customer("100")
    svc = service(rate="2", fulfilment="manual")
    services.place_order(cust.account.pk, validate_order(svc, {"link": new_link(), "quantity": "1000"}))
    stats.cached()
    due = timezone.now() + timedelta(seconds=stats.CACHE_SECONDS + 1)
    start = threading.Barrier(2)
    claimed = []

    def worker():
        try:
            start.wait(timeout=10)
            claimed.append(jobs.run_due(due))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(claimed) == [0, 1]
    # Control: the claim is what kept the second one out; with the row free again, a pass takes it.
    Refresh.objects.update(due_at=due, locked_until=None, claim_token=None)
    assert jobs.run_due(due) == 1


def test_a_failed_refresh_keeps_the_last_sums_and_is_tried_again(panel):
    before = stats.cached()
    Refresh.objects.update(time_zone="Not/A_Zone")  # the refresh of this row cannot run
    now = timezone.now() + timedelta(seconds=stats.CACHE_SECONDS + 1)
    assert jobs.run_due(now) == 1
    row = Refresh.objects.get()
    assert row.attempts == 1 and row.due_at > now and row.claim_token is None
    assert stats.cached().periods == before.periods


def test_days_begin_at_midnight_in_the_panels_time_zone(customer, service):
    cust = customer("10")
    svc = service(rate="2", fulfilment="manual")
    placed = services.place_order(cust.account.pk, validate_order(svc, {"link": new_link(), "quantity": "1000"}))
    with timezone.override("Asia/Tokyo"):  # UTC+9: 00:30 there is 15:30 the day before in UTC
        today = timezone.localdate()
        half_past_midnight = datetime(today.year, today.month, today.day, 0, 30, tzinfo=timezone.get_current_timezone())
        Order.objects.filter(pk=placed.pk).update(created=half_past_midnight)
        assert stats.compute().periods[0].orders == 1  # today in Tokyo
    with timezone.override("UTC"):
        days = stats.compute().days
        assert [d.day for d in days if d.orders] == [half_past_midnight.astimezone(UTC).date()]


def test_at_midnight_the_earlier_days_come_from_the_day_befores_sums(panel):
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    yesterday_evening = datetime(today.year, today.month, today.day, tzinfo=tz) - timedelta(hours=1)
    today_noon = days_ago(0)
    before = stats.cached(now=yesterday_evening)  # sums the 30 days up to yesterday
    with CaptureQueriesContext(connection) as queries:
        after = stats.cached(now=today_noon)
    sums = [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"]]
    assert len(sums) == 2  # today's two sums only: the earlier days come from the day before's
    assert after.periods == stats.compute(today_noon).periods
    assert [(d.day, d.orders) for d in after.days[:-1]] == [(d.day, d.orders) for d in before.days[1:]]


def test_a_new_server_process_shows_the_kept_sums_without_summing_again(panel):
    stats.cached()  # one process made the sums
    cache.clear()  # another process starts: its own cache is empty
    with CaptureQueriesContext(connection) as queries:
        figures = stats.cached()
    assert not [q for q in queries.captured_queries if "GROUP BY" in q["sql"]]
    assert figures.periods == stats.compute().periods


def test_a_process_with_stale_sums_takes_another_process_fresher_ones(panel):
    stats.cached()
    key = next(k for k in Snapshot.objects.values_list("key", flat=True) if k.endswith(":today"))
    stamped, kept = cache.get(key)
    cache.set(key, (stamped - 3600, kept))  # this process's copy is an hour old; the Snapshot is not
    with CaptureQueriesContext(connection) as queries:
        stats.cached()
    assert not [q for q in queries.captured_queries if "GROUP BY" in q["sql"]]  # nothing to sum again
    assert cache.get(key)[0] == stamped
