"""Claiming due rows so that any number of workers never take the same row twice, whatever the lease.

A claim is a lease: `locked_until` set a little into the future and a fresh
random `claim_token` (the fencing token), in one short transaction. On
PostgreSQL the candidate rows are read with `SELECT … FOR UPDATE SKIP LOCKED`,
so concurrent workers skip each other's rows instead of waiting; on SQLite the
transaction itself is the lock (IMMEDIATE: one writer at a time).

A worker that dies leaves a lease that simply runs out, and the row is due
again. A worker that is merely slow may find, when it comes back, that its
lease ran out and another worker claimed the row: every change its step makes
goes through smmpanel.orders.services with the token it claimed, and is
refused there (LeaseLost); `release` checks the token too.
"""

import secrets
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When


def new_token() -> int:
    return secrets.randbits(62) + 1  # positive, fits a signed 64-bit column


def claim_due(queryset, now, lease_seconds: float, limit: int) -> list:
    """Claim up to `limit` rows of `queryset` due by `now`; returns them, leased.

    Each returned row carries the claim's token (`claim_token`) and the due
    time it was claimed at (`claimed_due_at`), which `release` needs.
    """
    free = queryset.filter(due_at__lte=now).filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
    token = new_token()
    with transaction.atomic():
        candidates = free.order_by("due_at")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        ids = list(candidates.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        queryset.model.objects.filter(id__in=ids).update(
            locked_until=now + timedelta(seconds=lease_seconds), claim_token=token
        )
    # The same queryset (its select_related included), narrowed to what this claim holds.
    rows = list(queryset.filter(id__in=ids, claim_token=token).order_by("due_at", "id"))
    for row in rows:
        row.claimed_due_at = row.due_at
    return rows


def release(row, next_due, *, attempts: int | None = None) -> bool:
    """Give a claimed row back, due again at `next_due` (None: nothing to do until something changes).

    Only the claim holding the row may release it (False when it no longer
    does). A due time set by someone else after the claim (a customer's cancel
    asks for the row now; a step's own transaction finished it) is kept: the
    release never postpones it.
    """
    model = type(row)
    due = Case(
        When(due_at=row.claimed_due_at, then=Value(next_due, output_field=DateTimeField())),
        default=F("due_at"),
    )
    changes = {"locked_until": None, "claim_token": None, "due_at": due}
    if attempts is not None:
        changes["attempts"] = attempts
    return bool(model.objects.filter(pk=row.pk, claim_token=row.claim_token).update(**changes))


def extend(row, now, lease_seconds: float) -> bool:
    """Keep holding a claimed row `lease_seconds` longer (False: the lease was lost already)."""
    model = type(row)
    until = now + timedelta(seconds=lease_seconds)
    return bool(model.objects.filter(pk=row.pk, claim_token=row.claim_token).update(locked_until=until))
