"""The worker's alert duties, each a due Duty row claimed like an order (smmpanel/worker/claims.py). The alerts
themselves are smmpanel.alerts' (what any app records), which the worker imports, never the other way.

- "channel:<name>": sends everything undelivered on that channel as ONE message, once the oldest
  of it is ALERTS_BATCH_SECONDS old (so what happens together goes together), then marks it
  delivered. Only the claim's holder sends, and it sends only while its lease has more than a
  send's deadline left, so two workers never send the same batch. A worker that dies between the
  send and the mark leaves the batch undelivered: the next claim sends it again (once more per
  such crash: at least once, never lost). A failed send is retried with back-off (or when
  Telegram's retry_after says), without holding up the other channels or the worker's orders.
- "provider:<id>": asks the provider for our balance every ALERTS_PROVIDER_CHECK_SECONDS. Below
  the owner's Provider.low_balance_alert: one alert per episode (re-armed once it is above
  again). ALERTS_PROVIDER_FAILURES failed checks in a row: one alert per episode (re-armed by a
  check that works). The episode lives in the duty's `state`, written under the claim's token.
- "stuck-orders": every ten minutes, orders Pending / In progress / Processing with no change
  for STUCK_HOURS, each told once per time it is stuck (the alerts batch them into one line); a
  drip-feed only when its next step is that much overdue (it waits unchanged between runs). Until
  each service's average completion time is known, STUCK_HOURS is the one measure for all.

Orders needing attention are recorded where they are flagged (smmpanel/orders/services.py), not
here: the same transaction, one INSERT, and no scan.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from smmpanel.alerts import batch, channels
from smmpanel.alerts.models import Alert, Delivery, Duty
from smmpanel.alerts.services import raise_alert
from smmpanel.orders.models import Order, Status
from smmpanel.providers.catalog import ProviderError, refresh_balance
from smmpanel.providers.models import Provider
from smmpanel.worker.claims import claim_due, release

log = logging.getLogger(__name__)
BATCH_LIMIT = 5000  # alerts in one message at most (the rest go in the next one)
IDLE_SECONDS = 5  # how often a channel with nothing to send looks again
STUCK_SCAN_SECONDS = 600
STUCK_LIMIT = 1000  # stuck orders told per scan at most (the next scan tells the rest)
STUCK_STATUSES = (Status.PENDING, Status.IN_PROGRESS, Status.PROCESSING)


def lease_seconds() -> float:
    """A duty's lease: long enough for a send to end within it, whatever WORKER_LEASE_SECONDS says."""
    return max(settings.WORKER_LEASE_SECONDS, 3 * settings.ALERTS_SEND_TIMEOUT + 5)


def backoff(attempts: int) -> timedelta:
    """After the n-th failure in a row: 30 s doubling to an hour."""
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def ensure_duties(now) -> None:
    """A duty row for each channel set up, each enabled provider, and the stuck-orders scan."""
    wanted = {f"channel:{name}" for name in channels.enabled()} | {"stuck-orders"}
    wanted |= {f"provider:{pk}" for pk in Provider.objects.filter(enabled=True).values_list("pk", flat=True)}
    missing = wanted - set(Duty.objects.values_list("name", flat=True))
    if missing:
        Duty.objects.bulk_create([Duty(name=name, due_at=now) for name in sorted(missing)], ignore_conflicts=True)


def run_once(now=None, *, ensure: bool = True) -> int:
    """Do the alert duties due now; returns how many were done.

    The channels are claimed and sent first, on a lease of their own, so that slow providers
    checked after them never eat into the time a send has.
    """
    now = now or timezone.now()
    if ensure:
        ensure_duties(now)
    done = 0
    for duties in (Duty.objects.filter(name__startswith="channel:"), Duty.objects.exclude(name__startswith="channel:")):
        started = time.monotonic()
        claimed = claim_due(duties, now, lease_seconds(), 50)
        for duty in claimed:
            _run(duty, now, started)
        done += len(claimed)
    return done


def _run(duty: Duty, now, started: float) -> None:
    kind, _, arg = duty.name.partition(":")
    try:
        next_due = RUNNERS[kind](duty, arg, now, started)
    except Exception as e:  # one duty's failure must not stop the others
        attempts = duty.attempts + 1
        if not isinstance(e, channels.ChannelError | ProviderError):
            log.exception("alert duty %s failed", duty.name)
        retry_after = getattr(e, "retry_after", None)
        wait = timedelta(seconds=retry_after) if retry_after is not None else backoff(attempts)
        Duty.objects.filter(pk=duty.pk, claim_token=duty.claim_token).update(last_error=str(e)[:500])
        release(duty, now + wait, attempts=attempts)
    else:
        if duty.attempts:
            Duty.objects.filter(pk=duty.pk, claim_token=duty.claim_token).update(last_error="")
        release(duty, next_due, attempts=0)


# --- channels -----------------------------------------------------------------------------------


def deliver(duty: Duty, name: str, now, started: float):
    """Send what is pending on channel `name` as one message; returns when to look again."""
    transport = channels.TRANSPORTS.get(name)
    if transport is None or not transport.enabled():
        return now + timedelta(seconds=60)
    pending = Alert.objects.filter(deliveries__channel=name, deliveries__delivered_at__isnull=True)
    alerts = list(pending.order_by("id")[:BATCH_LIMIT])
    if not alerts:
        return now + timedelta(seconds=min(IDLE_SECONDS, settings.ALERTS_BATCH_SECONDS) or IDLE_SECONDS)
    ready_at = min(alert.created for alert in alerts) + timedelta(seconds=settings.ALERTS_BATCH_SECONDS)
    if ready_at > now:
        return ready_at  # gather what else comes meanwhile
    if time.monotonic() - started + settings.ALERTS_SEND_TIMEOUT * 1.5 > lease_seconds():
        return now  # too little of the lease left to be sure it outlasts the send: the next claim sends
    transport.send(*batch.compose(alerts))
    ids = [alert.pk for alert in alerts]
    with transaction.atomic():
        mine = Duty.objects.select_for_update().filter(pk=duty.pk, claim_token=duty.claim_token)
        held = bool(list(mine.values_list("pk", flat=True)))  # read under lock: no claim can take it meanwhile
        if held:
            for start in range(0, len(ids), 500):
                Delivery.objects.filter(channel=name, alert_id__in=ids[start : start + 500]).update(
                    delivered_at=timezone.now()
                )
    if not held:
        log.warning("alerts on %s sent after the lease ran out: they may be sent once more", name)
    return now + timedelta(seconds=settings.ALERTS_BATCH_SECONDS or IDLE_SECONDS)


# --- providers ----------------------------------------------------------------------------------


def check_provider(duty: Duty, arg: str, now, started: float):
    """Ask a provider for our balance; alert once per episode of low balance and of failing."""
    provider = Provider.objects.filter(pk=int(arg)).first()
    if provider is None:
        Duty.objects.filter(pk=duty.pk, claim_token=duty.claim_token).delete()
        return None
    interval = timedelta(seconds=settings.ALERTS_PROVIDER_CHECK_SECONDS)
    if not provider.enabled:
        return now + interval  # nothing is sent to it: nor asked
    state = dict(duty.state)
    try:
        refresh_balance(provider, now)
    except ProviderError as e:
        state["failures"] = state.get("failures", 0) + 1
        failing = state["failures"] >= settings.ALERTS_PROVIDER_FAILURES and not state.get("failing_since")
        if failing:
            state["failing_since"] = now.isoformat()
        with transaction.atomic():
            if _keep_state(duty, state) and failing:
                raise_alert(
                    Alert.Kind.PROVIDER_FAILING,
                    f"provider-failing:{provider.pk}:{state['failing_since']}",
                    f"Provider {provider.name}: {state['failures']} checks failed in a row; last: {e}",
                    reverse("admin:providers_provider_change", args=[provider.pk]),
                    subject_id=provider.pk,
                )
        return now + min(interval, timedelta(seconds=60))  # a failing provider is looked at sooner
    state.update(failures=0, failing_since=None)
    threshold = provider.low_balance_alert
    low = threshold is not None and provider.balance is not None and provider.balance < threshold
    newly_low = low and not state.get("low_since")
    state["low_since"] = (state.get("low_since") or now.isoformat()) if low else None
    with transaction.atomic():
        if _keep_state(duty, state) and newly_low:
            currency = f" {provider.currency}" if provider.currency else ""
            raise_alert(
                Alert.Kind.PROVIDER_BALANCE,
                f"provider-balance:{provider.pk}:{state['low_since']}",
                f"Provider {provider.name}: our balance is {provider.balance}{currency}, below {threshold}{currency}",
                reverse("admin:providers_provider_change", args=[provider.pk]),
                subject_id=provider.pk,
            )
    return now + interval


def _keep_state(duty: Duty, state: dict) -> bool:
    """Write the duty's state if its claim still holds it (inside the transaction that alerts)."""
    return bool(Duty.objects.filter(pk=duty.pk, claim_token=duty.claim_token).update(state=state))


# --- stuck orders -------------------------------------------------------------------------------


def stuck_orders(duty: Duty, arg: str, now, started: float):
    """Tell the orders that stopped moving: no change for STUCK_HOURS, not told since their last change."""
    cutoff = now - timedelta(hours=settings.STUCK_HOURS)
    told = Alert.objects.filter(kind=Alert.Kind.ORDER_STUCK, subject_id=OuterRef("pk"), created__gt=OuterRef("updated"))
    stuck = (
        Order.objects.filter(status__in=STUCK_STATUSES, needs_attention=False, updated__lt=cutoff)
        # A drip-feed waits its interval between runs unchanged: stuck only when its next step is overdue.
        .filter(Q(runs__isnull=True) | Q(runs=0) | Q(due_at__lt=cutoff))
        .exclude(Exists(told))
        .order_by("id")
        .values_list("pk", "status", "updated")[:STUCK_LIMIT]
    )
    rows = list(stuck)
    with transaction.atomic():
        for pk, status, updated in rows:
            raise_alert(
                Alert.Kind.ORDER_STUCK,
                f"order-stuck:{pk}:{updated.isoformat()}",
                f"Order #{pk}: {status}, no change since {updated:%Y-%m-%d %H:%M} UTC",
                reverse("admin:orders_order_change", args=[pk]),
                subject_id=pk,
            )
    return now + timedelta(seconds=STUCK_SCAN_SECONDS)


RUNNERS = {"channel": deliver, "provider": check_provider, "stuck-orders": stuck_orders}
