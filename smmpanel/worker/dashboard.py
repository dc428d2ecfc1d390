"""The worker's job for the dashboard: sum its figures again when a Refresh row is due.

Rows are claimed as orders are (smmpanel.worker.claims): with several workers
running, each due refresh is made by one of them, and released due again
CACHE_SECONDS later. A failed refresh leaves the last sums in place (pages
show them with the time they were made) and is tried again at the next due time.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from smmpanel.dashboard import stats
from smmpanel.dashboard.models import Refresh
from smmpanel.worker.claims import claim_due, release_many

log = logging.getLogger(__name__)


def run_due(now: datetime | None = None) -> int:
    """Refresh the dashboard's sums of every time zone that is due; returns how many were claimed."""
    now = now or timezone.now()
    rows = claim_due(Refresh.objects.all(), now, settings.WORKER_LEASE_SECONDS, limit=10)
    releases = []
    for row in rows:
        attempts = 0
        try:
            with timezone.override(row.time_zone):
                stats.refresh(now)
        except Exception:  # the old sums stay; the next due time tries again
            log.exception("dashboard: refreshing the sums of %s failed", row.time_zone)
            attempts = row.attempts + 1
        releases.append((row, now + timedelta(seconds=stats.CACHE_SECONDS), attempts))
    release_many(releases)
    return len(rows)
