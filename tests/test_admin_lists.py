"""The admin's lists as an owner scans them: what the service search finds, the order list's columns and filters."""

import re

import pytest
from django.contrib.auth import get_user_model

from smmpanel.providers.models import Provider

pytestmark = pytest.mark.django_db

SERVICES = "/admin/catalog/service/"


@pytest.fixture
def owner_client(client, db):
    owner = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-owner-1")
    client.force_login(owner)
    return client


def listed(page) -> list[int]:
    return sorted(row.pk for row in page.context["cl"].result_list)


def test_the_service_search_finds_services_by_their_category(owner_client, service):
    followers = [service(category="Instagram Followers", name="Real people"), service(category="Instagram Followers")]
    service(category="YouTube Views", name="Fast views")
    page = owner_client.get(SERVICES, {"q": "instagram"})
    assert listed(page) == sorted(s.pk for s in followers)


ORDERS = "/admin/orders/order/"


def columns(page: str) -> list[str]:
    head = page.split('<table id="result_list">')[1].split("</thead>")[0]
    return re.findall(r'<th scope="col" class="[^"]*column-(\w+)', head)


def test_the_order_list_shows_state_and_money_before_who_and_what(owner_client, customer, service, place):
    place(customer("10"), service(), link="https://example.com/" + "x" * 200)
    page = owner_client.get(ORDERS).content.decode()
    assert columns(page)[:8] == [
        "id",
        "status",
        "needs_attention",
        "charge",
        "remains",
        "account",
        "service",
        "short_link",
    ]
    assert ">https://example.com/" + "x" * 19 + "…</span>" in page  # cut to its column, the whole link on hover


def test_orders_filter_by_a_service_typed_as_its_id_or_a_part_of_its_name(owner_client, customer, service, place):
    cust = customer("100")
    likes, views = service(name="Instagram likes"), service(name="YouTube views")
    like = place(cust, likes, link="https://example.com/a")
    view = place(cust, views, link="https://example.com/b")
    by_id = owner_client.get(ORDERS, {"service": str(views.pk)})
    assert listed(by_id) == [view]
    by_name = owner_client.get(ORDERS, {"service": "instagram"})
    assert listed(by_name) == [like]
    page = by_name.content.decode()
    assert 'name="service" value="instagram"' in page  # a box keeping what was typed, not a list of services
    assert f"?service__id__exact={views.pk}" not in page


def test_the_provider_list_shows_state_and_balance_before_the_url(owner_client):
    Provider.objects.create(name="A", api_url="https://a.example/api/v2", api_key="k" * 32)
    page = owner_client.get("/admin/providers/provider/").content.decode()
    shown = columns(page)
    assert shown[:3] == ["name", "enabled", "balance"]
    assert shown.index("api_url") == len(shown) - 1
