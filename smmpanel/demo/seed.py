"""The demo: a catalog with every one of the 16 order types, a customer, an admin and a Manual transfer gateway.

Seeding is idempotent: running it again updates the same rows and creates
nothing twice. Everything is fulfilled by the simulated fulfilment, so demo
orders visibly progress (a 1,000-unit order completes in about 10 seconds).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from smmpanel.accounts.keys import hash_key
from smmpanel.accounts.services import account_for, create_customer
from smmpanel.catalog.models import Category, Service
from smmpanel.demo.keyfile import read_key, write_key
from smmpanel.fulfilment.models import SimulatedService

DEMO_CUSTOMER = ("demo", "demo-password")
DEMO_ADMIN = ("admin", "admin-password")
DEMO_BALANCE = Decimal("1000")

# (category, name, type, rate, min, max, options)
CATALOG: list[tuple[str, str, str, str, int, int, dict[str, Any]]] = [
    (
        "Instagram Followers",
        "Instagram Followers [Refill 30d]",
        "Default",
        "0.90",
        50,
        10000,
        {"refill": True, "cancel": True},
    ),
    (
        "Instagram Followers",
        "Instagram Followers [Drip-feed]",
        "Default",
        "0.75",
        50,
        10000,
        {"dripfeed": True, "cancel": True, "partial_percent": 20},
    ),
    ("Instagram Likes", "Instagram Likes Package 1k", "Package", "1.50", 1, 1, {}),
    ("Instagram Likes", "Instagram Comment Likes", "Comment Likes", "2.00", 20, 5000, {"cancel": True}),
    ("Instagram Comments", "Instagram Custom Comments", "Custom Comments", "8", 1, 1500, {"cancel": True}),
    ("Instagram Comments", "Instagram Custom Comments Package (10)", "Custom Comments Package", "4.00", 1, 10, {}),
    ("Instagram Comments", "Instagram Comment Replies", "Comment Replies", "9.00", 1, 500, {}),
    ("Instagram Mentions", "Instagram Mentions", "Mentions", "3.00", 100, 10000, {}),
    ("Instagram Mentions", "Instagram Mentions + Hashtags", "Mentions with Hashtags", "3.50", 100, 10000, {}),
    ("Instagram Mentions", "Instagram Mentions Custom List", "Mentions Custom List", "4.00", 1, 1000, {}),
    ("Instagram Mentions", "Instagram Mentions (hashtag users)", "Mentions Hashtag", "3.20", 100, 10000, {}),
    ("Instagram Mentions", "Instagram Mentions (user followers)", "Mentions User Followers", "3.20", 100, 10000, {}),
    ("Instagram Mentions", "Instagram Mentions (media likers)", "Mentions Media Likers", "3.20", 100, 10000, {}),
    (
        "Instagram Auto",
        "Instagram Auto Likes (subscription)",
        "Subscriptions",
        "0.60",
        50,
        5000,
        {"cancel": True, "post_every_seconds": 20},
    ),
    ("Website Traffic", "Website Traffic [SEO keywords]", "SEO", "0.40", 100, 100000, {"partial_percent": 20}),
    ("Telegram", "Telegram Poll Votes", "Poll", "1.20", 100, 50000, {"refill": True}),
    ("Telegram", "Telegram Group Invites", "Invites from Groups", "5.00", 100, 5000, {"cancel": True}),
]


DEMO_GATEWAY = "manual"
DEMO_INSTRUCTIONS = (
    "Demo: no money moves here.\n"
    "Send the amount to IBAN XX00 DEMO 0000 0000 0000 (Demo Panel Ltd), "
    "with your username in the transfer's message.\n"
    "Then enter the transfer's reference below; the owner approves it in the admin "
    "(Payments → select it → Approve manual transfers) and your balance grows."
)


@dataclass
class DemoLogins:
    customer: tuple
    admin: tuple
    api_key: str


@transaction.atomic
def seed_catalog() -> list[Service]:
    services = []
    for position, (category, name, type_, rate, low, high, options) in enumerate(CATALOG):
        cat, _ = Category.objects.get_or_create(name=category, defaults={"position": position})
        defaults = {
            "category": cat,
            "type": type_,
            "rate": Decimal(rate),
            "min": low,
            "max": high,
            "refill": False,
            "cancel": False,
            "dripfeed": False,
            "refill_days": 30,
            "fulfilment": "simulated",
            "active": True,
            "position": position,
            "description": f"Demo service ({type_}), fulfilled by the simulator.",
        }
        knobs = {"units_per_minute": 6000, "partial_percent": 0, "post_every_seconds": 30}
        for option, value in options.items():
            (knobs if option in knobs else defaults)[option] = value
        service, _ = Service.objects.update_or_create(name=name, defaults=defaults)
        SimulatedService.objects.update_or_create(service=service, defaults=knobs)
        services.append(service)
    return services


def seed_people() -> DemoLogins:
    User = get_user_model()
    username, password = DEMO_CUSTOMER
    user = User.objects.filter(username=username).first()
    if user is None:
        account, key = create_customer(username, "demo@example.com", password, DEMO_BALANCE)
        write_key(key)
    else:
        account = account_for(user)
        key = read_key()
        if not key or hash_key(key) != account.api_key_hash:
            key = account.regenerate_api_key()
            write_key(key)
    admin_name, admin_password = DEMO_ADMIN
    if not User.objects.filter(username=admin_name).exists():
        User.objects.create_superuser(admin_name, "admin@example.com", admin_password)
    return DemoLogins(customer=DEMO_CUSTOMER, admin=DEMO_ADMIN, api_key=key)


def seed_gateways():
    """The Manual transfer gateway, enabled with sample instructions: the customer submits, the owner approves."""
    from smmpanel.payments.models import Gateway

    gateway, _ = Gateway.objects.update_or_create(
        name=DEMO_GATEWAY,
        defaults={
            "kind": "manual",
            "enabled": True,
            "display_name": "Bank transfer (demo)",
            "position": 0,
            "instructions": DEMO_INSTRUCTIONS,
        },
    )
    return gateway
