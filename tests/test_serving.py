"""`smmpanel serve`, as an owner runs it: slow clients, bounded connections, concurrent writers,
its children dying with it, a busy port, where it listens, and what it logs.

Every test starts the real command in a subprocess on 127.0.0.1 and talks HTTP to it.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from .conftest import REPO, _free_port

SMMPANEL = [sys.executable, "-m", "smmpanel"]
SLOW_CLIENTS = 24


def base_env(data_dir: Path, database_url: str | None = None, **variables) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "SITE_URL", "ALLOWED_HOSTS", "DEBUG", "API_RATE_LIMIT")
    }
    env.update(SMMPANEL_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", LOG_LEVEL="INFO", **variables)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


class Serve:
    """`smmpanel serve` on a free port, seeded with the demo (its key in `.key`)."""

    def __init__(self, tmp_path: Path, template: Path, database_url: str | None = None, *args: str, **variables):
        self.data_dir = tmp_path / f"serve-{_free_port()}"
        self.data_dir.mkdir()
        if database_url is None:  # the embedded default, from the migrated template: `demo` migrates nothing
            shutil.copyfile(template, self.data_dir / "smmpanel.sqlite3")
            (self.data_dir / "smmpanel.sqlite3").chmod(0o600)
        self.env = base_env(self.data_dir, database_url, **variables)
        out = self.run("demo").stdout
        self.key = out.strip().splitlines()[-1].split(": ")[-1]
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v2"
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = self.data_dir / "serve.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [*SMMPANEL, "serve", "--port", str(self.port), *args],
            cwd=REPO,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.log()
            try:
                if "balance" in self.balance(timeout=2):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.2)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([*SMMPANEL, *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def balance(self, timeout: float = 5) -> dict:
        return httpx.post(self.url, data={"key": self.key, "action": "balance"}, timeout=timeout).json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture
def serve(tmp_path, sqlite_template):
    started = []

    def start(database_url=None, *args, **variables) -> Serve:
        server = Serve(tmp_path, sqlite_template, database_url, *args, **variables)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# --- slow clients -----------------------------------------------------------------------------


class SlowClients:
    """Sockets that send a request's headers, then its body a byte at a time, for as long as they live."""

    def __init__(self, port: int, count: int = SLOW_CLIENTS):
        self.sockets = []
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(
                b"POST /api/v2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nk"
            )
            self.sockets.append(s)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._dribble, daemon=True)
        self.thread.start()

    def _dribble(self) -> None:
        while not self.stopping.wait(0.2):
            for s in self.sockets:
                try:
                    s.send(b"e")
                except OSError:
                    pass

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        for s in self.sockets:
            s.close()


def balance_times_with_slow_clients(server: Serve, calls: int = 5) -> list[float]:
    """Seconds each of `calls` balance requests took while SLOW_CLIENTS slow sockets were open (inf: timed out)."""
    slow = SlowClients(server.port)
    try:
        time.sleep(0.5)  # let the server accept them all
        times = []
        for _ in range(calls):
            start = time.monotonic()
            try:
                assert "balance" in server.balance(timeout=3)
                times.append(time.monotonic() - start)
            except httpx.TimeoutException:
                times.append(float("inf"))
        return times
    finally:
        slow.close()


def test_slow_clients_do_not_starve_others_on_sqlite(serve):
    server = serve(None, "--no-worker")
    times = balance_times_with_slow_clients(server)
    assert max(times) < 1, times


def test_a_thread_pool_server_is_starved_by_the_same_slow_clients(serve):
    """The control: with gunicorn's gthread worker the same 24 sockets freeze the API.

    One process of 8 threads, so that the outcome does not depend on how the
    sockets happen to spread over two processes (with 2 × 8, a process that
    accepted fewer than 8 of them still answers).
    """
    server = serve(None, "--no-worker", "--worker-class", "gthread", "--workers", "1", "--threads", "8")
    times = balance_times_with_slow_clients(server, calls=1)
    assert times == [float("inf")]


@pytest.mark.postgres
def test_slow_clients_do_not_starve_others_on_postgresql(serve, throwaway_postgres_db):
    server = serve(throwaway_postgres_db, "--no-worker")
    times = balance_times_with_slow_clients(server)
    assert max(times) < 1, times


# --- connections and writers -------------------------------------------------------------------


def burst(url: str, fields: dict, clients: int, requests: int) -> list:
    """`clients` threads, each with its own connection, making `requests` calls; returns every answer."""
    answers, lock = [], threading.Lock()

    def client():
        with httpx.Client(timeout=30) as http:
            for _ in range(requests):
                body = http.post(url, data=fields() if callable(fields) else fields).json()
                with lock:
                    answers.append(body)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return answers


@pytest.mark.postgres
def test_postgresql_connections_stay_bounded_by_the_pool(serve, throwaway_postgres_db, postgres_admin_url):
    import psycopg

    pool_size, processes = 3, 2
    # --no-worker: the background worker is a process of its own with its own pool (same size).
    server = serve(throwaway_postgres_db, "--no-worker", "--workers", str(processes), DATABASE_POOL_SIZE=str(pool_size))
    dbname = throwaway_postgres_db.rsplit("/", 1)[1]

    def connections() -> int:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [dbname]).fetchone()[0]

    peak = [0]
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            peak[0] = max(peak[0], connections())

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        answers = burst(server.url, {"key": server.key, "action": "balance"}, clients=48, requests=10)
    finally:
        done.set()
        sampler.join()
    assert len(answers) == 480 and all("balance" in a for a in answers), answers[:3]
    bound = pool_size * processes
    assert peak[0] <= bound, (peak[0], bound)
    assert connections() <= bound


def test_a_request_waiting_for_sqlites_write_lock_does_not_block_the_others(serve):
    """Under gevent a process serves all its requests on one thread: SQLite's busy wait must not hold it.

    One gunicorn process, so that both requests below land in it. The test holds
    SQLite's write lock; an `add` then waits for it, and meanwhile a `balance`
    call must be answered at once (with SQLite's busy handler on the gevent
    thread it waited for the lock too). Released, the `add` goes through.
    """
    import sqlite3

    server = serve(None, "--no-worker", "--workers", "1")
    services = httpx.post(server.url, data={"key": server.key, "action": "services"}).json()
    followers = next(s for s in services if s["type"] == "Default" and s["refill"])
    holder = sqlite3.connect(server.data_dir / "smmpanel.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    added = {}

    def add():
        added["answer"] = httpx.post(
            server.url,
            timeout=30,
            data={
                "key": server.key,
                "action": "add",
                "service": followers["service"],
                "quantity": "100",
                "link": "https://instagram.com/waiting",
            },
        ).json()

    writer = threading.Thread(target=add)
    try:
        writer.start()
        # The add is in once it holds the writers' queue (the flock beside the database) and waits for SQLite.
        deadline = time.monotonic() + 30
        while not writers_queue_is_held(server.data_dir / "smmpanel.sqlite3-writers"):
            assert time.monotonic() < deadline and writer.is_alive(), "the add never reached the write lock"
            time.sleep(0.02)
        # Answered while the add still waits: the lock is held until after this answer, so a process frozen
        # by the busy wait could answer only once the add gave up (SQLite's 30 s timeout, past this 20 s one).
        assert "balance" in server.balance(timeout=20)
        assert writer.is_alive()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        writer.join(timeout=30)
    assert set(added["answer"]) == {"order"}, added


def writers_queue_is_held(path) -> bool:
    """Whether a process holds the flock writers of one SQLite database queue on (smmpanel/sqlite/base.py)."""
    import fcntl

    if not path.exists():
        return False
    with open(path, "rb") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def test_concurrent_writers_on_sqlite_all_succeed_under_the_gevent_server(serve):
    """Many `add` calls at once, in two processes, with the background worker writing too: every one
    succeeds (none fails with "database is locked"), the balance is exact, and reads keep being answered.
    """
    server = serve(None)
    services = httpx.post(server.url, data={"key": server.key, "action": "services"}).json()
    followers = next(s for s in services if s["type"] == "Default" and s["refill"])
    before = Decimal(server.balance()["balance"])
    links = iter(range(10**6))
    lock = threading.Lock()

    def add_fields():
        with lock:
            n = next(links)
        return {
            "key": server.key,
            "action": "add",
            "service": followers["service"],
            "quantity": "100",
            "link": f"https://instagram.com/writer/{n}",
        }

    balance_times = []
    stop = threading.Event()

    def watch_balance():
        while not stop.is_set():
            start = time.monotonic()
            assert "balance" in server.balance(timeout=10)
            balance_times.append(time.monotonic() - start)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_balance)
    watcher.start()
    started = time.monotonic()
    try:
        answers = burst(server.url, add_fields, clients=16, requests=8)
    finally:
        stop.set()
        watcher.join()
    elapsed = time.monotonic() - started
    assert len(answers) == 128 and all(set(a) == {"order"} for a in answers), [a for a in answers if "order" not in a]
    assert len({a["order"] for a in answers}) == 128
    charge = Decimal(followers["rate"]) * 100 / 1000
    assert Decimal(server.balance()["balance"]) == before - 128 * charge
    # Loose bounds (the machine is shared): what they catch is a process frozen for SQLite's
    # 30-second busy timeout, not a slow run.
    assert elapsed < 60, elapsed
    assert max(balance_times) < 5, max(balance_times)
    # The writers queue across processes on a lock file beside the database: as private as the database.
    assert (server.data_dir / "smmpanel.sqlite3-writers").stat().st_mode & 0o777 == 0o600


# --- the process: children, port, address ----------------------------------------------------------


def descendants(pid: int) -> set[int]:
    found = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            kids = [int(x) for x in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            kids = []
        found.update(kids)
        todo.extend(kids)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_serve_killed_with_sigkill_takes_gunicorn_and_the_worker_with_it(serve, tmp_path):
    server = serve(None)
    children = descendants(server.process.pid)
    assert len(children) >= 4, children  # gunicorn master, its 2 workers, the background worker
    server.process.kill()
    server.process.wait()
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if alive(pid)]
    # And the port is free again for the next `serve`.
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", server.port))


def test_a_port_in_use_is_reported_before_anything_says_serving(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [*SMMPANEL, "serve", "--port", str(port)],
            cwd=REPO,
            env=base_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "serving" not in done.stdout


def test_serving_other_machines_without_site_url_or_allowed_hosts_says_what_to_set(tmp_path):
    done = subprocess.run(
        [*SMMPANEL, "serve", "--host", "0.0.0.0", "--port", str(_free_port())],
        cwd=REPO,
        env=base_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "SITE_URL" in done.stderr and "ALLOWED_HOSTS" in done.stderr
    assert "serving" not in done.stdout


# --- what it logs -----------------------------------------------------------------------------------


def test_admin_403s_are_logged_without_a_traceback(serve):
    server = serve(None, "--no-worker")
    server.run(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.create_user('clerk', password='clerk-password', is_staff=True)",
    )
    with httpx.Client(base_url=server.base, timeout=10) as http:
        # A CSRF failure: a log-in form posted without its token.
        assert http.post("/admin/login/", data={"username": "clerk", "password": "x"}).status_code == 403
        # A permission check: a staff user without permissions opens an add form.
        page = http.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        logged_in = http.post(
            "/admin/login/?next=/admin/",
            data={"username": "clerk", "password": "clerk-password", "csrfmiddlewaretoken": token},
        )
        assert logged_in.status_code == 302, logged_in.text[:300]
        assert http.get("/admin/catalog/service/add/").status_code == 403
    time.sleep(0.5)
    log = server.log()
    assert "Forbidden (CSRF" in log and "Forbidden (Permission denied)" in log, log[-2000:]
    assert "Traceback" not in log, log[-3000:]


def test_a_failed_worker_pass_logs_its_traceback(tmp_path):
    """A worker on a database without its tables (not migrated yet): each pass fails, and says where."""
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [*SMMPANEL, "worker", "--poll", "0.2"],
            cwd=REPO,
            env=base_env(tmp_path),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60  # a loaded machine may take a while to start Django
            while "Traceback" not in log_path.read_text(errors="replace") and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
    out = log_path.read_text(errors="replace")
    assert "worker pass failed: no such table" in out, out[-2000:]
    assert "Traceback (most recent call last)" in out
