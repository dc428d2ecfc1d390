"""Service updates (issue 16 §2): every catalog change a customer cares about is recorded where it happens
— the admin's form and list, its bulk actions, a provider's re-sync — and listed at /updates/.

The provider is a real HTTP server on 127.0.0.1 (tests/fake_provider.py) answering `services`
as the API v2 spec shows; the admin is posted to as a browser would.
"""

import threading
import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from smmpanel.catalog.models import Category, Service
from smmpanel.providers.catalog import sync_services
from smmpanel.providers.models import Provider
from smmpanel.updates.models import Kind, ServiceUpdate, Source
from smmpanel.updates.record import recording
from tests.fake_provider import fake_provider

SERVICES = "/admin/catalog/service/"
UPDATES_ADMIN = "/admin/updates/serviceupdate/"


@pytest.fixture
def owner_client(client, db):
    owner = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-owner-1")
    client.force_login(owner)
    return client


@pytest.fixture
def upstream():
    with fake_provider() as server:
        yield server


def updates_of(*services) -> list[tuple]:
    """(service, kind, source) of each recorded update of these services, oldest first."""
    rows = ServiceUpdate.objects.filter(service__in=services).order_by("id")
    return [(u.service_id, u.kind, u.source) for u in rows]


def browser_post_data(*forms) -> dict:
    """What a browser posts for these unbound forms as rendered: their initial values."""
    data = {}
    for form in forms:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue
            data[field.html_name] = "on" if value is True else value
    return data


def change_form_data(owner_client, url: str) -> dict:
    page = owner_client.get(url)
    inlines = [
        form
        for inline in page.context["inline_admin_formsets"]
        for form in (inline.formset.management_form, *inline.formset.forms)
    ]
    return browser_post_data(page.context["adminform"].form, *inlines)


def save_service(owner_client, svc, **changes):
    url = f"{SERVICES}{svc.pk}/change/"
    data = {**change_form_data(owner_client, url), **changes}
    data = {name: value for name, value in data.items() if value is not None}  # None: a box unticked
    saved = owner_client.post(url, data)
    assert saved.status_code == 302, saved.content.decode()[:2000]


# --- recorded where it happens --------------------------------------------------------------------


def test_a_price_raised_in_the_change_form_is_recorded_with_both_rates(owner_client, service):
    svc = service(rate="0.9")
    save_service(owner_client, svc, rate="1.25")
    update = ServiceUpdate.objects.get(service=svc)
    assert (update.kind, update.source) == (Kind.PRICE_UP, Source.ADMIN)
    assert (update.old_rate, update.new_rate) == (Decimal("0.90000"), Decimal("1.25000"))


def test_limits_and_disabling_from_the_form_each_recorded_and_other_edits_not(owner_client, service):
    svc = service(rate="1", min=10, max=1000)
    save_service(owner_client, svc, name="Renamed", description="Faster now")  # nothing customers track
    assert updates_of(svc) == []
    save_service(owner_client, svc, min="20", max="5000", active=None)
    assert updates_of(svc) == [(svc.pk, Kind.DISABLED, Source.ADMIN), (svc.pk, Kind.LIMITS, Source.ADMIN)]
    limits = ServiceUpdate.objects.get(service=svc, kind=Kind.LIMITS)
    assert (limits.old_min, limits.old_max, limits.new_min, limits.new_max) == (10, 1000, 20, 5000)


def test_a_price_cut_from_the_lists_editable_column_is_recorded(owner_client, service):
    svc, other = service(rate="2"), service(rate="3")
    listing = owner_client.get(SERVICES)
    formset = listing.context["cl"].formset
    data = browser_post_data(formset.management_form, *formset.forms)
    index = next(i for i, form in enumerate(formset.forms) if form.instance.pk == svc.pk)
    data[f"form-{index}-rate"] = "1.5"
    data["_save"] = "Save"
    assert owner_client.post(SERVICES, data).status_code == 302
    assert updates_of(svc, other) == [(svc.pk, Kind.PRICE_DOWN, Source.ADMIN)]


def test_a_service_added_in_the_admin_is_new_and_an_inactive_one_only_once_enabled(owner_client, db):
    category = Category.objects.create(name="Added")
    data = change_form_data(owner_client, f"{SERVICES}add/")
    data.update(name="Brand new", category=category.pk, type="Default", rate="0.7", min="50", max="500")
    data.pop("active", None)  # made inactive first
    assert owner_client.post(f"{SERVICES}add/", data).status_code == 302
    hidden_first = Service.objects.get(name="Brand new")
    assert updates_of(hidden_first) == []
    data.update(name="Shown at once", active="on")
    assert owner_client.post(f"{SERVICES}add/", data).status_code == 302
    shown = Service.objects.get(name="Shown at once")
    new = ServiceUpdate.objects.get(service=shown)
    assert (new.kind, new.source, new.new_rate, new.new_min, new.new_max) == (
        Kind.NEW,
        Source.ADMIN,
        Decimal("0.70000"),
        50,
        500,
    )
    save_service(owner_client, hidden_first, active="on")
    assert updates_of(hidden_first) == [(hidden_first.pk, Kind.ENABLED, Source.ADMIN)]


def test_a_bulk_price_change_records_each_service_whose_rate_moved(owner_client, service):
    a, b, free = service(rate="1"), service(rate="0.33333"), service(rate="0")
    data = {"action": "change_price", "_selected_action": [a.pk, b.pk, free.pk], "apply": "1", "percent": "10"}
    owner_client.post(SERVICES, data)
    assert updates_of(a, b, free) == [(a.pk, Kind.PRICE_UP, Source.BULK), (b.pk, Kind.PRICE_UP, Source.BULK)]
    b_update = ServiceUpdate.objects.get(service=b)
    assert (b_update.old_rate, b_update.new_rate) == (Decimal("0.33333"), Decimal("0.36667"))


def test_bulk_disable_and_enable_by_service_and_by_category_record_only_real_changes(owner_client, service):
    on, off = service(category="Bulk"), service(category="Bulk", active=False)
    owner_client.post(SERVICES, {"action": "disable", "_selected_action": [on.pk, off.pk]})
    assert updates_of(on, off) == [(on.pk, Kind.DISABLED, Source.BULK)]  # `off` was off already
    category = on.category
    owner_client.post("/admin/catalog/category/", {"action": "enable_services", "_selected_action": [category.pk]})
    assert updates_of(on, off)[1:] == [(on.pk, Kind.ENABLED, Source.BULK), (off.pk, Kind.ENABLED, Source.BULK)]


def test_a_provider_resync_records_new_services_prices_limits_and_services_gone_and_back(upstream, db):
    provider = Provider.objects.create(name="Up", api_url=upstream.url, api_key="k-123")
    sync_services(provider, markup_percent="0")
    followers, likes = Service.objects.filter(upstream__provider=provider).order_by("upstream__upstream_service")
    assert updates_of(followers, likes) == [(followers.pk, Kind.NEW, Source.SYNC), (likes.pk, Kind.NEW, Source.SYNC)]

    upstream.services[0].update(rate="1.10", min=20)  # Followers: dearer, a higher minimum
    upstream.services[1].update(rate="0.45")  # Likes: cheaper
    sync_services(provider)
    news = ServiceUpdate.objects.filter(service__in=[followers, likes]).order_by("id")[2:]
    assert [(u.service_id, u.kind, u.source, u.old_rate, u.new_rate) for u in news] == [
        (followers.pk, Kind.PRICE_UP, Source.SYNC, Decimal("0.90000"), Decimal("1.10000")),
        (followers.pk, Kind.LIMITS, Source.SYNC, None, None),
        (likes.pk, Kind.PRICE_DOWN, Source.SYNC, Decimal("0.50000"), Decimal("0.45000")),
    ]

    gone = upstream.services.pop(1)
    sync_services(provider)
    assert updates_of(likes)[-1] == (likes.pk, Kind.DISABLED, Source.SYNC)
    upstream.services.append(gone)
    sync_services(provider)
    assert updates_of(likes)[-1] == (likes.pk, Kind.ENABLED, Source.SYNC)

    count = ServiceUpdate.objects.count()
    sync_services(provider)  # nothing changed upstream: nothing to tell
    assert ServiceUpdate.objects.count() == count


def test_an_update_is_part_of_its_changes_transaction(service):
    svc = service(rate="1", min=10, max=100)

    def reprice_then_fail():
        with transaction.atomic():
            with recording(Service.objects.filter(pk=svc.pk), Source.BULK):
                Service.objects.filter(pk=svc.pk).update(rate=Decimal("2"))
            Service.objects.filter(pk=svc.pk).update(min=F("max") + 1)  # refused: min above max

    with pytest.raises(IntegrityError):
        reprice_then_fail()
    assert Service.objects.get(pk=svc.pk).rate == Decimal("1.00000")
    assert not ServiceUpdate.objects.exists()  # recorded, then rolled back with the change


def test_the_database_refuses_an_update_that_contradicts_itself(service):
    svc = service()
    for wrong in (
        {"kind": Kind.PRICE_UP, "old_rate": Decimal("2"), "new_rate": Decimal("1")},
        {"kind": Kind.PRICE_DOWN, "old_rate": Decimal("1"), "new_rate": Decimal("1")},
        {"kind": Kind.LIMITS, "old_min": 1, "new_min": 2},
        {"kind": "renamed"},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            ServiceUpdate.objects.create(service=svc, source=Source.ADMIN, **wrong)
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceUpdate.objects.create(service=svc, source="cron", kind=Kind.ENABLED)


# --- /updates/ ------------------------------------------------------------------------------------------


def recorded(svc, kind, **values) -> ServiceUpdate:
    return ServiceUpdate.objects.create(service=svc, kind=kind, source=Source.ADMIN, **values)


def rows_shown(page) -> list[str]:
    """The update ids on a page, top to bottom."""
    text = page.content.decode()
    return [part.split('"', 1)[0] for part in text.split('<tr id="update-')[1:]]


def test_anyone_sees_the_updates_newest_first_without_the_hidden_ones(client, service):
    svc = service(name="Instagram followers", rate="1")
    old = recorded(svc, Kind.PRICE_UP, old_rate=Decimal("1"), new_rate=Decimal("1.2"))
    secret = recorded(svc, Kind.DISABLED, hidden=True)
    new = recorded(svc, Kind.LIMITS, old_min=10, old_max=100, new_min=20, new_max=100)
    page = client.get("/updates/")  # signed out, like the services list
    assert page.status_code == 200
    assert rows_shown(page) == [str(new.pk), str(old.pk)]
    text = page.content.decode()
    assert "Instagram followers" in text and "1 → 1.20 USD" in text and "min 10 → 20" in text
    assert f"update-{secret.pk}" not in text


def test_updates_filter_by_kind_and_search_by_service_name_or_id(client, service):
    tiktok, youtube = service(name="TikTok views"), service(name="YouTube likes")
    cheaper = recorded(tiktok, Kind.PRICE_DOWN, old_rate=Decimal("2"), new_rate=Decimal("1"))
    off = recorded(tiktok, Kind.DISABLED)
    yt = recorded(youtube, Kind.PRICE_DOWN, old_rate=Decimal("3"), new_rate=Decimal("1"))
    assert rows_shown(client.get("/updates/?kind=price_down")) == [str(yt.pk), str(cheaper.pk)]
    assert rows_shown(client.get("/updates/?q=tiktok")) == [str(off.pk), str(cheaper.pk)]
    assert rows_shown(client.get(f"/updates/?q={youtube.pk}")) == [str(yt.pk)]
    assert rows_shown(client.get("/updates/?kind=disabled&q=YouTube")) == []
    assert rows_shown(client.get("/updates/?kind=nonsense")) == [str(yt.pk), str(off.pk), str(cheaper.pk)]


def test_updates_page_by_id_older_and_newer(client, service):
    svc = service()
    ids = [recorded(svc, Kind.ENABLED if i % 2 else Kind.DISABLED).pk for i in range(30)]
    first = client.get("/updates/")
    assert rows_shown(first) == [str(pk) for pk in reversed(ids[5:])]
    older = client.get(f"/updates/?before={ids[5]}")
    assert rows_shown(older) == [str(pk) for pk in reversed(ids[:5])]
    assert f"after={ids[4]}" in older.content.decode()  # and back
    assert rows_shown(client.get(f"/updates/?after={ids[4]}")) == rows_shown(first)
    assert client.get("/updates/?before=x").status_code == 200


# --- the owner hides entries ------------------------------------------------------------------------------


def test_the_owner_hides_an_entry_and_shows_it_again_and_a_view_only_user_cannot(owner_client, client, service):
    svc = service()
    entry = recorded(svc, Kind.DISABLED)
    owner_client.post(UPDATES_ADMIN, {"action": "hide", "_selected_action": [entry.pk]})
    assert ServiceUpdate.objects.get(pk=entry.pk).hidden
    assert rows_shown(client.get("/updates/")) == []
    owner_client.post(UPDATES_ADMIN, {"action": "show", "_selected_action": [entry.pk]})
    assert not ServiceUpdate.objects.get(pk=entry.pk).hidden

    viewer = get_user_model().objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_serviceupdate"))
    client.force_login(viewer)
    assert client.get(UPDATES_ADMIN).status_code == 200
    client.post(UPDATES_ADMIN, {"action": "hide", "_selected_action": [entry.pk]})
    assert not ServiceUpdate.objects.get(pk=entry.pk).hidden


# --- two changes at once -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_change_that_waited_for_another_records_from_what_that_one_left(service):
    """PostgreSQL: the second change's `before` is read under the row's lock, so it waits for the first to
    commit and records 2 → 3, not the 1 → 3 it would have read meanwhile (which would say "up" for a cut, too)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite: one writer at a time (BEGIN IMMEDIATE), so two changes cannot interleave")
    svc = service(rate="1")
    first_changed, first_may_commit = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def change(rate: str, before_commit=None) -> None:
        try:
            with transaction.atomic():
                with recording(Service.objects.filter(pk=svc.pk), Source.ADMIN):
                    Service.objects.filter(pk=svc.pk).update(rate=Decimal(rate))
                if before_commit:
                    before_commit()
        except Exception as e:  # noqa: BLE001 - reported by the test below
            errors.append(e)
        finally:
            connection.close()  # this thread's own connection

    def hold() -> None:
        first_changed.set()
        first_may_commit.wait(30)

    first = threading.Thread(target=change, args=("2", hold))
    first.start()
    assert first_changed.wait(30)
    second = threading.Thread(target=change, args=("3",))
    second.start()
    deadline = time.monotonic() + 30
    while not waiting_for_a_lock():
        assert time.monotonic() < deadline, "the second change never waited for the first's lock"
        time.sleep(0.01)
    first_may_commit.set()
    first.join(30)
    second.join(30)
    assert errors == []
    assert [(u.old_rate, u.new_rate) for u in ServiceUpdate.objects.order_by("id")] == [
        (Decimal("1.00000"), Decimal("2.00000")),
        (Decimal("2.00000"), Decimal("3.00000")),
    ]


def waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0
