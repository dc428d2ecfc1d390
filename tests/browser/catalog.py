"""The catalog the browser tests order from, seeded inside the live panel's own process.

Run there as `smmpanel shell -c "from tests.browser.catalog import seed; seed()"`: the panel
under test has its own database, so the test process cannot write it through the ORM.
Every service is simulated, tuned so that a test sees what it waits for within seconds:
a fast service completes (and may be refilled), a slow one stays In progress long enough
to be canceled, and a subscription posts every couple of seconds.
"""

import json
from decimal import Decimal

# What the tests select in the new-order form, by these exact names.
FAST = "Browser Followers [Refill]"
SLOW = "Browser Followers [Drip-feed, Cancel]"
COMMENTS = "Browser Custom Comments"
SUBSCRIPTION = "Browser Auto Likes (subscription)"

# (category, name, type, rate, min, max, service options, simulator knobs)
SERVICES = [
    ("Browser Followers", FAST, "Default", "1.00", 10, 10000, {"refill": True}, {"units_per_minute": 60000}),
    (
        "Browser Followers",
        SLOW,
        "Default",
        "0.50",
        10,
        10000,
        {"dripfeed": True, "cancel": True},
        {"units_per_minute": 30},  # half a unit a second: In progress for minutes
    ),
    ("Browser Comments", COMMENTS, "Custom Comments", "8.00", 1, 1000, {}, {"units_per_minute": 60000}),
    (
        "Browser Subscriptions",
        SUBSCRIPTION,
        "Subscriptions",
        "0.60",
        10,
        1000,
        {"cancel": True},
        {"units_per_minute": 60000, "post_every_seconds": 2},
    ),
]


def seed() -> None:
    """Create the services (idempotent) and print {name: id} as one JSON line."""
    from smmpanel.catalog.models import Category, Service
    from smmpanel.fulfilment.models import SimulatedService

    ids = {}
    for position, (category, name, type_, rate, low, high, options, knobs) in enumerate(SERVICES):
        cat, _ = Category.objects.get_or_create(name=category, defaults={"position": position})
        service, _ = Service.objects.update_or_create(
            name=name,
            defaults=dict(
                category=cat,
                type=type_,
                rate=Decimal(rate),
                min=low,
                max=high,
                position=position,
                fulfilment="simulated",
                description=f"{type_}, simulated for the browser tests.",
                **options,
            ),
        )
        SimulatedService.objects.update_or_create(service=service, defaults=knobs)
        ids[name] = service.pk
    print(json.dumps(ids))
