"""When `smmpanel demo` must not run without --force.

The demo adds a known admin login (`admin` / `admin-password`) and a customer
with 1,000 USD: harmless on an empty or demo database, a hole in a real shop.
So it refuses on a database that holds anything the demo did not make, and
under an https SITE_URL (a deployment, not a try-out).
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import ngettext

from smmpanel.catalog.models import Category, Service
from smmpanel.demo.seed import CATALOG, DEMO_ADMIN, DEMO_CUSTOMER
from smmpanel.orders.models import Order


def reasons_to_refuse() -> list[str]:
    reasons = []
    if settings.SITE_URL_SCHEME == "https":
        reasons.append(f"SITE_URL is {settings.SITE_ORIGIN}: this looks like a deployment")
    demo_users = {DEMO_CUSTOMER[0], DEMO_ADMIN[0]}
    others = get_user_model().objects.exclude(username__in=demo_users)
    if others.exists():
        n = others.count()
        reasons.append(
            ngettext(
                "the database has %(n)d user besides the demo's", "the database has %(n)d users besides the demo's", n
            )
            % {"n": n}
        )
    services = Service.objects.exclude(name__in=[row[1] for row in CATALOG])
    if services.exists():
        n = services.count()
        reasons.append(
            ngettext(
                "the database has %(n)d service besides the demo catalog",
                "the database has %(n)d services besides the demo catalog",
                n,
            )
            % {"n": n}
        )
    categories = Category.objects.exclude(name__in=[row[0] for row in CATALOG])
    if categories.exists():
        n = categories.count()
        reasons.append(
            ngettext(
                "the database has %(n)d category besides the demo's",
                "the database has %(n)d categories besides the demo's",
                n,
            )
            % {"n": n}
        )
    orders = Order.objects.exclude(account__user__username=DEMO_CUSTOMER[0])
    if orders.exists():
        n = orders.count()
        reasons.append(
            ngettext(
                "the database has %(n)d order of customers other than the demo's",
                "the database has %(n)d orders of customers other than the demo's",
                n,
            )
            % {"n": n}
        )
    return reasons
