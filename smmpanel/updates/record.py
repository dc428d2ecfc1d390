"""Recording the catalog's changes a customer would care about, in the transaction that makes them.

Every path that changes services goes through here with its source: the
admin's change form and list (smmpanel.catalog.admin, "admin"), its bulk
actions — enable, disable, change the price by a percent ("bulk") — and a
provider's re-sync (smmpanel.providers.catalog, "sync"):

    with recording(services_about_to_change, Source.BULK):
        ...change them, by save(), bulk_update() or queryset.update()...

`recording` reads the tracked columns of the services before the block (their
rows locked for the rest of the transaction, so what is read is what the
change starts from) and again after it, and writes one ServiceUpdate per
change found. Diffing the rows, rather than trusting each caller to say what
it changed, covers updates that bypass save() and keeps the rules in one
place; a blanket post_save signal would miss those and would not know the
source.

The rules: a service that appears (created) while active is "new" (one made
inactive is told when it is enabled); a changed rate is "price_up" or
"price_down"; a changed min or max is "limits"; a changed `active` is
"enabled" or "disabled". Names, descriptions and options are not recorded.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from smmpanel.catalog.models import Service
from smmpanel.updates.models import Kind, ServiceUpdate, Source

TRACKED = ("rate", "min", "max", "active")


class Values(NamedTuple):
    rate: Decimal
    min: int
    max: int
    active: bool


Snapshot = dict[int, Values]


def snapshot(services: QuerySet[Service]) -> Snapshot:
    """The tracked values of `services` by id; within a transaction their rows stay locked until it ends."""
    _require_transaction()
    rows = services.select_for_update(of=("self",)).order_by("pk").values_list("pk", *TRACKED)
    return {pk: Values(*values) for pk, *values in rows}


def changes(before: Snapshot, after: Snapshot, source: str, now=None) -> list[ServiceUpdate]:
    """The updates from `before` to `after` (unsaved), in the order of the services' ids."""
    now = now or timezone.now()
    found: list[ServiceUpdate] = []
    for pk, new in sorted(after.items()):
        old = before.get(pk)

        def row(kind: str, pk: int = pk, **values) -> ServiceUpdate:
            return ServiceUpdate(service_id=pk, kind=kind, source=source, created=now, **values)

        if old is None:
            if new.active:
                found.append(row(Kind.NEW, new_rate=new.rate, new_min=new.min, new_max=new.max))
            continue
        if old.active != new.active:
            found.append(row(Kind.ENABLED if new.active else Kind.DISABLED))
        if old.rate != new.rate:
            kind = Kind.PRICE_UP if new.rate > old.rate else Kind.PRICE_DOWN
            found.append(row(kind, old_rate=old.rate, new_rate=new.rate))
        if (old.min, old.max) != (new.min, new.max):
            found.append(row(Kind.LIMITS, old_min=old.min, old_max=old.max, new_min=new.min, new_max=new.max))
    return found


def record(before: Snapshot, after: Snapshot, source: str, now=None) -> list[ServiceUpdate]:
    """Write the updates from `before` to `after` (one INSERT); returns them."""
    _require_transaction()
    found = changes(before, after, Source(source), now)
    if found:
        ServiceUpdate.objects.bulk_create(found)
    return found


@contextmanager
def recording(services: QuerySet[Service], source: str, now=None) -> Iterator[None]:
    """Record what the block changes in `services` (re-read after it: services it creates count when the
    queryset matches them). Must run inside the change's transaction."""
    before = snapshot(services)
    yield
    record(before, snapshot(services), source, now)


def _require_transaction() -> None:
    # Outside a transaction the snapshot would lock nothing and a failed change could leave its record.
    if not connection.in_atomic_block:
        raise RuntimeError("service updates are recorded inside the change's transaction")
