"""`smmpanel demo --with-history`: a month of the demo customer's orders, so a newcomer's dashboard shows figures.

Every order is placed and settled through smmpanel.orders.services, as the API and the
worker would: each is charged, and a Partial or Canceled one refunded, in the ledger, so
the balance still equals the ledger. Only the times are moved back afterwards (orders and
their ledger rows), oldest first, so the funds page's running balance reads in date order.
Seeded once: a demo customer who has orders already gets no second month.
"""

import random
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from smmpanel.catalog.models import Service
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders import services
from smmpanel.orders.models import Order, Status
from smmpanel.orders.validation import validate_order

DAYS = 30
ORDERS_PER_DAY = (2, 6)  # at least, at most
# How a month of orders ends: most complete; the last days' are still on their way.
ENDINGS = [Status.COMPLETED] * 6 + [Status.PARTIAL, Status.CANCELED]
UNDER_WAY = [Status.PENDING, Status.IN_PROGRESS, Status.PROCESSING]


@dataclass
class History:
    orders: int
    by_status: dict[str, int]


def _plain_services() -> list[Service]:
    """The demo's services that take a link and a quantity (the history needs no other fields)."""
    return list(Service.objects.filter(active=True, type="Default").order_by("pk"))


def seed_history(account_id: int, *, seed: int = 16) -> History | None:
    """Place and settle a month of orders for the account; None when it has orders already."""
    if Order.objects.filter(account_id=account_id).exists():
        return None
    rng = random.Random(seed)  # the same month on every fresh demo
    catalog = _plain_services()
    now = timezone.now()
    by_status: dict[str, int] = {}
    number = 0
    # The opening deposit came first.
    LedgerEntry.objects.filter(account_id=account_id, order__isnull=True).update(created=now - timedelta(days=DAYS))
    for days_ago in range(DAYS - 1, -1, -1):
        # A day's orders within the 20 hours before the same time that day, oldest first.
        offsets = sorted((rng.randint(1, 20 * 60) for _ in range(rng.randint(*ORDERS_PER_DAY))), reverse=True)
        for minutes in offsets:
            number += 1
            service = rng.choice(catalog)
            quantity = rng.randrange(service.min, min(service.max, service.min * 20) + 1)
            when = now - timedelta(days=days_ago, minutes=minutes)
            status = rng.choice(UNDER_WAY if days_ago < 2 else ENDINGS)
            _one_order(account_id, service, quantity, status, when, number, rng)
            by_status[status] = by_status.get(status, 0) + 1
    return History(orders=number, by_status=by_status)


@transaction.atomic
def _one_order(account_id: int, service: Service, quantity: int, status: str, when, number: int, rng) -> None:
    link = f"https://instagram.com/demo_history_{number}"
    order = services.place_order(account_id, validate_order(service, {"link": link, "quantity": str(quantity)}))
    if status == Status.PARTIAL:
        services.apply_status(order.pk, status, remains=rng.randint(1, quantity - 1), start_count=rng.randint(0, 5000))
    elif status != Status.PENDING:
        services.apply_status(order.pk, status, remains=0 if status == Status.COMPLETED else quantity)
    # Back to its day: the order, and its charge and refund in the ledger, a little after it.
    finished = when + timedelta(minutes=rng.randint(10, 50))
    Order.objects.filter(pk=order.pk).update(
        created=when,
        started_at=when if status != Status.PENDING else None,
        finished_at=finished if status in ENDINGS else None,
    )
    LedgerEntry.objects.filter(order_id=order.pk, kind="charge").update(created=when)
    LedgerEntry.objects.filter(order_id=order.pk, kind="refund").update(created=finished)
