"""Signing up, in and out; changing and resetting a password; the customer's settings (e-mail, time zone).

Log-in is Django's LoginView: its form authenticates through the configured
backends (the per-address limit, then django-axes), so repeated failures lock a
username and address, or an address, out with HTTP 429 exactly as on the
admin's log-in. Password pages are Django's own views with the panel's
templates; reset links go out by the configured e-mail backend (the console
unless SMTP is configured).

Signing up (SIGNUP_OPEN) answers alike whether or not the e-mail has an
account, and with SIGNUP_EMAIL_VERIFICATION mails a link the new account must
follow before its first order. Sign-ups and mails asked for are limited per
address (smmpanel.addresslimits).
"""

from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from smmpanel import addresslimits
from smmpanel.accounts import verification
from smmpanel.accounts.models import Account
from smmpanel.accounts.services import create_customer
from smmpanel.loginlimits import client_ip, too_many
from smmpanel.web import signupmail, timezones
from smmpanel.web.context import customer_account
from smmpanel.web.forms.account import SettingsForm, SignupForm

# Named explicitly when logging in a new customer: with several backends Django must be told
# which one vouched for the user (axes only counts failures, it authenticates no one).
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _next_url(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return None


@sensitive_post_parameters("password1", "password2")
def signup(request):
    if not django_settings.SIGNUP_OPEN:
        return render(request, "web/account/signup_closed.html", status=403)
    if request.user.is_authenticated:
        return redirect(django_settings.LOGIN_REDIRECT_URL)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        wait = addresslimits.count("signup", client_ip(request))
        if wait is not None:
            return too_many(request, "signup", wait)
        return _sign_up(request, form)
    return render(request, "web/account/signup.html", {"form": form, "next": _next_url(request) or ""})


def _sign_up(request, form):
    """A valid sign-up: the same answer whether or not the address has an account (the mail tells its owner)."""
    data = form.cleaned_data
    verify = django_settings.SIGNUP_EMAIL_VERIFICATION
    existing = get_user_model().objects.filter(email__iexact=data["email"]).first()
    if existing is not None:
        # Hash the password all the same: a new account's hashing would take longer than
        # this path otherwise, and the time would tell what the page does not.
        make_password(data["password1"])
        signupmail.send_account_exists(request, existing)
        return redirect("web:signup-sent")
    # No API key yet: the API page makes one and shows it once, when the customer wants it.
    try:
        account, _key = create_customer(
            data["username"], data["email"], data["password1"], api_key=False, email_verified=not verify
        )
    except IntegrityError:  # the same name taken between the form's check and the insert
        form.add_error("username", _("That username is taken."))
        return render(request, "web/account/signup.html", {"form": form, "next": _next_url(request) or ""})
    if verify:
        signupmail.send_verification(request, account.user)
        return redirect("web:signup-sent")
    auth_login(request, account.user, backend=MODEL_BACKEND)
    messages.success(request, _("Welcome! Your account is ready."))
    return redirect(_next_url(request) or django_settings.LOGIN_REDIRECT_URL)


def signup_sent(request):
    return render(request, "web/account/signup_sent.html")


def signup_confirm(request, uidb64, token):
    """The mailed link: a page with a button (a mail scanner's GET confirms nothing), then the customer is in."""
    user = verification.user_for(uidb64, token)
    if user is None:
        return render(request, "web/account/signup_confirm.html", {"valid": False}, status=400)
    if request.method == "POST":
        verification.mark_verified(user)
        auth_login(request, user, backend=MODEL_BACKEND)
        messages.success(request, _("Your e-mail address is confirmed: welcome!"))
        return redirect(django_settings.LOGIN_REDIRECT_URL)
    return render(request, "web/account/signup_confirm.html", {"valid": True, "confirming": user})


@login_required
@require_POST
def signup_confirm_again(request):
    """A new verification mail, from the settings page (counted with the password-reset mails)."""
    wait = addresslimits.count("reset", client_ip(request))
    if wait is not None:
        return too_many(request, "reset", wait)
    if not customer_account(request).email_verified:
        signupmail.send_verification(request, request.user)
        messages.success(request, _("A new link is on its way to %(email)s.") % {"email": request.user.email})
    return redirect("web:settings")


login = auth_views.LoginView.as_view(template_name="web/account/login.html", redirect_authenticated_user=True)
logout = auth_views.LogoutView.as_view()  # POST only (the header's form); GET is 405


class _PasswordChange(auth_views.PasswordChangeView):
    template_name = "web/account/password_change.html"
    success_url = reverse_lazy("web:settings")

    def form_valid(self, form):
        response = super().form_valid(form)  # keeps this session signed in, ends the others
        messages.success(self.request, _("Your password was changed."))
        return response


password_change = _PasswordChange.as_view()


class _PasswordReset(auth_views.PasswordResetView):
    """Django's reset, within PASSWORD_RESETS_PER_ADDRESS mails asked for per address."""

    template_name = "web/account/password_reset.html"
    email_template_name = "web/account/password_reset_email.txt"
    subject_template_name = "web/account/password_reset_subject.txt"
    success_url = reverse_lazy("web:password-reset-sent")

    def form_valid(self, form):
        wait = addresslimits.count("reset", client_ip(self.request))
        if wait is not None:
            return too_many(self.request, "reset", wait)
        return super().form_valid(form)


class _PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    template_name = "web/account/password_reset_confirm.html"
    success_url = reverse_lazy("web:password-reset-done")

    def form_valid(self, form):
        # The link came by mail: its owner has the address, as a verification link would show.
        verification.mark_verified(form.user)
        return super().form_valid(form)


password_reset = _PasswordReset.as_view()
password_reset_sent = auth_views.PasswordResetDoneView.as_view(template_name="web/account/password_reset_sent.html")
password_reset_confirm = _PasswordResetConfirm.as_view()
password_reset_done = auth_views.PasswordResetCompleteView.as_view(template_name="web/account/password_reset_done.html")


@login_required
def settings(request):
    account = customer_account(request)
    current = account.time_zone or django_settings.TIME_ZONE
    form = SettingsForm(
        request.POST or None, user=request.user, initial={"email": request.user.email, "time_zone": current}
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            request.user.email = form.cleaned_data["email"]
            request.user.save(update_fields=["email"])
            Account.objects.filter(pk=account.pk).update(time_zone=form.cleaned_data["time_zone"])
        timezones.remember(request, form.cleaned_data["time_zone"])
        messages.success(request, _("Your settings were saved."))
        return redirect("web:settings")
    return render(request, "web/account/settings.html", {"form": form, "account": account})
