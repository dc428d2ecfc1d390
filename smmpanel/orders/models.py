"""Order (every order type, subscriptions included: one id space), Refill, their history, and idempotent adds.

The row is the truth: a status plus, while work remains, the time it is next
due (`due_at`), the lease of the worker holding it (`locked_until`, with the
claim's fencing token `claim_token`) and how many steps in a row failed
(`attempts`). Which status may follow which is one table, TRANSITIONS below.
"""

from collections.abc import Collection

from django.conf import settings
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
    Status.PENDING,
    Status.IN_PROGRESS,
    Status.PROCESSING,
    Status.COMPLETED,
    Status.PARTIAL,
    Status.CANCELED,
)
SUBSCRIPTION_STATUSES = (Status.ACTIVE, Status.PAUSED, Status.COMPLETED, Status.EXPIRED, Status.CANCELED)

# Which status may follow which (a final status has no entry: nothing follows it).
# Staying in the same status is allowed (new remains, a new start count).
_RUNNING = {Status.PENDING, Status.IN_PROGRESS, Status.PROCESSING, Status.COMPLETED, Status.PARTIAL, Status.CANCELED}
_SUBSCRIBED = {Status.ACTIVE, Status.PAUSED, Status.COMPLETED, Status.EXPIRED, Status.CANCELED}
TRANSITIONS: dict[str, dict[str, Collection[str]]] = {
    "order": {
        Status.PENDING: _RUNNING,
        # Once started, an order does not go back to Pending.
        Status.IN_PROGRESS: _RUNNING - {Status.PENDING},
        Status.PROCESSING: _RUNNING - {Status.PENDING},
    },
    "subscription": {Status.ACTIVE: _SUBSCRIBED, Status.PAUSED: _SUBSCRIBED},
    "refill": {
        "Pending": {"Pending", "In progress", "Completed", "Rejected"},
        "In progress": {"In progress", "Completed", "Rejected"},
    },
}


def allowed(kind: str, old: str, new: str) -> bool:
    return new in TRANSITIONS[kind].get(old, ())


class Claimable(models.Model):
    """A unit of the worker's work: due again at `due_at` (None: nothing to do), leased until `locked_until`.

    `claim_token` names the claim holding the row (see smmpanel.worker.claims):
    a step's writes check it, so a worker whose lease ran out changes nothing.
    """

    # Indexed (partially: only rows with work due) by each concrete model.
    due_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Steps in a row that failed.")

    class Meta:
        abstract = True


class Order(Claimable):
    # Indexed by `order_account_recent` below (account, newest first).
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="orders", db_index=False)
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

    # A subscription's orders, one per post, point at it.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", db_index=False
    )
    # True when the parent subscription paid for this order up front.
    paid_by_parent = models.BooleanField(default=False)
    # A subscription's order for its post number `post_number` (old posts and
    # new ones counted apart): unique per subscription, so no post is ever
    # ordered twice, whatever the workers do.
    post_number = models.PositiveIntegerField(null=True, blank=True)
    post_is_old = models.BooleanField(default=False)
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
        # More than "change": resending makes the provider deliver (and charge us) again.
        permissions = [("resend_order", "Can resend an order to its provider after an ambiguous placing")]
        constraints = [
            # "You have active order with this link": enforced by the database
            # so that two concurrent adds cannot both get through.
            models.UniqueConstraint(
                fields=["account", "service", "link"],
                condition=Q(parent__isnull=True)
                & Q(status__in=["Pending", "In progress", "Processing", "Active", "Paused"]),
                name="one_active_order_per_link",
            ),
            models.UniqueConstraint(
                fields=["parent", "post_is_old", "post_number"],
                condition=Q(parent__isnull=False),
                name="one_order_per_subscription_post",
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
            # The customer's orders page (smmpanel.orders.selectors, "web: orders pages"): a status tab
            # pages by keyset on id; a link search is a prefix range (pattern ops: LIKE 'x%' on PostgreSQL);
            # the drip-feed and subscription lists are partial (few rows, little cost to an `add`).
            models.Index(fields=["account", "status", "-id"], name="order_account_status"),
            models.Index(
                fields=["account", "link"], name="order_account_link", opclasses=["int8_ops", "varchar_pattern_ops"]
            ),
            models.Index(fields=["account", "-id"], condition=Q(runs__isnull=False), name="order_account_dripfeed"),
            models.Index(
                fields=["account", "-id"], condition=Q(type="Subscriptions"), name="order_account_subscriptions"
            ),
            # The owner's dashboard sums the last 30 days by day and status (smmpanel/dashboard/stats.py):
            # with the summed columns in the index, PostgreSQL answers from the index alone.
            models.Index(fields=["created", "status", "paid_by_parent", "charge", "refunded"], name="order_created"),
            # Each service's average time (smmpanel/worker/average_time.py): its last completed orders. Partial,
            # so an order writes to it once, when it completes.
            models.Index(
                fields=["service", "-finished_at"], condition=Q(status="Completed"), name="order_service_completed"
            ),
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
    def transitions(self) -> str:
        return "subscription" if self.is_subscription else "order"

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


class Actor(models.TextChoices):
    API = "api"
    WEB = "web"
    MASS_ORDER = "mass order"  # the web panel's mass order form
    WORKER = "worker"
    ADMIN = "admin"
    PROVIDER = "provider"
    SYSTEM = "system"


class Action(models.TextChoices):
    """What an OrderEvent records: a fixed set (the database refuses any other)."""

    PLACED = "placed"
    STATUS = "status"
    CANCEL_REQUESTED = "cancel requested"
    REFILL_REQUESTED = "refill requested"
    REFILL_STATUS = "refill status"
    NEEDS_ATTENTION = "needs attention"
    RESUMED = "resumed"
    # Between the panel and its providers.
    PLACED_UPSTREAM = "placed upstream"
    RUN_REFUSED = "run refused"  # one drip-feed run refused by the provider (which run: in the message)
    CANCEL_SENT_UPSTREAM = "cancel sent upstream"
    CANCEL_REFUSED_UPSTREAM = "cancel refused upstream"
    REFILL_SENT_UPSTREAM = "refill sent upstream"
    RESEND = "resend"
    # An attempt the provider answered "not processed" (retried): if a later attempt is refused as a duplicate
    # link, this one landed after all (smmpanel.providers.placing). A drip-feed run's: "Run N: " in the message.
    ADD_NOT_PLACED = "add not placed"


class OrderEvent(models.Model):
    """One change of an order or of one of its refills: when, who, what, and the words that came with it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    refill = models.ForeignKey(Refill, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    created = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=10, choices=Actor.choices)
    # The admin who did it, when a person did.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40, choices=Action.choices)
    old_status = models.CharField(max_length=20, blank=True)
    new_status = models.CharField(max_length=20, blank=True)
    remains = models.BigIntegerField(null=True, blank=True)
    start_count = models.BigIntegerField(null=True, blank=True)
    # Why, in words: the provider's answer, the admin's note, the failure's reason.
    message = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # A misspelt action or actor would silently fall out of every filter on the history.
            models.CheckConstraint(condition=Q(action__in=Action.values), name="orderevent_action_known"),
            models.CheckConstraint(condition=Q(actor__in=Actor.values), name="orderevent_actor_known"),
        ]

    def __str__(self) -> str:
        change = f" {self.old_status} → {self.new_status}" if self.new_status else ""
        return f"#{self.order_id} {self.action}{change} by {self.actor}"


class IdempotentAdd(models.Model):
    """One order placed with an idempotency key (the API's Idempotency-Key, a web form's token): asked and answered.

    See smmpanel/orders/idempotency.py.

    The row is inserted in the transaction that places the order, so it exists
    exactly when the order does; (account, key) is unique, which is what makes
    two concurrent requests with one key place one order.
    """

    MAX_KEY_LENGTH = 255

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    # SHA-256 of the request's parameters (without key and idempotency_key).
    request_digest = models.CharField(max_length=64)
    answer = models.JSONField(null=True)
    created = models.DateTimeField(db_index=True)  # expiry and the cleanup go by it

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="one_idempotent_add_per_account_key"),
        ]

    def __str__(self):
        return f"{self.key} → {self.answer}"
