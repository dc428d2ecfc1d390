"""The read side of orders, shared by the API and the web panel: one answer to "what does the customer see".

What an order cost the customer (a subscription's own prepayment plus the
orders it paid one by one, less every refund), a subscription's posts and
orders, the statuses of refills, the catalog on sale, and whether the rules
allow a refill or a cancel now. The API's hot-path SQL (smmpanel/api/queries.py)
reads the rows; the rules of what they mean are here, for both faces. Writes
go through smmpanel/orders/services.py, which asks the same rules.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet

from smmpanel.catalog.models import Service
from smmpanel.ledger.money import ZERO
from smmpanel.orders.errors import OrderError
from smmpanel.orders.models import Order, Refill, Status


@dataclass(frozen=True)
class Summary:
    """What the customer sees of an order's money and, for a subscription, of its posts."""

    paid: Decimal
    subscription: bool = False
    posts: int = 0  # subscriptions: posts handled, new and old
    children: list[int] = field(default_factory=list)  # subscriptions: their orders, oldest first


def summaries(orders: Iterable) -> dict[int, Summary]:
    """Each order's Summary by id, in one extra query for all the subscriptions among them.

    `orders` are Order rows or rows shaped like them (pk, is_subscription,
    charge, refunded, posts_done, old_posts_done): the API passes its raw-SQL rows.
    """
    orders = list(orders)
    subs = [o.pk for o in orders if o.is_subscription]
    children: dict[int, list] = {pk: [] for pk in subs}
    if subs:
        rows = Order.objects.filter(parent_id__in=subs).order_by("id")
        for child in rows.values("id", "parent_id", "charge", "refunded", "paid_by_parent"):
            children[child["parent_id"]].append(child)
    result = {}
    for order in orders:
        paid = order.charge - order.refunded
        if not order.is_subscription:
            result[order.pk] = Summary(paid=paid)
            continue
        kids = children[order.pk]
        # A prepaid subscription's orders cost nothing more (their refunds
        # still count); a pay-per-post one's orders were charged one by one.
        paid += sum((c["charge"] if not c["paid_by_parent"] else ZERO) - c["refunded"] for c in kids)
        result[order.pk] = Summary(
            paid=paid,
            subscription=True,
            posts=order.posts_done + order.old_posts_done,
            children=[c["id"] for c in kids],
        )
    return result


def active_services() -> QuerySet[Service]:
    """The catalog on sale, in the owner's order (category, then position)."""
    return Service.objects.filter(active=True).select_related("category")


def refill_statuses(account_id: int, ids: Iterable[int]) -> dict[int, str]:
    """The status of each of the customer's refills among `ids`; others' are simply absent."""
    return dict(Refill.objects.filter(pk__in=list(ids), account_id=account_id).values_list("id", "status"))


def has_open_refill(order_id: int) -> bool:
    return Refill.objects.filter(order_id=order_id, status__in=Refill.OPEN).exists()


def refill_refusal(order: Order, now: datetime, open_refill: bool) -> OrderError | None:
    """Why a refill of `order` is refused now, or None when the rules allow it."""
    if not order.service.refill or order.is_subscription:
        return OrderError("refill_disabled")
    if order.status != Status.COMPLETED:
        return OrderError("refill_not_completed", status=order.status)
    if order.finished_at and order.finished_at + timedelta(days=order.service.refill_days) < now:
        return OrderError("refill_expired", days=order.service.refill_days)
    if open_refill:
        return OrderError("refill_open")
    return None


def cancel_refusal(order: Order) -> OrderError | None:
    """Why a cancel of `order` is refused now, or None when the rules allow it."""
    if not order.service.cancel:
        return OrderError("cancel_disabled")
    if order.is_final:
        return OrderError("cancel_final", status=order.status)
    if order.cancel_requested_at is not None:
        return OrderError("cancel_requested")
    return None
