"""The provider fulfilment kind: orders forwarded to an upstream panel (see smmpanel.providers.engine)."""

from smmpanel.fulfilment.base import Fulfilment
from smmpanel.providers.models import ProviderService


class ProviderFulfilment(Fulfilment):
    name = "provider"
    worker_driven = True
    service_data_model = ProviderService
    order_related = ("service__upstream__provider",)

    def group_key(self, order):
        return order.service.upstream.provider_id

    def advance_orders(self, orders, now):
        from smmpanel.providers import engine

        return engine.advance_orders(orders, now)

    def advance_refills(self, refills, now):
        from smmpanel.providers import engine

        return engine.advance_refills(refills, now)
