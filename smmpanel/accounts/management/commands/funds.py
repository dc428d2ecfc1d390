"""`smmpanel funds add USERNAME AMOUNT --memo TEXT`: credit a balance through the ledger."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from smmpanel.accounts.services import account_for
from smmpanel.ledger import services as ledger
from smmpanel.ledger.money import parse_amount


class Command(BaseCommand):
    help = "Add funds to a customer's balance (a deposit row in the ledger)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        add = sub.add_parser("add", help="credit a balance")
        add.add_argument("username")
        add.add_argument("amount")
        add.add_argument("--memo", required=True, help="why (shown in the ledger)")

    def handle(self, *args, **opts):
        user = get_user_model().objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"no user {opts['username']!r}")
        try:
            amount = parse_amount(opts["amount"])
        except ValueError:
            amount = None
        if amount is None or amount <= 0:
            raise CommandError(f"AMOUNT must be a positive number of USD, e.g. 25 or 12.50 (got {opts['amount']!r})")
        entry = ledger.deposit(account_for(user), amount, memo=opts["memo"])
        self.stdout.write(f"{user.username}: +{entry.amount} USD, balance {entry.balance_after} USD")
