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
from functools import cache

import psycopg
from django.db import connection, models

from smmpanel.compat import PREPARED_CURSORS


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def insert_fields(model) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def prepared_values(instance) -> list:
    """The row's values as the database wants them, defaults and auto_now filled in like a save."""
    return [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in insert_fields(type(instance))]


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
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, connection.vendor), prepared_values(instance))
        instance.pk = cursor.fetchone()[0] if returns_ids() else cursor.lastrowid
    instance._state.adding = False
    instance._state.db = connection.alias


# --- reading rows into dataclasses ------------------------------------------------------------


def converted(values, fields, converters) -> list:
    """The row's values as Python's, each through its field's converters (see `read_converters`)."""
    out = []
    for value, field, field_converters in zip(values, fields, converters, strict=True):
        for convert in field_converters:
            value = convert(value, field, connection)
        out.append(value)
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

    def columns(self) -> str:
        """The column list of a SELECT, qualified by the model's table."""
        return ", ".join(f"{table(self.model)}.{connection.ops.quote_name(f.column)}" for f in self.fields)

    def read(self, values, **others):
        """A row_type of these values (in `columns` order) and the `others` attributes."""
        return self.row_type(*converted(values, self.fields, self.converters), **others)


class PreparingCursor(psycopg.Cursor):
    """A psycopg cursor that binds on the server and prepares every statement it runs.

    psycopg keeps the statements it prepared per connection (an LRU of
    `prepared_max`, 100) and reuses them by their text and parameter types,
    so a statement is parsed and planned once per pooled connection, not
    once per request.
    """

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def prepares() -> bool:
    """Whether hot_cursor prepares here: PostgreSQL with prepared statements allowed (settings)."""
    options = connection.settings_dict["OPTIONS"]
    return connection.vendor == "postgresql" and options.get("prepare_threshold") is not None and PREPARED_CURSORS.on


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
