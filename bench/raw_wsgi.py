"""The "raw" limit for bench/api.py: API v2's hot actions with the database driver alone, no Django at all.

bench/bare_wsgi.py reads through Django's connection handling, so the panel's
share of it leaves out what Django's per-request database machinery costs.
This handler imports nothing of Django or of smmpanel: it is what a careful
hand-written WSGI app would do for the same answers, with the same rules and
the same durability, so that the gap between it and the panel is the
framework's cost (issue 17).

Answers form POSTs (``key=…&action=…``; the query string is read too, the
body's fields over it, as the panel does) with the API's JSON shapes
(/work/shared/spec/api-v2.txt, smmpanel/api/render.py):

- ``balance``: the panel's key query (smmpanel.api.queries._account_sql:
  account JOIN auth_user WHERE api_key_hash = ? AND is_active), the key's
  SHA-256 hex as smmpanel.accounts.keys.hash_key, money as format_money;
- ``status`` (``order=`` or ``orders=`` up to 100 ids): the panel's one-query
  join (_account_with_orders_sql, its ``+account_id`` included; on PostgreSQL
  one statement for any number of ids, ``= ANY`` of an untyped array literal),
  the same answer (charge = charge − refunded, start_count, status, remains,
  currency; subscriptions also posts and orders, from one more query);
- ``services``: the active services joined to their category, in the
  catalog's order (category position, category, position, id);
- ``add`` (service, link, quantity; Default-like types: a quantity, priced
  per 1000, no other parameter; manual fulfilment, due_at NULL): the service
  read (active), the link checked as Django's URLValidator does (its regex,
  copied), the quantity as smmpanel.orders.validation reads it, the charge
  round5(rate × quantity / 1000); then one write transaction with the
  panel's statements in the panel's order (smmpanel.orders.services._insert):
  INSERT the order (every column the panel writes: status Pending, remains =
  total, due_at NULL, …), the guarded debit ``balance >= charge AND debt = 0``
  (on PostgreSQL with its ledger row in one statement, as
  smmpanel.ledger.services._move_sql_postgresql; on SQLite UPDATE … RETURNING
  then the ledger row), the ledger row (kind charge, amount, balance_after,
  the order, memo "Order #N"), the order's history line (OrderEvent "placed"
  by "api", which the panel writes in the same transaction), COMMIT;
  ``{"order": N}``. The one-active-order-per-link index answers the
  duplicate error after a rollback; a refused debit answers "Not enough
  funds on balance" (or the debt message).

Database, like the panel's (smmpanel/settings.py):
  - DATABASE_URL ``postgres://…``: psycopg 3 directly, autocommit outside the
    write transaction; psycopg prepares a statement after its 5th run on a
    connection (the panel prepares its hot reads at once), and the session
    plans prepared statements generically (plan_cache_mode, as the panel's
    pooled connections) unless DATABASE_PREPARED_STATEMENTS=off, which also
    turns preparing off;
  - else SQLite at ``$SMMPANEL_DATA_DIR/smmpanel.sqlite3`` (default ``var``;
    never created here: opened read-write), ``PRAGMA journal_mode=WAL``,
    ``PRAGMA synchronous=`` SQLITE_SYNCHRONOUS (default FULL),
    ``PRAGMA foreign_keys=ON`` (as Django's backend), a 30 s busy timeout,
    write transactions ``BEGIN IMMEDIATE``. Under gevent a writer does what
    smmpanel/sqlite/base.py does: it queues on a gevent lock in the process
    and an flock on ``<database>-writers`` across processes (the panel's own
    lock file; taken at once when free, else waited for on a native thread
    while the greenlet yields — without that a writer waiting for another
    process would stall every request of its own), then BEGIN IMMEDIATE and
    COMMIT on the hub. RAW_SQLITE_WRITERS=plain: no queue at all, SQLite's
    busy handler decides (it blocks the whole process while it waits).
  - One connection per thread or greenlet (threading.local, which gunicorn's
    gevent worker makes greenlet-local), opened at its first request and
    kept: under gevent a greenlet is one client connection.

Left out, as framework cost or settings off by default: Django's request
signals (close_old_connections), the ORM, Django's body and multipart
parsing (a JSON or multipart body is not read here: ``Incorrect request``),
idempotency keys, the per-address count of failed key lookups (only failures
count, so a valid key pays nothing there either). Rules with a cost on the
happy path are refused rather than skipped: the handler will not start with
API_RATE_LIMIT or SIGNUP_EMAIL_VERIFICATION set (bench/api.py then skips it).

At start-up it checks that every table and column its SQL names exists
(PRAGMA table_info / information_schema) and fails naming the missing ones.

    gunicorn --pythonpath bench raw_wsgi:application --worker-class gevent ...
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import os
import re
import sys
import threading
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

# --- settings, read as smmpanel/settings.py reads them ------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "")
POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))
DATA_DIR = Path(os.environ.get("SMMPANEL_DATA_DIR", "var")).resolve()
SQLITE_PATH = str(DATA_DIR / "smmpanel.sqlite3")
SYNCHRONOUS = os.environ.get("SQLITE_SYNCHRONOUS", "FULL").strip().upper()
if SYNCHRONOUS not in ("OFF", "NORMAL", "FULL", "EXTRA"):
    raise RuntimeError(f"SQLITE_SYNCHRONOUS={SYNCHRONOUS!r}: use one of OFF, NORMAL, FULL, EXTRA")
BUSY_TIMEOUT = 30  # seconds, the panel's "timeout" option
PREPARED = os.environ.get("DATABASE_PREPARED_STATEMENTS", "").strip().lower() not in ("0", "off", "false", "no")
if DATABASE_URL and not POSTGRES and not DATABASE_URL.startswith("sqlite"):
    raise RuntimeError(f"raw_wsgi: DATABASE_URL must be postgres://… or sqlite (got {DATABASE_URL.split(':')[0]}:…)")
if DATABASE_URL.startswith("sqlite:///"):
    SQLITE_PATH = DATABASE_URL[len("sqlite://") :]
for _name in ("API_RATE_LIMIT", "SIGNUP_EMAIL_VERIFICATION"):
    if os.environ.get(_name, "").strip() and os.environ[_name].strip().lower() not in ("0", "off", "false", "no"):
        raise RuntimeError(f"raw_wsgi applies no {_name}: unset it to measure (the panel's check would cost)")

MAX_BODY = 1024 * 1024  # DATA_UPLOAD_MAX_MEMORY_SIZE
MAX_FIELDS = 1000  # DATA_UPLOAD_MAX_NUMBER_FIELDS
MAX_IDS = 100
SCALE = 100_000  # money: integer units of 10^-5 USD (smmpanel.ledger.fields)
PLACES = Decimal("0.00001")
MAX_AMOUNT = Decimal("9999999999999.99999")
MAX_LINK = 500
MAX_ID_DIGITS = 18
MAX_QTY_DIGITS = 12
HUGE = 10**MAX_QTY_DIGITS
CURRENCY = "USD"

# The API's words (smmpanel/orders/messages.py), verbatim.
E_KEY = "Invalid API key"
E_REQUEST = "Incorrect request"
E_SERVICE = "Incorrect service ID"
E_ORDER = "Incorrect order ID"
E_FUNDS = "Not enough funds on balance"
E_LINK = "Bad link"
E_DUPLICATE = "You have active order with this link. Please wait until order being completed."
E_QUANTITY = "Quantity must be a whole number"
E_TOO_BIG = "Request body is too large"
E_TOO_MANY = f"Too many IDs: at most {MAX_IDS} per request"
E_DRIPFEED = "Drip-feed is disabled for this service"
E_DEBT = "Your account owes {debt} USD after a refunded payment: add funds to settle it before placing new orders"


class Refused(Exception):
    """Ends the request with {"error": text}."""


# --- money, as smmpanel.ledger.money ----------------------------------------------------------------


def round5(value) -> Decimal:
    return Decimal(value).quantize(PLACES, rounding=ROUND_HALF_UP)


def from_units(units: int) -> Decimal:
    return (Decimal(units) / SCALE).quantize(PLACES)


def format_money(units: int) -> str:
    return str(round5(from_units(units)))


def format_rate(units: int) -> str:
    d = from_units(units).normalize()
    if d == d.to_integral_value():
        return str(d.quantize(Decimal(1)))
    exponent = d.as_tuple().exponent
    return str(d.quantize(Decimal("0.01"))) if int(exponent) > -2 else format(d, "f")


def shown_money(units: int) -> str:
    d = from_units(units)
    two = d.quantize(Decimal("0.01"))
    return str(two) if two == d else format(d.normalize(), "f")


# --- the link, as Django's URLValidator(schemes=["http", "https"]) checks it -------------------------

_UL = "\u00a1-\uffff"
_HOSTNAME = r"[a-z" + _UL + r"0-9](?:[a-z" + _UL + r"0-9-]{0,61}[a-z" + _UL + r"0-9])?"
_DOMAIN = r"(?:\.(?!-)[a-z" + _UL + r"0-9-]{1,63}(?<!-))*"
_TLD = r"\.(?!-)(?:[a-z" + _UL + "-]{2,63}|xn--[a-z0-9]{1,59})(?<!-)\\.?"
_IPV4 = (
    r"(?:0|25[0-5]|2[0-4][0-9]|1[0-9]?[0-9]?|[1-9][0-9]?)"
    r"(?:\.(?:0|25[0-5]|2[0-4][0-9]|1[0-9]?[0-9]?|[1-9][0-9]?)){3}"
)
URL_RE = re.compile(
    r"^(?:[a-z0-9.+-]*)://"
    r"(?:[^\s:@/]+(?::[^\s:@/]*)?@)?"
    r"(?:" + _IPV4 + r"|\[[0-9a-f:.]+\]|(" + _HOSTNAME + _DOMAIN + _TLD + r"|localhost))"
    r"(?::[0-9]{1,5})?"
    r"(?:[/?#][^\s]*)?"
    r"\Z",
    re.IGNORECASE,
)
IPV6_NETLOC = re.compile(r"^\[(.+)\](?::[0-9]{1,5})?$")


def check_link(value: str) -> str:
    """smmpanel.orders.validation.check_link: present, ≤ 500 characters, no space, a valid http(s) URL."""
    link = value.strip()
    if not link:
        raise Refused(E_REQUEST)
    if len(link) > MAX_LINK or any(c.isspace() for c in link):
        raise Refused(E_LINK)
    if link.split("://")[0].lower() not in ("http", "https"):
        raise Refused(E_LINK)
    try:
        split = urlsplit(link)
    except ValueError:
        raise Refused(E_LINK) from None
    if not URL_RE.match(link):
        # URLValidator then retries with the domain punycoded; a link of non-ASCII letters the
        # regex refuses but IDNA accepts is rare enough for a benchmark handler to refuse.
        raise Refused(E_LINK)
    host = IPV6_NETLOC.search(split.netloc)
    if host:
        try:
            ipaddress.IPv6Address(host[1])
        except ValueError:
            raise Refused(E_LINK) from None
    if split.hostname is None or len(split.hostname) > 253:
        raise Refused(E_LINK)
    return link


def whole_number(text: str) -> int | None:
    """smmpanel.orders.validation.whole_number."""
    text = text.strip()
    if not re.fullmatch(r"[+]?[0-9]+", text):
        return None
    digits = text.lstrip("+").lstrip("0")
    return HUGE if len(digits) > MAX_QTY_DIGITS else int(digits or "0")


def parse_id(raw: str) -> int | None:
    """smmpanel.ids.parse_id."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_ID_DIGITS:
        return None
    return int(text)


# --- the SQL ------------------------------------------------------------------------------------

ORDER_INSERT_COLUMNS = [
    "due_at",
    "locked_until",
    "claim_token",
    "attempts",
    "account_id",
    "service_id",
    "type",
    "link",
    "quantity",
    "runs",
    "interval",
    "total",
    "params",
    "charge",
    "refunded",
    "status",
    "start_count",
    "remains",
    "parent_id",
    "paid_by_parent",
    "post_number",
    "post_is_old",
    "posts_done",
    "old_posts_done",
    "cancel_requested_at",
    "needs_attention",
    "attention_note",
    "created",
    "updated",
    "started_at",
    "finished_at",
]
LEDGER_INSERT_COLUMNS = [
    "account_id",
    "kind",
    "amount",
    "balance_after",
    "order_id",
    "payment_id",
    "reason",
    "memo",
    "created",
]
EVENT_INSERT_COLUMNS = [
    "order_id",
    "refill_id",
    "created",
    "actor",
    "user_id",
    "action",
    "old_status",
    "new_status",
    "remains",
    "start_count",
    "message",
]
ACCOUNT_COLUMNS = ["id", "balance"]
ORDER_COLUMNS = ["id", "type", "status", "charge", "refunded", "start_count", "remains", "posts_done", "old_posts_done"]

# Every column the statements below name, by table: checked at start-up.
USED = {
    "accounts_account": ["id", "balance", "debt", "api_key_hash", "user_id"],
    "auth_user": ["id", "is_active"],
    "orders_order": sorted(set(ORDER_INSERT_COLUMNS + ORDER_COLUMNS + ["id"])),
    "ledger_ledgerentry": ["id"] + LEDGER_INSERT_COLUMNS,
    "orders_orderevent": ["id"] + EVENT_INSERT_COLUMNS,
    "catalog_service": [
        "id",
        "name",
        "type",
        "rate",
        "min",
        "max",
        "refill",
        "cancel",
        "dripfeed",
        "active",
        "position",
        "fulfilment",
        "category_id",
    ],
    "catalog_category": ["id", "name", "position"],
}


def q(name: str) -> str:
    return f'"{name}"'


def cols(table: str, names: list[str]) -> str:
    return ", ".join(f"{q(table)}.{q(n)}" for n in names)


FROM_KEY = (
    'FROM "accounts_account" INNER JOIN "auth_user" ON "auth_user"."id" = "accounts_account"."user_id"',
    'WHERE "accounts_account"."api_key_hash" = %s AND "auth_user"."is_active"',
)
SQL_ACCOUNT = f"SELECT {cols('accounts_account', ACCOUNT_COLUMNS)} {FROM_KEY[0]} {FROM_KEY[1]}"


def sql_account_with_orders(count: int | None) -> str:
    ids = "= ANY(%s)" if count is None else f"IN ({', '.join(['%s'] * count)})"
    return (
        f"SELECT {cols('accounts_account', ACCOUNT_COLUMNS)}, {cols('orders_order', ORDER_COLUMNS)} {FROM_KEY[0]} "
        f'LEFT JOIN "orders_order" ON +"orders_order"."account_id" = "accounts_account"."id" '
        f'AND "orders_order"."id" {ids} {FROM_KEY[1]}'
    )


SQL_CHILDREN = (
    'SELECT "id", "parent_id", "charge", "refunded", "paid_by_parent" FROM "orders_order" '
    'WHERE "parent_id" IN ({}) ORDER BY "id"'
)
SQL_SERVICES = (
    'SELECT s."id", s."name", s."type", c."name", s."rate", s."min", s."max", s."refill", s."cancel", s."dripfeed" '
    'FROM "catalog_service" s INNER JOIN "catalog_category" c ON c."id" = s."category_id" '
    'WHERE s."active" ORDER BY c."position", s."category_id", s."position", s."id"'
)
SQL_SERVICE = (
    'SELECT "id", "type", "rate", "min", "max", "dripfeed", "fulfilment" FROM "catalog_service" '
    'WHERE "id" = %s AND "active"'
)
SQL_ORDER_INSERT = (
    f'INSERT INTO "orders_order" ({", ".join(map(q, ORDER_INSERT_COLUMNS))}) '
    f'VALUES ({", ".join(["%s"] * len(ORDER_INSERT_COLUMNS))}) RETURNING "id"'
)
# The charge: the guard of smmpanel.ledger.services (CHARGE: never below zero, no debt).
SQL_DEBIT = (
    'UPDATE "accounts_account" SET "balance" = "balance" + %s WHERE "id" = %s AND "balance" >= %s AND "debt" = 0 '
    'RETURNING "balance"'
)
SQL_LEDGER_INSERT = (
    f'INSERT INTO "ledger_ledgerentry" ({", ".join(map(q, LEDGER_INSERT_COLUMNS))}) '
    f'VALUES ({", ".join(["%s"] * len(LEDGER_INSERT_COLUMNS))}) RETURNING "id"'
)
# PostgreSQL: the debit and its ledger row in one statement, as the panel's _move_sql_postgresql.
SQL_DEBIT_AND_LEDGER = (
    f"WITH moved AS ({SQL_DEBIT} AS balance) "
    f'INSERT INTO "ledger_ledgerentry" ({", ".join(map(q, LEDGER_INSERT_COLUMNS))}) SELECT '
    + ", ".join("moved.balance" if c == "balance_after" else "%s" for c in LEDGER_INSERT_COLUMNS)
    + ' FROM moved RETURNING "id", "balance_after"'
)
SQL_EVENT_INSERT = (
    f'INSERT INTO "orders_orderevent" ({", ".join(map(q, EVENT_INSERT_COLUMNS))}) '
    f'VALUES ({", ".join(["%s"] * len(EVENT_INSERT_COLUMNS))}) RETURNING "id"'
)
SQL_DEBT = 'SELECT "debt" FROM "accounts_account" WHERE "id" = %s'


def sqlite_sql(sql: str) -> str:
    return sql.replace("%s", "?")


# --- connections --------------------------------------------------------------------------------


def cooperative() -> bool:
    """Is this a gevent process (threading monkey-patched), as smmpanel/sqlite/base.py asks?"""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("threading"))


_pool = None


def off_the_hub(function, *args):
    """Run `function` on a native thread while the greenlet yields (one pool, as smmpanel/sqlite/base.py)."""
    global _pool
    if _pool is None:
        from gevent.threadpool import ThreadPool

        _pool = ThreadPool(8)
    return _pool.apply(function, args)


class Writers:
    """SQLite writers under gevent: a gevent lock in the process, an flock across processes (the panel's file)."""

    def __init__(self, database: str):
        from gevent.lock import BoundedSemaphore

        self.queue = BoundedSemaphore(1)
        self.fd = os.open(f"{database}-writers", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def acquire(self) -> None:
        self.queue.acquire()
        try:
            try:  # free: taken at once; else waited for on a native thread (as the panel)
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                off_the_hub(fcntl.flock, self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.queue.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.queue.release()


_writers: dict = {}


def writers() -> Writers:
    key = os.getpid()  # made in the worker, after gunicorn forked it
    if key not in _writers:
        _writers[key] = Writers(SQLITE_PATH)
    return _writers[key]


class SqliteDb:
    """One SQLite connection, set up as the panel's (smmpanel/settings.py, Django's backend)."""

    placeholder_ids = False  # `status` ids as IN (?, ?, …)

    def __init__(self):
        import sqlite3

        self.errors = sqlite3
        # mode=rw: never create a database (a wrong SMMPANEL_DATA_DIR fails instead of serving an empty one).
        self.conn = sqlite3.connect(
            f"file:{SQLITE_PATH}?mode=rw", uri=True, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
        # RAW_SQLITE_WRITERS=plain: under gevent too, BEGIN and COMMIT block the process (no queue, no threads).
        self.gevent = cooperative() and os.environ.get("RAW_SQLITE_WRITERS", "queue") != "plain"
        self.sql: dict[str, str] = {}

    def _sql(self, sql: str) -> str:
        text = self.sql.get(sql)
        if text is None:
            text = self.sql[sql] = sqlite_sql(sql)
        return text

    def one(self, sql: str, params) -> tuple | None:
        return self.conn.execute(self._sql(sql), params).fetchone()

    def all(self, sql: str, params) -> list:
        return self.conn.execute(self._sql(sql), params).fetchall()

    def begin(self) -> None:
        if self.gevent:
            writers().acquire()
            try:
                # With the writers' flock held only a writer outside the queue can hold SQLite's lock;
                # the benchmark runs none (no worker), so BEGIN does not wait here.
                self.conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                writers().release()
                raise
        else:
            self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self.gevent:
            try:
                self.conn.execute("COMMIT")  # on the hub, as the panel: see smmpanel/sqlite/base.py `_commit`
            finally:
                writers().release()
        else:
            self.conn.execute("COMMIT")

    def rollback(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        finally:
            if self.gevent:
                writers().release()

    def now(self):
        # Django's SQLite backend stores an aware datetime as naive UTC text (str(value)).
        return str(datetime.now(UTC).replace(tzinfo=None))

    def json(self, value) -> str:
        return json.dumps(value)

    def debit_and_ledger(self, account_id: int, units: int, ledger_values: list) -> tuple[int, int] | None:
        row = self.one(SQL_DEBIT, [-units, account_id, units])
        if row is None:
            return None
        ledger_values[LEDGER_INSERT_COLUMNS.index("balance_after")] = row[0]
        entry = self.one(SQL_LEDGER_INSERT, ledger_values)
        assert entry is not None
        return entry[0], row[0]


class PostgresDb:
    """One psycopg 3 connection (autocommit; BEGIN … COMMIT around the write)."""

    placeholder_ids = PREPARED  # `status` ids as one untyped array literal, as the panel when it prepares

    def __init__(self):
        import psycopg
        from psycopg.types.json import Jsonb

        self.errors = psycopg
        self._jsonb = Jsonb
        options = "-c plan_cache_mode=force_generic_plan" if PREPARED else ""
        self.conn = psycopg.connect(DATABASE_URL, autocommit=True, options=options)
        if not PREPARED:
            self.conn.prepare_threshold = None

    def one(self, sql: str, params) -> tuple | None:
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params) -> list:
        return self.conn.execute(sql, params).fetchall()

    def begin(self) -> None:
        self.conn.execute("BEGIN")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    def now(self):
        return datetime.now(UTC)

    def json(self, value):
        return self._jsonb(value)

    def debit_and_ledger(self, account_id: int, units: int, ledger_values: list) -> tuple[int, int] | None:
        values = [v for c, v in zip(LEDGER_INSERT_COLUMNS, ledger_values, strict=True) if c != "balance_after"]
        row = self.one(SQL_DEBIT_AND_LEDGER, [-units, account_id, units, *values])
        return None if row is None else (row[0], row[1])


_local = threading.local()  # greenlet-local under gunicorn's gevent worker (monkey-patched)


def db() -> SqliteDb | PostgresDb:
    conn = getattr(_local, "db", None)
    if conn is None:
        conn = _local.db = PostgresDb() if POSTGRES else SqliteDb()
    return conn


def check_schema() -> None:
    """Fail at start-up, naming them, if a table or column the SQL above uses is missing."""
    conn = PostgresDb() if POSTGRES else SqliteDb()
    try:
        missing = []
        for table, names in USED.items():
            if POSTGRES:
                rows = conn.all(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = %s",
                    [table],
                )
                have = {r[0] for r in rows}
            else:
                have = {r[1] for r in conn.conn.execute(f"PRAGMA table_info({q(table)})").fetchall()}
            if not have:
                missing.append(f"table {table}")
                continue
            missing += [f"{table}.{n}" for n in names if n not in have]
        if missing:
            where = "PostgreSQL" if POSTGRES else SQLITE_PATH
            raise RuntimeError(f"raw_wsgi: the schema in {where} lacks what its SQL uses: {', '.join(missing)}")
    finally:
        conn.conn.close()


check_schema()


# --- the actions ----------------------------------------------------------------------------------


def key_hash(fields: dict) -> str:
    key = fields.get("key", "").strip()
    if not key or len(key) > 200:
        raise Refused(E_KEY)
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def account(digest: str) -> tuple[int, int]:
    row = db().one(SQL_ACCOUNT, [digest])
    if row is None:
        raise Refused(E_KEY)
    return row[0], row[1]


def id_list(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",")]
    ids = [i for i in ids if i]
    if not ids:
        raise Refused(E_REQUEST)
    if len(ids) > MAX_IDS:
        raise Refused(E_TOO_MANY)
    return ids


def action_status(fields: dict):
    """The key and the asked-for orders in one query (the key is checked before the ids' errors)."""
    multi = bool(fields.get("orders", "").strip())
    try:
        raw_ids = id_list(fields["orders"]) if multi else [fields.get("order", "").strip()]
        bad_request = None if raw_ids[0] else E_REQUEST
    except Refused as e:
        raw_ids, bad_request = [], str(e)
    digest = key_hash(fields)
    ids = sorted({n for n in map(parse_id, raw_ids) if n is not None})
    conn = db()
    if not ids:
        account(digest)
        rows: list = []
    else:
        if conn.placeholder_ids:
            rows = conn.all(sql_account_with_orders(None), ["{" + ",".join(map(str, ids)) + "}", digest])
        else:
            rows = conn.all(sql_account_with_orders(len(ids)), [*ids, digest])
        if not rows:
            raise Refused(E_KEY)
    if bad_request:
        raise Refused(bad_request)
    orders = [row[2:] for row in rows if row[2] is not None]
    children = subscription_children([o[0] for o in orders if o[1] == "Subscriptions"])
    bodies = {}
    for pk, type_, status, charge, refunded, start_count, remains, posts_done, old_posts_done in orders:
        paid = charge - refunded
        body = {
            "charge": "",
            "start_count": str(start_count),
            "status": status,
            "remains": str(remains),
            "currency": CURRENCY,
        }
        if type_ == "Subscriptions":
            kids = children[pk]
            paid += sum((c[2] if not c[4] else 0) - c[3] for c in kids)
            body["posts"] = str(posts_done + old_posts_done)
            body["orders"] = [c[0] for c in kids]
        body["charge"] = format_money(paid)
        bodies[pk] = body
    if not multi:
        number = parse_id(raw_ids[0])
        found = None if number is None else bodies.get(number)
        if found is None:
            raise Refused(E_ORDER)
        return found
    not_found = {"error": E_ORDER}
    result = {}
    for raw in raw_ids:
        number = parse_id(raw)
        result[raw] = not_found if number is None else bodies.get(number, not_found)
    return result


def subscription_children(subs: list[int]) -> dict[int, list]:
    children: dict[int, list] = {pk: [] for pk in subs}
    if subs:
        for row in db().all(SQL_CHILDREN.format(", ".join(["%s"] * len(subs))), subs):
            children[row[1]].append(row)
    return children


def action_services(fields: dict):
    account(key_hash(fields))
    return [
        {
            "service": pk,
            "name": name,
            "type": type_,
            "category": category,
            "rate": format_rate(rate),
            "min": str(low),
            "max": str(high),
            "refill": bool(refill),
            "cancel": bool(cancel),
            "dripfeed": bool(dripfeed),
        }
        for pk, name, type_, category, rate, low, high, refill, cancel, dripfeed in db().all(SQL_SERVICES, [])
    ]


def action_balance(fields: dict):
    _, balance = account(key_hash(fields))
    return {"balance": format_money(balance), "currency": CURRENCY}


# Order types this handler places: a quantity, priced per 1000, no other parameter (catalog/order_types.py).
PLAIN_TYPES = ("Default",)


def action_add(fields: dict):
    account_id, _ = account(key_hash(fields))
    if fields.get("idempotency_key") is not None:
        raise Refused("raw_wsgi: idempotency keys are not implemented")
    raw_service = fields.get("service", "").strip()
    if not raw_service:
        raise Refused(E_REQUEST)
    service_id = parse_id(raw_service)
    conn = db()
    service = None if service_id is None else conn.one(SQL_SERVICE, [service_id])
    if service is None:
        raise Refused(E_SERVICE)
    pk, type_, rate, low, high, dripfeed, fulfilment = service
    if type_ not in PLAIN_TYPES or fulfilment != "manual":
        raise Refused(f"raw_wsgi places {', '.join(PLAIN_TYPES)} orders of manual services only")
    link = check_link(fields.get("link", ""))
    if not fields.get("quantity", "").strip():
        raise Refused(E_REQUEST)
    quantity = whole_number(fields["quantity"])
    if quantity is None:
        raise Refused(E_QUANTITY)
    if quantity < low:
        raise Refused(f"Quantity less than minimal {low}")
    if quantity > high:
        raise Refused(f"Quantity more than maximum {high}")
    if fields.get("runs", "").strip() or fields.get("interval", "").strip():
        raise Refused(E_DRIPFEED if not dripfeed else "raw_wsgi: drip-feed is not implemented")
    charge = round5(from_units(rate) * quantity / 1000)
    if charge > MAX_AMOUNT:
        raise Refused(E_FUNDS)
    units = int(charge * SCALE)
    now = conn.now()
    order_values = {
        "due_at": None,  # manual fulfilment: the worker never looks (smmpanel.fulfilment.manual)
        "locked_until": None,
        "claim_token": None,
        "attempts": 0,
        "account_id": account_id,
        "service_id": pk,
        "type": type_,
        "link": link,
        "quantity": quantity,
        "runs": None,
        "interval": None,
        "total": quantity,
        "params": conn.json({}),
        "charge": units,
        "refunded": 0,
        "status": "Pending",
        "start_count": 0,
        "remains": quantity,
        "parent_id": None,
        "paid_by_parent": False,
        "post_number": None,
        "post_is_old": False,
        "posts_done": 0,
        "old_posts_done": 0,
        "cancel_requested_at": None,
        "needs_attention": False,
        "attention_note": "",
        "created": now,
        "updated": now,
        "started_at": None,
        "finished_at": None,
    }
    conn.begin()
    try:
        row = conn.one(SQL_ORDER_INSERT, [order_values[c] for c in ORDER_INSERT_COLUMNS])
        assert row is not None
        order_id = row[0]
        ledger = {
            "account_id": account_id,
            "kind": "charge",
            "amount": -units,
            "balance_after": 0,  # the debit's
            "order_id": order_id,
            "payment_id": None,
            "reason": "",
            "memo": f"Order #{order_id}",
            "created": conn.now(),
        }
        if conn.debit_and_ledger(account_id, units, [ledger[c] for c in LEDGER_INSERT_COLUMNS]) is None:
            conn.rollback()
            debt = conn.one(SQL_DEBT, [account_id])
            if debt and debt[0]:
                raise Refused(E_DEBT.format(debt=shown_money(debt[0])))
            raise Refused(E_FUNDS)
        event = {
            "order_id": order_id,
            "refill_id": None,
            "created": conn.now(),
            "actor": "api",
            "user_id": None,
            "action": "placed",
            "old_status": "",
            "new_status": "",
            "remains": None,
            "start_count": None,
            "message": "",
        }
        conn.one(SQL_EVENT_INSERT, [event[c] for c in EVENT_INSERT_COLUMNS])
        conn.commit()
    except Refused:
        raise
    except conn.errors.IntegrityError:
        conn.rollback()
        raise Refused(E_DUPLICATE) from None
    except BaseException:
        conn.rollback()
        raise
    return {"order": order_id}


ACTIONS = {"balance": action_balance, "status": action_status, "services": action_services, "add": action_add}


# --- WSGI -----------------------------------------------------------------------------------------


def parse_form(raw: bytes) -> dict[str, str]:
    if not raw:
        return {}
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = raw.decode("iso-8859-1")
    try:
        fields = dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS))
    except ValueError:
        raise Refused(E_REQUEST) from None
    for name, value in fields.items():
        # smmpanel.api.params._check: NUL (PostgreSQL refuses it) and lone surrogates (not encodable).
        if "\x00" in value:
            raise Refused(f"Parameter {name[:40]} contains characters that are not allowed")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused(f"Parameter {name[:40]} contains characters that are not allowed") from None
    return fields


def read_fields(environ) -> dict[str, str]:
    try:
        length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        length = 0
    if length > MAX_BODY:
        raise Refused(E_TOO_BIG)
    fields = parse_form(environ.get("QUERY_STRING", "").encode("iso-8859-1"))
    content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    body = environ["wsgi.input"].read(length) if length else b""
    if content_type == "application/x-www-form-urlencoded":
        fields.update(parse_form(body))
    elif body.strip():
        raise Refused(E_REQUEST)  # JSON and multipart bodies: the panel's, not this handler's
    return fields


def answer(environ):
    try:
        fields = read_fields(environ)
        action = ACTIONS.get(fields.get("action", "").strip())
        if action is None:
            account(key_hash(fields))  # the key first, as the panel checks it
            raise Refused(E_REQUEST)
        return "200 OK", action(fields)
    except Refused as e:
        return "200 OK", {"error": str(e)}
    except Exception as e:  # noqa: BLE001 - a fault answers JSON, as the panel's
        print(f"raw_wsgi: request failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        _local.db = None  # a broken connection is not kept
        return "500 Internal Server Error", {"error": "Internal server error"}


HEADERS = [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")]


def application(environ, start_response):
    status, body = answer(environ)
    data = json.dumps(body, ensure_ascii=False).encode()
    start_response(status, [*HEADERS, ("Content-Length", str(len(data)))])
    return [data]
