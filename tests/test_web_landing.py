"""The panel's front door: the landing page for visitors, the order form for customers, an icon for browsers."""

import pytest


@pytest.mark.django_db
def test_a_visitor_sees_the_landing_page_with_the_way_in(client):
    page = client.get("/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'href="/signup/"' in text and 'href="/login/"' in text and 'href="/services/"' in text


@pytest.mark.django_db
def test_a_signed_in_customer_goes_straight_to_the_order_form(client, customer):
    client.force_login(customer().user)
    page = client.get("/")
    assert page.status_code == 302
    assert page["Location"] == "/order/"


@pytest.mark.django_db
def test_the_browsers_favicon_request_gets_the_panels_icon(client):
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301
    icon = client.get(answer["Location"])
    assert icon.status_code == 200
    assert icon["Content-Type"].startswith("image/svg")
