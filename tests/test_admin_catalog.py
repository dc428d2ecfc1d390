"""The owner's catalog pages: many services changed at once (enabled, disabled, repriced), kept on re-sync."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from smmpanel.catalog.admin import changed_rate
from smmpanel.catalog.models import Category, Service
from smmpanel.providers.models import Provider, ProviderService

SERVICES = "/admin/catalog/service/"


@pytest.fixture
def owner_client(client, db):
    owner = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-owner-1")
    client.force_login(owner)
    return client


def rates(*services) -> list[Decimal]:
    return [Service.objects.get(pk=s.pk).rate for s in services]


def reprice(owner_client, percent, *services):
    data = {"action": "change_price", "_selected_action": [s.pk for s in services], "apply": "1", "percent": percent}
    return owner_client.post(SERVICES, data, follow=True)


def test_a_bulk_price_change_asks_the_percent_first(owner_client, service):
    svc = service(rate="1")
    page = owner_client.post(SERVICES, {"action": "change_price", "_selected_action": [svc.pk]})
    assert page.status_code == 200
    assert 'name="percent"' in page.content.decode()
    assert rates(svc) == [Decimal("1.00000")]


def test_a_bulk_price_change_raises_every_rate_by_the_percent_rounded_up(owner_client, service):
    a, b, untouched = service(rate="1"), service(rate="0.33333"), service(rate="5")
    response = reprice(owner_client, "10", a, b)
    assert "2 rates changed by 10%." in response.content.decode()
    # 0.33333 × 1.1 = 0.366663 → 0.36667 (up, never a cheaper rate than asked)
    assert rates(a, b, untouched) == [Decimal("1.10000"), Decimal("0.36667"), Decimal("5.00000")]


def test_a_price_cut_rounds_up_and_never_goes_below_zero(owner_client, service):
    a, b = service(rate="0.00003"), service(rate="8")
    reprice(owner_client, "-50", a, b)
    assert rates(a, b) == [Decimal("0.00002"), Decimal("4.00000")]  # 0.000015 → 0.00002
    reprice(owner_client, "-100", a, b)
    assert rates(a, b) == [Decimal(0), Decimal(0)]
    page = reprice(owner_client, "-101", a)
    assert "Ensure this value is greater than or equal to -100." in page.content.decode()


def test_changed_rate_is_exact_before_its_one_rounding():
    assert changed_rate(Decimal("0.90000"), Decimal("33.3333")) == Decimal("1.20000")  # 1.1999997 → up
    assert changed_rate(Decimal("2"), Decimal("0")) == Decimal("2.00000")


def test_a_repriced_provider_service_keeps_its_rate_on_the_next_sync(owner_client, service):
    svc = service(rate="1", fulfilment="provider")
    provider = Provider.objects.create(name="P", api_url="https://p.test/api/v2", api_key="k" * 32)
    ProviderService.objects.create(service=svc, provider=provider, upstream_service="1")
    reprice(owner_client, "20", svc)
    assert ProviderService.objects.get(service=svc).keep_rate


def test_bulk_enable_and_disable(owner_client, service):
    a, b = service(), service()
    owner_client.post(SERVICES, {"action": "disable", "_selected_action": [a.pk, b.pk]})
    assert not Service.objects.filter(pk__in=[a.pk, b.pk], active=True).exists()
    owner_client.post(SERVICES, {"action": "enable", "_selected_action": [a.pk]})
    assert [s.active for s in Service.objects.filter(pk__in=[a.pk, b.pk]).order_by("id")] == [True, False]


def test_a_category_enables_and_disables_all_its_services(owner_client, service):
    a, b, elsewhere = service(category="Likes"), service(category="Likes"), service(category="Views")
    likes = Category.objects.get(name="Likes")
    owner_client.post("/admin/catalog/category/", {"action": "disable_services", "_selected_action": [likes.pk]})
    assert [s.active for s in Service.objects.filter(pk__in=[a.pk, b.pk, elsewhere.pk]).order_by("id")] == [
        False,
        False,
        True,
    ]


def test_services_filter_by_provider_and_show_it(owner_client, service):
    mine, other = service(fulfilment="provider"), service()
    provider = Provider.objects.create(name="Upstream Q", api_url="https://q.test/api/v2", api_key="k" * 32)
    ProviderService.objects.create(service=mine, provider=provider, upstream_service="1")
    # A second provider: the admin shows (and applies) a related filter only when it has a choice to make.
    second = Provider.objects.create(name="Upstream R", api_url="https://r.test/api/v2", api_key="k" * 32)
    ProviderService.objects.create(service=service(fulfilment="provider"), provider=second, upstream_service="1")
    page = owner_client.get(f"{SERVICES}?upstream__provider__id__exact={provider.pk}")
    assert page.status_code == 200
    assert [s.pk for s in page.context["cl"].result_list] == [mine.pk]
    assert "Upstream Q" in page.content.decode()
    assert owner_client.get(f"{SERVICES}?active__exact=1&category__id__exact={other.category_id}").status_code == 200


def test_services_are_ordered_by_position_from_the_list(owner_client, service):
    a, b = service(category="Ordered"), service(category="Ordered")
    page = owner_client.get(SERVICES)
    assert 'name="form-0-position"' in page.content.decode()
    Service.objects.filter(pk=a.pk).update(position=2)
    Service.objects.filter(pk=b.pk).update(position=1)
    assert list(Service.objects.filter(category__name="Ordered").values_list("id", flat=True)) == [b.pk, a.pk]
