"""Which gateways a customer may pay by, and what a payment by one costs and earns (fee, bonus).

A gateway whose keys are all set in the environment exists and is enabled
with defaults the first time anyone asks (its row is made here, named after
its kind); the owner may still tune or disable it in the admin.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.urls import reverse

from smmpanel.ledger.money import ZERO, round5
from smmpanel.payments import registry
from smmpanel.payments.models import Gateway

CENT = Decimal("0.01")
# Defaults of a gateway configured by the environment.
ENV_DEFAULTS = {"enabled": True, "min_amount": Decimal(1), "max_amount": Decimal(10000)}


def ensure_env_gateways() -> None:
    """Make the row of each gateway kind whose keys are all in the environment (once; then the admin's)."""
    for name in registry.KINDS:
        kind = registry.get(name)
        if kind.configured_by_env() and not Gateway.objects.filter(kind=name).exists():
            defaults = {"kind": name, "display_name": kind.label, **ENV_DEFAULTS}
            Gateway.objects.get_or_create(name=name, defaults=defaults)


def enabled() -> list[Gateway]:
    """The gateways a customer may pay by (enabled, with their keys), in the owner's order, with their bonus rules."""
    ensure_env_gateways()
    gateways = Gateway.objects.filter(enabled=True).prefetch_related("bonuses")
    return [gateway for gateway in gateways if registry.get(gateway.kind).ready(gateway)]


def by_name(name: str, *, enabled_only: bool = True) -> Gateway | None:
    ensure_env_gateways()
    gateways = Gateway.objects.filter(name=str(name)[:40])
    if enabled_only:
        gateways = gateways.filter(enabled=True)
    gateway = gateways.first()
    if gateway is not None and enabled_only and not registry.get(gateway.kind).ready(gateway):
        return None  # its keys are missing: it could only fail
    return gateway


def fee(gateway: Gateway, amount: Decimal) -> Decimal:
    """The gateway's fee on `amount`: percent of it plus the fixed part, in whole cents (cards charge cents)."""
    return round5((amount * gateway.fee_percent / 100 + gateway.fee_fixed).quantize(CENT, rounding=ROUND_HALF_UP))


def bonus(gateway: Gateway, amount: Decimal) -> Decimal:
    """The bonus the gateway's best rule gives on `amount` (the rule with the highest threshold reached)."""
    rules = [rule for rule in gateway.bonuses.all() if amount >= rule.min_amount]
    if not rules:
        return ZERO
    best = max(rules, key=lambda rule: rule.min_amount)
    return round5(amount * best.percent / 100)


def notify_url(gateway: Gateway) -> str:
    """Where the gateway sends its notifications: absolute from SITE_URL (a path alone without it)."""
    return settings.SITE_ORIGIN + reverse("payments:notify", args=[gateway.name])
