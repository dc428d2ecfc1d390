"""E-mail verification of a sign-up (SIGNUP_EMAIL_VERIFICATION): the link's token, and following it.

The link names the user (its id, base64) and carries a token of Django's
password-reset kind under a salt of its own: signed with SECRET_KEY, good for
PASSWORD_RESET_TIMEOUT (three days by default), and void once followed, since
the token covers the account's verified flag, and void for another address,
since it covers the e-mail. Not the last log-in or the password, as a reset
token does: a customer who logs in before opening the mail keeps a working
link. Sending the mail is the web panel's
(smmpanel/web/signupmail.py): it knows the page the link opens.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from smmpanel.accounts.models import Account


class VerificationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "smmpanel.accounts.verification.VerificationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        verified = Account.objects.filter(user=user).values_list("email_verified", flat=True).first()
        return f"{user.pk}{timestamp}{user.email}{verified}"


tokens = VerificationTokenGenerator()


def link_parts(user) -> tuple[str, str]:
    """(uidb64, token) of the user's verification link."""
    return urlsafe_base64_encode(force_bytes(user.pk)), tokens.make_token(user)


def user_for(uidb64: str, token: str):
    """The user a still-valid link is for, else None."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    user = get_user_model().objects.filter(pk=pk, is_active=True).first()
    if user is None or not tokens.check_token(user, token):
        return None
    return user


def mark_verified(user) -> None:
    Account.objects.filter(user=user).update(email_verified=True)


def may_order(account_id: int) -> bool:
    """Whether verification (if the owner requires it) lets this account place orders."""
    return not Account.objects.filter(pk=account_id, email_verified=False).exists()
