"""Panel A, the upstream provider of reseller tests: a second smmpanel on its own SQLite file.

A is a real gunicorn on 127.0.0.1 (tests.conftest.PanelServer) started with
SMMPANEL_FAULTS_FILE, so a test can make it misbehave (smmpanel/api/faults.py,
docs/faults.md). It sells a catalog of simulated services at a fast pace and
has one customer, "reseller", whose key panel B uses. Its own worker, which
moves simulated orders on, runs only when a test asks for it (`run_worker`).

The fixture (`provider_panel` in tests/conftest.py) keeps one A per test
module (start-up costs seconds) and gives each test a panel without faults
and without a running worker.

What A holds is read straight from its SQLite file (table and column names
taken from our models): a read costs milliseconds, where `python(...)` (a
`smmpanel shell`) costs most of a second.
"""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from smmpanel.ledger.fields import from_units
from tests.conftest import PYTHON, REPO, PanelServer

RESELLER = "reseller"
RESELLER_BALANCE = Decimal("1000")

# The services A sells: key -> (type, rate, min, max, options). Fast unless said otherwise:
# 10,000 units a second, so an order is Pending ~2 s, then done within a second or two.
CATALOG = {
    "default": ("Default", "1.00", 10, 100000, {"dripfeed": True, "refill": True, "cancel": True}),
    "package": ("Package", "2.00", 1, 1, {}),
    "custom_comments": ("Custom Comments", "5.00", 1, 1000, {"cancel": True}),
    "mentions": ("Mentions", "3.00", 10, 10000, {}),
    "poll": ("Poll", "1.20", 10, 10000, {"refill": True}),
    "subscriptions": ("Subscriptions", "0.60", 10, 5000, {"cancel": True, "sim_post_every_seconds": 1}),
    "comment_replies": ("Comment Replies", "9.00", 1, 500, {}),
    "seo": ("SEO", "0.40", 10, 100000, {}),
    # One unit a second: an order that stays In progress for minutes.
    "slow": ("Default", "1.00", 10, 100000, {"cancel": True, "refill": True, "sim_units_per_minute": 60}),
}


def make_catalog(server: PanelServer) -> dict[str, int]:
    """Create A's catalog; returns {catalog key: service id}.

    The one place that knows how a service is made simulated: today a Service
    with fulfilment="simulated" and its SimulatedService row (the `sim_*`
    options of CATALOG, without the prefix).
    """
    script = f"""
import json
from decimal import Decimal
from smmpanel.catalog.models import Category, Service
from smmpanel.fulfilment.models import SimulatedService
category, _ = Category.objects.get_or_create(name="Provider")
ids = {{}}
for key, (type_, rate, low, high, options) in {CATALOG!r}.items():
    knobs = {{"units_per_minute": 600000, "partial_percent": 0}}
    knobs.update({{name[4:]: value for name, value in options.items() if name.startswith("sim_")}})
    fields = {{name: value for name, value in options.items() if not name.startswith("sim_")}}
    service = Service.objects.create(name=f"{{key}} ({{type_}})", category=category, type=type_,
                                     rate=Decimal(rate), min=low, max=high, fulfilment="simulated", **fields)
    SimulatedService.objects.create(service=service, **knobs)
    ids[key] = service.pk
print(json.dumps(ids))
"""
    return server.python(script)


def migrate(db_path: Path, data_dir: Path) -> Path:
    """An empty migrated SQLite database at `db_path` (a template to copy saves ~1.5 s a panel)."""
    PanelServer(f"sqlite:///{db_path}", data_dir).manage("migrate", "--noinput")
    return db_path


class ProviderPanel:
    """A running panel A: its API URL, the reseller's key, its services, its faults and its database."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.db_path = data_dir / "provider.sqlite3"
        self.faults_file = data_dir / "faults.json"
        self.server = PanelServer(f"sqlite:///{self.db_path}", data_dir)
        self.server.env["SMMPANEL_FAULTS_FILE"] = str(self.faults_file)
        self.server.env["SMMPANEL_FAULTS_CHECK_EVERY"] = "0"  # every call looks: a change is seen at once
        self.url = self.server.url
        self.key = ""
        self.services: dict[str, int] = {}
        self.faults: dict = {}
        self._worker = None
        self._worker_log = None

    # --- life ---------------------------------------------------------------------------

    def start(self, template: Path | None = None) -> "ProviderPanel":
        """Migrate (or copy `template`, an already migrated empty database), then start.

        The catalog, the reseller and gunicorn's start-up need one another not,
        so they run side by side: each is mostly a Python process importing Django.
        """
        if template is None:
            migrate(self.db_path, self.data_dir)
        else:
            shutil.copyfile(template, self.db_path)
            self.db_path.chmod(0o600)
        with ThreadPoolExecutor(3) as pool:
            catalog = pool.submit(make_catalog, self.server)
            reseller = pool.submit(self.server.manage, "user", "create", RESELLER, "--balance", str(RESELLER_BALANCE))
            started = pool.submit(self.server.start, workers=2, threads=8)
            self.services = catalog.result()
            self.key = reseller.result().strip().splitlines()[-1]
            started.result()
        return self

    def stop(self) -> None:
        self.stop_worker()
        self.server.stop()

    def run_worker(self, poll: float = 0.1) -> None:
        """Start A's worker (`smmpanel worker`) so simulated orders progress; no-op if it runs."""
        if self._worker is not None and self._worker.poll() is None:
            return
        self._worker_log = open(self.data_dir / "worker.log", "ab")  # noqa: SIM115 - closed in stop_worker()
        self._worker = subprocess.Popen(
            [str(PYTHON), "-m", "smmpanel", "worker"],
            cwd=REPO,
            env={**self.server.env, "WORKER_POLL_SECONDS": str(poll)},
            stdout=self._worker_log,
            stderr=subprocess.STDOUT,
        )

    def stop_worker(self) -> None:
        if self._worker is None:
            return
        if self._worker.poll() is None:
            self._worker.send_signal(signal.SIGTERM)  # it finishes its current pass
            try:
                self._worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._worker.kill()
                self._worker.wait()
        self._worker_log.close()
        self._worker = None

    # --- faults ---------------------------------------------------------------------------

    def set_faults(self, faults: dict) -> None:
        """Replace A's faults (atomically: a temp file renamed over), and wait until every process has them."""
        tmp = self.faults_file.with_name(f".{self.faults_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(faults))
        os.replace(tmp, self.faults_file)
        self.faults = dict(faults)  # A looks at the file on every call (SMMPANEL_FAULTS_CHECK_EVERY=0)

    # --- looking inside A -----------------------------------------------------------------------

    def manage(self, *args: str, timeout: float = 120) -> str:
        return self.server.manage(*args, timeout=timeout)

    def python(self, code: str) -> dict:
        return self.server.python(code)

    def _query(self, sql: str, params=()) -> list[tuple]:
        with sqlite3.connect(self.db_path, timeout=10) as db:
            return db.execute(sql, params).fetchall()

    def order_count(self) -> int:
        """How many orders A holds (every customer's, subscription posts included)."""
        from smmpanel.orders.models import Order

        return self._query(f'SELECT COUNT(*) FROM "{Order._meta.db_table}"')[0][0]

    def orders(self) -> dict[int, dict]:
        """A's orders by id: {"status", "remains", "quantity", "service", "parent"} (parent: a subscription's id)."""
        from smmpanel.orders.models import Order

        names = ("status", "remains", "quantity", "service", "parent")
        cols = {name: Order._meta.get_field(name).column for name in names}
        columns = ", ".join(f'"{column}"' for column in cols.values())
        rows = self._query(f'SELECT "id", {columns} FROM "{Order._meta.db_table}"')
        return {row[0]: dict(zip(cols, row[1:], strict=True)) for row in rows}

    def balance(self) -> Decimal:
        """The reseller's balance at A."""
        from django.contrib.auth import get_user_model

        from smmpanel.accounts.models import Account

        users = get_user_model()._meta
        account = Account._meta
        rows = self._query(
            f'SELECT a."{account.get_field("balance").column}" FROM "{account.db_table}" a '
            f'JOIN "{users.db_table}" u ON u."id" = a."{account.get_field("user").column}" WHERE u."username" = ?',
            (RESELLER,),
        )
        return from_units(rows[0][0])  # stored as MoneyField units

    def ledger_ok(self) -> bool:
        """Every account at A (the reseller's above all) has balance == the sum of its ledger rows."""
        from smmpanel.accounts.models import Account
        from smmpanel.ledger.models import LedgerEntry

        account, entry = Account._meta, LedgerEntry._meta
        rows = self._query(
            f'SELECT a."id", a."{account.get_field("balance").column}", '
            f'(SELECT COALESCE(SUM(e."{entry.get_field("amount").column}"), 0) FROM "{entry.db_table}" e '
            f'WHERE e."{entry.get_field("account").column}" = a."id") FROM "{account.db_table}" a'
        )
        return bool(rows) and all(balance == total for _, balance, total in rows)

    def wait_for(self, predicate, timeout: float = 15, every: float = 0.1):
        """Poll `predicate(self)` until it gives something truthy; returns it (fails after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate(self)
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"provider panel: condition not met in {timeout}s")
            time.sleep(every)
