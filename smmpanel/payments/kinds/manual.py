"""Manual transfer: the owner writes instructions, the customer sends money their way and submits the
amount and a reference, and the owner approves (one deposit) or rejects the payment in the admin.

Nothing is asked of a gateway: there is none to ask, and nothing to poll.
"""

from smmpanel.payments.kinds.base import Kind, Refused


class Manual(Kind):
    name = "manual"
    label = "Manual transfer"
    hosted = False

    def verify(self, gateway, body, headers):
        raise Refused("a manual gateway takes no notifications")
