"""`smmpanel user create USERNAME [--email E] [--balance AMOUNT]` and `smmpanel user key USERNAME`.

Both print the API key as the only line on stdout, so scripts can capture it.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from smmpanel.accounts.services import account_for, create_customer
from smmpanel.accounts.usernames import validate_new_username
from smmpanel.ledger.money import parse_amount


class Command(BaseCommand):
    help = "Manage customers: create one, or give one a new API key."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        create = sub.add_parser("create", help="create a customer and print its API key")
        create.add_argument("username")
        create.add_argument("--email", default="")
        create.add_argument("--balance", default="0", help="opening balance in USD, credited through the ledger")
        create.add_argument("--password", default=None, help="web login password (none: no web login)")
        key = sub.add_parser("key", help="give a customer a new API key (the old one stops working)")
        key.add_argument("username")

    def handle(self, *args, **opts):
        User = get_user_model()
        if opts["verb"] == "create":
            try:
                balance = parse_amount(opts["balance"])
            except ValueError as e:
                raise CommandError(str(e)) from None
            try:
                validate_new_username(opts["username"])
            except ValidationError as e:
                raise CommandError(f"{opts['username']!r}: {e.messages[0]}") from None
            if User.objects.filter(username=opts["username"]).exists():
                raise CommandError(f"user {opts['username']!r} already exists")
            _, key = create_customer(opts["username"], opts["email"], opts["password"], balance)
        else:
            user = User.objects.filter(username=opts["username"]).first()
            if user is None:
                raise CommandError(f"no user {opts['username']!r}")
            key = account_for(user).regenerate_api_key()
        self.stdout.write(key)
