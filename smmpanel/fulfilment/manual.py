"""Manual fulfilment: a person does the work and records the outcome in the admin.

There is nothing for the worker to do: new orders wait (status Pending) in the
admin's order list, cancel and refill requests raise the order's
"needs attention" flag, and the admin's status change goes through
`record_outcome`, so the refund rules apply exactly as for any other outcome.
"""

from smmpanel.orders import services
from smmpanel.orders.models import Order


def record_outcome(order: Order, status: str, remains=None, start_count=None) -> Order:
    return services.apply_status(order.pk, status, remains=remains, start_count=start_count)


def record_refill(refill, status: str):
    return services.apply_refill_status(refill.pk, status)
