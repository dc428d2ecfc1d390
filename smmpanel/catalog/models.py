"""Categories and services: what the panel sells, at what rate, with which options."""

from django.db import models

from smmpanel.catalog import fulfilment_kinds
from smmpanel.catalog.order_types import TYPE_CHOICES, get
from smmpanel.ledger.fields import MoneyField


class Category(models.Model):
    name = models.CharField(max_length=200, unique=True)
    position = models.IntegerField(default=0, help_text="Lower comes first.")

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    name = models.CharField(max_length=300)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="services")
    type = models.CharField(max_length=40, choices=TYPE_CHOICES, default="Default")
    rate = MoneyField(help_text="Price per 1000 units in USD (per package for Package types).")
    min = models.PositiveIntegerField(default=1)
    max = models.PositiveIntegerField(default=10000)
    refill = models.BooleanField(default=False)
    refill_days = models.PositiveIntegerField(
        default=30, help_text="How long after completion a refill may be asked for."
    )
    cancel = models.BooleanField(default=False)
    dripfeed = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    position = models.IntegerField(default=0)
    # How orders are delivered: a kind of smmpanel.catalog.fulfilment_kinds, whose
    # own data about this service (if any) is a one-to-one model of that kind.
    fulfilment = models.CharField(max_length=20, choices=fulfilment_kinds.CHOICES, default=fulfilment_kinds.DEFAULT)

    class Meta:
        ordering = ["category__position", "category_id", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(min__lte=models.F("max")), name="service_min_lte_max"),
            models.CheckConstraint(condition=models.Q(rate__gte=0), name="service_rate_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.id}: {self.name}"

    @property
    def order_type(self):
        return get(self.type)

    @property
    def kind(self):
        """The fulfilment kind's implementation (smmpanel.fulfilment.base.Fulfilment)."""
        return fulfilment_kinds.get(self.fulfilment)
