"""Each service's average completion time, and the worker's job that computes them.

AverageTime is what the customers' pages show (the services list, the New
order page): read there, written only by the job (smmpanel.worker.average_time),
never computed per page view. AverageTimeJob is the job's one row, due every
few minutes and claimed like an order (smmpanel.worker.claims: a lease and a
fencing token), so that of many workers one computes at a time and a worker
whose lease ran out writes nothing.
"""

from django.db import models
from django.db.models import Q

from smmpanel.orders.models import Claimable

JOB_ID = 1


class AverageTime(models.Model):
    service = models.OneToOneField(
        "catalog.Service", on_delete=models.CASCADE, primary_key=True, related_name="average_time"
    )
    # None: not enough completed orders yet. Per 1000 units, or per order where the service is
    # charged once (packages): `per_1000` says which.
    seconds = models.PositiveIntegerField(null=True, blank=True)
    orders = models.PositiveSmallIntegerField(default=0, help_text="Completed orders it was computed from.")
    per_1000 = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"#{self.service_id}: {self.seconds} s"


class AverageTimeJob(Claimable):
    """The job's single row (id 1, the database refuses another): when it is next due, who holds it."""

    last_run = models.DateTimeField(null=True, blank=True, help_text="When a round over every service last ended.")
    # A round goes over the services in chunks, one per claim: the last service id done (0: a new round).
    next_after = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=JOB_ID), name="averagetimejob_single_row")]

    def __str__(self) -> str:
        return f"average time job, due {self.due_at}"
