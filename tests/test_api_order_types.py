"""`add` for each of the 16 order types: charges, stored parameters, and every refusal."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from smmpanel.catalog.order_types import BY_NAME, LIST, SUBSCRIPTION_DELAYS
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Order
from smmpanel.orders.services import apply_status
from tests.conftest import ENCODINGS, ORDER_EXAMPLES, new_link

TYPES = list(ORDER_EXAMPLES)
NON_SUBSCRIPTION_TYPES = [t for t in TYPES if t != "Subscriptions"]
QUANTITY_TYPES = [t for t in TYPES if BY_NAME[t].takes_quantity]
DELAYS = ", ".join(map(str, SUBSCRIPTION_DELAYS))


@pytest.fixture
def example(customer, service):
    """example(type, **overrides) -> (customer, service, request fields) of the reference example."""

    def make(type_name, balance="100", service_fields=None, **overrides):
        svc_fields, params, *_ = ORDER_EXAMPLES[type_name]
        svc = service(type_name, **{**svc_fields, **(service_fields or {})})
        fields = {**params, **overrides}
        return customer(balance), svc, {k: v for k, v in fields.items() if v is not None}

    return make


@pytest.fixture
def refused(api):
    """refused(cust, svc, fields, error): the add gets exactly `error`, no order, no money moved."""

    def check(cust, svc, fields, error, via="form"):
        balance, rows = cust.balance(), LedgerEntry.objects.count()
        orders = Order.objects.count()
        assert api(cust.key, "add", via=via, service=svc.pk, **fields) == {"error": error}
        assert Order.objects.count() == orders
        assert LedgerEntry.objects.count() == rows
        assert cust.balance() == balance == cust.ledger_sum()

    return check


# --- the reference examples -------------------------------------------------------------------


@pytest.mark.parametrize("via", ENCODINGS)
@pytest.mark.parametrize("type_name", TYPES)
def test_the_reference_example_add_of_each_type_is_charged_and_stored(api, example, type_name, via):
    cust, svc, fields = example(type_name)
    _, _, quantity, charge, stored = ORDER_EXAMPLES[type_name]

    body = api(cust.key, "add", via=via, service=svc.pk, **fields)

    assert list(body) == ["order"] and type(body["order"]) is int
    order = Order.objects.get(pk=body["order"])
    assert order.account_id == cust.account.pk and order.service_id == svc.pk
    assert order.type == type_name
    assert order.quantity == quantity and order.total == quantity
    assert order.charge == Decimal(charge)
    assert order.params == stored
    assert order.link == (fields.get("link") or fields["username"])
    assert cust.balance() == Decimal(100) - Decimal(charge) == cust.ledger_sum()
    charge_rows = LedgerEntry.objects.filter(order=order, kind="charge")
    assert [row.amount for row in charge_rows] == [-Decimal(charge)]

    status = api(cust.key, "status", order=order.pk)
    assert status["charge"] == charge
    assert status["status"] == ("Active" if type_name == "Subscriptions" else "Pending")


def test_a_subscription_status_adds_posts_and_its_orders(api, example):
    cust, svc, fields = example("Subscriptions")
    order_id = api(cust.key, "add", service=svc.pk, **fields)["order"]
    body = api(cust.key, "status", order=order_id)
    assert body == {
        "charge": "1.40000",
        "start_count": "0",
        "status": "Active",
        "remains": "0",
        "currency": "USD",
        "posts": "0",
        "orders": [],
    }


def test_custom_comments_count_only_non_empty_lines(api, example):
    cust, svc, fields = example("Custom Comments", comments="a\n\n\r\n \nb\r\nc\n")
    order = Order.objects.get(pk=api(cust.key, "add", service=svc.pk, **fields)["order"])
    assert order.quantity == 3 and order.charge == Decimal("0.02400")


def test_a_quantity_sent_with_a_lines_type_is_ignored(api, example):
    cust, svc, fields = example("Mentions Custom List", quantity="999")
    order = Order.objects.get(pk=api(cust.key, "add", service=svc.pk, **fields)["order"])
    assert order.quantity == 3 and order.charge == Decimal("0.03000")


@pytest.mark.parametrize(
    "rate, quantity, charge",
    [
        ("0.00005", "500", "0.00003"),  # 0.000025: half-up, not half-even
        ("0.00005", "300", "0.00002"),  # 0.000015
        ("0.00001", "499", "0.00000"),  # 0.00000499
        ("1.23457", "333", "0.41111"),  # 0.41111181
        ("0.33333", "1001", "0.33366"),  # 0.33366333
    ],
)
def test_charges_are_rounded_to_five_places_half_up(api, customer, service, rate, quantity, charge):
    cust = customer("10")
    svc = service(rate=rate, min=1, max=100000)
    order_id = api(cust.key, "add", service=svc.pk, link=new_link(), quantity=quantity)["order"]
    assert api(cust.key, "status", order=order_id)["charge"] == charge
    assert cust.balance() == Decimal(10) - Decimal(charge) == cust.ledger_sum()


def test_packages_charge_the_rate_once_whatever_the_lines(api, example):
    cust, svc, fields = example("Custom Comments Package", comments="\n".join(f"c{i}" for i in range(50)))
    order = Order.objects.get(pk=api(cust.key, "add", service=svc.pk, **fields)["order"])
    assert order.charge == Decimal("7.5")


def test_an_add_the_balance_cannot_pay_is_refused(example, refused):
    cust, svc, fields = example("Default", balance="0.89999")
    refused(cust, svc, fields, "Not enough funds on balance")


def test_an_add_costing_exactly_the_balance_succeeds(api, example):
    cust, svc, fields = example("Default", balance="0.9")
    assert "order" in api(cust.key, "add", service=svc.pk, **fields)
    assert cust.balance() == 0


def test_a_free_order_is_placed_without_funds(api, customer, service):
    cust = customer("0")
    svc = service(rate="0", min=1)
    assert "order" in api(cust.key, "add", service=svc.pk, link=new_link(), quantity="10")
    assert cust.balance() == 0 == cust.ledger_sum()


# --- missing parameters --------------------------------------------------------------------


def _required_fields(type_name):
    spec = BY_NAME[type_name]
    if spec.subscription:
        return ["username", "min", "max", "delay"]
    return ["link", *(["quantity"] if spec.takes_quantity else []), *spec.params]


@pytest.mark.parametrize("type_name, field", [(t, f) for t in TYPES for f in _required_fields(t)])
@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_missing_parameter_is_an_incorrect_request(example, refused, type_name, field, blank):
    cust, svc, fields = example(type_name, **{field: blank})
    refused(cust, svc, fields, "Incorrect request")


@pytest.mark.parametrize("type_name", [t for t in TYPES if LIST in BY_NAME[t].params.values()])
def test_an_all_blank_list_is_refused(example, refused, type_name):
    list_param = next(n for n, k in BY_NAME[type_name].params.items() if k == LIST)
    cust, svc, fields = example(type_name, **{list_param: "\n \r\n\t\n"})
    refused(cust, svc, fields, "Incorrect request")


# --- links -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "not a link",
        "instagram.com/p/x",
        "ftp://example.com/a",
        "javascript:alert(1)",
        "http://",
        "https://exa mple.com/a",
        "https://example.com/a b",
        "https://" + "a" * 500 + ".com",
        "https://example.com/\npost",
    ],
)
@pytest.mark.parametrize("type_name", NON_SUBSCRIPTION_TYPES)
def test_a_bad_link_is_refused(example, refused, type_name, link):
    cust, svc, fields = example(type_name, link=link)
    refused(cust, svc, fields, "Bad link")


def test_a_link_is_stored_trimmed(api, example):
    cust, svc, fields = example("Default", link="  https://example.com/trim \n")
    order = Order.objects.get(pk=api(cust.key, "add", service=svc.pk, **fields)["order"])
    assert order.link == "https://example.com/trim"


# --- quantity limits ----------------------------------------------------------------------------


@pytest.mark.parametrize("type_name", QUANTITY_TYPES)
def test_a_quantity_outside_the_services_limits_is_refused(example, refused, type_name):
    svc_fields = ORDER_EXAMPLES[type_name][0]
    low, high = svc_fields["min"], svc_fields["max"]
    cust, svc, fields = example(type_name, quantity=str(low - 1))
    refused(cust, svc, fields, f"Quantity less than minimal {low}")
    refused(cust, svc, {**fields, "quantity": str(high + 1)}, f"Quantity more than maximum {high}")


@pytest.mark.parametrize("type_name", QUANTITY_TYPES)
def test_the_limits_themselves_are_allowed(api, example, type_name):
    svc_fields = ORDER_EXAMPLES[type_name][0]
    cust, svc, fields = example(type_name, quantity=str(svc_fields["min"]))
    assert "order" in api(cust.key, "add", service=svc.pk, **fields)
    fields["link"] = new_link()
    fields["quantity"] = str(svc_fields["max"])
    assert "order" in api(cust.key, "add", service=svc.pk, **fields)


@pytest.mark.parametrize("quantity", ["abc", "1.5", "-100", "1e3", "100 000", "0x100", "١٠٠", "１００", "+"])
def test_a_quantity_that_is_not_a_whole_number_is_refused(example, refused, quantity):
    cust, svc, fields = example("Default", quantity=quantity)
    refused(cust, svc, fields, "Quantity must be a whole number")


@pytest.mark.parametrize(
    "quantity",
    ["10001", "1999999999", "999999999999", "9" * 13, "99999999999999999999999", "+" + "9" * 30, "9" * 100_000],
)
def test_a_huge_quantity_is_more_than_the_maximum(example, refused, quantity):
    # All digits is a whole number, however long: above the maximum, not "not a number".
    cust, svc, fields = example("Default", quantity=quantity)
    refused(cust, svc, fields, "Quantity more than maximum 10000")


def test_leading_zeros_do_not_make_a_quantity_huge(api, example):
    cust, svc, fields = example("Default", quantity="0" * 30 + "1000")
    order = Order.objects.get(pk=api(cust.key, "add", service=svc.pk, **fields)["order"])
    assert order.quantity == 1000


@pytest.mark.parametrize(
    "type_name, lines, error",
    [
        ("Custom Comments", 1, "Quantity less than minimal 2"),
        ("Custom Comments", 5, "Quantity more than maximum 4"),
        ("Mentions Custom List", 1, "Quantity less than minimal 2"),
        ("Comment Replies", 5, "Quantity more than maximum 4"),
    ],
)
def test_line_counted_quantities_obey_the_limits_too(example, refused, type_name, lines, error):
    list_param = BY_NAME[type_name].lines_param
    cust, svc, fields = example(
        type_name, service_fields={"min": 2, "max": 4}, **{list_param: "\n".join(f"line {i}" for i in range(lines))}
    )
    refused(cust, svc, fields, error)


# --- per-type parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "type_name, field, value, error",
    [
        ("Mentions Hashtag", "hashtag", "#one\n#two", "Incorrect hashtag"),
        ("Mentions Hashtag", "hashtag", "#" + "x" * 400, "Incorrect hashtag"),
        ("Mentions Media Likers", "media", "not a url", "Incorrect media"),
        ("Mentions Media Likers", "media", "ftp://example.com/p", "Incorrect media"),
        ("Poll", "answer_number", "abc", "Incorrect answer_number"),
        ("Poll", "answer_number", "0", "Incorrect answer_number"),
        ("Poll", "answer_number", "-1", "Incorrect answer_number"),
        ("Comment Likes", "username", "not a user!", "Bad username"),
        ("Mentions User Followers", "username", "two words", "Bad username"),
        ("Comment Replies", "username", "a/b?c", "Bad username"),
        ("Custom Comments", "comments", "x" * 1001, "A line of the comments list is longer than 1000 characters"),
        ("Mentions", "usernames", "\n".join(["u"] * 10001), "The usernames list has more than 10000 lines"),
    ],
)
def test_bad_type_parameters_are_refused_with_their_reason(example, refused, type_name, field, value, error):
    cust, svc, fields = example(type_name, **{field: value})
    refused(cust, svc, fields, error)


@pytest.mark.parametrize("username", ["nasa", "@nasa", "user.name_1-2", "https://instagram.com/nasa"])
def test_usernames_may_be_handles_or_profile_links(api, example, username):
    cust, svc, fields = example("Comment Likes", username=username)
    order = Order.objects.get(pk=api(cust.key, "add", service=svc.pk, **fields)["order"])
    assert order.params["username"] == username


# --- drip-feed ---------------------------------------------------------------------------------


def test_drip_feed_charges_every_run_up_front(api, example):
    cust, svc, fields = example("Default", service_fields={"dripfeed": True}, quantity="1000", runs="5", interval="30")
    order = Order.objects.get(pk=api(cust.key, "add", service=svc.pk, **fields)["order"])
    assert (order.quantity, order.runs, order.interval, order.total) == (1000, 5, 30, 5000)
    assert order.charge == Decimal("4.50000")
    assert cust.balance() == Decimal("95.50000") == cust.ledger_sum()
    assert api(cust.key, "status", order=order.pk)["remains"] == "5000"


def test_drip_feed_limits_apply_to_each_run_not_the_total(api, example):
    cust, svc, fields = example("Default", service_fields={"dripfeed": True}, quantity="10000", runs="3", interval="60")
    order = Order.objects.get(pk=api(cust.key, "add", service=svc.pk, **fields)["order"])
    assert order.total == 30000 and order.charge == Decimal("27.00000")


@pytest.mark.parametrize(
    "overrides, error",
    [
        ({"runs": "5"}, "Drip-feed needs both runs and interval"),
        ({"interval": "5"}, "Drip-feed needs both runs and interval"),
        ({"runs": "5", "interval": " "}, "Drip-feed needs both runs and interval"),
        ({"runs": "0", "interval": "5"}, "Runs must be a whole number from 1 to 1000"),
        ({"runs": "1001", "interval": "5"}, "Runs must be a whole number from 1 to 1000"),
        ({"runs": "two", "interval": "5"}, "Runs must be a whole number from 1 to 1000"),
        ({"runs": "2", "interval": "0"}, "Interval must be a whole number of minutes from 1 to 43200"),
        ({"runs": "2", "interval": "1.5"}, "Interval must be a whole number of minutes from 1 to 43200"),
        ({"runs": "2", "interval": "43201"}, "Interval must be a whole number of minutes from 1 to 43200"),
        ({"runs": "2", "interval": "5", "quantity": "49"}, "Quantity less than minimal 50"),
        ({"runs": "2", "interval": "5", "quantity": "10001"}, "Quantity more than maximum 10000"),
    ],
)
def test_drip_feed_rules(example, refused, overrides, error):
    cust, svc, fields = example("Default", service_fields={"dripfeed": True}, **overrides)
    refused(cust, svc, fields, error)


def test_drip_feed_on_a_service_without_it_is_refused(example, refused):
    cust, svc, fields = example("Default", runs="2", interval="5")
    refused(cust, svc, fields, "Drip-feed is disabled for this service")


@pytest.mark.parametrize("type_name", [t for t in NON_SUBSCRIPTION_TYPES if t != "Default"])
def test_drip_feed_is_only_for_default_orders(example, refused, type_name):
    cust, svc, fields = example(type_name, service_fields={"dripfeed": True}, runs="2", interval="5")
    refused(cust, svc, fields, "Drip-feed is disabled for this service")


def test_drip_feed_the_balance_cannot_pay_in_full_is_refused(example, refused):
    cust, svc, fields = example(
        "Default", balance="4", service_fields={"dripfeed": True}, quantity="1000", runs="5", interval="10"
    )
    refused(cust, svc, fields, "Not enough funds on balance")


def test_a_drip_feed_too_big_for_any_balance_is_refused_not_a_fault(api, customer, service):
    # 10 million per run × 1000 runs: ten billion units, more than a 32-bit column holds.
    cust = customer("100")
    svc = service(rate="0.01", min=100, max=10_000_000, dripfeed=True)
    balance = cust.balance()
    body = api(cust.key, "add", service=svc.pk, link=new_link(), quantity="10000000", runs="1000", interval="1")
    assert body == {"error": "Quantity × runs must not be more than 2000000000"}
    assert Order.objects.count() == 0 and cust.balance() == balance


# --- subscriptions -------------------------------------------------------------------------


def test_a_subscription_without_posts_charges_nothing_up_front(api, example):
    cust, svc, fields = example("Subscriptions", posts=None)
    order = Order.objects.get(pk=api(cust.key, "add", service=svc.pk, **fields)["order"])
    assert order.charge == 0 and "posts" not in order.params
    assert cust.balance() == Decimal(100) == cust.ledger_sum()
    assert api(cust.key, "status", order=order.pk)["charge"] == "0.00000"


def test_a_subscription_with_posts_but_no_old_posts_charges_for_the_posts(api, example):
    cust, svc, fields = example("Subscriptions", old_posts=None, posts="10", max="300")
    order = Order.objects.get(pk=api(cust.key, "add", service=svc.pk, **fields)["order"])
    assert order.charge == Decimal("3.00000") and order.params["old_posts"] == 0


@pytest.mark.parametrize("delay", [str(d) for d in SUBSCRIPTION_DELAYS])
def test_every_listed_delay_is_accepted(api, example, delay):
    cust, svc, fields = example("Subscriptions", delay=delay)
    order = Order.objects.get(pk=api(cust.key, "add", service=svc.pk, **fields)["order"])
    assert order.params["delay"] == int(delay)


@pytest.mark.parametrize("delay", ["1", "7", "45", "601", "1000", "abc", "-5", "30.0"])
def test_a_delay_not_listed_is_refused(example, refused, delay):
    cust, svc, fields = example("Subscriptions", delay=delay)
    refused(cust, svc, fields, f"Incorrect delay. Possible values: {DELAYS}")


@pytest.mark.parametrize("expiry", ["2099-12-31", "12/31/2099", "31/13/2099", "31/02/2099", "tomorrow", "31/12/99"])
def test_an_expiry_not_in_d_m_y_is_refused(example, refused, expiry):
    cust, svc, fields = example("Subscriptions", expiry=expiry)
    refused(cust, svc, fields, "Incorrect expiry date: use the format d/m/Y, e.g. 31/12/2027")


def test_an_expiry_in_the_past_is_refused(example, refused):
    yesterday = timezone.localdate() - timedelta(days=1)
    cust, svc, fields = example("Subscriptions", expiry=yesterday.strftime("%d/%m/%Y"))
    refused(cust, svc, fields, "Expiry date is in the past")


def test_an_expiry_of_today_is_accepted(api, example):
    today = timezone.localdate()
    cust, svc, fields = example("Subscriptions", expiry=today.strftime("%d/%m/%Y"))
    order = Order.objects.get(pk=api(cust.key, "add", service=svc.pk, **fields)["order"])
    assert order.params["expiry"] == today.isoformat()


@pytest.mark.parametrize(
    "overrides, error",
    [
        ({"min": "300", "max": "200"}, "Min must not be more than max"),
        ({"min": "5"}, "Quantity less than minimal 10"),
        ({"max": "1001"}, "Quantity more than maximum 1000"),
        ({"min": "ten"}, "Min must be a whole number"),
        ({"max": "2.5"}, "Max must be a whole number"),
        ({"posts": "0"}, "Posts must be a whole number from 1 to 100000"),
        ({"posts": "100001"}, "Posts must be a whole number from 1 to 100000"),
        ({"posts": "many"}, "Posts must be a whole number from 1 to 100000"),
        ({"old_posts": "1001"}, "Old posts must be a whole number from 0 to 1000"),
        ({"old_posts": "-1"}, "Old posts must be a whole number from 0 to 1000"),
        ({"username": "not a user!"}, "Bad username"),
    ],
)
def test_subscription_rules(example, refused, overrides, error):
    cust, svc, fields = example("Subscriptions", **overrides)
    refused(cust, svc, fields, error)


def test_a_subscription_the_balance_cannot_prepay_is_refused(example, refused):
    cust, svc, fields = example("Subscriptions", balance="1.39999")
    refused(cust, svc, fields, "Not enough funds on balance")


def test_a_subscription_too_big_for_any_balance_is_refused_not_a_fault(api, customer, service):
    cust = customer("100")
    svc = service("Subscriptions", rate="1000", min=1, max=2_000_000_000)
    body = api(
        cust.key,
        "add",
        service=svc.pk,
        username="nasa",
        min="1",
        max="2000000000",
        posts="100000",
        old_posts="1000",
        delay="0",
    )
    assert body == {"error": "Not enough funds on balance"}
    assert Order.objects.count() == 0 and cust.balance() == Decimal(100)


# --- the duplicate-link rule ------------------------------------------------------------------

DUPLICATE = "You have active order with this link. Please wait until order being completed."


@pytest.mark.parametrize("type_name", TYPES)
def test_a_second_add_with_the_same_link_is_refused_while_the_first_is_active(api, example, refused, type_name):
    cust, svc, fields = example(type_name)
    assert "order" in api(cust.key, "add", service=svc.pk, **fields)
    refused(cust, svc, fields, DUPLICATE)


@pytest.mark.parametrize("status", ["In progress", "Processing"])
def test_the_link_stays_taken_while_the_order_is_being_worked_on(api, example, refused, status):
    cust, svc, fields = example("Default")
    apply_status(api(cust.key, "add", service=svc.pk, **fields)["order"], status)
    refused(cust, svc, fields, DUPLICATE)


@pytest.mark.parametrize("status, remains", [("Completed", None), ("Partial", 100), ("Canceled", None)])
def test_the_link_is_free_again_once_the_order_is_final(api, example, status, remains):
    cust, svc, fields = example("Default")
    apply_status(api(cust.key, "add", service=svc.pk, **fields)["order"], status, remains=remains)
    assert "order" in api(cust.key, "add", service=svc.pk, **fields)


def test_the_same_link_on_another_service_is_allowed(api, example, service):
    cust, svc, fields = example("Default")
    other = service("Default", rate="1", min=50, max=10000)
    assert "order" in api(cust.key, "add", service=svc.pk, **fields)
    assert "order" in api(cust.key, "add", service=other.pk, **fields)


def test_the_link_is_compared_after_trimming(api, example, refused):
    cust, svc, fields = example("Default")
    assert "order" in api(cust.key, "add", service=svc.pk, **fields)
    refused(cust, svc, {**fields, "link": f"  {fields['link']}  "}, DUPLICATE)


def test_a_subscription_username_counts_as_its_link(api, example, refused):
    cust, svc, fields = example("Subscriptions")
    assert "order" in api(cust.key, "add", service=svc.pk, **fields)
    refused(cust, svc, {**fields, "min": "150", "posts": "1"}, DUPLICATE)
