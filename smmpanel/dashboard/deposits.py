"""The dashboard's deposit figures: what customers paid in through each gateway per day, its fees and bonuses.

Counted by the day a payment was made (in the panel's time zone), over the
paid payments only: a payment refunded or charged back later leaves the
figures of its day, as a refunded order leaves revenue. `deposited` is what
reached balances (Payment.credited, the bonus included), `fees` what the
gateways' fees came to, `bonuses` what the panel gave on top.

One GROUP BY over a month of payments (far fewer rows than orders), kept in
the cache for CACHE_SECONDS; apart from smmpanel.dashboard.stats so the
orders' figures and their refresh are left as they are.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from smmpanel.ledger.money import ZERO
from smmpanel.payments.models import Payment

DAYS = 30
PERIODS = (1, 7, 30)  # days, today included (as the orders' figures)
CACHE_SECONDS = 60
CACHE_KEY = "dashboard:deposits:v2"


@dataclass(frozen=True)
class GatewayDay:
    day: date
    gateway_id: int
    gateway: str
    payments: int
    deposited: Decimal
    fees: Decimal
    bonuses: Decimal


@dataclass(frozen=True)
class GatewayTotals:
    gateway_id: int
    gateway: str
    deposited: list[Decimal]  # one per PERIODS
    payments: int  # over DAYS
    fees: Decimal  # over DAYS
    bonuses: Decimal  # over DAYS


@dataclass(frozen=True)
class Deposits:
    rows: list[GatewayDay]  # newest day first, then by gateway
    gateways: list[GatewayTotals]
    periods: tuple[int, ...] = PERIODS

    @property
    def totals(self) -> list[Decimal]:
        """Deposited through every gateway, one per PERIODS."""
        return [sum((g.deposited[i] for g in self.gateways), ZERO) for i in range(len(PERIODS))]

    @property
    def fees(self) -> Decimal:
        return sum((g.fees for g in self.gateways), ZERO)

    @property
    def bonuses(self) -> Decimal:
        return sum((g.bonuses for g in self.gateways), ZERO)


def compute(now: datetime | None = None) -> Deposits:
    """The figures, straight from the database (cached() is the dashboard's way)."""
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    today = timezone.localdate(now, tz)
    first = today - timedelta(days=DAYS - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=tz)
    grouped = (
        Payment.objects.filter(Q(created__gte=since), state=Payment.State.PAID)
        .annotate(day=TruncDate("created", tzinfo=tz))
        .values_list("day", "gateway_id", "gateway__name")
        .annotate(n=Count("id"), deposited=Sum("credited"), fees=Sum("fee"), bonuses=Sum("bonus"))
        .order_by()
    )
    rows = [
        GatewayDay(day, gateway_id, name, n, deposited or ZERO, fees or ZERO, bonuses or ZERO)
        for day, gateway_id, name, n, deposited, fees, bonuses in grouped
        if first <= day <= today
    ]
    rows.sort(key=lambda r: (-r.day.toordinal(), r.gateway))
    return Deposits(rows=rows, gateways=_per_gateway(rows, today))


def _per_gateway(rows: list[GatewayDay], today: date) -> list[GatewayTotals]:
    totals = []
    for gateway_id, name in sorted({(r.gateway_id, r.gateway) for r in rows}, key=lambda g: g[1]):
        mine = [r for r in rows if r.gateway_id == gateway_id]
        totals.append(
            GatewayTotals(
                gateway_id=gateway_id,
                gateway=name,
                deposited=[
                    sum((r.deposited for r in mine if r.day > today - timedelta(days=n)), ZERO) for n in PERIODS
                ],
                payments=sum(r.payments for r in mine),
                fees=sum((r.fees for r in mine), ZERO),
                bonuses=sum((r.bonuses for r in mine), ZERO),
            )
        )
    return totals


def cached(now: datetime | None = None) -> Deposits:
    """The figures, at most about CACHE_SECONDS old (per time zone and day)."""
    now = now or timezone.now()
    key = f"{CACHE_KEY}:{timezone.get_current_timezone_name()}:{timezone.localdate(now).isoformat()}"
    figures = cache.get(key)
    if figures is None:
        figures = compute(now)
        cache.set(key, figures, CACHE_SECONDS)
    return figures


def needing_attention() -> int:
    """Payments a person has to look at (a partial index holds exactly these): read fresh, never cached."""
    return Payment.objects.filter(needs_attention=True).count()
