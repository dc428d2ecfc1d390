"""The worker's job for payments: ask the gateway about pending payments whose webhook has not come.

Webhooks get lost (an outage, a firewall, a wrong URL in the gateway's
dashboard); the panel must not depend on them. A pending payment at a hosted
gateway is a due row (Payment is Claimable): claimed like the rest of the
worker's work (FOR UPDATE SKIP LOCKED + a fencing token, smmpanel.worker.claims),
asked about through the gateway's authenticated API outside any transaction,
and the answer applied by smmpanel.payments.services, where the ledger's
constraint keeps a webhook racing a poll (or two workers) to one deposit.
Young payments are asked about often, older ones less, none after
PAYMENTS_POLL_DAYS (then the owner is asked to look).
"""

import logging
from datetime import timedelta

from django.conf import settings

from smmpanel.payments import services
from smmpanel.payments.kinds.base import GatewayDown
from smmpanel.payments.models import Payment
from smmpanel.worker.claims import claim_due, release

log = logging.getLogger(__name__)
BATCH = 50


def first_poll(now):
    return now + timedelta(seconds=settings.PAYMENTS_POLL_SECONDS)


def next_poll(payment, now):
    """Every PAYMENTS_POLL_SECONDS in the first hour, ×10 in the first day, ×60 after; None past the limit."""
    age = now - payment.created
    if age > timedelta(days=settings.PAYMENTS_POLL_DAYS):
        return None
    factor = 1 if age < timedelta(hours=1) else 10 if age < timedelta(days=1) else 60
    return now + timedelta(seconds=settings.PAYMENTS_POLL_SECONDS * factor)


def _step(payment, now) -> tuple:
    """Poll one claimed payment; returns (next due time, attempts)."""
    try:
        fresh = services.refresh(payment.pk)
    except GatewayDown as e:
        attempts = payment.attempts + 1
        log.warning("payment #%s: %s could not be asked: %s", payment.pk, payment.gateway.name, e)
        return now + timedelta(seconds=min(settings.PAYMENTS_POLL_SECONDS * 2**attempts, 3600)), attempts
    if fresh.state not in services.OPEN or fresh.needs_attention:
        return None, 0
    due = next_poll(fresh, now)
    if due is None:
        services.give_up_polling(fresh.pk)
    return due, 0


def run_once(now, lease_seconds: float, batch: int = BATCH) -> int:
    """Poll the pending payments due now; returns how many were handled."""
    pending = Payment.objects.filter(state__in=services.OPEN).select_related("gateway")
    claimed = claim_due(pending, now, lease_seconds, batch)
    for payment in claimed:
        try:
            due, attempts = _step(payment, now)
        except Exception:  # one payment's failure must not stop the others; retried with back-off
            log.exception("payment #%s: poll failed", payment.pk)
            due, attempts = now + timedelta(seconds=settings.PAYMENTS_POLL_SECONDS * 10), payment.attempts + 1
        release(payment, due, attempts=attempts)
    return len(claimed)
