"""Per-service data of the simulated fulfilment: how fast and how well a simulated service delivers."""

from django.db import models


class SimulatedService(models.Model):
    service = models.OneToOneField(
        "catalog.Service", on_delete=models.CASCADE, primary_key=True, related_name="simulated"
    )
    units_per_minute = models.PositiveIntegerField(default=6000, help_text="Delivery pace.")
    partial_percent = models.PositiveSmallIntegerField(
        default=0, help_text="Chance (in %) that an order stops short and ends Partial."
    )
    post_every_seconds = models.PositiveIntegerField(
        default=30, help_text="Subscriptions: how often the watched account posts."
    )

    class Meta:
        verbose_name = "simulated fulfilment"

    def __str__(self) -> str:
        return f"simulated: {self.units_per_minute}/min, {self.partial_percent}% partial"
