"""Claiming due rows so that any number of workers never take the same row twice.

A claim is a lease: `locked_until` set a little into the future inside a
short transaction. On PostgreSQL the candidate rows are read with
`SELECT … FOR UPDATE SKIP LOCKED`, so concurrent workers skip each other's
rows instead of waiting; on SQLite the transaction itself is the lock
(IMMEDIATE: one writer at a time). A worker that dies leaves a lease that
simply runs out, and the row is due again.
"""

from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q


def claim_due(queryset, now, lease_seconds: int, limit: int) -> list:
    """Claim up to `limit` rows of `queryset` due by `now`; returns them, leased."""
    free = queryset.filter(due_at__lte=now).filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
    with transaction.atomic():
        candidates = free.order_by("due_at")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        ids = list(candidates.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        queryset.model.objects.filter(id__in=ids).update(locked_until=now + timedelta(seconds=lease_seconds))
    return list(queryset.model.objects.filter(id__in=ids).order_by("due_at"))


def release(row, next_due) -> None:
    """Give the row back, due again at `next_due` (None: nothing to do until something changes)."""
    model = type(row)
    model.objects.filter(pk=row.pk, due_at__isnull=False).update(due_at=next_due, locked_until=None)
    model.objects.filter(pk=row.pk, due_at__isnull=True).update(locked_until=None)
