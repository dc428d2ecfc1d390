"""The new-order form: the fields of each service's type, the live charge, errors by their field, one order per form."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from smmpanel.orders.models import Order, Status
from tests.conftest import ORDER_EXAMPLES

pytestmark = pytest.mark.django_db

NEW = reverse("web:new-order")


@pytest.fixture
def shopper(customer, client):
    """A signed-in customer with 100 USD, and the client they browse with."""
    cust = customer("100")
    client.force_login(cust.user)
    return cust


def field_error(page: str, name: str) -> str:
    """The error shown under the field `name` ('' when there is none)."""
    match = re.search(rf'<div class="field has-error" id="field-{name}">(.*?)</div>', page, re.S)
    return match[1] if match else ""


def placed(response) -> Order:
    assert response.status_code == 302, response.content.decode()[:2000]
    order_id = int(re.search(r"/orders/(\d+)/", response["Location"])[1])
    return Order.objects.get(pk=order_id)


def test_the_form_needs_a_signed_in_customer(client, service):
    service()
    response = client.get(NEW)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_preselected_service_shows_its_facts_and_only_its_fields(shopper, client, service):
    svc = service(
        "Custom Comments", rate="8", min=1, max=1500, refill=True, cancel=False, description="Real <b>people</b>"
    )
    page = client.get(NEW, {"service": svc.pk}).content.decode()
    assert f'<option value="{svc.pk}" selected>' in page
    assert 'name="link"' in page and 'name="comments"' in page
    assert 'name="quantity"' not in page  # the comments are the quantity
    assert 'name="runs"' not in page  # no drip-feed for this service
    assert "Real &lt;b&gt;people&lt;/b&gt;" in page
    assert "Rate per 1000" in page and "1500" in page
    assert "Refill 30 days" in page and "No cancel" in page


def test_choosing_a_category_lists_only_its_services(shopper, client, service):
    a = service(category="Instagram", name="IG likes")
    b = service(category="YouTube", name="YT views")
    page = client.get(reverse("web:order-fields"), {"category": b.category_id, "changed": "category"}).content.decode()
    assert "YT views" in page and "IG likes" not in page
    page = client.get(reverse("web:order-fields"), {"service": a.pk}).content.decode()
    assert "IG likes" in page and "YT views" not in page


def test_a_default_order_is_placed_charged_and_shown(shopper, client, service):
    svc = service(rate="0.90", min=50, max=10000)
    response = client.post(
        NEW, {"service": svc.pk, "link": "https://instagram.com/p/x", "quantity": "1000", "token": "t1"}
    )
    order = placed(response)
    assert (order.account_id, order.quantity, order.charge) == (shopper.account.pk, 1000, Decimal("0.9"))
    assert shopper.balance() == Decimal("99.1")
    page = client.get(response["Location"]).content.decode()
    assert f"Order #{order.pk} placed." in page


def test_a_custom_comments_order_counts_its_lines(shopper, client, service):
    svc = service("Custom Comments", rate="8", min=1, max=1500)
    order = placed(
        client.post(NEW, {"service": svc.pk, "link": "https://instagram.com/p/c", "comments": "Nice!\r\nWow\r\n\r\n"})
    )
    assert order.quantity == 2 and order.params == {"comments": "Nice!\r\nWow\r\n\r\n"}
    assert order.charge == Decimal("0.016")


def test_a_poll_order_takes_its_answer_number(shopper, client, service):
    svc = service("Poll", rate="3", min=10, max=5000)
    order = placed(
        client.post(NEW, {"service": svc.pk, "link": "https://t.me/c/1", "quantity": "100", "answer_number": "2"})
    )
    assert order.params == {"answer_number": "2"} and order.charge == Decimal("0.3")


def test_a_drip_feed_order_is_placed_only_when_switched_on(shopper, client, service):
    svc = service(rate="1", min=10, max=1000, dripfeed=True)
    fields = {"service": svc.pk, "link": "https://x.com/1", "quantity": "100", "runs": "5", "interval": "30"}
    page = client.get(NEW, {"service": svc.pk}).content.decode()
    assert 'name="dripfeed"' in page and 'name="runs"' in page and 'name="interval"' in page
    plain = placed(client.post(NEW, fields))
    assert plain.runs is None and plain.total == 100
    drip = placed(client.post(NEW, {**fields, "link": "https://x.com/2", "dripfeed": "on"}))
    assert (drip.runs, drip.interval, drip.total, drip.charge) == (5, 30, 500, Decimal("0.5"))


def test_a_subscription_is_placed_with_its_own_fields(shopper, client, service):
    svc = service("Subscriptions", rate="1", min=10, max=1000)
    page = client.get(NEW, {"service": svc.pk}).content.decode()
    for name in ("username", "min", "max", "posts", "old_posts", "delay", "expiry"):
        assert f'name="{name}"' in page
    assert 'name="link"' not in page and 'type="date"' in page
    order = placed(
        client.post(
            NEW,
            {
                "service": svc.pk,
                "username": "nasa",
                "min": "100",
                "max": "200",
                "posts": "5",
                "old_posts": "2",
                "delay": "30",
                "expiry": "2099-12-31",
            },
        )
    )
    assert order.status == Status.ACTIVE and order.link == "nasa"
    assert order.params["expiry"] == "2099-12-31" and order.params["delay"] == 30
    assert order.charge == Decimal("1.4")


@pytest.mark.parametrize(
    ("typed", "field", "words"),
    [
        ({"quantity": "5"}, "quantity", "Quantity less than minimal 10"),
        ({"quantity": "20000"}, "quantity", "Quantity more than maximum 10000"),
        ({"quantity": "ten"}, "quantity", "Quantity must be a whole number"),
        ({"link": "not a link"}, "link", "Bad link"),
        ({"link": ""}, "link", "This field is required."),
        ({"dripfeed": "on", "runs": "0", "interval": "10"}, "runs", "Runs must be a whole number from 1 to 1000"),
        ({"dripfeed": "on", "runs": "2", "interval": ""}, "interval", "Drip-feed needs both runs and interval"),
    ],
)
def test_a_refusal_is_shown_next_to_its_field_and_nothing_is_placed(shopper, client, service, typed, field, words):
    svc = service(rate="1", min=10, max=10000, dripfeed=True)
    fields = {"service": svc.pk, "link": "https://x.com/1", "quantity": "100", **typed}
    response = client.post(NEW, fields)
    assert response.status_code == 200
    assert words in field_error(response.content.decode(), field)
    assert not shopper.orders().exists() and shopper.balance() == Decimal(100)


def test_a_subscription_refusal_goes_to_its_field(shopper, client, service):
    svc = service("Subscriptions", rate="1", min=10, max=1000)
    fields = {"service": svc.pk, "username": "nasa", "min": "300", "max": "200", "delay": "0", "expiry": "2000-01-01"}
    page = client.post(NEW, fields).content.decode()
    assert "Min must not be more than max" in field_error(page, "max")
    page = client.post(NEW, {**fields, "min": "100"}).content.decode()
    assert "Expiry date is in the past" in field_error(page, "expiry")


def test_too_little_balance_is_said_over_the_form(customer, client, service):
    poor = customer("0.5")
    client.force_login(poor.user)
    svc = service(rate="1", min=10, max=10000)
    response = client.post(NEW, {"service": svc.pk, "link": "https://x.com/1", "quantity": "1000"})
    page = response.content.decode()
    assert '<ul class="errorlist nonfield"><li>Not enough funds on balance</li></ul>' in page
    assert not poor.orders().exists()


def test_a_second_order_for_an_active_link_is_refused_at_the_link(shopper, client, service):
    svc = service(rate="1", min=10, max=10000)
    fields = {"service": svc.pk, "link": "https://x.com/1", "quantity": "100"}
    placed(client.post(NEW, fields))
    page = client.post(NEW, fields).content.decode()
    assert "You have active order with this link" in field_error(page, "link")


def test_a_double_submit_of_one_form_places_one_order(shopper, client, service):
    svc = service(rate="1", min=10, max=10000)
    fields = {"service": svc.pk, "link": "https://x.com/1", "quantity": "100", "token": "same-form"}
    first = placed(client.post(NEW, fields))
    second = placed(client.post(NEW, fields))
    assert first.pk == second.pk
    assert shopper.orders().count() == 1 and shopper.balance() == Decimal("99.9")


def test_the_token_of_a_refused_form_still_places_after_the_fix(shopper, client, service):
    svc = service(rate="1", min=10, max=10000)
    fields = {"service": svc.pk, "link": "https://x.com/1", "quantity": "1", "token": "form-1"}
    assert client.post(NEW, fields).status_code == 200
    assert placed(client.post(NEW, {**fields, "quantity": "100"})).quantity == 100


def test_a_used_form_sent_again_with_other_values_places_nothing_more(shopper, client, service):
    svc = service(rate="1", min=10, max=10000)
    fields = {"service": svc.pk, "link": "https://x.com/1", "quantity": "100", "token": "form-2"}
    placed(client.post(NEW, fields))
    page = client.post(NEW, {**fields, "link": "https://x.com/2"}).content.decode()
    assert "This form was already used to place an order" in page
    assert shopper.orders().count() == 1
    assert 'value="form-2"' not in page  # a fresh token for the next try


def test_the_live_charge_follows_the_quantity(shopper, client, service):
    svc = service(rate="0.90", min=50, max=10000, dripfeed=True)
    url = reverse("web:order-charge")
    assert "0.90 USD" in client.post(url, {"service": svc.pk, "quantity": "1000"}).content.decode()
    drip = {"service": svc.pk, "quantity": "1000", "dripfeed": "on", "runs": "3", "interval": "10"}
    assert "2.70 USD" in client.post(url, drip).content.decode()
    assert "Quantity less than minimal 50" in client.post(url, {"service": svc.pk, "quantity": "1"}).content.decode()
    assert "—" in client.post(url, {"service": svc.pk}).content.decode()


def test_the_live_charge_of_comments_counts_the_lines(shopper, client, service):
    svc = service("Custom Comments", rate="8", min=1, max=1500)
    fragment = client.post(reverse("web:order-charge"), {"service": svc.pk, "comments": "a\nb\nc"}).content.decode()
    assert "0.024 USD" in fragment


def test_a_form_for_a_service_taken_off_sale_places_nothing(shopper, client, service):
    svc = service(rate="1")
    other = service(rate="1", active=False)
    page = client.post(NEW, {"service": other.pk, "link": "https://x.com/1", "quantity": "100"}, follow=True)
    assert "Incorrect service ID" in page.content.decode()
    assert not shopper.orders().exists()
    assert svc.pk  # the form shown is for what is on sale


def test_typed_text_is_escaped_when_the_form_comes_back(shopper, client, service):
    svc = service("Custom Comments", rate="8", min=5, max=1500)
    page = client.post(
        NEW, {"service": svc.pk, "link": "https://x.com/<script>", "comments": "<script>alert(1)</script>"}
    ).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- a double click, for real: two requests at once against a real server ----------------------------------

RACE_SETUP = """
import json
from decimal import Decimal
from django.contrib.auth import get_user_model
from smmpanel.accounts.models import Account
from smmpanel.catalog.models import Category, Service
from smmpanel.ledger.services import deposit

user = get_user_model().objects.create_user("clicker", password="click-click-42")
account = Account.objects.create(user=user)
deposit(account, Decimal("10"))
service = Service.objects.create(name="Race", category=Category.objects.create(name="Race"), type="Default",
                                 rate=Decimal("1"), min=10, max=10000)
print(json.dumps({"service": service.pk, "account": account.pk}))
"""

RACE_INSPECT = """
import json
from smmpanel.accounts.models import Account
from smmpanel.orders.models import Order
pk = ACCOUNT
print(json.dumps({"orders": Order.objects.filter(account_id=pk).count(),
                  "balance": str(Account.objects.get(pk=pk).balance)}))
"""


def _signed_in(base: str):
    import httpx

    client = httpx.Client(base_url=base, timeout=60)
    client.get("/login/")
    token = client.cookies["csrftoken"]
    answer = client.post(
        "/login/", data={"username": "clicker", "password": "click-click-42", "csrfmiddlewaretoken": token}
    )
    assert answer.status_code == 302, answer.text[:500]
    return client


def _clicks(base: str, fields: dict, times: int) -> list:
    """`times` clients signed in as one customer send the same form at the same moment; their answers."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    clients = [_signed_in(base) for _ in range(times)]
    barrier = threading.Barrier(times)

    def one(client):
        data = {**fields, "csrfmiddlewaretoken": client.cookies["csrftoken"]}
        barrier.wait()
        return client.post("/order/", data=data)

    try:
        with ThreadPoolExecutor(times) as pool:
            return list(pool.map(one, clients))
    finally:
        for client in clients:
            client.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def click_database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/clicks.sqlite3"
    return request.getfixturevalue("throwaway_postgres_db")


@pytest.mark.own_databases  # its server's database, not the one under test (the module's django_db mark aside)
def test_two_clicks_at_once_on_one_form_place_one_order_and_both_see_it(panel_server, click_database):
    server = panel_server(click_database, workers=2, threads=4)
    world = server.python(RACE_SETUP)
    base = server.url.removesuffix("/api/v2")
    fields = {"service": str(world["service"]), "quantity": "100"}

    # The control: two forms (no shared token) for one link. One order; the other
    # click is told that the link has an active order, and sees no order of its own.
    control = _clicks(base, {**fields, "link": "https://example.com/control"}, 2)
    assert sorted(r.status_code for r in control) == [200, 302]
    assert "You have active order with this link" in next(r.text for r in control if r.status_code == 200)

    # One form clicked twice: one order, and both clicks land on its page.
    same = _clicks(base, {**fields, "link": "https://example.com/clicked", "token": "one-form"}, 2)
    assert [r.status_code for r in same] == [302, 302], [r.text[:300] for r in same]
    assert same[0].headers["location"] == same[1].headers["location"]
    state = server.python(RACE_INSPECT.replace("ACCOUNT", str(world["account"])))
    assert state == {"orders": 2, "balance": "9.80000"}


@pytest.mark.parametrize("type_name", list(ORDER_EXAMPLES))
def test_every_order_type_is_placed_through_its_own_fields_as_the_api_would(shopper, client, service, type_name):
    service_fields, request_fields, quantity, charge, params = ORDER_EXAMPLES[type_name]
    svc = service(type_name, **service_fields)
    page = client.get(NEW, {"service": svc.pk}).content.decode()
    shown = set(re.findall(r'<div class="field[^"]*" id="field-(\w+)">', page))
    assert shown == set(request_fields) | ({"posts", "old_posts", "expiry"} if type_name == "Subscriptions" else set())
    order = placed(client.post(NEW, {"service": svc.pk, **request_fields}))
    assert (order.type, order.quantity, str(order.charge), order.params) == (type_name, quantity, charge, params)


def test_a_category_that_does_not_hold_the_asked_service_shows_its_first_service(shopper, client, service):
    ig = service(category="Instagram", name="IG likes")
    yt = service(category="YouTube", name="YT views")
    page = client.get(NEW, {"category": yt.category_id, "service": ig.pk}).content.decode()
    assert f'<option value="{yt.pk}" selected>' in page and "IG likes" not in page


def test_the_live_charge_of_a_subscription_counts_its_posts_or_says_it_is_paid_per_post(shopper, client, service):
    svc = service("Subscriptions", rate="1", min=10, max=1000)
    url = reverse("web:order-charge")
    fields = {"service": svc.pk, "min": "100", "max": "200", "delay": "0"}
    assert "1.40 USD" in client.post(url, {**fields, "posts": "5", "old_posts": "2"}).content.decode()
    assert "Paid per post" in client.post(url, fields).content.decode()


def test_a_fragment_asked_for_after_signing_out_sends_the_whole_page_to_log_in(client, service):
    svc = service()
    answer = client.post(reverse("web:order-charge"), {"service": svc.pk}, headers={"HX-Request": "true"})
    assert answer.status_code == 200 and answer["HX-Redirect"] == "/login/?next=/order/"
    assert answer.content == b""
    plain = client.get(reverse("web:order-fields"), {"service": svc.pk})
    assert plain.status_code == 302 and plain["Location"] == "/login/?next=/order/"
