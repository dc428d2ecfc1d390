"""The API v2 documentation page's content, built from one source.

The actions are those the API serves (smmpanel.api.views.ACTIONS, checked by
the tests); the `add` action's parameters come from the order type table
(smmpanel.catalog.order_types.ORDER_TYPES): which types take a link, a quantity,
which lists and texts, which can drip-feed, how each is charged. From each
example's fields this module writes the same call three ways — curl, Python with
smmpanel.client, PHP with its curl extension — so the three cannot drift apart,
and the answers are the reference's (docs/api-v2.md says the same in prose).

Nothing here knows a customer: the page shows YOUR_API_KEY, never a real key.
"""

import json
import re
import shlex
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from smmpanel.catalog import order_types as ot
from smmpanel.orders.messages import MESSAGES

KEY_PLACEHOLDER = "YOUR_API_KEY"


@dataclass(frozen=True)
class Param:
    name: str
    description: str | Promise
    required: bool = True


@dataclass(frozen=True)
class Example:
    """One call: its fields (besides key and action) and the answer it gets."""

    fields: dict
    answer: object
    title: str | Promise = ""


@dataclass(frozen=True)
class Action:
    name: str
    title: str | Promise
    description: str | Promise
    params: list[Param]
    examples: list[Example]


@dataclass
class TypeDoc:
    """The `add` of one order type."""

    name: str
    slug: str
    params: list[Param]
    charged: str | Promise
    example: Example
    code: dict = field(default_factory=dict)


# --- the order types' parameters --------------------------------------------------------------

LINK = Param("link", _("Link to page"))
QUANTITY = Param("quantity", _("Needed quantity"))
RUNS = Param("runs", _("Runs to deliver (drip-feed, on services that allow it)"), required=False)
INTERVAL = Param("interval", _("Interval in minutes between runs (drip-feed)"), required=False)

LIST_WORDS = _("list separated by \\r\\n or \\n")
# What a type's own parameter means, by name; (type, name) where a type means something else.
PARAM_TEXT: dict = {
    "keywords": _("Keywords list separated by \\r\\n or \\n"),
    "comments": _("Comments list separated by \\r\\n or \\n"),
    "usernames": _("Usernames list separated by \\r\\n or \\n"),
    "hashtags": _("Hashtags list separated by \\r\\n or \\n"),
    "hashtag": _("Hashtag to scrape usernames from"),
    "username": _("Username"),
    ("Mentions User Followers", "username"): _("URL to scrape followers from"),
    ("Comment Likes", "username"): _("Username of the comment owner"),
    "media": _("Media URL to scrape likers from"),
    "answer_number": _("Answer number of the poll"),
    "groups": _("Groups list separated by \\r\\n or \\n"),
}

SUBSCRIPTION_PARAMS = [
    Param("username", _("Username")),
    Param("min", _("Quantity min")),
    Param("max", _("Quantity max")),
    Param(
        "posts",
        _(
            "Limits the number of new (future) posts that will be parsed and for which orders will be "
            "created. Without it, the subscription is for an unlimited number of posts."
        ),
        required=False,
    ),
    Param(
        "old_posts",
        _("Number of existing posts that will be parsed and for which orders will be created."),
        required=False,
    ),
    Param(
        "delay",
        format_lazy("{} {}", _("Delay in minutes. Possible values:"), ", ".join(map(str, ot.SUBSCRIPTION_DELAYS))),
    ),
    Param("expiry", _("Expiry date. Format d/m/Y"), required=False),
]

# Example values by parameter name; (type, name) where the type wants another kind of value.
EXAMPLE_VALUES: dict = {
    "link": "https://instagram.com/p/Cx1ab2",
    "quantity": 1000,
    "keywords": ["smm panel", "cheap followers"],
    "comments": ["Nice!", "Great post"],
    "usernames": ["alice", "bob"],
    "hashtags": ["#travel", "#food"],
    "hashtag": "#travel",
    "username": "commenter",
    ("Mentions User Followers", "username"): "https://instagram.com/nasa",
    ("Comment Replies", "username"): "alice",
    "media": "https://instagram.com/p/source",
    "answer_number": 2,
    "groups": ["https://t.me/group1", "https://t.me/group2"],
}


def _describe(spec: ot.OrderType, name: str):
    return PARAM_TEXT.get((spec.name, name)) or PARAM_TEXT.get(name) or name


def type_params(spec: ot.OrderType) -> list[Param]:
    """What an `add` of this type takes besides key, action and service, in the reference's order."""
    if spec.subscription:
        return list(SUBSCRIPTION_PARAMS)
    params = []
    if spec.needs_link:
        params.append(LINK)
    if spec.takes_quantity:
        params.append(QUANTITY)
    params += [Param(name, _describe(spec, name)) for name in spec.params]
    if spec.dripfeed_capable:
        params += [RUNS, INTERVAL]
    return params


def charged(spec: ot.OrderType):
    if spec.subscription:
        return _(
            "With posts: rate × max × (posts + old_posts) / 1000, paid when it is placed; "
            "without: each post's order as it is made"
        )
    if spec.charge == ot.ONCE:
        return _("rate, once per package")
    if spec.quantity == ot.QTY_LINES:
        return _("rate × lines of %(param)s / 1000") % {"param": spec.lines_param}
    return _("rate × quantity / 1000 (× runs with drip-feed)") if spec.dripfeed_capable else _("rate × quantity / 1000")


def _example_value(spec: ot.OrderType, name: str):
    return EXAMPLE_VALUES.get((spec.name, name), EXAMPLE_VALUES.get(name))


def type_example(spec: ot.OrderType, service_id: int, today: date | None = None) -> dict:
    """The fields of an example `add` of this type: the required parameters, with believable values."""
    fields: dict = {"service": service_id}
    if spec.subscription:
        expiry = (today or timezone.localdate()) + timedelta(days=365)
        fields.update(username="nasa", min=100, max=200, posts=5, delay=30, expiry=expiry.strftime("%d/%m/%Y"))
        return fields
    for param in type_params(spec):
        if param.required:
            fields[param.name] = _example_value(spec, param.name)
    return fields


# --- the actions --------------------------------------------------------------------------------

SERVICES_ANSWER = [
    {
        "service": 1,
        "name": "Followers",
        "type": "Default",
        "category": "First Category",
        "rate": "0.90",
        "min": "50",
        "max": "10000",
        "refill": True,
        "cancel": True,
        "dripfeed": False,
    },
    {
        "service": 2,
        "name": "Comments",
        "type": "Custom Comments",
        "category": "Second Category",
        "rate": "8",
        "min": "10",
        "max": "1500",
        "refill": False,
        "cancel": True,
        "dripfeed": False,
    },
]
STATUS_ANSWER = {"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", "currency": "USD"}
SUBSCRIPTION_STATUS_ANSWER = {
    "charge": "1.40000",
    "start_count": "0",
    "status": "Active",
    "remains": "0",
    "currency": "USD",
    "posts": "2",
    "orders": [23502, 23503],
}
ORDERS = Param("orders", _("Order IDs (separated by a comma, up to 100 IDs)"))
SINGLE, MULTI = _("One"), _("Several")

ACTIONS = [
    Action(
        "services",
        _("Service list"),
        _("Every service on sale: rate per 1000 (per package for Package types), limits and options."),
        [],
        [Example({}, SERVICES_ANSWER)],
    ),
    Action(
        "add",
        _("Add order"),
        _("Places an order and charges it to your balance. The parameters depend on the service's type: see below."),
        [Param("service", _("Service ID"))],
        [Example({"service": 1, "link": EXAMPLE_VALUES["link"], "quantity": 1000}, {"order": 23501})],
    ),
    Action(
        "status",
        _("Order status"),
        _("What an order cost after refunds, its start count, status and what remains to deliver."),
        [Param("order", _("Order ID")), ORDERS],
        [
            Example({"order": 1}, STATUS_ANSWER, SINGLE),
            Example(
                {"orders": "1,10,100"},
                {
                    "1": STATUS_ANSWER,
                    "10": {"error": "Incorrect order ID"},
                    "100": {
                        "charge": "1.44219",
                        "start_count": "234",
                        "status": "In progress",
                        "remains": "10",
                        "currency": "USD",
                    },
                },
                MULTI,
            ),
        ],
    ),
    Action(
        "refill",
        _("Create refill"),
        _("Asks for a refill of a completed order, on a service with refill, within its refill period."),
        [Param("order", _("Order ID")), ORDERS],
        [
            Example({"order": 1}, {"refill": "1"}, SINGLE),
            Example(
                {"orders": "1,2,3"},
                [
                    {"order": 1, "refill": 1},
                    {"order": 2, "refill": 2},
                    {"order": 3, "refill": {"error": "Incorrect order ID"}},
                ],
                MULTI,
            ),
        ],
    ),
    Action(
        "refill_status",
        _("Refill status"),
        _("Where a refill stands: Pending, In progress, Completed or Rejected."),
        [Param("refill", _("Refill ID")), Param("refills", _("Refill IDs (separated by a comma, up to 100 IDs)"))],
        [
            Example({"refill": 1}, {"status": "Completed"}, SINGLE),
            Example(
                {"refills": "1,2,3"},
                [
                    {"refill": 1, "status": "Completed"},
                    {"refill": 2, "status": "Rejected"},
                    {"refill": 3, "status": {"error": "Refill not found"}},
                ],
                MULTI,
            ),
        ],
    ),
    Action(
        "cancel",
        _("Cancel orders"),
        _(
            "Asks to cancel orders of services with cancel. 1 means accepted: the order ends Canceled "
            "(full refund) or, when part was delivered, Partial (the rest refunded)."
        ),
        [ORDERS],
        [
            Example(
                {"orders": "9,2"}, [{"order": 9, "cancel": {"error": "Incorrect order ID"}}, {"order": 2, "cancel": 1}]
            )
        ],
    ),
    Action(
        "balance",
        _("Balance"),
        _("Your balance, in USD with 5 decimal places."),
        [],
        [Example({}, {"balance": "100.84292", "currency": "USD"})],
    ),
]


# --- the same call, three ways -----------------------------------------------------------------------

# The client method of each action, for one id and for several (see smmpanel/client/api.py).
CLIENT_METHODS = {
    "services": ("services", None),
    "add": ("add", None),
    "status": ("status", "statuses"),
    "refill": ("refill", "refills"),
    "refill_status": ("refill_status", "refill_statuses"),
    "cancel": ("cancel", "cancel"),
    "balance": ("balance", None),
}
ID_FIELDS = {"order", "refill"}
MULTI_FIELDS = {"orders", "refills"}


def _form_text(value) -> str:
    """A value as the form field sends it (lists are lines)."""
    return "\n".join(map(str, value)) if isinstance(value, list) else str(value)


def _shell_word(text: str) -> str:
    if "\n" not in text:
        return shlex.quote(text)
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"$'{escaped}'"  # bash's quoting with escapes: a value of several lines


def curl(url: str, action: str, fields: dict) -> str:
    lines = [f"curl -X POST {shlex.quote(url)}", f"  -d key={KEY_PLACEHOLDER}", f"  -d action={action}"]
    lines += [f"  --data-urlencode {_shell_word(f'{name}={_form_text(value)}')}" for name, value in fields.items()]
    return " \\\n".join(lines)


def _python_args(fields: dict) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in fields.items())


def python(url: str, action: str, fields: dict) -> str:
    one, many = CLIENT_METHODS[action]
    fields = dict(fields)
    if action == "add":
        call = f"panel.add({fields.pop('service')!r}, {_python_args(fields)})"
        use = "order = " + call + "\n    print(order)"
    elif MULTI_FIELDS & set(fields):
        ids = [int(i) for i in _form_text(fields.popitem()[1]).split(",")]
        use = f"results = panel.{many}({ids!r})\n    for id_, result in results.items():\n        print(id_, result)"
    elif ID_FIELDS & set(fields):
        use = f"result = panel.{one}({int(fields.popitem()[1])!r})\n    print(result)"
    elif action == "services":
        use = "for service in panel.services():\n        print(service.service, service.name, service.rate)"
    else:
        use = "balance = panel.balance()\n    print(balance.amount, balance.currency)"
    return f"from smmpanel.client import Client\n\nwith Client({url!r}, {KEY_PLACEHOLDER!r}) as panel:\n    {use}"


def _php_string(value) -> str:
    if isinstance(value, int):
        return str(value)
    text = _form_text(value)
    if "\n" in text:
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
        return f'"{escaped}"'
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def php(url: str, action: str, fields: dict) -> str:
    items = {"key": KEY_PLACEHOLDER, "action": action, **fields}
    body = "\n".join(f"        {_php_string(name)} => {_php_string(value)}," for name, value in items.items())
    return (
        "<?php\n"
        f"$ch = curl_init({_php_string(url)});\n"
        "curl_setopt_array($ch, [\n"
        "    CURLOPT_POST => true,\n"
        "    CURLOPT_RETURNTRANSFER => true,\n"
        "    CURLOPT_POSTFIELDS => http_build_query([\n"
        f"{body}\n"
        "    ]),\n"
        "]);\n"
        "$answer = json_decode(curl_exec($ch), true);\n"
        "curl_close($ch);\n"
        "print_r($answer);"
    )


def code(url: str, action: str, fields: dict) -> dict[str, str]:
    return {"curl": curl(url, action, fields), "python": python(url, action, fields), "php": php(url, action, fields)}


def answer_json(answer) -> str:
    return json.dumps(answer, indent=2, ensure_ascii=False)


# --- the errors -------------------------------------------------------------------------------------

# Refusals a customer of the API never meets (the owner's admin actions), and a duplicate wording.
NOT_API_ERRORS = {"bad_transition", "missing"}
NUMBER_VALUES = {"minimum", "maximum", "days", "maximum_runs", "maximum_interval"}


def errors() -> list[str]:
    """Every refusal the API may answer, in its exact words (smmpanel.orders.messages), values as N or …."""
    texts = []
    for code, text in MESSAGES.items():
        if code in NOT_API_ERRORS:
            continue
        shown = re.sub(r"\{(\w+)\}", lambda m: "N" if m.group(1) in NUMBER_VALUES else "…", text)
        if shown not in texts:
            texts.append(shown)
    return texts


# --- the page -----------------------------------------------------------------------------------------


def slug(name: str) -> str:
    return "type-" + name.lower().replace(" ", "-")


def page(url: str, today: date | None = None) -> dict:
    """Everything the documentation template shows, for an API at `url`."""
    actions = []
    for action in ACTIONS:
        examples = [
            {"title": ex.title, "code": code(url, action.name, ex.fields), "answer": answer_json(ex.answer)}
            for ex in action.examples
        ]
        actions.append({"action": action, "examples": examples})
    types = []
    for number, spec in enumerate(ot.ORDER_TYPES, start=1):
        fields = type_example(spec, number, today)
        types.append(
            TypeDoc(
                name=spec.name,
                slug=slug(spec.name),
                params=type_params(spec),
                charged=charged(spec),
                example=Example(fields, {"order": 23501}),
                code=code(url, "add", fields),
            )
        )
    return {
        "url": url,
        "actions": actions,
        "types": types,
        "add_answer": answer_json({"order": 23501}),
        "errors": errors(),
        "subscription_answer": answer_json(SUBSCRIPTION_STATUS_ANSWER),
    }
