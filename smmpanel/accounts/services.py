"""Creating customers: a Django user, its account, an API key and an opening balance."""

from django.contrib.auth import get_user_model
from django.db import transaction

from smmpanel.accounts.models import Account
from smmpanel.ledger import services as ledger
from smmpanel.ledger.money import ZERO


def create_customer(
    username: str,
    email: str = "",
    password: str | None = None,
    balance=ZERO,
    *,
    api_key: bool = True,
    email_verified: bool = True,
):
    """Returns (account, api_key); the key is not stored in clear anywhere, so show it now.

    With api_key=False (signing up in the panel) the account starts without a key
    (None is returned): the customer makes one on the API page, where it is shown once.
    email_verified=False: a sign-up waiting for its owner to follow the mailed link.
    """
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=username, email=email, password=password)
        account = Account.objects.create(user=user, email_verified=email_verified)
        key = account.regenerate_api_key() if api_key else None
        if balance > ZERO:
            ledger.deposit(account, balance, memo="Opening balance")
    account.refresh_from_db()
    return account, key


def account_for(user) -> Account:
    """The user's account, created on first need (users made by `createsuperuser`, the admin …)."""
    account, _ = Account.objects.get_or_create(user=user)
    return account
