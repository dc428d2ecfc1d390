"""Manual fulfilment: a person does the work and records the outcome in the admin.

There is nothing for the worker to do: new orders wait (status Pending) in the
admin's order list, and cancel and refill requests raise the order's
"needs attention" flag. The admin's changes go through smmpanel.orders.services
like every other, so the refund rules and the history apply exactly the same.
"""

from smmpanel.fulfilment.base import Fulfilment


class Manual(Fulfilment):
    name = "manual"
    worker_driven = False
