"""Placing an order (or one drip-feed run) upstream at most once, and what every provider step shares.

The seam between the engine (smmpanel.providers.engine: whole orders) and the
drip-feed run here (smmpanel.providers.dripfeed: one upstream order per run):
both place, forward cancels, resume interrupted attempts and report statuses
through the public functions of this module, which imports neither of them.

Placing: an UpstreamOrder row in state SUBMITTING is committed before the
request is sent; the provider's answer then moves it on (placed / refused and
refunded / retried later / ambiguous). A row found SUBMITTING by a later step
(the worker died, or its lease ran out while it waited) is never resent: it
goes to "needs attention". An attempt the provider said it did not process
is remembered in the order's history (Action.ADD_NOT_PLACED): when a later attempt
of the same order is refused as a duplicate ("an active order with this
link"), that earlier attempt landed after all, and a person has to look.
"""

import logging
import random
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from smmpanel.client import ApiError, ClientError
from smmpanel.fulfilment.base import Outcome, StepError
from smmpanel.orders import services
from smmpanel.orders.errors import OrderError
from smmpanel.orders.models import Action, Actor, Order, OrderEvent, Status
from smmpanel.providers import answers
from smmpanel.providers.connection import calling
from smmpanel.providers.models import UpstreamOrder

log = logging.getLogger("smmpanel.providers.engine")
State = UpstreamOrder.State

# How long past the request timeout a SUBMITTING row is surely no longer waited for by its step.
SUBMIT_GRACE = timedelta(seconds=30)
# The history line of an attempt the provider said it did not process (one of a drip-feed run: "run n: …").


def next_check(order: Order, now):
    """When to ask about an order again: often while it is young, then less and less (jittered ±20 %)."""
    base = settings.PROVIDER_SYNC_SECONDS
    age = (now - order.created).total_seconds()
    factor = 1 if age < 600 else 4 if age < 3600 else 20 if age < 86400 else 60
    return now + timedelta(seconds=base * factor * random.uniform(0.8, 1.2))


def upstream_params(order: Order) -> dict:
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


def place(order: Order, provider, now, *, run: int = 0, quantity: int | None = None) -> Outcome:
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
    params = upstream_params(order)
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
                # The pass's `now` may be long past in a slow batch: the attempt is stamped when it is made.
                submitted_at=max(now, timezone.now()),
                quantity=quantity or order.total,
            )
    except IntegrityError:
        return Outcome(next_due=now)  # another step made it meanwhile: look again with what it made
    try:
        with calling(provider) as client:
            upstream_id = client.add(upstream.upstream_service, **params)
    except ClientError as e:
        return _refused_or_unsure(order, row, provider, e, now)
    placed(row, upstream_id, lease=lease)
    return Outcome(next_due=next_check(order, now))


def placed(row: UpstreamOrder, upstream_id, *, lease=None, user=None) -> bool:
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
    if verdict == answers.DUPLICATE:
        earlier = earlier_attempts(order.pk, row.run)
        if not earlier:  # another of our orders for this link is running there: once it ends
            return _not_placed(order, row, provider, error, remember=False)
        attempts = "; ".join(f"{e.created:%Y-%m-%d %H:%M:%S} {e.message}" for e in earlier)
        ambiguous(
            order.pk,
            row,
            f"{provider.name} refused this order as a duplicate ({answers.words(error)}) after an earlier "
            f"attempt was sent ({attempts}): that attempt probably landed. Check there, then link its id, "
            "or cancel and refund.",
            lease=order.claim_token,
        )
        return Outcome()
    if verdict == answers.RETRY:
        return _not_placed(order, row, provider, error, remember=getattr(error, "sent", True))
    if verdict == answers.REFUSED:
        return _refused(order, row, provider, error, now)
    ambiguous(
        order.pk,
        row,
        f"{provider.name} gave no clear answer to the order: {answers.words(error)}. "
        "It may or may not have been placed: check there, then link its id, resend, "
        "or cancel and refund.",
        lease=order.claim_token,
    )
    return Outcome()


def _run_prefix(run: int) -> str:
    """How an event's message names a drip-feed run (the fixed set of actions has no run number)."""
    return f"Run {run}: " if run else ""


def earlier_attempts(order_id: int, run: int) -> list[OrderEvent]:
    """Attempts of this order (or run) that reached the provider and were given up as not placed, oldest
    first: the provider's "not processed" ones, and those a person resent."""
    not_placed = Q(action=Action.ADD_NOT_PLACED) & (
        Q(message__startswith=_run_prefix(run)) if run else ~Q(message__startswith="Run ")
    )
    return list(
        OrderEvent.objects.filter(Q(order_id=order_id) & (not_placed | Q(action=Action.RESEND))).order_by(
            "created", "pk"
        )
    )


def _not_placed(order: Order, row: UpstreamOrder, provider, error: ClientError, *, remember: bool) -> Outcome:
    """Surely not placed: forget the attempt (only ours), and try again later.

    An attempt that reached the provider is remembered in the order's history (see `earlier_attempts`).
    """
    with transaction.atomic():
        mine = UpstreamOrder.objects.filter(pk=row.pk, state=State.SUBMITTING, submit_token=order.claim_token)
        if mine.delete()[0] and remember:
            services.record(
                order.pk,
                Action.ADD_NOT_PLACED,
                Actor.PROVIDER,
                message=f"{_run_prefix(row.run)}{provider.name}: {answers.words(error)}",
            )
    return Outcome(error=StepError(f"{provider.name}: {answers.words(error)}"))


def _refused(order: Order, row: UpstreamOrder, provider, error: ClientError, now) -> Outcome:
    lease = order.claim_token
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
            services.record(order.pk, Action.RUN_REFUSED, Actor.PROVIDER, message=f"{_run_prefix(row.run)}{refusal}")
    return Outcome(next_due=now if row.run else None)


def ambiguous(order_id: int, row: UpstreamOrder, reason: str, *, lease=None) -> None:
    with transaction.atomic():
        # Only while still unanswered: the submitting step may have recorded the provider's id meanwhile.
        if UpstreamOrder.objects.filter(pk=row.pk, state=State.SUBMITTING).update(
            state=State.AMBIGUOUS, message=reason[:500]
        ):
            services.flag_attention(order_id, reason, lease=lease)


def interrupted(order: Order, row: UpstreamOrder, provider, now) -> Outcome:
    """A SUBMITTING row left by an earlier step: wait while that step may still get its answer, then ask a person."""
    # Its step may wait up to the timeout for a turn to send (connection.calling), then the request up to
    # the timeout (its deadline): past both, and a grace, nobody is waiting for that answer any more.
    waited_until = row.submitted_at + 2 * timedelta(seconds=provider.timeout_seconds) + SUBMIT_GRACE
    if now < waited_until:
        return Outcome(next_due=waited_until)
    ambiguous(
        order.pk,
        row,
        "Sending this order to the provider was interrupted (the worker stopped or lost "
        "its lease): it may or may not have been placed. Check there, then link its id, "
        "resend, or cancel and refund.",
        lease=order.claim_token,
    )
    return Outcome()


def forward_cancels(pairs: list, provider, now) -> None:
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
