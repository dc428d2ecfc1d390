"""The catalog page: active services by category, searchable by name or id, public."""

import re

import pytest

from smmpanel.catalog.models import Category

pytestmark = pytest.mark.django_db


def shown_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="service-(\d+)"', response.content.decode())]


def test_visitors_see_the_active_catalog_by_category_in_the_owner_s_order(client, service):
    later = Category.objects.create(name="Telegram", position=2)
    first = Category.objects.create(name="Instagram", position=1)
    tg = service(category=later.name, name="Telegram members", rate="1.5", min=100, max=5000)
    likes = service(category=first.name, name="Instagram likes", rate="0.9", refill=True, cancel=True, position=2)
    followers = service(category=first.name, name="Instagram followers", rate="12", dripfeed=True, position=1)
    service(category=first.name, name="Retired service", active=False)

    response = client.get("/services/")
    assert response.status_code == 200
    assert shown_ids(response) == [followers.pk, likes.pk, tg.pk]
    body = response.content.decode()
    assert body.index("<h2>Instagram</h2>") < body.index("<h2>Telegram</h2>")
    assert "Retired service" not in body
    row = body[body.index(f'id="service-{likes.pk}"') :].split("</tr>")[0]
    assert "0.90 USD" in row and ">Refill<" in row and ">Cancel<" in row and "Drip-feed" not in row
    assert f'href="/order/?service={likes.pk}"' in row
    tg_row = body[body.index(f'id="service-{tg.pk}"') :].split("</tr>")[0]
    assert "1.50 USD" in tg_row and "100 / 5000" in tg_row
    assert "Drip-feed" in body[body.index(f'id="service-{followers.pk}"') :].split("</tr>")[0]


def test_the_search_finds_services_by_name_category_or_id(client, service):
    a = service(category="Instagram", name="Instagram followers")
    b = service(category="YouTube", name="YouTube views")
    c = service(category="YouTube", name="Channel subscribers")
    assert shown_ids(client.get("/services/", {"q": "FOLLOW"})) == [a.pk]
    assert shown_ids(client.get("/services/", {"q": "youtube"})) == [b.pk, c.pk]
    assert shown_ids(client.get("/services/", {"q": str(c.pk)})) == [c.pk]
    empty = client.get("/services/", {"q": "nothing like it"})
    assert shown_ids(empty) == []
    assert "No service matches “nothing like it”." in empty.content.decode()


def test_a_live_search_answers_with_the_list_alone(client, service):
    a = service(name="Instagram followers")
    service(name="YouTube views")
    response = client.get("/services/", {"q": "insta"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="catalog">')
    assert "<html" not in body
    assert shown_ids(response) == [a.pk]
    assert "HX-Request" in response["Vary"]
    # Going back to a search htmx no longer holds: the whole page.
    restored = client.get("/services/", {"q": "insta"}, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in restored.content.decode()


def test_service_names_descriptions_and_the_search_are_shown_as_text(client, service):
    service(name="<b>bold</b> likes", description="<script>alert(1)</script>\nsecond line")
    body = client.get("/services/", {"q": "<b>"}).content.decode()
    assert "<b>bold</b>" not in body and "&lt;b&gt;bold&lt;/b&gt; likes" in body
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>second line" in body
    assert 'value="&lt;b&gt;"' in body


def test_the_catalog_shows_the_same_services_to_a_signed_in_customer(client, customer, service):
    svc = service(name="Shared service")
    client.force_login(customer().user)
    assert shown_ids(client.get("/services/")) == [svc.pk]


def test_a_package_service_s_rate_reads_per_package(client, service):
    package = service(type="Package", name="Starter pack", rate="5.5", min=1, max=1)
    per_thousand = service(name="Plain likes", rate="0.5")
    body = client.get("/services/").content.decode()
    row = body[body.index(f'id="service-{package.pk}"') :].split("</tr>")[0]
    assert '5.50 USD <span class="muted">per package</span>' in row
    assert "per package" not in body[body.index(f'id="service-{per_thousand.pk}"') :].split("</tr>")[0]
