"""Mass order: every line checked first, errors by line number, all placed in one go or none at all."""

from decimal import Decimal

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

MASS = reverse("web:mass-order")


@pytest.fixture
def shopper(customer, client):
    cust = customer("100")
    client.force_login(cust.user)
    return cust


def test_good_lines_are_all_placed_and_charged(shopper, client, service):
    svc = service(rate="1", min=10, max=10000)
    package = service("Package", rate="5", min=1, max=1)
    lines = f"{svc.pk}|https://x.com/1|100\r\n\r\n{svc.pk} | https://x.com/2 | 200\n{package.pk}|https://x.com/3\n"
    response = client.post(MASS, {"orders": lines})
    assert response.status_code == 302 and response["Location"] == reverse("web:orders")
    assert sorted(shopper.orders().values_list("link", "quantity")) == [
        ("https://x.com/1", 100),
        ("https://x.com/2", 200),
        ("https://x.com/3", 1),
    ]
    assert shopper.balance() == Decimal("94.7")


def test_one_bad_line_places_nothing_and_names_its_line(shopper, client, service):
    svc = service(rate="1", min=10, max=10000)
    off = service(rate="1", active=False)
    lines = "\n".join(
        [
            f"{svc.pk}|https://x.com/1|100",
            f"{svc.pk}|https://x.com/2|5",
            f"{off.pk}|https://x.com/3|100",
            "999999|https://x.com/4|100",
            f"{svc.pk}|https://x.com/5",
            "just words",
        ]
    )
    page = client.post(MASS, {"orders": lines}).content.decode()
    assert "Nothing was placed" in page
    assert "<strong>Line 2</strong>: <code>" in page and "Quantity less than minimal 10" in page
    assert "<strong>Line 3</strong>" in page and page.count("Incorrect service ID") == 2
    assert "<strong>Line 5</strong>" in page and "<strong>Line 6</strong>" in page
    assert "<strong>Line 1</strong>" not in page
    assert not shopper.orders().exists() and shopper.balance() == Decimal(100)


def test_lines_that_together_cost_more_than_the_balance_place_nothing(customer, client, service):
    poor = customer("1.5")
    client.force_login(poor.user)
    svc = service(rate="1", min=10, max=10000)
    lines = f"{svc.pk}|https://x.com/1|1000\n{svc.pk}|https://x.com/2|1000"  # 1 USD each: each alone would do
    page = client.post(MASS, {"orders": lines}).content.decode()
    assert "Not enough funds on balance: these orders cost 2.00 USD, the balance is 1.50 USD." in page
    assert not poor.orders().exists()


def test_a_refusal_while_placing_rolls_back_the_lines_placed_before_it(shopper, client, service):
    svc = service(rate="1", min=10, max=10000)
    # Both lines are valid alone; the second is refused only when placed (one active order per link).
    lines = f"{svc.pk}|https://x.com/same|100\n{svc.pk}|https://x.com/same|200"
    page = client.post(MASS, {"orders": lines}).content.decode()
    assert "<strong>Line 2</strong>" in page and "You have active order with this link" in page
    assert not shopper.orders().exists() and shopper.balance() == Decimal(100)


def test_a_double_submit_places_the_list_once(shopper, client, service):
    svc = service(rate="1", min=10, max=10000)
    data = {"orders": f"{svc.pk}|https://x.com/1|100\n{svc.pk}|https://x.com/2|100", "token": "mass-1"}
    assert client.post(MASS, data).status_code == 302
    assert client.post(MASS, data).status_code == 302
    assert shopper.orders().count() == 2 and shopper.balance() == Decimal("99.8")


def test_an_empty_list_is_refused(shopper, client):
    page = client.post(MASS, {"orders": "  \n \n"}).content.decode()
    assert "This field is required." in page


def test_a_line_with_a_script_is_shown_escaped(shopper, client, service):
    page = client.post(MASS, {"orders": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_check_shows_each_lines_charge_and_the_total_and_places_nothing(shopper, client, service):
    svc = service(rate="1", min=10, max=10000, name="Likes")
    lines = f"{svc.pk}|https://x.com/1|100\n{svc.pk}|https://x.com/2|2500"
    page = client.post(MASS, {"orders": lines, "check": "1"}).content.decode()
    assert f"{svc.pk} · Likes" in page and ">0.10<" in page and ">2.50<" in page
    assert "2 orders, 2.60 USD in all." in page
    assert not shopper.orders().exists()
    bad = client.post(MASS, {"orders": f"{lines}\n{svc.pk}|https://x.com/3|1", "check": "1"}).content.decode()
    assert "<strong>Line 3</strong>" in bad and "USD in all" not in bad
