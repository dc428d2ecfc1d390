"""Recording trouble: `raise_alert`, the one way in, for this app's checks and for any other app.

An alert is recorded once per `key` (a UNIQUE column), with a Delivery row for each channel set
up now; the worker sends them (jobs.py). Call it inside the transaction that records the trouble
itself, so that both are kept or neither: it costs two INSERTs in a savepoint, and sends nothing.
"""

from django.db import IntegrityError, transaction
from django.urls import reverse

from smmpanel.alerts import channels
from smmpanel.alerts.models import Alert, Delivery


def raise_alert(kind: str, key: str, text: str, url: str | None = None, *, subject_id: int | None = None):
    """Record an alert for the owner, once per `key`; returns it, or None when `key` was recorded before.

    `kind`: one of Alert.Kind (alerts of a kind are batched into one line: "12 orders need
    attention"); `key`: what makes this trouble the same trouble (e.g. "ticket:42"); `text`: one
    line for the owner; `url`: where to look (a path of this site, e.g. an admin page).
    """
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                kind=kind, key=key[:200], text=text[:1000], url=(url or "")[:500], subject_id=subject_id
            )
            Delivery.objects.bulk_create([Delivery(alert=alert, channel=name) for name in channels.enabled()])
    except IntegrityError:
        return None
    return alert


def order_needs_attention(order_id: int, reason: str, event_id: int):
    """An order was set aside for a person (once per time it is: the event that did it is the key)."""
    return raise_alert(
        Alert.Kind.ORDER_ATTENTION,
        f"order-attention:{order_id}:{event_id}",
        f"Order #{order_id}: {reason}",
        reverse("admin:orders_order_change", args=[order_id]),
        subject_id=order_id,
    )
