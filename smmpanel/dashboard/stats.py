"""The dashboard's figures: revenue, provider cost and profit, orders per day and by status, providers, attention.

Revenue is counted by the day an order was placed, net of what it refunded
(so an order placed on Monday and canceled on Tuesday counts nothing on
Monday): Σ charge − Σ refunded over the orders of the period. A subscription's
prepaid posts (paid_by_parent) were paid through the subscription, so their
charge is not counted twice; their refunds reached the customer and are.
Provider cost is what providers said they charged for those same orders
(UpstreamOrder.charge, in their currency × the provider's currency_rate);
orders a provider has not yet priced count nothing. Profit = revenue − cost.

Both are GROUP BY queries over the last 30 days of `Order.created` (indexed by
`order_created`, which on PostgreSQL also carries the columns summed, so the
scan never reads the table), one per day in the panel's time zone. Their
result is cached for CACHE_SECONDS: a dashboard a minute old is still true
enough, and a busy panel's million orders are then summed once a minute, not
on every view. The provider list and the count of orders needing attention are
small, indexed reads made fresh every time.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from smmpanel.ledger.money import ZERO, round5
from smmpanel.orders.models import Order, Status
from smmpanel.providers.models import Provider, UpstreamOrder

DAYS = 30
PERIODS = (1, 7, 30)  # days, today included
CACHE_SECONDS = 60
CACHE_KEY = "dashboard:figures:v1"


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

    def chart(self) -> dict:
        """The orders-per-day chart's data, for json_script."""
        return {
            "labels": [d.day.isoformat() for d in self.days],
            "orders": [d.orders for d in self.days],
            "revenue": [float(d.revenue) for d in self.days],
        }


def _first_day(today: date) -> datetime:
    """Midnight, in the panel's time zone, of the first of the last DAYS days (today included)."""
    start = today - timedelta(days=DAYS - 1)
    return datetime(start.year, start.month, start.day, tzinfo=timezone.get_current_timezone())


def compute(now: datetime | None = None) -> Figures:
    """The figures, straight from the database (see cached() for the dashboard's way)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    since = _first_day(today)
    tz = timezone.get_current_timezone()
    orders = (
        Order.objects.filter(created__gte=since)
        .annotate(day=TruncDate("created", tzinfo=tz))
        .values("day", "status")
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
    costs = (
        UpstreamOrder.objects.filter(order__created__gte=since, charge__isnull=False)
        .annotate(day=TruncDate("order__created", tzinfo=tz))
        .values("day")
        .annotate(cost=Sum(cost_in_usd))
        .order_by()
    )
    per_day: dict[date, list] = {today - timedelta(days=i): [0, ZERO, ZERO] for i in range(DAYS)}
    statuses: dict[str, int] = {}
    for row in orders:
        bucket = per_day.get(row["day"])
        if bucket is None:  # an order stamped in the future (a clock ahead): not in these days
            continue
        bucket[0] += row["n"]
        bucket[1] += (row["charged"] or ZERO) - (row["refunded"] or ZERO)
        statuses[row["status"]] = statuses.get(row["status"], 0) + row["n"]
    for row in costs:
        if row["day"] in per_day:
            per_day[row["day"]][2] += round5(row["cost"] or 0)
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
    order = [s.value for s in Status]
    by_status = sorted(statuses.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    return Figures(computed_at=now, days=days, by_status=by_status, periods=periods)


def cached() -> Figures:
    """compute(), at most CACHE_SECONDS old (per time zone: days begin at local midnight)."""
    key = f"{CACHE_KEY}:{timezone.get_current_timezone_name()}"
    figures = cache.get(key)
    if figures is None:
        figures = compute()
        cache.set(key, figures, CACHE_SECONDS)
    return figures


def providers() -> list[Provider]:
    """Every provider with our balance there as last checked (a few rows)."""
    return list(Provider.objects.order_by("name"))


def needing_attention() -> int:
    """Orders a person has to look at (a partial index holds exactly these)."""
    return Order.objects.filter(needs_attention=True).count()
