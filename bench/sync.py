"""Benchmark how fast `smmpanel worker` keeps provider orders in sync: orders checked per second.

What one run does, all on 127.0.0.1 and the local PostgreSQL server:
  1. panel A, the provider: a real smmpanel served the way ``smmpanel serve
     --no-worker`` serves it (gunicorn, gevent workers) on its own throwaway
     database, holding N (default 100,000) In progress orders of a simulated
     service for its customer "reseller". They are seeded in bulk: one order
     made through the models, then copied N−1 times by one INSERT … SELECT
     (not through the API, and not through the ledger: the database is thrown
     away). A's own worker does not run, so statuses stay put;
  2. panel B, the reseller, on a second throwaway database: a Provider
     pointing at A (the reseller's key, limits set high), a provider service
     and N In progress orders, each with an UpstreamOrder (placed, upstream_id
     = A's order id) whose last seen status, remains, start count and charge
     are what A answers: the steady state, where a check finds nothing changed
     and writes nothing but the order's next due time. All are due now;
  3. the provider's own limit: wrk (bench/api.lua) POSTing ``status`` with 100
     of those ids to A; requests/s × 100 = orders/s A can answer at most;
  4. for 1, then 2 ``smmpanel worker`` processes on B, with
     PROVIDER_SYNC_SECONDS=3600 so that each order is checked once per run:
     after a warm-up, orders checked per second over a fixed window. An order
     counts as checked once its due_at moved past the seeded one (nothing is
     added to the engine for the benchmark). Also the CPU per order of the
     workers, of A, of each database's PostgreSQL backends and of other
     processes. Between runs the due times are reset;
  5. prints the figures, the ratio 2/1 and the targets (1 worker ≥ 1,000
     orders/s, 2 workers ≥ 1.6× one); ``--markdown`` writes them into
     docs/benchmarks.md between its ``bench:sync`` markers.

Everything shares the machine's cores: A, B's workers, PostgreSQL and wrk.
The processes run from a copy of smmpanel/ taken at start (``--in-place``:
the tree itself). ``--repeat N`` interleaves N rounds and reports the median
and the range. docs/benchmarks.md ("Provider sync") explains the figures.

Usage (from the repository root, with the project's virtualenv)::

    .venv/bin/python bench/sync.py                        # 100,000 orders, 20 s per run
    .venv/bin/python bench/sync.py --repeat 3 --markdown  # the figures in docs/benchmarks.md
    .venv/bin/python bench/sync.py --orders 20000 -d 10   # quicker
    .venv/bin/python bench/sync.py --profile /tmp/prof    # py-spy of the workers (CPU)

Needs wrk (``apt-get install -y wrk``) and a PostgreSQL server at
127.0.0.1:5432 that the user ``postgres`` may reach without a password;
``--profile`` needs py-spy. The helpers shared with bench/api.py (processes,
CPU accounting, the server wrapper, wrk) are imported from it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import api  # bench/api.py, next to this file (a script's directory is on sys.path)
from api import (
    PY,
    SMMPANEL,
    BenchError,
    PostgresCpu,
    Server,
    base_env,
    free_port,
    log,
    machine_cpu,
    machine_info,
    proc_cpu,
    run,
    run_wrk,
    shell,
    summarize_profile,
)

ROOT = api.ROOT
DOC = api.DOC
MARK_START = "<!-- bench:sync:start -->"
MARK_END = "<!-- bench:sync:end -->"
LINK = "https://example.com/bench/"
TARGET_ONE = 1000.0
TARGET_RATIO = 1.6
CLK_TCK = api.CLK_TCK

# Run inside `smmpanel shell`: copy one row of a model N times with a single INSERT … SELECT.
CLONE = '''
import json
from decimal import Decimal
from datetime import timedelta
from django.db import connection
from django.utils import timezone


def clone(template, source, overrides, params=(), where="", where_params=()):
    """Copy `template`'s row once per row of the SQL FROM item `source`; `overrides`: {field name: SQL}."""
    meta = type(template)._meta
    q = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    cols = ", ".join(q(f.column) for f in fields)
    exprs = ", ".join(overrides.get(f.name, "t." + q(f.column)) for f in fields)
    table = q(meta.db_table)
    sql = f"INSERT INTO {table} ({cols}) SELECT {exprs} FROM {table} t, {source} WHERE t.id = %s {where}"
    with connection.cursor() as c:
        c.execute(sql, [*params, template.pk, *where_params])
        return c.rowcount
'''

# Panel A (run after CLONE): a simulated service and N In progress orders of the reseller (A's worker never runs).
SEED_A = """
from smmpanel.accounts.models import Account
from smmpanel.catalog.models import Category, Service
from smmpanel.fulfilment.models import SimulatedService
from smmpanel.orders.models import Order

n, ids_file = {n}, {ids_file!r}
account = Account.objects.get(user__username="reseller")
category = Category.objects.create(name="Bench")
service = Service.objects.create(name="Bench followers", category=category, type="Default", rate=Decimal("1.00"),
                                 min=10, max=1000000, fulfilment="simulated")
SimulatedService.objects.create(service=service)
now = timezone.now()
first = Order.objects.create(account=account, service=service, type="Default", link={link!r} + "a1",
                             quantity=1000, total=1000, charge=Decimal("1.00"), status="In progress",
                             start_count=1234, remains=500, started_at=now)
clone(first, "generate_series(2, %s) AS s(g)", {{"link": "'{link}a' || s.g"}}, [n])
ids = list(Order.objects.filter(service=service).order_by("id").values_list("id", flat=True))
with open(ids_file, "w") as f:
    json.dump(ids, f)
with connection.cursor() as c:
    c.execute("ANALYZE")
print("BENCH_JSON", json.dumps({{"service": service.pk, "orders": len(ids)}}))
"""

# Panel B (after CLONE): the provider A, a service of it, and N orders placed there, in step with A's answers, all due.
SEED_B = """
from smmpanel.accounts.models import Account
from smmpanel.catalog.models import Category, Service
from smmpanel.orders.models import Order
from smmpanel.providers.models import Provider, ProviderService, UpstreamOrder

ids = json.load(open({ids_file!r}))
account = Account.objects.get(user__username="bench")
provider = Provider.objects.create(name="A", api_url={url!r}, api_key={key!r}, currency="USD",
                                   max_concurrent=100, requests_per_second=100000)
category = Category.objects.create(name="Bench")
service = Service.objects.create(name="Bench followers", category=category, type="Default", rate=Decimal("1.50"),
                                 min=10, max=1000000, fulfilment="provider")
ProviderService.objects.create(service=service, provider=provider, upstream_service={upstream_service!r},
                               upstream_name="Bench followers", upstream_type="Default",
                               upstream_rate=Decimal("1.00"), upstream_min=10, upstream_max=1000000)
now = timezone.now()
due = now - timedelta(hours=1)
first = Order.objects.create(account=account, service=service, type="Default", link={link!r} + str(ids[0]),
                             quantity=1000, total=1000, charge=Decimal("1.50"), status="In progress",
                             start_count=1234, remains=500, started_at=now, due_at=due)
clone(first, "unnest(%s::bigint[]) AS s(g)", {{"link": "'{link}' || s.g"}}, [ids[1:]])
placed = UpstreamOrder.objects.create(order=first, run=0, provider=provider, state="placed", submitted_at=now,
                                      quantity=1000, upstream_id=str(ids[0]), status="In progress", remains=500,
                                      start_count=1234, charge=Decimal("1.00"))
table = connection.ops.quote_name(Order._meta.db_table)
clone(placed, table + " o", {{"order": "o.id", "upstream_id": "substr(o.link, {start})"}},
      where="AND o.service_id = %s AND o.id <> %s", where_params=[service.pk, first.pk])
with connection.cursor() as c:
    c.execute("ANALYZE")
meta, up = Order._meta, UpstreamOrder._meta
print("BENCH_JSON", json.dumps({{
    "service": service.pk, "due": due.isoformat(), "orders": Order.objects.filter(service=service).count(),
    "placed": UpstreamOrder.objects.filter(provider=provider, state="placed").count(),
    "order_table": meta.db_table, "upstream_table": up.db_table,
    "columns": {{name: meta.get_field(name).column for name in
                ("service", "due_at", "locked_until", "claim_token", "attempts", "status")}},
    "checked_at": up.get_field("checked_at").column,
}}))
"""


# --- the databases -------------------------------------------------------------------------


def pg(url: str, sql: str, params=(), fetch: bool = False):
    """One statement on `url` in autocommit (VACUUM and CREATE DATABASE need it)."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if fetch else None


class Reseller:
    """Panel B's database as the benchmark sees it: how many orders were checked, and a reset."""

    def __init__(self, url: str, seeded: dict):
        self.url = url
        self.service = seeded["service"]
        self.due = seeded["due"]
        self.orders = seeded["orders"]
        self.table = seeded["order_table"]
        self.upstream_table = seeded["upstream_table"]
        self.col = seeded["columns"]
        self.checked_at = seeded["checked_at"]

    def checked(self) -> int:
        """Orders whose due time moved past the seeded one (released by a worker after its check)."""
        c = self.col
        rows = pg(
            self.url,
            f'SELECT count(*) FROM "{self.table}" WHERE "{c["service"]}" = %s AND "{c["due_at"]}" <= %s',
            [self.service, self.due],
            fetch=True,
        )
        return self.orders - rows[0][0]

    def written(self) -> dict:
        """What the checks changed besides due times (steady state: nothing)."""
        c = self.col
        upstream = pg(
            self.url, f'SELECT count(*) FROM "{self.upstream_table}" WHERE "{self.checked_at}" IS NOT NULL', fetch=True
        )[0][0]
        moved = pg(
            self.url,
            f'SELECT count(*) FROM "{self.table}" WHERE "{c["service"]}" = %s '
            f'AND ("{c["status"]}" <> %s OR "{c["attempts"]}" > 0)',
            [self.service, "In progress"],
            fetch=True,
        )[0][0]
        return {"upstream_rows_written": upstream, "orders_changed_or_failed": moved}

    def reset(self) -> None:
        c = self.col
        pg(
            self.url,
            f'UPDATE "{self.table}" SET "{c["due_at"]}" = %s, "{c["locked_until"]}" = NULL, '
            f'"{c["claim_token"]}" = NULL, "{c["attempts"]}" = 0 WHERE "{c["service"]}" = %s',
            [self.due, self.service],
        )
        pg(self.url, f'VACUUM ANALYZE "{self.table}"')


# --- workers ---------------------------------------------------------------------------------


class Workers:
    """`smmpanel worker` processes on B, each in its own process group, stopped by their own ids."""

    def __init__(self, count: int, env: dict, logdir: Path, label: str):
        self.procs = []
        self.logs = []
        for i in range(count):
            log_file = open(logdir / f"worker-{label}-{i}.log", "w")  # noqa: SIM115 -- closed in stop()
            self.logs.append(log_file)
            self.procs.append(
                subprocess.Popen(
                    SMMPANEL + ["worker"],
                    env=env,
                    cwd=api.CODE,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def cpu(self) -> float:
        return sum(proc_cpu(p.pid) for p in self.procs)

    def check_alive(self) -> None:
        for p, f in zip(self.procs, self.logs, strict=True):
            if p.poll() is not None:
                raise BenchError(f"a worker exited ({p.returncode}); see {f.name}:\n{Path(f.name).read_text()[-3000:]}")

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # it finishes its pass and leaves
        deadline = time.monotonic() + 30
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            p.wait(timeout=10)
        for f in self.logs:
            f.close()


def measure_workers(
    count: int, args, env: dict, reseller: Reseller, provider: Server, workdir: Path, label: str
) -> dict:
    """One run: `count` workers on freshly due orders; orders checked per second after the warm-up."""
    reseller.reset()
    busy = api.wait_quiet(args.wait_quiet)
    workers = Workers(count, env, workdir, label)
    profilers = []
    try:
        deadline = time.monotonic() + 120
        while reseller.checked() == 0:  # Django starting up
            workers.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"{label}: no order checked after 120 s; see the worker logs in {workdir}")
            time.sleep(0.2)
        time.sleep(args.warmup)
        if args.profile:
            for i, p in enumerate(workers.procs):
                out = args.profile / f"{label}-worker{i}.txt"
                profilers.append(
                    subprocess.Popen(
                        [
                            "py-spy",
                            "record",
                            "--pid",
                            str(p.pid),
                            "--gil",
                            "--rate",
                            "200",
                            "--format",
                            "raw",
                            "--nonblocking",
                            "--duration",
                            str(int(args.duration)),
                            "--output",
                            str(out),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        cpu0 = (workers.cpu(), provider.cpu(), machine_cpu())
        with PostgresCpu(args.db_a) as db_a, PostgresCpu(args.db_b) as db_b:
            t0, c0 = time.monotonic(), reseller.checked()
            samples = [(t0, c0)]
            while time.monotonic() - t0 < args.duration:
                time.sleep(min(2.0, max(0.05, args.duration - (time.monotonic() - t0))))
                samples.append((time.monotonic(), reseller.checked()))
                workers.check_alive()
                if samples[-1][1] >= reseller.orders:
                    break
        cpu1 = (workers.cpu(), provider.cpu(), machine_cpu())
    finally:
        workers.stop()
        for prof in profilers:
            try:
                prof.wait(timeout=args.duration + 30)
            except subprocess.TimeoutExpired:
                prof.terminate()
    # Near the end of the orders a worker finds fewer due rows per pass: leave that part out.
    usable = [s for s in samples if s[1] <= 0.95 * reseller.orders] or samples[:2]
    (ta, ca), (tb, cb) = usable[0], usable[-1]
    rate = (cb - ca) / max(tb - ta, 1e-9)
    checked = cb - ca
    worker_cpu, a_cpu = (cpu1[i] - cpu0[i] for i in range(2))
    dba, dbb = db_a.seconds, db_b.seconds
    busy_s = (cpu1[2][0] - cpu0[2][0]) / CLK_TCK
    total_s = (cpu1[2][1] - cpu0[2][1]) / CLK_TCK
    window = samples[-1][0] - t0
    n = max(samples[-1][1] - c0, 1)
    r = {
        "workers": count,
        "orders_per_s": rate,
        "checked_in_window": checked,
        "window_s": tb - ta,
        "exhausted": samples[-1][1] >= 0.95 * reseller.orders,
        # CPU per checked order, in ms, over the whole measured window.
        "cpu_worker_ms": 1000 * worker_cpu / n,
        "cpu_provider_ms": 1000 * a_cpu / n,
        "cpu_db_provider_ms": 1000 * dba / n,
        "cpu_db_reseller_ms": 1000 * dbb / n,
        "other_busy": max(0.0, busy_s - worker_cpu - a_cpu - dba - dbb) / max(total_s, 1e-9),
        "machine_busy": busy_s / max(total_s, 1e-9),
        "worker_cpu_share": worker_cpu / max(window, 1e-9),
        "busy_before": busy,
    }
    r.update(reseller.written())
    log(
        f"{label}: {rate:7.0f} orders/s checked ({checked} in {tb - ta:.1f} s)  CPU/order: workers "
        f"{r['cpu_worker_ms']:.3f} ms, A {r['cpu_provider_ms']:.3f}, db A {r['cpu_db_provider_ms']:.3f}, "
        f"db B {r['cpu_db_reseller_ms']:.3f}; others used {r['other_busy']:.0%} of the machine; "
        f"upstream rows written {r['upstream_rows_written']}, orders changed or failed "
        f"{r['orders_changed_or_failed']}" + ("; ORDERS RAN OUT before the window ended" if r["exhausted"] else "")
    )
    return r


def measure_limit(provider: Server, key: str, ids: list[int], args) -> dict:
    """The provider's own rate: wrk POSTing `status` with 100 ids (spread over A's orders) to A."""
    step = max(1, len(ids) // 100)
    body = f"key={key}&action=status&orders={','.join(str(i) for i in ids[::step][:100])}"
    wrk_args = SimpleNamespace(wrk_threads=2, connections=args.connections, dbname=args.db_a)
    run_wrk(provider, ["static", body], wrk_args, 2)  # warm-up
    r = run_wrk(provider, ["static", body], wrk_args, args.limit_duration)
    r["orders_per_s"] = r["rps"] * 100
    r["connections"] = args.connections
    log(
        f"provider limit: {r['rps']:.0f} status(100) req/s = {r['orders_per_s']:.0f} orders/s, p50 "
        f"{r['p50_us'] / 1000:.1f} ms, errors {r['errors']}; CPU/req A {r['cpu_app_ms']:.2f} ms, db "
        f"{r['cpu_db_ms']:.2f}, wrk {r['cpu_wrk_ms']:.2f}; others used {r['other_busy']:.0%}"
    )
    if r["errors"]:
        raise BenchError(f"the provider answered status with errors: {r}")
    return r


# --- one whole run ---------------------------------------------------------------------------


def bench(args, workdir: Path) -> dict:
    base = args.pg_url.rstrip("/")
    url_a, url_b = f"{base}/{args.db_a}", f"{base}/{args.db_b}"
    for db in (args.db_a, args.db_b):
        pg(f"{base}/postgres", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        pg(f"{base}/postgres", f'CREATE DATABASE "{db}"')
    data_a, data_b = workdir / "provider", workdir / "reseller"
    data_a.mkdir()
    data_b.mkdir()
    env_a, env_b = base_env(data_a, url_a), base_env(data_b, url_b)
    servers: list[Server] = []
    result: dict = {"runs": {1: [], 2: []}, "limit": []}
    try:
        log("migrating both databases")
        errors = []

        def migrate(env):
            try:
                run(SMMPANEL + ["migrate", "--noinput", "-v", "0"], env, timeout=600)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=migrate, args=(env,)) for env in (env_a, env_b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        key_a = run(SMMPANEL + ["user", "create", "reseller", "--balance", "1000"], env_a).stdout.split()[-1]
        run(SMMPANEL + ["user", "create", "bench", "--balance", "1000"], env_b)
        ids_file = workdir / "a-ids.json"
        log(f"seeding A with {args.orders} orders")
        t = time.monotonic()
        seeded_a = shell(CLONE + SEED_A.format(n=args.orders, ids_file=str(ids_file), link=LINK), env_a, timeout=900)
        log(f"A seeded in {time.monotonic() - t:.1f} s")
        port = free_port()
        provider = Server(
            "provider",
            SMMPANEL + ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
            env_a,
            port,
            workdir,
        )
        servers.append(provider)
        log(f"seeding B with {args.orders} orders placed at A")
        t = time.monotonic()
        seeded_b = shell(
            CLONE
            + SEED_B.format(
                ids_file=str(ids_file),
                url=provider.url,
                key=key_a,
                upstream_service=str(seeded_a["service"]),
                link=LINK,
                start=len(LINK) + 1,
            ),
            env_b,
            timeout=900,
        )
        log(f"B seeded in {time.monotonic() - t:.1f} s: {seeded_b['orders']} orders, {seeded_b['placed']} placed")
        if seeded_b["orders"] != args.orders or seeded_b["placed"] != args.orders:
            raise BenchError(f"seeding B went wrong: {seeded_b}")
        provider.wait_ready(key_a)
        reseller = Reseller(url_b, seeded_b)
        ids = json.loads(ids_file.read_text())
        result["versions"] = shell(api.VERSIONS, env_a)
        worker_env = dict(env_b, PROVIDER_SYNC_SECONDS="3600", WORKER_POLL_SECONDS="0.2")
        for rep in range(args.repeat):
            if args.repeat > 1:
                log(f"round {rep + 1} of {args.repeat}")
            result["limit"].append(measure_limit(provider, key_a, ids, args))
            for count in (1, 2):
                result["runs"][count].append(
                    measure_workers(count, args, worker_env, reseller, provider, workdir, f"r{rep + 1}-{count}w")
                )
    finally:
        for s in servers:
            s.stop()
        if not args.keep:
            for db in (args.db_a, args.db_b):
                try:
                    pg(f"{base}/postgres", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                except Exception as e:  # noqa: BLE001 - say so, go on
                    log(f"could not drop {db}: {e}")
    return result


# --- report ----------------------------------------------------------------------------------


def med(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def span(values: list[float], fmt: str = "{:.0f}") -> str:
    return f" ({fmt.format(min(values))}–{fmt.format(max(values))})" if len(values) > 1 else ""


def summary(result: dict) -> dict:
    one = [r["orders_per_s"] for r in result["runs"][1]]
    two = [r["orders_per_s"] for r in result["runs"][2]]
    ratios = [b / a for a, b in zip(one, two, strict=True) if a]
    limit = [r["orders_per_s"] for r in result["limit"]]
    return {
        "one": one,
        "two": two,
        "ratios": ratios,
        "limit": limit,
        "others": [r["other_busy"] for c in (1, 2) for r in result["runs"][c]],
    }


def cpu_cells(runs: list[dict]) -> str:
    keys = ("cpu_worker_ms", "cpu_provider_ms", "cpu_db_provider_ms", "cpu_db_reseller_ms")
    return " / ".join(f"{med([r[k] for r in runs]):.3f}" for k in keys)


def rows(result: dict) -> list[list[str]]:
    s = summary(result)
    out = []
    for count, values in ((1, s["one"]), (2, s["two"])):
        runs = result["runs"][count]
        ratio = f"{med(s['ratios']):.2f}×{span(s['ratios'], '{:.2f}')}" if count == 2 else ""
        others = [r["other_busy"] for r in runs]
        written = sum(r["upstream_rows_written"] + r["orders_changed_or_failed"] for r in runs)
        out.append(
            [
                f"{count} worker{'s' if count > 1 else ''}",
                f"{med(values):.0f}{span(values)}",
                ratio,
                f"{100 * med(values) / med(s['limit']):.0f} %" if s["limit"] else "",
                cpu_cells(runs),
                f"{med(others):.0%}",
                str(written),
            ]
        )
    lim = result["limit"]
    cpu = (
        f"wrk -c{lim[0]['connections']}: A {med([r['cpu_app_ms'] / 100 for r in lim]):.3f} / db A "
        f"{med([r['cpu_db_ms'] / 100 for r in lim]):.3f}"
    )
    out.append(
        [
            "provider limit: `status` ×100, wrk",
            f"{med(s['limit']):.0f}{span(s['limit'])}",
            "",
            "100 %",
            cpu,
            f"{med([r['other_busy'] for r in lim]):.0%}",
            "",
        ]
    )
    return out


HEADER = [
    "",
    "orders/s checked",
    "2 ÷ 1",
    "of the provider's limit",
    "CPU ms/order: workers / A / db A / db B",
    "others' CPU",
    "other writes",
]


def targets(result: dict) -> list[tuple[str, bool, str]]:
    s = summary(result)
    one, ratio = med(s["one"]), med(s["ratios"])
    return [
        ("one worker ≥ 1,000 orders/s checked", one >= TARGET_ONE, f"{one:.0f}/s{span(s['one'])}"),
        ("two workers ≥ 1.6× one", ratio >= TARGET_RATIO, f"{ratio:.2f}×{span(s['ratios'], '{:.2f}')}"),
    ]


def report_text(result: dict, info: dict, args) -> str:
    out = [
        (
            f"smmpanel provider sync benchmark — {info['date']}, {info['nproc']} cores ({info['cpu']}), "
            f"{info['mem']} RAM, commit {info['commit']}, load before {info['load']}"
        ),
        (
            f"{args.orders} orders; {args.duration:g} s per run after {args.warmup:g} s of warm-up; "
            f"{args.repeat} round(s), median (range); A, B's workers, PostgreSQL and wrk share the cores"
        ),
        "",
    ]
    width = [max(len(r[i]) for r in [HEADER] + rows(result)) for i in range(len(HEADER))]
    for r in [HEADER] + rows(result):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)))
    for name, ok, detail in targets(result):
        out.append(f"  [{'met' if ok else 'NOT met'}] {name}: {detail}")
    if any(r["exhausted"] for c in (1, 2) for r in result["runs"][c]):
        out.append("  (in some run the due orders ran out before the window ended: its rate is from the part before)")
    return "\n".join(out)


def report_md(result: dict, info: dict, args) -> str:
    v = result.get("versions", {})
    s = summary(result)
    out = [
        MARK_START,
        "",
        f"Run {info['date']} by `{info['command']}` at commit {info['commit']}.",
        "",
        (
            f"- Machine: {info['nproc']} cores, {info['cpu']}, {info['mem']} RAM, Linux {info['kernel']}; "
            f"load average before the run {info['load']}; shared with other developers' test runs "
            f"(*others' CPU*: {min(s['others']):.0%}–{max(s['others']):.0%} of the machine during the runs)"
        ),
        (
            f"- {args.orders:,} orders at A and at B; {args.duration:g} s per measured run after {args.warmup:g} s "
            f"of warm-up; {args.repeat} interleaved round(s): median (range); {v.get('db', '?')}, "
            f"Python {v.get('python')}, Django {v.get('django')}, gunicorn {v.get('gunicorn')} (gevent, 2 workers)"
        ),
        "",
        "| " + " | ".join(HEADER) + " |",
        "|---|" + "---:|" * (len(HEADER) - 1),
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows(result)]
    out.append("")
    for name, ok, detail in targets(result):
        out.append(f"- **{'met' if ok else 'not met'}** — {name}: {detail}")
    out += ["", MARK_END]
    return "\n".join(out)


def write_markdown(block: str) -> None:
    api.replace_marked(block, MARK_START, MARK_END, heading="Provider sync")


# --- main ------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--orders", type=int, default=100000, help="active orders at A and at B (default 100,000)")
    p.add_argument("-d", "--duration", type=float, default=20, help="seconds measured per run (default 20)")
    p.add_argument(
        "--warmup",
        type=float,
        default=5,
        help="seconds between the first checked order and the measured window (default 5)",
    )
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="rounds (limit, 1 worker, 2 workers)")
    p.add_argument("-c", "--connections", type=int, default=8, help="wrk connections for the limit (default 8)")
    p.add_argument("--limit-duration", type=float, default=10, help="seconds of wrk for the limit (default 10)")
    p.add_argument(
        "--pg-url",
        default="postgres://postgres@127.0.0.1:5432",
        help="PostgreSQL server URL, without a database (local only)",
    )
    p.add_argument("--db-a", default="smm_bench_sync_a", help="A's throwaway database (name contains 'bench')")
    p.add_argument("--db-b", default="smm_bench_sync_b", help="B's throwaway database (name contains 'bench')")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="S",
        help="before each run wait up to S seconds for the machine to be < 15%% busy",
    )
    p.add_argument("--in-place", action="store_true", help="run the working tree itself, not a copy of smmpanel/")
    p.add_argument("--keep", action="store_true", help="keep the databases and the work dir")
    p.add_argument("--markdown", action="store_true", help=f"write the results into {DOC.relative_to(ROOT)}")
    p.add_argument("--json", type=Path, help="also write the raw results as JSON to this file")
    p.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record each worker with py-spy (--gil: where its Python spends CPU) into DIR and print the top frames",
    )
    args = p.parse_args(argv)
    for db in (args.db_a, args.db_b):
        if "bench" not in db or not re.fullmatch(r"[A-Za-z0-9_]+", db):
            p.error("--db-a/--db-b must be plain names containing 'bench' (they are dropped)")
    if args.db_a == args.db_b:
        p.error("--db-a and --db-b must differ")
    if not re.match(r"postgres(ql)?://[^/]*@?(127\.0\.0\.1|localhost)(:\d+)?/?$", args.pg_url):
        p.error("--pg-url must point at 127.0.0.1 or localhost")
    if not 1000 <= args.orders <= 2_000_000 or not 1 <= args.duration <= 600 or not 1 <= args.repeat <= 20:
        p.error("--orders 1000..2,000,000, --duration 1..600 s, --repeat 1..20")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench/sync.py needs wrk: sudo apt-get install -y wrk (macOS: brew install wrk)", file=sys.stderr)
        return 2
    if args.profile and shutil.which("py-spy") is None:
        print("--profile needs py-spy on PATH (.venv/bin/pip install py-spy)", file=sys.stderr)
        return 2
    try:
        import psycopg  # noqa: F401
    except ImportError:
        print(f"{PY} cannot import psycopg: run this with the project's virtualenv", file=sys.stderr)
        return 2
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="smmpanel-sync-bench-"))
    log(f"work dir {workdir}")
    if not args.in_place:
        api.CODE = workdir / "code"  # api.run, api.Server and the workers run from this copy
        shutil.copytree(ROOT / "smmpanel", api.CODE / "smmpanel", ignore=shutil.ignore_patterns("__pycache__"))
    info = machine_info()
    info["command"] = "bench/sync.py " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        result = bench(args, workdir)
    except BenchError as e:
        log(f"FAILED: {e}")
        return 1
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report_text(result, info, args))
    if args.profile:
        for f in sorted(args.profile.glob("*.txt")):
            print(f"\n== profile {f.name}\n{summarize_profile(f)}")
    if args.json:
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        args.json.write_text(json.dumps({"info": info, "args": settings, "result": result}, indent=2))
    if args.markdown:
        write_markdown(report_md(result, info, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
