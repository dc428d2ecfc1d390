"""`smmpanel provider …` and the providers' admin, against a real provider panel (A) over HTTP.

Every test also checks what the owner must never see: the provider's key in full,
in any output, message or log line.
"""

import io
import logging
import os
import subprocess
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from smmpanel.catalog.models import Service
from smmpanel.providers.models import Provider, ProviderService
from tests.conftest import PYTHON, REPO
from tests.providers_harness import CATALOG, RESELLER_BALANCE
from tests.test_provider_catalog import UpstreamCatalog, fixed_panel  # noqa: F401 - a fixture

DOWN = "http://127.0.0.1:9/api/v2"  # the discard port: nothing listens there


@pytest.fixture
def logs(caplog):
    """Every log record of the test, from every logger, down to DEBUG."""
    caplog.set_level(logging.DEBUG)
    return caplog


def run(*args) -> tuple[str, str]:
    """`smmpanel provider ARGS…` in-process; (stdout, stderr). CommandError propagates."""
    out, err = io.StringIO(), io.StringIO()
    call_command("provider", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(*args) -> str:
    """The message of the CommandError `smmpanel provider ARGS…` raises."""
    with pytest.raises(CommandError) as failure:
        run(*args)
    return str(failure.value)


def no_key(key: str, *texts: str) -> None:
    for text in texts:
        assert key not in text


@pytest.fixture
def added(db, provider_panel):
    """Provider "A" added through the command."""
    run("add", "A", "--url", provider_panel.url, "--key", provider_panel.key)
    return Provider.objects.get(name="A")


# --- add -----------------------------------------------------------------------------------------


def test_add_checks_the_provider_and_stores_its_balance_without_showing_the_key(db, provider_panel, logs):
    out, err = run(
        "add",
        "A",
        "--url",
        provider_panel.url,
        "--key",
        provider_panel.key,
        "--currency-rate",
        "0.0123",
        "--max-concurrent",
        "2",
        "--rps",
        "5",
    )
    provider = Provider.objects.get(name="A")
    assert (provider.api_url, provider.api_key) == (provider_panel.url, provider_panel.key)
    assert provider.currency_rate == Decimal("0.0123")
    assert (provider.max_concurrent, provider.requests_per_second) == (2, 5)
    assert provider.balance == RESELLER_BALANCE and provider.currency == "USD" and provider.balance_checked_at
    assert out.splitlines() == [
        f"added provider A: {provider_panel.url}, key {provider_panel.key[:4]}…",
        f"balance: {RESELLER_BALANCE:.5f} USD",
    ]
    assert logs.records  # the client and httpx did log the calls
    no_key(provider_panel.key, out, err, logs.text)


def test_add_refuses_a_provider_that_does_not_answer_and_adds_nothing(db, logs):
    key = "S3cretKeyNeverShown0123456789abcdefghij"
    message = fails("add", "A", "--url", DOWN, "--key", key)
    assert message.startswith(f"cannot reach provider A: balance {DOWN}: ConnectError")
    assert not Provider.objects.exists()
    no_key(key, message, logs.text)


def test_add_with_a_key_the_provider_refuses_repeats_the_provider_s_words(db, provider_panel, logs):
    key = "WrongKey0123456789abcdefghijklmnopqrstuv"
    message = fails("add", "A", "--url", provider_panel.url, "--key", key)
    assert message == "provider A refused `balance`: Invalid API key"
    assert not Provider.objects.exists()
    no_key(key, message, logs.text)


def test_add_of_a_provider_in_another_currency_says_to_set_the_currency_rate(db, fixed_panel):  # noqa: F811 - the fixture
    fixed_panel.body = {"balance": "100.842921", "currency": "EUR"}
    url = f"http://127.0.0.1:{fixed_panel.server_address[1]}/api/v2"
    out, _ = run("add", "E", "--url", url, "--key", "e" * 40)
    assert out.splitlines()[1:] == [
        "balance: 100.84292 EUR",
        (
            "note: its currency is EUR; prices are converted with the currency rate (USD per unit), 1 now: "
            "set it in the admin before importing"
        ),
    ]
    assert run("add", "E2", "--url", url, "--key", "e" * 40, "--currency-rate", "1.08")[0].count("note") == 0


def test_add_without_a_check_asks_nothing(db):
    out, _ = run("add", "Later", "--url", DOWN, "--key", "k" * 40, "--no-check")
    provider = Provider.objects.get(name="Later")
    assert provider.balance is None and provider.balance_checked_at is None and provider.enabled
    assert "not checked" in out and "k" * 40 not in out


@pytest.mark.parametrize(
    "args, words",
    [
        (["--url", "ftp://x.example/api", "--key", "k"], "not an http(s) URL"),
        (["--url", "not a url", "--key", "k"], "not an http(s) URL"),
        (["--url", DOWN, "--key", "  "], "needs our API key"),
        (["--url", DOWN, "--key", "k", "--currency-rate", "0"], "a currency rate is a positive number"),
        (["--url", DOWN, "--key", "k", "--currency-rate", "abc"], "not a currency rate"),
        (["--url", DOWN, "--key", "k", "--currency-rate", "0.123456789"], "at most 8 decimals"),
        (["--url", DOWN, "--key", "k", "--rps", "0"], "out of range"),
        (["--url", DOWN, "--key", "k", "--max-concurrent", "two"], "not a whole number"),
    ],
)
def test_add_refuses_bad_input_in_words(db, args, words):
    assert words in fails("add", "A", "--no-check", *args)
    assert not Provider.objects.exists()


def test_add_refuses_a_name_already_taken(db):
    run("add", "A", "--url", DOWN, "--key", "k" * 40, "--no-check")
    assert fails("add", "A", "--url", DOWN, "--key", "x" * 40, "--no-check") == "a provider named 'A' already exists"
    assert Provider.objects.get().api_key == "k" * 40


# --- list, balance, enable/disable ------------------------------------------------------------


def test_list_shows_each_provider_with_its_key_hint_balance_and_services(added, provider_panel, logs):
    run("add", "Unchecked", "--url", "https://user:pw@panel.example/api/v2?key=oops", "--key", "z" * 40, "--no-check")
    run("sync-services", "A", "--markup", "10")
    Service.objects.filter(upstream__provider=added).filter(pk=Service.objects.order_by("pk").first().pk).update(
        active=False
    )
    out, _ = run("list")
    lines = out.splitlines()
    assert lines[0].split() == ["name", "url", "key", "enabled", "currency", "balance", "services", "(active)"]
    assert lines[1].split() == [
        "A",
        provider_panel.url,
        f"{provider_panel.key[:4]}…",
        "yes",
        "USD",
        f"{RESELLER_BALANCE:.5f}",
        str(len(CATALOG)),
        f"({len(CATALOG) - 1})",
    ]
    assert lines[2].split() == ["Unchecked", "https://panel.example/api/v2", "zzzz…", "yes", "-", "-", "0", "(0)"]
    no_key(provider_panel.key, out, logs.text)
    # The URL's password and its query's key are left out (a random key's hint may hold the letters "pw").
    assert "z" * 40 not in out and "user:pw" not in out and ":pw@" not in out and "oops" not in out


def test_list_without_providers_says_how_to_add_one(db):
    assert "smmpanel provider add" in run("list")[0]


def test_balance_asks_the_provider_stores_and_prints_it(added, provider_panel, logs):
    Provider.objects.filter(pk=added.pk).update(balance=None, currency="", balance_checked_at=None)
    out, _ = run("balance", "A")
    assert out == f"A: {RESELLER_BALANCE:.5f} USD\n"
    added.refresh_from_db()
    assert added.balance == RESELLER_BALANCE and added.currency == "USD" and added.balance_checked_at
    no_key(provider_panel.key, out, logs.text)


def test_balance_of_a_provider_that_is_down_is_a_clear_error(added, provider_panel):
    Provider.objects.filter(pk=added.pk).update(api_url=DOWN)
    assert fails("balance", "A").startswith("cannot reach provider A: balance")
    added.refresh_from_db()
    assert added.balance == RESELLER_BALANCE  # the last one seen stays


def test_an_unknown_provider_is_named_in_the_error(db):
    for verb in ("balance", "sync-services", "disable", "enable"):
        assert fails(verb, "Nope") == "no provider named 'Nope' (see `smmpanel provider list`)"


def test_a_disabled_provider_is_not_synced_until_enabled_again(added):
    assert run("disable", "A")[0] == "provider A disabled\n"
    assert not Provider.objects.get().enabled
    assert fails("sync-services", "A") == "provider A is disabled: enable it first"
    assert not Service.objects.exists()
    assert run("enable", "A")[0] == "provider A enabled\n"
    run("sync-services", "A")
    assert Service.objects.count() == len(CATALOG)


# --- sync-services -------------------------------------------------------------------------------


def test_sync_services_prints_the_report_and_applies_markup_and_prefix(added, provider_panel, logs):
    out, err = run("sync-services", "A", "--markup", "12.5", "--category-prefix", "A / ")
    assert out.splitlines()[0] == f"provider A: {len(CATALOG)} services listed; {len(CATALOG)} created, 0 unchanged"
    poll = ProviderService.objects.get(upstream_service=str(provider_panel.services["poll"])).service
    assert poll.rate == Decimal("1.35000") and poll.category.name == "A / Provider"  # 1.20 × 1.125
    assert f"#{poll.pk} poll (Poll): 1.35000 (markup 12.50%)" in out

    again, _ = run("sync-services", "A")
    assert again == f"provider A: {len(CATALOG)} services listed; {len(CATALOG)} unchanged\n"
    no_key(provider_panel.key, out, err, again, logs.text)


@pytest.mark.parametrize("markup", ["-5", "abc", "1.001", "1e9", "nan"])
def test_sync_services_refuses_a_bad_percent_before_asking(added, markup):
    message = fails("sync-services", "A", "--markup", markup)
    assert "markup" in message or "percent" in message
    assert not Service.objects.exists()


def test_sync_services_of_a_provider_that_is_down_changes_nothing(added, provider_panel, logs):
    run("sync-services", "A", "--markup", "10")
    before = sorted(Service.objects.values_list("pk", "rate", "active"))
    Provider.objects.filter(pk=added.pk).update(api_url=DOWN)
    message = fails("sync-services", "A", "--markup", "50")
    assert message.startswith(f"cannot reach provider A: services {DOWN}: ConnectError")
    assert sorted(Service.objects.values_list("pk", "rate", "active")) == before
    no_key(provider_panel.key, message, logs.text)


def test_sync_services_under_a_5xx_says_what_the_provider_answered(added, provider_panel, logs):
    provider_panel.set_faults({"http_5xx": 1.0})
    message = fails("sync-services", "A", "--markup", "10")
    assert message.startswith("provider A ")
    assert "HTTP 5" in message or "refused" in message
    assert not Service.objects.exists()
    no_key(provider_panel.key, message, logs.text)


def test_the_console_command_prints_errors_in_words_without_a_traceback_or_the_key(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'b.sqlite3'}",
        "SMMPANEL_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "smmpanel.settings",
        "LOG_LEVEL": "DEBUG",
    }
    key = "ConsoleSecret0123456789abcdefghijklmnop"

    def smmpanel(*args):
        return subprocess.run(
            [str(PYTHON), "-m", "smmpanel", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert smmpanel("migrate", "--noinput").returncode == 0
    done = smmpanel("provider", "add", "A", "--url", DOWN, "--key", key)
    assert done.returncode == 1
    assert "CommandError: cannot reach provider A" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert key not in done.stderr + done.stdout
    done = smmpanel("provider", "sync-services", "A", "--markup", "ten")
    assert done.returncode == 1 and "CommandError: no provider named 'A'" in done.stderr


# --- admin ---------------------------------------------------------------------------------------


def test_the_provider_list_in_the_admin_shows_services_and_never_the_key(added, provider_panel, admin_client):
    run("sync-services", "A")
    page = admin_client.get("/admin/providers/provider/").content.decode()
    assert provider_panel.key not in page
    assert f"{provider_panel.key[:4]}…" in page
    assert f'<td class="field-services_count">{len(CATALOG)}</td>' in page
    form = admin_client.get(f"/admin/providers/provider/{added.pk}/change/").content.decode()
    assert provider_panel.key not in form


def test_the_admin_checks_balances(added, provider_panel, admin_client):
    Provider.objects.filter(pk=added.pk).update(balance=None)
    response = admin_client.post(
        "/admin/providers/provider/", {"action": "check_balance", "_selected_action": [added.pk]}, follow=True
    )
    page = response.content.decode()
    assert f"A: {RESELLER_BALANCE:.5f} USD" in page and provider_panel.key not in page
    added.refresh_from_db()
    assert added.balance == RESELLER_BALANCE


def test_the_admin_imports_services_after_asking_the_markup_and_prefix(added, provider_panel, admin_client):
    ask = admin_client.post("/admin/providers/provider/", {"action": "sync_services", "_selected_action": [added.pk]})
    assert ask.status_code == 200
    assert 'name="markup"' in ask.content.decode() and 'name="category_prefix"' in ask.content.decode()
    assert not Service.objects.exists()

    bad = admin_client.post(
        "/admin/providers/provider/",
        {
            "action": "sync_services",
            "_selected_action": [added.pk],
            "apply": "1",
            "markup": "-3",
        },
    )
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    assert not Service.objects.exists()

    done = admin_client.post(
        "/admin/providers/provider/",
        {
            "action": "sync_services",
            "_selected_action": [added.pk],
            "apply": "1",
            "markup": "40",
            "category_prefix": "From A: ",
        },
        follow=True,
    )
    page = done.content.decode()
    # The admin writes a message's first letter in capitals.
    assert f"Provider A: {len(CATALOG)} services listed; {len(CATALOG)} created" in page
    assert provider_panel.key not in page
    default = ProviderService.objects.get(upstream_service=str(provider_panel.services["default"])).service
    assert default.rate == Decimal("1.40000") and default.category.name == "From A: Provider"


def test_the_admin_reports_a_provider_that_is_down(added, admin_client):
    Provider.objects.filter(pk=added.pk).update(api_url=DOWN)
    done = admin_client.post(
        "/admin/providers/provider/",
        {
            "action": "sync_services",
            "_selected_action": [added.pk],
            "apply": "1",
            "markup": "",
        },
        follow=True,
    )
    assert "Cannot reach provider A" in done.content.decode()
    assert not Service.objects.exists()


def _post_data(*forms) -> dict:
    """What a browser would post for these (unbound) forms: their initial values."""
    data = {}
    for form in forms:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue
            data[field.html_name] = "on" if value is True else value
    return data


def test_a_rate_or_name_the_owner_edits_in_the_admin_is_kept_on_resync(added, provider_panel, admin_client, upstream):
    run("sync-services", "A", "--markup", "10")
    poll = ProviderService.objects.get(upstream_service=str(provider_panel.services["poll"])).service
    seo = ProviderService.objects.get(upstream_service=str(provider_panel.services["seo"])).service

    # The change form (with its inlines) for poll's name ...
    page = admin_client.get(f"/admin/catalog/service/{poll.pk}/change/")
    inlines = [
        f
        for inline in page.context["inline_admin_formsets"]
        for f in (inline.formset.management_form, *inline.formset.forms)
    ]
    data = _post_data(page.context["adminform"].form, *inlines)
    data["name"] = "Poll votes (ours)"
    saved = admin_client.post(f"/admin/catalog/service/{poll.pk}/change/", data)
    assert saved.status_code == 302, saved.content.decode()[:3000]

    # ... and the list's editable rate for seo.
    listing = admin_client.get("/admin/catalog/service/")
    formset = listing.context["cl"].formset
    data = _post_data(formset.management_form, *formset.forms)
    index = next(i for i, form in enumerate(formset.forms) if form.instance.pk == seo.pk)
    data[f"form-{index}-rate"] = "0.99"
    data["_save"] = "Save"
    assert admin_client.post("/admin/catalog/service/", data).status_code == 302

    poll.upstream.refresh_from_db()
    seo.upstream.refresh_from_db()
    assert (poll.upstream.keep_name, poll.upstream.keep_rate) == (True, False)
    assert (seo.upstream.keep_name, seo.upstream.keep_rate) == (False, True)

    upstream.update({"poll": {"name": "Poll votes v2", "rate": "2.00"}, "seo": {"name": "SEO v2", "rate": "0.50"}})
    run("sync-services", "A")
    poll.refresh_from_db()
    seo.refresh_from_db()
    assert (poll.name, poll.rate) == ("Poll votes (ours)", Decimal("2.20000"))
    assert (seo.name, seo.rate) == ("SEO v2", Decimal("0.99000"))


def test_an_owner_who_turns_a_service_back_on_or_off_takes_it_over_from_the_sync(
    added, provider_panel, admin_client, upstream
):
    run("sync-services", "A", "--markup", "10")
    mentions = ProviderService.objects.get(upstream_service=str(provider_panel.services["mentions"])).service
    upstream.update({"mentions": {"active": False}})
    run("sync-services", "A")  # the sync turns it off
    mentions.refresh_from_db()
    assert not mentions.active and mentions.upstream.deactivated_by_sync

    # The owner turns it on and off again in the list: from now on, it is the owner's choice.
    for active in (True, False):
        listing = admin_client.get("/admin/catalog/service/")
        formset = listing.context["cl"].formset
        data = _post_data(formset.management_form, *formset.forms)
        index = next(i for i, form in enumerate(formset.forms) if form.instance.pk == mentions.pk)
        data.pop(f"form-{index}-active", None)
        if active:
            data[f"form-{index}-active"] = "on"
        data["_save"] = "Save"
        assert admin_client.post("/admin/catalog/service/", data).status_code == 302

    upstream.update({"mentions": {"active": True}})
    out, _ = run("sync-services", "A")
    assert "reactivated" not in out
    mentions.refresh_from_db()
    assert not mentions.active


@pytest.fixture
def upstream(provider_panel):
    edits = UpstreamCatalog(provider_panel)
    yield edits
    edits.restore()
