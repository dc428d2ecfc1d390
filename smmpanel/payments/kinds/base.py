"""What every gateway kind implements, and the shapes it answers in.

A kind talks to its gateway and reads what the gateway sends; it never
writes money or payments. It turns a verified message (a webhook, or the
answer to a verified API call when polling) into Verdicts, plain statements
of what the gateway says happened to one payment; smmpanel.payments.services
applies them (and the ledger's constraints make applying one twice a no-op).
"""

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings


class Refused(Exception):
    """A notification that is not the gateway's word (bad signature, too old, malformed): answered 400."""


class GatewayDown(Exception):
    """The gateway could not be asked (network, timeout, an error answer): try again later."""


@dataclass
class Checkout:
    """Where to send the customer to pay, and the gateway's id of that payment."""

    external_id: str
    url: str


# What a Verdict may say happened.
PENDING, PAID, FAILED, EXPIRED, CANCELED, REFUND, DISPUTE, IGNORED = (
    "pending",
    "paid",
    "failed",
    "expired",
    "canceled",
    "refund",
    "dispute",
    "ignored",
)


@dataclass
class Verdict:
    """The gateway's verified word about one payment.

    `payment_id` is our id where the gateway echoes it (metadata, order id);
    `external_id` the gateway's. `amount`/`currency`: received (PAID), or taken
    back (REFUND: the refunded total so far; DISPUTE: the disputed amount).
    `key` names a refund or dispute uniquely at the gateway (one take-back each).
    """

    event: str
    payment_id: int | None = None
    external_id: str | None = None
    external_ref: str = ""
    amount: Decimal | None = None
    currency: str = ""
    key: str = ""
    note: str = ""


class Kind:
    name = ""
    label = ""
    # Credentials: Gateway field -> the setting (environment variable) that wins over it.
    env = {}  # type: dict[str, str]
    # Does the customer pay at the gateway (a checkout URL), or does the owner approve (manual)?
    hosted = True
    # The request headers worth recording with a notification (the signature's).
    recorded_headers: tuple[str, ...] = ()
    # Where the customer pays: the gateway's own checkout pages, and the setting naming its API, whose
    # origin serves them in a sandbox (and in the tests' fakes). The Add funds page's Content-Security-
    # Policy lets its form lead there (form-action covers the redirect after the post).
    checkout_origins: tuple[str, ...] = ()
    api_base_setting = ""

    def payment_page_origins(self) -> list[str]:
        origins = list(self.checkout_origins)
        base = getattr(settings, self.api_base_setting, "") if self.api_base_setting else ""
        if base:
            parts = urlsplit(base)
            origins.append(f"{parts.scheme}://{parts.netloc}")
        return origins

    def credentials(self, gateway) -> dict[str, str]:
        """The gateway's keys, each from its environment variable when set, else as stored in the admin."""
        return {field: getattr(settings, var, "") or getattr(gateway, field) for field, var in self.env.items()}

    def ready(self, gateway) -> bool:
        """All its keys are there (from the environment or the admin): it can take payments."""
        return all(self.credentials(gateway).values())

    def configured_by_env(self) -> bool:
        """Every key of this kind is set in the environment (such a gateway is enabled with defaults)."""
        return bool(self.env) and all(getattr(settings, var, "") for var in self.env.values())

    def start(self, gateway, payment, *, return_url: str, cancel_url: str, notify_url: str) -> Checkout:
        """Create the payment at the gateway (raises GatewayDown)."""
        raise NotImplementedError

    def verify(self, gateway, body: bytes, headers) -> list[Verdict]:
        """Read a notification: raises Refused unless it is verifiably the gateway's."""
        raise NotImplementedError

    def fetch(self, gateway, payment) -> Verdict:
        """Ask the gateway about one payment through its authenticated API (raises GatewayDown)."""
        raise NotImplementedError


def parse_amount(value, what: str = "amount") -> Decimal:
    """A gateway's amount ("12.50", 12.5) as a Decimal; Refused for anything else."""
    from decimal import InvalidOperation

    from smmpanel.ledger.money import MAX_AMOUNT, round5

    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Refused(f"{what} is not a number: {str(value)[:40]!r}") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise Refused(f"{what} out of range: {str(value)[:40]!r}")
    return round5(amount)


def our_id(value) -> int | None:
    """Our payment id as a gateway echoes it ("42", 42, "smm-42"); None when it is not one of ours."""
    text = str(value or "").strip().removeprefix("smm-")
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None
