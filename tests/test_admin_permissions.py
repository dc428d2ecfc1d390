"""Staff see and do only what their permissions allow, and no admin page shows a provider's key to anyone.

One walk over the whole admin (every registered ModelAdmin, every action a
superuser is offered): a view-only staff user and a staff user without any
permission open every page and post every action with every row selected
and every confirmation filled in; nothing may change in the database and no
request may reach the provider (a real HTTP server on 127.0.0.1 counting
them). An action added later without `permissions` fails this walk.

The superuser's walk is the control: the same posts do change something or
reach the provider, so the restricted users' "nothing changed" means refused,
not "the post was malformed". And every page the superuser opens (lists,
change, add, history, delete and action confirmation pages) is searched for
the provider's key.
"""

import uuid
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from axes.models import AccessAttempt, AccessAttemptExpiration, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.db import transaction
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from smmpanel.alerts.models import Announcement, Duty
from smmpanel.orders import services
from smmpanel.orders.models import Status
from smmpanel.orders.validation import validate_order
from smmpanel.payments import services as payments
from smmpanel.payments.models import Gateway, Notification, Payment
from smmpanel.providers.models import Provider, ProviderService, UpstreamOrder, UpstreamRefill
from smmpanel.tickets import services as tickets
from smmpanel.updates.models import Kind, ServiceUpdate, Source

from .conftest import new_link
from .fake_gateways.stripe import FakeStripe
from .fake_provider import fake_provider

KEY = f"pk-{uuid.uuid4().hex}-SECRET"
# What an action's pages may ask, all answered: the action then runs at once if it runs at all.
CONFIRMED = {
    "apply": "1",  # smmpanel's action pages (adminkit.action_page)
    "post": "yes",  # Django's delete confirmation
    "markup": "0",
    "category_prefix": "",
    "percent": "-50",
    "status": "Completed",
    "start_count": "1",
    "remains": "0",
    "reason": "Nothing arrived.",  # rejecting a manual transfer
}


def every_action() -> list[tuple]:
    """(model, its admin, action name) for every action a superuser is offered."""
    request = RequestFactory().get("/")
    request.user = get_user_model()(is_superuser=True, is_staff=True, is_active=True)
    return [
        (model, model_admin, name)
        for model, model_admin in admin.site._registry.items()
        for name in model_admin.get_actions(request)
    ]


def db_state() -> dict:
    """Every row of every table (but log-in sessions), to compare before and after."""
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values())
        for model in apps.get_models()
        if model is not Session
    }


def url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def post_action(client, model, name: str, *, confirmed: bool):
    pks = [str(pk) for pk in model._base_manager.values_list("pk", flat=True)]
    data = {"action": name, "_selected_action": pks, **(CONFIRMED if confirmed else {})}
    return client.post(url(model, "changelist"), data)


@pytest.fixture
def upstream():
    with fake_provider() as server:
        yield server


@pytest.fixture
def cards():
    """The fake Stripe, taking only keys that hold KEY."""
    with FakeStripe(secret_key=f"sk_test_{KEY}", webhook_secret=f"whsec_{KEY}") as fake:
        yield fake


@pytest.fixture
def panel(db, customer, service, upstream, cards, settings):
    """A row of every model the admin shows, a provider at `upstream` whose key is KEY, and three staff users."""
    users = get_user_model()
    owner = users.objects.create_superuser("owner", "owner@example.com", "pw-owner-1")
    viewer = users.objects.create_user("viewer", is_staff=True)
    codenames = [f"view_{model._meta.model_name}" for model in apps.get_models()]
    viewer.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    nobody = users.objects.create_user("nobody", is_staff=True)
    Group.objects.create(name="Support")

    cust = customer("50")
    manual = service(rate="2", fulfilment="manual", refill=True)
    service(rate="1", fulfilment="simulated", active=False)
    provider = Provider.objects.create(
        name="Upstream X", api_url=upstream.url, api_key=KEY, balance=Decimal("777.12345")
    )
    forwarded = service(rate="2", fulfilment="provider", refill=True)
    ProviderService.objects.create(service=forwarded, provider=provider, upstream_service="1")
    # One service update shown and one hidden: for Hide and Show each to have one to act on.
    ServiceUpdate.objects.create(service=manual, kind=Kind.ENABLED, source=Source.ADMIN)
    ServiceUpdate.objects.create(service=manual, kind=Kind.DISABLED, source=Source.ADMIN, hidden=True)

    def place(svc):
        return services.place_order(cust.account.pk, validate_order(svc, {"link": new_link(), "quantity": "1000"}))

    place(manual)  # pending
    refilled = place(manual)
    services.apply_status(refilled.pk, Status.COMPLETED, actor="admin")
    services.request_refill(cust.account.pk, refilled.pk)
    ambiguous = place(forwarded)
    UpstreamOrder.objects.create(
        order=ambiguous,
        provider=provider,
        state=UpstreamOrder.State.AMBIGUOUS,
        submitted_at=timezone.now(),
        quantity=1000,
    )
    services.flag_attention(ambiguous.pk, "No answer after sending.")
    done = place(forwarded)
    UpstreamOrder.objects.create(
        order=done,
        provider=provider,
        state=UpstreamOrder.State.PLACED,
        upstream_id="77",
        submitted_at=timezone.now(),
        quantity=1000,
    )
    services.apply_status(done.pk, Status.COMPLETED, actor="provider")
    refill = services.request_refill(cust.account.pk, done.pk)
    UpstreamRefill.objects.create(refill=refill, provider=provider, upstream_id="5", sent_at=timezone.now())

    tickets.open_ticket(cust.account.pk, "order", "Refill, please.", order_ids=[refilled.pk], request="refill")

    # Payments: a card gateway (the fake Stripe) whose keys hold KEY, so the key search covers them too, with
    # a payment paid there whose webhook was lost ("Ask the gateway again" finds it); a manual transfer waiting
    # for the owner's approval, another set aside for the owner to settle; a notification.
    settings.STRIPE_API_BASE = cards.base_url
    Gateway.objects.create(
        name="cards", kind="stripe", enabled=True, api_key=cards.secret_key, webhook_secret=cards.webhook_secret
    )
    card_payment = payments.start_payment(cust.account, "cards", "10", return_url_base="https://panel.example.com")
    cards.drop_webhooks = True
    cards.pay(card_payment.external_id)
    bank = Gateway.objects.create(name="bank", kind="manual", enabled=True, instructions="IBAN XX00 0000")
    transfer = payments.submit_manual(cust.account, "bank", "10", "REF-1")
    odd = payments.submit_manual(cust.account, "bank", "12", "REF-2")
    Payment.objects.filter(pk=odd.pk).update(needs_attention=True, attention_reason="11 USD arrived, not 12")
    Notification.objects.create(gateway=bank, payment=transfer, body="{}", result="refused: a test's")

    seen = {
        "user_agent": "test",
        "ip_address": "10.1.2.3",
        "username": "someone",
        "http_accept": "*/*",
        "path_info": "/admin/login/",
    }
    attempt = AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=1)
    AccessAttemptExpiration.objects.create(access_attempt=attempt, expires_at=timezone.now() + timedelta(hours=1))
    AccessLog.objects.create(**seen)
    AccessFailureLog.objects.create(**seen)
    Announcement.objects.create(text="Slow today.")
    Duty.objects.create(name="stuck-orders", due_at=timezone.now())  # alerts: the flag above made an Alert
    return SimpleNamespace(owner=owner, viewer=viewer, nobody=nobody, provider=provider)


def pages_of_a_restricted_user(client, who: str) -> list[str]:
    """Every admin's list, change, history, add and delete page, and a save: what was wrong, in words."""
    wrong: list[str] = []
    for model in admin.site._registry:
        label = model._meta.label
        obj = model._base_manager.order_by("pk").first()
        listing = client.get(url(model, "changelist"))
        if who == "nobody" and listing.status_code != 403:
            wrong.append(f"{label}: list answered {listing.status_code} to a user without permissions")
        if who == "viewer":
            form = listing.context.get("action_form") if listing.context else None
            offered = [name for name, _ in form.fields["action"].choices if name] if form else []
            if listing.status_code != 200 or offered:
                wrong.append(f"{label}: list {listing.status_code}, actions offered to a view-only user: {offered}")
        expected = 200 if who == "viewer" else 403
        for page, args, allowed in (
            ("change", (obj.pk,), expected),
            ("history", (obj.pk,), expected),
            ("add", (), 403),
            ("delete", (obj.pk,), 403),
        ):
            response = client.get(url(model, page, *args))
            if response.status_code != allowed:
                wrong.append(f"{label}: {page} page answered {response.status_code}, not {allowed}")
            if KEY[4:] in response.content.decode():
                wrong.append(f"{label}: {page} page shows the provider's key")
        before = db_state()
        saved = client.post(url(model, "change", obj.pk), {})
        if saved.status_code != 403 or db_state() != before:
            wrong.append(f"{label}: saving the change form answered {saved.status_code}")
    return wrong


def actions_of_a_restricted_user(client, upstream) -> list[str]:
    """Every action posted, every row selected, every confirmation given: what was wrong, in words."""
    wrong: list[str] = []
    for model, _, name in every_action():
        before, asked = db_state(), len(upstream.requests)
        response = post_action(client, model, name, confirmed=True)
        what = f"{model._meta.label} action {name}"
        if response.status_code not in (200, 302, 403):
            wrong.append(f"{what}: answered {response.status_code}")
        if KEY[4:] in response.content.decode():
            wrong.append(f"{what}: the answer shows the provider's key")
        if len(upstream.requests) != asked:
            wrong.append(f"{what}: reached the provider ({upstream.requests[asked:]})")
        if db_state() != before:
            wrong.append(f"{what}: changed the database")
    return wrong


def pages_of_the_owner(client) -> list[str]:
    """Every page a superuser opens: where the provider's key shows."""
    shown = []
    for model in admin.site._registry:
        obj = model._base_manager.order_by("pk").first()
        for page, args in (
            ("changelist", ()),
            ("add", ()),
            ("change", (obj.pk,)),
            ("history", (obj.pk,)),
            ("delete", (obj.pk,)),
        ):
            response = client.get(url(model, page, *args))
            assert response.status_code in (200, 403), (model._meta.label, page, response.status_code)
            if KEY[4:] in response.content.decode():
                shown.append(f"{model._meta.label} {page}")
    for page in ("/admin/", "/admin/dashboard/"):
        if KEY[4:] in client.get(page).content.decode():
            shown.append(page)
    return shown


def actions_of_the_owner(client, upstream) -> tuple[list[str], list[str]]:
    """Each action posted by a superuser (each undone after): where the key shows, and which did nothing."""
    shown, did_nothing = [], []
    for model, _, name in every_action():
        for confirmed in (False, True):  # the action's own page first, then the action done
            with transaction.atomic():
                before, asked = db_state(), len(upstream.requests)
                response = post_action(client, model, name, confirmed=confirmed)
                if KEY[4:] in response.content.decode():
                    shown.append(f"{model._meta.label} {name}{' confirmed' if confirmed else ''}")
                acted = db_state() != before or len(upstream.requests) != asked
                # A delete Django refuses even the owner: rows it would take along are protected or undeletable.
                refused = "<h1>Cannot delete" in response.content.decode()
                if confirmed and not (acted or refused):
                    did_nothing.append(f"{model._meta.label} {name}")
                transaction.set_rollback(True)
    return shown, did_nothing


def test_the_whole_admin_walked_restricted_staff_do_nothing_and_no_page_shows_the_provider_key(client, panel, upstream):
    empty = [model._meta.label for model in admin.site._registry if not model._base_manager.exists()]
    assert not empty, f"no row to open or select in {empty}: the walk would prove nothing there"

    for who in ("viewer", "nobody"):
        client.force_login(getattr(panel, who))
        wrong = pages_of_a_restricted_user(client, who) + actions_of_a_restricted_user(client, upstream)
        assert not wrong, f"{who}:\n" + "\n".join(wrong)

    # The control: the owner's same posts act. And the owner sees no key either, after typing a new one in.
    client.force_login(panel.owner)
    # Expired only now (a log-in cleans expired attempts up): for "Clean up expired attempts" to act on.
    AccessAttemptExpiration.objects.update(expires_at=timezone.now() - timedelta(hours=1))
    form = {
        "name": "Upstream X",
        "api_url": upstream.url,
        "api_key": KEY,  # typed in again: the history records a change, not the key
        "enabled": "on",
        "currency_rate": "1",
        "max_concurrent": "4",
        "requests_per_second": "10",
        "timeout_seconds": "30",
    }
    saved = client.post(url(Provider, "change", panel.provider.pk), form)
    assert saved.status_code == 302
    shown, did_nothing = actions_of_the_owner(client, upstream)
    shown += pages_of_the_owner(client)
    assert not shown, f"the provider's key is shown on: {shown}"
    assert not did_nothing, f"posted as the walk posts them, these did nothing even for the owner: {did_nothing}"


def looks_secret(name: str) -> bool:
    """A field's name that says it holds a secret (a digest or a hint of one does not)."""
    if name.endswith(("_hash", "_hint", "_digest")):
        return False
    return name in ("api_key", "secret", "password_plain") or name.endswith(("_key", "_secret"))


def test_every_field_named_like_a_secret_is_kept_secret_by_its_admin():
    """A later model with, say, a gateway's `secret_key` fails here until its admin says it is one."""
    unkept = [
        f"{model._meta.label}.{field.name}"
        for model, model_admin in admin.site._registry.items()
        for field in model._meta.concrete_fields
        if looks_secret(field.name) and field.name not in getattr(model_admin, "secret_fields", {})
    ]
    assert not unkept, f"secrets an admin shows like any other field: {unkept}"
    assert looks_secret("api_key") and looks_secret("webhook_secret") and not looks_secret("api_key_hash")


# --- the dashboard ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["viewer", "nobody"])
def test_staff_without_the_dashboard_permission_see_no_revenue_and_no_provider_balance(client, panel, who):
    client.force_login(getattr(panel, who))
    assert client.get("/admin/dashboard/").status_code == 403  # the page of its own, refused
    index = client.get("/admin/")
    assert index.status_code == 200
    page = index.content.decode()
    assert "dash-revenue" not in page and "Revenue" not in page and "Profit" not in page
    assert "777.12" not in page  # the provider's balance


def test_the_dashboard_permission_alone_shows_the_figures(client, panel):
    panel.nobody.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client.force_login(panel.nobody)
    for page in ("/admin/dashboard/", "/admin/"):
        response = client.get(page)
        assert response.status_code == 200
        text = response.content.decode()
        assert "dash-revenue" in text and "777.12" in text
