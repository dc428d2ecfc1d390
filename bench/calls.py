"""One API call at a time, in process: CPU per call and the statements it sends, the panel beside the raw handler.

bench/api.py measures through gunicorn and wrk, where the load, the other
processes and the HTTP server move the figures. This script calls the WSGI
applications themselves (smmpanel.wsgi, what gunicorn serves, and
bench/raw_wsgi.py) in a loop with the same form bodies, so that what differs is
only what each does with a request:

  - CPU time per call (the process's, best of `--rounds`), and
  - the statements each call sends to the database, counted by the driver:
    SQLite's trace callback, or on PostgreSQL each query and each command
    psycopg sends (BEGIN, COMMIT): the round trips.

Under `--gevent` the process is monkey-patched first, as gunicorn's gevent
worker is, so the gevent paths run (smmpanel/sqlite's writers' queue).
A throwaway data dir (and, for `--db postgres`, database `smmpanel_calls`) is
made, migrated and seeded (one customer, one manual Default service, as
bench/api.py does) and removed at the end.

    .venv/bin/python bench/calls.py                          # SQLite, balance status add, panel and raw
    .venv/bin/python bench/calls.py --db postgres --gevent
    .venv/bin/python bench/calls.py --only add --statements  # also list one call's statements

For instruction counts (independent of the machine's load), run it under
``valgrind --tool=callgrind`` twice with different ``-n`` and divide the
difference of the totals by the difference of the calls.
"""

from __future__ import annotations

import argparse
import sys

if __name__ == "__main__" and "--gevent" in sys.argv:
    from gevent import monkey

    monkey.patch_all()

import io
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DB = "smmpanel_calls"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--gevent", action="store_true", help="monkey-patch first, as gunicorn's gevent worker")
    p.add_argument("--only", default="balance,status,add", help="actions, comma-separated (also: services)")
    p.add_argument("-n", type=int, default=2000, help="calls per round (default 2000)")
    p.add_argument("--rounds", type=int, default=3, help="rounds; the best is shown (default 3)")
    p.add_argument("--statements", action="store_true", help="list the statements of one call of each")
    return p.parse_args(argv)


def prepare(args) -> Path:
    """The environment, a migrated and seeded database; returns the data dir."""
    data = Path(tempfile.mkdtemp(prefix="smmpanel-calls-"))
    os.environ.update(
        SMMPANEL_DATA_DIR=str(data),
        SECRET_KEY="bench-only-not-secret",
        DEBUG="0",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="smmpanel.settings",
    )
    os.environ.pop("DATABASE_URL", None)
    if args.db == "postgres":
        admin = f"{PG_SERVER}/postgres"
        for sql in (f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)', f'CREATE DATABASE "{PG_DB}"'):
            subprocess.run(["psql", admin, "-q", "-c", sql], check=True, capture_output=True)
        os.environ["DATABASE_URL"] = f"{PG_SERVER}/{PG_DB}"
    return data


def seed() -> tuple[str, int, int]:
    """(API key, service id, an order id of the customer's)."""
    from decimal import Decimal

    from django.core.management import call_command

    from smmpanel.accounts.services import create_customer
    from smmpanel.catalog.models import Category, Service
    from smmpanel.orders import services as orders
    from smmpanel.orders.validation import validate_order

    call_command("migrate", verbosity=0)
    account, key = create_customer("bench", "", "bench-password-not-secret", Decimal("1000000"))
    category = Category.objects.create(name="Bench")
    service = Service.objects.create(
        name="Bench followers",
        category=category,
        type="Default",
        rate=Decimal("1.23456"),
        min=10,
        max=10**6,
        fulfilment="manual",
    )
    order = orders.place_order(account.pk, validate_order(service, {"link": "https://example.com/0", "quantity": 100}))
    return key, service.pk, order.pk


class Caller:
    """Calls one WSGI application with the form body of an action, as gunicorn would hand it over."""

    def __init__(self, application, key: str, service: int, order: int):
        self.application, self.key, self.service, self.order = application, key, service, order
        self.count = 0
        self.nonce = f"{time.time():.6f}"

    def body(self, action: str) -> bytes:
        fields: dict = {"key": self.key, "action": action}
        if action == "status":
            fields["order"] = self.order
        elif action == "add":
            self.count += 1
            fields.update(service=self.service, quantity=100, link=f"https://example.com/{self.nonce}/{self.count}")
        return urllib.parse.urlencode(fields).encode()

    def __call__(self, action: str) -> bytes:
        body = self.body(action)
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v2",
            "QUERY_STRING": "",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "HTTP_HOST": "127.0.0.1",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "REMOTE_ADDR": "127.0.0.1",
        }
        answer = b"".join(self.application(environ, lambda status, headers: None))
        if b'"error"' in answer:
            raise SystemExit(f"{action}: {answer[:200]!r}")
        return answer


class Statements:
    """The statements the process sends, as the driver sees them (SQLite: its trace callback; psycopg: each
    query and command it sends)."""

    def __init__(self):
        self.seen: list[str] = []
        self.on = False
        import psycopg

        base = psycopg.Connection.__mro__[1]  # BaseConnection: _exec_command (BEGIN, COMMIT) and cursors' queries
        cursor_base = psycopg.Cursor.__mro__[1]
        original_command, original_execute = base._exec_command, cursor_base._execute_gen

        def command(conn, command, *args, **kwargs):
            self.note(command.decode() if isinstance(command, bytes) else str(command))
            return original_command(conn, command, *args, **kwargs)

        def execute(cursor, query, *args, **kwargs):
            self.note(str(query))
            return original_execute(cursor, query, *args, **kwargs)

        base._exec_command, cursor_base._execute_gen = command, execute

    def note(self, text: str) -> None:
        if self.on:
            self.seen.append(" ".join(text.split())[:110])

    def watch_sqlite(self, sqlite_connection) -> None:
        sqlite_connection.set_trace_callback(self.note)


def cpu_per_call(call, action: str, n: int, rounds: int) -> float:
    for _ in range(50):  # warm: prepared statements, caches, the connection
        call(action)
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            call(action)
        best = min(best, (time.process_time() - started) / n)
    return best * 1e6


def main(argv=None) -> int:
    args = parse_args(argv)
    data = prepare(args)
    try:
        import django

        django.setup()
        from django.db import connection

        key, service, order = seed()
        statements = Statements()
        from smmpanel.wsgi import application as panel

        sys.path.insert(0, str(BENCH))
        import raw_wsgi

        callers = {
            "panel": Caller(panel, key, service, order),
            "raw": Caller(raw_wsgi.application, key, service, order),
        }
        print(
            f"{args.db}, {'gevent' if args.gevent else 'threads'}; CPU µs per call (best of {args.rounds} × {args.n})"
        )
        for action in args.only.split(","):
            line, listed = [], []
            for name, call in callers.items():
                cpu = cpu_per_call(call, action, args.n, args.rounds)
                if args.db == "sqlite":
                    statements.watch_sqlite(connection.connection if name == "panel" else raw_wsgi.db().conn)
                statements.seen, statements.on = [], True
                call(action)
                statements.on = False
                line.append(f"{name} {cpu:7.1f} µs, {len(statements.seen)} statements")
                listed.extend(f"      {name}: {text}" for text in statements.seen)
            print(f"  {action:9} " + "   ".join(line))
            if args.statements:
                print("\n".join(listed))
    finally:
        shutil.rmtree(data, ignore_errors=True)
        if args.db == "postgres":
            from django.db import connections

            connections.close_all()
            for conn in connections.all():
                if getattr(conn, "pool", None):
                    conn.close_pool()
            sql = f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'
            subprocess.run(["psql", f"{PG_SERVER}/postgres", "-q", "-c", sql], check=False, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
