"""ServiceUpdate: one change of the catalog a customer would care about, as the customers' Updates page lists it.

A row is written by smmpanel.updates.record in the transaction of the change
itself (the admin's save, its bulk actions, a provider's re-sync), never
afterwards; the owner may hide one from the page (`hidden`), never edit it.
What a row may hold is checked by the database: a known kind and source, a
price change with both rates and in its direction, a limits change with both
pairs.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from smmpanel.ledger.fields import MoneyField


class Kind(models.TextChoices):
    NEW = "new", _("New service")
    PRICE_UP = "price_up", _("Price increased")
    PRICE_DOWN = "price_down", _("Price decreased")
    LIMITS = "limits", _("Min / max changed")
    DISABLED = "disabled", _("Disabled")
    ENABLED = "enabled", _("Enabled")


class Source(models.TextChoices):
    ADMIN = "admin", _("the admin")
    BULK = "bulk", _("a bulk action")
    SYNC = "sync", _("a provider re-sync")


class ServiceUpdate(models.Model):
    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="updates")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # Price changes: the rate before and after; a new service: its rate (new_rate only).
    # (The stubs' MoneyField reads back a Decimal only: these may be None.)
    old_rate = MoneyField(null=True, blank=True)  # type: ignore[misc]
    new_rate = MoneyField(null=True, blank=True)  # type: ignore[misc]
    # Limits changes: both pairs; a new service: its own (new_min, new_max only).
    old_min = models.PositiveIntegerField(null=True, blank=True)
    old_max = models.PositiveIntegerField(null=True, blank=True)
    new_min = models.PositiveIntegerField(null=True, blank=True)
    new_max = models.PositiveIntegerField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=8, choices=Source.choices)
    hidden = models.BooleanField(default=False, help_text=_("Hidden entries are not shown to customers."))

    class Meta:
        ordering = ["-id"]
        verbose_name = _("service update")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=Kind.values), name="serviceupdate_kind_known"),
            models.CheckConstraint(condition=Q(source__in=Source.values), name="serviceupdate_source_known"),
            models.CheckConstraint(
                condition=~Q(kind=Kind.PRICE_UP) | Q(old_rate__isnull=False, new_rate__gt=models.F("old_rate")),
                name="serviceupdate_price_up_rises",
            ),
            models.CheckConstraint(
                condition=~Q(kind=Kind.PRICE_DOWN) | Q(old_rate__isnull=False, new_rate__lt=models.F("old_rate")),
                name="serviceupdate_price_down_falls",
            ),
            models.CheckConstraint(
                condition=~Q(kind=Kind.LIMITS)
                | Q(old_min__isnull=False, old_max__isnull=False, new_min__isnull=False, new_max__isnull=False),
                name="serviceupdate_limits_both_pairs",
            ),
        ]
        indexes = [
            # The customers' page: newest first, all kinds (the primary key) or one kind (this index).
            models.Index(fields=["kind", "-id"], name="serviceupdate_kind_recent"),
        ]

    def __str__(self) -> str:
        return f"#{self.service_id} {self.kind}"
