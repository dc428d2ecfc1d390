"""The API's hot-path reads, as plain SQL.

Every request authenticates and most then read orders. Compiling these small
queries with the ORM cost more CPU than running them (profiled on
PostgreSQL: ~0.8 ms of ORM work for a 0.1 ms query), so they are written
out once here. Table and column names come from the models' _meta, and each
statement's column list from the dataclass it fills (smmpanel.fastsql.RowReader),
so neither can drift silently. On PostgreSQL they are also prepared once per
connection (smmpanel.fastsql.hot_cursor): planning the `status` join cost
PostgreSQL about five times its running.

This module only reads. Writes are the services' (smmpanel.orders.services,
smmpanel.ledger.services), whose hot ones are plain SQL too
(smmpanel.fastsql.insert, the ledger's balance statement).
"""

from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection, connections

from smmpanel.accounts.models import Account
from smmpanel.catalog.models import Service
from smmpanel.fastsql import RowReader, column, converted, converting, prepares, read_converters, run, table
from smmpanel.orders import selectors
from smmpanel.orders.models import Order


@dataclass(frozen=True)
class ApiAccount:
    pk: int
    balance: Decimal
    # For `status`: the asked-for orders, read in the same round trip as the key (not a column).
    orders: list | None = None


@dataclass(frozen=True)
class OrderRow:
    """What `status` shows of an order."""

    pk: int
    type: str
    status: str
    charge: Decimal
    refunded: Decimal
    start_count: int
    remains: int
    posts_done: int
    old_posts_done: int

    @property
    def is_subscription(self) -> bool:
        return self.type == "Subscriptions"


def _account_from_where() -> tuple[str, str]:
    """FROM (account joined to its user) and WHERE (this key, an active user) of the key lookup."""
    User = get_user_model()
    a, u = table(Account), table(User)
    return (
        f"FROM {a} INNER JOIN {u} ON {u}.{column(User, 'id')} = {a}.{column(Account, 'user')}",
        f"WHERE {a}.{column(Account, 'api_key_hash')} = %s AND {u}.{column(User, 'is_active')}",
    )


@cache
def _accounts() -> RowReader:
    return RowReader(ApiAccount, Account, skip=("orders",))


@cache
def _orders() -> RowReader:
    return RowReader(OrderRow, Order)


def _account_columns() -> str:
    return _accounts().columns()


@cache
def _account_sql() -> str:
    source, where = _account_from_where()
    return f"SELECT {_account_columns()} {source} {where}"


def account_by_key_hash(key_hash: str) -> ApiAccount | None:
    """The active customer whose API key has this digest."""
    db = connections[DEFAULT_DB_ALIAS]
    row = run(_account_sql(), [key_hash], db=db)
    return None if row is None else _accounts().read(row, db)


@cache
def _account_with_orders_sql(count: int | None) -> str:
    """The `status` read for `count` ids, or (None) for any number of them as one array parameter."""
    a, o = table(Account), table(Order)
    columns = _orders().columns()
    ids = "= ANY(%s)" if count is None else f"IN ({', '.join(['%s'] * count)})"
    source, where = _account_from_where()
    # `+account_id` (unary plus, on PostgreSQL and SQLite alike) keeps the
    # planner off the account's index. At most 100 primary-key lookups are
    # the right plan for any account, but PostgreSQL estimates an account's
    # orders from statistics, and for an account they undercount (one that
    # placed many orders since the last ANALYZE) it would read every order of
    # the account and filter them by id: 2.0 ms against 0.8 ms with the plus,
    # for an account of 8,200 orders, and it grows with the account.
    return (
        f"SELECT {_account_columns()}, {columns} {source} "
        f"LEFT JOIN {o} ON +{o}.{column(Order, 'account')} = {a}.{column(Account, 'id')} "
        f"AND {o}.{column(Order, 'id')} {ids} {where}"
    )


def account_with_orders(key_hash: str, ids: set[int]) -> ApiAccount | None:
    """The key's account and its orders among `ids`, in one query: a `status` call's whole database work.

    Other customers' orders are simply not there.
    """
    if not ids:
        account = account_by_key_hash(key_hash)
        return None if account is None else ApiAccount(account.pk, account.balance, [])
    db = connections[DEFAULT_DB_ALIAS]
    if prepares(db):
        # One prepared statement for any number of ids: an array literal
        # goes as an untyped value, which PostgreSQL reads as bigint[] (a
        # list of ints would be typed by its largest, one statement each).
        array = "{" + ",".join(map(str, sorted(ids))) + "}"
        rows = run(_account_with_orders_sql(None), [array, key_hash], "all", db=db)
    else:
        rows = run(_account_with_orders_sql(len(ids)), [*sorted(ids), key_hash], "all", db=db)
    if not rows:
        return None
    split = len(_accounts().fields)  # the account's columns, then the order's (all NULL: no order)
    orders = [_orders().read(row[split:], db) for row in rows if row[split] is not None]
    return _accounts().read(rows[0][:split], db, orders=orders)


@cache
def _service_query() -> tuple[str, list, list]:
    """The service lookup's SQL, its fields' names, and the columns to convert (as the ORM would)."""
    fields = Service._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"SELECT {columns} FROM {table(Service)} WHERE {column(Service, 'id')} = %s AND {column(Service, 'active')}"
    return sql, [f.attname for f in fields], converting(fields, read_converters(Service, fields))


def active_service(service_id: int) -> Service | None:
    """The service an `add` asks for, if it is on sale."""
    sql, names, columns = _service_query()
    db = connections[DEFAULT_DB_ALIAS]
    row = run(sql, [service_id], db=db)
    if row is None:
        return None
    return Service.from_db(db.alias, names, converted(row, columns, db))


# --- the catalog (`services`) ----------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceItem:
    """What `services` shows of a service on sale."""

    id: int
    name: str
    type: str
    category: str  # its category's name
    rate: Decimal
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool


# Each ServiceItem field's path from Service, in the dataclass's order.
SERVICE_ITEM_PATHS = ("id", "name", "type", "category__name", "rate", "min", "max", "refill", "cancel", "dripfeed")


@cache
def _services_query() -> tuple[str, tuple, list]:
    """The catalog's SQL as the ORM writes it for selectors.active_services (its filter, its order), made once.

    Compiling that queryset cost a `services` call 25 times its query; the
    statement and its parameters never change, so the ORM writes them once and
    the call runs them (with each column's converters, as the ORM applies them).
    """
    queryset = selectors.active_services().values_list(*SERVICE_ITEM_PATHS)
    sql, params = queryset.query.get_compiler(connection.alias).as_sql()
    fields = [get_fields_from_path(Service, path)[-1] for path in SERVICE_ITEM_PATHS]
    return sql, tuple(params), converting(fields, [read_converters(f.model, [f])[0] for f in fields])


def active_service_items() -> list[ServiceItem]:
    """The catalog on sale, in the owner's order, as `services` shows it."""
    sql, params, columns = _services_query()
    db = connections[DEFAULT_DB_ALIAS]
    rows = run(sql, list(params), "all", db=db)
    return [ServiceItem(*converted(row, columns, db)) for row in rows]
