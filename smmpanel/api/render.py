"""The response bodies of API v2, shaped and typed exactly as the reference shows."""

from django.db.models import Q

from smmpanel.ledger.money import ZERO, format_money, format_rate
from smmpanel.orders.models import Order

CURRENCY = "USD"


def service_item(service) -> dict:
    return {
        "service": service.id,
        "name": service.name,
        "type": service.type,
        "category": service.category.name,
        "rate": format_rate(service.rate),
        "min": str(service.min),
        "max": str(service.max),
        "refill": service.refill,
        "cancel": service.cancel,
        "dripfeed": service.dripfeed,
    }


def order_statuses(orders) -> dict[int, dict]:
    """The `status` answer of each order, by id; subscriptions get their posts and orders too."""
    subs = [o.pk for o in orders if o.is_subscription]
    children: dict[int, list] = {pk: [] for pk in subs}
    if subs:
        rows = Order.objects.filter(Q(parent_id__in=subs)).order_by("id")
        for child in rows.values("id", "parent_id", "charge", "refunded", "paid_by_parent"):
            children[child["parent_id"]].append(child)
    result = {}
    for order in orders:
        paid = order.charge - order.refunded
        body = {
            "charge": None,
            "start_count": str(order.start_count),
            "status": order.status,
            "remains": str(order.remains),
            "currency": CURRENCY,
        }
        if order.is_subscription:
            kids = children[order.pk]
            # What the whole subscription cost the customer: its own prepayment
            # (or nothing) plus orders paid one by one, less every refund.
            paid += sum((c["charge"] if not c["paid_by_parent"] else ZERO) - c["refunded"] for c in kids)
            body["posts"] = str(order.posts_done + order.old_posts_done)
            body["orders"] = [c["id"] for c in kids]
        body["charge"] = format_money(paid)
        result[order.pk] = body
    return result


def balance(account) -> dict:
    return {"balance": format_money(account.balance), "currency": CURRENCY}
