"""The dashboard's kept sums (Snapshot) and the worker's job of refreshing them (Refresh)."""

from django.db import models

from smmpanel.orders.models import Claimable


class Snapshot(models.Model):
    """One kept slice of smmpanel.dashboard.stats (the Django cache holds it too; this outlives a restart).

    Shared by every process: the worker writes it, the pages read it. Without
    it, each new server process (the default cache is per process) would sum
    a month of orders on its first view.
    """

    key = models.CharField(max_length=200, primary_key=True)
    stamped = models.FloatField(help_text="When the sums were made (seconds since the epoch).")
    data = models.JSONField()

    class Meta:
        # The dashboard's own permission (no staff member sees revenue, profit or provider balances without it).
        permissions = [("view_dashboard", "Can see the dashboard: revenue, cost, profit and provider balances")]

    def __str__(self) -> str:
        return self.key


class Refresh(Claimable):
    """The worker's job of summing the dashboard's figures in one time zone, due again every minute.

    Claimed like an order (smmpanel.worker.claims): however many workers run,
    one of them makes each refresh. The row is made by the first view of the
    dashboard in its time zone (a panel whose owner never looks costs nothing).
    """

    time_zone = models.CharField(max_length=100, unique=True)

    class Meta:
        indexes = [models.Index(fields=["due_at"], condition=models.Q(due_at__isnull=False), name="refresh_due")]

    def __str__(self) -> str:
        return f"dashboard refresh ({self.time_zone})"
