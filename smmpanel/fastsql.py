"""Plain SQL for the few statements on the API's hot path.

The ORM compiles every query anew, and for the small statements an API
request makes that compiling costs several times what the database spends
running them (profiled: see docs/benchmarks.md). The statements here are
built once from the models' _meta, so table and column names cannot drift
from the models, and values go through each field's own conversion
(`get_db_prep_save`), exactly as Model.save would send them.

On PostgreSQL the hot reads are also prepared, once per connection
(`hot_cursor`): PostgreSQL then skips parsing and planning them on every
call, which was most of its work for the key lookup and `status`. That
swaps the cursor class under Django's create_cursor, a private way of Django's
PostgreSQL backend: smmpanel.compat.PREPARED_CURSORS checks its shape before
the first prepared read, and where Django differs the reads are not prepared.
"""

import dataclasses
import weakref
from functools import cache

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, models

from smmpanel.compat import PREPARED_CURSORS


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def insert_fields(model) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


@cache
def _insert_fields(model) -> tuple:
    return tuple(insert_fields(model))


def prepared_values(instance) -> list:
    """The row's values as the database wants them, defaults and auto_now filled in like a save."""
    # The connection itself, not the `connection` proxy: each field's conversion asks it several
    # things, and through the proxy each of those is a lookup of the current thread's connection.
    db = connections[DEFAULT_DB_ALIAS]
    fields = _insert_fields(type(instance))  # type: ignore[arg-type]  # a model class is hashable
    return [f.get_db_prep_save(f.pre_save(instance, True), db) for f in fields]


def returns_ids() -> bool:
    return connection.features.can_return_columns_from_insert


@cache
def _insert_sql(model, vendor: str) -> str:
    columns = ", ".join(connection.ops.quote_name(f.column) for f in insert_fields(model))
    marks = ", ".join(["%s"] * len(insert_fields(model)))
    sql = f"INSERT INTO {table(model)} ({columns}) VALUES ({marks})"
    if returns_ids():
        sql += f" RETURNING {connection.ops.quote_name(model._meta.pk.column)}"
    return sql


def insert(instance: models.Model) -> None:
    """Insert a new model instance (as `instance.save()` would) and set its primary key."""
    model = type(instance)
    db = connections[DEFAULT_DB_ALIAS]
    sql = _insert_sql(model, db.vendor)
    if returns_ids():
        instance.pk = run(sql, prepared_values(instance), write=True)[0]
    else:  # SQLite before 3.35: no RETURNING
        with connection.cursor() as cursor:
            cursor.execute(sql, prepared_values(instance))
            instance.pk = cursor.lastrowid
    instance._state.adding = False
    instance._state.db = db.alias


# --- reading rows into dataclasses ------------------------------------------------------------


def converted(values, fields, converters, db=None) -> list:
    """The row's values as Python's, each through its field's converters (see `read_converters`)."""
    db = connections[DEFAULT_DB_ALIAS] if db is None else db  # the connection itself: converters ask it things
    out = list(values)
    for i, (field, field_converters) in enumerate(zip(fields, converters, strict=True)):
        for convert in field_converters:
            out[i] = convert(out[i], field, db)
    return out


def read_converters(model, fields) -> list:
    """Each field's converters from the database's value to Python's, the ones the ORM applies."""
    return [
        connection.ops.get_db_converters(f.get_col(model._meta.db_table)) + f.get_db_converters(connection)
        for f in fields
    ]


class RowReader:
    """Rows of a dataclass read from one model's columns.

    The columns are the dataclass's fields, by name (`pk`: the primary key),
    less `skip` (attributes filled otherwise); so a statement's column list and
    the row built from it cannot disagree, and a field the model lacks fails
    at the first use, not silently.
    """

    def __init__(self, row_type, model, skip: tuple[str, ...] = ()):
        meta = model._meta
        names = [f.name for f in dataclasses.fields(row_type) if f.name not in skip]
        self.row_type, self.model = row_type, model
        self.fields = [meta.pk if name == "pk" else meta.get_field(name) for name in names]
        self.converters = read_converters(model, self.fields)
        # Only the columns that have converters are touched when a row is read (most have none).
        self._converting = [(i, f, c) for i, (f, c) in enumerate(zip(self.fields, self.converters, strict=True)) if c]

    def columns(self) -> str:
        """The column list of a SELECT, qualified by the model's table."""
        return ", ".join(f"{table(self.model)}.{connection.ops.quote_name(f.column)}" for f in self.fields)

    def read(self, values, db=None, **others):
        """A row_type of these values (in `columns` order) and the `others` attributes; `db`: the connection."""
        if self._converting:
            db = connections[DEFAULT_DB_ALIAS] if db is None else db
            values = list(values)
            for i, field, field_converters in self._converting:
                for convert in field_converters:
                    values[i] = convert(values[i], field, db)
        return self.row_type(*values, **others)


class PreparingCursor(psycopg.Cursor):
    """A psycopg cursor that binds on the server and prepares every statement it runs.

    psycopg keeps the statements it prepared per connection (an LRU of
    `prepared_max`, 100) and reuses them by their text and parameter types,
    so a statement is parsed and planned once per pooled connection, not
    once per request.
    """

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def prepares(db=None) -> bool:
    """Whether hot_cursor prepares here: PostgreSQL with prepared statements allowed (settings)."""
    db = connections[DEFAULT_DB_ALIAS] if db is None else db
    if db.vendor != "postgresql":
        return False
    return db.settings_dict["OPTIONS"].get("prepare_threshold") is not None and PREPARED_CURSORS.on


def hot_cursor():
    """A cursor for one of the hot reads, prepared where the database allows (see `prepares`).

    Otherwise Django's own cursor. Either way it is Django's cursor wrapper
    around the driver's, so errors, the query log and execute wrappers work
    as for any other query. Parameters are bound by the server, so a
    statement's `%s` must each be a whole value (no `IN (%s)` of a tuple).
    """
    if not prepares():
        return connection.cursor()
    connection.close_if_health_check_failed()  # as connection.cursor() would, before the swap below
    connection.ensure_connection()
    raw = connection.connection
    # Django builds its cursor from the connection's factory (create_cursor):
    # swapped for this one call only. The connection is this thread's or
    # greenlet's alone, so nothing else sees the swap.
    factory, raw.cursor_factory = raw.cursor_factory, PreparingCursor
    try:
        cursor = connection.cursor()
    finally:
        raw.cursor_factory = factory
    if not isinstance(cursor.cursor, PreparingCursor):  # Django no longer builds it from cursor_factory
        PREPARED_CURSORS.fail("create_cursor does not use the connection's cursor_factory")
    return cursor


# --- the hot statements, straight to the driver ------------------------------------------------


def observed(db) -> bool:
    """Is someone watching this connection's statements (DEBUG's query log, CaptureQueriesContext, a wrapper)?"""
    return db.queries_logged or bool(db.execute_wrappers)


@cache
def _qmark(sql: str) -> str:
    """The statement in sqlite3's placeholder style (ours are built here: `%s` only, never a literal %)."""
    if "%%" in sql:
        raise ValueError("a hot statement must not hold a literal %")
    return sql.replace("%s", "?")


def _driver_cursor(db, sql: str, params):
    """Run one statement on the connection's driver; the cursor is the driver's."""
    db.close_if_health_check_failed()  # as Django's cursor() does first
    db.ensure_connection()
    raw = db.connection
    with db.wrap_database_errors:  # driver errors become Django's, and mark the connection as Django does
        if db.vendor == "sqlite":
            return raw.execute(_qmark(sql), params)
        cursor = _prepared_cursor(raw) if prepares(db) else raw.cursor()
        cursor.execute(sql, params)
        return cursor


# One preparing cursor per psycopg connection, made once: a cursor is cheap to run again and not
# to make (a pooled connection serves one request at a time, so its cursor does too).
_prepared_cursors: "weakref.WeakKeyDictionary[psycopg.Connection, PreparingCursor]" = weakref.WeakKeyDictionary()


def _prepared_cursor(raw) -> PreparingCursor:
    cursor = _prepared_cursors.get(raw)
    if cursor is None or cursor.closed:
        cursor = _prepared_cursors[raw] = PreparingCursor(raw)
    return cursor


def run(sql: str, params, fetch: str = "one", *, write: bool = False, db=None):
    """One of the API's hot statements: `fetch` "one" (a row or None), "all" (the rows) or "none".

    Straight to the driver: Django's cursor wrapper, its execute wrappers and
    its placeholder rewriting cost a `balance` call more than its query (see
    docs/benchmarks.md), and none of it is needed when nobody watches. When
    somebody does (DEBUG's query log, assertNumQueries, an execute wrapper),
    the statement goes through Django's cursor as any other, so what they see
    is complete. A write is sent this way only inside a transaction: outside
    one it may wait for SQLite's write lock, which smmpanel.sqlite handles in
    Django's cursor. `db`: the connection, when the caller has it at hand.
    """
    db = connections[DEFAULT_DB_ALIAS] if db is None else db
    if observed(db) or (write and not db.in_atomic_block):
        with hot_cursor() as cursor:
            cursor.execute(sql, params)
            return _fetched(cursor, fetch)
    cursor = _driver_cursor(db, sql, params)
    with db.wrap_database_errors:
        return _fetched(cursor, fetch)


def _fetched(cursor, fetch: str):
    if fetch == "one":
        return cursor.fetchone()
    if fetch == "all":
        return cursor.fetchall()
    return None
