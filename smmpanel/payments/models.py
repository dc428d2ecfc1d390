"""Gateways, their bonus rules, payments and every notification a gateway sent.

- Gateway: one configured way to pay (a kind from registry.KINDS, its limits, fee, keys, instructions).
- GatewayBonus: "+5 % on 100 USD or more" rules of a gateway.
- Payment: one attempt to add funds. Its deposit is a ledger row whose uniqueness per payment is a
  database constraint (smmpanel.ledger.models), so a payment reaches the balance at most once
  whatever the number of webhooks, polls or clicks. Payment is also a unit of the worker's work
  (Claimable): pending payments are polled at their gateway until final.
- Notification: what a gateway sent us, verified or not, raw, with what was done about it.

Only smmpanel.payments.services writes these (the admin's edits of a Gateway aside).
"""

from decimal import Decimal

from django.db import models
from django.db.models import Q

from smmpanel.ledger.fields import MoneyField
from smmpanel.orders.models import Claimable
from smmpanel.payments import registry

# A notification body is kept up to this many characters (the view refuses larger bodies anyway).
BODY_KEPT = 64 * 1024


class Gateway(models.Model):
    class FeePayer(models.TextChoices):
        CUSTOMER = "customer", "The customer (added to what they pay)"
        OWNER = "owner", "The owner (absorbed)"

    name = models.SlugField(max_length=40, unique=True, help_text="What the form posts and the notify URL ends with.")
    kind = models.CharField(max_length=20, choices=registry.CHOICES)
    enabled = models.BooleanField(default=False)
    display_name = models.CharField(max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower comes first on the Add funds page.")
    min_amount = MoneyField(default=Decimal(1))
    max_amount = MoneyField(default=Decimal(10000))
    fee_percent = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal(0))
    fee_fixed = MoneyField(default=0)
    fee_payer = models.CharField(max_length=10, choices=FeePayer.choices, default=FeePayer.CUSTOMER)
    instructions = models.TextField(blank=True, help_text="Manual transfer: where and how to send the money.")
    # Credentials, by kind (environment variables win over these; see kinds/settings.py):
    #   stripe: api_key = secret key, webhook_secret = endpoint signing secret
    #   cryptomus: merchant_id, api_key = payment key
    #   nowpayments: api_key, webhook_secret = IPN secret
    # Secrets: never rendered back, never logged.
    api_key = models.CharField(max_length=300, blank=True)
    webhook_secret = models.CharField(max_length=300, blank=True)
    merchant_id = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(min_amount__gt=0), name="gateway_min_positive"),
            models.CheckConstraint(condition=Q(max_amount__gte=models.F("min_amount")), name="gateway_max_above_min"),
            models.CheckConstraint(condition=Q(fee_percent__gte=0, fee_percent__lt=100), name="gateway_fee_percent"),
            models.CheckConstraint(condition=Q(fee_fixed__gte=0), name="gateway_fee_fixed_not_negative"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.name

    @property
    def label(self) -> str:
        return self.display_name or registry.KINDS[self.kind][0]


class GatewayBonus(models.Model):
    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="bonuses")
    min_amount = MoneyField(help_text="Applies to payments of this amount (USD) or more.")
    percent = models.DecimalField(max_digits=6, decimal_places=3)

    class Meta:
        ordering = ["min_amount"]
        constraints = [
            models.CheckConstraint(condition=Q(percent__gt=0, percent__lte=100), name="gateway_bonus_percent"),
            models.CheckConstraint(condition=Q(min_amount__gte=0), name="gateway_bonus_min_not_negative"),
        ]

    def __str__(self) -> str:
        return f"+{self.percent} % from {self.min_amount} USD"


class Payment(Claimable):
    class State(models.TextChoices):
        CREATED = "created"
        PENDING = "pending"
        PAID = "paid"
        FAILED = "failed"
        EXPIRED = "expired"
        CANCELED = "canceled"
        REFUNDED = "refunded"
        DISPUTED = "disputed"

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="payments")
    gateway = models.ForeignKey(Gateway, on_delete=models.PROTECT, related_name="payments")
    # What the customer asked to add to the balance (USD); what they pay is amount + fee when the fee is theirs.
    amount = MoneyField()
    currency = models.CharField(max_length=10, default="USD")
    fee = MoneyField(default=0)
    fee_payer = models.CharField(max_length=10, choices=Gateway.FeePayer.choices, default=Gateway.FeePayer.CUSTOMER)
    bonus = MoneyField(default=0, help_text="Promised by the gateway's bonus rules when the payment was made.")
    # What the gateway's verified word says was received (in `currency`); 0 until it says so.
    amount_received = MoneyField(default=0)
    # What reached the balance: the deposit (the bonus is its own ledger row); what refunds took back.
    credited = MoneyField(default=0)
    refunded = MoneyField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CREATED)
    needs_attention = models.BooleanField(default=False)
    attention_reason = models.CharField(max_length=500, blank=True)
    # The gateway's own id (Stripe: the Checkout Session; Cryptomus: the invoice uuid; NOWPayments: the
    # invoice id), empty until known; `external_ref` a second id some gateways name later (Stripe: the PaymentIntent).
    external_id = models.CharField(max_length=200, blank=True)
    external_ref = models.CharField(max_length=200, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    reference = models.CharField(max_length=200, blank=True, help_text="The customer's transfer reference (manual).")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        # The admin's money decisions, narrower than "change" (smmpanel/payments/admin.py).
        permissions = [
            ("approve_payment", "Can approve or reject manual transfers"),
            ("settle_payment", "Can settle payments needing attention"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "external_id"],
                condition=~Q(external_id=""),
                name="payment_external_id_unique_per_gateway",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(fee__gte=0, bonus__gte=0), name="payment_fee_bonus_not_negative"),
            models.CheckConstraint(condition=Q(credited__gte=0, refunded__gte=0), name="payment_credited_not_negative"),
        ]
        indexes = [
            models.Index(fields=["account", "-id"], name="payment_account_recent"),
            models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="payment_due"),
            models.Index(fields=["id"], condition=Q(needs_attention=True), name="payment_needs_attention"),
            models.Index(fields=["gateway", "external_ref"], name="payment_external_ref"),
        ]

    def __str__(self) -> str:
        return f"Payment #{self.pk} ({self.amount} {self.currency}, {self.state})"

    @property
    def to_pay(self) -> Decimal:
        """What the customer pays at the gateway: the amount, plus the fee when the fee is theirs."""
        return self.amount + (self.fee if self.fee_payer == Gateway.FeePayer.CUSTOMER else 0)

    @property
    def is_final(self) -> bool:
        return self.state not in (self.State.CREATED, self.State.PENDING)


class Notification(models.Model):
    gateway = models.ForeignKey(Gateway, on_delete=models.PROTECT, related_name="notifications")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="notifications")
    received = models.DateTimeField(auto_now_add=True)
    body = models.TextField(blank=True, help_text=f"Raw, the first {BODY_KEPT} characters.")
    headers = models.JSONField(default=dict, blank=True, help_text="The headers that matter (the signature's).")
    verified = models.BooleanField(default=False)
    # Verified, but nothing could be done without a person (an unknown payment id, …).
    needs_attention = models.BooleanField(default=False)
    result = models.CharField(max_length=500, blank=True, help_text="What was done, or why it was refused.")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["id"], condition=Q(needs_attention=True), name="notification_attention")]

    def __str__(self) -> str:
        return f"Notification #{self.pk} ({self.gateway_id}, {'verified' if self.verified else 'refused'})"
