"""What the reselling acceptance tests share: panel B importing panel A's catalog, and driving B's worker.

Panel A is the upstream provider (tests/providers_harness.py); panel B is this test process's database.
"""

import itertools
import time
from collections import Counter

import pytest
from django.utils import timezone

from smmpanel.orders.models import Order
from smmpanel.providers import catalog
from smmpanel.providers.models import Provider
from smmpanel.worker.loop import run_once

_links = itertools.count(1)


def next_number() -> int:
    return next(_links)


def link(tag="p"):
    return f"https://social.example/{tag}/{time.time_ns()}-{next(_links)}"


def a_orders(panel) -> list[tuple[int, str]]:
    """(id, link) of A's top-level orders (a subscription's posts are A's own business)."""
    from smmpanel.orders.models import Order as AOrder

    meta = AOrder._meta
    return panel._query(
        f'SELECT "id", "{meta.get_field("link").column}" FROM "{meta.db_table}" '
        f'WHERE "{meta.get_field("parent").column}" IS NULL'
    )


def a_links(panel) -> Counter:
    """How many orders A holds for each link."""
    return Counter(url for _, url in a_orders(panel))


@pytest.fixture(name="imported")
def imported_catalog(db, settings, provider_panel):
    """B imports A's catalog with a 50 % markup; returns (provider, local services by A's catalog key)."""
    settings.PROVIDER_SYNC_SECONDS = 0.2
    provider = Provider.objects.create(
        name="A",
        api_url=provider_panel.url,
        api_key=provider_panel.key,
        timeout_seconds=3,
        requests_per_second=1000,
        max_concurrent=8,
    )
    report = catalog.sync_services(provider, markup_percent="50", category_prefix="A / ")
    assert report.changes
    by_upstream = {
        int(s.upstream.upstream_service): s
        for s in provider.services.select_related("service").all()
        for s in [s.service]
    }
    return provider, {key: by_upstream[pk] for key, pk in provider_panel.services.items()}


def drive(until, timeout: float):
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "orders did not settle in time"
        if not run_once(now=timezone.now()):
            time.sleep(0.05)


def settled(pks):
    """Every order ended, or is waiting for a person."""
    return lambda: (
        not Order.objects.filter(pk__in=pks, needs_attention=False)
        .exclude(status__in=["Completed", "Partial", "Canceled", "Expired"])
        .exists()
    )
