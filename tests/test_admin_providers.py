"""The providers' admin pages as an owner reads them: the add and change forms, the list's search and filters."""

import pytest
from django.contrib.auth import get_user_model

from smmpanel.providers.models import Provider

pytestmark = pytest.mark.django_db

PROVIDERS = "/admin/providers/provider/"


@pytest.fixture
def owner_client(client, db):
    owner = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-owner-1")
    client.force_login(owner)
    return client


def label_of(page: str, name: str) -> str:
    return page.split(f'for="id_{name}"')[1].split(">", 1)[1].split("<", 1)[0]


def test_the_add_form_asks_for_a_key_without_offering_to_keep_one(owner_client):
    page = owner_client.get(f"{PROVIDERS}add/").content.decode()
    assert label_of(page, "api_url") == "API URL:" and label_of(page, "api_key") == "API key:"
    assert "keep the current key" not in page
    refused = owner_client.post(f"{PROVIDERS}add/", {"name": "A", "api_url": "https://a.example/api/v2", "api_key": ""})
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
    assert not Provider.objects.exists()


def test_the_change_form_of_a_provider_with_a_key_offers_to_keep_it(owner_client):
    provider = Provider.objects.create(name="A", api_url="https://a.example/api/v2", api_key="k" * 32)
    page = owner_client.get(f"{PROVIDERS}{provider.pk}/change/").content.decode()
    assert label_of(page, "api_key") == "API key:"
    assert "Leave empty to keep the current key." in page
    assert "k" * 32 not in page
