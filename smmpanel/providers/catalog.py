"""A provider's services in our catalog: import and re-sync them with a markup; read our balance there.

- sync_services(provider, markup_percent=…, category_prefix=…) asks the provider for
  its `services` (outside any transaction: it is network I/O), then applies the
  answer to our catalog in ONE transaction: every upstream service of one of our
  16 types becomes (or updates) a local Service of fulfilment "provider" with its
  ProviderService twin; the report says what changed.
- refresh_balance(provider) asks `balance` and stores it on the provider.

Rules a re-sync follows (the owner's view: README, "Providers (reselling)"):
- price = upstream rate × provider.currency_rate × (1 + markup/100), rounded UP to
  the 5 places of a MoneyField, so a local rate is never below its cost;
- each service keeps its own markup (ProviderService.markup_percent): a sync given
  a markup sets it on every service it lists; one without keeps each service's
  own, and a service new upstream takes the markup most of the provider's
  services have (0 on a first import without one);
- a service gone upstream (or no longer importable) is deactivated, never deleted;
  when it comes back it is re-activated only if a sync had deactivated it;
- keep_rate / keep_name (the owner edited them) leave the local rate / name alone,
  while the upstream values are still recorded (a kept rate now below cost is reported);
- what customers care about (a new service, a price, min/max, on/off) is recorded as a
  service update in the sync's transaction (smmpanel.updates.record);
- a service's category is set when it is created, and moved only when the
  provider moves it or a prefix is given (the owner may file services their own way).

Nothing here logs or raises text holding the provider's key: the client scrubs
the provider's answers, and we never format the key ourselves.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import NamedTuple, cast

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import ngettext

from smmpanel.catalog.models import Category, Service
from smmpanel.catalog.order_types import ORDER_TYPES, QTY_ONE
from smmpanel.client import ApiError, BadResponse, Client, TransportError
from smmpanel.ledger.money import MAX_AMOUNT, PLACES
from smmpanel.providers.connection import calling
from smmpanel.providers.models import Provider, ProviderService
from smmpanel.updates.models import Source
from smmpanel.updates.record import recording

log = logging.getLogger(__name__)

FULFILMENT = "provider"
NO_CATEGORY = "Other"  # for upstream services listed without a category
MAX_MARKUP = Decimal("9999999.99")  # ProviderService.markup_percent: 9 digits, 2 places
MAX_COUNT = 2**31 - 1  # min/max columns are 32-bit integers on PostgreSQL
MAX_UPSTREAM_RATE = Decimal("1e16")  # ProviderService.upstream_rate: 24 digits, 8 places
NAME_MAX = Service._meta.get_field("name").max_length
ID_MAX = cast(int, ProviderService._meta.get_field("upstream_service").max_length)  # a CharField: always set
CATEGORY_MAX = Category._meta.get_field("name").max_length

# Our 16 type names, found whatever the case and spacing a provider writes them in.
_TYPES = {" ".join(t.name.lower().split()): t for t in ORDER_TYPES}


class ProviderError(Exception):
    """The provider could not be asked, or refused, or answered nonsense; the message is for the owner."""


# --- numbers the owner types ------------------------------------------------------------------------


def parse_markup(value) -> Decimal:
    """A markup in percent: a number from 0 to 9,999,999.99 with at most 2 decimals; ValueError otherwise.

    Negative markups are refused: they would sell below cost.
    """
    try:
        number = Decimal(str(value).strip().rstrip("%").strip())
    except InvalidOperation:
        raise ValueError(f"not a percent: {value!r}") from None
    if not number.is_finite() or number < 0 or number > MAX_MARKUP:
        raise ValueError(f"a markup is a percent from 0 to {MAX_MARKUP}: {value!r}")
    if number != number.quantize(Decimal("0.01")):
        raise ValueError(f"a markup has at most 2 decimals: {value!r}")
    return number.quantize(Decimal("0.01"))


def parse_currency_rate(value) -> Decimal:
    """USD per unit of the provider's currency: a positive number with at most 8 decimals; ValueError otherwise."""
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a currency rate: {value!r}") from None
    if not number.is_finite() or number <= 0 or number >= Decimal("1e10"):
        raise ValueError(f"a currency rate is a positive number below 10,000,000,000: {value!r}")
    if number != number.quantize(Decimal("1e-8")):
        raise ValueError(f"a currency rate has at most 8 decimals: {value!r}")
    return number


def cost_rate(upstream_rate, currency_rate) -> Decimal:
    """What 1000 units (or a package) cost us in USD, exactly (no rounding)."""
    with localcontext() as ctx:
        ctx.prec = 100  # exact: the default 28 digits could round a product down before the ceiling
        return Decimal(upstream_rate) * Decimal(currency_rate)


def marked_up_rate(upstream_rate, currency_rate, markup_percent) -> Decimal:
    """Our rate: cost × (1 + markup/100), rounded up to 5 places (so never below cost)."""
    with localcontext() as ctx:
        ctx.prec = 100
        exact = cost_rate(upstream_rate, currency_rate) * (1 + Decimal(markup_percent) / 100)
        return exact.quantize(PLACES, rounding=ROUND_CEILING)


# --- asking the provider --------------------------------------------------------------------------------


def _ask(provider: Provider, action: str, call, client: Client | None = None):
    """call(client) within the provider's limits; the client's failures become a ProviderError in words."""
    try:
        if client is not None:
            return call(client)
        with calling(provider) as pooled:
            return call(pooled)
    except TransportError as e:
        raise ProviderError(f"cannot reach provider {provider.name}: {e.message}") from None
    except ApiError as e:
        raise ProviderError(f"provider {provider.name} refused `{action}`: {e.message}") from None
    except BadResponse as e:
        raise ProviderError(
            f"provider {provider.name} gave an unreadable answer to `{action}`: {e.message} (HTTP {e.status_code})"
        ) from None


def check_balance(provider: Provider, client: Client | None = None):
    """The provider's `balance` answer (a smmpanel.client.Balance); stores nothing."""
    return _ask(provider, "balance", lambda c: c.balance(), client)


def refresh_balance(provider: Provider, now=None, client: Client | None = None) -> Provider:
    """Asks the provider for our balance there and stores balance, currency and when; returns the provider.

    Works on a disabled provider too: asking for a balance orders nothing. `client`: a
    one-off client for a provider not saved yet (`provider add` checks before it saves).
    """
    answer = check_balance(provider, client)
    amount = answer.amount.quantize(PLACES, rounding=ROUND_HALF_UP)
    if abs(amount) >= Decimal("1e19"):
        raise ProviderError(f"provider {provider.name} answered a balance out of range: {answer.amount}")
    provider.balance = amount
    if answer.currency:  # a panel that does not say keeps the currency it said before
        provider.currency = answer.currency[: Provider._meta.get_field("currency").max_length]
    provider.balance_checked_at = now or timezone.now()
    if provider.pk is not None:
        Provider.objects.filter(pk=provider.pk).update(
            balance=provider.balance, currency=provider.currency, balance_checked_at=provider.balance_checked_at
        )
    return provider


# --- the report -------------------------------------------------------------------------------------------


class Line(NamedTuple):
    """One service in a report: local id (None for a skipped one), name, and what happened."""

    service: int | None
    name: str
    detail: str = ""


@dataclass
class SyncReport:
    provider: str
    listed: int = 0  # services in the provider's answer
    created: list[Line] = field(default_factory=list)
    price_changes: list[Line] = field(default_factory=list)  # detail "old → new"
    renamed: list[Line] = field(default_factory=list)  # name is the new one, detail "from …"
    changed: list[Line] = field(default_factory=list)  # type, min/max, options, category
    deactivated: list[Line] = field(default_factory=list)
    reactivated: list[Line] = field(default_factory=list)
    skipped: list[Line] = field(default_factory=list)  # service None; name "#upstream-id name"; detail why
    below_cost: list[Line] = field(default_factory=list)  # kept rates the provider's price now exceeds
    unchanged: int = 0

    # (attribute, label of its lines, what the summary counts it as)
    SECTIONS = (
        ("created", "created", "created"),
        ("price_changes", "price", "price change"),
        ("renamed", "renamed", "renamed"),
        ("changed", "changed", "changed"),
        ("deactivated", "deactivated", "deactivated"),
        ("reactivated", "reactivated", "reactivated"),
        ("skipped", "skipped", "skipped"),
        ("below_cost", "BELOW COST", "below cost"),
    )

    @property
    def changes(self) -> int:
        """How many services this sync changed (skipped and below-cost ones are news, not changes)."""
        return sum(len(getattr(self, name)) for name, _, _ in self.SECTIONS if name not in ("skipped", "below_cost"))

    def summary(self) -> str:
        counts = [
            f"{len(getattr(self, name))} {counted}"
            + ("s" if counted.endswith("change") and len(getattr(self, name)) > 1 else "")
            for name, _, counted in self.SECTIONS
            if getattr(self, name)
        ]
        counts.append(f"{self.unchanged} unchanged")
        listed = ngettext("%(n)d service listed", "%(n)d services listed", self.listed) % {"n": self.listed}
        return f"provider {self.provider}: {listed}; " + ", ".join(counts)

    def __str__(self) -> str:
        lines = [self.summary()]
        for name, label, _ in self.SECTIONS:
            for line in getattr(self, name):
                who = f"#{line.service} {line.name}" if line.service is not None else line.name
                lines.append(f"  {label:<11} {who}" + (f": {line.detail}" if line.detail else ""))
        return "\n".join(lines)


# --- the sync ---------------------------------------------------------------------------------------------


def _our_type(name: str):
    return _TYPES.get(" ".join(name.lower().split()))


def _limits(item, order_type) -> tuple[int, int] | str:
    """(min, max) for a local service, or why the upstream service cannot be sold."""
    if order_type.quantity == QTY_ONE:  # a package: one unit, whatever the panel says
        return 1, 1
    low, high = max(_count(item.min), 1), _count(item.max)
    if high == 0:
        return "no maximum quantity"
    if low > high:
        return f"min {item.min} above max {item.max}"
    return low, high


def _count(value: int) -> int:
    """A min or max as our columns can hold it (a panel may send -1 or 10**12)."""
    return max(0, min(value, MAX_COUNT))


def _category_name(prefix: str, upstream_category: str) -> str:
    return (prefix + (upstream_category or NO_CATEGORY))[:CATEGORY_MAX]


def _after_the_last_category() -> int:
    last = Category.objects.aggregate(last=Max("position"))["last"]
    return 0 if last is None else last + 1


class _Sync:
    """One sync's state: the provider (locked), its known services, the categories, the report."""

    def __init__(self, provider, items, markup, prefix, now, report):
        self.provider = provider
        self.items = items
        self.markup = markup
        self.prefix = prefix
        self.now = now
        self.report = report
        self.categories: dict[str, Category] = {}

    def category(self, name: str) -> Category:
        if name not in self.categories:
            # A new category goes after every existing one, not at position 0 among the owner's own.
            after_the_last = {"position": _after_the_last_category}
            self.categories[name], _ = Category.objects.get_or_create(name=name, defaults=after_the_last)
        return self.categories[name]

    def run(self) -> None:
        known = {
            ps.upstream_service: ps
            for ps in ProviderService.objects.filter(provider=self.provider)
            .select_related("service", "service__category")
            .select_for_update(of=("self", "service"))
        }
        common = Counter(ps.markup_percent for ps in known.values()).most_common(1)
        default_markup = self.markup if self.markup is not None else (common[0][0] if common else Decimal(0))
        listed: set[str] = set()
        for position, item in enumerate(self.items):
            upstream_id = str(item.service)
            label = f"#{upstream_id} {item.name}"
            if len(upstream_id) > ID_MAX:
                self.report.skipped.append(Line(None, f"#{upstream_id[:20]}… {item.name}", "id too long"))
                continue
            if upstream_id in listed:
                self.report.skipped.append(Line(None, label, "listed twice (the first one counts)"))
                continue
            reason, order_type, limits = self.check(item)
            if reason:
                self.report.skipped.append(Line(None, label, reason))
                continue
            listed.add(upstream_id)
            ps = known.get(upstream_id)
            if ps is None:
                self.create(item, order_type, limits, position, default_markup)
            else:
                self.update(ps, item, order_type, limits)
        for upstream_id, ps in known.items():
            if upstream_id not in listed:
                self.gone(ps)

    def check(self, item):
        order_type = _our_type(item.type)
        if order_type is None:
            return f"type {item.type!r} is not one of ours", None, None
        limits = _limits(item, order_type)
        if isinstance(limits, str):
            return limits, None, None
        if item.rate < 0:
            return f"negative rate {item.rate}", None, None
        if (
            item.rate >= MAX_UPSTREAM_RATE
            or marked_up_rate(item.rate, self.provider.currency_rate, self.markup or 0) > MAX_AMOUNT
        ):
            return f"rate {item.rate} out of range", None, None
        return "", order_type, limits

    def record_upstream(self, ps: ProviderService, item) -> None:
        ps.upstream_name = item.name[: ProviderService._meta.get_field("upstream_name").max_length]
        ps.upstream_category = item.category[: ProviderService._meta.get_field("upstream_category").max_length]
        ps.upstream_type = item.type[: ProviderService._meta.get_field("upstream_type").max_length]
        ps.upstream_rate = item.rate
        ps.upstream_min, ps.upstream_max = _count(item.min), _count(item.max)
        ps.upstream_dripfeed, ps.upstream_refill, ps.upstream_cancel = item.dripfeed, item.refill, item.cancel
        ps.available = True
        ps.synced_at = self.now

    def create(self, item, order_type, limits, position, markup) -> None:
        service = Service.objects.create(
            name=item.name[:NAME_MAX],
            category=self.category(_category_name(self.prefix or "", item.category)),
            type=order_type.name,
            rate=marked_up_rate(item.rate, self.provider.currency_rate, markup),
            min=limits[0],
            max=limits[1],
            refill=item.refill,
            cancel=item.cancel,
            dripfeed=item.dripfeed,
            fulfilment=FULFILMENT,
            position=position,
            active=True,
        )
        ps = ProviderService(
            service=service, provider=self.provider, upstream_service=str(item.service), markup_percent=markup
        )
        self.record_upstream(ps, item)
        ps.save(force_insert=True)
        self.report.created.append(Line(service.pk, service.name, f"{service.rate} (markup {markup}%)"))

    def update(self, ps: ProviderService, item, order_type, limits) -> None:
        service = ps.service
        old_category = ps.upstream_category
        self.record_upstream(ps, item)
        if self.markup is not None:
            ps.markup_percent = self.markup
        # Each step reports under the service's name as it is at that step (a rename comes second).
        touched = self._update_rate(ps, item)
        touched = self._update_name(ps, item) or touched
        touched = self._update_fields(ps, item, order_type, limits, old_category) or touched
        if ps.deactivated_by_sync:
            if not service.active:
                service.active = True
                self.report.reactivated.append(_line(service, "listed again"))
                touched = True
            ps.deactivated_by_sync = False
        if touched:
            service.save()
        else:
            self.report.unchanged += 1
        ps.save()

    def _update_rate(self, ps: ProviderService, item) -> bool:
        service = ps.service
        rate = marked_up_rate(item.rate, self.provider.currency_rate, ps.markup_percent)
        if ps.keep_rate:
            cost = cost_rate(item.rate, self.provider.currency_rate)
            if service.rate < cost:
                self.report.below_cost.append(_line(service, f"kept rate {service.rate} < cost {cost.normalize():f}"))
            return False
        if service.rate == rate:
            return False
        self.report.price_changes.append(_line(service, f"{service.rate} → {rate}"))
        service.rate = rate
        return True

    def _update_name(self, ps: ProviderService, item) -> bool:
        service = ps.service
        name = item.name[:NAME_MAX]
        if ps.keep_name or service.name == name:
            return False
        old_name, service.name = service.name, name
        self.report.renamed.append(_line(service, f"from {old_name}"))
        return True

    def _update_fields(self, ps: ProviderService, item, order_type, limits, old_category: str) -> bool:
        """Type, limits, refill, cancel, drip-feed and category as the provider lists them now."""
        service = ps.service
        changes = []
        for attr, value in (
            ("type", order_type.name),
            ("min", limits[0]),
            ("max", limits[1]),
            ("refill", item.refill),
            ("cancel", item.cancel),
            ("dripfeed", item.dripfeed),
        ):
            if getattr(service, attr) != value:
                changes.append(f"{attr} {getattr(service, attr)} → {value}")
                setattr(service, attr, value)
        target = self.target_category(service, old_category, item.category)
        if target is not None and target != service.category.name:
            changes.append(f"category {service.category.name} → {target}")
            service.category = self.category(target)
        if changes:
            self.report.changed.append(_line(service, ", ".join(changes)))
        return bool(changes)

    def target_category(self, service, old_upstream: str, new_upstream: str) -> str | None:
        """Where the service belongs now, or None to leave it where it is."""
        if self.prefix is not None:
            return _category_name(self.prefix, new_upstream)
        if old_upstream == new_upstream:
            return None
        # The provider moved it: follow, with the prefix it was filed under, unless the owner filed it elsewhere.
        current, old_tail = service.category.name, old_upstream or NO_CATEGORY
        if not current.endswith(old_tail):
            return None
        return _category_name(current[: len(current) - len(old_tail)], new_upstream)

    def gone(self, ps: ProviderService) -> None:
        service = ps.service
        ps.available = False
        if service.active:
            service.active = False
            service.save(update_fields=["active"])
            ps.deactivated_by_sync = True
            self.report.deactivated.append(Line(service.pk, service.name, "no longer listed by the provider"))
        ps.save(update_fields=["available", "deactivated_by_sync"])


def sync_services(
    provider: Provider, *, markup_percent=None, category_prefix: str | None = None, now=None
) -> SyncReport:
    """Import or re-sync the provider's services (see the module docstring); all or nothing.

    markup_percent: None keeps each service's own markup; otherwise a percent (parse_markup).
    category_prefix: None files new services under the provider's category names and leaves
    existing ones where they are; a text (even "") files every listed service under
    prefix + the provider's category.
    Raises ProviderError (nothing changed) when the provider cannot be asked, is disabled,
    or lists no service at all (more often an outage than an empty catalog).
    """
    markup = None if markup_percent is None else parse_markup(markup_percent)
    now = now or timezone.now()
    if not provider.enabled:
        raise ProviderError(f"provider {provider.name} is disabled: enable it first")

    def ask(client):
        return client.services(), client.last_skipped

    items, unreadable = _ask(provider, "services", ask)
    if not items:
        raise ProviderError(f"provider {provider.name} listed no services; nothing changed")
    report = SyncReport(provider=provider.name, listed=len(items) + unreadable)
    if unreadable:
        report.skipped.append(
            Line(
                None,
                ngettext("%(n)d item", "%(n)d items", unreadable) % {"n": unreadable},
                "without a readable id, name or rate",
            )
        )
    with transaction.atomic():
        # One sync of a provider at a time (on SQLite the write transaction serializes anyway).
        locked = Provider.objects.select_for_update().get(pk=provider.pk)
        # What customers care about (new services, prices, limits, on/off) becomes service updates here.
        with recording(Service.objects.filter(upstream__provider=locked), Source.SYNC, now):
            _Sync(locked, items, markup, category_prefix, now, report).run()
    log.info("%s", report.summary())
    return report


def owner_edited(services: list[Service], changed_fields) -> None:
    """The owner changed services by hand (admin): a changed rate or name is theirs to keep on re-sync,
    and a changed `active` is their choice (a later sync no longer re-activates it). One UPDATE."""
    changed = set(changed_fields)
    updates = {}
    if "rate" in changed:
        updates["keep_rate"] = True
    if "name" in changed:
        updates["keep_name"] = True
    if "active" in changed:
        updates["deactivated_by_sync"] = False
    if updates:
        ProviderService.objects.filter(service_id__in=[service.pk for service in services]).update(**updates)


def _line(service: Service, detail: str = "") -> Line:
    """A report line under the service's name as it is now."""
    return Line(service.pk, service.name, detail)
