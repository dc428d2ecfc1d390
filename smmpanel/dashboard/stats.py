"""The dashboard's figures: revenue, provider cost and profit, orders per day and by status, providers, attention.

Revenue is counted by the day an order was placed, net of what it refunded
(so an order placed on Monday and canceled on Tuesday counts nothing on
Monday): Σ charge − Σ refunded over the orders of the period. A subscription's
prepaid posts (paid_by_parent) were paid through the subscription, so their
charge is not counted twice; their refunds reached the customer and are.
Provider cost is what providers said they charged for those same orders
(UpstreamOrder.charge, in their currency × the provider's currency_rate);
orders a provider has not yet priced count nothing. Profit = revenue − cost.

Both are GROUP BY queries over a range of `Order.created` (the order_created
index, which on PostgreSQL also carries the columns summed, so the scan never
reads the table), one row per day (in the panel's time zone) and status. The
29 days before today are the expensive part on a big panel (a third of a
million orders: about a second on 2 busy cores) and change only as their
orders are settled: refreshed every EARLIER_CACHE_SECONDS. Today is a short
index range (tens of milliseconds), refreshed every CACHE_SECONDS. A refresh
runs in a background thread while the page shows the sums it replaces. Sums
are kept in the Django cache and, behind it, in a Snapshot row (shared by
every process, kept across restarts), and at midnight the new day's earlier
days are made from the day before's: only a panel's very first view waits
for the month's sums. The provider list and
the count of orders needing attention are small, indexed reads made fresh
every time.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import NamedTuple

from django.core.cache import cache
from django.db import connections
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from smmpanel.dashboard.models import Snapshot
from smmpanel.ledger.money import ZERO, round5
from smmpanel.orders.models import Order, Status
from smmpanel.providers.models import Provider, UpstreamOrder

log = logging.getLogger(__name__)

DAYS = 30
PERIODS = (1, 7, 30)  # days, today included
CACHE_SECONDS = 60  # today's sums
EARLIER_CACHE_SECONDS = 600  # the 29 days before: they change only as their orders are settled
KEEP_SECONDS = 24 * 3600
REFRESH_LOCK_SECONDS = 300  # a refresh that died without a word stops blocking the next after this
CACHE_KEY = "dashboard:figures:v4"


@dataclass(frozen=True)
class Day:
    day: date
    orders: int
    revenue: Decimal
    cost: Decimal


@dataclass(frozen=True)
class Period:
    days: int
    orders: int
    revenue: Decimal
    cost: Decimal

    @property
    def profit(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def label(self) -> str:
        # Here, not in the cached figures: in the language of the page that shows them.
        return gettext("Today") if self.days == 1 else ngettext("%d day", "%d days", self.days) % self.days


@dataclass(frozen=True)
class Figures:
    """What the dashboard shows that is worth caching: the sums over the last DAYS days."""

    computed_at: datetime
    days: list[Day]  # oldest first, one per day (days without orders too)
    by_status: list[tuple[str, int]]  # statuses in their usual order, the ones with orders only
    periods: list[Period] = field(default_factory=list)

    @property
    def since(self) -> str:
        """Where the first day begins (ISO 8601, with its offset): the order list's `created__gte` for these days."""
        return _midnight(self.days[0].day, timezone.get_current_timezone()).isoformat()

    def chart(self) -> dict:
        """The orders-per-day chart's data, for json_script."""
        return {
            "labels": [d.day.isoformat() for d in self.days],
            "orders": [d.orders for d in self.days],
            "revenue": [float(d.revenue) for d in self.days],
        }


def _midnight(day: date, tz: tzinfo) -> datetime:
    """Where `day` begins in the time zone `tz`."""
    return datetime(day.year, day.month, day.day, tzinfo=tz)


class Slice(NamedTuple):
    """The sums of orders placed in [since, until): per (day, status), and the providers' cost per day."""

    orders: list[tuple[date, str, int, Decimal, Decimal]]  # day, status, orders, charged, refunded
    costs: list[tuple[date, Decimal]]


def _slice(since: datetime, until: datetime | None, tz: tzinfo) -> Slice:
    """Two GROUP BY queries over a range of `Order.created` (the order_created index), by day in `tz`."""
    placed = Q(created__gte=since) & (Q(created__lt=until) if until else Q())
    orders = (
        Order.objects.filter(placed)
        .annotate(day=TruncDate("created", tzinfo=tz))
        .values_list("day", "status")
        .annotate(
            n=Count("id"),
            charged=Sum("charge", filter=Q(paid_by_parent=False)),
            refunded=Sum("refunded"),
        )
        .order_by()
    )
    cost_in_usd = ExpressionWrapper(
        F("charge") * F("provider__currency_rate"), output_field=DecimalField(max_digits=40, decimal_places=13)
    )
    upstream_placed = Q(order__created__gte=since) & (Q(order__created__lt=until) if until else Q())
    costs = (
        UpstreamOrder.objects.filter(upstream_placed, charge__isnull=False)
        .annotate(day=TruncDate("order__created", tzinfo=tz))
        .values_list("day")
        .annotate(cost=Sum(cost_in_usd))
        .order_by()
    )
    return Slice(
        orders=[(day, status, n, charged or ZERO, refunded or ZERO) for day, status, n, charged, refunded in orders],
        costs=[(day, round5(cost or 0)) for day, cost in costs],
    )


def _figures(today: date, now: datetime, slices: list[Slice]) -> Figures:
    per_day: dict[date, list] = {today - timedelta(days=i): [0, ZERO, ZERO] for i in range(DAYS)}
    statuses: dict[str, int] = {}
    for part in slices:
        for day, status, n, charged, refunded in part.orders:
            bucket = per_day.get(day)
            if bucket is None:  # an order stamped after today (a clock ahead): not in these days
                continue
            bucket[0] += n
            bucket[1] += charged - refunded
            statuses[status] = statuses.get(status, 0) + n
        for day, cost in part.costs:
            if day in per_day:
                per_day[day][2] += cost
    days = [Day(day, n, revenue, cost) for day, (n, revenue, cost) in sorted(per_day.items())]
    periods = [
        Period(
            n,
            sum(d.orders for d in days[-n:]),
            sum((d.revenue for d in days[-n:]), ZERO),
            sum((d.cost for d in days[-n:]), ZERO),
        )
        for n in PERIODS
    ]
    known = [s.value for s in Status]
    by_status = sorted(statuses.items(), key=lambda kv: known.index(kv[0]) if kv[0] in known else len(known))
    return Figures(computed_at=now, days=days, by_status=by_status, periods=periods)


def compute(now: datetime | None = None) -> Figures:
    """The figures, straight from the database (cached() is the dashboard's way)."""
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    today = timezone.localdate(now, tz)
    return _figures(today, now, [_slice(_midnight(today - timedelta(days=DAYS - 1), tz), None, tz)])


def cached(now: datetime | None = None) -> Figures:
    """The figures, today's about CACHE_SECONDS old at most, the earlier days' about EARLIER_CACHE_SECONDS.

    Summing the earlier 29 days is the expensive part (a third of a million
    orders on a big panel: about a second); today is a short index range.
    Keys carry the time zone and the date: days begin at local midnight, when
    the new day's earlier days are made from the day before's sums (the day
    that ended moves over, the oldest drops out) rather than summed again.
    """
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    today = timezone.localdate(now, tz)
    prefix = f"{CACHE_KEY}:{timezone.get_current_timezone_name()}"
    key = f"{prefix}:{today.isoformat()}"
    first, midnight = _midnight(today - timedelta(days=DAYS - 1), tz), _midnight(today, tz)
    if _entry(f"{key}:earlier") is None:
        _roll_over(f"{prefix}:{(today - timedelta(days=1)).isoformat()}", f"{key}:earlier", today)
    earlier = _kept(f"{key}:earlier", EARLIER_CACHE_SECONDS, lambda: _slice(first, midnight, tz))
    latest = _kept(f"{key}:today", CACHE_SECONDS, lambda: _slice(midnight, None, tz))
    return _figures(today, now, [earlier, latest])


def _roll_over(yesterday: str, earlier_key: str, today: date) -> None:
    """Seed today's earlier days with yesterday's sums, if they were kept (stamped as old as they are)."""
    before, ended = _entry(f"{yesterday}:earlier"), _entry(f"{yesterday}:today")
    if before is None or ended is None:
        return
    oldest = today - timedelta(days=DAYS - 1)
    seeded = Slice(
        orders=[row for row in before[1].orders + ended[1].orders if oldest <= row[0] < today],
        costs=[row for row in before[1].costs + ended[1].costs if oldest <= row[0] < today],
    )
    _keep(earlier_key, (min(before[0], ended[0]), seeded))


# --- where slices are kept: the Django cache, and a Snapshot row behind it ------------------------

Entry = tuple[float, Slice]  # (when the sums were made, the sums)


def _to_json(value: Slice) -> dict:
    return {
        "orders": [
            [d.isoformat(), status, n, str(charged), str(refunded)] for d, status, n, charged, refunded in value.orders
        ],
        "costs": [[d.isoformat(), str(cost)] for d, cost in value.costs],
    }


def _from_json(data: dict) -> Slice:
    return Slice(
        orders=[
            (date.fromisoformat(d), status, n, Decimal(charged), Decimal(refunded))
            for d, status, n, charged, refunded in data["orders"]
        ],
        costs=[(date.fromisoformat(d), Decimal(cost)) for d, cost in data["costs"]],
    )


def _stored(key: str) -> Entry | None:
    row = Snapshot.objects.filter(key=key).first()
    return None if row is None else (row.stamped, _from_json(row.data))


def _entry(key: str) -> Entry | None:
    """The kept slice: from this process's cache, else from its Snapshot (then cached here too)."""
    entry = cache.get(key)
    if entry is None:
        entry = _stored(key)
        if entry is not None:
            cache.set(key, entry, KEEP_SECONDS)
    return entry


def _keep(key: str, entry: Entry) -> None:
    cache.set(key, entry, KEEP_SECONDS)
    Snapshot.objects.update_or_create(key=key, defaults={"stamped": entry[0], "data": _to_json(entry[1])})
    # Keys carry their date: a day's rows are of no use after the next day.
    Snapshot.objects.filter(stamped__lt=entry[0] - 2 * KEEP_SECONDS).delete()


# The last background refresh started in this process (tests wait for it).
last_refresh: threading.Thread | None = None


def _kept(key: str, max_age: float, compute_slice: Callable[[], Slice]) -> Slice:
    """A kept slice; once older than max_age, refreshed in the background while the old one is served.

    Stale-while-revalidate: only the first view of the day (with nothing kept
    from the day before) waits for the sums; later views never do. One refresh
    at a time per key and process cache (cache.add is atomic in every backend).
    """
    global last_refresh
    entry = _entry(key)
    if entry is None:
        value = compute_slice()
        _keep(key, (time.time(), value))
        return value
    stamped, value = entry
    if time.time() - stamped < max_age:
        return value
    newer = _stored(key)  # another process may have refreshed it already
    if newer is not None and time.time() - newer[0] < max_age:
        cache.set(key, newer, KEEP_SECONDS)
        return newer[1]
    if cache.add(f"{key}:refreshing", True, REFRESH_LOCK_SECONDS):
        last_refresh = threading.Thread(target=_refresh, args=(key, compute_slice), daemon=True)
        last_refresh.start()
    return value


def _refresh(key: str, compute_slice: Callable[[], Slice]) -> None:
    try:
        _keep(key, (time.time(), compute_slice()))
    except Exception:  # the old sums stay; the next view tries again
        log.exception("dashboard: refreshing %s failed", key)
    finally:
        cache.delete(f"{key}:refreshing")
        connections.close_all()  # this thread's own connection, not the request's


def providers() -> list[Provider]:
    """Every provider with our balance there as last checked (a few rows)."""
    return list(Provider.objects.order_by("name"))


def needing_attention() -> int:
    """Orders a person has to look at (a partial index holds exactly these)."""
    return Order.objects.filter(needs_attention=True).count()
