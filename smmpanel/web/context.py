"""The signed-in customer's account, read once per request, and the template context every page gets from it."""

from django.conf import settings
from django.http import HttpRequest

from smmpanel.accounts.models import Account
from smmpanel.accounts.services import account_for

_CACHED = "_smmpanel_customer_account"


def customer_account(request: HttpRequest) -> Account:
    """The signed-in user's account (made on first need); the view and the page's header share one read."""
    account = getattr(request, _CACHED, None)
    if account is None:
        account = account_for(request.user)
        setattr(request, _CACHED, account)
    return account


def panel(request) -> dict:
    context = {"signup_open": settings.SIGNUP_OPEN}  # links to the sign-up page only while it is open
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or request.path.startswith("/admin/"):
        return context
    return {**context, "panel_account": customer_account(request)}
