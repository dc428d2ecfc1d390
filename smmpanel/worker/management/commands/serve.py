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
        web_cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "smmpanel.wsgi:application",
            "--bind",
            f"fd://{listener.fileno()}",
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
            web_cmd += ["--worker-connections", str(opts["connections"])]
        else:
            web_cmd += ["--threads", str(opts["threads"])]
        if opts["access_log"]:
            web_cmd += ["--access-logfile", "-"]
        me = os.getpid()
        children = [subprocess.Popen(web_cmd, env=env, pass_fds=[listener.fileno()], preexec_fn=die_with(me))]
        listener.close()  # gunicorn has its own copy
        if not opts["no_worker"]:
            children.append(
                subprocess.Popen([sys.executable, "-m", "smmpanel", "worker"], env=env, preexec_fn=die_with(me))
            )
        shown = f"[{host}]" if ":" in host else host
        self.stdout.write(f"smmpanel serving on http://{shown}:{port}/ (API: /api/v2)")
        self.stdout.flush()

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            # Run until asked to stop or until one of the two dies (then stop the other).
            while not stopping and all(c.poll() is None for c in children):
                time.sleep(0.2)
        finally:
            for c in children:
                if c.poll() is None:
                    c.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for c in children:
                try:
                    c.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    c.kill()
        codes = [c.returncode for c in children]
        if not stopping and any(codes):
            raise SystemExit(1)
