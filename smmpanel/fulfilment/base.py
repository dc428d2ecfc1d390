"""The fulfilment interface: how the worker moves an order or a refill one step on.

An implementation looks at an order (or refill), decides what happened since
it last looked, reports it through smmpanel.orders.services (which applies
refunds), and says when to look again. It never writes money or statuses
itself. The worker calls only implementations listed in REGISTRY; orders of
any other fulfilment (manual) wait for a person in the admin.
"""

from datetime import datetime


class Fulfilment:
    name = ""

    def advance_order(self, order, now: datetime) -> datetime | None:
        """Move the order on; return when to look at it again (None: not until something changes)."""
        raise NotImplementedError

    def advance_refill(self, refill, now: datetime) -> datetime | None:
        raise NotImplementedError


REGISTRY: dict[str, Fulfilment] = {}


def register(impl: Fulfilment) -> Fulfilment:
    REGISTRY[impl.name] = impl
    return impl


def get(name: str) -> Fulfilment | None:
    # Imported here so that registering happens on first use, wherever that is.
    from smmpanel.fulfilment import simulated  # noqa: F401

    return REGISTRY.get(name)
