"""The mails of signing up: the verification link, and the notice to an address that already has an account.

Sign-up answers alike whether or not an address has an account; the mail
tells its owner which it was (SIGNUP_EMAIL_VERIFICATION on: one of the two
goes out for every sign-up). Sent by Django's mail (the configured backend),
addressed like the password-reset mail (the host the request came to).
"""

from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from smmpanel.accounts import verification


def _send(request, user, template: str, context: dict) -> None:
    context = {"user": user, "site_name": request.get_host(), **context}
    subject = "".join(render_to_string(f"web/account/{template}_subject.txt", context, request).splitlines())
    body = render_to_string(f"web/account/{template}_email.txt", context, request)
    send_mail(subject, body, None, [user.email])


def send_verification(request, user) -> None:
    uidb64, token = verification.link_parts(user)
    link = request.build_absolute_uri(reverse("web:signup-confirm", args=[uidb64, token]))
    _send(request, user, "verify", {"link": link})


def send_account_exists(request, user) -> None:
    _send(
        request,
        user,
        "account_exists",
        {
            "login": request.build_absolute_uri(reverse("web:login")),
            "reset": request.build_absolute_uri(reverse("web:password-reset")),
        },
    )
