"""One pass of the worker: claim due orders and refills and let their fulfilment move them on."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from smmpanel.fulfilment import base as fulfilment
from smmpanel.orders.models import FINAL, Order, Refill
from smmpanel.worker.claims import claim_due, release

log = logging.getLogger(__name__)
BATCH = 50


def _driven():
    fulfilment.get("")  # make sure every implementation has registered
    return list(fulfilment.REGISTRY)


def run_once(now=None, batch: int = BATCH) -> int:
    """Process what is due now; returns how many rows were handled."""
    now = now or timezone.now()
    lease = settings.WORKER_LEASE_SECONDS
    names = _driven()
    handled = 0

    orders = Order.objects.filter(service__fulfilment__in=names).exclude(status__in=FINAL)
    for order in claim_due(orders.select_related("service"), now, lease, batch):
        next_due = None
        try:
            next_due = fulfilment.get(order.service.fulfilment).advance_order(order, now)
        except Exception:
            log.exception("order #%s: fulfilment step failed; retrying later", order.pk)
            next_due = now + timedelta(seconds=30)
        release(order, next_due)
        handled += 1

    refills = Refill.objects.filter(order__service__fulfilment__in=names).filter(status__in=Refill.OPEN)
    for refill in claim_due(refills.select_related("order__service"), now, lease, batch):
        service = refill.order.service
        try:
            next_due = fulfilment.get(service.fulfilment).advance_refill(refill, now)
        except Exception:
            log.exception("refill #%s: fulfilment step failed; retrying later", refill.pk)
            next_due = now + timedelta(seconds=30)
        release(refill, next_due)
        handled += 1
    return handled
