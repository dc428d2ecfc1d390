"""Order (every order type, subscriptions included: one id space) and Refill.

The row is the truth: a status plus, while work remains, the time it is next
due (`due_at`) and the lease of the worker holding it (`locked_until`).
"""

from django.db import models
from django.db.models import Q

from smmpanel.ledger.fields import MoneyField


class Status(models.TextChoices):
    PENDING = "Pending"
    IN_PROGRESS = "In progress"
    PROCESSING = "Processing"
    COMPLETED = "Completed"
    PARTIAL = "Partial"
    CANCELED = "Canceled"
    # Subscriptions only.
    ACTIVE = "Active"
    PAUSED = "Paused"
    EXPIRED = "Expired"


FINAL = (Status.COMPLETED, Status.PARTIAL, Status.CANCELED, Status.EXPIRED)
ORDER_STATUSES = (
    Status.PENDING, Status.IN_PROGRESS, Status.PROCESSING,
    Status.COMPLETED, Status.PARTIAL, Status.CANCELED,
)
SUBSCRIPTION_STATUSES = (Status.ACTIVE, Status.PAUSED, Status.COMPLETED, Status.EXPIRED, Status.CANCELED)


class Claimable(models.Model):
    """A unit of the worker's work: due again at `due_at` (None: nothing to do), leased until `locked_until`."""

    # Indexed (partially: only rows with work due) by each concrete model.
    due_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class Order(Claimable):
    # Indexed by `order_account_recent` below (account, newest first).
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="orders")
    type = models.CharField(max_length=40)
    # The link (a subscription keeps its username here: it plays the link's
    # part in the one-active-order-per-link rule).
    link = models.CharField(max_length=500)
    quantity = models.PositiveIntegerField(default=0, help_text="Units per run for drip-feed.")
    runs = models.PositiveIntegerField(null=True, blank=True)
    interval = models.PositiveIntegerField(null=True, blank=True, help_text="Minutes between runs.")
    total = models.PositiveIntegerField(default=0, help_text="Units to deliver in all.")
    # The type-specific parameters exactly as given (comments, usernames, min, max …).
    params = models.JSONField(default=dict, blank=True)

    charge = MoneyField(default=0)
    refunded = MoneyField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    start_count = models.BigIntegerField(default=0)
    remains = models.BigIntegerField(default=0)
    runs_done = models.PositiveIntegerField(default=0)

    # A subscription's orders, one per post, point at it.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", db_index=False
    )
    # True when the parent subscription paid for this order up front.
    paid_by_parent = models.BooleanField(default=False)
    posts_done = models.PositiveIntegerField(default=0, help_text="Subscriptions: new posts handled.")
    old_posts_done = models.PositiveIntegerField(default=0, help_text="Subscriptions: old posts handled.")

    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    needs_attention = models.BooleanField(default=False)
    attention_note = models.CharField(max_length=500, blank=True)

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # "You have active order with this link": enforced by the database
            # so that two concurrent adds cannot both get through.
            models.UniqueConstraint(
                fields=["account", "service", "link"],
                condition=Q(parent__isnull=True)
                & Q(status__in=["Pending", "In progress", "Processing", "Active", "Paused"]),
                name="one_active_order_per_link",
            ),
            models.CheckConstraint(condition=Q(refunded__lte=models.F("charge")), name="refund_within_charge"),
            models.CheckConstraint(condition=Q(remains__gte=0), name="remains_not_negative"),
        ]
        # Every index costs each `add` a write: only partial ones where the
        # rows of interest are few (due work, orders needing attention, children).
        indexes = [
            models.Index(fields=["account", "-id"], name="order_account_recent"),
            models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="order_due"),
            models.Index(fields=["id"], condition=Q(needs_attention=True), name="order_needs_attention"),
            models.Index(fields=["parent"], condition=Q(parent__isnull=False), name="order_children"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.type} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    @property
    def is_subscription(self) -> bool:
        return self.type == "Subscriptions"

    @property
    def paid(self):
        """What the customer paid for this order after refunds."""
        return self.charge - self.refunded


class Refill(Claimable):
    class Status(models.TextChoices):
        PENDING = "Pending"
        IN_PROGRESS = "In progress"
        COMPLETED = "Completed"
        REJECTED = "Rejected"

    OPEN = (Status.PENDING, Status.IN_PROGRESS)

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refills")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="refills")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status__in=["Pending", "In progress"]),
                name="one_open_refill_per_order",
            )
        ]
        indexes = [models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="refill_due")]

    def __str__(self) -> str:
        return f"refill #{self.id} of order #{self.order_id} {self.status}"
