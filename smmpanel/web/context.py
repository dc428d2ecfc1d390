"""Template context for every page of the customer panel: the signed-in customer's account (balance in the header)."""

from smmpanel.accounts.models import Account


def panel(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or request.path.startswith("/admin/"):
        return {}
    # A single-row read by primary key; users made outside the panel may have no account yet.
    return {"panel_account": Account.objects.filter(user=user).only("balance").first()}
