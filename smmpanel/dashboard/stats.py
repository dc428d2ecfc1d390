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
orders are settled: summed again every EARLIER_CACHE_SECONDS. Today is a short
index range (tens of milliseconds), summed every CACHE_SECONDS.

The sums are the worker's work, not a page's: a Refresh row per time zone is
due every CACHE_SECONDS and claimed like an order (one worker sums, however
many run), and `refresh` keeps what it sums in a Snapshot row (shared by every
process, kept across restarts) and the Django cache. At midnight the new day's
earlier days are made from the day before's sums. A page only reads what is
kept (`cached`); only when nothing is kept for the day yet (a new panel, or a
worker that has not run since midnight) does it sum once itself, because an
owner opening the dashboard expects figures, not "come back in a minute", and
that first sum is what the page did before anyway. If the worker stops, the
page shows the last sums with the time they were made.
The provider list and the count of orders needing attention are small,
indexed reads made fresh every time.
"""

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import NamedTuple

from django.core.cache import cache
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from smmpanel.dashboard.models import Refresh, Snapshot
from smmpanel.ledger.money import ZERO, round5
from smmpanel.orders.models import Order, Status
from smmpanel.providers.models import Provider, UpstreamOrder

DAYS = 30
PERIODS = (1, 7, 30)  # days, today included
CACHE_SECONDS = 60  # today's sums
EARLIER_CACHE_SECONDS = 600  # the 29 days before: they change only as their orders are settled
KEEP_SECONDS = 24 * 3600
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


def _keys(now: datetime) -> tuple[date, str]:
    """Today in the current time zone, and the prefix of its kept slices' keys (zone and date)."""
    today = timezone.localdate(now, timezone.get_current_timezone())
    return today, _key(today)


def _key(day: date) -> str:
    return f"{CACHE_KEY}:{timezone.get_current_timezone_name()}:{day.isoformat()}"


def cached(now: datetime | None = None) -> Figures:
    """The figures as the worker last summed them (a page's way: it reads, the worker sums).

    Today's are about CACHE_SECONDS old at most, the earlier days' about
    EARLIER_CACHE_SECONDS, while a worker runs. When nothing is kept for the
    day, the sums are made here, once, and the worker is asked to keep them
    fresh from then on (see the module's docstring).
    """
    now = now or timezone.now()
    today, key = _keys(now)
    earlier = _read(f"{key}:earlier", EARLIER_CACHE_SECONDS)
    latest = _read(f"{key}:today", CACHE_SECONDS)
    if earlier is None or latest is None:
        earlier, latest = _refresh(now, today_max_age=None, earlier_max_age=None)  # only what is missing
        schedule(now)
    # As of when today's sums were made, not of this page: if the worker stops, the page says so.
    made = datetime.fromtimestamp(latest[0], UTC)
    return _figures(today, made, [earlier[1], latest[1]])


def refresh(now: datetime | None = None) -> None:
    """Sum the figures of the current time zone and keep them: the worker's job (smmpanel.worker.dashboard).

    Today's always; the earlier days' once older than EARLIER_CACHE_SECONDS
    (at midnight, made from the day before's sums instead).
    """
    _refresh(now or timezone.now(), today_max_age=0, earlier_max_age=EARLIER_CACHE_SECONDS)


def schedule(now: datetime) -> None:
    """Have the worker refresh the sums of the current time zone from now on (once made, the row stays)."""
    Refresh.objects.get_or_create(
        time_zone=timezone.get_current_timezone_name(),
        defaults={"due_at": now + timedelta(seconds=CACHE_SECONDS)},
    )


def _refresh(now: datetime, *, today_max_age: float | None, earlier_max_age: float | None) -> tuple:
    """The kept (earlier, today) entries, summed again where older than the max age (None: only if missing)."""
    tz = timezone.get_current_timezone()
    today, key = _keys(now)
    first, midnight = _midnight(today - timedelta(days=DAYS - 1), tz), _midnight(today, tz)
    earlier = _stored(f"{key}:earlier")
    if earlier is None:
        earlier = _roll_over(_key(today - timedelta(days=1)), f"{key}:earlier", today)
    if _too_old(earlier, earlier_max_age):
        earlier = _keep(f"{key}:earlier", (time.time(), _slice(first, midnight, tz)))
    latest = _stored(f"{key}:today")
    if _too_old(latest, today_max_age):
        latest = _keep(f"{key}:today", (time.time(), _slice(midnight, None, tz)))
    return earlier, latest


def _too_old(entry, max_age: float | None) -> bool:
    return entry is None or (max_age is not None and time.time() - entry[0] >= max_age)


def _roll_over(yesterday: str, earlier_key: str, today: date):
    """Seed today's earlier days with yesterday's sums, if they were kept (stamped as old as they are)."""
    before, ended = _stored(f"{yesterday}:earlier"), _stored(f"{yesterday}:today")
    if before is None or ended is None:
        return None
    oldest = today - timedelta(days=DAYS - 1)
    seeded = Slice(
        orders=[row for row in before[1].orders + ended[1].orders if oldest <= row[0] < today],
        costs=[row for row in before[1].costs + ended[1].costs if oldest <= row[0] < today],
    )
    return _keep(earlier_key, (min(before[0], ended[0]), seeded))


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


def _read(key: str, max_age: float) -> Entry | None:
    """The kept slice: this process's cached copy, or its Snapshot when that is newer (the worker wrote it)."""
    entry = cache.get(key)
    if entry is None or time.time() - entry[0] >= max_age:
        stored = _stored(key)
        if stored is not None and (entry is None or stored[0] > entry[0]):
            cache.set(key, stored, KEEP_SECONDS)
            entry = stored
    return entry


def _keep(key: str, entry: Entry) -> Entry:
    cache.set(key, entry, KEEP_SECONDS)
    Snapshot.objects.update_or_create(key=key, defaults={"stamped": entry[0], "data": _to_json(entry[1])})
    # Keys carry their date: a day's rows are of no use after the next day.
    Snapshot.objects.filter(stamped__lt=entry[0] - 2 * KEEP_SECONDS).delete()
    return entry


def providers() -> list[Provider]:
    """Every provider with our balance there as last checked (a few rows)."""
    return list(Provider.objects.order_by("name"))


def needing_attention() -> int:
    """Orders a person has to look at (a partial index holds exactly these)."""
    return Order.objects.filter(needs_attention=True).count()
