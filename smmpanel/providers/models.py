"""Providers (upstream panels speaking API v2), the services we resell from them, and our orders there.

- Provider: where and how to reach an upstream panel, its currency and our limits towards it.
- ProviderService: the provider fulfilment's per-service data (a local Service's upstream twin).
- UpstreamOrder: one order placed (or being placed) upstream for a local order; a local order has one,
  or one per run when its drip-feed is run here. Its `state` is what makes placing at-most-once.
- UpstreamRefill: a customer's refill as forwarded upstream.
"""

from decimal import Decimal

from django.db import models
from django.db.models import Q


class Provider(models.Model):
    name = models.CharField(max_length=100, unique=True)
    api_url = models.URLField(max_length=500, help_text="The provider's API v2 endpoint, e.g. https://x.com/api/v2")
    # A secret: shown masked in the admin and never written to a log.
    api_key = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True, help_text="Off: nothing is sent to this provider.")
    currency = models.CharField(max_length=10, blank=True, help_text="As its `balance` answer says.")
    currency_rate = models.DecimalField(
        max_digits=18,
        decimal_places=8,
        default=Decimal(1),
        help_text="USD per unit of the provider's currency (1 for USD).",
    )
    balance = models.DecimalField(
        max_digits=24, decimal_places=5, null=True, blank=True, help_text="Our balance there, last seen."
    )
    balance_checked_at = models.DateTimeField(null=True, blank=True)
    low_balance_alert = models.DecimalField(
        max_digits=24,
        decimal_places=5,
        null=True,
        blank=True,
        help_text="Alert the owner when our balance there falls below this (in the provider's currency; "
        "the worker asks it every few minutes). Empty: no alert.",
    )
    max_concurrent = models.PositiveSmallIntegerField(
        default=4, help_text="Requests in flight at once to this provider (per worker process)."
    )
    requests_per_second = models.PositiveIntegerField(
        default=10, help_text="Requests per second to this provider (per worker process)."
    )
    timeout_seconds = models.PositiveSmallIntegerField(default=30)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        # Each sends a request with our key; a sync also sets the prices of every imported service.
        permissions = [
            ("check_balance", "Can ask providers for our balance there"),
            ("sync_services", "Can import and re-sync a provider's services and their prices"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(currency_rate__gt=0), name="provider_currency_rate_positive"),
            models.CheckConstraint(
                condition=Q(low_balance_alert__isnull=True) | Q(low_balance_alert__gte=0),
                name="provider_low_balance_alert_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def key_hint(self) -> str:
        """The key's first characters, to tell keys apart; nothing of a key too short to spare them."""
        return f"{self.api_key[:4]}…" if len(self.api_key) >= 16 else "…"


class ProviderService(models.Model):
    """A local service fulfilled by a provider's service; the upstream fields are as the last sync saw them."""

    service = models.OneToOneField(
        "catalog.Service", on_delete=models.CASCADE, primary_key=True, related_name="upstream"
    )
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="services")
    upstream_service = models.CharField(max_length=50, help_text="The provider's service id.")
    upstream_name = models.CharField(max_length=300, blank=True)
    upstream_category = models.CharField(max_length=200, blank=True)
    upstream_type = models.CharField(max_length=40, blank=True)
    upstream_rate = models.DecimalField(
        max_digits=24, decimal_places=8, default=Decimal(0), help_text="Per 1000, in the provider's currency."
    )
    upstream_min = models.PositiveIntegerField(default=0)
    upstream_max = models.PositiveIntegerField(default=0)
    upstream_dripfeed = models.BooleanField(default=False)
    upstream_refill = models.BooleanField(default=False)
    upstream_cancel = models.BooleanField(default=False)
    available = models.BooleanField(default=True, help_text="Listed by the provider at the last sync.")
    # Set when a sync turned the service off because it left the provider's list: only then may a
    # later sync turn it back on (a service the owner turned off stays off). The owner's edit clears it.
    deactivated_by_sync = models.BooleanField(default=False, editable=False)
    markup_percent = models.DecimalField(max_digits=9, decimal_places=2, default=Decimal(0))
    # The owner's overrides: a re-sync leaves these local fields alone.
    keep_rate = models.BooleanField(default=False, help_text="Keep the local rate on re-sync.")
    keep_name = models.BooleanField(default=False, help_text="Keep the local name on re-sync.")
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "provider fulfilment"
        constraints = [
            models.UniqueConstraint(fields=["provider", "upstream_service"], name="one_service_per_upstream_id"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} #{self.upstream_service}"


class UpstreamOrder(models.Model):
    class State(models.TextChoices):
        # Committed before the request is sent: if we crash, we know it may have been placed.
        SUBMITTING = "submitting"
        PLACED = "placed"  # the provider answered with its order id
        # No clear answer (timeout after sending, dropped connection, unreadable answer): never resent
        # automatically; the admin links the upstream id, resends, or cancels and refunds.
        AMBIGUOUS = "ambiguous"
        REFUSED = "refused"  # the provider refused the order itself; nothing was placed

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="upstream_orders")
    # 0: the whole order (drip-feed forwarded with its runs); 1…runs: one run of a drip-feed run here.
    run = models.PositiveIntegerField(default=0)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="orders")
    state = models.CharField(max_length=12, choices=State.choices)
    # The claim that submitted it: only that step may record the provider's answer.
    submit_token = models.BigIntegerField(null=True, blank=True)
    submitted_at = models.DateTimeField()
    quantity = models.PositiveIntegerField(default=0)
    upstream_id = models.CharField(max_length=50, blank=True)
    # What the provider said last.
    status = models.CharField(max_length=20, blank=True)
    remains = models.BigIntegerField(null=True, blank=True)
    start_count = models.BigIntegerField(null=True, blank=True)
    charge = models.DecimalField(
        max_digits=24, decimal_places=5, null=True, blank=True, help_text="What the provider charged, in its currency."
    )
    message = models.CharField(max_length=500, blank=True, help_text="The provider's words, when it refused.")
    # Consecutive status answers saying the provider does not know this id.
    unknown_answers = models.PositiveSmallIntegerField(default=0)
    cancel_sent_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "run"], name="one_upstream_order_per_run"),
        ]
        indexes = [models.Index(fields=["provider", "upstream_id"], name="upstream_order_by_id")]

    def __str__(self) -> str:
        return f"{self.provider} order {self.upstream_id or '?'} ({self.state}) for #{self.order_id}"

    @property
    def is_final(self) -> bool:
        return self.status in ("Completed", "Partial", "Canceled", "Expired")


class UpstreamRefill(models.Model):
    refill = models.OneToOneField("orders.Refill", on_delete=models.CASCADE, primary_key=True, related_name="upstream")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="refills")
    upstream_id = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=20, blank=True)
    sent_at = models.DateTimeField()
    checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.provider} refill {self.upstream_id or '?'} for refill #{self.refill_id}"
