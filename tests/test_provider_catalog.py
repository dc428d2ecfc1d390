"""Importing a provider's services with a markup, and re-syncing them (smmpanel.providers.catalog).

Panel B (the reseller) is this test process; panel A (the provider) is a real
smmpanel over HTTP (tests/providers_harness.py). Edits of A's catalog are made
through A's own shell and undone after each test (A lives for the module).
"""

import json
import re
import threading
from decimal import ROUND_CEILING, Decimal, localcontext
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smmpanel.catalog.models import Category, Service
from smmpanel.ledger.money import format_rate
from smmpanel.providers.catalog import (
    ProviderError,
    cost_rate,
    marked_up_rate,
    parse_markup,
    refresh_balance,
    sync_services,
)
from smmpanel.providers.models import Provider, ProviderService
from tests.providers_harness import CATALOG, RESELLER_BALANCE

CENT5 = Decimal("0.00001")


class UpstreamCatalog:
    """Changes to panel A's catalog for one test; `restore()` puts every touched service back."""

    def __init__(self, panel):
        self.panel = panel
        self.saved: dict[int, dict] = {}
        self.added: list[int] = []

    def update(self, changes: dict[str, dict]) -> None:
        """changes: {catalog key: {field: value}} (rates as strings), applied in one shell call."""
        by_id = {self.panel.services[key]: fields for key, fields in changes.items()}
        before = self.panel.python(f"""
import json
from decimal import Decimal
from smmpanel.catalog.models import Service
before = {{}}
for pk, fields in {by_id!r}.items():
    s = Service.objects.get(pk=pk)
    before[pk] = {{f: str(getattr(s, f)) if isinstance(getattr(s, f), Decimal) else getattr(s, f) for f in fields}}
    Service.objects.filter(pk=pk).update(**fields)
print(json.dumps(before))
""")
        for pk, fields in before.items():
            kept = self.saved.setdefault(int(pk), {})
            for name, value in fields.items():
                kept.setdefault(name, value)

    def add(self, name: str, type_: str, rate: str = "1.00") -> int:
        """A service of any type (even one we do not sell) on A; deleted by restore()."""
        created = self.panel.python(f"""
import json
from decimal import Decimal
from smmpanel.catalog.models import Category, Service
category, _ = Category.objects.get_or_create(name="Provider")
s = Service.objects.create(name={name!r}, category=category, type={type_!r}, rate=Decimal({rate!r}),
                           min=10, max=1000, fulfilment="manual")
print(json.dumps({{"id": s.pk}}))
""")
        self.added.append(created["id"])
        return created["id"]

    def restore(self) -> None:
        if not (self.saved or self.added):
            return
        self.panel.python(f"""
from smmpanel.catalog.models import Service
for pk, fields in {self.saved!r}.items():
    Service.objects.filter(pk=pk).update(**fields)
Service.objects.filter(pk__in={self.added!r}).delete()
print("{{}}")
""")


@pytest.fixture
def upstream(provider_panel):
    edits = UpstreamCatalog(provider_panel)
    yield edits
    edits.restore()


@pytest.fixture
def provider(db, provider_panel):
    """Panel A as a provider of B (this process), in USD."""
    return Provider.objects.create(name="A", api_url=provider_panel.url, api_key=provider_panel.key)


def local(provider_panel, key: str) -> Service:
    """B's service imported from A's service `key`."""
    ps = ProviderService.objects.select_related("service__category").get(
        upstream_service=str(provider_panel.services[key])
    )
    return ps.service


def ceil5(value) -> Decimal:
    return Decimal(value).quantize(CENT5, rounding=ROUND_CEILING)


def catalog_state():
    """Everything a sync may touch in B, to compare before and after."""
    services = list(Service.objects.order_by("pk").values())
    twins = list(ProviderService.objects.order_by("pk").values())
    categories = list(Category.objects.order_by("pk").values())
    return services, twins, categories


# --- prices ---------------------------------------------------------------------------------


def test_prices_are_rounded_up_to_five_places_and_never_below_cost():
    rates = ["0.333", "0.00001", "1", "0.1", "123.456789", "0.0000049", "7.77777777", "1000000"]
    currency_rates = ["1", "0.0123", "0.00000001", "3.33333333", "0.9"]
    markups = ["0", "0.01", "15", "33.33", "250"]
    for rate in rates:
        for currency_rate in currency_rates:
            for markup in markups:
                price = marked_up_rate(Decimal(rate), Decimal(currency_rate), Decimal(markup))
                cost = Decimal(rate) * Decimal(currency_rate)
                exact = cost * (1 + Decimal(markup) / 100)
                assert price == price.quantize(CENT5), price
                assert price >= exact >= cost, (rate, currency_rate, markup, price)
                assert price - exact < CENT5, (rate, currency_rate, markup, price)


def test_a_product_with_more_digits_than_the_default_context_is_still_rounded_up():
    # 28 significant digits would round this product down to exactly 0.00472 before the ceiling.
    rate = Decimal("0.004720000000000000000000000000123")
    assert marked_up_rate(rate, Decimal(1), Decimal(0)) == Decimal("0.00473")


def test_a_markup_must_be_a_percent_from_zero_with_two_decimals_at_most():
    assert parse_markup("15") == Decimal("15.00")
    assert parse_markup(" 12.5% ") == Decimal("12.50")
    for bad in ("-1", "abc", "NaN", "Infinity", "1.234", "", "10000000"):
        with pytest.raises(ValueError, match=re.escape(repr(bad))):  # the message names the value
            parse_markup(bad)


# --- import ---------------------------------------------------------------------------------


def test_an_import_creates_a_provider_service_for_each_upstream_service_at_the_marked_up_price(
    provider, provider_panel, upstream
):
    upstream.update({"seo": {"rate": "0.333"}})
    Provider.objects.filter(pk=provider.pk).update(currency_rate=Decimal("0.0123"))
    provider.refresh_from_db()

    report = sync_services(provider, markup_percent="15", category_prefix="A: ")

    assert len(report.created) == len(CATALOG) == report.listed
    assert not (report.price_changes or report.renamed or report.deactivated or report.skipped)
    # Worked by hand: 0.333 × 0.0123 × 1.15 = 0.004710285 → 0.00472; 1.00 × 0.0123 × 1.15 = 0.014145 → 0.01415;
    # 1.20 × 0.0123 × 1.15 = 0.016974 → 0.01698; 9.00 × 0.0123 × 1.15 = 0.127305 → 0.12731.
    assert local(provider_panel, "seo").rate == Decimal("0.00472")
    assert local(provider_panel, "default").rate == Decimal("0.01415")
    assert local(provider_panel, "poll").rate == Decimal("0.01698")
    assert local(provider_panel, "comment_replies").rate == Decimal("0.12731")
    for key, (type_, rate, low, high, options) in CATALOG.items():
        if key == "seo":
            rate = "0.333"
        service = local(provider_panel, key)
        twin = service.upstream
        assert service.fulfilment == "provider" and service.active
        assert twin.provider_id == provider.pk and twin.upstream_service == str(provider_panel.services[key])
        assert (service.type, service.min, service.max) == (type_, low, high)
        assert service.name == f"{key} ({type_})"
        assert service.category.name == "A: Provider"
        for flag in ("refill", "cancel", "dripfeed"):
            assert getattr(service, flag) == bool(options.get(flag)), (key, flag)
            assert getattr(twin, f"upstream_{flag}") == bool(options.get(flag))
        assert twin.upstream_rate == Decimal(rate) and twin.markup_percent == Decimal(15)
        assert twin.available and not twin.keep_rate and not twin.keep_name
        cost = Decimal(rate) * Decimal("0.0123")
        assert service.rate == ceil5(cost * Decimal("1.15")) >= cost


def test_a_customer_of_the_reseller_sees_the_provider_services_under_marked_up_prices(
    provider, provider_panel, customer, api
):
    sync_services(provider, markup_percent="30", category_prefix="Resold / ")
    listed = {item["name"]: item for item in api(customer().key, "services")}
    for key, (type_, rate, low, high, _) in CATALOG.items():
        item = listed[f"{key} ({type_})"]
        service = local(provider_panel, key)
        assert item["service"] == service.pk
        assert item["rate"] == format_rate(ceil5(Decimal(rate) * Decimal("1.3")))
        assert Decimal(item["rate"]) > Decimal(rate)
        assert item["category"] == "Resold / Provider"
        assert item["type"] == type_ and item["min"] == str(low) and item["max"] == str(high)


def test_a_reseller_customer_can_order_an_imported_service_at_the_marked_up_price(
    provider, provider_panel, customer, api
):
    sync_services(provider, markup_percent="10")
    buyer = customer("100")
    service = local(provider_panel, "default")
    body = api(buyer.key, "add", service=service.pk, link="https://example.com/p/1", quantity=1000)
    assert set(body) == {"order"}
    assert buyer.balance() == Decimal("100") - Decimal("1.10000")


def test_upstream_types_we_do_not_sell_are_skipped_and_reported(provider, provider_panel, upstream):
    odd = upstream.add("Story views fast", "Story Views")
    report = sync_services(provider, markup_percent="0")
    assert len(report.created) == len(CATALOG)
    assert [(line.name, line.detail) for line in report.skipped] == [
        (f"#{odd} Story views fast", "type 'Story Views' is not one of ours")
    ]
    assert not ProviderService.objects.filter(upstream_service=str(odd)).exists()
    assert "skipped" in str(report) and "Story Views" in str(report)


def test_a_report_reads_as_a_summary_of_what_changed(provider, provider_panel, upstream):
    first = sync_services(provider, markup_percent="20")
    text = str(first)
    assert text.splitlines()[0] == f"provider A: {len(CATALOG)} services listed; {len(CATALOG)} created, 0 unchanged"
    assert f"#{local(provider_panel, 'poll').pk} poll (Poll): 1.44000 (markup 20.00%)" in text

    upstream.update({"poll": {"rate": "1.50"}})
    second = str(sync_services(provider))
    assert second.splitlines()[0] == (
        f"provider A: {len(CATALOG)} services listed; 1 price change, {len(CATALOG) - 1} unchanged"
    )
    assert f"price       #{local(provider_panel, 'poll').pk} poll (Poll): 1.44000 → 1.80000" in second


# --- re-sync --------------------------------------------------------------------------------


def test_a_resync_follows_upstream_price_limit_and_option_changes(provider, provider_panel, upstream):
    sync_services(provider, markup_percent="10")
    poll, mentions = local(provider_panel, "poll"), local(provider_panel, "mentions")
    upstream.update(
        {
            "poll": {"rate": "2.00", "min": 50, "max": 500},
            "mentions": {"refill": True, "cancel": True},
        }
    )

    report = sync_services(provider)

    assert [(line.service, line.detail) for line in report.price_changes] == [(poll.pk, "1.32000 → 2.20000")]
    assert sorted((line.service, line.detail) for line in report.changed) == sorted(
        [
            (poll.pk, "min 10 → 50, max 10000 → 500"),
            (mentions.pk, "refill False → True, cancel False → True"),
        ]
    )
    assert report.unchanged == len(CATALOG) - 2
    poll.refresh_from_db()
    mentions.refresh_from_db()
    assert (poll.rate, poll.min, poll.max) == (Decimal("2.20000"), 50, 500)
    assert poll.upstream.upstream_rate == Decimal("2.00")
    assert mentions.refill and mentions.cancel and mentions.upstream.upstream_refill


def test_a_resync_without_a_markup_keeps_each_service_s_own_markup(provider, provider_panel, upstream):
    sync_services(provider, markup_percent="10")
    ProviderService.objects.filter(service=local(provider_panel, "seo")).update(markup_percent=Decimal("50"))
    upstream.update({"seo": {"rate": "0.80"}, "default": {"rate": "2.00"}})

    sync_services(provider)

    assert local(provider_panel, "seo").rate == Decimal("1.20000")  # 0.80 × 1.5
    assert local(provider_panel, "default").rate == Decimal("2.20000")  # 2.00 × 1.1

    sync_services(provider, markup_percent="0")
    assert local(provider_panel, "seo").rate == Decimal("0.80000")
    assert local(provider_panel, "seo").upstream.markup_percent == 0


def test_a_service_new_upstream_takes_the_markup_most_services_have(provider, provider_panel, upstream):
    sync_services(provider, markup_percent="25")
    new = upstream.add("Fresh likes", "Default", rate="2.00")
    report = sync_services(provider)
    created = ProviderService.objects.get(upstream_service=str(new))
    assert [line.service for line in report.created] == [created.pk]
    assert created.markup_percent == 25 and created.service.rate == Decimal("2.50000")


def test_a_service_removed_upstream_is_deactivated_not_deleted_and_comes_back_when_listed_again(
    provider, provider_panel, customer, api, upstream
):
    sync_services(provider, markup_percent="10")
    mentions = local(provider_panel, "mentions")
    buyer = customer()

    upstream.update({"mentions": {"active": False}})
    report = sync_services(provider)
    assert [(line.service, line.detail) for line in report.deactivated] == [
        (mentions.pk, "no longer listed by the provider")
    ]
    mentions.refresh_from_db()
    assert not mentions.active and not mentions.upstream.available
    assert mentions.pk not in {item["service"] for item in api(buyer.key, "services")}

    again = sync_services(provider)  # still gone: nothing new to say
    assert not again.deactivated and again.unchanged == len(CATALOG) - 1

    upstream.update({"mentions": {"active": True}})
    back = sync_services(provider)
    assert [line.service for line in back.reactivated] == [mentions.pk]
    mentions.refresh_from_db()
    assert mentions.active and mentions.upstream.available
    assert mentions.pk in {item["service"] for item in api(buyer.key, "services")}
    assert Service.objects.filter(fulfilment="provider").count() == len(CATALOG)


def test_a_service_the_owner_turned_off_stays_off_when_it_comes_back_upstream(provider, provider_panel, upstream):
    sync_services(provider, markup_percent="10")
    seo = local(provider_panel, "seo")
    Service.objects.filter(pk=seo.pk).update(active=False)  # the owner's choice

    assert not sync_services(provider).reactivated  # listed, and still off
    upstream.update({"seo": {"active": False}})
    gone = sync_services(provider)
    assert not gone.deactivated  # it was off already: the sync did not turn it off
    upstream.update({"seo": {"active": True}})
    back = sync_services(provider)
    assert not back.reactivated
    seo.refresh_from_db()
    assert not seo.active and seo.upstream.available


def test_a_renamed_upstream_service_is_renamed_here_unless_the_owner_kept_the_name(provider, provider_panel, upstream):
    sync_services(provider, markup_percent="10")
    poll, seo = local(provider_panel, "poll"), local(provider_panel, "seo")
    Service.objects.filter(pk=seo.pk).update(name="Our SEO")
    ProviderService.objects.filter(service=seo).update(keep_name=True)
    upstream.update({"poll": {"name": "Poll votes HQ"}, "seo": {"name": "SEO traffic v2"}})

    report = sync_services(provider)

    assert [(line.service, line.name, line.detail) for line in report.renamed] == [
        (poll.pk, "Poll votes HQ", "from poll (Poll)")
    ]
    seo.refresh_from_db()
    assert seo.name == "Our SEO" and seo.upstream.upstream_name == "SEO traffic v2"
    poll.refresh_from_db()
    assert poll.name == "Poll votes HQ"


def test_the_owner_s_rate_survives_a_resync_and_a_rate_below_cost_is_reported(provider, provider_panel, upstream):
    sync_services(provider, markup_percent="10")
    default = local(provider_panel, "default")
    Service.objects.filter(pk=default.pk).update(rate=Decimal("1.05"))
    ProviderService.objects.filter(service=default).update(keep_rate=True)

    upstream.update({"default": {"rate": "1.02"}})
    report = sync_services(provider)
    assert not report.price_changes and not report.below_cost
    default.refresh_from_db()
    assert default.rate == Decimal("1.05") and default.upstream.upstream_rate == Decimal("1.02")

    upstream.update({"default": {"rate": "1.25"}})
    report = sync_services(provider)
    assert not report.price_changes
    assert [(line.service, line.detail) for line in report.below_cost] == [
        (default.pk, "kept rate 1.05000 < cost 1.25")
    ]
    assert "BELOW COST" in str(report)
    default.refresh_from_db()
    assert default.rate == Decimal("1.05")


def test_imported_categories_go_after_the_owners_own(provider, provider_panel, upstream):
    Category.objects.create(name="Mine first", position=0)
    Category.objects.create(name="Mine last", position=5)
    sync_services(provider, markup_percent="0", category_prefix="A · ")
    names = list(Category.objects.values_list("name", flat=True))  # in the order the panel lists them
    assert names[:2] == ["Mine first", "Mine last"]
    imported = Category.objects.filter(name__startswith="A · ")
    assert imported.exists() and all(c.position > 5 for c in imported)
    assert len({c.position for c in imported}) == imported.count()  # each after the one before


def test_categories_follow_the_provider_under_the_prefix_unless_the_owner_refiled_a_service(
    provider, provider_panel, upstream
):
    sync_services(provider, markup_percent="0", category_prefix="A · ")
    poll, seo = local(provider_panel, "poll"), local(provider_panel, "seo")
    mine = Category.objects.create(name="Hand picked")
    Service.objects.filter(pk=seo.pk).update(category=mine)

    sync_services(provider)  # no prefix given: nothing moves
    assert local(provider_panel, "poll").category.name == "A · Provider"

    # The provider files poll and seo under a new category: poll follows (same prefix), seo stays with the owner's.
    moved = provider_panel.python(f"""
import json
from smmpanel.catalog.models import Category, Service
new, _ = Category.objects.get_or_create(name="Votes")
old = Service.objects.get(pk={provider_panel.services["poll"]}).category_id
both = [{provider_panel.services["poll"]}, {provider_panel.services["seo"]}]
Service.objects.filter(pk__in=both).update(category=new)
print(json.dumps({{"old": old}}))
""")
    try:
        report = sync_services(provider)
        assert [(line.service, line.detail) for line in report.changed] == [
            (poll.pk, "category A · Provider → A · Votes")
        ]
        assert local(provider_panel, "seo").category == mine
    finally:
        provider_panel.python(f"""
from smmpanel.catalog.models import Service
Service.objects.filter(pk__in=[{provider_panel.services["poll"]}, {provider_panel.services["seo"]}]).update(
    category_id={moved["old"]})
print("{{}}")
""")


# --- a provider that cannot be asked ----------------------------------------------------------------


def test_a_provider_that_is_down_changes_nothing(provider, provider_panel):
    sync_services(provider, markup_percent="10")
    before = catalog_state()
    Provider.objects.filter(pk=provider.pk).update(api_url="http://127.0.0.1:9/api/v2")
    provider.refresh_from_db()
    with pytest.raises(ProviderError, match=re.escape("cannot reach provider A: services http://127.0.0.1:9/api/v2")):
        sync_services(provider, markup_percent="50")
    assert catalog_state() == before


def test_an_html_error_page_or_a_refusal_changes_nothing_and_says_why(provider, provider_panel):
    sync_services(provider, markup_percent="10")
    before = catalog_state()
    provider_panel.set_faults({"html": 1.0})
    with pytest.raises(ProviderError, match="provider A gave an unreadable answer to `services`"):
        sync_services(provider, markup_percent="50")
    provider_panel.set_faults({})
    Provider.objects.filter(pk=provider.pk).update(api_key="wrong-key-0000")
    provider.refresh_from_db()
    with pytest.raises(ProviderError, match="provider A refused `services`: Invalid API key"):
        sync_services(provider, markup_percent="50")
    assert catalog_state() == before


def test_a_disabled_provider_is_not_synced(provider):
    Provider.objects.filter(pk=provider.pk).update(enabled=False)
    provider.refresh_from_db()
    with pytest.raises(ProviderError, match="disabled"):
        sync_services(provider)
    assert not Service.objects.exists()


class FixedPanel(BaseHTTPRequestHandler):
    """A panel that answers every request with `self.server.body` (JSON), as some real panels shape it."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        payload = json.dumps(self.server.body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def fixed_panel():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FixedPanel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_string_ids_and_odd_spellings_from_a_provider_are_imported(db, fixed_panel):
    fixed_panel.body = [
        {
            "service": "157",
            "name": "Followers",
            "type": "default",
            "category": "",
            "rate": "0.90",
            "min": "50",
            "max": "10000",
            "refill": "1",
            "cancel": 0,
            "dripfeed": "true",
        },
        {
            "service": " 158 ",
            "name": "Comments",
            "type": "Custom  comments",
            "category": "IG",
            "rate": 8,
            "min": 1,
            "max": "1500",
        },
        {"service": "x-9", "name": "Unreadable id", "type": "Default", "rate": "1"},
        {"service": "159", "name": "No max", "type": "Default", "category": "IG", "rate": "1", "min": 10},
        {
            "service": "160",
            "name": "Backwards",
            "type": "Default",
            "category": "IG",
            "rate": "1",
            "min": 100,
            "max": 10,
        },
    ]
    url = f"http://127.0.0.1:{fixed_panel.server_address[1]}/api/v2"
    provider = Provider.objects.create(name="Z", api_url=url, api_key="k" * 32)

    report = sync_services(provider, markup_percent="0")

    followers = ProviderService.objects.get(provider=provider, upstream_service="157").service
    comments = ProviderService.objects.get(provider=provider, upstream_service="158").service
    assert (followers.type, followers.min, followers.max, followers.category.name) == ("Default", 50, 10000, "Other")
    assert followers.refill and not followers.cancel and followers.dripfeed
    assert (comments.type, comments.rate, comments.category.name) == ("Custom Comments", Decimal("8"), "IG")
    assert report.listed == 5
    assert sorted(line.detail for line in report.skipped) == [
        "min 100 above max 10",
        "no maximum quantity",
        "without a readable id, name or rate",
    ]
    assert "1 item" in [line.name for line in report.skipped]  # one unreadable item, said in the singular


def test_numbers_our_columns_cannot_hold_are_skipped_or_clamped_not_a_crash(db, fixed_panel):
    fixed_panel.body = [
        {"service": 1, "name": "Negative min", "type": "Default", "rate": "1", "min": -1, "max": 10**12},
        {"service": 2, "name": "Huge rate", "type": "Default", "rate": "1e20", "min": 1, "max": 10},
        {"service": "9" * 60, "name": "Long id", "type": "Default", "rate": "1", "min": 1, "max": 10},
        {"service": 3, "name": "Long type", "type": " Custom   Comments " + " " * 40, "rate": "1", "min": 1, "max": 10},
    ]
    url = f"http://127.0.0.1:{fixed_panel.server_address[1]}/api/v2"
    provider = Provider.objects.create(name="Z", api_url=url, api_key="k" * 32, currency_rate=Decimal("0.00000001"))

    report = sync_services(provider)

    clamped = ProviderService.objects.get(upstream_service="1")
    assert (clamped.service.min, clamped.service.max) == (1, 2**31 - 1)
    assert (clamped.upstream_min, clamped.upstream_max) == (0, 2**31 - 1)
    assert ProviderService.objects.get(upstream_service="3").service.type == "Custom Comments"
    assert sorted(line.detail for line in report.skipped) == ["id too long", "rate 1E+20 out of range"]


def test_an_empty_service_list_changes_nothing(db, fixed_panel):
    fixed_panel.body = [{"service": 1, "name": "One", "type": "Default", "rate": "1", "min": 1, "max": 10}]
    url = f"http://127.0.0.1:{fixed_panel.server_address[1]}/api/v2"
    provider = Provider.objects.create(name="Z", api_url=url, api_key="k" * 32)
    sync_services(provider)
    fixed_panel.body = []
    with pytest.raises(ProviderError, match="listed no services; nothing changed"):
        sync_services(provider)
    assert Service.objects.get().active


# --- balance --------------------------------------------------------------------------------


def test_refresh_balance_stores_what_the_provider_says(provider):
    from django.utils import timezone

    now = timezone.now()
    refresh_balance(provider, now=now)
    provider.refresh_from_db()
    assert provider.balance == RESELLER_BALANCE
    assert provider.currency == "USD" and provider.balance_checked_at == now


@settings(max_examples=300, deadline=None)
@given(
    rate=st.decimals(min_value=0, max_value=10**6, places=8),
    currency_rate=st.decimals(min_value=Decimal("0.00000001"), max_value=10**4, places=8),
    markup=st.decimals(min_value=0, max_value=1000, places=2),
)
def test_no_rate_and_currency_rate_and_markup_give_a_price_below_cost(rate, currency_rate, markup):
    price = marked_up_rate(rate, currency_rate, markup)
    with localcontext() as ctx:
        ctx.prec = 100  # exact
        exact = rate * currency_rate * (1 + markup / 100)
    assert price == price.quantize(CENT5) and exact <= price < exact + CENT5
    assert price >= cost_rate(rate, currency_rate)


def test_a_new_currency_rate_reprices_every_service_but_the_kept_ones(provider, provider_panel):
    sync_services(provider, markup_percent="0")
    kept = local(provider_panel, "seo")
    ProviderService.objects.filter(service=kept).update(keep_rate=True)
    Provider.objects.filter(pk=provider.pk).update(currency_rate=Decimal("2"))
    provider.refresh_from_db()

    report = sync_services(provider)

    assert len(report.price_changes) == len(CATALOG) - 1
    assert local(provider_panel, "poll").rate == Decimal("2.40000")
    assert local(provider_panel, "seo").rate == Decimal("0.40000")
    assert [line.service for line in report.below_cost] == [kept.pk]


def test_cost_is_exact_for_long_rates():
    assert cost_rate(Decimal("0.333"), Decimal("0.0123")) == Decimal("0.0040959")
