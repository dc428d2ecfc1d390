"""Benchmark the API v2 endpoint with wrk, on SQLite and PostgreSQL, next to a bare and a raw WSGI handler.

For each database this script
  1. sets up a throwaway panel: a fresh data dir (SMMPANEL_DATA_DIR) and, for
     PostgreSQL, a throwaway database (default ``smmpanel_bench``, dropped at
     the end); runs ``smmpanel migrate``;
  2. seeds one customer with a 1,000,000 USD balance (``smmpanel user create``,
     or the models directly when that command is missing), one active Default
     service with manual fulfilment (so no worker touches orders), and 100
     orders placed through the API for the ``status`` calls;
  3. starts ``smmpanel serve --no-worker`` (gunicorn with gevent workers, as
     ``serve`` runs by default, or gthread: ``--worker-class``, both side by
     side with ``gevent,gthread``) and runs wrk (bench/api.lua) against ``services``, ``balance``,
     ``status`` with 1 id, ``status`` with 100 ids and ``add`` (each add has a
     unique link), after a short warm-up each;
  4. after ``add``, checks the ledger is exact: balance = sum of the account's
     ledger rows = initial − sum of order charges, one charge row per order of
     the same amount, and orders placed vs {"order": N} answers;
  5. serves bench/bare_wsgi.py with the same gunicorn settings and database and
     runs the same wrk load on it (between ``balance`` and ``status``): one
     ``SELECT balance … WHERE api_key_hash=%s`` through Django's connection and
     nothing else, the practical limit;
  6. serves bench/raw_wsgi.py (the same actions with sqlite3 / psycopg alone, no
     Django: the framework's cost shows against it) with the same gunicorn
     command line under gevent and under gthread, and runs each action on both
     right after the panel's run of it; raw's ``add`` places orders for a second
     customer (``benchraw``), whose ledger is checked the same way (``--no-raw``:
     without it);
  7. prints a table per database (req/s, p50/p99 latency, errors, ratio to the
     bare handler and to the better of the two raw servers, CPU per request of
     the servers / PostgreSQL / wrk, CPU taken by other processes meanwhile) and
     the targets (balance and status-1 ≥ 60 % of bare and ≥ 85 % of raw, add
     ≥ 500 orders/s and ≥ 60 % of raw's orders/s, both ledgers exact);
     ``--markdown`` writes the results into docs/benchmarks.md between its
     ``bench:results`` markers.

The servers run from a copy of smmpanel/ taken at start (``--in-place``: the
tree itself), so edits made by others during a run cannot mix code versions.
``--repeat N`` measures every action N times, interleaved, and reports the
median run. docs/benchmarks.md explains the columns and the figures.

Usage (from the repository root, with the project's virtualenv)::

    .venv/bin/python bench/api.py                    # both databases, 10 s per action
    .venv/bin/python bench/api.py --quick            # ~3 s per action
    .venv/bin/python bench/api.py --repeat 3 --wait-quiet 60 --markdown
    .venv/bin/python bench/api.py --db postgres -d 20 -c 64
    .venv/bin/python bench/api.py --db postgres --only balance,add --profile /tmp/prof
    .venv/bin/python bench/api.py --worker-class gevent,gthread      # the two servers side by side
    SQLITE_SYNCHRONOUS=NORMAL .venv/bin/python bench/api.py --db sqlite --only add   # variables reach the servers

Needs wrk, which is not installed by the project (a Debian package: ``apt-get
install -y wrk`` as root); ``--profile`` needs py-spy. Standard
library only otherwise; everything runs on 127.0.0.1 and every step has a
time limit. wrk and the server share the machine's cores.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# Where the commands under test run from (their cwd comes first on sys.path, so `python -m smmpanel`
# and gunicorn import the smmpanel/ found there): a snapshot copied at start, unless --in-place.
CODE = ROOT
LUA = BENCH_DIR / "api.lua"
DOC = ROOT / "docs" / "benchmarks.md"
MARK_START = "<!-- bench:results:start -->"
MARK_END = "<!-- bench:results:end -->"

PY = sys.executable
SMMPANEL = [PY, "-m", "smmpanel"]
INITIAL_BALANCE = "1000000"
RATE = "1.23456"  # per 1000: a charge of 0.12346 for 100 units, so rounding is exercised
QUANTITY = 100
STATUS_ORDERS = 100
ACTIONS = ["services", "balance", "status1", "status100", "add"]
# The order the runs are made in: the bare handler between the two actions compared with it,
# add last (it grows the orders table).
ORDER = ["balance", "bare", "status1", "services", "status100", "add"]
TARGET_RATIO = 0.60
TARGET_ADD = 500.0
# bench/raw_wsgi.py, the same actions with the database driver alone (issue 17): served by both
# worker classes, the better one counting; its add places orders for a second customer.
RAW_CLASSES = ["gevent", "gthread"]
RAW_TARGETS = {"balance": 0.85, "status1": 0.85, "add": 0.60}
PANEL_USER, RAW_USER = "bench", "benchraw"
LOPSIDED = 0.75  # one gunicorn worker doing more than this share of a run's work: see run_wrk


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --- processes --------------------------------------------------------------


def run(cmd: list[str], env: dict, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, env=env, cwd=CODE, capture_output=True, text=True, timeout=timeout, check=False)
    if check and p.returncode != 0:
        raise BenchError(f"{' '.join(cmd[:4])}… failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return p


def shell(code: str, env: dict, timeout: float = 300) -> dict:
    """Run Python in ``smmpanel shell -c``; the code prints one ``BENCH_JSON {...}`` line."""
    p = run(SMMPANEL + ["shell", "-c", code], env, timeout=timeout)
    for line in p.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :])
    raise BenchError(f"no result from smmpanel shell:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int, part: str = "all") -> float:
    """CPU seconds used so far by one process: user + system, or only "sys"."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0.0
    return (stime if part == "sys" else utime + stime) / CLK_TCK


def postgres_backends(dbname: str | None) -> dict[int, float]:
    """CPU seconds used so far by each local PostgreSQL backend serving `dbname`, by pid ({} without one).

    Backends show their database in their process title ("postgres: 15/main: user DB host(port) …"),
    so other people's databases on the same server are left out; shared background processes
    (WAL writer, checkpointer) are left out too.
    """
    found: dict[int, float] = {}
    if not dbname:
        return found
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if d.joinpath("comm").read_text().strip() != "postgres":
                    continue
                if f" {dbname} " in d.joinpath("cmdline").read_bytes().decode(errors="replace").replace("\0", " "):
                    found[int(d.name)] = proc_cpu(int(d.name))
            except OSError:
                pass
    return found


class PostgresCpu:
    """CPU seconds the backends of one database use during a run, those that exit during it included.

    The panel's pooled connections are replaced every minute (smmpanel.settings,
    PREPARED_CONNECTION_SECONDS), and a backend that exits takes its CPU count
    with it: so the backends are read every SAMPLE seconds, and one that is
    gone counts with its last reading (at most SAMPLE seconds of its work are
    missed). ``with PostgresCpu(db) as meter: …``, then ``meter.seconds``.
    """

    SAMPLE = 0.25

    def __init__(self, dbname: str | None):
        self.dbname = dbname
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _read(self) -> None:
        for pid, seconds in postgres_backends(self.dbname).items():
            self.last[pid] = max(seconds, self.last.get(pid, 0.0))

    def _watch(self) -> None:
        while not self._stop.wait(self.SAMPLE):
            self._read()

    def __enter__(self) -> PostgresCpu:
        self.first = postgres_backends(self.dbname)
        self.last = dict(self.first)
        if self.dbname:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._read()

    @property
    def seconds(self) -> float:
        return sum(last - self.first.get(pid, 0.0) for pid, last in self.last.items())


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far, from /proc/stat."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)


def cpu_busy(interval: float = 1.0) -> float:
    """Share (0..1) of the machine's CPU time that was busy over `interval` seconds (/proc/stat)."""
    b0, t0 = machine_cpu()
    time.sleep(interval)
    b1, t1 = machine_cpu()
    return (b1 - b0) / max(t1 - t0, 1)


def wait_quiet(limit: float) -> float:
    """Before a measured run: the machine's busy share now; with `limit` > 0, first wait up to that
    many seconds for it to drop under 15 % (other people's jobs on a shared machine skew figures)."""
    deadline = time.monotonic() + limit
    busy = cpu_busy()
    while busy > 0.15 and time.monotonic() < deadline:
        busy = cpu_busy()
    if busy > 0.15:
        log(f"machine already {busy:.0%} busy before this run: figures will be low")
    return busy


class Server:
    """A server process group we started; stopped with SIGTERM, then SIGKILL, by its own ids."""

    def __init__(self, name: str, cmd: list[str], env: dict, port: int, logdir: Path):
        self.name, self.port = name, port
        self.logfile = logdir / f"{name}.log"
        self._log = open(self.logfile, "w")  # noqa: SIM115 -- open for the server's lifetime, closed in stop()
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=CODE, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v2"

    def gunicorn_master(self) -> int:
        """The gunicorn master's pid (for py-spy): ourselves, or our child under ``smmpanel serve``."""
        cmdline = Path(f"/proc/{self.proc.pid}/cmdline").read_bytes()
        if b"gunicorn" in cmdline:
            return self.proc.pid
        for pid in children(self.proc.pid):
            if b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        raise BenchError(f"{self.name}: no gunicorn process found")

    def python_pids(self) -> list[int]:
        master = self.gunicorn_master()
        return [master] + children(master)

    def cpu(self) -> float:
        """CPU seconds used so far by the gunicorn master and its workers."""
        return sum(proc_cpu(pid) for pid in self.python_pids())

    def wait_ready(self, key: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.name} exited ({self.proc.returncode}); see {self.logfile}:\n"
                    + self.logfile.read_text()[-3000:]
                )
            try:
                if "balance" in post(self.url, {"key": key, "action": "balance"}, timeout=5):
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.3)
        raise BenchError(f"{self.name} not ready after {timeout:.0f} s; see {self.logfile}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever is left of the group we started (gunicorn master and workers)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(timeout=10)
        self._log.close()


def post(url: str, fields: dict, timeout: float = 10):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


# --- the panel under test ---------------------------------------------------------


def base_env(data_dir: Path, database_url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DEBUG", "SECRET_KEY")}
    env.update(
        SMMPANEL_DATA_DIR=str(data_dir),
        SECRET_KEY="bench-only-not-secret",
        DEBUG="0",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="smmpanel.settings",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def pg_admin(sql: str, server_url: str, data_dir: Path) -> None:
    """Run one statement on the server's ``postgres`` database (autocommit, via Django's connection)."""
    env = base_env(data_dir, server_url.rstrip("/") + "/postgres")
    code = (
        "import json\nfrom django.db import connection\n"
        f"with connection.cursor() as c: c.execute({sql!r})\n"
        "print('BENCH_JSON', json.dumps({'ok': True}))"
    )
    shell(code, env, timeout=60)


CREATE_USER_FALLBACK = """
import json
from decimal import Decimal
from django.contrib.auth import get_user_model
from smmpanel.accounts.models import Account
from smmpanel.ledger.services import deposit
user = get_user_model().objects.create_user(%(user)r)
account, _ = Account.objects.get_or_create(user=user)
key = account.regenerate_api_key()
deposit(account, Decimal(%(initial)r), memo="bench opening balance")
print("BENCH_JSON", json.dumps({"key": key}))
"""

CREATE_SERVICE = f"""
import json
from decimal import Decimal
from smmpanel.catalog.models import Category, Service
cat = Category.objects.create(name="Bench")
s = Service.objects.create(name="Bench followers", category=cat, type="Default", rate=Decimal("{RATE}"),
                           min=10, max=1000000, active=True, fulfilment="manual")
print("BENCH_JSON", json.dumps({{"service": s.pk}}))
"""

COUNT_ORDERS = """
import json
from smmpanel.orders.models import Order
print("BENCH_JSON", json.dumps({"orders": Order.objects.filter(account__user__username=%(user)r).count()}))
"""

# The panel prepares its hot reads on PostgreSQL, and a prepared plan is sized
# for the tables when it was made (smmpanel.settings, _postgres_prepared): made
# at 100 orders, the `status` plan scans the table whole. Autovacuum's ANALYZE
# makes PostgreSQL plan again as a table grows; where autovacuum is off (as on
# the machines these figures come from), the script runs ANALYZE itself after
# placing orders, so that the figures are those of a server that has it on.
ANALYZE_AS_AUTOVACUUM = """
import json
from django.db import connection
with connection.cursor() as c:
    c.execute("SHOW autovacuum")
    off = c.fetchone()[0] == "off"
    if off:
        c.execute("ANALYZE")
print("BENCH_JSON", json.dumps({"analyzed": off}))
"""

LEDGER_CHECK = """
import json
from decimal import Decimal
from smmpanel.accounts.models import Account
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Order
initial = Decimal(%(initial)r)
account = Account.objects.get(user__username=%(user)r)
rows = list(LedgerEntry.objects.filter(account=account).values_list("kind", "amount", "order_id"))
orders = dict(Order.objects.filter(account=account).values_list("id", "charge"))
refunded = sum(Order.objects.filter(account=account).values_list("refunded", flat=True), Decimal(0))
charge_rows = collections.Counter()
charge_amount = {}
for kind, amount, order_id in rows:
    if kind == "charge":
        charge_rows[order_id] += 1
        charge_amount[order_id] = amount
deposits = sum((a for k, a, _ in rows if k == "deposit"), Decimal(0))
ledger_sum = sum((a for _, a, _ in rows), Decimal(0))
charges = sum(orders.values(), Decimal(0))
bad_rows = [o for o, c in orders.items() if charge_rows[o] != 1 or charge_amount.get(o) != -c]
stray = [o for o in charge_rows if o not in orders]
out = {
    "balance": str(account.balance), "ledger_sum": str(ledger_sum), "deposits": str(deposits),
    "expected": str(initial - charges + refunded), "charges": str(charges), "orders": len(orders),
    "ledger_rows": len(rows), "orders_bad_charge_row": len(bad_rows) + len(stray),
}
out["exact"] = (account.balance == ledger_sum == initial - charges + refunded and deposits == initial
                and not bad_rows and not stray)
print("BENCH_JSON", json.dumps(out))
""".replace("import json\n", "import json, collections\n", 1)


def create_customer(env: dict, user: str = PANEL_USER) -> str:
    p = run(SMMPANEL + ["user", "create", user, "--balance", INITIAL_BALANCE], env, check=False)
    lines = [ln.strip() for ln in p.stdout.splitlines() if ln.strip()]
    if p.returncode == 0 and lines and re.fullmatch(r"[A-Za-z0-9]{20,200}", lines[-1]):
        log(f"customer {user} created with `smmpanel user create`")
        return lines[-1]
    log(
        f"`smmpanel user create` not usable (exit {p.returncode}: {p.stderr.strip().splitlines()[-1:]}); "
        "creating the customer through the models"
    )
    return shell(CREATE_USER_FALLBACK % {"initial": INITIAL_BALANCE, "user": user}, env)["key"]


# --- wrk ----------------------------------------------------------------------------


def run_wrk(server: Server, script_args: list[str], args, duration: float) -> dict:
    """One wrk run against ``server``; adds req/s, error totals and CPU seconds per request.

    cpu_app_ms / cpu_db_ms / cpu_wrk_ms: CPU time per request of the gunicorn
    processes, of PostgreSQL (0 on SQLite: it runs inside the workers) and of wrk.
    """
    url = server.url
    pids = server.python_pids()
    m0 = machine_cpu()
    per_pid0 = {pid: proc_cpu(pid) for pid in pids}
    sys0 = sum(proc_cpu(pid, "sys") for pid in pids)
    wrk0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [
        "wrk",
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA),
        url,
        "--",
    ] + script_args
    with PostgresCpu(args.dbname) as db_meter:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    wrk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    per_pid = {pid: proc_cpu(pid) - per_pid0[pid] for pid in pids}
    app = sum(per_pid.values())
    app_sys = sum(proc_cpu(pid, "sys") for pid in pids) - sys0
    db = db_meter.seconds
    wrk = (wrk1.ru_utime + wrk1.ru_stime) - (wrk0.ru_utime + wrk0.ru_stime)
    m1 = machine_cpu()
    # What the rest of the machine used meanwhile (other people's jobs, PostgreSQL's shared
    # background processes), as a share of all CPU time: the run's figures are low by about that.
    other = max(0.0, (m1[0] - m0[0]) / CLK_TCK - app - db - wrk) / max((m1[1] - m0[1]) / CLK_TCK, 1e-9)
    for line in p.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            r = json.loads(line[len("BENCH_RESULT ") :])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
            r["socket_errors"] = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
            r["errors"] = r["api_errors"] + r["non200"] + r["socket_errors"]
            n = max(r["requests"], 1)
            r["cpu_app_ms"], r["cpu_db_ms"], r["cpu_wrk_ms"] = (1000 * app / n, 1000 * db / n, 1000 * wrk / n)
            r["cpu_app_sys_ms"] = 1000 * app_sys / n  # the kernel's part of cpu_app_ms
            r["other_busy"] = other
            # How the work split between the gunicorn workers (the master left out). wrk's keep-alive
            # connections stay with the worker that accepted them, so an uneven split (say 24/8)
            # leaves one worker's GIL the bottleneck while the other idles: a source of variance.
            r["worker_cpu_share"] = [round(per_pid[pid] / app, 3) if app else 0.0 for pid in pids[1:]]
            return r
    raise BenchError(f"wrk gave no result (exit {p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")


class Profiler:
    """py-spy recording every gunicorn worker of a server for one measured run (collapsed stacks).

    ``--gil``: only threads holding the GIL are sampled, i.e. where Python
    spends CPU; without it, 16 threads waiting for the GIL or for the
    database swamp the picture.
    """

    def __init__(self, server: Server, out: Path, duration: float):
        self.out = out
        cmd = [
            "py-spy",
            "record",
            "--pid",
            str(server.gunicorn_master()),
            "--subprocesses",
            "--nonblocking",
            "--gil",
            "--rate",
            "250",
            "--format",
            "raw",
            "--duration",
            str(int(duration + 1)),
            "--output",
            str(out),
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)

    def finish(self) -> None:
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def summarize_profile(path: Path, top: int = 25) -> str:
    """Top frames by inclusive and by self share of the samples in a py-spy ``--format raw`` file."""
    if not path.exists():
        return f"(no profile at {path})"
    inclusive: collections.Counter = collections.Counter()
    self_: collections.Counter = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [re.sub(r"^process \d+:|^thread \([^)]*\)", "", f).strip() for f in stack.split(";")]
        frames = [re.sub(r":\d+\)$", ")", f) for f in frames if f and not f.startswith('"')]
        total += n
        for f in set(frames):
            inclusive[f] += n
        if frames:
            self_[frames[-1]] += n
    if not total:
        return "(empty profile)"

    def short(frame: str) -> str:
        frame = re.sub(r"\S*/site-packages/", "", frame)
        return re.sub(r"\S*/main/", "", frame)

    lines = [f"{total} samples of threads holding the GIL (Python on CPU)", "  inclusive:"]
    lines += [f"    {100 * n / total:5.1f}%  {short(f)}" for f, n in inclusive.most_common(top)]
    lines += ["  self:"]
    lines += [f"    {100 * n / total:5.1f}%  {short(f)}" for f, n in self_.most_common(top)]
    return "\n".join(lines)


# --- one database -----------------------------------------------------------------


def class_args(server_class: str, args, gunicorn: bool = False) -> list[str]:
    """The options of one gunicorn worker class, as `smmpanel serve` spells them (or gunicorn itself)."""
    if server_class == "gthread":
        return ["--threads", str(args.threads)]
    return ["--worker-connections" if gunicorn else "--connections", "1000"]


def gunicorn_line(module: str, server_class: str, port: int, args) -> list[str]:
    """A handler of bench/ (bare_wsgi, raw_wsgi) served by the gunicorn command line `smmpanel serve` runs."""
    return [
        PY,
        "-m",
        "gunicorn",
        f"{module}:application",
        "--pythonpath",
        str(BENCH_DIR),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        server_class,
        *class_args(server_class, args, gunicorn=True),
        "--graceful-timeout",
        "10",
        "--config",
        "python:smmpanel.gunicorn_conf",  # as `smmpanel serve` passes it
    ]


def bench_database(db: str, args, workdir: Path, server_class: str = "gevent") -> dict:
    data_dir = workdir / f"{db}-{server_class}"
    data_dir.mkdir()
    database_url = None
    pg_created = False
    if db == "postgres":
        database_url = f"{args.pg_url.rstrip('/')}/{args.pg_db}"
        log(f"postgres: creating database {args.pg_db}")
        pg_admin(f'DROP DATABASE IF EXISTS "{args.pg_db}" WITH (FORCE)', args.pg_url, data_dir)
        pg_admin(f'CREATE DATABASE "{args.pg_db}"', args.pg_url, data_dir)
        pg_created = True
    env = base_env(data_dir, database_url)
    args.dbname = args.pg_db if db == "postgres" else None
    result: dict = {"db": db, "server": server_class, "actions": {}, "bare": None, "ledger": None}
    servers: list[Server] = []
    try:
        log(f"{db}: migrate")
        run(SMMPANEL + ["migrate", "--noinput", "-v", "0"], env, timeout=300)
        key = create_customer(env)
        service = shell(CREATE_SERVICE, env)["service"]
        result["versions"] = shell(VERSIONS, env)

        port = free_port()
        server = Server(
            f"{db}-{server_class}-panel",
            SMMPANEL
            + [
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--worker-class",
                server_class,
                *class_args(server_class, args),
                "--no-worker",
            ],
            env,
            port,
            workdir,
        )
        servers.append(server)
        server.wait_ready(key)
        log(f"{db}: panel up on :{port}; placing {STATUS_ORDERS} orders for status")
        ids = []
        for i in range(STATUS_ORDERS):
            r = post(
                server.url,
                {
                    "key": key,
                    "action": "add",
                    "service": service,
                    "quantity": QUANTITY,
                    "link": f"https://example.com/seed/{i}",
                },
            )
            if "order" not in r:
                raise BenchError(f"seeding order {i} failed: {r}")
            ids.append(str(r["order"]))
        if db == "postgres" and shell(ANALYZE_AS_AUTOVACUUM, env)["analyzed"]:
            log("postgres: autovacuum is off here: ANALYZE after each batch of orders placed, as it would")

        bodies = {
            "services": {"key": key, "action": "services"},
            "balance": {"key": key, "action": "balance"},
            "status1": {"key": key, "action": "status", "order": ids[0]},
            "status100": {"key": key, "action": "status", "orders": ",".join(ids)},
        }
        run_no = iter(range(1, 1000))

        def script_args(action: str, add_key: str = key) -> list[str]:
            if action == "add":
                nonce = f"{os.getpid()}-{int(time.time())}-{next(run_no)}"
                return ["add", add_key, str(service), str(QUANTITY), nonce]
            return ["static", urllib.parse.urlencode(bodies[action])]

        def measure(srv: Server, action: str, label: str, warm: bool = True) -> dict:
            if warm and args.warmup > 0:
                run_wrk(srv, script_args(action), args, args.warmup)
            lopsided_runs = []
            for attempt in range(2):
                busy = wait_quiet(args.wait_quiet)
                prof = None
                if args.profile:
                    prof = Profiler(srv, args.profile / f"{db}-{label}.txt", args.duration)
                try:
                    r = run_wrk(srv, script_args(action), args, args.duration)
                finally:
                    if prof:
                        prof.finish()
                r["busy_before"] = busy
                log(
                    f"{db} {label:>10}: {r['rps']:8.0f} req/s  p50 {r['p50_us'] / 1000:6.1f} ms  "
                    f"p99 {r['p99_us'] / 1000:6.1f} ms  errors {r['errors']}  CPU/req app {r['cpu_app_ms']:.2f} ms "
                    f"(kernel {r['cpu_app_sys_ms']:.2f}) db {r['cpu_db_ms']:.2f} wrk {r['cpu_wrk_ms']:.2f}; "
                    f"others used {r['other_busy']:.0%} of the CPU meanwhile (busy before {busy:.0%}); "
                    f"split between workers {'/'.join(f'{x:.0%}' for x in r['worker_cpu_share'])}"
                )
                if not is_lopsided(r) or attempt == 1:
                    break
                # One worker got (nearly) all of wrk's connections: that measures one process,
                # not the server. Keep the figures (reported) and measure once more.
                log(f"{db} {label:>10}: one worker did most of the work; measuring again")
                lopsided_runs.append(r["rps"])
            r["lopsided_retried"] = lopsided_runs
            return r

        def measure_add(
            srv: Server = server, add_key: str = key, user: str = PANEL_USER, label: str = "add", warm: bool = True
        ) -> dict:
            if warm and args.warmup > 0:
                run_wrk(srv, script_args("add", add_key), args, args.warmup)
                time.sleep(1)
            before = shell(COUNT_ORDERS % {"user": user}, env)["orders"]
            busy = wait_quiet(args.wait_quiet)
            prof = Profiler(srv, args.profile / f"{db}-{label}.txt", args.duration) if args.profile else None
            try:
                r = run_wrk(srv, script_args("add", add_key), args, args.duration)
            finally:
                if prof:
                    prof.finish()
            r["busy_before"] = busy
            time.sleep(1.5)  # let requests still in flight when wrk stopped finish
            after = shell(COUNT_ORDERS % {"user": user}, env)["orders"]
            r["placed"] = after - before
            if db == "postgres":
                shell(ANALYZE_AS_AUTOVACUUM, env)
            # Orders answered within the measured time; `placed` also counts the
            # requests still in flight when wrk stopped (up to one per connection).
            r["orders_per_s"] = r["orders"] / (r["duration_us"] / 1e6)
            log(
                f"{db} {label:>10}: {r['rps']:8.0f} req/s  p50 {r['p50_us'] / 1000:6.1f} ms  "
                f"p99 {r['p99_us'] / 1000:6.1f} ms  errors {r['errors']}  placed {r['placed']} "
                f"(answers with an order id: {r['orders']})  CPU/req app {r['cpu_app_ms']:.2f} ms "
                f"db {r['cpu_db_ms']:.2f} wrk {r['cpu_wrk_ms']:.2f}; others used {r['other_busy']:.0%}"
            )
            return r

        bare = None
        if not args.no_bare:
            # Started now and left idle until its turn: its run then sits between `balance`
            # and `status (1 id)`, so that both ratios compare runs close together in time.
            port = free_port()
            bare = Server(
                f"{db}-{server_class}-bare", gunicorn_line("bare_wsgi", server_class, port, args), env, port, workdir
            )
            servers.append(bare)
            bare.wait_ready(key)
            log(f"{db}: bare handler up on :{port}")

        # The raw handler under both worker classes, started now and idle until their turns (each
        # right after the panel's run of the same action). Its adds are a second customer's.
        raw: dict[str, Server] = {}
        raw_key = None
        if not args.no_raw:
            if "add" in args.only:
                raw_key = create_customer(env, RAW_USER)
            for raw_class in RAW_CLASSES:
                port = free_port()
                srv = Server(
                    f"{db}-{server_class}-raw-{raw_class}",
                    gunicorn_line("raw_wsgi", raw_class, port, args),
                    env,
                    port,
                    workdir,
                )
                servers.append(srv)
                raw[raw_class] = srv
            for raw_class, srv in raw.items():
                srv.wait_ready(key)
                log(f"{db}: raw handler ({raw_class}) up on :{srv.port}")

        runs: dict[str, list] = collections.defaultdict(list)
        raw_runs: dict[tuple[str, str], list] = collections.defaultdict(list)
        for rep in range(args.repeat):
            if args.repeat > 1:
                log(f"{db}: round {rep + 1} of {args.repeat}")
            warm = rep == 0
            for action in ORDER:
                if action == "bare":
                    if bare:
                        runs["bare"].append(measure(bare, "balance", "bare", warm))
                    continue
                if action not in args.only:
                    continue
                if action == "add":
                    runs["add"].append(measure_add(warm=warm))
                else:
                    runs[action].append(measure(server, action, action, warm))
                # The raw handler's run of the same action right after, so a noisy moment hits both.
                for raw_class, srv in raw.items():
                    label = f"raw-{raw_class[:2]}-{action}"
                    if action == "add":
                        assert raw_key is not None
                        r = measure_add(srv, raw_key, RAW_USER, label, warm)
                    else:
                        r = measure(srv, action, label, warm)
                    raw_runs[(raw_class, action)].append(r)
        for action, rs in runs.items():
            if action == "bare":
                result["bare"] = median_run(rs)
            else:
                result["actions"][action] = median_run(rs)
        if raw:
            result["raw"] = {
                raw_class: {a: median_run(raw_runs[(raw_class, a)]) for a in ACTIONS if (raw_class, a) in raw_runs}
                for raw_class in raw
            }
        for srv in list(servers):
            srv.stop()
            servers.remove(srv)
        if "add" in args.only:
            result["ledger"] = shell(LEDGER_CHECK % {"initial": INITIAL_BALANCE, "user": PANEL_USER}, env)
            log(f"{db}: ledger {'exact' if result['ledger']['exact'] else 'NOT EXACT'}: {result['ledger']}")
            if raw_key:
                result["raw_ledger"] = shell(LEDGER_CHECK % {"initial": INITIAL_BALANCE, "user": RAW_USER}, env)
                exact = "exact" if result["raw_ledger"]["exact"] else "NOT EXACT"
                log(f"{db}: raw's ledger ({RAW_USER}) {exact}: {result['raw_ledger']}")
        # The table lists actions in their usual order, whatever order they ran in.
        result["actions"] = {a: result["actions"][a] for a in ACTIONS if a in result["actions"]}
    finally:
        for s in servers:
            s.stop()
        if pg_created and not args.keep:
            log(f"postgres: dropping database {args.pg_db}")
            try:
                pg_admin(f'DROP DATABASE IF EXISTS "{args.pg_db}" WITH (FORCE)', args.pg_url, data_dir)
            except (BenchError, subprocess.TimeoutExpired) as e:
                log(f"could not drop {args.pg_db}: {e}")
    return result


VERSIONS = """
import json, platform, django, gunicorn, gevent
from django.db import connection
with connection.cursor() as c:
    c.execute("select version()" if connection.vendor == "postgresql" else "select sqlite_version()")
    db = c.fetchone()[0]
print("BENCH_JSON", json.dumps({"python": platform.python_version(), "django": django.__version__,
                               "gunicorn": gunicorn.__version__, "gevent": gevent.__version__,
                               "db": db.split(" on ")[0]}))
"""


# --- report ---------------------------------------------------------------------------

LABELS = {
    "services": "services",
    "balance": "balance",
    "status1": "status (1 id)",
    "status100": "status (100 ids)",
    "add": "add",
}


def is_lopsided(r: dict) -> bool:
    """Did one gunicorn worker do most of this run's work (see run_wrk)?"""
    split = r.get("worker_cpu_share") or []
    return bool(split) and max(split) > LOPSIDED


def median_run(runs: list[dict]) -> dict:
    """Of repeated runs, the one with the median req/s (its latencies too), noting the others' req/s.

    Runs where one worker did most of the work are left out of the median when others exist.
    """
    balanced = [r for r in runs if not is_lopsided(r)] or runs
    ordered = sorted(balanced, key=lambda r: r["rps"])
    pick = dict(ordered[(len(ordered) - 1) // 2])
    pick["rps_all"] = [r["rps"] for r in runs]
    pick["worker_split_all"] = [r.get("worker_cpu_share", []) for r in runs]
    pick["lopsided_retried_all"] = [x for r in runs for x in r.get("lopsided_retried", [])]
    if "orders_per_s" in pick:
        pick["orders_per_s_all"] = [r["orders_per_s"] for r in runs]
        pick["placed_total"] = sum(r["placed"] for r in runs)
        pick["orders_total"] = sum(r["orders"] for r in runs)
        pick["api_errors_total"] = sum(r["api_errors"] for r in runs)
        pick["non200_total"] = sum(r["non200"] for r in runs)
    return pick


def machine_info() -> dict:
    def out(cmd: str) -> str:
        try:
            p = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10, check=False)
            return p.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"

    wrk_version = out("wrk -v 2>&1 | head -1").split(" [")[0]
    commit = out(f"git -C {ROOT} rev-parse --short HEAD")
    dirty = out(f"git -C {ROOT} status --porcelain -- smmpanel")
    if dirty:
        # Name the exact state of the uncommitted code: a digest of smmpanel/'s Python sources.
        digest = hashlib.sha256()
        for f in sorted((ROOT / "smmpanel").rglob("*.py")):
            digest.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
        dirty = f"{len(dirty.splitlines())} files, sources sha256 {digest.hexdigest()[:12]}"
    return {
        "nproc": out("nproc"),
        "cpu": out("lscpu | grep 'Model name' | sed 's/.*: *//'"),
        "mem": out("free -h | awk '/^Mem:/ {print $2}'"),
        "kernel": platform.release(),
        "wrk": wrk_version,
        "commit": commit + (f" + uncommitted changes in smmpanel/ ({dirty})" if dirty else ""),
        "load": out("cut -d' ' -f1-3 /proc/loadavg"),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def ms(us) -> str:
    return f"{us / 1000:.1f}"


def measure_of(action: str, r: dict) -> float:
    """What a run of `action` is compared by: orders answered per second for add, else req/s."""
    return r["orders_per_s"] if action == "add" else r["rps"]


def raw_best(result: dict, action: str) -> tuple[str, dict] | None:
    """(worker class, run) of the raw handler's better server for `action`, if it was measured."""
    found = [(c, acts[action]) for c, acts in (result.get("raw") or {}).items() if action in acts]
    return max(found, key=lambda item: measure_of(action, item[1])) if found else None


def vs_raw(result: dict, action: str, r: dict) -> str:
    best = raw_best(result, action)
    if best is None or not measure_of(action, best[1]):
        return ""
    share = measure_of(action, r) / measure_of(action, best[1])
    return f"{100 * share:.0f} % (CPU {100 * cpu_total(best[1]) / cpu_total(r):.0f} %)"


def run_row(label: str, action: str, r: dict, vs_bare: str, raw_share: str) -> list[str]:
    errors = str(r["errors"])
    if r["errors"]:
        errors += f" (api {r['api_errors']}, http {r['non200']}, socket {r['socket_errors']})"
    rps = f"{r['rps']:.0f}" + ("*" if is_lopsided(r) else "") + spread(r)
    if action == "add":
        rps += f"; {r['orders_per_s']:.0f} orders/s"
    return [label, rps, ms(r["p50_us"]), ms(r["p99_us"]), errors, vs_bare, raw_share, cpu(r), f"{r['other_busy']:.0%}"]


def rows_for(result: dict) -> list[list[str]]:
    bare = result["bare"]
    rows = []
    for action, r in result["actions"].items():
        ratio = ""
        if bare and action in ("balance", "status1") and bare["rps"]:
            ratio = f"{100 * r['rps'] / bare['rps']:.0f} % (CPU {100 * cpu_total(bare) / cpu_total(r):.0f} %)"
        rows.append(run_row(LABELS[action], action, r, ratio, vs_raw(result, action, r)))
    if bare:
        rows.append(run_row("bare WSGI, same read", "balance", bare, "100 %", ""))
    for action in ACTIONS:
        best = raw_best(result, action)
        for raw_class, acts in (result.get("raw") or {}).items():
            if action in acts:
                r = acts[action]
                mark = " (best)" if best and best[0] == raw_class and len(result["raw"]) > 1 else ""
                share = f"{100 * measure_of(action, r) / max(measure_of(action, best[1]), 1e-9):.0f} %{mark}"
                rows.append(run_row(f"raw {raw_class}: {LABELS[action]}", action, r, "", share if best else ""))
    return rows


def spread(r: dict) -> str:
    rs = r.get("rps_all", [])
    return f" ({min(rs):.0f}–{max(rs):.0f})" if len(rs) > 1 else ""


def cpu_total(r: dict) -> float:
    return r["cpu_app_ms"] + r["cpu_db_ms"] + r["cpu_wrk_ms"]


def cpu(r: dict) -> str:
    return f"{r['cpu_app_ms']:.2f} / {r['cpu_db_ms']:.2f} / {r['cpu_wrk_ms']:.2f}"


def targets(result: dict) -> list[tuple[str, bool | None, str]]:
    out = []
    bare, acts = result["bare"], result["actions"]
    for action in ("balance", "status1"):
        if action in acts and bare and bare["rps"]:
            ratio = acts[action]["rps"] / bare["rps"]
            out.append((f"{LABELS[action]} ≥ {TARGET_RATIO:.0%} of bare", ratio >= TARGET_RATIO, f"{ratio:.0%}"))
    if "add" in acts:
        a, ledger = acts["add"], result["ledger"] or {}
        out.append((f"add ≥ {TARGET_ADD:.0f} orders/s", a["orders_per_s"] >= TARGET_ADD, f"{a['orders_per_s']:.0f}/s"))
        api_errors, non200 = a.get("api_errors_total", a["api_errors"]), a.get("non200_total", a["non200"])
        exact = bool(ledger.get("exact")) and api_errors == 0 and non200 == 0
        detail = (
            f"balance {ledger.get('balance')} = ledger {ledger.get('ledger_sum')} = initial − charges "
            f"{ledger.get('expected')}; {ledger.get('orders')} orders, "
            f"{ledger.get('orders_bad_charge_row')} without exactly one matching charge row; "
            f"placed {a.get('placed_total', a['placed'])} vs {a.get('orders_total', a['orders'])} "
            f"order answers (the difference: requests in flight when wrk stopped), "
            f"{api_errors} error answers, {non200} non-200"
        )
        out.append(("ledger exact after add", exact, detail))
    for action, target in RAW_TARGETS.items():
        best = raw_best(result, action)
        if action in acts and best and measure_of(action, best[1]):
            share = measure_of(action, acts[action]) / measure_of(action, best[1])
            unit = " (orders/s)" if action == "add" else ""
            out.append(
                (
                    f"{LABELS[action]} ≥ {target:.0%} of raw{unit}",
                    share >= target,
                    f"{share:.0%} (raw {best[0]}: {measure_of(action, best[1]):.0f}/s)",
                )
            )
    raw_add = [(c, acts["add"]) for c, acts in (result.get("raw") or {}).items() if "add" in acts]
    if raw_add:
        ledger = result.get("raw_ledger") or {}
        errors = sum(
            r.get("api_errors_total", r["api_errors"]) + r.get("non200_total", r["non200"]) for _, r in raw_add
        )
        detail = (
            f"{RAW_USER}: balance {ledger.get('balance')} = ledger {ledger.get('ledger_sum')} = initial − charges "
            f"{ledger.get('expected')}; {ledger.get('orders')} orders, "
            f"{ledger.get('orders_bad_charge_row')} without exactly one matching charge row; {errors} error answers"
        )
        out.append(("raw's ledger exact after its add", bool(ledger.get("exact")) and errors == 0, detail))
    return out


HEAD = [
    "action",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "vs bare",
    "vs raw",
    "CPU ms/req: app / db / wrk",
    "others' CPU",
]


def table_text(rows: list[list[str]]) -> str:
    head = HEAD
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))

    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def table_md(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEAD) + " |", "|---" + "|---:" * (len(HEAD) - 1) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


# Reach both servers unchanged (as every variable does) and are shown in the report.
PASSED_ENV = (
    "GUNICORN_CMD_ARGS",
    "PGOPTIONS",
    "SQLITE_SYNCHRONOUS",
    "DATABASE_POOL_SIZE",
    "API_RATE_LIMIT",
    "REDIS_URL",
)


def settings_line(args) -> str:
    extra = "".join(f"; {k}={os.environ[k]!r}" for k in PASSED_ENV if os.environ.get(k))
    rounds = f"; median of {args.repeat} interleaved runs" if args.repeat > 1 else ""
    classes = " and ".join(
        f"{c} --workers {args.workers} "
        + (f"--threads {args.threads}" if c == "gthread" else "--worker-connections 1000")
        for c in getattr(args, "worker_classes", ["gthread"])
    )
    raw = ""
    if not getattr(args, "no_raw", True):
        raw = f"; raw handler: gunicorn {' and '.join(RAW_CLASSES)}, the same options"
    return (
        f"gunicorn {classes}{raw}; "
        f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration:g}s "
        f"(warm-up {args.warmup:g}s per action){rounds}{extra}"
    )


def all_runs(res: dict) -> list[dict]:
    """Every measured run of one database and server: the panel's, bare's, raw's."""
    raw = [r for acts in (res.get("raw") or {}).values() for r in acts.values()]
    return [r for r in list(res["actions"].values()) + [res["bare"]] + raw if r]


def lopsided(results: list[dict]) -> str:
    """How many runs had one gunicorn worker doing most of the work (see run_wrk)."""
    runs = bad = 0
    for res in results:
        for r in all_runs(res):
            for split in (r or {}).get("worker_split_all", []):
                if split:
                    runs += 1
                    bad += max(split) > LOPSIDED
            retried = len((r or {}).get("lopsided_retried_all", []))
            runs += retried
            bad += retried
    return f"{bad} of {runs}" if runs else "?"


def others_range(results: list[dict]) -> str:
    seen = [r["other_busy"] for res in results for r in all_runs(res)]
    return f"{min(seen):.0%}–{max(seen):.0%}" if seen else "?"


def report_text(results: list[dict], info: dict, args) -> str:
    out = [
        (
            f"smmpanel API v2 benchmark — {info['date']}, {info['nproc']} cores ({info['cpu']}), "
            f"commit {info['commit']}, load before {info['load']}"
        ),
        settings_line(args) + "; wrk runs on the same cores as the server",
        f"CPU used by other processes during the measured runs: {others_range(results)} of the machine",
        (
            f"runs where one gunicorn worker did > {LOPSIDED:.0%} of the work (its keep-alive connections "
            f"landed mostly on it): {lopsided(results)}"
        ),
    ]
    for res in results:
        v = res.get("versions", {})
        out += [
            "",
            (
                f"== {res['db']}, {res.get('server', 'gthread')}  ({v.get('db', '?')}; Python {v.get('python')}, "
                f"Django {v.get('django')}, gunicorn {v.get('gunicorn')})"
            ),
            table_text(rows_for(res)),
        ]
        if any("*" in row[1] for row in rows_for(res)):
            out.append(f"  * one gunicorn worker did > {LOPSIDED:.0%} of that run's work")
        for name, ok, detail in targets(res):
            out.append(f"  [{'met' if ok else 'NOT met'}] {name}: {detail}")
    return "\n".join(out)


def report_md(results: list[dict], info: dict, args) -> str:
    command = info.get("command") or f"bench/api.py {' '.join(sys.argv[1:])}"
    out = [
        MARK_START,
        "",
        f"Run {info['date']} by `{command}` at commit {info['commit']}.",
        "",
        (
            f"- Machine: {info['nproc']} cores, {info['cpu']}, {info['mem']} RAM, Linux {info['kernel']}; "
            f"load average before the run {info['load']}"
        ),
        f"- Settings: {settings_line(args)}; {info['wrk']}, on the same cores as the server",
        (
            f"- CPU used by other processes during the measured runs: {others_range(results)} of the "
            "machine (column *others' CPU*; a run's figures are low by roughly that share)"
        ),
        (
            f"- Runs where one gunicorn worker did > {LOPSIDED:.0%} of the work because wrk's "
            f"keep-alive connections landed mostly on it: {lopsided(results)} (see *Variance* below)"
        ),
    ]
    for res in results:
        v = res.get("versions", {})
        out += [
            "",
            f"### {res['db']}, {res.get('server', 'gthread')}",
            "",
            (f"{v.get('db', '?')}; Python {v.get('python')}, Django {v.get('django')}, gunicorn {v.get('gunicorn')}"),
            "",
            table_md(rows_for(res)),
            "",
        ]
        if any("*" in row[1] for row in rows_for(res)):
            out += [f"\\* one gunicorn worker did > {LOPSIDED:.0%} of that run's work", ""]
        for name, ok, detail in targets(res):
            out.append(f"- **{'met' if ok else 'not met'}** — {name}: {detail}")
    out += ["", MARK_END]
    return "\n".join(out)


def replace_marked(block: str, start: str, end: str, heading: str = "") -> None:
    """Put `block` (which carries its own start and end marks) where those marks stand in
    docs/benchmarks.md, or append it (under `heading`) the first time. Shared by the benchmarks."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n## Results\n\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + (f"## {heading}\n\n" if heading else "") + block + "\n"
    DOC.write_text(text)
    log(f"results written to {DOC.relative_to(ROOT)}")


def write_markdown(block: str) -> None:
    replace_marked(block, MARK_START, MARK_END)


# --- main -------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("-d", "--duration", type=int, default=10, help="seconds of load per action (default 10)")
    p.add_argument("-c", "--connections", type=int, default=32, help="wrk connections (default 32)")
    p.add_argument("-t", "--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument(
        "--warmup",
        type=int,
        default=2,
        help="seconds of unmeasured load before each action's first run (default 2; 0: none)",
    )
    p.add_argument("--quick", action="store_true", help="3 s runs, 1 s warm-up")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="measure every action N times, interleaved, and report the median run "
        "(req/s range in brackets); 3 is advisable on a shared machine",
    )
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers, for the panel and bare (default 2)")
    p.add_argument("--threads", type=int, default=8, help="gthread: threads per gunicorn worker (default 8)")
    p.add_argument(
        "--worker-class",
        default="gevent",
        help="gunicorn worker class(es) for the panel and bare, comma-separated: gevent (what "
        "`smmpanel serve` runs), gthread, or both side by side (default gevent)",
    )
    p.add_argument("--only", default=",".join(ACTIONS), help=f"actions to run, comma-separated ({','.join(ACTIONS)})")
    p.add_argument("--no-bare", action="store_true", help="skip the bare WSGI handler")
    p.add_argument(
        "--no-raw", action="store_true", help="skip the raw WSGI handler (bench/raw_wsgi.py, no Django; both classes)"
    )
    p.add_argument(
        "--pg-url",
        default="postgres://postgres@127.0.0.1:5432",
        help="PostgreSQL server URL, without a database (default postgres://postgres@127.0.0.1:5432)",
    )
    p.add_argument(
        "--pg-db", default="smmpanel_bench", help="throwaway database to create and drop; its name must contain 'bench'"
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="S",
        help="before each measured run wait up to S seconds for the machine to be < 15%% busy "
        "(for shared machines; the busy share seen is reported either way)",
    )
    p.add_argument(
        "--in-place",
        action="store_true",
        help="run the servers from the working tree itself instead of a copy of smmpanel/ "
        "taken at start (edits made during the run then reach servers started later)",
    )
    p.add_argument("--keep", action="store_true", help="keep the data dirs and the PostgreSQL database")
    p.add_argument("--markdown", action="store_true", help=f"write the results into {DOC.relative_to(ROOT)}")
    p.add_argument("--json", type=Path, help="also write the raw results as JSON to this file")
    p.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="run nothing: print (with --markdown, write) the report of a run saved with --json",
    )
    p.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record each measured run (panel and bare) with py-spy --gil into DIR and print "
        "the top frames (figures are then perturbed: for where time goes, not for the table)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 3, 1
    args.only = [a.strip() for a in args.only.split(",") if a.strip()]
    args.worker_classes = [w.strip() for w in args.worker_class.split(",") if w.strip()]
    if not args.worker_classes or set(args.worker_classes) - {"gevent", "gthread"}:
        p.error("--worker-class: gevent, gthread or gevent,gthread")
    unknown = set(args.only) - set(ACTIONS)
    if unknown:
        p.error(f"unknown action(s): {', '.join(sorted(unknown))}")
    if "bench" not in args.pg_db or not re.fullmatch(r"[A-Za-z0-9_]+", args.pg_db):
        p.error("--pg-db must be a plain name containing 'bench' (it is dropped)")
    if not re.match(r"postgres(ql)?://[^/]*@?(127\.0\.0\.1|localhost)(:\d+)?/?$", args.pg_url):
        p.error("--pg-url must point at 127.0.0.1 or localhost")
    if not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60 or not 1 <= args.repeat <= 20:
        p.error("--duration must be 1..600 s, --warmup 0..60 s, --repeat 1..20")
    return args


def render_saved(args) -> int:
    """--from-json: print (and with --markdown write) the report of a run saved with --json."""
    saved = json.loads(args.from_json.read_text())
    for k, v in saved.get("args", {}).items():
        if k in (
            "workers",
            "threads",
            "wrk_threads",
            "connections",
            "duration",
            "warmup",
            "repeat",
            "worker_classes",
            "no_raw",
        ):
            setattr(args, k, v)
    args.no_raw = not any(res.get("raw") for res in saved["results"])
    print(report_text(saved["results"], saved["info"], args))
    if args.markdown:
        write_markdown(report_md(saved["results"], saved["info"], args))
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.from_json:
        return render_saved(args)
    if shutil.which("wrk") is None:
        print(
            "bench/api.py needs wrk, which is not installed.\n"
            "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk\n"
            "  macOS:         brew install wrk",
            file=sys.stderr,
        )
        return 2
    if args.profile and shutil.which("py-spy") is None:
        print(
            "--profile needs py-spy on PATH (e.g. `.venv/bin/pip install py-spy`, and run with .venv/bin on PATH).",
            file=sys.stderr,
        )
        return 2
    try:
        import django  # noqa: F401
        import gunicorn  # noqa: F401
    except ImportError:
        print(
            f"{PY} cannot import django/gunicorn: run this with the project's virtualenv, "
            "e.g. .venv/bin/python bench/api.py",
            file=sys.stderr,
        )
        return 2
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    refused = [name for name in ("API_RATE_LIMIT", "SIGNUP_EMAIL_VERIFICATION") if os.environ.get(name, "").strip()]
    if refused and not args.no_raw:
        # Rules with a cost on every call that bench/raw_wsgi.py does not apply: no like-for-like comparison.
        log(f"{' and '.join(refused)} set: the raw handler does not apply it; measuring without raw")
        args.no_raw = True

    global CODE
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    workdir = Path(tempfile.mkdtemp(prefix="smmpanel-bench-"))
    log(f"work dir {workdir}")
    if not args.in_place:
        # Other people may edit smmpanel/ while this runs: measure one fixed copy of it.
        CODE = workdir / "code"
        shutil.copytree(ROOT / "smmpanel", CODE / "smmpanel", ignore=shutil.ignore_patterns("__pycache__"))
    info = machine_info()
    info["command"] = "bench/api.py " + " ".join(sys.argv[1:] if argv is None else argv)
    results = []
    try:
        for db in dbs:
            for server_class in args.worker_classes:
                results.append(bench_database(db, args, workdir, server_class))
    except BenchError as e:
        log(f"FAILED: {e}")
        return 1
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print(report_text(results, info, args))
    if args.profile:
        for f in sorted(args.profile.glob("*.txt")):
            print(f"\n== profile {f.name}\n{summarize_profile(f)}")
    if args.json:
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        args.json.write_text(json.dumps({"info": info, "args": settings, "results": results}, indent=2))
    if args.markdown:
        write_markdown(report_md(results, info, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
