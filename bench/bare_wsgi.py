"""The "practical limit" for bench/api.py: a bare WSGI app doing the balance read and nothing else.

It answers a form POST ``key=…`` with ``{"balance": "…", "currency": "USD"}``
after one query, ``SELECT balance FROM accounts_account WHERE api_key_hash=%s``,
exactly the lookup the API does for the key (the API's query also joins
auth_user for ``is_active``; this one does not).

Like for like with the panel, on purpose:
  - served by the same gunicorn command line as ``smmpanel serve`` (the same
    worker class, gevent or gthread, workers, threads or connections, no access
    log), started by bench/api.py;
  - the read goes through Django's own connection (``django.db.connection``),
    with the cursor the API's reads use (``smmpanel.fastsql.hot_cursor``:
    on PostgreSQL the statement is prepared once per connection, unless
    DATABASE_PREPARED_STATEMENTS=off), so the same settings apply: the
    same DATABASE_URL, connection handling
    (PostgreSQL: a connection from the pool per request, see DATABASE_POOL_SIZE;
    SQLite: a persistent connection per thread or greenlet, CONN_MAX_AGE 600),
    the same backend (SQLite: smmpanel/sqlite, synchronous per SQLITE_SYNCHRONOUS)
    and driver (psycopg 3 / sqlite3);
  - ``close_old_connections()`` runs before and after each request, which is
    all Django's request_started / request_finished signals do for the database.

What it leaves out is everything else a Django request does: the handler and
its eight middlewares, URL resolving, the view, the ORM's query building and
model instances, JsonResponse. The gap between this and the API's ``balance``
is the cost of that path.

    gunicorn --pythonpath bench bare_wsgi:application --worker-class gevent ...
"""

import hashlib
import json
import os
from decimal import Decimal
from urllib.parse import parse_qs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smmpanel.settings")

import django

django.setup()

from django.db import close_old_connections  # noqa: E402  (needs Django set up)

from smmpanel.fastsql import hot_cursor  # noqa: E402

SQL = "SELECT balance FROM accounts_account WHERE api_key_hash = %s"
UNITS = Decimal(100_000)  # smmpanel.ledger.fields.SCALE: balances are stored as 10^-5 USD
HEADERS_JSON = [("Content-Type", "application/json")]


def _body(environ) -> dict:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    form = parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace"))
    key = form.get("key", [""])[0].strip()
    if not key or len(key) > 200:
        return {"error": "Invalid API key"}
    with hot_cursor() as cursor:
        cursor.execute(SQL, [hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()])
        row = cursor.fetchone()
    if row is None:
        return {"error": "Invalid API key"}
    return {"balance": str((Decimal(row[0]) / UNITS).quantize(Decimal("0.00001"))), "currency": "USD"}


def application(environ, start_response):
    close_old_connections()  # as on Django's request_started
    try:
        body = _body(environ)
    finally:
        close_old_connections()  # as on Django's request_finished
    data = json.dumps(body).encode()
    start_response("200 OK", HEADERS_JSON + [("Content-Length", str(len(data)))])
    return [data]
