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
from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import connection, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When


def new_token() -> int:
    return secrets.randbits(62) + 1  # positive, fits a signed 64-bit column


def claim_due(queryset, now, lease_seconds: float, limit: int) -> list:
    """Claim up to `limit` rows of `queryset` due by `now`; returns them, leased, oldest due first.

    Each returned row carries the claim's token (`claim_token`) and the due
    time it was claimed at (`claimed_due_at`), which `release` needs.

    On PostgreSQL the locking SELECT reads the rows whole and one UPDATE in
    the same transaction leases them: what is read is what is held. On SQLite,
    where the transaction holds the whole database, it reads only the ids and
    the rows are read after the commit. Either way the queryset's
    select_related objects are then read once each (a batch of one provider's
    orders shares one service), not joined onto every row and built a hundred
    times over.
    """
    model = queryset.model
    if not model._base_manager.filter(due_at__lte=now).exists():
        return []  # nothing of this model is due at all: no transaction, no join
    related = _related_by_field(queryset)
    free = queryset.filter(due_at__lte=now).filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
    if related is not None:
        free = free.select_related(None)
    token = new_token()
    until = now + timedelta(seconds=lease_seconds)
    row_locks = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        # Ordered by due_at alone, which the partial index on due_at gives without a sort.
        candidates = free.order_by("due_at")
        if row_locks:
            # PostgreSQL: only these rows are locked, so read them whole right here.
            rows = list(candidates.select_for_update(skip_locked=True, of=("self",))[:limit])
            ids = [row.pk for row in rows]
        else:
            # SQLite: the transaction holds the whole database; keep it to the ids.
            ids = list(candidates.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        _lease(model, ids, until, token)
    if not row_locks:
        held = model._base_manager if related is not None else queryset
        rows = list(held.filter(id__in=ids, claim_token=token))
    for row in rows:  # type: ignore[possibly-undefined]  # read in one branch or the other above
        row.locked_until, row.claim_token, row.claimed_due_at = until, token, row.due_at
    if related:
        _attach(rows, related)
    rows.sort(key=lambda row: (row.due_at, row.pk))
    return rows


def _lease(model, ids: list, until, token: int) -> None:
    """UPDATE … SET locked_until, claim_token WHERE id IN (…): plain SQL, a third of the ORM's Python time."""
    qn, meta = connection.ops.quote_name, model._meta
    locked, claim = (qn(meta.get_field(name).column) for name in ("locked_until", "claim_token"))
    sql = (
        f"UPDATE {qn(meta.db_table)} SET {locked} = %s, {claim} = %s "
        f"WHERE {qn(meta.pk.column)} IN ({', '.join(['%s'] * len(ids))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(until), token, *ids])


def _related_by_field(queryset) -> dict | None:
    """The queryset's select_related as {forward foreign key: paths below it}; None if it is not that simple."""
    tree = queryset.query.select_related
    if tree is False:
        return {}
    if not isinstance(tree, dict):
        return None  # select_related() of every relation: left to the joined SELECT
    related = {}
    for name, below in tree.items():
        try:
            field = queryset.model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        if not (field.concrete and (field.many_to_one or field.one_to_one) and field.target_field.primary_key):
            return None
        related[field] = _paths(below)
    return related


def _paths(tree: dict, prefix: str = "") -> list[str]:
    paths = []
    for name, below in tree.items():
        paths += _paths(below, f"{prefix}{name}__") if below else [prefix + name]
    return paths


def _attach(rows: list, related: dict) -> None:
    """Give each row its related objects, each read once (with what lies below it) and shared by the rows."""
    for field, paths in related.items():
        ids = {getattr(row, field.attname) for row in rows} - {None}
        objects = field.related_model._base_manager.all()
        if paths:
            objects = objects.select_related(*paths)
        found = objects.in_bulk(ids)
        for row in rows:
            value = getattr(row, field.attname)
            field.set_cached_value(row, None if value is None else found.get(value))


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
    changes: dict[str, Any] = {"locked_until": None, "claim_token": None, "due_at": due}
    if attempts is not None:
        changes["attempts"] = attempts
    return bool(model.objects.filter(pk=row.pk, claim_token=row.claim_token).update(**changes))


def release_many(releases) -> int:
    """`release` for many claimed rows at once: `releases` holds (row, next_due, attempts) triples.

    One UPDATE per model and claim token (a worker's batch is one claim: one
    statement) instead of one per row, under the same rules as `release`: only
    rows still held by their claim are released, a due time set by someone
    else after the claim is kept, and `attempts` None leaves the count alone.
    Returns how many rows were released.

    Plain SQL: the same statement built with Case/When objects cost more
    Python time than the hundred round trips it replaces.
    """
    claims = defaultdict(list)
    for row, next_due, attempts in releases:
        claims[type(row), row.claim_token].append((row, next_due, attempts))
    released = 0
    for (model, token), items in claims.items():
        sql, params = _release_sql(model, token, items)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            released += cursor.rowcount
    return released


def _release_sql(model, token: int, items: list) -> tuple[str, list]:
    """UPDATE … SET due_at = CASE WHEN id = … AND due_at = <claimed> THEN <next> … ELSE due_at END, …"""
    qn, meta = connection.ops.quote_name, model._meta
    pk, due, locked, claim, tries = (
        qn(meta.get_field(name).column) for name in ("id", "due_at", "locked_until", "claim_token", "attempts")
    )
    at = connection.ops.adapt_datetimefield_value
    due_cases, params = [], []
    for row, next_due, _ in items:
        if row.claimed_due_at is None:
            due_cases.append(f"WHEN {pk} = %s AND {due} IS NULL THEN %s")
            params += [row.pk, at(next_due)]
        else:
            due_cases.append(f"WHEN {pk} = %s AND {due} = %s THEN %s")
            params += [row.pk, at(row.claimed_due_at), at(next_due)]
    sets = [f"{locked} = NULL", f"{claim} = NULL", f"{due} = CASE {' '.join(due_cases)} ELSE {due} END"]
    counts = {attempts for _, _, attempts in items}
    if len(counts) == 1 and None not in counts:
        sets.append(f"{tries} = %s")  # the usual case: every step went well (0)
        params.append(counts.pop())
    elif counts != {None}:
        tries_cases = []
        for row, _, attempts in items:
            if attempts is not None:
                tries_cases.append(f"WHEN {pk} = %s THEN %s")
                params += [row.pk, attempts]
        sets.append(f"{tries} = CASE {' '.join(tries_cases)} ELSE {tries} END")
    ids = [row.pk for row, _, _ in items]
    sql = (
        f"UPDATE {qn(meta.db_table)} SET {', '.join(sets)} "
        f"WHERE {pk} IN ({', '.join(['%s'] * len(ids))}) AND {claim} = %s"
    )
    return sql, params + ids + [token]


def extend(row, now, lease_seconds: float) -> bool:
    """Keep holding a claimed row `lease_seconds` longer (False: the lease was lost already)."""
    model = type(row)
    until = now + timedelta(seconds=lease_seconds)
    return bool(model.objects.filter(pk=row.pk, claim_token=row.claim_token).update(locked_until=until))
