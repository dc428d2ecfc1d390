"""Order logic: place, cancel, refill, and apply a new status (with its refund).

Views and the worker call these; none of them write money or statuses
themselves. Every function here is one short transaction.
"""

from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from smmpanel import fastsql
from smmpanel.ledger import services as ledger
from smmpanel.ledger.money import MAX_AMOUNT, ZERO, round5
from smmpanel.orders.errors import OrderError
from smmpanel.orders.models import Order, Refill, Status
from smmpanel.orders.validation import OrderRequest

# Fulfilments the worker drives; orders of the others wait for a person.
WORKER_FULFILMENTS = {"simulated"}


def _due(service, now):
    return now if service.fulfilment in WORKER_FULFILMENTS else None


def parse_id(raw) -> int | None:
    text = str(raw).strip()
    # ASCII digits only: str.isdigit() is also true of "²" (which int() refuses)
    # and of other scripts' digits, which are not ids.
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text)


def own_order(account_id: int, raw_id) -> Order | None:
    """The customer's order with this id; another customer's is as good as missing."""
    order_id = parse_id(raw_id)
    if order_id is None:
        return None
    return Order.objects.select_related("service").filter(pk=order_id, account_id=account_id).first()


# --- placing ----------------------------------------------------------------


def place_order(account_id: int, req: OrderRequest) -> Order:
    service = req.service
    if req.charge > MAX_AMOUNT:
        # More than any balance can hold (and than the money column can store).
        raise OrderError("funds")
    now = timezone.now()
    subscription = service.order_type.subscription
    try:
        with transaction.atomic():
            order = Order(
                account_id=account_id,
                service=service,
                type=service.type,
                link=req.link,
                quantity=req.quantity,
                runs=req.runs,
                interval=req.interval,
                total=req.total,
                remains=req.total,
                params=req.params,
                charge=req.charge,
                status=Status.ACTIVE if subscription else Status.PENDING,
                due_at=_due(service, now),
            )
            fastsql.insert(order)  # the hot path of `add`: no ORM compiling
            if not req.pay_per_post:
                ledger.debit(account_id, req.charge, order, memo=f"Order #{order.pk}")
    except ledger.NotEnoughFunds:
        raise OrderError("funds") from None
    except IntegrityError:
        # Only the one-active-order-per-link constraint can fail here. The
        # database is the check (no SELECT first): it also holds for
        # concurrent adds, and costs nothing on the common path.
        raise OrderError("duplicate") from None
    return order


# --- settling ---------------------------------------------------------------


def _refund(order: Order, amount: Decimal, reason: str) -> None:
    amount = min(round5(amount), order.charge - order.refunded)
    if amount <= ZERO:
        return
    if ledger.refund(order.account_id, amount, order, reason, memo=f"Order #{order.pk}: {reason}"):
        order.refunded += amount


def apply_status(order_id: int, status: str, *, remains=None, start_count=None, now=None) -> Order:
    """Move an order to `status`, applying the refund rules when it ends.

    Partial refunds charge × remains / total; Canceled refunds what is left of
    the charge. A final order stays final: applying anything to it again is a
    no-op, so a repeated outcome can never refund twice.
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("service").get(pk=order_id)
        if order.is_final:
            return order
        if order.is_subscription:
            return _set_subscription_status(order, status, now)
        if start_count is not None:
            order.start_count = max(0, int(start_count))
        if remains is not None:
            order.remains = min(max(0, int(remains)), order.total)
        if status == Status.PARTIAL and order.remains >= order.total:
            status = Status.CANCELED  # nothing was delivered
        if status == Status.PARTIAL and order.remains == 0:
            status = Status.COMPLETED
        order.status = status
        if status in (Status.IN_PROGRESS, Status.PROCESSING) and order.started_at is None:
            order.started_at = now
        if status == Status.COMPLETED:
            order.remains = 0
        elif status == Status.PARTIAL:
            _refund(order, order.charge * order.remains / order.total, "partial")
        elif status == Status.CANCELED:
            _refund(order, order.charge - order.refunded, "canceled")
        if order.is_final:
            order.finished_at = now
            order.due_at = None
            order.needs_attention = False
        order.save()
        return order


def _set_subscription_status(sub: Order, status: str, now) -> Order:
    sub.status = status
    if sub.is_final:
        sub.finished_at = now
        sub.due_at = None
        sub.needs_attention = False
        if "posts" in sub.params:  # prepaid: give back the posts not used
            used = sub.children.aggregate(s=Sum("charge"))["s"] or ZERO
            _refund(sub, sub.charge - used, "unused-posts")
    sub.save()
    return sub


def add_post_order(sub_id: int, *, link: str, quantity: int, old: bool, now=None) -> Order | None:
    """A subscription's order for one post. Pay-per-post subscriptions pause when funds run out.

    Returns the new order, or None when the subscription is not Active or
    could not pay (it is then Paused).
    """
    now = now or timezone.now()
    with transaction.atomic():
        sub = Order.objects.select_for_update().select_related("service").get(pk=sub_id)
        if sub.status not in (Status.ACTIVE, Status.PAUSED):
            return None
        service = sub.service
        prepaid = "posts" in sub.params
        delay = timedelta(minutes=int(sub.params.get("delay", 0)))
        try:
            with transaction.atomic():
                child = Order.objects.create(
                    account_id=sub.account_id,
                    service=service,
                    type="Default",
                    link=link,
                    quantity=quantity,
                    total=quantity,
                    remains=quantity,
                    charge=round5(service.rate * quantity / 1000),
                    parent=sub,
                    paid_by_parent=prepaid,
                    due_at=(now + delay) if _due(service, now) else None,
                )
                if not prepaid:
                    ledger.debit(sub.account_id, child.charge, child, memo=f"Subscription #{sub.pk} post")
        except ledger.NotEnoughFunds:
            sub.status = Status.PAUSED
            sub.save(update_fields=["status", "updated"])
            return None
        sub.status = Status.ACTIVE
        if old:
            sub.old_posts_done += 1
        else:
            sub.posts_done += 1
        sub.save(update_fields=["status", "posts_done", "old_posts_done", "updated"])
        return child


# --- customer requests ---------------------------------------------------------


def request_cancel(account_id: int, raw_id) -> Order:
    order = own_order(account_id, raw_id)
    if order is None:
        raise OrderError("bad_order")
    if not order.service.cancel:
        raise OrderError("cancel_disabled")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.is_final:
            raise OrderError("cancel_final", status=order.status)
        if order.cancel_requested_at is not None:
            raise OrderError("cancel_requested")
        order.cancel_requested_at = timezone.now()
        if order.due_at is None:
            # A person fulfils this order: they have to see the request.
            order.needs_attention = True
            order.attention_note = "The customer asked to cancel this order."
        else:
            order.due_at = order.cancel_requested_at
        order.save()
    return order


def request_refill(account_id: int, raw_id) -> Refill:
    order = own_order(account_id, raw_id)
    if order is None:
        raise OrderError("bad_order")
    if not order.service.refill or order.is_subscription:
        raise OrderError("refill_disabled")
    if order.status != Status.COMPLETED:
        raise OrderError("refill_not_completed", status=order.status)
    now = timezone.now()
    if order.finished_at and order.finished_at + timedelta(days=order.service.refill_days) < now:
        raise OrderError("refill_expired", days=order.service.refill_days)
    if Refill.objects.filter(order=order, status__in=Refill.OPEN).exists():
        raise OrderError("refill_open")
    try:
        with transaction.atomic():
            refill = Refill.objects.create(order=order, account_id=account_id, due_at=_due(order.service, now))
    except IntegrityError:
        raise OrderError("refill_open") from None
    if refill.due_at is None:
        Order.objects.filter(pk=order.pk).update(
            needs_attention=True, attention_note=f"Refill #{refill.pk} asked for."
        )
    return refill


def apply_refill_status(refill_id: int, status: str) -> Refill:
    with transaction.atomic():
        refill = Refill.objects.select_for_update().get(pk=refill_id)
        if refill.status in (Refill.Status.COMPLETED, Refill.Status.REJECTED):
            return refill
        refill.status = status
        if status in (Refill.Status.COMPLETED, Refill.Status.REJECTED):
            refill.due_at = None
        refill.save()
        return refill
