"""The 16 order types of API v2 and what each one takes: one table of specs.

Both the API and the web panel validate an order against these specs, and the
orders layer uses them to know how an order is charged and how many units it
delivers. Parameter names are the API's form fields.
"""

from dataclasses import dataclass, field

# How the quantity of an order is known.
QTY_PARAM = "param"  # the `quantity` field
QTY_LINES = "lines"  # the number of non-empty lines of `lines_param`
QTY_ONE = "one"  # a package: one unit
QTY_NONE = "none"  # a subscription: it delivers through the orders it makes, one per post

# How an order is charged.
PER_1000 = "per_1000"  # rate × quantity / 1000
ONCE = "once"  # rate, once (Package types)

# Kinds of parameter, for validation.
TEXT = "text"  # a short single-line value
URL = "url"  # an http(s) URL
LIST = "list"  # lines separated by \r\n or \n
INT = "int"  # a whole number


@dataclass(frozen=True)
class OrderType:
    name: str
    # Extra parameters beyond service/link/quantity: name -> kind. All required.
    params: dict = field(default_factory=dict)
    quantity: str = QTY_PARAM
    lines_param: str = ""  # with QTY_LINES (or the package's lines)
    charge: str = PER_1000
    needs_link: bool = True
    dripfeed_capable: bool = False
    subscription: bool = False

    @property
    def takes_quantity(self) -> bool:
        return self.quantity == QTY_PARAM


ORDER_TYPES = [
    OrderType("Default", dripfeed_capable=True),
    OrderType("Package", quantity=QTY_ONE, charge=ONCE),
    OrderType("SEO", params={"keywords": LIST}),
    OrderType("Custom Comments", params={"comments": LIST}, quantity=QTY_LINES, lines_param="comments"),
    OrderType("Mentions", params={"usernames": LIST}),
    OrderType("Mentions with Hashtags", params={"usernames": LIST, "hashtags": LIST}),
    OrderType("Mentions Custom List", params={"usernames": LIST}, quantity=QTY_LINES, lines_param="usernames"),
    OrderType("Mentions Hashtag", params={"hashtag": TEXT}),
    OrderType("Mentions User Followers", params={"username": TEXT}),
    OrderType("Mentions Media Likers", params={"media": URL}),
    OrderType("Subscriptions", needs_link=False, quantity=QTY_NONE, subscription=True),
    OrderType(
        "Custom Comments Package",
        params={"comments": LIST},
        quantity=QTY_LINES,
        lines_param="comments",
        charge=ONCE,
    ),
    OrderType("Comment Likes", params={"username": TEXT}),
    OrderType("Poll", params={"answer_number": INT}),
    OrderType(
        "Comment Replies",
        params={"username": TEXT, "comments": LIST},
        quantity=QTY_LINES,
        lines_param="comments",
    ),
    OrderType("Invites from Groups", params={"groups": LIST}),
]

BY_NAME = {t.name: t for t in ORDER_TYPES}
TYPE_CHOICES = [(t.name, t.name) for t in ORDER_TYPES]

# Subscription parameters (the Subscriptions type has its own validation).
SUBSCRIPTION_DELAYS = (0, 5, 10, 15, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480, 540, 600)


def get(name: str) -> OrderType:
    return BY_NAME[name]
