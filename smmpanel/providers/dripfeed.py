"""Drip-feed run here, for a provider service that has no drip-feed of its own.

Each run is its own upstream order (UpstreamOrder.run = 1…runs), placed at
its time (start + (n−1) × interval), once the run before it has ended,
through the at-most-once placing of smmpanel.providers.placing (the seam it
shares with the engine, which imports this module: not the other way round).
The local order is what its runs add up to: In progress once a run is under
way, and when every run has ended (or a cancel stopped the rest), Completed,
Partial or Canceled for what was delivered in all, refunded by the usual
rule. A customer's cancel stops the runs not yet sent and is forwarded for
those in flight.
"""

from collections import defaultdict
from datetime import timedelta

from smmpanel.client import ApiError, ClientError
from smmpanel.fulfilment.base import Outcome, StepError
from smmpanel.orders import services
from smmpanel.orders.models import Order, Status
from smmpanel.providers import answers, placing
from smmpanel.providers.connection import calling
from smmpanel.providers.models import UpstreamOrder

State = UpstreamOrder.State
ENDED = ("Completed", "Partial", "Canceled")


def runs_here(order: Order) -> bool:
    return bool(order.runs) and not order.service.upstream.upstream_dripfeed


def _run_time(order: Order, run: int):
    assert order.interval is not None  # a drip-feed order: runs and interval come together
    return order.created + timedelta(minutes=order.interval * (run - 1))


def _delivered(row: UpstreamOrder) -> int:
    if row.state != State.PLACED or row.status == "Canceled":
        return 0
    if row.status == "Completed":
        return row.quantity
    remains = answers.local_remains(row.remains, row.quantity)
    return 0 if remains is None else row.quantity - remains


def _ended(row: UpstreamOrder) -> bool:
    return row.state == State.REFUSED or (row.state == State.PLACED and row.status in ENDED)


def _refresh(in_flight: list, provider, now, outcomes: dict) -> StepError | None:
    """Read the statuses of the runs under way (one multi-status call) into their rows.

    A run whose answer has impossible numbers flags its order (nothing of it applied; its outcome goes
    into `outcomes`); the others are read.
    """
    by_id = {int(r.upstream_id): (o, r) for o, r in in_flight if r.upstream_id.isdigit()}
    try:
        with calling(provider) as client:
            results = client.statuses(list(by_id))
    except ClientError as e:
        return StepError(f"{provider.name}: status failed: {answers.words(e)}")
    for upstream_id, (order, row) in by_id.items():
        result = results.get(upstream_id)
        if result is None or isinstance(result, ApiError):
            continue  # asked again next time
        numbers, wrong = answers.checked_numbers(result)
        if wrong is not None:
            services.flag_attention(
                order.pk,
                f"{provider.name} answered {wrong} for run {row.run} (its order {row.upstream_id}): "
                "nothing of that answer was applied. Check the order there.",
                lease=order.claim_token,
            )
            outcomes[order.pk] = Outcome()
            continue
        row.status = result.status[:20]
        row.remains, row.start_count, row.charge = numbers["remains"], numbers["start_count"], numbers["charge"]
        UpstreamOrder.objects.filter(pk=row.pk).update(
            status=row.status, remains=row.remains, start_count=row.start_count, charge=row.charge, checked_at=now
        )
    return None


def _sort(orders: list[Order], rows, provider, now) -> tuple[dict[int, Outcome], list, list]:
    """Orders whose step is decided already (an interrupted or ambiguous run), runs under way, cancels to send."""
    outcomes, in_flight, canceling = {}, [], []
    for order in orders:
        mine = rows[order.pk].values()
        stale = [r for r in mine if r.state == State.SUBMITTING]
        if stale:
            outcomes[order.pk] = placing.interrupted(order, stale[0], provider, now)
        elif any(r.state == State.AMBIGUOUS for r in mine):
            outcomes[order.pk] = Outcome()  # a person decides
        for r in mine:
            if r.state == State.PLACED and r.status not in ENDED:
                in_flight.append((order, r))
                if order.cancel_requested_at and r.cancel_sent_at is None:
                    canceling.append((order, r))
    return outcomes, in_flight, canceling


def advance(orders: list[Order], provider, now) -> dict[int, Outcome]:
    rows: defaultdict[int, dict[int, UpstreamOrder]] = defaultdict(dict)
    for row in UpstreamOrder.objects.filter(order__in=orders):
        rows[row.order_id][row.run] = row
    outcomes, in_flight, canceling = _sort(orders, rows, provider, now)
    if canceling:
        placing.forward_cancels(canceling, provider, now)
    error = _refresh(in_flight, provider, now, outcomes) if in_flight else None
    for order in orders:
        if order.pk in outcomes:
            continue
        if error is not None:
            outcomes[order.pk] = Outcome(error=error)
            continue
        try:
            outcomes[order.pk] = _step(order, rows[order.pk], provider, now)
        except services.LeaseLost:
            outcomes[order.pk] = Outcome()
    return outcomes


def _step(order: Order, runs: dict, provider, now) -> Outcome:
    assert order.runs is not None  # only drip-feed orders come here (runs_here)
    next_run = max(runs, default=0) + 1
    # A run goes out at its time, and once the one before has ended: providers refuse a second
    # active order for the same link.
    if (
        order.cancel_requested_at is None
        and next_run <= order.runs
        and _run_time(order, next_run) <= now
        and all(_ended(r) for r in runs.values())
    ):
        outcome = placing.place(order, provider, now, run=next_run, quantity=order.quantity)
        if outcome.error is not None:
            return outcome
        runs = {r.run: r for r in UpstreamOrder.objects.filter(order=order)}
        if runs.get(next_run) is None or runs[next_run].state != State.PLACED:
            return outcome
        next_run += 1
    delivered = sum(_delivered(r) for r in runs.values())
    placing_over = order.cancel_requested_at is not None or next_run > order.runs
    if placing_over and all(_ended(r) for r in runs.values()):
        status = Status.COMPLETED if delivered >= order.total else Status.PARTIAL
    elif delivered or any(r.status in ("In progress", "Processing") for r in runs.values()):
        status = Status.IN_PROGRESS
    else:
        status = Status.PENDING
    remains = order.total - delivered
    first = runs.get(1)
    start_count = first.start_count if first is not None else None
    if (status, remains) != (order.status, order.remains) or (start_count and start_count != order.start_count):
        order = placing.report(
            order, status, provider, f"runs {len(runs)}/{order.runs}", now, remains=remains, start_count=start_count
        )
    if order.is_final:
        return Outcome()
    later = [placing.next_check(order, now)] if any(not _ended(r) for r in runs.values()) else []
    if not placing_over:
        later.append(_run_time(order, next_run))
    return Outcome(next_due=min(later) if later else placing.next_check(order, now))
