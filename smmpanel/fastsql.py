"""Plain SQL for the few statements on the API's hot path.

The ORM compiles every query anew, and for the small statements an API
request makes that compiling costs several times what the database spends
running them (profiled: see docs/benchmarks.md). The statements here are
built once from the models' _meta, so table and column names cannot drift
from the models, and values go through each field's own conversion
(`get_db_prep_save`), exactly as Model.save would send them.
"""

from functools import cache

from django.db import connection, models


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
