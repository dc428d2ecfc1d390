"""`smmpanel demo`: seed the demo catalog, customer and admin (idempotent) and print the logins.

It refuses (exit status 1) where a known admin password would be a hole: on a
database holding anything the demo did not make, or under an https SITE_URL;
`--force` seeds anyway.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from smmpanel.demo.guard import reasons_to_refuse
from smmpanel.demo.seed import seed_catalog, seed_gateways, seed_people


class Command(BaseCommand):
    help = "Seed a demo catalog (every order type), a demo customer with a balance, and an admin."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="seed even on a database with other data or under an https SITE_URL"
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
        self.stdout.write(f"Customer API key: {logins.api_key}")
