"""The worker's job of computing each service's average completion time (run from smmpanel.worker.loop;
the times themselves are smmpanel.averagetime's, which the worker imports, never the other way).

For every active service: its last LAST_ORDERS completed orders (by when they
completed), each order's time from placing to completion scaled to 1,000
units (seconds × 1000 / units; a service charged once per order — a
package — is timed per order), and their mean. Fewer than MIN_ORDERS such
orders: "not enough data" (seconds None). Drip-feed orders (their runs wait
on purpose) and a subscription's own orders are left out; Partial and
Canceled orders did not complete.

Every PERIOD the job goes over the active services by id, CHUNK of them per
claim (one per worker pass, so that a pass stays short). Each service's
orders are read through the partial index on completed orders by (service,
finished_at), a few rows each, outside any transaction. A chunk's results are
written in one short transaction that first checks the job's claim still
holds (a worker whose lease ran out meanwhile writes nothing), and only where
a value changed.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from smmpanel.averagetime.models import JOB_ID, AverageTime, AverageTimeJob
from smmpanel.catalog import order_types
from smmpanel.catalog.models import Service
from smmpanel.orders.models import Order, Status
from smmpanel.worker.claims import claim_due, release

log = logging.getLogger(__name__)

PERIOD = timedelta(minutes=10)  # how often the averages are computed again
LAST_ORDERS = 10
MIN_ORDERS = 3
CHUNK = 500  # services per pass: 0.27–0.36 s of a pass on SQLite (2,000 services, 20 completed orders each)
MAX_SECONDS = 2**31 - 1  # the column's range on PostgreSQL (a 1-unit order of a month, scaled, is more)


def run_due(now=None, chunk: int = CHUNK) -> int:
    """Compute the next `chunk` active services' averages if the job is due and this worker claims it; how
    many services were done (0: not due, or another worker holds it). A round over every service is done
    a chunk per pass (so a pass stays short, the orders' next pass soon), then waits PERIOD."""
    now = now or timezone.now()
    job = claim(now)
    if job is None:
        return 0
    ids = list(
        Service.objects.filter(active=True, pk__gt=job.next_after).order_by("pk").values_list("pk", flat=True)[:chunk]
    )
    next_after = ids[-1] if len(ids) == chunk else 0  # 0: the round ends with this chunk
    try:
        averages = compute(Service.objects.filter(pk__in=ids), now)
    except Exception:  # the orders' pass must go on: try again next period
        log.exception("computing the average times failed")
        release(job, now + PERIOD)
        return 0
    return len(ids) if finish(job, averages, now, next_after) else 0


def claim(now) -> AverageTimeJob | None:
    """The job's row, leased to this worker (smmpanel.worker.claims), if it is due; else None."""
    row = AverageTimeJob.objects.filter(pk=JOB_ID).values_list("due_at", "locked_until").first()
    if row is None:
        # First run on this database (or a flushed one): the row, due now. Another worker may make it too.
        AverageTimeJob.objects.bulk_create([AverageTimeJob(pk=JOB_ID, due_at=now)], ignore_conflicts=True)
    elif row[0] is None or row[0] > now or (row[1] is not None and row[1] >= now):
        return None  # one cheap read per idle pass: not due, or held
    claimed = claim_due(AverageTimeJob.objects.all(), now, settings.WORKER_LEASE_SECONDS, 1)
    return claimed[0] if claimed else None


def finish(job: AverageTimeJob, averages: list[AverageTime], now, next_after: int = 0) -> bool:
    """Store the averages and make the job due again (at once for the chunk after service `next_after`;
    in PERIOD when 0, the round done), if `job`'s claim still holds (the fencing token): False, writing
    nothing, when its lease ran out and another worker took the job over."""
    with transaction.atomic():
        if not AverageTimeJob.objects.select_for_update().filter(pk=JOB_ID, claim_token=job.claim_token).exists():
            log.warning("average times: the claim ran out before they were written; another worker's stand")
            return False
        store(averages)
        if next_after:
            AverageTimeJob.objects.filter(pk=JOB_ID).update(next_after=next_after)
            release(job, now)
        else:
            AverageTimeJob.objects.filter(pk=JOB_ID).update(next_after=0, last_run=now)
            release(job, now + PERIOD)
    return True


def compute(services, now) -> list[AverageTime]:
    """The average of each of `services` (unsaved rows), from the orders completed by `now`."""
    found = []
    for pk, type_name in services.values_list("pk", "type"):
        order_type = order_types.get(type_name)
        if order_type.subscription:
            continue  # a subscription runs for as long as it is subscribed: no time to average
        per_1000 = order_type.charge == order_types.PER_1000
        times = []
        rows = (
            Order.objects.filter(service_id=pk, status=Status.COMPLETED, finished_at__lte=now)
            .filter(parent__isnull=True, runs__isnull=True)
            .order_by("-finished_at")
            .values_list("created", "finished_at", "total")[:LAST_ORDERS]
        )
        for created, finished, total in rows:
            seconds = max((finished - created).total_seconds(), 0)  # type: ignore[operator]  # set when completed
            if per_1000:
                if total <= 0:
                    continue
                seconds = seconds * 1000 / total
            times.append(seconds)
        average = min(round(sum(times) / len(times)), MAX_SECONDS) if len(times) >= MIN_ORDERS else None
        found.append(AverageTime(service_id=pk, seconds=average, orders=len(times), per_1000=per_1000))
    return found


def store(averages: list[AverageTime]) -> None:
    """Write the rows whose values changed (one upsert)."""
    ids = [a.service_id for a in averages]  # a chunk's: a few hundred at most
    known = {a.service_id: (a.seconds, a.orders, a.per_1000) for a in AverageTime.objects.filter(service_id__in=ids)}
    changed = [a for a in averages if known.get(a.service_id) != (a.seconds, a.orders, a.per_1000)]
    if changed:
        AverageTime.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["service"],
            update_fields=["seconds", "orders", "per_1000"],
        )
