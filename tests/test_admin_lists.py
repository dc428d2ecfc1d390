"""The admin's lists as an owner scans them: what the service search finds, the order list's columns and filters."""

import pytest
from django.contrib.auth import get_user_model

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
