"""`smmpanel gateway list [--json]`: the payment gateways, and the notification URL to paste into each one's dashboard.

Columns: name (what the Add funds form posts, and the end of the notification
URL), kind, enabled, the limits in USD, where its keys come from (env, admin,
or missing: such a gateway is not offered to customers; never the keys themselves) and the absolute notification URL
(from SITE_URL; a path alone, with a warning, without it). Gateways whose keys
are all in the environment are listed (and made) like the Add funds page makes them.
"""

import json

from django.conf import settings
from django.core.management.base import BaseCommand

from smmpanel.ledger.money import format_money, shown_money
from smmpanel.payments import gateways, registry
from smmpanel.payments.models import Gateway


def keys_from(gateway: Gateway) -> str:
    """Where the gateway's keys come from: "env", "admin", "missing" (or "" for a kind that takes none)."""
    kind = registry.get(gateway.kind)
    if not kind.env:
        return ""
    if kind.configured_by_env():
        return "env"
    return "admin" if all(getattr(gateway, field) for field in kind.env) else "missing"


def row(gateway: Gateway) -> dict:
    return {
        "name": gateway.name,
        "kind": gateway.kind,
        "enabled": gateway.enabled,
        "min": format_money(gateway.min_amount),
        "max": format_money(gateway.max_amount),
        "keys": keys_from(gateway),
        "notify_url": gateways.notify_url(gateway) if registry.get(gateway.kind).hosted else "",
    }


class Command(BaseCommand):
    help = "Payment gateways: `gateway list [--json]` shows each one and its notification URL."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        listing = sub.add_parser("list", help="the gateways, with the notification URL of each")
        listing.add_argument("--json", action="store_true", help="one JSON array, for scripts")

    def handle(self, *args, **options):
        gateways.ensure_env_gateways()
        rows = [row(g) for g in Gateway.objects.all()]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("No gateways. Add one in the admin (Payments → Gateways) or set a gateway's keys.")
            return
        for r in rows:
            state = "enabled" if r["enabled"] else "disabled"
            keys = f"  keys: {r['keys']}" if r["keys"] else ""
            limits = f"{shown_money(r['min'])}–{shown_money(r['max'])} USD"
            self.stdout.write(f"{r['name']}  {r['kind']}  {state}  {limits}{keys}")
            if r["notify_url"]:
                self.stdout.write(f"    notifications: {r['notify_url']}")
        if not settings.SITE_ORIGIN and any(r["notify_url"] for r in rows):
            self.stderr.write("SITE_URL is not set: prefix the notification paths with the panel's address.")
