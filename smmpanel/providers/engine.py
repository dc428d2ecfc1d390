"""Forwarding orders to providers and keeping them in sync: the provider kind's worker steps.

The worker hands `advance_orders` a batch of claimed orders of one provider.
For each it does what is due, in this order:
  - a cancel asked before anything was sent: Canceled here, fully refunded;
  - placing: at most once. An UpstreamOrder row in state SUBMITTING is
    committed before the request is sent; the provider's answer then moves it
    on (placed / refused and refunded / retried later / ambiguous). A row found
    SUBMITTING by a later step (the worker died, or its lease ran out while it
    waited) is never resent: it goes to "needs attention";
  - cancels asked by customers: one multi `cancel` call;
  - statuses: one multi `status` call per 100 placed orders; a change is
    applied through smmpanel.orders.services (refunds happen there, once).
Refills are forwarded with one multi `refill` call and synced with
`refill_status`.

What the provider's answers mean is decided in smmpanel.providers.answers.
"""

import logging
import random
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from smmpanel.client import ApiError, ClientError
from smmpanel.fulfilment.base import Outcome, StepError
from smmpanel.orders import services
from smmpanel.orders.errors import OrderError
from smmpanel.orders.models import Actor, Order, Refill, Status
from smmpanel.providers import answers, dripfeed
from smmpanel.providers.connection import calling
from smmpanel.providers.models import UpstreamOrder, UpstreamRefill

log = logging.getLogger(__name__)
State = UpstreamOrder.State

# After this many answers in a row that the provider does not know an order, a person has to look.
UNKNOWN_LIMIT = 3
# How long past the request timeout a SUBMITTING row is surely no longer waited for by its step.
SUBMIT_GRACE = timedelta(seconds=30)


def next_check(order: Order, now):
    """When to ask about an order again: often while it is young, then less and less (jittered ±20 %)."""
    base = settings.PROVIDER_SYNC_SECONDS
    age = (now - order.created).total_seconds()
    factor = 1 if age < 600 else 4 if age < 3600 else 20 if age < 86400 else 60
    return now + timedelta(seconds=base * factor * random.uniform(0.8, 1.2))


def _upstream_params(order: Order) -> dict:
    """The `add` fields of a local order, as the provider's API expects them."""
    params: dict[str, Any] = {"link": order.link}
    spec = order.service.order_type
    if spec.subscription:
        params = dict(order.params)
        if "expiry" in params:  # stored as ISO, sent as d/m/Y
            year, month, day = params["expiry"].split("-")
            params["expiry"] = f"{day}/{month}/{year}"
        return params
    if spec.takes_quantity:
        params["quantity"] = order.quantity
    if order.runs:
        params["runs"], params["interval"] = order.runs, order.interval
    params.update(order.params)
    return params


# --- orders ------------------------------------------------------------------------------------


def advance_orders(orders: list[Order], now) -> dict[int, Outcome]:
    provider = orders[0].service.upstream.provider
    outcomes: dict[int, Outcome] = {}
    if not provider.enabled:
        return {o.pk: Outcome(next_due=now + timedelta(minutes=5)) for o in orders}
    here = [o for o in orders if dripfeed.runs_here(o)]
    if here:
        outcomes.update(dripfeed.advance(here, provider, now))
        orders = [o for o in orders if o.pk not in outcomes]
    rows = {u.order_id: u for u in UpstreamOrder.objects.filter(order__in=orders, run=0)}
    checking, canceling = [], []
    for order in orders:
        row = rows.get(order.pk)
        try:
            if row is None:
                outcomes[order.pk] = _place(order, provider, now)
            elif row.state == State.SUBMITTING:
                outcomes[order.pk] = _interrupted(order, row, provider, now)
            elif row.state == State.PLACED:
                if order.cancel_requested_at and row.cancel_sent_at is None:
                    canceling.append((order, row))
                checking.append((order, row))
            else:  # ambiguous or refused: nothing to do until a person acts
                outcomes[order.pk] = Outcome()
        except services.LeaseLost:
            outcomes[order.pk] = Outcome()
    if canceling:
        _forward_cancels(canceling, provider, now)
    if checking:
        outcomes.update(_sync(checking, provider, now))
    return outcomes


def _place(order: Order, provider, now, *, run: int = 0, quantity: int | None = None) -> Outcome:
    """Send one order (run 0) or one drip-feed run (1…runs, of `quantity`) to the provider, at most once."""
    lease = order.claim_token
    if order.cancel_requested_at is not None and run == 0:
        services.apply_status(
            order.pk,
            Status.CANCELED,
            actor=Actor.WORKER,
            lease=lease,
            now=now,
            message="Canceled at the customer's request before it was sent to the provider.",
        )
        return Outcome()
    upstream = order.service.upstream
    params = _upstream_params(order)
    if run:
        params.pop("runs", None)
        params.pop("interval", None)
        params["quantity"] = quantity
    # Committed before the request: from here on, this order may exist at the provider.
    try:
        with transaction.atomic():
            services.check_lease(order.pk, lease)
            row = UpstreamOrder.objects.create(
                order=order,
                run=run,
                provider=provider,
                state=State.SUBMITTING,
                submit_token=lease,
                submitted_at=now,
                quantity=quantity or order.total,
            )
    except IntegrityError:
        return Outcome(next_due=now)  # another step made it meanwhile: look again with what it made
    try:
        with calling(provider) as client:
            upstream_id = client.add(upstream.upstream_service, **params)
    except ClientError as e:
        return _refused_or_unsure(order, row, provider, e, now)
    _placed(row, upstream_id, lease=lease)
    return Outcome(next_due=next_check(order, now))


def _placed(row: UpstreamOrder, upstream_id, *, lease=None, user=None) -> bool:
    """Record the provider's order id (only the submitting step may, or a person).

    Also when another worker has meanwhile found the attempt interrupted and
    flagged it: the answer settles what it could not know, so the order goes
    back to the worker.
    """
    with transaction.atomic():
        current = UpstreamOrder.objects.select_for_update().filter(pk=row.pk).first()
        if current is None or current.state not in (State.SUBMITTING, State.AMBIGUOUS):
            return False
        if lease is not None and current.submit_token != lease:
            return False
        UpstreamOrder.objects.filter(pk=row.pk).update(state=State.PLACED, upstream_id=str(upstream_id), message="")
        actor = Actor.ADMIN if user else Actor.PROVIDER
        services.record(
            row.order_id, "placed upstream", actor, user=user, message=f"{row.provider.name} order {upstream_id}"
        )
        if current.state == State.AMBIGUOUS or user:
            services.resume(row.order_id, f"Upstream order {upstream_id} linked.", actor=actor, user=user)
    return True


def _refused_or_unsure(order: Order, row: UpstreamOrder, provider, error: ClientError, now) -> Outcome:
    verdict = answers.classify_add_failure(error)
    lease = order.claim_token
    if verdict == answers.RETRY:
        # Surely not placed: forget the attempt (only ours) and try again later.
        UpstreamOrder.objects.filter(pk=row.pk, state=State.SUBMITTING, submit_token=lease).delete()
        return Outcome(error=StepError(f"{provider.name}: {answers.words(error)}"))
    if verdict == answers.REFUSED:
        refusal = f"{provider.name} refused the order: {answers.words(error)}"
        with transaction.atomic():
            UpstreamOrder.objects.filter(pk=row.pk, submit_token=lease).update(
                state=State.REFUSED, message=answers.words(error)[:500]
            )
            if row.run == 0:
                services.apply_status(
                    order.pk, Status.CANCELED, actor=Actor.PROVIDER, lease=lease, now=now, message=refusal
                )
            else:  # one run of a drip-feed run here: the others go on; this one delivered nothing
                services.record(order.pk, "run refused", Actor.PROVIDER, message=f"Run {row.run}: {refusal}")
        return Outcome(next_due=now if row.run else None)
    _ambiguous(
        order.pk,
        row,
        f"{provider.name} gave no clear answer to the order: {answers.words(error)}. "
        "It may or may not have been placed: check there, then link its id, resend, "
        "or cancel and refund.",
        lease=lease,
    )
    return Outcome()


def _ambiguous(order_id: int, row: UpstreamOrder, reason: str, *, lease=None) -> None:
    with transaction.atomic():
        # Only while still unanswered: the submitting step may have recorded the provider's id meanwhile.
        if UpstreamOrder.objects.filter(pk=row.pk, state=State.SUBMITTING).update(
            state=State.AMBIGUOUS, message=reason[:500]
        ):
            services.flag_attention(order_id, reason, lease=lease)


def _interrupted(order: Order, row: UpstreamOrder, provider, now) -> Outcome:
    """A SUBMITTING row left by an earlier step: wait while that step may still get its answer, then ask a person."""
    waited_until = row.submitted_at + timedelta(seconds=provider.timeout_seconds) + SUBMIT_GRACE
    if now < waited_until:
        return Outcome(next_due=waited_until)
    _ambiguous(
        order.pk,
        row,
        "Sending this order to the provider was interrupted (the worker stopped or lost "
        "its lease): it may or may not have been placed. Check there, then link its id, "
        "resend, or cancel and refund.",
        lease=order.claim_token,
    )
    return Outcome()


def _forward_cancels(pairs: list, provider, now) -> None:
    ids = {row.upstream_id: (order, row) for order, row in pairs}
    try:
        with calling(provider) as client:
            results = client.cancel(list(ids))
    except ClientError as e:
        log.warning("%s: cancel of %d orders failed: %s", provider.name, len(ids), answers.words(e))
        return  # asked again at the next check
    for upstream_id, (order, row) in ids.items():
        result = results.get(int(upstream_id)) if upstream_id.isdigit() else None
        UpstreamOrder.objects.filter(pk=row.pk).update(cancel_sent_at=now)
        if isinstance(result, ApiError):
            services.record(
                order.pk, "cancel refused upstream", Actor.PROVIDER, message=f"{provider.name}: {result.message}"
            )
        else:
            services.record(order.pk, "cancel sent upstream", Actor.WORKER, message=provider.name)


def _sync(pairs: list, provider, now) -> dict[int, Outcome]:
    by_id = {}
    for order, row in pairs:
        by_id[row.upstream_id] = (order, row)
    outcomes = {}
    try:
        with calling(provider) as client:
            results = client.statuses([int(i) for i in by_id if i.isdigit()])
    except ClientError as e:
        error = StepError(f"{provider.name}: status failed: {answers.words(e)}")
        return {order.pk: Outcome(error=error) for order, _ in pairs}
    for upstream_id, (order, row) in by_id.items():
        result = results.get(int(upstream_id)) if upstream_id.isdigit() else None
        try:
            outcomes[order.pk] = _apply(order, row, result, provider, now)
        except services.LeaseLost:
            outcomes[order.pk] = Outcome()
    return outcomes


def _apply(order: Order, row: UpstreamOrder, result, provider, now) -> Outcome:
    lease = order.claim_token
    if result is None or isinstance(result, ApiError):
        unknown = row.unknown_answers + 1
        UpstreamOrder.objects.filter(pk=row.pk).update(unknown_answers=unknown, checked_at=now)
        words = result.message if result is not None else "no answer for this id"
        if unknown >= UNKNOWN_LIMIT:
            services.flag_attention(
                order.pk,
                f"{provider.name} does not know its order {row.upstream_id} ({unknown} answers in a row: {words}).",
                lease=lease,
            )
            return Outcome()
        return Outcome(next_due=next_check(order, now))
    status = answers.local_status(result.status, subscription=order.is_subscription)
    changes = {
        "status": result.status[:20],
        "remains": result.remains,
        "start_count": result.start_count,
        "charge": result.charge,
        "unknown_answers": 0,
    }
    if any(getattr(row, k) != v for k, v in changes.items()):
        UpstreamOrder.objects.filter(pk=row.pk).update(checked_at=now, **changes)
    if status is None:
        log.warning("%s order %s: unknown status %r", provider.name, row.upstream_id, result.status)
        return Outcome(next_due=next_check(order, now))
    if order.is_subscription:
        return _apply_subscription(order, result, status, provider, now)
    remains = answers.local_remains(result.remains, order.total)
    start_count = result.start_count
    seen = (
        status,
        order.remains if remains is None else remains,
        order.start_count if start_count is None else start_count,
    )
    if seen != (order.status, order.remains, order.start_count):
        order = report(order, status, provider, result.status, now, remains=remains, start_count=start_count)
    return Outcome(next_due=None if order.is_final else next_check(order, now))


def report(order: Order, status: str, provider, words: str, now, **changes) -> Order:
    """Apply what the provider says of an order through the orders services (refunds happen there, once).

    A change the transition table refuses (a step back, In progress → Pending) is logged and skipped:
    the order is returned as it was.
    """
    try:
        return services.apply_status(
            order.pk,
            status,
            actor=Actor.PROVIDER,
            lease=order.claim_token,
            now=now,
            message=f"{provider.name}: {words}",
            **changes,
        )
    except OrderError as e:
        log.warning("%s: order #%s %s → %s refused (%s)", provider.name, order.pk, order.status, status, e.code)
        return order


def _apply_subscription(sub: Order, result, status: str, provider, now) -> Outcome:
    """A forwarded (prepaid) subscription: its status and posts as the provider counts them.

    When it ends, the customer gets back the share of the prepayment the provider did not use:
    used here = our charge × (what the provider says it cost ÷ what it was prepaid there).
    """
    posts = result.posts or 0
    if status != sub.status or posts > sub.posts_done:
        used = None
        if status in (Status.COMPLETED, Status.CANCELED, Status.EXPIRED):
            used = sub.charge * answers.used_share(sub, result.charge)
        sub = report(sub, status, provider, result.status, now, posts=posts, used=used)
    return Outcome(next_due=None if sub.is_final else next_check(sub, now))


# --- refills -----------------------------------------------------------------------------------


def advance_refills(refills: list[Refill], now) -> dict[int, Outcome]:
    provider = refills[0].order.service.upstream.provider
    if not provider.enabled:
        return {r.pk: Outcome(next_due=now + timedelta(minutes=5)) for r in refills}
    sent = {u.refill_id: u for u in UpstreamRefill.objects.filter(refill__in=refills)}
    placed = {
        u.order_id: u
        for u in UpstreamOrder.objects.filter(order__in=[r.order_id for r in refills], run=0, state=State.PLACED)
    }
    outcomes = {}
    to_send = [r for r in refills if r.pk not in sent]
    if to_send:
        outcomes.update(_send_refills(to_send, placed, provider, now))
    to_check = [(r, sent[r.pk]) for r in refills if r.pk in sent]
    if to_check:
        outcomes.update(_sync_refills(to_check, provider, now))
    return outcomes


def _send_refills(refills: list[Refill], placed: dict, provider, now) -> dict[int, Outcome]:
    outcomes, by_upstream = {}, {}
    for refill in refills:
        row = placed.get(refill.order_id)
        if row is None or not row.upstream_id.isdigit():
            services.apply_refill_status(
                refill.pk,
                Refill.Status.REJECTED,
                lease=refill.claim_token,
                message="The order is not known to the provider.",
            )
            outcomes[refill.pk] = Outcome()
        else:
            by_upstream[int(row.upstream_id)] = refill
    if not by_upstream:
        return outcomes
    try:
        with calling(provider) as client:
            results = client.refills(list(by_upstream))
    except ClientError as e:
        # Refills cost nothing: asking twice is harmless (a provider refuses a second open refill).
        error = StepError(f"{provider.name}: refill failed: {answers.words(e)}")
        return {**outcomes, **{r.pk: Outcome(error=error) for r in by_upstream.values()}}
    for upstream_order, refill in by_upstream.items():
        result = results.get(upstream_order)
        if isinstance(result, int):
            UpstreamRefill.objects.get_or_create(
                refill=refill, defaults={"provider": provider, "upstream_id": str(result), "sent_at": now}
            )
            services.record(
                refill.order_id,
                "refill sent upstream",
                Actor.WORKER,
                refill_id=refill.pk,
                message=f"{provider.name} refill {result}",
            )
            outcomes[refill.pk] = Outcome(next_due=now + timedelta(seconds=settings.PROVIDER_SYNC_SECONDS))
        else:
            words = result.message if isinstance(result, ApiError) else "no answer for this order"
            services.apply_refill_status(
                refill.pk,
                Refill.Status.REJECTED,
                actor=Actor.PROVIDER,
                lease=refill.claim_token,
                message=f"{provider.name}: {words}",
            )
            outcomes[refill.pk] = Outcome()
    return outcomes


def _sync_refills(pairs: list, provider, now) -> dict[int, Outcome]:
    by_id = {int(u.upstream_id): (r, u) for r, u in pairs if u.upstream_id.isdigit()}
    try:
        with calling(provider) as client:
            results = client.refill_statuses(list(by_id))
    except ClientError as e:
        error = StepError(f"{provider.name}: refill_status failed: {answers.words(e)}")
        return {r.pk: Outcome(error=error) for r, _ in pairs}
    outcomes = {}
    for upstream_id, (refill, row) in by_id.items():
        result = results.get(upstream_id)
        status = answers.refill_status(result) if isinstance(result, str) else None
        UpstreamRefill.objects.filter(pk=row.pk).update(
            checked_at=now, status=(result or "")[:20] if isinstance(result, str) else row.status
        )
        if status is not None and status != refill.status:
            services.apply_refill_status(
                refill.pk, status, actor=Actor.PROVIDER, lease=refill.claim_token, message=f"{provider.name}: {result}"
            )
        final = status in (Refill.Status.COMPLETED, Refill.Status.REJECTED)
        outcomes[refill.pk] = Outcome(
            next_due=None
            if final
            else now + timedelta(seconds=settings.PROVIDER_SYNC_SECONDS * 4 * random.uniform(0.8, 1.2))
        )
    return outcomes


# --- what a person does about an ambiguous placing ---------------------------------------------


def link_upstream_id(upstream_order_pk: int, upstream_id: str, *, user=None) -> bool:
    """The admin found the order at the provider: record its id, and the worker syncs it from now on."""
    row = UpstreamOrder.objects.select_related("provider").get(pk=upstream_order_pk)
    return _placed(row, upstream_id, user=user)


def resend(order_id: int, *, user=None) -> bool:
    """The admin checked the provider has no such order: forget the ambiguous attempt and send it again."""
    with transaction.atomic():
        rows = UpstreamOrder.objects.select_for_update().filter(order_id=order_id, state=State.AMBIGUOUS)
        attempts = list(rows)
        if not attempts:
            return False
        for row in attempts:
            services.record(
                order_id,
                "resend",
                Actor.ADMIN,
                user=user,
                message=f"Ambiguous attempt of {row.submitted_at:%Y-%m-%d %H:%M:%S} forgotten: {row.message}",
            )
        rows.delete()
        services.resume(order_id, "Sent to the provider again.", user=user, now=timezone.now())
    return True
