"""`smmpanel funds add USERNAME AMOUNT --memo TEXT`: move a balance through the ledger.

A positive amount is a deposit (the customer paid); a negative one is an
adjustment taking money back, refused when it would take the balance below
zero. Either way one ledger row, with the memo, and nothing else changes.
"""

from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from smmpanel.accounts.services import account_for
from smmpanel.ledger import services as ledger
from smmpanel.ledger.money import MAX_AMOUNT, ZERO, round5


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or abs(value) > MAX_AMOUNT or round5(value) == ZERO:
        raise CommandError(
            f"AMOUNT must be a non-zero number of USD, e.g. 25, 12.50 or -3 to take money back (got {text!r})"
        )
    return round5(value)


class Command(BaseCommand):
    help = "Add funds to a customer's balance, or take them back with a negative amount (a ledger row either way)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        add = sub.add_parser("add", help="credit a balance (negative: take money back)")
        add.add_argument("username")
        add.add_argument("amount", help="USD; negative takes money back, never below zero")
        add.add_argument("--memo", required=True, help="why (shown in the ledger)")

    def handle(self, *args, **opts):
        user = get_user_model().objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"no user {opts['username']!r}")
        amount = _amount(opts["amount"])
        memo = opts["memo"].strip()
        if not memo:
            raise CommandError("--memo must say why the balance changes")
        account = account_for(user)
        try:
            with transaction.atomic():
                if amount > 0:
                    entry = ledger.deposit(account, amount, memo=memo)
                else:
                    entry = ledger.adjust(account, amount, memo=memo)
        except ledger.NotEnoughFunds:
            account.refresh_from_db(fields=["balance"])
            raise CommandError(
                f"{user.username}'s balance is {account.balance} USD: taking {-amount} USD would take it below zero;"
                " nothing changed"
            ) from None
        self.stdout.write(f"{user.username}: {entry.amount:+} USD, balance {entry.balance_after} USD")
