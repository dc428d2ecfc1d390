"""Support tickets: a customer's Ticket (what it is about, its state) and the thread of TicketMessages.

Written only by smmpanel.tickets.services. The database keeps what must never
be: a state or kind outside the lists, a request or a payment reference on a
ticket of another kind, an empty message or one past BODY_MAX characters.
"""

from django.conf import settings
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThan, LessThanOrEqual
from django.utils.translation import gettext_lazy as _

# A message's most characters (the form, the services and a CHECK agree on it).
BODY_MAX = 5000
PAYMENT_REF_MAX = 100


class Kind(models.TextChoices):
    ORDER = "order", _("Order")
    PAYMENT = "payment", _("Payment")
    SERVICE = "service", _("Service")
    OTHER = "other", _("Other")


class Request(models.TextChoices):
    """What a customer asks about their orders (a ticket of kind "order" only)."""

    REFILL = "refill", _("Refill")
    CANCEL = "cancel", _("Cancel")
    SPEED_UP = "speed_up", _("Speed up")
    OTHER = "other", _("Other")


class State(models.TextChoices):
    OPEN = "open", _("Open")  # waiting for the staff
    ANSWERED = "answered", _("Answered")  # waiting for the customer
    CLOSED = "closed", _("Closed")


class Ticket(models.Model):
    # Indexed by `ticket_account_recent` below (the customer's list, newest first).
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="tickets", db_index=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    request = models.CharField(max_length=10, choices=Request.choices, blank=True, default="")
    payment_ref = models.CharField(
        max_length=PAYMENT_REF_MAX, blank=True, default="", help_text="The payment's id or transaction, as typed."
    )
    # The customer's own orders the ticket is about (checked as theirs when it was opened).
    orders = models.ManyToManyField("orders.Order", blank=True, related_name="tickets")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    # True from a staff answer until the customer opens the ticket: the menu's unread count.
    unread = models.BooleanField(default=False, help_text="The customer has not yet read the latest answer.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now_add=True, help_text="The latest message or change of state.")

    class Meta:
        indexes = [
            models.Index(fields=["account", "-id"], name="ticket_account_recent"),
            # The menu's count on every page: only the few unread rows are in this index.
            models.Index(fields=["account"], name="ticket_unread", condition=models.Q(unread=True)),
            # The open-ticket cap counts these.
            models.Index(fields=["account", "state"], name="ticket_account_state"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=Kind.values), name="ticket_kind_known"),
            models.CheckConstraint(condition=models.Q(state__in=State.values), name="ticket_state_known"),
            models.CheckConstraint(
                condition=models.Q(kind=Kind.ORDER, request__in=Request.values) | models.Q(request=""),
                name="ticket_request_only_about_orders",
            ),
            models.CheckConstraint(
                condition=models.Q(kind=Kind.PAYMENT) | models.Q(payment_ref=""),
                name="ticket_payment_ref_only_about_payments",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"

    @property
    def is_closed(self) -> bool:
        return self.state == State.CLOSED


class TicketMessage(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    # None: the customer wrote it; else the staff member who answered (kept if the user goes).
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_staff = models.BooleanField(default=False)
    body = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("body"), BODY_MAX) & GreaterThan(Length("body"), 0),
                name="ticket_message_body_length",
            ),
            models.CheckConstraint(
                condition=models.Q(from_staff=True) | models.Q(staff__isnull=True),
                name="ticket_message_staff_only_on_answers",
            ),
        ]

    def __str__(self) -> str:
        return f"{'staff' if self.from_staff else 'customer'} on #{self.ticket_id}"
