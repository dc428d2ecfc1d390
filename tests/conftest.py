"""Shared helpers for the API test suite.

- ``customer``: a factory making a Django user + Account with an API key and a deposit.
- ``service``: a factory making an active service (and its category).
- ``wsgi_client``: Django's test client, but answered by the production WSGI entry point
  (smmpanel.wsgi.application, what gunicorn serves) instead of Django's URL route.
- ``api``: calls /api/v2 in-process through ``wsgi_client``, asserts HTTP 200 + JSON,
  returns the parsed body.
- ``postgres_admin_url``: a reachable PostgreSQL admin URL, or skip (fail on CI).
- ``throwaway_postgres_db``, ``panel_server``: a real gunicorn server on a fresh database.
"""

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
_counter = itertools.count(1)

ENCODINGS = ("form", "json", "get")  # plus "multipart", which call_api also speaks
PATHS = ("/api/v2", "/api/v2/")  # the endpoint, with and without the trailing slash


# --- the test session ---------------------------------------------------------------

# A test touches the database under test (the one DATABASE_URL names) through one of these
# fixtures or the django_db mark; every other test brings its own databases and processes
# (servers on their own SQLite file or throwaway PostgreSQL database, the client, settings
# read in a subprocess, the browser tests' own panel) and gives the same answer in either run.
DATABASE_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}
)


BROWSER_SHARDS = 2


def uses_the_database_under_test(item) -> bool:
    if item.get_closest_marker("own_databases"):
        return False
    return item.get_closest_marker("django_db") is not None or bool(DATABASE_FIXTURES & set(item.fixturenames))


def pytest_addoption(parser):
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help="run only the tests that touch the database under test (CI's second run, on PostgreSQL: "
        "the others ran in the first and would give the same answer)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    if config.getoption("--database-tests-only"):
        kept = [item for item in items if uses_the_database_under_test(item)]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    # Under pytest-xdist (--dist loadgroup) the tests of a module with a module-scoped server (panel A)
    # run on one worker, so that it starts once; the browser tests share one live panel and one chromium,
    # so they go together. Every other test goes wherever a worker is free.
    # A slow module of that kind may split into XDIST_SHARDS groups (module-level constant): each shard
    # starts the server once on its worker, and the shards run side by side. The browser tests, minutes
    # of them, go in BROWSER_SHARDS groups of whole modules (a live panel and a chromium each).
    seen: dict[str, int] = {}
    browser_modules: dict[str, int] = {}
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        path = item.nodeid.split("::")[0]
        if path.startswith("tests/browser/"):
            module = browser_modules.setdefault(path, len(browser_modules))
            item.add_marker(pytest.mark.xdist_group(f"browser#{module % BROWSER_SHARDS}"))
        elif _shares_a_fixture_across_tests(item):
            index = seen[path] = seen.get(path, -1) + 1
            shards = getattr(item.module, "XDIST_SHARDS", 1)
            item.add_marker(pytest.mark.xdist_group(path if shards == 1 else f"{path}#{index % shards}"))


def _shares_a_fixture_across_tests(item) -> bool:
    definitions = getattr(item, "_fixtureinfo", None)
    if definitions is None:
        return False
    return any(  # our own fixtures (plugins' are set up per test or per session anyway)
        fixture.scope in ("class", "module", "package") and fixture.baseid.startswith("tests")
        for fixtures in definitions.name2fixturedefs.values()
        for fixture in fixtures
    )


@pytest.fixture(autouse=True, scope="session")
def fast_password_hasher():
    """MD5 for the tests' passwords: the production hasher costs ~0.3 s per hash, by design.

    Only here, for this test session; production settings keep Django's default.
    Subprocesses the tests start (`smmpanel demo`, servers) still use the real one.
    """
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


PER_ADDRESS_LIMITS = (
    "SIGNUPS_PER_ADDRESS",
    "PASSWORD_RESETS_PER_ADDRESS",
    "LOGIN_FAILURES_PER_ADDRESS",
    "API_KEY_FAILURES_PER_ADDRESS",
)


@pytest.fixture(autouse=True, scope="session")
def no_per_address_limits():
    """Every test comes from the same few addresses: the per-address limits are off unless a test sets one.

    In this process and in the servers the tests start (they inherit the environment);
    tests/test_signup_abuse.py turns each on where it tests it.
    """
    from django.conf import settings

    for name in PER_ADDRESS_LIMITS:
        setattr(settings, name, "")
        os.environ[name] = ""


@pytest.fixture(autouse=True)
def empty_local_cache():
    """Each test starts with an empty in-process cache: the cache lives as long as the process (an xdist
    worker runs hundreds of tests), the database only as long as the test, and what one test left cached
    (the dashboard's sums, a rate limit's count) must not answer for the next one. Redis, where a test
    sets it, is that test's to clear."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    cache = caches["default"]
    if isinstance(cache, LocMemCache):
        cache.clear()


@pytest.fixture(autouse=True, scope="session")
def no_connection_pool_in_the_test_process():
    """In this process, a connection per thread, as Django's test tools expect (PostgreSQL runs).

    The production pool (DATABASE_POOL_SIZE, 8 per process) is for request
    handlers that give their connection back when a request ends; threads of a
    test keep theirs until they finish, so 20 threads meeting at a barrier would
    wait for the pool forever. Servers the tests start keep the pool
    (tests/test_serving.py measures it).
    """
    from django.conf import settings

    settings.DATABASES["default"].get("OPTIONS", {}).pop("pool", None)


# --- customers, services ------------------------------------------------------------


@dataclass
class Customer:
    user: object
    account: object
    key: str

    def balance(self) -> Decimal:
        self.account.refresh_from_db(fields=["balance"])
        return self.account.balance

    def ledger_sum(self) -> Decimal:
        from django.db.models import Sum

        from smmpanel.ledger.models import LedgerEntry

        total = LedgerEntry.objects.filter(account_id=self.account.pk).aggregate(s=Sum("amount"))["s"]
        return Decimal(total or 0).quantize(Decimal("0.00001"))

    def orders(self):
        from smmpanel.orders.models import Order

        return Order.objects.filter(account_id=self.account.pk)


@pytest.fixture
def customer(db):
    """customer(balance="100") -> Customer with an API key and that much deposited."""
    from django.contrib.auth import get_user_model

    from smmpanel.accounts.models import Account
    from smmpanel.ledger.services import deposit

    def make(balance="100", username=None) -> Customer:
        user = get_user_model().objects.create_user(
            username=username or f"customer{next(_counter)}"
        )  # no password: hashing one would cost ~0.3 s per customer
        account = Account.objects.create(user=user)
        key = account.regenerate_api_key()
        if Decimal(balance) > 0:
            deposit(account, Decimal(balance), memo="test deposit")
        account.refresh_from_db()
        return Customer(user=user, account=account, key=key)

    return make


@pytest.fixture
def service(db):
    """service(type="Default", rate="1", min=10, max=10000, ..., sim_partial_percent=…) -> an active Service."""
    from smmpanel.catalog.models import Category, Service

    def make(type="Default", rate="1", min=10, max=10000, category="Tests", **fields):
        from smmpanel.fulfilment.models import SimulatedService

        cat, _ = Category.objects.get_or_create(name=category)
        # sim_units_per_minute=… etc.: the simulated kind's knobs (its own model).
        knobs = {name[4:]: fields.pop(name) for name in list(fields) if name.startswith("sim_")}
        svc = Service.objects.create(
            name=fields.pop("name", f"{type} service {next(_counter)}"),
            category=cat,
            type=type,
            rate=Decimal(str(rate)),
            min=min,
            max=max,
            **fields,
        )
        if svc.fulfilment == "simulated":
            SimulatedService.objects.create(service=svc, **knobs)
        return svc

    return make


# --- calling the API ---------------------------------------------------------------------


class ProductionHandler:
    """Answers a test client's request with smmpanel.wsgi.application, as gunicorn would call it.

    Like Django's own test handler, it keeps the test's database connection
    open across the request (the signals would otherwise close it, and with
    it the test's transaction).
    """

    def __call__(self, environ):
        from django.core.signals import request_finished, request_started
        from django.db import close_old_connections
        from django.http import HttpResponse

        from smmpanel.wsgi import application

        started = {}

        def start_response(status, headers, exc_info=None):
            started["status"], started["headers"] = status, headers

        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            result = application(environ, start_response)
            try:
                content = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()  # what a WSGI server does once the body is sent
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        response = HttpResponse(content, status=int(started["status"].split()[0]))
        del response["Content-Type"]
        for name, value in started["headers"]:
            response[name] = value
        response.wsgi_request = None  # no Django request was made (the test client looks for one)
        return response


@pytest.fixture
def wsgi_client(db):
    """A django.test.Client whose requests the production WSGI entry point answers."""
    from django.test import Client

    client = Client()
    client.handler = ProductionHandler()
    return client


def call_api(client, params: dict, *, via: str = "form", path: str = "/api/v2"):
    """One request to the API in the given encoding; returns the raw response."""
    if via == "form":  # application/x-www-form-urlencoded, as curl -d and the PHP example send
        return client.post(path, data=urlencode(params, doseq=True), content_type="application/x-www-form-urlencoded")
    if via == "multipart":
        return client.post(path, data=params)
    if via == "json":
        return client.post(path, data=json.dumps(params), content_type="application/json")
    if via == "get":
        return client.get(path, data=params)
    raise ValueError(via)


def parsed(response):
    """The JSON body of an API answer, after checking it is HTTP 200 + application/json."""
    assert response.status_code == 200, (response.status_code, response.content[:500])
    assert response["Content-Type"].split(";")[0].strip() == "application/json", response["Content-Type"]
    return json.loads(response.content)


@pytest.fixture
def api(wsgi_client):
    """api(key, action, via="form"|"json"|"get", path="/api/v2", **params) -> parsed JSON."""

    def call(key=None, action=None, *, via="form", path="/api/v2", **params):
        data = dict(params)
        if key is not None:
            data["key"] = key
        if action is not None:
            data["action"] = action
        return parsed(call_api(wsgi_client, data, via=via, path=path))

    return call


def money_is_conserved(cust: Customer) -> None:
    """Balance equals the ledger, is never negative, and is what was paid in less what orders kept."""
    from django.db.models import Sum

    from smmpanel.ledger.models import LedgerEntry

    balance = cust.balance()
    assert balance == cust.ledger_sum()
    assert balance >= 0
    # Money in and out of the panel: all but orders' charges and refunds (deposits, adjustments, and
    # payments' bonuses, chargebacks and debt paid).
    deposits = LedgerEntry.objects.filter(account_id=cust.account.pk).exclude(kind__in=["charge", "refund"]).aggregate(
        s=Sum("amount")
    )["s"] or Decimal(0)
    # A prepaid subscription's orders were paid through it; their refunds still reach the customer.
    kept = sum(((0 if o.paid_by_parent else o.charge) - o.refunded for o in cust.orders()), Decimal(0))
    assert deposits - balance == kept


# --- PostgreSQL ---------------------------------------------------------------------------


def _postgres_required() -> bool:
    return (
        os.environ.get("CI", "").strip().lower() == "true"
        or os.environ.get("SMMPANEL_REQUIRE_POSTGRES", "").strip() == "1"
    )


@pytest.fixture(scope="session")
def postgres_admin_url():
    """An admin URL of a reachable PostgreSQL server (it may create databases).

    From SMMPANEL_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).
    Unreachable: the test is skipped with the reason, unless CI=true or
    SMMPANEL_REQUIRE_POSTGRES=1, where a missing PostgreSQL is a failure.
    """
    url = os.environ.get("SMMPANEL_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as e:  # noqa: BLE001 - any reason counts as unreachable
        detail = " ".join(str(e).split())[:200]
        reason = f"PostgreSQL is not reachable at {url} ({type(e).__name__}: {detail})"
        if _postgres_required():
            pytest.fail(reason + "; CI=true or SMMPANEL_REQUIRE_POSTGRES=1 requires it", pytrace=False)
        pytest.skip(reason + "; set SMMPANEL_TEST_POSTGRES_URL to run the PostgreSQL tests")
    return url


class throwaway_database:  # noqa: N801 - a context manager, named like one
    """A fresh PostgreSQL database (a copy of `template`, or empty) on the admin URL's server; yields its URL."""

    def __init__(self, admin_url: str, prefix: str = "smmpanel_t", template: str | None = None):
        from psycopg.conninfo import conninfo_to_dict

        self.admin_url, self.template = admin_url, template
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        info = conninfo_to_dict(admin_url)
        auth = info.get("user", "postgres") + (f":{info['password']}" if info.get("password") else "")
        self.url = f"postgres://{auth}@{info.get('host', '127.0.0.1')}:{info.get('port', '5432')}/{self.name}"

    def _run(self, statement: str, *names: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL(statement).format(*map(sql.Identifier, names)))

    def __enter__(self) -> str:
        if self.template:
            self._run("CREATE DATABASE {} TEMPLATE {}", self.name, self.template)
        else:
            self._run("CREATE DATABASE {}", self.name)
        return self.url

    def __exit__(self, *exc) -> None:
        self._run("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url, tmp_path_factory):
    """The name of a migrated, empty PostgreSQL database that servers' databases are copied from (this
    process's own: CREATE DATABASE … TEMPLATE needs the template to have no other connection)."""
    with throwaway_database(postgres_admin_url, prefix="smmpanel_template") as url:
        PanelServer(url, tmp_path_factory.mktemp("postgres-template")).manage("migrate", "--noinput")
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def throwaway_postgres_db(postgres_admin_url, postgres_template):
    """A fresh migrated PostgreSQL database for this test (a copy of the template), dropped afterwards; its URL."""
    with throwaway_database(postgres_admin_url, template=postgres_template) as url:
        yield url


# --- a real server -------------------------------------------------------------------------


def _postgres_is_migrated(url: str) -> bool:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT to_regclass('django_migrations')").fetchone()[0] is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PanelServer:
    """gunicorn serving smmpanel on its own database; `manage` runs commands on that database."""

    def __init__(self, database_url: str, data_dir: Path):
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SMMPANEL_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "smmpanel.settings",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v2"
        self.process = None
        self.log = data_dir / "gunicorn.log"

    def manage(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [str(PYTHON), "-m", "smmpanel", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"smmpanel {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def sql(self, query: str, params=()) -> list[tuple]:
        """Rows of `query` on the server's database, read directly: milliseconds, where `python` costs a
        process start (a second or more). Placeholders are `%s` on both databases."""
        url = self.env["DATABASE_URL"]
        if url.startswith("sqlite:///"):
            import sqlite3

            with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=10) as db:
                return db.execute(query.replace("%s", "?"), params).fetchall()
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def python(self, code: str) -> dict:
        """Run `code` in `smmpanel shell`; it must print one JSON object as its last line."""
        out = self.manage("shell", "-c", code)
        return json.loads(out.strip().splitlines()[-1])

    def start(self, workers: int = 2, threads: int = 8) -> None:
        gunicorn = PYTHON.parent / "gunicorn"
        self._log_file = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                str(gunicorn),
                "smmpanel.wsgi:application",
                "-b",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--timeout",
                "60",
            ],
            cwd=REPO,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{self.log.read_text(errors='replace')}")
            try:
                httpx.get(self.url, timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"gunicorn did not answer in 30s:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self._log_file.close()


@pytest.fixture
def panel_server(tmp_path, sqlite_template):
    """panel_server(database_url) -> a migrated, running PanelServer; stopped after the test.

    A SQLite file that does not exist yet starts as a copy of the migrated template; a PostgreSQL
    database from `throwaway_postgres_db` is one already: neither runs `migrate` (a process, seconds).
    """
    servers = []

    def start(database_url: str, **kwargs) -> PanelServer:
        data_dir = tmp_path / f"server{len(servers)}"
        data_dir.mkdir()
        server = PanelServer(database_url, data_dir)
        servers.append(server)
        path = Path(database_url.removeprefix("sqlite:///")) if database_url.startswith("sqlite:///") else None
        if path is not None and not path.exists():
            shutil.copyfile(sqlite_template, path)
            path.chmod(0o600)
        elif path is not None or not _postgres_is_migrated(database_url):
            server.manage("migrate", "--noinput")
        server.start(**kwargs)
        return server

    yield start
    for server in servers:
        server.stop()


# --- small conveniences ---------------------------------------------------------------------


def new_link() -> str:
    """A link no other order of the run uses (so the duplicate-link rule stays out of the way)."""
    return f"https://example.com/post/{next(_counter)}"


@pytest.fixture
def place(api):
    """place(customer, service, **params) -> the new order's id (asserts the add succeeded)."""

    def call(cust: Customer, svc, **params):
        params.setdefault("link", new_link())
        if svc.order_type.takes_quantity:
            params.setdefault("quantity", svc.min)
        body = api(cust.key, "add", service=svc.pk, **params)
        assert set(body) == {"order"}, body
        assert type(body["order"]) is int
        return body["order"]

    return call


# --- the reference's example `add` of each of the 16 order types ------------------------------
#
# type -> (service fields, request fields, expected quantity, expected charge, expected stored params)

ORDER_EXAMPLES = {
    "Default": (
        dict(rate="0.90", min=50, max=10000),
        dict(link="https://instagram.com/p/default", quantity="1000"),
        1000,
        "0.90000",
        {},
    ),
    "Package": (
        dict(rate="5.5", min=1, max=1),
        dict(link="https://instagram.com/p/package"),
        1,
        "5.50000",
        {},
    ),
    "SEO": (
        dict(rate="2", min=100, max=10000),
        dict(link="https://example.com/seo", quantity="500", keywords="smm panel\r\ncheap followers"),
        500,
        "1.00000",
        {"keywords": "smm panel\r\ncheap followers"},
    ),
    "Custom Comments": (
        dict(rate="8", min=1, max=1500),
        dict(link="https://instagram.com/p/comments", comments="Nice!\r\nGreat post\n\n  \nWow\n"),
        3,
        "0.02400",
        {"comments": "Nice!\r\nGreat post\n\n  \nWow\n"},
    ),
    "Mentions": (
        dict(rate="3", min=100, max=10000),
        dict(link="https://instagram.com/p/mentions", quantity="1000", usernames="alice\nbob"),
        1000,
        "3.00000",
        {"usernames": "alice\nbob"},
    ),
    "Mentions with Hashtags": (
        dict(rate="4", min=100, max=10000),
        dict(link="https://instagram.com/p/mwh", quantity="250", usernames="alice\nbob", hashtags="#travel\n#food"),
        250,
        "1.00000",
        {"usernames": "alice\nbob", "hashtags": "#travel\n#food"},
    ),
    "Mentions Custom List": (
        dict(rate="10", min=1, max=1000),
        dict(link="https://instagram.com/p/mcl", usernames="alice\r\nbob\r\ncarol"),
        3,
        "0.03000",
        {"usernames": "alice\r\nbob\r\ncarol"},
    ),
    "Mentions Hashtag": (
        dict(rate="1.2", min=100, max=10000),
        dict(link="https://instagram.com/p/mh", quantity="500", hashtag="#travel"),
        500,
        "0.60000",
        {"hashtag": "#travel"},
    ),
    "Mentions User Followers": (
        dict(rate="1", min=100, max=10000),
        dict(link="https://instagram.com/p/muf", quantity="100", username="https://instagram.com/nasa"),
        100,
        "0.10000",
        {"username": "https://instagram.com/nasa"},
    ),
    "Mentions Media Likers": (
        dict(rate="1", min=100, max=10000),
        dict(link="https://instagram.com/p/mml", quantity="150", media="https://instagram.com/p/source"),
        150,
        "0.15000",
        {"media": "https://instagram.com/p/source"},
    ),
    "Subscriptions": (
        dict(rate="1", min=10, max=1000),
        dict(username="nasa", min="100", max="200", posts="5", old_posts="2", delay="30", expiry="31/12/2099"),
        0,
        "1.40000",  # a subscription's own quantity: it delivers through the orders it makes
        {"username": "nasa", "min": 100, "max": 200, "delay": 30, "old_posts": 2, "posts": 5, "expiry": "2099-12-31"},
    ),
    "Custom Comments Package": (
        dict(rate="7.5", min=1, max=100),
        dict(link="https://instagram.com/p/ccp", comments="first\nsecond"),
        2,
        "7.50000",
        {"comments": "first\nsecond"},
    ),
    "Comment Likes": (
        dict(rate="2", min=50, max=5000),
        dict(link="https://instagram.com/p/cl", quantity="100", username="commenter"),
        100,
        "0.20000",
        {"username": "commenter"},
    ),
    "Poll": (
        dict(rate="3", min=10, max=5000),
        dict(link="https://t.me/channel/42", quantity="100", answer_number="2"),
        100,
        "0.30000",
        {"answer_number": "2"},
    ),
    "Comment Replies": (
        dict(rate="9", min=1, max=100),
        dict(link="https://instagram.com/p/cr", username="alice", comments="reply one\nreply two"),
        2,
        "0.01800",
        {"username": "alice", "comments": "reply one\nreply two"},
    ),
    "Invites from Groups": (
        dict(rate="5", min=100, max=10000),
        dict(link="https://t.me/mygroup", quantity="200", groups="https://t.me/g1\nhttps://t.me/g2"),
        200,
        "1.00000",
        {"groups": "https://t.me/g1\nhttps://t.me/g2"},
    ),
}


# --- an upstream provider panel (panel A of reseller tests) -----------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """An empty migrated SQLite database that servers' databases (panel A's among them) start from as a copy."""
    from tests.providers_harness import migrate

    directory = tmp_path_factory.mktemp("sqlite-template")
    return migrate(directory / "template.sqlite3", directory)


@pytest.fixture(scope="module")
def provider_panel_module(tmp_path_factory, sqlite_template):
    """One running panel A per test module (see tests/providers_harness.py); stopped after the module."""
    from tests.providers_harness import ProviderPanel

    panel = ProviderPanel(tmp_path_factory.mktemp("provider")).start(template=sqlite_template)
    yield panel
    panel.stop()


@pytest.fixture
def provider_panel(provider_panel_module):
    """Panel A for this test: no faults at the start, its worker stopped at the end."""
    panel = provider_panel_module
    if panel.faults:
        panel.set_faults({})
    yield panel
    panel.stop_worker()
