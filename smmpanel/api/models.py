"""The API's own table: the answers of `add` calls made with an idempotency key (see idempotency.py)."""

from django.db import models


class IdempotentAdd(models.Model):
    """One `add` made with an Idempotency-Key: what was asked (a digest) and what was answered.

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
