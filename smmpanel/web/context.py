"""The signed-in customer's account, read once per request, and the template context every page gets from it."""

from functools import cached_property

from django.conf import settings
from django.http import HttpRequest

from smmpanel.accounts.models import Account
from smmpanel.accounts.services import account_for
from smmpanel.tickets.services import unread_count

_CACHED = "_smmpanel_customer_account"


def customer_account(request: HttpRequest) -> Account:
    """The signed-in user's account (made on first need); the view and the page's header share one read."""
    account = getattr(request, _CACHED, None)
    if account is None:
        account = account_for(request.user)
        setattr(request, _CACHED, account)
    return account


class TicketsBadge:
    """The menu's count of tickets with an unread answer: one indexed query, and only if a page shows it."""

    def __init__(self, account_id: int):
        self.account_id = account_id

    @cached_property
    def unread(self) -> int:
        return unread_count(self.account_id)


def panel(request) -> dict:
    context = {"signup_open": settings.SIGNUP_OPEN}  # links to the sign-up page only while it is open
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or request.path.startswith("/admin/"):
        return context
    account = customer_account(request)
    return {**context, "panel_account": account, "panel_tickets": TicketsBadge(account.pk)}
