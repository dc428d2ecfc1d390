"""`smmpanel serve`: migrate, then run gunicorn (threaded WSGI) and the background worker together.

One command, one terminal: the embedded default. In production run
`gunicorn smmpanel.wsgi:application` (or several `serve --no-worker`) and
`smmpanel worker` processes separately instead.
"""

import os
import signal
import subprocess
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Apply migrations, then serve the panel with gunicorn and run the worker alongside."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
        parser.add_argument("--threads", type=int, default=8, help="threads per worker process (default 8)")
        parser.add_argument("--no-worker", action="store_true", help="serve only; run `smmpanel worker` elsewhere")
        parser.add_argument("--access-log", action="store_true", help="log every request to stdout")

    def handle(self, *args, **opts):
        call_command("migrate", interactive=False, verbosity=0)
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="smmpanel.settings")
        web_cmd = [
            sys.executable, "-m", "gunicorn", "smmpanel.wsgi:application",
            "--bind", f"{opts['host']}:{opts['port']}",
            "--workers", str(opts["workers"]),
            "--threads", str(opts["threads"]),
            "--worker-class", "gthread",
            "--graceful-timeout", "10",
        ]
        if opts["access_log"]:
            web_cmd += ["--access-logfile", "-"]
        children = [subprocess.Popen(web_cmd, env=env)]
        if not opts["no_worker"]:
            children.append(subprocess.Popen([sys.executable, "-m", "smmpanel", "worker"], env=env))
        self.stdout.write(f"smmpanel serving on http://{opts['host']}:{opts['port']}/ (API: /api/v2)")
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
