"""The response bodies of API v2, shaped and typed exactly as the reference shows."""

from smmpanel.ledger.money import format_money, format_rate
from smmpanel.orders import selectors

CURRENCY = "USD"


def service_item(service) -> dict:
    """A service on sale (smmpanel.api.queries.ServiceItem) as `services` lists it."""
    return {
        "service": service.id,
        "name": service.name,
        "type": service.type,
        "category": service.category,
        "rate": format_rate(service.rate),
        "min": str(service.min),
        "max": str(service.max),
        "refill": service.refill,
        "cancel": service.cancel,
        "dripfeed": service.dripfeed,
    }


def order_statuses(orders) -> dict[int, dict]:
    """The `status` answer of each order, by id; subscriptions get their posts and orders too."""
    summaries = selectors.summaries(orders)
    result = {}
    for order in orders:
        summary = summaries[order.pk]
        body = {
            "charge": format_money(summary.paid),
            "start_count": str(order.start_count),
            "status": order.status,
            "remains": str(order.remains),
            "currency": CURRENCY,
        }
        if summary.subscription:
            body["posts"] = str(summary.posts)
            body["orders"] = summary.children
        result[order.pk] = body
    return result


def balance(account) -> dict:
    return {"balance": format_money(account.balance), "currency": CURRENCY}
