"""`smmpanel provider add|list|balance|sync-services|disable|enable`: the owner's upstream providers.

    smmpanel provider add NAME --url URL --key KEY [--currency-rate R] [--max-concurrent N] [--rps N] [--no-check]
    smmpanel provider list
    smmpanel provider balance NAME
    smmpanel provider sync-services NAME [--markup PERCENT] [--category-prefix TEXT]
    smmpanel provider disable NAME / enable NAME

The key is a secret: no output of this command shows more than its first
characters (Provider.key_hint). Every failure is a CommandError in words
(an unreachable provider, its refusal in its own words, a bad number),
never a traceback.
"""

from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction

from smmpanel.client import Client
from smmpanel.providers.catalog import (
    ProviderError,
    parse_currency_rate,
    parse_markup,
    refresh_balance,
    sync_services,
)
from smmpanel.providers.models import Provider


def shown_url(url: str) -> str:
    """The URL without user:password or query (where a careless owner might have put a key)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise CommandError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 32767:
        raise CommandError(f"out of range (1 to 32767): {text!r}")
    return value


class Command(BaseCommand):
    help = "Manage upstream providers: add, list, check the balance, import/sync services, disable/enable."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        add = sub.add_parser("add", help="add a provider (checks that it answers `balance` with the key)")
        add.add_argument("name")
        add.add_argument("--url", required=True, help="its API v2 endpoint, e.g. https://provider.example/api/v2")
        add.add_argument("--key", required=True, help="our API key there")
        add.add_argument("--currency-rate", default="1", help="USD per unit of its currency (1 for USD)")
        add.add_argument("--max-concurrent", default="4", help="requests in flight at once (per worker process)")
        add.add_argument("--rps", default="10", help="requests per second (per worker process)")
        add.add_argument("--no-check", action="store_true", help="do not ask the provider before adding it")
        sub.add_parser("list", help="list providers with their balance and service counts")
        balance = sub.add_parser("balance", help="ask a provider for our balance there, store and print it")
        balance.add_argument("name")
        sync = sub.add_parser("sync-services", help="import or re-sync a provider's services; prints the report")
        sync.add_argument("name")
        sync.add_argument(
            "--markup", default=None, help="percent over cost, e.g. 30 (default: each service keeps its own)"
        )
        sync.add_argument(
            "--category-prefix",
            default=None,
            help='file services under this prefix + the provider\'s category, e.g. "ProviderX: "',
        )
        for verb in ("disable", "enable"):
            toggle = sub.add_parser(verb, help=f"{verb} a provider")
            toggle.add_argument("name")

    def handle(self, *args, **opts):
        verb = opts["verb"].replace("-", "_")
        try:
            getattr(self, f"do_{verb}")(opts)
        except ProviderError as e:
            raise CommandError(str(e)) from None

    def provider(self, name: str) -> Provider:
        provider = Provider.objects.filter(name=name).first()
        if provider is None:
            raise CommandError(f"no provider named {name!r} (see `smmpanel provider list`)")
        return provider

    # --- verbs ---------------------------------------------------------------------------------

    def do_add(self, opts):
        name, url, key = opts["name"].strip(), opts["url"].strip(), opts["key"].strip()
        if not name:
            raise CommandError("a provider needs a name")
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise CommandError(f"not an http(s) URL: {shown_url(url)!r}") from None
        if not key:
            raise CommandError("a provider needs our API key there (--key)")
        try:
            rate = parse_currency_rate(opts["currency_rate"])
        except ValueError as e:
            raise CommandError(str(e)) from None
        if Provider.objects.filter(name=name).exists():
            raise CommandError(f"a provider named {name!r} already exists")
        provider = Provider(
            name=name,
            api_url=url,
            api_key=key,
            currency_rate=rate,
            max_concurrent=_positive_int(opts["max_concurrent"]),
            requests_per_second=_positive_int(opts["rps"]),
        )
        if not opts["no_check"]:
            # A one-off client: the pooled ones are keyed by a saved provider's id.
            with Client(url, key, timeout=float(provider.timeout_seconds)) as client:
                refresh_balance(provider, client=client)
        try:
            with transaction.atomic():
                provider.save()
        except IntegrityError:
            raise CommandError(f"a provider named {name!r} already exists") from None
        self.stdout.write(f"added provider {provider.name}: {shown_url(provider.api_url)}, key {provider.key_hint}")
        if provider.balance_checked_at:
            self.stdout.write(f"balance: {provider.balance} {provider.currency or '(no currency given)'}")
            self.hint_currency(provider)
        else:
            self.stdout.write("not checked (--no-check): `smmpanel provider balance` asks it")

    def hint_currency(self, provider):
        if provider.currency and provider.currency.upper() != "USD" and provider.currency_rate == 1:
            self.stdout.write(
                f"note: its currency is {provider.currency}; prices are converted with the "
                "currency rate (USD per unit), 1 now: set it in the admin before importing"
            )

    def do_list(self, opts):
        from django.db.models import Count, Q

        providers = Provider.objects.annotate(
            n_services=Count("services"), n_active=Count("services", filter=Q(services__service__active=True))
        ).order_by("name")
        header = ("name", "url", "key", "enabled", "currency", "balance", "services (active)")
        rows = [header] + [
            (
                p.name,
                shown_url(p.api_url),
                p.key_hint,
                "yes" if p.enabled else "no",
                p.currency or "-",
                "-" if p.balance is None else str(p.balance),
                f"{p.n_services} ({p.n_active})",
            )
            for p in providers
        ]
        if len(rows) == 1:
            self.stdout.write("no providers (add one: smmpanel provider add NAME --url URL --key KEY)")
            return
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())

    def do_balance(self, opts):
        provider = refresh_balance(self.provider(opts["name"]))
        self.stdout.write(f"{provider.name}: {provider.balance} {provider.currency or '(no currency given)'}")
        self.hint_currency(provider)

    def do_sync_services(self, opts):
        provider = self.provider(opts["name"])
        markup = opts["markup"]
        if markup is not None:
            try:
                markup = parse_markup(markup)
            except ValueError as e:
                raise CommandError(str(e)) from None
        report = sync_services(provider, markup_percent=markup, category_prefix=opts["category_prefix"])
        self.stdout.write(str(report))

    def do_disable(self, opts):
        self.toggle(opts["name"], False)

    def do_enable(self, opts):
        self.toggle(opts["name"], True)

    def toggle(self, name: str, enabled: bool):
        provider = self.provider(name)
        Provider.objects.filter(pk=provider.pk).update(enabled=enabled)
        self.stdout.write(f"provider {provider.name} {'enabled' if enabled else 'disabled'}")
