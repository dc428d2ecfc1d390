"""The signed-in customer's time zone: which zones may be chosen, and the middleware that applies one.

Times are stored in UTC; each customer page shows them in the zone saved on the
customer's account (Account.time_zone; empty: the panel's TIME_ZONE). The zone is
kept in the session once read, so a page costs no extra query for it; the
settings page writes both the account and the session. The admin keeps the
panel's own zone (its staff compare times across customers).
"""

import zoneinfo
from functools import cache

from django.utils import timezone

from smmpanel.accounts.models import Account

SESSION_KEY = "panel_time_zone"


@cache
def choices() -> list[str]:
    """Every IANA zone name this machine knows, sorted (the settings page's select)."""
    return sorted(zoneinfo.available_timezones())


def is_known(name: str) -> bool:
    return name in _known()


@cache
def _known() -> frozenset[str]:
    return frozenset(choices())


def remember(request, name: str) -> None:
    """Use `name` for this session's pages from now on (after the customer chose it)."""
    request.session[SESSION_KEY] = name


def _zone_of(request) -> str:
    name = request.session.get(SESSION_KEY)
    if name is None:
        name = Account.objects.filter(user=request.user).values_list("time_zone", flat=True).first() or ""
        request.session[SESSION_KEY] = name
    return name


class TimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        name = ""
        if user is not None and user.is_authenticated and not request.path.startswith("/admin/"):
            name = _zone_of(request)
        if name and is_known(name):
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            # Threads serve other customers' requests next.
            timezone.deactivate()
