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

from django.db.models import Q, QuerySet

from smmpanel.catalog.models import Service
from smmpanel.ids import parse_id
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


def own_order(account_id: int, raw_id) -> Order | None:
    """The customer's order with this id; another customer's is as good as missing."""
    order_id = parse_id(raw_id)
    if order_id is None:
        return None
    return Order.objects.select_related("service").filter(pk=order_id, account_id=account_id).first()


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


# --- web: orders pages ------------------------------------------------------------
#
# The customer's lists page by keyset on id (smmpanel.paging). Each filter a tab
# or list uses has its index (smmpanel/orders/migrations/0004_web_order_lists.py).

# The orders page's tabs: slug -> status (None: all).
ORDER_TABS: dict[str, str | None] = {
    "all": None,
    "pending": Status.PENDING,
    "in-progress": Status.IN_PROGRESS,
    "processing": Status.PROCESSING,
    "completed": Status.COMPLETED,
    "partial": Status.PARTIAL,
    "canceled": Status.CANCELED,
}

# What a list row shows of an order (and of its service, the name).
_LIST_COLUMNS = (
    "id",
    "account",
    "service",
    "service__name",
    "type",
    "link",
    "quantity",
    "runs",
    "interval",
    "total",
    "charge",
    "refunded",
    "status",
    "start_count",
    "remains",
    "posts_done",
    "old_posts_done",
    "params",
    "created",
)


def _link_prefixes(text: str) -> list[str]:
    """What a link search matches the start of: as typed, and with the schemes people leave out."""
    if "://" in text:
        return [text]
    return [text, f"https://{text}", f"http://{text}", f"https://www.{text}"]


def customer_orders(account_id: int, *, tab: str = "all", search: str = "") -> QuerySet[Order]:
    """The customer's orders in a tab, searched by id (a number) or by the start of the link."""
    rows = Order.objects.filter(account_id=account_id).select_related("service").only(*_LIST_COLUMNS)
    status = ORDER_TABS.get(tab)
    if status is not None:
        rows = rows.filter(status=status)
    search = search.strip()
    if search:
        number = parse_id(search.lstrip("#"))
        if number is not None:
            rows = rows.filter(pk=number)
        else:
            # Prefix matches only: each is a range of the (account, link) index;
            # "contains" would read every order of the account.
            prefixes = Q()
            for prefix in _link_prefixes(search[:500]):
                prefixes |= Q(link__startswith=prefix)
            rows = rows.filter(prefixes)
    return rows


def dripfeed_orders(account_id: int) -> QuerySet[Order]:
    return customer_orders(account_id).filter(runs__isnull=False)


def subscriptions(account_id: int) -> QuerySet[Order]:
    return customer_orders(account_id).filter(type="Subscriptions")


def customer_refills(account_id: int) -> QuerySet[Refill]:
    return (
        Refill.objects.filter(account_id=account_id)
        .select_related("order")
        .only("id", "status", "created", "updated", "order_id", "order__link", "order__service_id")
    )


@dataclass(frozen=True)
class Run:
    """One drip-feed run as the customer sees it: its number, when it is due, how far it got."""

    number: int
    due: datetime
    delivered: int
    quantity: int
    state: str  # "done", "running", "waiting", "not run"


def dripfeed_runs(order: Order) -> list[Run]:
    """A drip-feed order's runs, read from what it delivered so far (total − remains), whoever delivers it."""
    if not order.runs or order.interval is None:
        return []
    delivered = max(0, order.total - order.remains)
    runs = []
    for number in range(1, order.runs + 1):
        done = min(order.quantity, max(0, delivered - (number - 1) * order.quantity))
        if done >= order.quantity:
            state = "done"
        elif done > 0:
            state = "running" if not order.is_final else "not run"
        else:
            state = "not run" if order.is_final else "waiting"
        due = order.created + timedelta(minutes=order.interval * (number - 1))
        runs.append(Run(number, due, done, order.quantity, state))
    return runs


def runs_done(order: Order) -> int:
    """How many of a drip-feed order's runs were delivered in full (the lists show this, not every run)."""
    if not order.runs or not order.quantity:
        return 0
    return min(order.runs, max(0, order.total - order.remains) // order.quantity)


def subscription_posts(order: Order, limit: int = 100) -> list[Order]:
    """A subscription's orders, one per post, newest first (the latest `limit`)."""
    return list(order.children.select_related("service").order_by("-id")[:limit])


# What of an order's history its customer sees: its statuses and their own requests. Steps
# between the panel and its providers (placed upstream, needs attention, resumed …) are the owner's.
CUSTOMER_EVENTS = ("status", "cancel requested", "refill requested", "refill status")


def order_history(order: Order) -> QuerySet:
    """The changes of an order (and of its refills) its customer sees, oldest first."""
    shown = ("id", "created", "actor", "action", "old_status", "new_status", "remains", "refill_id")
    return order.events.filter(action__in=CUSTOMER_EVENTS).only(*shown)


def possible_actions(order: Order, now: datetime) -> dict[str, bool]:
    """Which of the customer's buttons the rules allow on `order` now (the services ask the same rules)."""
    can_refill = refill_refusal(order, now, open_refill=False) is None and not has_open_refill(order.pk)
    return {"refill": can_refill, "cancel": cancel_refusal(order) is None}
