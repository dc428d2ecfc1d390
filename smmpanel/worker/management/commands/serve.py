"""`smmpanel serve`: migrate, then run gunicorn and the background worker together.

One command, one terminal: the embedded default, and what the production
section of the README runs behind a TLS proxy (with `--no-worker` for extra
web processes). What it takes care of:

- **Slow clients.** gunicorn's gevent worker: a client connection is a
  greenlet, not a thread, so clients that send a body a byte at a time (or
  idle on a kept-alive connection) hold a few kilobytes each, not one of a
  handful of threads. With a thread pool (`--worker-class gthread`, kept for
  comparison) 16 such clients freeze the panel. Database connections stay
  bounded by the PostgreSQL pool (DATABASE_POOL_SIZE per process, see
  settings). On SQLite nothing inside a transaction yields to another
  greenlet, so a writer waiting for SQLite's lock blocks only for as long as
  another process's transaction lasts (see docs/benchmarks.md).
- **The port.** It is bound here, before anything else starts, and handed to
  gunicorn as a file descriptor: a port in use is an error message and exit
  status 1, not a gunicorn that retries and a "serving" line that lies.
- **Its children die with it**, even when it is killed with SIGKILL: they ask
  Linux for SIGTERM when their parent dies (PR_SET_PDEATHSIG), and gunicorn's
  workers leave when their master goes.
- **The API outlives the worker.** A background worker that dies (killed, out
  of memory) is started again, after 1 s, and twice as long each time it dies
  again right after starting (up to a minute), each time said in the log.
  Only a worker that dies at once, five times in a row, stops `serve`, with a
  message saying so: that one will not run until someone looks. gunicorn
  dying stops `serve` (exit status 1), the worker with it.
- **Where it listens.** Another address than the loopback without
  SITE_URL or ALLOWED_HOSTS would answer only local host names: it says what
  to set and exits instead.
"""

import ctypes
import errno
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

PR_SET_PDEATHSIG = 1


def die_with(parent_pid: int):
    """A preexec_fn for a child: SIGTERM when `parent_pid` dies (Linux), or at once if it already did."""

    try:  # looked up before fork(): the child only makes the call
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the parent's own shutdown still stops us
        prctl = None

    def preexec() -> None:
        if prctl is None:
            return
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        # The parent may have died between fork() and prctl(): then nobody would signal us.
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def raise_open_files_limit(wanted: int = 65536) -> None:
    """Up to 1000 client connections per process, each with a socket and, on SQLite, a database
    connection of its own (two files with the WAL): more than a soft limit of 1024 allows."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError):  # not POSIX, or not allowed: gunicorn copes with what there is
        pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or a CommandError saying why not (before anything says "serving")."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does: TIME_WAIT is no conflict
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise CommandError(
                f"port {port} on {host} is already in use (another `smmpanel serve`?): stop it or use --port"
            ) from None
        raise CommandError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


class WorkerKeeper:
    """Keeps the background worker running: started again when it dies, later each time it dies at once."""

    def __init__(self, start, say, *, delay: float = 1.0, max_delay: float = 60.0, quick: float = 10.0, limit: int = 5):
        self.start, self.say = start, say
        self.delay, self.max_delay, self.quick, self.limit = delay, max_delay, quick, limit
        self.process = start()
        self.started = time.monotonic()
        self.quick_deaths = 0  # in a row
        self.restart_at = 0.0

    def check(self) -> str | None:
        """Restart the worker if it is due; returns why to give up when it keeps dying at once (else None)."""
        now = time.monotonic()
        if self.process is None:
            if now >= self.restart_at:
                self.process, self.started = self.start(), now
                self.say(f"worker started again (pid {self.process.pid})")
            return None
        code = self.process.poll()
        if code is None:
            return None
        ran = now - self.started
        self.quick_deaths = self.quick_deaths + 1 if ran < self.quick else 0
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        if self.quick_deaths >= self.limit:
            return (
                f"the worker died {self.quick_deaths} times in a row within {self.quick:g} s of starting "
                f"(last: {how}): stopping. Its messages above say why; `smmpanel worker` runs it alone."
            )
        wait = min(self.max_delay, self.delay * 2 ** max(0, self.quick_deaths - 1))
        self.say(f"the worker stopped after {ran:.0f} s ({how}); starting it again in {wait:g} s")
        self.process, self.restart_at = None, now + wait
        return None

    def children(self) -> list:
        return [self.process] if self.process is not None else []


def web_command(opts, fd: int) -> list[str]:
    """gunicorn's command line, serving the listening socket `fd`."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "smmpanel.wsgi:application",
        "--bind",
        f"fd://{fd}",
        "--workers",
        str(opts["workers"]),
        "--worker-class",
        opts["worker_class"],
        "--graceful-timeout",
        "10",
        # Under gevent, connections take turns after each request (smmpanel/gunicorn_conf.py).
        "--config",
        "python:smmpanel.gunicorn_conf",
    ]
    if opts["worker_class"] == "gevent":
        command += ["--worker-connections", str(opts["connections"])]
    else:
        command += ["--threads", str(opts["threads"])]
    if opts["access_log"]:
        command += ["--access-logfile", "-"]
    return command


def stop_all(children: list) -> None:
    """SIGTERM to every child still running, then up to 15 s for them all to end (SIGKILL after)."""
    for c in children:
        if c.poll() is None:
            c.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for c in children:
        try:
            c.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            c.kill()


class Command(BaseCommand):
    help = "Apply migrations, then serve the panel with gunicorn and run the worker alongside."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
        parser.add_argument(
            "--worker-class",
            choices=["gevent", "gthread"],
            default="gevent",
            help="gevent (default): a greenlet per connection; gthread: a thread pool",
        )
        parser.add_argument(
            "--connections", type=int, default=1000, help="gevent: open client connections per process (default 1000)"
        )
        parser.add_argument("--threads", type=int, default=8, help="gthread: threads per process (default 8)")
        parser.add_argument("--no-worker", action="store_true", help="serve only; run `smmpanel worker` elsewhere")
        parser.add_argument("--access-log", action="store_true", help="log every request to stdout")
        parser.add_argument(
            "--worker-restart-delay",
            type=float,
            default=1.0,
            help="seconds before a dead worker is started again, doubled while it dies at once (default 1)",
        )

    def handle(self, *args, **opts):
        host, port = opts["host"], opts["port"]
        if not is_loopback(host) and not (os.environ.get("SITE_URL") or os.environ.get("ALLOWED_HOSTS")):
            raise CommandError(
                f"--host {host} serves other machines, but only local host names are allowed "
                f"({', '.join(settings.ALLOWED_HOSTS)}): set SITE_URL (e.g. https://panel.example.com) "
                "or ALLOWED_HOSTS (comma-separated names clients use)"
            )
        listener = bind(host, port)
        raise_open_files_limit()  # inherited by gunicorn and the worker
        call_command("migrate", interactive=False, verbosity=0)
        # This process only watches from now on: it must not hold database connections
        # (a pool keeps some open) beyond what the servers and the worker use.
        for conn in connections.all():
            conn.close()
            close_pool = getattr(conn, "close_pool", None)  # PostgreSQL's wrapper only
            if close_pool is not None:
                close_pool()
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="smmpanel.settings")
        me = os.getpid()
        web_cmd = web_command(opts, listener.fileno())
        web = subprocess.Popen(web_cmd, env=env, pass_fds=[listener.fileno()], preexec_fn=die_with(me))
        listener.close()  # gunicorn has its own copy
        keeper = None
        if not opts["no_worker"]:
            keeper = WorkerKeeper(
                lambda: subprocess.Popen(
                    [sys.executable, "-m", "smmpanel", "worker"], env=env, preexec_fn=die_with(me)
                ),
                self._say,
                delay=opts["worker_restart_delay"],
            )
        shown = f"[{host}]" if ":" in host else host
        self.stdout.write(f"smmpanel serving on http://{shown}:{port}/ (API: /api/v2)")
        self.stdout.flush()
        self._supervise(web, keeper)

    def _say(self, text: str) -> None:
        self.stdout.write(f"smmpanel serve: {text}")
        self.stdout.flush()

    def _supervise(self, web, keeper: WorkerKeeper | None) -> None:
        """Run until asked to stop, until gunicorn dies, or until the worker keeps dying at once."""
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        give_up = None
        try:
            while not stopping and web.poll() is None and give_up is None:
                give_up = keeper.check() if keeper is not None else None
                time.sleep(0.2)
        finally:
            stop_all([web, *(keeper.children() if keeper is not None else [])])
        if give_up is not None:
            raise CommandError(give_up)
        if not stopping and web.returncode:
            raise SystemExit(1)
