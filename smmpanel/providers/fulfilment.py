"""The provider fulfilment kind: orders forwarded to an upstream panel (see smmpanel.providers.engine)."""

from smmpanel.fulfilment.base import Fulfilment
from smmpanel.providers.models import ProviderService, UpstreamOrder


class ProviderFulfilment(Fulfilment):
    name = "provider"
    worker_driven = True
    service_data_model = ProviderService
    # What the last sync read from the provider: shown in the admin, never edited there.
    service_data_readonly = (
        "available",
        "upstream_name",
        "upstream_category",
        "upstream_type",
        "upstream_rate",
        "upstream_min",
        "upstream_max",
        "upstream_dripfeed",
        "upstream_refill",
        "upstream_cancel",
        "synced_at",
    )
    order_related = ("service__upstream__provider",)

    def group_key(self, order):
        return order.service.upstream.provider_id

    def advance_orders(self, orders, now):
        from smmpanel.providers import engine

        return engine.advance_orders(orders, now)

    def advance_refills(self, refills, now):
        from smmpanel.providers import engine

        return engine.advance_refills(refills, now)

    def owner_edited(self, services, changed_fields):
        from smmpanel.providers import catalog

        catalog.owner_edited(services, changed_fields)

    def resume_refusal(self, order):
        # The worker never resends an ambiguous placing: handed back, the order would wait for nobody.
        if UpstreamOrder.objects.filter(order_id=order.pk, state=UpstreamOrder.State.AMBIGUOUS).exists():
            return (
                "its sending to the provider was ambiguous: check there, then link the provider's order id, "
                "resend it, or cancel and refund"
            )
        return None

    def resend(self, order_id, *, user=None):
        from smmpanel.providers import engine

        return engine.resend(order_id, user=user)
