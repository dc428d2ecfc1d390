"""Where alerts go: a table of transports (healthchecks' TRANSPORTS, in small), each sending one message.

- email: Django's mail (EMAIL_* settings; printed to the console by default) to ALERTS_EMAIL,
  or, without it, to the superusers' addresses (else ADMINS).
- telegram: the Bot API's sendMessage (TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID) at TELEGRAM_API_BASE,
  with a deadline (ALERTS_SEND_TIMEOUT); plain text cut to Telegram's 4096 characters.

A failed send raises ChannelError; `retry_after` is the channel's own word on when to try again
(Telegram's flood control). Nothing here says a bot token: it is in the URL only, and scrubbed
from what an error says.
"""

import smtplib

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail

TELEGRAM_LIMIT = 4096  # characters of a message (UTF-16 code units, as Telegram counts them)


class ChannelError(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Email:
    name = "email"

    def enabled(self) -> bool:
        return settings.ALERTS_EMAIL != ["off"]

    def recipients(self) -> list[str]:
        if settings.ALERTS_EMAIL:
            return list(settings.ALERTS_EMAIL)
        users = get_user_model().objects.filter(is_superuser=True, is_active=True).exclude(email="")
        found = sorted(set(users.values_list("email", flat=True)))
        return found or [address for _, address in settings.ADMINS]

    def send(self, subject: str, body: str) -> None:
        recipients = self.recipients()
        if not recipients:
            return  # nobody to tell: the owner set no address; the alert is in the admin all the same
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
        except (OSError, smtplib.SMTPException) as e:
            raise ChannelError(f"mail: {type(e).__name__}: {e}") from None


class Telegram:
    name = "telegram"

    def enabled(self) -> bool:
        return bool(settings.TELEGRAM_BOT_TOKEN and settings.TELEGRAM_CHAT_ID)

    def send(self, subject: str, body: str) -> None:
        token = settings.TELEGRAM_BOT_TOKEN
        url = f"{settings.TELEGRAM_API_BASE.rstrip('/')}/bot{token}/sendMessage"
        text = cut(f"{subject}\n\n{body}", TELEGRAM_LIMIT)
        payload = {"chat_id": settings.TELEGRAM_CHAT_ID, "text": text, "disable_web_page_preview": True}
        try:
            response = httpx.post(url, json=payload, timeout=settings.ALERTS_SEND_TIMEOUT)
            answer = response.json()
        except (httpx.HTTPError, ValueError) as e:
            raise ChannelError(f"telegram: {type(e).__name__}: {str(e).replace(token, '…')}") from None
        if not isinstance(answer, dict):
            raise ChannelError(f"telegram: unreadable answer (HTTP {response.status_code})")
        if answer.get("ok") is True:
            return
        parameters = answer.get("parameters")
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        words = str(answer.get("description", ""))[:200].replace(token, "…")
        raise ChannelError(
            f"telegram: {answer.get('error_code', response.status_code)} {words}",
            retry_after=float(retry_after) if isinstance(retry_after, int | float) and retry_after >= 0 else None,
        )


def cut(text: str, limit: int) -> str:
    """`text` within `limit` UTF-16 code units (an emoji counts two), ending in "…" when cut."""
    if len(text.encode("utf-16-le")) // 2 <= limit:
        return text
    kept = text.encode("utf-16-le")[: (limit - 1) * 2].decode("utf-16-le", errors="ignore")
    return kept + "…"


TRANSPORTS = {transport.name: transport for transport in (Email(), Telegram())}


def enabled() -> list[str]:
    """The channels set up now: an alert raised now is to be delivered on each."""
    return [name for name, transport in TRANSPORTS.items() if transport.enabled()]
