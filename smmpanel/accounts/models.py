"""The customer account: one per Django user, holding the balance and the API key digest."""

from django.conf import settings
from django.db import models

from smmpanel.accounts.keys import generate_key, hash_key
from smmpanel.ledger.fields import MoneyField
from smmpanel.ledger.money import shown_money


class Account(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account")
    # Kept equal to the sum of this account's ledger rows by smmpanel.ledger
    # (the only code that writes it); the CHECK makes "never below zero" a
    # property of the database, not of our code.
    balance = MoneyField(default=0)
    # What a gateway's refund or chargeback took back beyond the balance (smmpanel.ledger.services
    # take_back): owed to the panel, paid first from the next deposit; no orders until it is 0.
    debt = MoneyField(default=0)
    api_key_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    api_key_hint = models.CharField(
        max_length=8, blank=True, help_text="The key's first characters, to tell keys apart."
    )
    # An IANA name ("Europe/Berlin"); empty means the panel's TIME_ZONE. The customer's
    # pages show times in it (smmpanel.web.timezones); the API always speaks UTC.
    time_zone = models.CharField(max_length=64, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    # False only for an account signed up while SIGNUP_EMAIL_VERIFICATION was on, until its owner
    # follows the link mailed to the address (smmpanel.accounts.verification); while the setting is
    # on, such an account places no order. Accounts the owner makes are verified.
    email_verified = models.BooleanField(
        default=True, help_text="The customer followed the link mailed at sign-up (or needed none)."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="account_balance_not_negative"),
            models.CheckConstraint(condition=models.Q(debt__gte=0), name="account_debt_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.user.username} ({shown_money(self.balance)} USD)"

    def regenerate_api_key(self) -> str:
        """Give the account a new key, invalidating the old one; returns the key (shown once)."""
        key = generate_key()
        self.api_key_hash = hash_key(key)
        self.api_key_hint = key[:6]
        self.save(update_fields=["api_key_hash", "api_key_hint"])
        return key

    @classmethod
    def for_key(cls, key: str):
        if not key or len(key) > 200:
            return None
        return cls.objects.filter(api_key_hash=hash_key(key)).first()
