"""The worker's payments job: claim the pending payments due a poll and ask their gateways.

Claimed like the rest of the worker's work (FOR UPDATE SKIP LOCKED + a
fencing token, claims.py); each released with its next due time, by its
claim only. What asking means is smmpanel/payments/polling.py's.
"""

import logging

from smmpanel.payments import polling
from smmpanel.payments.models import Payment
from smmpanel.payments.services import OPEN
from smmpanel.worker.claims import claim_due, release

log = logging.getLogger(__name__)
BATCH = 50


def run_once(now, lease_seconds: float, batch: int = BATCH) -> int:
    """Poll the pending payments due now; returns how many were handled."""
    claimed = claim_due(Payment.objects.filter(state__in=OPEN).select_related("gateway"), now, lease_seconds, batch)
    for payment in claimed:
        try:
            due, attempts = polling.step(payment, now)
        except Exception:  # one payment's failure must not stop the others; retried with back-off
            log.exception("payment #%s: poll failed", payment.pk)
            due, attempts = polling.retry_after_failure(payment, now)
        release(payment, due, attempts=attempts)
    return len(claimed)
