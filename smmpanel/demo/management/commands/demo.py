"""`smmpanel demo`: seed the demo catalog, customer and admin (idempotent) and print the logins."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from smmpanel.demo.seed import seed_catalog, seed_people


class Command(BaseCommand):
    help = "Seed a demo catalog (every order type), a demo customer with a balance, and an admin."

    def handle(self, *args, **opts):
        call_command("migrate", interactive=False, verbosity=0)
        services = seed_catalog()
        logins = seed_people()
        self.stdout.write(f"Demo catalog: {len(services)} services, every API v2 order type.")
        self.stdout.write(f"Admin:    /admin/  user {logins.admin[0]!r}  password {logins.admin[1]!r}")
        self.stdout.write(f"Customer: user {logins.customer[0]!r}  password {logins.customer[1]!r}")
        self.stdout.write(f"Customer API key: {logins.api_key}")
