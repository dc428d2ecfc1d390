"""Polling pending payments: when to ask a gateway about one, and asking (one step of the worker's job).

Webhooks get lost (an outage, a firewall, a wrong URL in the gateway's
dashboard); the panel must not depend on them. A pending payment at a hosted
gateway is a due row (Payment is Claimable), claimed by the worker like the
rest of its work (smmpanel/worker/payments.py), asked about here through the
gateway's authenticated API outside any transaction, and the answer applied
by smmpanel.payments.services, where the ledger's constraint keeps a webhook
racing a poll (or two workers) to one deposit. Young payments are asked about
often, older ones less, none after PAYMENTS_POLL_DAYS (then the owner is
asked to look).
"""

import logging
from datetime import timedelta

from django.conf import settings

from smmpanel.payments import services
from smmpanel.payments.kinds.base import GatewayDown

log = logging.getLogger(__name__)


def first_poll(now):
    return now + timedelta(seconds=settings.PAYMENTS_POLL_SECONDS)


def next_poll(payment, now):
    """Every PAYMENTS_POLL_SECONDS in the first hour, ×10 in the first day, ×60 after; None past the limit."""
    age = now - payment.created
    if age > timedelta(days=settings.PAYMENTS_POLL_DAYS):
        return None
    factor = 1 if age < timedelta(hours=1) else 10 if age < timedelta(days=1) else 60
    return now + timedelta(seconds=settings.PAYMENTS_POLL_SECONDS * factor)


def step(payment, now) -> tuple:
    """Poll one claimed payment; returns (next due time, attempts so far)."""
    try:
        fresh = services.refresh(payment.pk)
    except GatewayDown as e:
        log.warning("payment #%s: %s could not be asked: %s", payment.pk, payment.gateway.name, e)
        return retry_after_failure(payment, now)
    if fresh.state not in services.OPEN or fresh.needs_attention:
        return None, 0
    due = next_poll(fresh, now)
    if due is None:
        services.give_up_polling(fresh.pk)
    return due, 0


def retry_after_failure(payment, now) -> tuple:
    """(when to ask again, attempts) after an unexpected failure: later each time, an hour at most."""
    attempts = payment.attempts + 1
    return now + timedelta(seconds=min(settings.PAYMENTS_POLL_SECONDS * 2**attempts, 3600)), attempts
