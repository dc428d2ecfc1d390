"""LedgerEntry: one row per change of a balance."""

from django.db import models

from smmpanel.ledger.fields import MoneyField


class Kind(models.TextChoices):
    DEPOSIT = "deposit"
    CHARGE = "charge"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    # Payments (smmpanel.payments): a bonus a gateway's rules promised; money a gateway's refund or
    # chargeback took back; debt paid off from a later deposit (see accounts.Account.debt).
    BONUS = "bonus"
    CHARGEBACK = "chargeback"
    DEBT = "debt"


class LedgerEntry(models.Model):
    # Indexed by `ledger_account_recent` below (a customer's statement, newest first).
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="ledger", db_index=False)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # Signed: deposits and refunds are positive, charges negative.
    amount = MoneyField()
    balance_after = MoneyField()
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger")
    # The payment a deposit, bonus, chargeback or debt row belongs to. By string: the
    # ledger never imports the payments app, which calls the ledger.
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger"
    )
    # Why a refund was made ("partial", "canceled", "unused-posts"); with the
    # order it names one refund, which the constraint below makes unrepeatable.
    reason = models.CharField(max_length=40, blank=True)
    memo = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["account", "-id"], name="ledger_account_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "reason"],
                condition=models.Q(kind="refund"),
                name="one_refund_per_order_and_reason",
            ),
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(kind="charge", order__isnull=False),
                name="one_charge_per_order",
            ),
            # A payment reaches the balance once: a second deposit (or bonus, or debt payment) for it is
            # refused by the database, whatever number of webhooks, polls or clicks race to make it.
            models.UniqueConstraint(
                fields=["payment"],
                condition=models.Q(kind="deposit", payment__isnull=False),
                name="one_deposit_per_payment",
            ),
            models.UniqueConstraint(
                fields=["payment"],
                condition=models.Q(kind="bonus", payment__isnull=False),
                name="one_bonus_per_payment",
            ),
            models.UniqueConstraint(
                fields=["payment"],
                condition=models.Q(kind="debt", payment__isnull=False),
                name="one_debt_payment_per_payment",
            ),
            # `reason` names the gateway's refund or dispute: each is taken back once.
            models.UniqueConstraint(
                fields=["payment", "reason"],
                condition=models.Q(kind="chargeback"),
                name="one_chargeback_per_payment_and_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.account_id})"
