"""Forwarding orders to providers and keeping them in sync: the provider kind's worker steps.

The worker hands `advance_orders` a batch of claimed orders of one provider.
For each it does what is due, in this order:
  - a cancel asked before anything was sent: Canceled here, fully refunded;
  - placing: at most once (smmpanel.providers.placing, the seam shared with
    the drip-feed run here); no new order is sent once half the claim's lease
    has gone by, so that a slow provider's batch ends while it is still ours;
  - cancels asked by customers: one multi `cancel` call;
  - statuses: one multi `status` call per 100 placed orders; a change is
    applied through smmpanel.orders.services (refunds happen there, once).
    Each order's answer is read on its own: numbers no order could have
    (1e30) flag that order, with the reason, and leave its neighbours be.
Refills are forwarded with one multi `refill` call and synced with
`refill_status`.

What the provider's answers mean is decided in smmpanel.providers.answers.
"""

import logging
import random
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from smmpanel.client import ApiError, ClientError
from smmpanel.fulfilment.base import Outcome, StepError
from smmpanel.orders import services
from smmpanel.orders.models import Actor, Order, Refill, Status
from smmpanel.providers import answers, dripfeed, placing
from smmpanel.providers.connection import calling
from smmpanel.providers.models import UpstreamOrder, UpstreamRefill
from smmpanel.providers.placing import SUBMIT_GRACE, next_check, report

__all__ = ["SUBMIT_GRACE", "advance_orders", "advance_refills", "link_upstream_id", "next_check", "report", "resend"]

log = logging.getLogger(__name__)
State = UpstreamOrder.State

# After this many answers in a row that the provider does not know an order, a person has to look.
UNKNOWN_LIMIT = 3
# The placing functions under their former names (tests and the admin use `_placed`).
_placed = placing.placed
_ambiguous = placing.ambiguous


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
    # A slow provider's batch sends nothing new once half the lease is gone: what is sent is answered
    # (or given up, by the request's deadline) while the claim still holds. The rest waits for the next pass.
    sending_ends = time.monotonic() + settings.WORKER_LEASE_SECONDS / 2
    checking, canceling = [], []
    for order in orders:
        row = rows.get(order.pk)
        try:
            if row is None and time.monotonic() > sending_ends:
                outcomes[order.pk] = Outcome(next_due=now)
            elif row is None:
                outcomes[order.pk] = placing.place(order, provider, now)
            elif row.state == State.SUBMITTING:
                outcomes[order.pk] = placing.interrupted(order, row, provider, now)
            elif row.state == State.PLACED:
                if order.cancel_requested_at and row.cancel_sent_at is None:
                    canceling.append((order, row))
                checking.append((order, row))
            else:  # ambiguous or refused: nothing to do until a person acts
                outcomes[order.pk] = Outcome()
        except services.LeaseLost:
            outcomes[order.pk] = Outcome()
    if canceling:
        placing.forward_cancels(canceling, provider, now)
    if checking:
        outcomes.update(_sync(checking, provider, now))
    return outcomes


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
        except Exception as e:  # whatever one answer did, its neighbours' answers are applied
            log.exception("%s: the answer for order #%s could not be applied", provider.name, order.pk)
            outcomes[order.pk] = Outcome(error=StepError(f"{provider.name}: {type(e).__name__}: {e}"))
    return outcomes


def _flag_bad_answer(order: Order, row: UpstreamOrder, result, wrong: str, provider) -> None:
    """An answer no order could have: the order is flagged with it, nothing of the answer applied."""
    services.flag_attention(
        order.pk,
        f"{provider.name} answered {wrong} for its order {row.upstream_id} (status {result.status[:20]!r}): "
        "nothing of that answer was applied. Check the order there.",
        lease=order.claim_token,
    )


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
    numbers, wrong = answers.checked_numbers(result)
    if wrong is not None:
        _flag_bad_answer(order, row, result, wrong, provider)
        return Outcome()
    status = answers.local_status(result.status, subscription=order.is_subscription)
    changes = {"status": result.status[:20], **numbers, "unknown_answers": 0}
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
