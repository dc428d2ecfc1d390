"""`smmpanel demo`: seed the demo catalog, customer and admin (idempotent) and print the logins.

It refuses (exit status 1) where a known admin password would be a hole: on a
database holding anything the demo did not make, or under an https SITE_URL;
`--force` seeds anyway. `--with-history` adds a month of the demo customer's
orders (smmpanel.demo.history), so the dashboard has figures to show.
"""

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from smmpanel.accounts.services import account_for
from smmpanel.demo.guard import reasons_to_refuse
from smmpanel.demo.history import DAYS, seed_history
from smmpanel.demo.seed import seed_catalog, seed_gateways, seed_people


def account_for_username(username: str):
    return account_for(get_user_model().objects.get(username=username))


class Command(BaseCommand):
    help = "Seed a demo catalog (every order type), a demo customer with a balance, and an admin."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="seed even on a database with other data or under an https SITE_URL"
        )
        parser.add_argument(
            "--with-history",
            action="store_true",
            help="also a month of the demo customer's orders in every status (once), for the dashboard",
        )

    def handle(self, *args, **opts):
        call_command("migrate", interactive=False, verbosity=0)
        reasons = reasons_to_refuse()
        if reasons and not opts["force"]:
            raise CommandError(
                "not seeding the demo (it adds the admin login admin/admin-password): "
                + "; ".join(reasons)
                + ". Use --force to seed anyway."
            )
        services = seed_catalog()
        logins = seed_people()
        gateway = seed_gateways()
        self.stdout.write(f"Demo catalog: {len(services)} services, every API v2 order type.")
        self.stdout.write(f"Admin:    /admin/  user {logins.admin[0]!r}  password {logins.admin[1]!r}")
        self.stdout.write(f"Customer: /login/  user {logins.customer[0]!r}  password {logins.customer[1]!r}")
        self.stdout.write(
            f"Payments: {gateway.display_name!r} enabled (Funds → Add funds); approve transfers in /admin/ → Payments."
        )
        if opts["with_history"]:
            history = seed_history(account_for_username(logins.customer[0]).pk)
            if history is None:
                self.stdout.write("History: the demo customer has orders already; none added.")
            else:
                counts = ", ".join(f"{n} {status}" for status, n in sorted(history.by_status.items()))
                self.stdout.write(f"History: {history.orders} orders over the last {DAYS} days ({counts}).")
        self.stdout.write(f"Customer API key: {logins.api_key}")
