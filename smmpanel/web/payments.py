"""What the payment pages say: each enabled gateway's offer (limits, fee, bonus) and each payment state's words.

Kept apart from the views so the Add funds page, the manual transfer page,
a payment's page and the list word the same thing the same way. The rules
themselves (which gateway, what fee, which bonus) are
smmpanel.payments.services'; this only puts them into words.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from smmpanel.ledger.money import shown_money
from smmpanel.payments import gateways, registry
from smmpanel.payments.models import Gateway, GatewayBonus, Payment

S = Payment.State


def percent(value) -> str:
    """A percentage as the owner wrote it: 5, 2.9, 0.25 (no trailing zeros)."""
    d = Decimal(value).normalize()
    return format(d.quantize(Decimal(1)) if d == d.to_integral_value() else d, "f")


@dataclass
class Offer:
    """One way to pay, as the Add funds page shows it."""

    gateway: Gateway
    fee: str  # "" when the customer pays no fee; else what is added to what they pay
    bonuses: list[str] = field(default_factory=list)

    @property
    def limits(self) -> str:
        return _("%(low)s to %(high)s USD") % {
            "low": shown_money(self.gateway.min_amount),
            "high": shown_money(self.gateway.max_amount),
        }


def fee_words(gateway: Gateway) -> str:
    """The fee the customer pays with this gateway, in words ("" when none is theirs to pay)."""
    pct, fixed = Decimal(gateway.fee_percent or 0), Decimal(gateway.fee_fixed or 0)
    if gateway.fee_payer != "customer" or (pct == 0 and fixed == 0):
        return ""
    parts = []
    if pct:
        parts.append(f"{percent(pct)} %")
    if fixed:
        parts.append(f"{shown_money(fixed)} USD")
    return " + ".join(parts)


def bonus_words(bonus: GatewayBonus) -> str:
    return _("+%(percent)s %% on %(amount)s USD or more") % {
        "percent": percent(bonus.percent),
        "amount": shown_money(bonus.min_amount),
    }


def gateway_offers() -> list[Offer]:
    """The gateways a customer may pay by, in the owner's order, each with its fee and bonus rules in words."""
    return [
        Offer(g, fee_words(g), [bonus_words(b) for b in sorted(g.bonuses.all(), key=lambda b: b.min_amount)])
        for g in gateways.enabled()
    ]


@dataclass(frozen=True)
class StateWords:
    """A payment's state as the customer reads it: a badge (its word and style) and what it means."""

    key: str  # paid, waiting, review, checking, expired, failed, canceled, refunded, disputed
    badge: str
    style: str  # the badge's class: ok, warn, bad
    final: bool  # nothing more will happen by itself (the page stops asking)


BADGES = {
    "paid": gettext_lazy("Paid"),
    "waiting": gettext_lazy("Waiting"),
    "review": gettext_lazy("Waiting"),
    "checking": gettext_lazy("Checking"),
    "expired": gettext_lazy("Expired"),
    "failed": gettext_lazy("Failed"),
    "canceled": gettext_lazy("Canceled"),
    "refunded": gettext_lazy("Refunded"),
    "disputed": gettext_lazy("Disputed"),
}
STYLES = {"paid": "ok", "waiting": "warn", "review": "warn", "checking": "warn"}
FINAL_KEYS: dict[str, str] = {
    S.PAID: "paid",
    S.EXPIRED: "expired",
    S.FAILED: "failed",
    S.CANCELED: "canceled",
    S.REFUNDED: "refunded",
    S.DISPUTED: "disputed",
}


def state_of(payment: Payment) -> StateWords:
    """Which of the page's sentences is true of this payment (see web/payments/_state.html)."""
    state = payment.state
    if payment.needs_attention and state not in (S.REFUNDED, S.DISPUTED):
        key = "checking"  # money arrived but not as asked: the owner decides, nothing credited meanwhile
    elif state in (S.CREATED, S.PENDING):
        key = "waiting" if registry.get(payment.gateway.kind).hosted else "review"
    else:
        key = FINAL_KEYS.get(str(state), "waiting")
    return StateWords(key, str(BADGES[key]), STYLES.get(key, "bad"), key not in ("waiting", "review", "checking"))


def error_words(error) -> str:
    """A PaymentError in the customer's language (the words are smmpanel/payments/messages.py's)."""
    from smmpanel.payments import messages

    return messages.localized(error)
