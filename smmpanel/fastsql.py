"""Plain SQL for the few statements on the API's hot path.

The ORM compiles every query anew, and for the small statements an API
request makes that compiling costs several times what the database spends
running them (profiled: see docs/benchmarks.md). The statements here are
built once from the models' _meta, so table and column names cannot drift
from the models, and values are what each field's own conversion
(`get_db_prep_save`) gives, exactly as Model.save would send them: for
Django's own plain fields and values of a plain type, the known answer
without the chain of calls (`prepared_values`; the rules are written by it).

It also inserts new rows without building a model instance (`insert_row`,
`row_values`): the fields not given are filled as Model(...) and save() fill
them (defaults, auto_now), for the history line and the charge of every order.

On PostgreSQL the hot reads are also prepared, once per connection
(`hot_cursor`): PostgreSQL then skips parsing and planning them on every
call, which was most of its work for the key lookup and `status`. That
swaps the cursor class under Django's create_cursor, a private way of Django's
PostgreSQL backend: smmpanel.compat.PREPARED_CURSORS checks its shape before
the first prepared read, and where Django differs the reads are not prepared.
"""

import dataclasses
import enum
import weakref
from decimal import Decimal
from functools import cache

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.utils import timezone

from smmpanel.compat import PREPARED_CURSORS


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def insert_fields(model) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


# --- values as Django prepares them for an insert -----------------------------------------------
#
# Django's preparation of a value (`field.get_db_prep_save(field.pre_save(instance, True), db)`)
# is a chain of method calls per field, most of which return the value unchanged. For a field
# whose class is exactly one of Django's own below, and a value of a type listed for it, the
# answer is known without the chain (Django 5.2, django/db/models/fields/__init__.py and
# related.py; pre_save of these classes is getattr(instance, attname)):
#   CharField, TextField (and Email/Slug/URLField, which change nothing of it) + a str → the str
#     (Field.get_prep_value casts lazy strings only, CharField.to_python returns a str as is);
#   BooleanField + a bool → the bool (to_python: bool(value));
#   the IntegerField family + an int, not a bool → db.ops.adapt_integerfield_value(value, type)
#     (int(value) is the value; PostgreSQL wraps it in its driver's type);
#   ForeignKey, OneToOneField to an AutoField family key + an int → db.ops.validate_autopk_value(value)
#     (AutoFieldMixin.get_db_prep_value skips adapt_integerfield_value);
#   any of these, and a DateTimeField without auto_now(_add), + None → None.
# Every other field or value (MoneyField, JSONField, a datetime, auto_now, an expression …)
# takes Django's own call. tests/test_fastsql_rows.py holds both answers equal for every model.

SLOW, TEXT, BOOL, INTEGER, AUTO_KEY, NONE_ONLY = range(6)
_TEXT_FIELDS = (models.CharField, models.TextField, models.EmailField, models.SlugField, models.URLField)
_INTEGER_FIELDS = (
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)
_AUTO_FIELDS = (models.AutoField, models.BigAutoField, models.SmallAutoField)
# The value types each rule answers for; a str enum (a TextChoices member) joins TEXT's at its first use.
_QUICK_TYPES: dict[int, set[type]] = {TEXT: {str}, BOOL: {bool}, INTEGER: {int}, AUTO_KEY: {int}, NONE_ONLY: set()}


def _plain(field) -> bool:
    """Django's own pre_save and save preparation, not overridden anywhere in the field's class."""
    cls = type(field)
    return cls.pre_save is models.Field.pre_save and cls.get_db_prep_save is models.Field.get_db_prep_save


def _rule(field) -> int:
    cls = type(field)
    if cls in _TEXT_FIELDS and _plain(field) and cls.get_db_prep_value is models.Field.get_db_prep_value:
        return TEXT
    if cls is models.BooleanField and _plain(field):
        return BOOL
    if cls in _INTEGER_FIELDS and _plain(field):
        return INTEGER
    if cls in (models.ForeignKey, models.OneToOneField) and type(field.target_field) in _AUTO_FIELDS:
        return AUTO_KEY if cls.pre_save is models.Field.pre_save else SLOW
    if cls is models.DateTimeField and not (field.auto_now or field.auto_now_add):
        return NONE_ONLY
    return SLOW


@cache
def _plan(model) -> tuple:
    """Per insert field: (field, attname, rule, its quick value types, the internal type for adapting ints)."""
    rules = [(f, _rule(f)) for f in insert_fields(model)]
    return tuple((f, f.attname, rule, _QUICK_TYPES.get(rule, set()), f.get_internal_type()) for f, rule in rules)


def _quick(rule: int, quick: set[type], value_type: type) -> bool:
    """Does `rule` answer for values of this type? A str enum (TextChoices) is a str to TEXT.

    CharField.to_python returns any str as is, and an enum is no lazy string
    (Promise) nor an expression (as_sql).
    """
    if value_type in quick:
        return True
    enum_text = issubclass(value_type, str) and issubclass(value_type, enum.Enum)
    if rule == TEXT and enum_text and not hasattr(value_type, "as_sql"):
        quick.add(value_type)
        return True
    return False


def _prepared(entry, value, db):
    """One value as `get_db_prep_save` prepares it (`value`: the field's pre_save, getattr for a quick rule)."""
    field, _, rule, quick, internal_type = entry
    if rule:  # not SLOW
        if value is None:
            return None
        if type(value) in quick or _quick(rule, quick, type(value)):
            if rule == INTEGER:
                return db.ops.adapt_integerfield_value(value, internal_type)
            if rule == AUTO_KEY:
                return db.ops.validate_autopk_value(value)
            return value
    return field.get_db_prep_save(value, db)


def prepared_values(instance) -> list:
    """The row's values as the database wants them, defaults and auto_now filled in like a save."""
    # The connection itself, not the `connection` proxy: each field's conversion asks it several
    # things, and through the proxy each of those is a lookup of the current thread's connection.
    db = connections[DEFAULT_DB_ALIAS]
    return [
        _prepared(entry, getattr(instance, entry[1]) if entry[2] else entry[0].pre_save(instance, True), db)
        for entry in _plan(type(instance))  # type: ignore[arg-type]  # a model class is hashable
    ]


# --- new rows without a model instance ---------------------------------------------------------

_IMMUTABLE = (type(None), str, int, bool, float, Decimal)
_NOW, _CONSTANT, _CALL = range(3)
_MISSING = object()


def _as_given(field) -> bool:
    """Does the field save the value it holds (pre_save: getattr)?"""
    return type(field).pre_save is models.Field.pre_save or _rule(field) == NONE_ONLY


@cache
def _row_plan(model, vendor: str) -> tuple[dict[str, int], tuple]:
    """Where each field's value goes, and how each field is filled when not given (see `row_values`).

    A filler is (_NOW, None), (_CONSTANT, its prepared value) or (_CALL, None): the field's
    default called (a callable default, or a mutable constant's) and prepared on every row.
    """
    db = connections[DEFAULT_DB_ALIAS]
    positions, fillers = {}, []
    for i, entry in enumerate(_plan(model)):
        field = entry[0]
        positions[field.attname] = i
        if field.has_db_default():
            raise TypeError(f"{model.__name__}.{field.name}: a db_default is the database's to fill")
        if type(field) is models.DateTimeField and (field.auto_now or field.auto_now_add):
            fillers.append((_NOW, None))
        elif not _as_given(field):
            raise TypeError(f"{model.__name__}.{field.name}: its pre_save needs an instance")
        else:
            fillers.append(_filler(entry, db))
    return positions, tuple(fillers)


def _filler(entry, db) -> tuple:
    field = entry[0]
    if not (field.has_default() and callable(field.default)):  # no default (NOT_PROVIDED, a class) is a constant
        prepared = _prepared(entry, field.get_default(), db)
        if isinstance(prepared, _IMMUTABLE):  # PostgreSQL's wrapped ints are ints
            return _CONSTANT, prepared
    return _CALL, None


def row_values(model, values: dict) -> list:
    """A new row's values (by attname) as `prepared_values(model(**values))` would give them.

    Every field not given is filled as Model(...) and save() fill it: auto_now and
    auto_now_add with the time now, others with their default (a constant one
    prepared once per database vendor, a callable one called). Only for models
    whose fields take their value as given (Django's own pre_save) or are
    auto_now DateTimeFields; TypeError otherwise, and for a name that is not an
    insert field's attname.
    """
    db = connections[DEFAULT_DB_ALIAS]
    positions, fillers = _row_plan(model, db.vendor)
    plan = _plan(model)
    row = [_MISSING] * len(plan)
    for name, value in values.items():
        i = positions.get(name)
        if i is None or fillers[i][0] == _NOW:
            raise TypeError(f"{model.__name__} has no insert field {name!r} taking a value")
        row[i] = _prepared(plan[i], value, db)
    for i, (kind, prepared) in enumerate(fillers):
        if row[i] is not _MISSING:
            continue
        if kind == _CONSTANT:
            row[i] = prepared
        elif kind == _NOW:
            row[i] = plan[i][0].get_db_prep_save(timezone.now(), db)
        else:
            row[i] = _prepared(plan[i], plan[i][0].get_default(), db)
    return row


def insert_row(model, **values) -> int:
    """Insert a new row of `model` from these field values (by attname), the others filled as a save would.

    See `row_values`: no instance is built. Returns the new row's primary key.
    """
    return insert_values(model, row_values(model, values))


def returns_ids(db=None) -> bool:
    db = connections[DEFAULT_DB_ALIAS] if db is None else db
    return db.features.can_return_columns_from_insert


@cache
def _insert_sql(model, vendor: str) -> str:
    columns = ", ".join(connection.ops.quote_name(f.column) for f in insert_fields(model))
    marks = ", ".join(["%s"] * len(insert_fields(model)))
    sql = f"INSERT INTO {table(model)} ({columns}) VALUES ({marks})"
    if returns_ids():
        sql += f" RETURNING {connection.ops.quote_name(model._meta.pk.column)}"
    return sql


def insert_values(model, values: list) -> int:
    """Insert one row of prepared values (`prepared_values`' order); returns its primary key."""
    db = connections[DEFAULT_DB_ALIAS]
    sql = _insert_sql(model, db.vendor)
    if returns_ids(db):
        return run(sql, values, write=True, db=db)[0]
    with connection.cursor() as cursor:  # SQLite before 3.35: no RETURNING
        cursor.execute(sql, values)
        return cursor.lastrowid


def insert(instance: models.Model) -> None:
    """Insert a new model instance (as `instance.save()` would) and set its primary key."""
    instance.pk = insert_values(type(instance), prepared_values(instance))
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS


# --- reading rows into dataclasses ------------------------------------------------------------


def converting(fields, converters) -> list:
    """(position, field, its converters) of the columns that have converters: the only ones a read touches."""
    return [(i, f, c) for i, (f, c) in enumerate(zip(fields, converters, strict=True)) if c]


def converted(values, columns: list, db=None) -> list:
    """The row's values as Python's, each column of `columns` (see `converting`) through its field's converters."""
    out = list(values)
    if columns:
        db = connections[DEFAULT_DB_ALIAS] if db is None else db  # the connection itself: converters ask it things
        for i, field, field_converters in columns:
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
        self.converting = converting(self.fields, read_converters(model, self.fields))

    def columns(self) -> str:
        """The column list of a SELECT, qualified by the model's table."""
        return ", ".join(f"{table(self.model)}.{connection.ops.quote_name(f.column)}" for f in self.fields)

    def read(self, values, db=None, **others):
        """A row_type of these values (in `columns` order) and the `others` attributes; `db`: the connection."""
        return self.row_type(*converted(values, self.converting, db), **others)


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
    return bool(db.execute_wrappers) or db.queries_logged


@cache
def _qmark(sql: str) -> str:
    """The statement in sqlite3's placeholder style (ours are built here: `%s` only, never a literal %)."""
    if "%%" in sql:
        raise ValueError("a hot statement must not hold a literal %")
    return sql.replace("%s", "?")


def _driver_run(db, sql: str, params, fetch: str):
    """Run one statement on the connection's driver and fetch its rows."""
    db.close_if_health_check_failed()  # as Django's cursor() does first
    if db.connection is None:
        db.ensure_connection()
    raw = db.connection
    with db.wrap_database_errors:  # driver errors become Django's, and mark the connection as Django does
        if db.vendor == "sqlite":
            return _fetched(raw.execute(_qmark(sql), params), fetch)
        cursor = _prepared_cursor(raw) if prepares(db) else raw.cursor()
        cursor.execute(sql, params)
        return _fetched(cursor, fetch)


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
    return _driver_run(db, sql, params, fetch)


def _fetched(cursor, fetch: str):
    if fetch == "one":
        return cursor.fetchone()
    if fetch == "all":
        return cursor.fetchall()
    return None
