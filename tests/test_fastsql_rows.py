"""fastsql's quick preparation of insert values and its rows built without instances: Django's answers exactly.

Run on whichever database DATABASE_URL names (SQLite, PostgreSQL): the
prepared values differ between them (PostgreSQL wraps ints in its driver's
types), and each must be Django's own, value and type.
"""

import datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from smmpanel import fastsql
from smmpanel.ledger import services as ledger
from smmpanel.ledger.models import Kind, LedgerEntry
from smmpanel.orders.models import Action, Actor, Order, OrderEvent, Status

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=datetime.UTC)
UNICODE = "žluťoučký кот 🐍 ﷽"


class Colour(models.TextChoices):
    RED = "red"


MODELS = [m for m in apps.get_models() if not m._meta.proxy and m._meta.managed]


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    """auto_now and auto_now_add take the same time in both answers."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def _integer(field, variant: int):
    big = {"BigIntegerField": 2**62, "PositiveBigIntegerField": 2**62, "SmallIntegerField": -32768}
    small = {"PositiveSmallIntegerField": 32767, "PositiveIntegerField": 2**31 - 1}
    internal = field.get_internal_type()
    return [0, big.get(internal, small.get(internal, -(2**31))), True, 7][variant]


def _text(variant: int):
    return ["", UNICODE, gettext_lazy("Pending"), Colour.RED][variant]


def _sample(field, variant: int):
    """A value of the field's type: variant 0 the empty ones, 1 big or unicode, 2 odd types, 3 plain ones."""
    if field.null and variant == 0:
        return None
    if isinstance(field, models.ForeignKey):
        return [1, 2**40, models.Value(5), 3][variant]  # an expression: sent as it is
    if isinstance(field, models.BooleanField):
        return [False, True, 1, True][variant]
    if isinstance(field, models.DateTimeField):
        return NOW
    if isinstance(field, models.DecimalField):
        return Decimal("1.5")
    if isinstance(field, models.FloatField):
        return 1.5
    if isinstance(field, models.JSONField):
        return {"a": [1, UNICODE]}
    if isinstance(field, models.GenericIPAddressField):
        return "127.0.0.1"
    if isinstance(field, models.IntegerField):  # MoneyField too: Decimal in its case
        return Decimal("-12.34567") if type(field).__name__ == "MoneyField" else _integer(field, variant)
    if isinstance(field, (models.CharField, models.TextField)):
        return _text(variant)
    raise AssertionError(f"no sample for {field!r}")


def _instance(model, variant: int):
    instance = model()
    for field in fastsql.insert_fields(model):
        setattr(instance, field.attname, _sample(field, variant))
    return instance


def _djangos(instance) -> list:
    return [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fastsql.insert_fields(type(instance))]


def _same(ours: list, djangos: list) -> None:
    assert [type(v) for v in ours] == [type(v) for v in djangos]
    for a, b in zip(ours, djangos, strict=True):
        if hasattr(b, "obj"):  # psycopg's Json wrapper: equal by what it wraps
            a, b = a.obj, b.obj
        assert a is b or a == b, (a, b)


@pytest.mark.parametrize("variant", range(4))
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_prepared_values_are_djangos(model, variant):
    _same(fastsql.prepared_values(_instance(model, variant)), _djangos(_instance(model, variant)))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_a_new_instances_values_are_djangos(model):
    """Defaults as Model() fills them: callable ones (timezone.now too: one instance), constants, "", None."""
    instance = model()
    _same(fastsql.prepared_values(instance), _djangos(instance))


def test_the_quick_rules_cover_the_hot_models():
    """The inserts of `add` take the quick way for all but their custom fields, JSON and times."""
    slow = {
        model: {f.name for f, _, rule, _, _ in fastsql._plan(model) if rule == fastsql.SLOW}
        for model in (Order, OrderEvent, LedgerEntry)
    }
    assert slow[OrderEvent] == {"created"}
    assert slow[LedgerEntry] == {"amount", "balance_after", "created"}
    assert slow[Order] == {"params", "charge", "refunded", "created", "updated"}


def test_a_subclass_of_a_djangos_field_takes_djangos_way():
    class Shouting(models.CharField):
        def get_prep_value(self, value):
            return super().get_prep_value(value).upper()

    assert fastsql._rule(Shouting(max_length=3)) == fastsql.SLOW
    assert fastsql._rule(models.CharField(max_length=3)) == fastsql.TEXT


# --- rows inserted without an instance ---------------------------------------------------------


def _columns(model, pk) -> dict:
    row = model.objects.filter(pk=pk).values().get()
    del row["id"]
    return row


def _both(model, **values):
    """The row insert_row wrote and the one Model(**values).save() wrote, every column but the id."""
    saved = model(**values)
    saved.save()
    return _columns(model, fastsql.insert_row(model, **values)), _columns(model, saved.pk)


@pytest.fixture
def order(customer, service):
    cust = customer("100")
    return Order.objects.create(
        account_id=cust.account.pk, service=service(), type="Default", link="https://example.com/x", quantity=10
    )


def test_an_event_row_is_as_saved(order):
    ours, saved = _both(OrderEvent, order_id=order.pk, action=Action.PLACED, actor=Actor.API)
    assert ours == saved
    assert saved["created"] == NOW and saved["message"] == "" and saved["remains"] is None


def test_an_event_row_with_every_value_is_as_saved(order):
    ours, saved = _both(
        OrderEvent,
        order_id=order.pk,
        refill_id=None,
        action="status",
        actor="worker",
        old_status=Status.PENDING,
        new_status="In progress",
        remains=2**62,
        start_count=0,
        message=UNICODE,
        user_id=None,
    )
    assert ours == saved
    assert saved["remains"] == 2**62 and saved["message"] == UNICODE


def test_a_ledger_row_is_as_saved(order):
    ours, saved = _both(
        LedgerEntry,
        account_id=order.account_id,
        kind=Kind.ADJUSTMENT,
        amount=Decimal("-1.23456"),
        balance_after=Decimal("98765432.1"),
        order_id=order.pk,
        memo=UNICODE,
    )
    assert ours == saved
    assert saved["amount"] == Decimal("-1.23456") and saved["reason"] == "" and saved["payment_id"] is None


def test_an_order_row_is_as_saved(customer, service):
    """Order: callable (params) and constant (money, counts, status, flags) defaults, auto_now and auto_now_add."""
    cust, svc = customer("1"), service()
    values = {"account_id": cust.account.pk, "service_id": svc.pk, "type": "Default", "quantity": 10}
    ours = _columns(Order, fastsql.insert_row(Order, link="https://example.com/a", **values))
    saved = Order(link="https://example.com/b", **values)
    saved.save()
    theirs = _columns(Order, saved.pk)
    assert ours.pop("link") == "https://example.com/a" and theirs.pop("link") == "https://example.com/b"
    assert ours == theirs
    assert theirs["params"] == {} and theirs["created"] == theirs["updated"] == NOW


def test_a_row_refuses_what_a_save_would_not_take():
    with pytest.raises(TypeError, match="no insert field"):
        fastsql.row_values(OrderEvent, {"order": 1})
    with pytest.raises(TypeError, match="no insert field"):
        fastsql.row_values(OrderEvent, {"created": NOW})  # auto_now_add: the time of the insert


def test_a_debit_writes_the_charge_row(order):
    balance = order.account.balance
    with transaction.atomic():
        pk = ledger.debit(order.account_id, Decimal("1.5"), order, memo="Order #{id}")
    entry = LedgerEntry.objects.get(pk=pk)
    assert (entry.kind, entry.amount, entry.order_id, entry.memo) == (
        Kind.CHARGE,
        Decimal("-1.5"),
        order.pk,
        "Order #{id}",
    )
    assert entry.balance_after == balance - Decimal("1.5") == type(order.account).objects.get().balance
    assert entry.created == NOW


def test_a_debit_for_an_unsaved_order_is_refused(customer):
    cust = customer("10")
    with pytest.raises(ValueError, match="unsaved related object"):
        ledger.debit(cust.account.pk, Decimal(1), Order())


def test_only_callable_defaults_are_called_per_row():
    """Order's params (default=dict) is called for each row; every other default is prepared once."""
    positions, fillers = fastsql._row_plan(Order, connection.vendor)
    kinds = {name: fillers[i][0] for name, i in positions.items()}
    assert {name for name, kind in kinds.items() if kind == fastsql._CALL} == {"params"}
    assert {name for name, kind in kinds.items() if kind == fastsql._NOW} == {"created", "updated"}
