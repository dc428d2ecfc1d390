"""Manual fulfilment: a person does the work and records the outcome in the admin.

There is nothing for the worker to do: new orders and refills are never due
(status Pending, in the admin's lists), and cancel and refill requests raise
the order's "needs attention" flag so that the person sees them. The admin's
changes go through smmpanel.orders.services like every other, so the refund
rules and the history apply exactly the same.
"""

from smmpanel.fulfilment.base import Fulfilment


class Manual(Fulfilment):
    name = "manual"
    worker_driven = False

    def first_due(self, now):
        return None  # the worker never looks: a person does

    def cancel_requested(self, order, now) -> dict:
        return {"needs_attention": True, "attention_note": "The customer asked to cancel this order."}

    def refill_requested(self, order, refill) -> dict:
        return {"needs_attention": True, "attention_note": f"Refill #{refill.pk} asked for."}
