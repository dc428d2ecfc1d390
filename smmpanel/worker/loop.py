"""One pass of the worker: claim due orders and refills of each worker-driven kind and let it move them on.

Rows are claimed in batches (see claims.py), grouped by the kind's
`group_key` (one provider's orders go to it together: a provider answers 100
statuses per call) and handed to the kind. Each row is then released with
its next due time. A failed step is retried with back-off; after
MAX_ATTEMPTS failures in a row, or at once when the failure is permanent,
the order is set aside as "needs attention" with the reason.
"""

import logging
import random
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from smmpanel.averagetime import job as average_time
from smmpanel.catalog.models import Service
from smmpanel.fulfilment import registry
from smmpanel.fulfilment.base import Outcome, StepError
from smmpanel.orders import services
from smmpanel.orders.models import FINAL, Order, Refill
from smmpanel.worker.claims import claim_due, release_many

log = logging.getLogger(__name__)
BATCH = 100
MAX_ATTEMPTS = 8
ROWS_PER_TRANSACTION = 20


def backoff(attempts: int) -> timedelta:
    """How long to wait after the n-th failure in a row: 5 s doubling to an hour, jittered ±20 %."""
    seconds = min(5 * 2 ** (attempts - 1), 3600)
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def _settle(row, outcome: Outcome, now, *, is_order: bool) -> tuple | None:
    """What to release a row with after its step, as (row, next due time, attempts); None: not ours to release."""
    error = outcome.error
    if error is None:
        return row, outcome.next_due, 0
    attempts = row.attempts + 1
    if error.permanent or attempts >= MAX_ATTEMPTS:
        reason = str(error) if error.permanent else f"Failed {attempts} times in a row; last: {error}"
        if is_order:
            try:
                services.flag_attention(row.pk, reason, lease=row.claim_token)
            except services.LeaseLost:
                return None
        else:
            # A refill has no flag of its own: its order's does.
            services.flag_attention(row.order_id, f"Refill #{row.pk}: {reason}")
        return row, None, attempts
    return row, now + backoff(attempts), attempts


def _settle_all(rows: list, outcomes: dict, now, *, is_order: bool) -> None:
    """Settle each row (failures first flag or back off), then release them all in one statement."""
    releases = [_settle(row, outcomes.get(row.pk, Outcome()), now, is_order=is_order) for row in rows]
    release_many([r for r in releases if r is not None])


def _advance(kind, method: str, rows: list, now) -> dict:
    try:
        return getattr(kind, method)(rows, now)
    except Exception as e:  # one group's failure must not stop the others
        log.exception("%s: %s of %d rows failed", kind.name, method, len(rows))
        error = e if isinstance(e, StepError) else StepError(f"{type(e).__name__}: {e}")
        return {row.pk: Outcome(error=error) for row in rows}


def _pass(kind, rows: list, now, method: str, group_key, is_order: bool) -> int:
    groups = defaultdict(list)
    for row in rows:
        groups[group_key(row)].append(row)
    if kind.database_only:
        for group in groups.values():
            # Steps and releases of a few rows in one transaction: one commit for them all
            # (short, so that the API's writers never wait long for the database).
            for start in range(0, len(group), ROWS_PER_TRANSACTION):
                chunk = group[start : start + ROWS_PER_TRANSACTION]
                with transaction.atomic():
                    _advance_and_settle(kind, method, chunk, now, is_order)
        return len(rows)
    # Network steps run outside any transaction, one group (one provider) per thread at once, so
    # that a slow provider does not hold up the others; only their results are written together.
    groups_list = list(groups.values())
    results: Iterable[dict]  # settled as each group's steps end
    if len(groups_list) > 1:
        results = _threads().map(lambda group: _advance_in_thread(kind, method, group, now), groups_list)
    else:
        results = [_advance(kind, method, groups_list[0], now)] if groups_list else []
    for group, outcomes in zip(groups_list, results, strict=True):
        with transaction.atomic():
            _settle_all(group, outcomes, now, is_order=is_order)
    return len(rows)


@cache
def _threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.WORKER_THREADS, thread_name_prefix="smmpanel-step")


def _advance_in_thread(kind, method: str, rows: list, now) -> dict:
    close_old_connections()  # a pool thread keeps its connection between passes: drop it if it went bad
    return _advance(kind, method, rows, now)


def _advance_and_settle(kind, method, rows, now, is_order) -> None:
    _settle_all(rows, _advance(kind, method, rows, now), now, is_order=is_order)


def run_once(now=None, batch: int = BATCH) -> int:
    """Process what is due now; returns how many rows were handled."""
    now = now or timezone.now()
    lease = settings.WORKER_LEASE_SECONDS
    handled = 0
    for name in registry.driven():
        if not Service.objects.filter(fulfilment=name).exists():
            # Nothing of this kind can be due; and its claim would read every due row of the
            # other kinds (the due-time index knows no kind) only to find none of its own.
            continue
        kind = registry.get(name)
        orders = Order.objects.filter(service__fulfilment=name).exclude(status__in=FINAL)
        orders = orders.select_related("service", *kind.order_related)
        claimed = claim_due(orders, now, lease, batch)
        handled += _pass(kind, claimed, now, "advance_orders", kind.group_key, is_order=True)

        refills = Refill.objects.filter(order__service__fulfilment=name, status__in=Refill.OPEN)
        refills = refills.select_related("order__service", *(f"order__{r}" for r in kind.order_related))
        claimed = claim_due(refills, now, lease, batch)
        handled += _pass(
            kind, claimed, now, "advance_refills", lambda r, kind=kind: kind.group_key(r.order), is_order=False
        )
    # Jobs of their own, after the orders: each claims its row, so one worker at a time does it.
    handled += average_time.run_due(now)
    return handled
