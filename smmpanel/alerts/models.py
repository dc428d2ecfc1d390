"""What the alerts app keeps: each trouble once (Alert), its delivery per channel, the worker's periodic duties,
and the owner's announcements.

- Alert: one event the owner should hear about. `key` is UNIQUE: the same trouble (an order's
  episode of needing attention, a provider's episode of low balance…) is recorded once, whoever
  notices it and however often.
- Delivery: an alert still to be sent (or sent) on one channel; a channel sends all of its
  undelivered rows as one message (see jobs.py).
- Duty: a periodic job of the worker as a due row (due_at, locked_until, claim_token), claimed
  like orders are (smmpanel/worker/claims.py): one worker at a time does it, whatever their number.
  `state` holds what the duty remembers between runs (a provider's episode of trouble).
- Announcement: the owner's words on the customers' New order page, until they expire.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Alert(models.Model):
    class Kind(models.TextChoices):
        ORDER_ATTENTION = "order-attention", _("order needs attention")
        ORDER_STUCK = "order-stuck", _("order stuck")
        PROVIDER_BALANCE = "provider-balance", _("provider balance low")
        PROVIDER_FAILING = "provider-failing", _("provider failing")
        TICKET = "ticket", _("new ticket")
        PAYMENT = "payment", _("payment needs attention")
        OTHER = "other", _("other")

    kind = models.CharField(max_length=40)
    key = models.CharField(max_length=200, unique=True, help_text="The same trouble is recorded once.")
    # The object it is about (an order's, a provider's id), where there is one: for the scans'
    # "already told" checks and for batching ("#1, #2, …").
    subject_id = models.BigIntegerField(null=True, blank=True)
    text = models.CharField(max_length=1000)
    url = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["kind", "subject_id"], name="alert_by_subject")]

    def __str__(self) -> str:
        return self.text


class Delivery(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=20)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["alert", "channel"], name="one_delivery_per_channel")]
        # What a channel has still to send: few rows, read every pass of the channel's duty.
        indexes = [
            models.Index(fields=["channel", "id"], condition=Q(delivered_at__isnull=True), name="delivery_pending")
        ]

    def __str__(self) -> str:
        return f"{self.channel}: {self.alert_id}"


class Duty(models.Model):
    """A periodic job of the worker: `name` says which ("channel:telegram", "provider:3", "stuck-orders")."""

    name = models.CharField(max_length=60, unique=True)
    due_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Failures in a row.")
    last_error = models.CharField(max_length=500, blank=True)
    state = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "duties"
        indexes = [models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="duty_due")]

    def __str__(self) -> str:
        return self.name


class Announcement(models.Model):
    text = models.TextField(_("text"), max_length=2000)
    active = models.BooleanField(_("active"), default=True)
    starts = models.DateTimeField(_("starts"), null=True, blank=True, help_text=_("Empty: at once."))
    expires = models.DateTimeField(_("expires"), null=True, blank=True, help_text=_("Empty: until turned off."))
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")
        constraints = [
            models.CheckConstraint(
                condition=Q(starts__isnull=True) | Q(expires__isnull=True) | Q(expires__gt=models.F("starts")),
                name="announcement_expires_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.text[:60]
