"""Snapshot: the dashboard's last sums of a range of days, shared by every process and kept across restarts."""

from django.db import models


class Snapshot(models.Model):
    """One cached slice of smmpanel.dashboard.stats (the Django cache holds it too; this outlives a restart).

    Without it, each new server process (the default cache is per process)
    would sum a month of orders on its first view; with it, only the very
    first view of a day ever does, and every later one refreshes in the background.
    """

    key = models.CharField(max_length=200, primary_key=True)
    stamped = models.FloatField(help_text="When the sums were made (seconds since the epoch).")
    data = models.JSONField()

    class Meta:
        # The dashboard's own permission (no staff member sees revenue, profit or provider balances without it).
        permissions = [("view_dashboard", "Can see the dashboard: revenue, cost, profit and provider balances")]

    def __str__(self) -> str:
        return self.key
