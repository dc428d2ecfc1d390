"""Benchmark the web panel's pages under load: server time per page on a big panel, with wrk and a session cookie.

What one run does, all on 127.0.0.1 and the local PostgreSQL server:
  1. bench/web_data.py makes sure the database (default ``smmpanel_webbench``) holds the big panel:
     1,000,000 orders over 90 days, a customer "big" with 100,000 of them, their ledger, history,
     refills, subscriptions and upstream orders. It is built once (about 2 minutes) and reused;
     ``--reload`` rebuilds it;
  2. signs "big" and the staff user "staff" in by making their sessions directly (Django's session
     store, as a log-in would), so no log-in form or lockout is involved;
  3. serves the panel with ``smmpanel serve --no-worker`` (gunicorn, gevent workers by default, as in
     production), from a snapshot of the committed ``smmpanel/`` (``git archive HEAD``; ``--in-place``:
     the working tree), with gunicorn's access log on (``GUNICORN_CMD_ARGS``) writing each request's
     status and duration (``%(D)s``, microseconds from the request read to the response sent) to a file;
  4. checks every page answers 200 with the customer's page (not the log-in page), then for each page:
     a warm-up, then wrk with the session cookie for a fixed time at a modest concurrency;
  5. reads the server time of the measured requests back from the access log (this is the *server
     time* of the figures: what gunicorn saw, not wrk's latency, which on a saturated shared machine
     measures the queue), and takes req/s from wrk, CPU per request of the gunicorn workers and of
     the database's PostgreSQL backends from /proc;
  6. ``--repeat N`` runs N interleaved rounds and reports per page the median of each figure and the
     range; prints a table and the targets (orders pages p99 ≤ 50 ms, dashboard p99 ≤ 200 ms);
     ``--markdown`` writes it into docs/benchmarks.md between its ``bench:web-c<connections>`` markers.

Pages: the orders list on each tab (first page, and a deep page through the keyset cursor, 90,000
orders down), a search by link and by id, the refills, drip-feed and subscriptions lists, the
new-order page, the services catalog, the funds page (first page and a deep ledger page), and the
admin's index (the dashboard) as staff. ``--only`` picks some by name.

Usage (from the repository root, with the project's virtualenv)::

    .venv/bin/python bench/web.py                                  # every page, 10 s each, once
    .venv/bin/python bench/web.py --repeat 3 --wait-quiet 60 --markdown
    .venv/bin/python bench/web.py --only orders,orders-deep,dashboard -d 5
    .venv/bin/python bench/web.py --reload                         # rebuild the data first

Needs wrk (``apt-get install -y wrk``) and a PostgreSQL server at 127.0.0.1:5432 that the user
``postgres`` reaches without a password. The helpers shared with bench/api.py (processes, CPU
accounting, the machine's description) are imported from it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

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
    shell,
    wait_quiet,
)

ROOT = api.ROOT
DOC = api.DOC
# One block per concurrency (``bench:web-c4``), so that runs at different loads sit side by side.
MARK = "<!-- bench:web-c{c}:{end} -->"
TARGETS = {"orders": 50.0, "dashboard": 200.0}  # p99 server time, ms, by page group
DEEP = 90_000  # how far down the list the deep pages start (orders), and a like share of the ledger

# Run in `smmpanel shell`: a session for each user, as django.contrib.auth.login would make it.
SESSIONS = """
import json
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.db import connection

store = import_module(settings.SESSION_ENGINE).SessionStore
out = {}
for name in %(users)r:
    user = get_user_model().objects.get(username=name)
    s = store()
    s[SESSION_KEY] = user._meta.pk.value_to_string(user)
    s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    s[HASH_SESSION_KEY] = user.get_session_auth_hash()
    s.create()
    out[name] = s.session_key
with connection.cursor() as c:
    c.execute("SELECT count(*) FROM orders_order WHERE account_id = (SELECT id FROM accounts_account "
              "WHERE user_id = %%s)", [get_user_model().objects.get(username=%(big)r).pk])
    deep = min(%(deep)d, int(c.fetchone()[0] * 0.9))
    c.execute("SELECT id FROM orders_order WHERE account_id = (SELECT id FROM accounts_account WHERE user_id = %%s) "
              "ORDER BY id DESC OFFSET %%s LIMIT 1", [get_user_model().objects.get(username=%(big)r).pk, deep])
    row = c.fetchone()
    out["deep_order"] = row[0] if row else None
    c.execute("SELECT count(*) FROM ledger_ledgerentry WHERE account_id = (SELECT id FROM accounts_account "
              "WHERE user_id = %%s)", [get_user_model().objects.get(username=%(big)r).pk])
    n = c.fetchone()[0]
    c.execute("SELECT id FROM ledger_ledgerentry WHERE account_id = (SELECT id FROM accounts_account "
              "WHERE user_id = %%s) ORDER BY id DESC OFFSET %%s LIMIT 1",
              [get_user_model().objects.get(username=%(big)r).pk, int(n * 0.9)])
    row = c.fetchone()
    out["deep_ledger"] = row[0] if row else None
    out["ledger_rows"] = n
    c.execute("SELECT id FROM orders_order WHERE account_id = (SELECT id FROM accounts_account WHERE user_id = %%s) "
              "ORDER BY id DESC OFFSET 500 LIMIT 1", [get_user_model().objects.get(username=%(big)r).pk])
    out["some_order"] = c.fetchone()[0]
print("BENCH_JSON", json.dumps(out))
"""

UNKNOWN_MIGRATIONS = """
import json
from django.db import connection
from django.db.migrations.loader import MigrationLoader
loader = MigrationLoader(connection)
print("BENCH_JSON", json.dumps({"unknown": sorted(f"{a}.{n}" for a, n in loader.applied_migrations
                                                  if (a, n) not in loader.disk_migrations)}))
"""

# Run in `smmpanel shell`: each page requested alone, one after another, through Django's test client in
# one process (no server, no concurrency): the page's own cost — wall time, CPU time of the process,
# queries. The machine's other jobs still slow it, but nothing of ours queues.
ALONE = """
import json, statistics, time
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, reset_queries
from django.test import Client

out = {}
clients = {}
for who, name in %(users)r.items():
    clients[who] = Client(HTTP_HOST="127.0.0.1")
    clients[who].force_login(get_user_model().objects.get(username=name))
for page in %(pages)r:
    c = clients[page["user"]]
    for _ in range(3):
        c.get(page["path"])
    settings.DEBUG = True  # to count the queries, once
    reset_queries()
    status = c.get(page["path"]).status_code
    queries = len(connection.queries)
    settings.DEBUG = False
    walls, cpus = [], []
    for _ in range(%(n)d):
        t0, c0 = time.perf_counter(), time.process_time()
        c.get(page["path"])
        walls.append(1000 * (time.perf_counter() - t0))
        cpus.append(1000 * (time.process_time() - c0))
    out[page["name"]] = {"status": status, "queries": queries, "wall_ms": statistics.median(walls),
                         "cpu_ms": statistics.median(cpus)}
print("BENCH_JSON", json.dumps(out))
"""

TABS = ["all", "pending", "in-progress", "processing", "completed", "partial", "canceled"]


def pages(ids: dict, info: dict) -> list[dict]:
    """Every page measured: name, path, whose session, group (for the targets)."""
    out = []
    for tab in TABS:
        q = "" if tab == "all" else f"?status={tab}"
        name = "orders" if tab == "all" else f"orders-{tab}"
        out.append({"name": name, "path": f"/orders/{q}", "user": "big", "group": "orders"})
        sep = "&" if q else "?"
        out.append(
            {
                "name": f"{name}-deep",
                "path": f"/orders/{q}{sep}before={ids['deep_order']}",
                "user": "big",
                "group": "orders",
            }
        )
    out += [
        {
            "name": "orders-search-link",
            "path": f"/orders/?q=instagram.com/{info['search_handle']}",
            "user": "big",
            "group": "orders",
        },
        # A broad search ("instagram.com": a third of the account's orders match).
        {"name": "orders-search-broad", "path": "/orders/?q=instagram.com", "user": "big", "group": "orders"},
        {"name": "orders-search-id", "path": f"/orders/?q={ids['some_order']}", "user": "big", "group": "orders"},
        {"name": "refills", "path": "/refills/", "user": "big", "group": "orders"},
        {"name": "dripfeed", "path": "/dripfeed/", "user": "big", "group": "orders"},
        {"name": "subscriptions", "path": "/subscriptions/", "user": "big", "group": "orders"},
        {"name": "new-order", "path": "/order/", "user": "big", "group": "other"},
        {"name": "services", "path": "/services/", "user": "big", "group": "other"},
        {"name": "funds", "path": "/funds/", "user": "big", "group": "other"},
        {"name": "funds-deep", "path": f"/funds/?before={ids['deep_ledger']}", "user": "big", "group": "other"},
        {"name": "dashboard", "path": "/admin/", "user": "staff", "group": "dashboard"},
    ]
    return out


# --- the server and its access log -------------------------------------------------------------

# One line per request: status, microseconds, method, path?query (see gunicorn's access log atoms).
LOG_FORMAT = "%(s)s %(D)s %(m)s %(U)s?%(q)s"


class Panel(Server):
    """`smmpanel serve --no-worker` with the access log written to a file we read back."""

    def __init__(self, env: dict, args, workdir: Path):
        self.access_log = workdir / "access.log"
        env = dict(env)
        env["GUNICORN_CMD_ARGS"] = f"--access-logfile {self.access_log} --access-logformat '{LOG_FORMAT}' --timeout 120"
        port = free_port()
        cmd = SMMPANEL + [
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--no-worker",
        ]
        super().__init__("web-panel", cmd, env, port, workdir)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_up(self, timeout: float = 300) -> None:
        """Up once the log-in page answers (migrations on a big database may take a while first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the panel exited ({self.proc.returncode}):\n{self.logfile.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.base + "/login/", timeout=5) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.5)
        raise BenchError(f"the panel did not answer in {timeout:.0f} s; see {self.logfile}")

    def log_size(self) -> int:
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def log_since(self, offset: int) -> list[tuple[int, int, str]]:
        """(status, microseconds, path) of the requests logged after `offset`."""
        with open(self.access_log, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        out = []
        for line in text.splitlines():
            parts = line.split(" ", 3)
            if len(parts) == 4 and parts[0].isdigit() and parts[1].isdigit():
                out.append((int(parts[0]), int(parts[1]), parts[3]))
        return out


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def fetch(url: str, cookie: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, headers={"Cookie": cookie})
    try:
        with opener.open(req, timeout=60) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, ""


# --- measuring ------------------------------------------------------------------------------------


def percentile(values: list[int], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))
    return float(s[k])


WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")


def measure(panel: Panel, page: dict, cookie: str, args, duration: float) -> dict:
    """One wrk run on one page; server times from the access log; CPU per request from /proc."""
    url = panel.base + page["path"]
    pids = panel.python_pids()
    cpu0 = {pid: proc_cpu(pid) for pid in pids}
    m0 = machine_cpu()
    offset = panel.log_size()
    cmd = [
        "wrk",
        "-t1",
        f"-c{args.connections}",
        f"-d{duration:g}s",
        "--timeout",
        "30s",
        "-H",
        f"Cookie: {cookie}",
        url,
    ]
    with PostgresCpu(args.db) as db_meter:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 90, check=False)
    time.sleep(0.3)  # the last responses' log lines
    m1 = machine_cpu()
    per_pid = {pid: proc_cpu(pid) - cpu0[pid] for pid in pids}
    app = sum(per_pid.values())
    db = db_meter.seconds
    lines = panel.log_since(offset)
    times = [us for status, us, _ in lines if status == 200]
    bad = [status for status, _, _ in lines if status != 200]
    m = WRK_RPS.search(p.stdout)
    if not m:
        raise BenchError(f"wrk gave no result for {page['name']} (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
    n = max(len(lines), 1)
    wall = max((m1[1] - m0[1]) / api.CLK_TCK, 1e-9)
    return {
        "rps": float(m.group(1)),
        "requests": len(lines),
        "non200": len(bad),
        "p50": percentile(times, 50) / 1000,
        "p90": percentile(times, 90) / 1000,
        "p99": percentile(times, 99) / 1000,
        "max": max(times, default=0) / 1000,
        "cpu_app_ms": 1000 * app / n,
        "cpu_db_ms": 1000 * db / n,
        # Everything else that ran meanwhile (wrk, other people's jobs), as a share of the machine.
        "other_busy": max(0.0, (m1[0] - m0[0]) / api.CLK_TCK - app - db) / wall,
        # How the work split between the gunicorn workers: wrk's keep-alive connections stay with the
        # worker that accepted them, so 3 of 4 on one worker makes its requests wait for each other.
        "worker_share": [round(per_pid[pid] / app, 2) if app else 0.0 for pid in pids[1:]],
    }


def check_pages(panel: Panel, todo: list[dict], cookies: dict) -> tuple[dict, list[str]]:
    """Each page once: 200, and the customer's page rather than a log-in form. Sizes for the report,
    and the pages not there yet (404: the placeholder of a page still being written)."""
    sizes, missing = {}, []
    for page in todo:
        t0 = time.perf_counter()
        status, body = fetch(panel.base + page["path"], cookies[page["user"]])
        # The first view of a page in a fresh server (nothing cached; the dashboard computes its sums).
        sizes[page["name"] + ":first_ms"] = 1000 * (time.perf_counter() - t0)
        if status == 404:
            missing.append(page["name"])
            continue
        if status != 200:
            raise BenchError(f"{page['name']} ({page['path']}) answered {status}, not 200")
        if 'name="password"' in body and "logout" not in body.lower():
            raise BenchError(f"{page['name']} ({page['path']}) shows a log-in form: the session did not work")
        sizes[page["name"]] = len(body.encode())
    return sizes, missing


def bench(args, workdir: Path) -> dict:
    loader = [PY, str(api.BENCH_DIR / "web_data.py"), "--db", args.db, "--pg-url", args.pg_url]
    loader += ["--orders", str(args.orders), "--big", str(args.big), "--customers", str(args.customers)]
    loader += ["--code", str(api.CODE)]
    if args.reload:
        loader.append("--reload")
    log(f"data: {' '.join(loader[1:])}")
    p = subprocess.run(loader, cwd=ROOT, capture_output=True, text=True, timeout=3600, check=False)
    sys.stderr.write(p.stderr)
    if p.returncode != 0:
        raise BenchError(f"bench/web_data.py failed ({p.returncode})")
    info = json.loads(next(ln for ln in p.stdout.splitlines() if ln.startswith("WEBDATA_JSON "))[13:])

    data_dir = workdir / "data"
    data_dir.mkdir()
    env = base_env(data_dir, f"{args.pg_url}/{args.db}")
    # Migrations newer than the data (other people's work landing) are applied before serving; one the
    # database has but the code does not (loaded from a work in progress) means the data is stale.
    t0 = time.monotonic()
    run(SMMPANEL + ["migrate", "--noinput", "-v", "0"], env, timeout=1800)
    log(f"migrate: {time.monotonic() - t0:.0f} s")
    unknown = shell(UNKNOWN_MIGRATIONS, env)["unknown"]
    if unknown:
        log(f"the database has migrations the code has not ({unknown}): run with --reload for figures you trust")
        result_note = f"database has migrations unknown to the code: {unknown}"
    else:
        result_note = ""
    ids = shell(
        SESSIONS % {"users": [info["big_user"], info["staff_user"]], "big": info["big_user"], "deep": DEEP},
        env,
    )
    cookies = {
        "big": f"sessionid={ids[info['big_user']]}",
        "staff": f"sessionid={ids[info['staff_user']]}",
    }
    todo = [pg for pg in pages(ids, info) if not args.only or pg["name"] in args.only]
    if not todo:
        raise BenchError(f"no page named {args.only}; pages: {[pg['name'] for pg in pages(ids, info)]}")
    result: dict = {"note": result_note, "info": info, "pages": {pg["name"]: {"page": pg, "runs": []} for pg in todo}}
    if args.alone:
        log(f"each page alone in one process ({args.alone} requests each)")
        users = {"big": info["big_user"], "staff": info["staff_user"]}
        result["alone"] = shell(ALONE % {"users": users, "pages": todo, "n": args.alone}, env, timeout=1800)
    panel = Panel(env, args, workdir)
    try:
        panel.wait_up()
        log(f"panel up on {panel.base}; checking {len(todo)} pages")
        result["sizes"], result["missing"] = check_pages(panel, todo, cookies)
        if result["missing"]:
            log(f"not there yet (404), left out: {', '.join(result['missing'])}")
        todo = [pg for pg in todo if pg["name"] not in result["missing"]]
        for name in result["missing"]:
            del result["pages"][name]
        for round_ in range(args.repeat):
            for page in todo:
                cookie = cookies[page["user"]]
                if args.warmup:
                    measure(panel, page, cookie, args, args.warmup)
                wait_quiet(args.wait_quiet)
                r = measure(panel, page, cookie, args, args.duration)
                result["pages"][page["name"]]["runs"].append(r)
                log(
                    f"round {round_ + 1}/{args.repeat} {page['name']}: {r['rps']:.0f} req/s, server "
                    f"p50 {r['p50']:.1f} p99 {r['p99']:.1f} ms, {r['non200']} non-200"
                )
    finally:
        panel.stop()
    return result


# --- reporting ------------------------------------------------------------------------------------


def summary(runs: list[dict]) -> dict:
    keys = ["rps", "p50", "p90", "p99", "max", "cpu_app_ms", "cpu_db_ms", "other_busy"]
    out = {k: statistics.median(r[k] for r in runs) for k in keys}
    out.update({f"{k}_all": [r[k] for r in runs] for k in ("rps", "p50", "p99")})
    out["requests"] = sum(r["requests"] for r in runs)
    out["non200"] = sum(r["non200"] for r in runs)
    return out


def alone(result: dict, name: str) -> str:
    a = result.get("alone", {}).get(name)
    return f"{a['wall_ms']:.1f} / {a['cpu_ms']:.1f} ({a['queries']})" if a else ""


def span(values: list[float], fmt: str) -> str:
    return "" if len(values) < 2 else f" ({fmt.format(min(values))}–{fmt.format(max(values))})"


def rows(result: dict) -> list[list[str]]:
    out = [
        [
            "page",
            "path",
            "req/s",
            "server p50 ms",
            "server p99 ms",
            "p90 / max ms",
            "first view ms",
            "KB",
            "CPU ms/req: app / db",
            "alone ms: wall / CPU (queries)",
            "others' CPU",
            "non-200",
        ]
    ]
    for name, entry in result["pages"].items():
        s = summary(entry["runs"])
        out.append(
            [
                name,
                f"`{entry['page']['path']}`",
                f"{s['rps']:.0f}{span(s['rps_all'], '{:.0f}')}",
                f"{s['p50']:.1f}{span(s['p50_all'], '{:.1f}')}",
                f"{s['p99']:.1f}{span(s['p99_all'], '{:.1f}')}",
                f"{s['p90']:.1f} / {s['max']:.0f}",
                f"{result['sizes'].get(name + ':first_ms', 0):.0f}",
                f"{result['sizes'].get(name, 0) / 1024:.0f}",
                f"{s['cpu_app_ms']:.1f} / {s['cpu_db_ms']:.1f}",
                alone(result, name),
                f"{100 * s['other_busy']:.0f} %",
                str(s["non200"]),
            ]
        )
    return out


def targets(result: dict) -> list[tuple[str, bool, str]]:
    out = []
    for group, limit in TARGETS.items():
        worst = [
            (summary(e["runs"])["p99"], name) for name, e in result["pages"].items() if e["page"]["group"] == group
        ]
        if worst:
            p99, name = max(worst)
            out.append((f"{group} pages: server p99 ≤ {limit:.0f} ms", p99 <= limit, f"worst {name} {p99:.1f} ms"))
    return out


def settings_line(args) -> str:
    return (
        f"gunicorn {args.worker_class} --workers {args.workers} (`smmpanel serve --no-worker`); wrk -t1 "
        f"-c{args.connections} -d{args.duration:g}s per page after a {args.warmup:g} s warm-up; "
        f"{args.repeat} interleaved round(s), medians (range)"
    )


def report_text(result: dict, info: dict, args) -> str:
    table = rows(result)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    lines.append("")
    if result.get("missing"):
        lines.append(f"not measured (404, not there yet): {', '.join(result['missing'])}")
    if result.get("note"):
        lines.append(f"note: {result['note']}")
    lines += [f"{'met' if ok else 'NOT met'}: {what} ({detail})" for what, ok, detail in targets(result)]
    lines.append(f"settings: {settings_line(args)}; machine {info['nproc']} × {info['cpu']}, load {info['load']}")
    return "\n".join(lines)


def report_md(result: dict, info: dict, args) -> str:
    data = result["info"]
    table = rows(result)
    md = [
        MARK.format(c=args.connections, end="start"),
        "",
        f"Run {info['date']} by `bench/web.py {' '.join(args.argv)}` at commit {info['commit']}.",
        "",
        (
            f"- Machine: {info['nproc']} cores, {info['cpu']}, {info['mem']} RAM, KVM guest, Linux {info['kernel']}; "
            f"load average before the run {info['load']}; shared with other people's jobs"
        ),
        (
            f"- Data (`bench/web_data.py`, database `{args.db}`): {data['rows']['orders_order']:,} orders over "
            f'{data["days"]} days, {data["customers"]:,} customers; "{data["big_user"]}" has '
            f"{data['big_orders']:,} orders and the ledger rows of them; loaded {data['loaded_at'][:16]} UTC"
        ),
        f"- Settings: {settings_line(args)}",
        (
            "- Server time: gunicorn's access log `%(D)s` (request read → response sent, in the worker) of every "
            "measured 200; req/s from wrk, on the same two cores as the server and PostgreSQL; *first view*: "
            "the page's first request to the fresh server, alone (client-side time; nothing cached yet); "
            "*others' CPU*: the machine's CPU used meanwhile by everything but the panel and its database "
            "(wrk and other people's jobs), as a share of both cores; *alone*: the median of "
            f"{args.alone} requests of the page made one after another through Django's test client in one "
            "process (no server, no concurrency): its wall and CPU time, and its queries"
        ),
        "",
        "| " + " | ".join(table[0]) + " |",
        "|---|---|" + "---:|" * (len(table[0]) - 2),
    ]
    md += ["| " + " | ".join(r) + " |" for r in table[1:]]
    md.append("")
    if result.get("missing"):
        md.append(f"- Not measured (404, not there yet): {', '.join(result['missing'])}")
    if result.get("note"):
        md.append(f"- Note: {result['note']}")
    md += [f"- **{'met' if ok else 'NOT met'}** — {what}: {detail}" for what, ok, detail in targets(result)]
    md += ["", MARK.format(c=args.connections, end="end")]
    return "\n".join(md)


def write_markdown(block: str, connections: int) -> None:
    start, end = MARK.format(c=connections, end="start"), MARK.format(c=connections, end="end")
    api.replace_marked(block, start, end, heading="Web pages")


# --- main --------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--db", default="smmpanel_webbench", help="the data's database (default smmpanel_webbench)")
    p.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--reload", action="store_true", help="rebuild the data first")
    p.add_argument("--orders", type=int, default=1_000_000, help="orders in the panel (default 1,000,000)")
    p.add_argument("--big", type=int, default=100_000, help="orders of the customer measured (default 100,000)")
    p.add_argument("--customers", type=int, default=3000)
    p.add_argument("-d", "--duration", type=float, default=10, help="seconds per measured run (default 10)")
    p.add_argument("-c", "--connections", type=int, default=4, help="wrk connections (default 4)")
    p.add_argument("--warmup", type=float, default=2, help="seconds of warm-up before each run (default 2)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--worker-class", choices=["gevent", "gthread"], default="gevent")
    p.add_argument("--repeat", type=int, default=1, help="interleaved rounds; medians reported (default 1)")
    p.add_argument("--wait-quiet", type=float, default=0, help="wait up to N s for a quiet machine before each run")
    p.add_argument("--only", type=lambda s: [x for x in s.split(",") if x], default=[], help="pages, comma-separated")
    p.add_argument("--alone", type=int, default=30, help="requests per page made alone in one process first (0: none)")
    p.add_argument("--code", type=Path, help="serve the smmpanel/ found in this directory (an experiment)")
    p.add_argument("--in-place", action="store_true", help="serve the working tree, not HEAD's smmpanel/")
    p.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    p.add_argument("--json", type=Path, help="also save the raw results here")
    args = p.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk"):
        log("wrk is missing: apt-get install -y wrk")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="smmpanel-webbench-"))
    try:
        if args.code:  # an experiment: a tree of one's own (e.g. HEAD with one change)
            api.CODE = args.code.resolve()
        elif not args.in_place:
            # What is committed, so that others' edits in progress are not measured (nor half-copied).
            code = workdir / "code"
            code.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", "HEAD", "smmpanel"], capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(code)], input=archive.stdout, check=True)
            api.CODE = code
        info = machine_info()
        if args.code:
            info["commit"] = f"{args.code} (a tree of its own)"
        elif not args.in_place:
            info["commit"] = info["commit"].split(" ")[0]
        result = bench(args, workdir)
        print(report_text(result, info, args))
        if args.json:
            args.json.write_text(json.dumps({"result": result, "machine": info}, indent=1, default=str))
        if args.markdown:
            write_markdown(report_md(result, info, args), args.connections)
    except BenchError as e:
        log(f"failed: {e}")
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
