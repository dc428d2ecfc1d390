"""Order logic: place, cancel, refill, apply a new status (with its refund), and the history of each.

Views, the admin and the worker call these; none of them write money or
statuses themselves. Every function here is one short transaction, and every
change it makes to an order or refill is also an OrderEvent row (who, what,
old → new), written in that same transaction.

Worker steps pass their claim's `lease` (the row's claim_token when it was
claimed): the row is re-read under lock and the change refused with
LeaseLost when another worker has claimed it since, so a step that outlived
its lease changes nothing.
"""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from smmpanel import fastsql
from smmpanel.accounts import verification
from smmpanel.accounts.models import Account
from smmpanel.alerts import services as alerts
from smmpanel.ledger import services as ledger
from smmpanel.ledger.money import MAX_AMOUNT, ZERO, round5, shown_money
from smmpanel.orders import selectors
from smmpanel.orders.errors import OrderError
from smmpanel.orders.models import Action, Actor, Order, OrderEvent, Refill, Status, allowed
from smmpanel.orders.selectors import own_order
from smmpanel.orders.validation import OrderRequest

ACTORS = frozenset(Actor.values)


class LeaseLost(Exception):
    """The row was claimed by another worker since this step's claim: the step must not change it."""


def _due(service, now):
    """When the worker first looks at new work of the service's kind; None: a person does it."""
    return service.kind.first_due(now)


def _locked(model, pk: int, lease: int | None, *related):
    """The row, re-read under lock; with a lease, only while that claim still holds it."""
    row = model.objects.select_for_update(of=("self",)).select_related(*related).get(pk=pk)
    if lease is not None and row.claim_token != lease:
        raise LeaseLost(f"{model.__name__} #{pk}")
    return row


def check_lease(order_id: int, lease: int | None) -> None:
    """Inside a transaction: lock the order and make sure this claim still holds it (else LeaseLost).

    No lease at all is no claim: refused too (sending upstream is only ever a claimed step's to do).
    """
    if lease is None:
        raise LeaseLost(f"Order #{order_id}: not claimed")
    _locked(Order, order_id, lease)


def record(
    order_id: int,
    action: str,
    actor: str,
    *,
    old="",
    new="",
    remains=None,
    start_count=None,
    message="",
    refill_id=None,
    user=None,
) -> OrderEvent:
    """Write one line of an order's history (call inside the transaction making the change)."""
    return OrderEvent.objects.create(
        order_id=order_id,
        refill_id=refill_id,
        action=action,
        actor=actor,
        old_status=old,
        new_status=new,
        remains=remains,
        start_count=start_count,
        message=str(message)[:1000],
        user=user,
    )


# --- placing ----------------------------------------------------------------


def _insert(order: Order, *, pay: bool, memo: str, actor: str) -> Order:
    """The one way an order is created (placed orders and subscription posts): insert, charge, "placed".

    Call inside a transaction: a charge that fails (NotEnoughFunds) must take
    the order (and its history line) with it.
    """
    if actor not in ACTORS:  # the CHECK would refuse it as an IntegrityError, which callers read as a duplicate
        raise ValueError(f"unknown actor {actor!r}")
    fastsql.insert(order)  # the hot path of `add`: no ORM compiling
    if pay:
        ledger.debit(order.account_id, order.charge, order, memo=memo.format(id=order.pk))
    fastsql.insert_row(OrderEvent, order_id=order.pk, action=Action.PLACED, actor=actor)  # no instance built
    return order


def _refuse_debt(account_id: int) -> None:
    debt = Account.objects.filter(pk=account_id).values_list("debt", flat=True).first()
    if debt:
        raise OrderError("account_in_debt", debt=shown_money(debt))


def place_order(account_id: int, req: OrderRequest, *, actor=Actor.API) -> Order:
    """Place and pay for an order; `actor` says through what (the API, the web form, a mass order …)."""
    service = req.service
    # SIGNUP_EMAIL_VERIFICATION: a sign-up places nothing before its address is confirmed
    # (a query only while the owner requires it).
    if settings.SIGNUP_EMAIL_VERIFICATION and not verification.may_order(account_id):
        raise OrderError("email_unverified")
    if req.charge > MAX_AMOUNT:
        # More than any balance can hold (and than the money column can store).
        raise OrderError("funds")
    now = timezone.now()
    subscription = service.order_type.subscription
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
    if req.pay_per_post:
        # Not charged now (each post is): the charge's own refusal of an account in debt comes too late.
        _refuse_debt(account_id)
    try:
        with transaction.atomic():
            _insert(order, pay=not req.pay_per_post, memo="Order #{id}", actor=actor)
    except ledger.InDebt as e:
        raise OrderError("account_in_debt", debt=shown_money(e.debt)) from None
    except ledger.NotEnoughFunds:
        raise OrderError("funds") from None
    except IntegrityError:
        # Only the one-active-order-per-link constraint can fail here. The
        # database is the check (no SELECT first): it also holds for
        # concurrent adds, and costs nothing on the common path.
        raise OrderError("duplicate") from None
    return order


# --- settling ---------------------------------------------------------------


def _refund(order: Order, amount: Decimal, reason: str) -> Decimal:
    """Refund up to what is left of the charge, once per (order, reason); returns what was refunded."""
    amount = min(round5(amount), order.charge - order.refunded)
    if amount <= ZERO:
        return ZERO
    if ledger.refund(order.account_id, amount, order, reason, memo=f"Order #{order.pk}: {reason}"):
        order.refunded += amount
        return amount
    return ZERO


def _finish(order: Order, now) -> None:
    order.finished_at = now
    order.due_at = None
    order.needs_attention = False


def apply_status(
    order_id: int,
    status: str,
    *,
    remains=None,
    start_count=None,
    now=None,
    actor=Actor.WORKER,
    message="",
    lease=None,
    user=None,
    posts=None,
    used=None,
) -> Order:
    """Move an order to `status`, applying the refund rules when it ends.

    Partial refunds charge × remains / total; Canceled refunds what is left of
    the charge. A final order stays final: applying anything to it again is a
    no-op, so a repeated outcome can never refund twice. Subscriptions whose
    posts are counted elsewhere (forwarded to a provider) take `posts` (posts
    handled) and, when they end, `used` (what of the prepayment was used). A change the
    transition table does not allow (Completed → In progress, an order to
    Expired) raises OrderError("bad_transition") and changes nothing.
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = _locked(Order, order_id, lease, "service")
        if order.is_final:
            return order
        old = order.status
        if status == Status.PARTIAL and not order.is_subscription:
            if remains is not None:
                order.remains = min(max(0, int(remains)), order.total)
            if order.remains >= order.total:
                status = Status.CANCELED  # nothing was delivered
            elif order.remains == 0:
                status = Status.COMPLETED
        if not allowed(order.transitions, old, status):
            raise OrderError("bad_transition", old=old, new=status)
        if order.is_subscription:
            if posts is not None:
                order.posts_done = max(order.posts_done, int(posts))
            _set_subscription_status(order, status, now, used)
        else:
            _set_order_status(order, status, remains, start_count, now)
        if order.status != old:
            record(
                order.pk,
                Action.STATUS,
                actor,
                old=old,
                new=order.status,
                remains=order.remains,
                start_count=order.start_count,
                message=message,
                user=user,
            )
        return order


def _set_order_status(order: Order, status: str, remains, start_count, now) -> None:
    if start_count is not None:
        order.start_count = max(0, int(start_count))
    if remains is not None:
        order.remains = min(max(0, int(remains)), order.total)
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
        _finish(order, now)
    order.save()


def _set_subscription_status(sub: Order, status: str, now, used=None) -> None:
    sub.status = status
    if sub.is_final:
        _finish(sub, now)
        if "posts" in sub.params:  # prepaid: give back the posts not used
            if used is None:
                used = sub.children.aggregate(s=Sum("charge"))["s"] or ZERO
            _refund(sub, sub.charge - used, "unused-posts")
    sub.save()


def add_post_order(
    sub_id: int, *, number: int, old: bool, link: str, quantity: int, now=None, lease=None
) -> Order | None:
    """A subscription's order for its post `number` (old posts and new ones counted apart).

    Idempotent by construction: post n is made only when post n−1 is done (the
    counter is read under the subscription's lock) and the database refuses
    a second order for the same post. Pay-per-post subscriptions pause when
    funds run out. Returns the new order, or None when the subscription is not
    running, the post was already made, or it could not pay (it is then Paused).
    """
    now = now or timezone.now()
    with transaction.atomic():
        sub = _locked(Order, sub_id, lease, "service")
        if sub.status not in (Status.ACTIVE, Status.PAUSED):
            return None
        if number != (sub.old_posts_done if old else sub.posts_done) + 1:
            return None  # made already (or out of turn): never twice
        service = sub.service
        prepaid = "posts" in sub.params
        delay = timedelta(minutes=int(sub.params.get("delay", 0)))
        child = Order(
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
            post_number=number,
            post_is_old=old,
            due_at=(now + delay) if _due(service, now) else None,
        )
        try:
            with transaction.atomic():
                _insert(child, pay=not prepaid, memo=f"Subscription #{sub.pk} post", actor=Actor.WORKER)
        except ledger.NotEnoughFunds:
            if sub.status != Status.PAUSED:
                sub.status = Status.PAUSED
                sub.save(update_fields=["status", "updated"])
                record(
                    sub.pk,
                    Action.STATUS,
                    Actor.WORKER,
                    old=Status.ACTIVE,
                    new=Status.PAUSED,
                    message="Not enough funds for the next post.",
                )
            return None
        if sub.status == Status.PAUSED:
            record(sub.pk, Action.STATUS, Actor.WORKER, old=Status.PAUSED, new=Status.ACTIVE, message="Funds again.")
        sub.status = Status.ACTIVE
        if old:
            sub.old_posts_done = number
        else:
            sub.posts_done = number
        sub.save(update_fields=["status", "posts_done", "old_posts_done", "updated"])
        return child


def flag_attention(order_id: int, reason: str, *, actor=Actor.WORKER, lease=None, user=None) -> Order:
    """Stop working on an order until a person looks: "needs attention", with the reason, in its history."""
    with transaction.atomic():
        order = _locked(Order, order_id, lease)
        if order.is_final:
            return order
        newly = not order.needs_attention
        order.needs_attention = True
        order.attention_note = str(reason)[:500]
        order.due_at = None
        order.save(update_fields=["needs_attention", "attention_note", "due_at", "updated"])
        event = record(order.pk, Action.NEEDS_ATTENTION, actor, message=reason, user=user)
        if newly and actor != Actor.ADMIN:  # the owner hears of it (not of what a person flagged themselves)
            alerts.order_needs_attention(order.pk, str(reason), event.pk)
        return order


def resume(order_id: int, note: str, *, actor=Actor.ADMIN, user=None, now=None) -> Order:
    """A person cleared what needed attention: the worker looks at the order again now."""
    now = now or timezone.now()
    with transaction.atomic():
        order = _locked(Order, order_id, None, "service")
        if order.is_final:
            return order
        order.needs_attention = False
        order.attention_note = ""
        order.attempts = 0
        order.due_at = _due(order.service, now)
        order.save(update_fields=["needs_attention", "attention_note", "attempts", "due_at", "updated"])
        record(order.pk, Action.RESUMED, actor, message=note, user=user)
        return order


# --- customer requests ---------------------------------------------------------


def request_cancel(account_id: int, raw_id, *, actor=Actor.API) -> Order:
    order = own_order(account_id, raw_id)
    if order is None:
        raise OrderError("bad_order")
    if not order.service.cancel:
        raise OrderError("cancel_disabled")
    with transaction.atomic():
        order = _locked(Order, order.pk, None, "service")
        refusal = selectors.cancel_refusal(order)  # again under the lock: the worker may have finished it
        if refusal is not None:
            raise refusal
        order.cancel_requested_at = timezone.now()
        # What the request does is the kind's to say: the worker looks now, or a person is asked to.
        changes = order.service.kind.cancel_requested(order, order.cancel_requested_at)
        for field, value in changes.items():
            setattr(order, field, value)
        order.save()
        event = record(order.pk, Action.CANCEL_REQUESTED, actor)
        if changes.get("needs_attention"):  # the kind asked a person to do it: the owner hears of it
            alerts.order_needs_attention(order.pk, order.attention_note, event.pk)
    return order


def request_refill(account_id: int, raw_id, *, actor=Actor.API) -> Refill:
    order = own_order(account_id, raw_id)
    if order is None:
        raise OrderError("bad_order")
    now = timezone.now()
    refusal = selectors.refill_refusal(order, now, selectors.has_open_refill(order.pk))
    if refusal is not None:
        raise refusal
    try:
        with transaction.atomic():
            refill = Refill.objects.create(order=order, account_id=account_id, due_at=_due(order.service, now))
            event = record(order.pk, Action.REFILL_REQUESTED, actor, refill_id=refill.pk)
            changes = order.service.kind.refill_requested(order, refill)  # e.g. a person is asked to
            if changes:
                Order.objects.filter(pk=order.pk).update(**changes)
                if changes.get("needs_attention"):  # the owner hears of it
                    alerts.order_needs_attention(order.pk, changes.get("attention_note", ""), event.pk)
    except IntegrityError:
        raise OrderError("refill_open") from None
    return refill


def apply_refill_status(
    refill_id: int, status: str, *, actor=Actor.WORKER, message="", lease=None, user=None
) -> Refill:
    with transaction.atomic():
        refill = _locked(Refill, refill_id, lease)
        if refill.status in (Refill.Status.COMPLETED, Refill.Status.REJECTED):
            return refill
        old = refill.status
        if not allowed("refill", old, status):
            raise OrderError("bad_transition", old=old, new=status)
        refill.status = status
        if status in (Refill.Status.COMPLETED, Refill.Status.REJECTED):
            refill.due_at = None
        refill.save()
        if status != old:
            record(
                refill.order_id,
                Action.REFILL_STATUS,
                actor,
                old=old,
                new=status,
                message=message,
                refill_id=refill.pk,
                user=user,
            )
        return refill
