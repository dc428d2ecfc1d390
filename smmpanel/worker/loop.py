"""One pass of the worker: claim due orders and refills of each worker-driven kind and let it move them on.

Rows are claimed in batches (see claims.py), grouped by the kind's
`group_key` (one provider's orders go to it together: a provider answers 100
statuses per call) and handed to the kind. Each row is then released with
its next due time. A failed step is retried with back-off; after
MAX_ATTEMPTS failures in a row, or at once when the failure is permanent,
the order is set aside as "needs attention" with the reason. A pass ends
with the pending payments a gateway has not told about yet, and with the
owner's dashboard sums when they are due (smmpanel.worker.dashboard).

Kinds that talk to other servers (providers) run each group in a thread of
its own, which steps and then releases its rows itself: the pass hands the
groups out, goes on with the other kinds at once, and at its end waits for
the groups at most `wait` seconds (the worker's loop gives a bound; a direct
call waits for all). A slow provider's group goes on after the pass (its
requests end by their deadlines, its rows stay leased until it releases
them, and the claim's fencing token refuses its writes should its lease run
out meanwhile); while it runs, that provider's newly due rows are put back
for a few seconds instead of starting a second group: a slow provider holds
at most one thread of a worker, and nobody else's orders.
"""

import logging
import random
import threading
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from smmpanel.catalog import fulfilment_kinds
from smmpanel.catalog.models import Service
from smmpanel.fulfilment.base import Outcome, StepError
from smmpanel.orders import services
from smmpanel.orders.models import FINAL, Order, Refill
from smmpanel.worker import average_time, payments
from smmpanel.worker import dashboard as dashboard_jobs
from smmpanel.worker.claims import claim_due, release_many

log = logging.getLogger(__name__)
BATCH = 100
MAX_ATTEMPTS = 8
ROWS_PER_TRANSACTION = 20
# How long the rows of a provider whose group is still going are put back for.
BUSY_DELAY = timedelta(seconds=5)

# The groups running in this process: (kind, method, group key) -> its future.
_running: dict[tuple, Future] = {}
_running_lock = threading.Lock()


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


def _pass(kind, rows: list, now, method: str, group_key, is_order: bool, inline: bool) -> list[Future]:
    """Step the rows; returns the futures of the groups handed to threads (database-only kinds: none).

    `inline`: a single group is stepped in this thread (a direct call that waits anyway).
    """
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
        return []
    # Network steps run outside any transaction, one group (one provider) per thread, each
    # settling its own rows as soon as its steps end: a slow provider holds up nobody else.
    if inline and len(groups) == 1:
        _step_group(kind, method, rows, now, is_order)
        return []
    started, busy = [], []
    for key, group in groups.items():
        with _running_lock:
            running = _running.get((kind.name, method, key))
            if running is not None and not running.done():
                busy += group
                continue
            future = _threads().submit(_group_in_thread, kind, method, group, now, is_order)
            _running[kind.name, method, key] = future
        started.append(future)
    if busy:
        release_many([(row, now + BUSY_DELAY, None) for row in busy])
    return started


@cache
def _threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.WORKER_THREADS, thread_name_prefix="smmpanel-step")


def _group_in_thread(kind, method: str, rows: list, now, is_order: bool) -> None:
    close_old_connections()  # a pool thread keeps its connection between passes: drop it if it went bad
    _step_group(kind, method, rows, now, is_order)


def _step_group(kind, method: str, rows: list, now, is_order: bool) -> None:
    try:
        outcomes = _advance(kind, method, rows, now)
        with transaction.atomic():
            _settle_all(rows, outcomes, now, is_order=is_order)
    except Exception:  # the database went away: the rows' leases run out and they are due again
        log.exception("%s: settling %d rows failed", kind.name, len(rows))


def _advance_and_settle(kind, method, rows, now, is_order) -> None:
    _settle_all(rows, _advance(kind, method, rows, now), now, is_order=is_order)


def run_once(now=None, batch: int = BATCH, wait: float | None = None) -> int:
    """Process what is due now; returns how many rows were handled.

    Waits for the groups it handed to threads at most `wait` seconds (None: until all have ended).
    """
    now = now or timezone.now()
    lease = settings.WORKER_LEASE_SECONDS
    handled = 0
    started: list[Future] = []
    for name in fulfilment_kinds.driven():
        if not Service.objects.filter(fulfilment=name).exists():
            # Nothing of this kind can be due; and its claim would read every due row of the
            # other kinds (the due-time index knows no kind) only to find none of its own.
            continue
        kind = fulfilment_kinds.get(name)
        orders = Order.objects.filter(service__fulfilment=name).exclude(status__in=FINAL)
        orders = orders.select_related("service", *kind.order_related)
        claimed = claim_due(orders, now, lease, batch)
        started += _pass(kind, claimed, now, "advance_orders", kind.group_key, is_order=True, inline=wait is None)
        handled += len(claimed)

        refills = Refill.objects.filter(order__service__fulfilment=name, status__in=Refill.OPEN)
        refills = refills.select_related("order__service", *(f"order__{r}" for r in kind.order_related))
        claimed = claim_due(refills, now, lease, batch)
        started += _pass(
            kind,
            claimed,
            now,
            "advance_refills",
            lambda r, kind=kind: kind.group_key(r.order),
            is_order=False,
            inline=wait is None,
        )
        handled += len(claimed)
    # Pending payments whose webhook has not come: asked about at their gateway (while provider groups run).
    handled += payments.run_once(now, lease)
    _dashboard(now)
    # Jobs of their own: each claims its row, so one worker at a time does it.
    handled += average_time.run_due(now)
    if started:
        wait_for(started, timeout=wait)
    return handled


def _dashboard(now) -> None:
    """The owner's dashboard sums, when due (not counted as handled: no order moved)."""
    try:
        dashboard_jobs.run_due(now)
    except Exception:  # the orders' work goes on whatever happens to the sums
        log.exception("dashboard refresh failed")
