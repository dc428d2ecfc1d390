"""The new-order and mass-order forms: which fields a service's type asks for, and where a refusal's words go.

No rule of what makes an order valid lives here. Every value goes, as typed,
to smmpanel.orders.validation.validate_order (the API's validator, driven by
the type specs of smmpanel/catalog/order_types.py), and the OrderError it
raises is shown next to the field it is about (`error_field`), in the words of
smmpanel/orders/messages.py. Placing goes through smmpanel.orders.services,
inside the idempotency store (smmpanel.orders.idempotency), so one form (one token) places one order
however often it is sent.
"""

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.db import transaction
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from smmpanel.accounts.models import Account
from smmpanel.catalog import order_types as ot
from smmpanel.catalog.models import Service
from smmpanel.ids import parse_id
from smmpanel.ledger.money import shown_money
from smmpanel.orders import idempotency, selectors, services
from smmpanel.orders.errors import OrderError
from smmpanel.orders.messages import localized
from smmpanel.orders.models import Actor
from smmpanel.orders.validation import OrderRequest, validate_order

LABELS = {
    "link": _("Link"),
    "quantity": _("Quantity"),
    "keywords": _("Keywords"),
    "comments": _("Comments"),
    "usernames": _("Usernames"),
    "hashtags": _("Hashtags"),
    "hashtag": _("Hashtag"),
    "username": _("Username"),
    "media": _("Media link"),
    "answer_number": _("Answer number"),
    "groups": _("Groups"),
    "min": _("Minimum per post"),
    "max": _("Maximum per post"),
    "posts": _("New posts"),
    "old_posts": _("Old posts"),
    "delay": _("Delay"),
    "expiry": _("Expiry date"),
    "runs": _("Runs"),
    "interval": _("Interval (minutes)"),
}
ONE_PER_LINE = _("One per line.")
HELP = {
    "posts": _("How many new posts to deliver to; leave empty to pay per post as each one comes."),
    "old_posts": _("How many of the latest existing posts to deliver to as well."),
    "expiry": _("Optional: the subscription stops on this date."),
    "runs": _("How many times the quantity is delivered."),
    "interval": _("Minutes between runs."),
}
SUBSCRIPTION_FIELDS = ("username", "min", "max", "posts", "old_posts", "delay", "expiry")
SUBSCRIPTION_REQUIRED = ("username", "min", "max", "delay")
DRIPFEED_FIELDS = ("runs", "interval")

# Refusals about one field, by OrderError code ("missing" is placed by looking
# for the empty field; codes naming their field in `name` go there).
_FIELD_OF_CODE = {
    "bad_quantity": "quantity",
    "bad_link": "link",
    "bad_username": "username",
    "dripfeed_disabled": "runs",
    "dripfeed_pair": "runs",
    "bad_runs": "runs",
    "dripfeed_too_big": "runs",
    "bad_interval": "interval",
    "bad_min": "min",
    "bad_max": "max",
    "min_above_max": "max",
    "bad_posts": "posts",
    "posts_required": "posts",
    "bad_old_posts": "old_posts",
    "bad_delay": "delay",
    "bad_expiry": "expiry",
    "expiry_past": "expiry",
}
_NAMED = ("bad_param", "bad_text", "list_too_long", "line_too_long")
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def dripfeed_allowed(service: Service) -> bool:
    return service.order_type.dripfeed_capable and service.dripfeed


def field_names(service: Service) -> list[str]:
    """The fields an order of this service takes, in the order the form shows them."""
    spec = service.order_type
    if spec.subscription:
        return list(SUBSCRIPTION_FIELDS)
    names = ["link"] if spec.needs_link else []
    if spec.takes_quantity:
        names.append("quantity")
    return names + list(spec.params)


def required_names(service: Service) -> list[str]:
    spec = service.order_type
    if spec.subscription:
        return list(SUBSCRIPTION_REQUIRED)
    return field_names(service)


def error_field(service: Service, error: OrderError, data: dict) -> str | None:
    """Which field a refusal is about (None: the order as a whole, e.g. not enough funds)."""
    spec = service.order_type
    code = error.code
    if code == "missing":
        required = required_names(service)
        return next((name for name in required if not str(data.get(name) or "").strip()), None)
    if code in ("quantity_below_min", "quantity_above_max"):
        if spec.subscription:
            return "min" if code == "quantity_below_min" else "max"
        return spec.lines_param or ("quantity" if spec.takes_quantity else None)
    if code == "duplicate":
        return "username" if spec.subscription else "link"
    if code in _NAMED:
        name = error.values.get("name")
        return name if name in field_names(service) else None
    if code == "dripfeed_pair" and str(data.get("runs") or "").strip():
        return "interval"
    return _FIELD_OF_CODE.get(code)


def error_text(error: OrderError, field: str | None) -> str:
    if error.code == "missing" and field is not None:
        return gettext("This field is required.")
    return localized(error)


def _delay_label(minutes: int) -> str:
    if minutes == 0:
        return gettext("No delay")
    return ngettext("%(minutes)d minute", "%(minutes)d minutes", minutes) % {"minutes": minutes}


def _field(name: str, kind: str | None, service: Service) -> forms.Field:
    label = LABELS.get(name, name.replace("_", " ").capitalize())
    help_text = HELP.get(name, "")
    if name == "delay":
        choices = [(str(m), _delay_label(m)) for m in ot.SUBSCRIPTION_DELAYS]
        return forms.ChoiceField(label=label, choices=choices, required=False, initial="0")
    if name == "expiry":
        return forms.CharField(
            label=label, required=False, help_text=help_text, widget=forms.DateInput(attrs={"type": "date"})
        )
    if kind == ot.LIST:
        return forms.CharField(
            label=label,
            required=False,
            strip=False,  # lines as typed: validate_order splits and counts them
            help_text=ONE_PER_LINE,
            widget=forms.Textarea(attrs={"rows": 5}),
        )
    attrs: dict[str, str] = {}
    if name in ("quantity", "min", "max", "posts", "old_posts", "runs", "interval") or kind == ot.INT:
        attrs["inputmode"] = "numeric"
    if name == "quantity":
        help_text = gettext("Min %(min)s, max %(max)s.") % {"min": service.min, "max": service.max}
    if name in ("link", "media") or kind == ot.URL:
        attrs.update(inputmode="url", placeholder="https://")
    # Text inputs, not type=number/url: the browser's own checks would differ
    # from the API's, and validate_order is the one judge.
    return forms.CharField(label=label, required=False, help_text=help_text, widget=forms.TextInput(attrs=attrs))


def new_token() -> str:
    return uuid.uuid4().hex


class OrderForm(forms.Form):
    """The fields of one service's order type, plus a one-time token and, where allowed, drip-feed."""

    token = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, service: Service, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.service = service
        spec = service.order_type
        for name in field_names(service):
            self.fields[name] = _field(name, spec.params.get(name), service)
        if dripfeed_allowed(service):
            self.fields["dripfeed"] = forms.BooleanField(label=_("Drip-feed"), required=False)
            for name in DRIPFEED_FIELDS:
                self.fields[name] = _field(name, ot.INT, service)
        if not self.is_bound:
            self.initial.setdefault("token", new_token())

    @property
    def type_fields(self):
        return [self[name] for name in field_names(self.service)]

    @property
    def dripfeed_fields(self):
        return [self[name] for name in DRIPFEED_FIELDS] if dripfeed_allowed(self.service) else []

    def order_data(self) -> dict:
        """What validate_order is given: the type's fields as typed, as the API would receive them."""
        data = {name: self.data.get(name, "") for name in field_names(self.service)}
        if self.service.order_type.subscription:
            data["expiry"] = _dmy(data["expiry"])
        if dripfeed_allowed(self.service) and self.data.get("dripfeed"):
            data.update({name: self.data.get(name, "") for name in DRIPFEED_FIELDS})
        return data

    def show_error(self, error: OrderError) -> None:
        data = self.order_data()
        name = error_field(self.service, error, data)
        if name is not None and name not in self.fields:
            name = None
        self.add_error(name, error_text(error, name))

    def validated(self) -> OrderRequest | None:
        """The checked order, or None with the refusal shown next to its field."""
        if not self.is_valid():
            return None
        try:
            return validate_order(self.service, self.order_data())
        except OrderError as error:
            self.show_error(error)
            return None

    def place(self, account_id: int) -> int | None:
        """Place the order once per token; its id, or None with the refusal shown."""
        req = self.validated()
        if req is None:
            return None
        fields = {"service": str(self.service.pk), **self.order_data()}

        def add() -> dict:
            return {"order": services.place_order(account_id, req, actor=Actor.WEB).pk}

        token = str(self.data.get("token") or "").strip()
        try:
            if not token:
                return add()["order"]
            key = f"web:{token}"[:255]
            answer = idempotency.run_once(account_id, key, idempotency.request_digest(fields), add)
        except idempotency.KeyReused:
            # This token placed an order with other values already (the form was
            # sent, then changed and sent again): a fresh form places a new one.
            self.data = {**dict(self.data.items()), "token": new_token()}
            self.add_error(None, gettext("This form was already used to place an order. Check it and send it again."))
            return None
        except OrderError as error:
            self.show_error(error)
            return None
        return int(answer["order"])


def _dmy(value) -> str:
    """A date input's 2027-12-31 as the API's 31/12/2027; anything else as typed."""
    text = str(value or "").strip()
    match = ISO_DATE.match(text)
    return f"{match[3]}/{match[2]}/{match[1]}" if match else text


# Placeholders for the fields that do not change the price, so the live charge
# shows as soon as the quantity is known (the price never depends on them).
_PLACEHOLDERS = {ot.URL: "https://example.com/", ot.TEXT: "x", ot.LIST: "x", ot.INT: "1"}


def preview_charge(service: Service, typed) -> tuple[Decimal | None, str]:
    """(charge, "") of the order as typed so far, or (None, why not yet): validate_order's own figure."""
    data = OrderForm(service, typed).order_data()
    spec = service.order_type
    kinds = {"link": ot.URL, "username": ot.TEXT, **spec.params}
    for name, kind in kinds.items():
        if name in data and name != spec.lines_param and not str(data[name]).strip():
            data[name] = _PLACEHOLDERS[kind]
    if spec.subscription:
        data.setdefault("delay", "0")
    try:
        req = validate_order(service, data)
    except OrderError as error:
        if error.code == "missing":
            return None, ""
        return None, localized(error)
    if req.pay_per_post:
        return None, gettext("Paid per post, as each post is ordered.")
    return req.charge, ""


# --- mass order -------------------------------------------------------------------


@dataclass
class MassLine:
    number: int
    text: str
    req: OrderRequest | None = None
    error: str = ""


class MassOrderForm(forms.Form):
    """One order per line, `service_id|link|quantity`; all placed at once, or none."""

    orders = forms.CharField(
        label=_("Orders"),
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12, "placeholder": "service_id|link|quantity"}),
        help_text=_("One order per line: service ID | link | quantity."),
    )
    token = forms.CharField(required=False, widget=forms.HiddenInput)

    MAX_LINES = 500

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines: list[MassLine] = []
        self.total = Decimal(0)
        if not self.is_bound:
            self.initial.setdefault("token", new_token())

    def check(self) -> bool:
        """Validate every line (each through validate_order); True when all are good."""
        if not self.is_valid():
            return False
        texts = [(n, line) for n, line in enumerate(re.split(r"\r\n|\n|\r", self.data["orders"]), 1) if line.strip()]
        if not texts:
            self.add_error("orders", gettext("This field is required."))
            return False
        if len(texts) > self.MAX_LINES:
            self.add_error("orders", gettext("At most %(maximum)d orders at once.") % {"maximum": self.MAX_LINES})
            return False
        # The services the lines name, on sale, read at once (a list may name one service 500 times).
        named = {parse_id(text.split("|", 1)[0]) for _, text in texts}
        on_sale = {s.pk: s for s in selectors.active_services().filter(pk__in=[i for i in named if i is not None])}
        self.lines = [_check_line(number, text, on_sale) for number, text in texts]
        self.total = sum((line.req.charge for line in self.lines if line.req is not None), Decimal(0))
        return all(line.req is not None for line in self.lines)

    @property
    def bad_lines(self) -> list[MassLine]:
        return [line for line in self.lines if line.error]

    def place(self, account_id: int) -> list[int] | None:
        """Place every line in one transaction; their ids, or None (nothing placed) with the reason shown."""
        if not self.check():
            return None
        balance = Account.objects.filter(pk=account_id).values_list("balance", flat=True).get()
        if balance < self.total:
            self.add_error(
                None,
                gettext("Not enough funds on balance: these orders cost %(total)s USD, the balance is %(balance)s USD.")
                % {"total": shown_money(self.total), "balance": shown_money(balance)},
            )
            return None
        fields = {"orders": "\n".join(line.text.strip() for line in self.lines)}

        def add() -> dict:
            ids = []
            for line in self.lines:
                assert line.req is not None  # check() passed
                try:
                    ids.append(services.place_order(account_id, line.req, actor=Actor.MASS_ORDER).pk)
                except OrderError as error:
                    line.error = localized(error)
                    raise
            return {"orders": ids}

        token = str(self.data.get("token") or "").strip()
        try:
            # One transaction around all of them: a refusal of any (a duplicate
            # link, the balance spent meanwhile) rolls back those placed before it.
            with transaction.atomic():
                if not token:
                    return add()["orders"]
                answer = idempotency.run_once(
                    account_id, f"web-mass:{token}"[:255], idempotency.request_digest(fields), add
                )
        except idempotency.KeyReused:
            self.data = {**dict(self.data.items()), "token": new_token()}
            self.add_error(None, gettext("This form was already used to place orders. Check it and send it again."))
            return None
        except OrderError:
            return None
        return [int(pk) for pk in answer["orders"]]


def _check_line(number: int, text: str, on_sale: dict[int, Service]) -> MassLine:
    line = MassLine(number=number, text=text)
    parts = [part.strip() for part in text.split("|")]
    if len(parts) == 2:  # a package: no quantity
        parts.append("")
    if len(parts) != 3:
        line.error = gettext("Use the format service_id|link|quantity.")
        return line
    raw_service, link, quantity = parts
    service_id = parse_id(raw_service)
    service = on_sale.get(service_id) if service_id is not None else None
    if service is None:
        line.error = localized("bad_service")
        return line
    try:
        line.req = validate_order(service, {"link": link, "quantity": quantity})
    except OrderError as error:
        if error.code == "missing" and link and (quantity or not service.order_type.takes_quantity):
            # Its type needs more than a link and a quantity (comments, usernames …).
            line.error = gettext("This service needs more than a link and a quantity: use the new order form.")
        else:
            line.error = localized(error)
    return line
