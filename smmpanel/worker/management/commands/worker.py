"""`smmpanel worker`: the background worker loop (orders to providers and back, simulated orders, refills).

Run as many as you like, on as many machines as share the database: rows are
claimed (see smmpanel/worker/claims.py), never taken twice. SIGTERM or Ctrl-C
finish the current pass and exit cleanly. Every ten minutes it also clears
out what has expired (idempotency keys older than a day). The owner's alerts (smmpanel/worker/alerts.py)
are sent and checked by a thread of their own, so that a slow mail server, Telegram or provider
never holds up the orders.
"""

import logging
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connections
from django.utils import timezone

from smmpanel.orders.idempotency import delete_expired
from smmpanel.worker import alerts as alert_jobs
from smmpanel.worker.loop import run_once

# How often a worker clears out what has expired (idempotency keys older than a day).
HOUSEKEEPING_SECONDS = 600
# How long a pass waits for the provider groups it started: a slow provider's group goes on
# after it, and the next pass (simulated orders, other providers) starts on time.
PASS_WAIT_SECONDS = 1.0


class Command(BaseCommand):
    help = "Run the background worker: advance due orders, subscriptions and refills."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass over what is due now, then exit")
        parser.add_argument("--poll", type=float, default=None, help="seconds between idle passes")

    def handle(self, *args, **opts):
        self.stopping = False

        def stop(signum, frame):
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        poll = opts["poll"] if opts["poll"] is not None else settings.WORKER_POLL_SECONDS
        if opts["once"]:
            self.stdout.write(f"handled {run_once()}")
            alert_jobs.run_once()
            return
        alerts = threading.Thread(target=self.alerts, args=(poll,), name="smmpanel-alerts", daemon=True)
        alerts.start()
        self.stdout.write("smmpanel worker started")
        tidied = 0.0
        while not self.stopping:
            close_old_connections()
            try:
                handled = run_once(wait=PASS_WAIT_SECONDS)
                if time.monotonic() - tidied > HOUSEKEEPING_SECONDS:
                    delete_expired(timezone.now())
                    tidied = time.monotonic()
            except Exception as e:  # the database may be restarting: wait, do not die
                logging.getLogger("smmpanel.worker").exception("worker pass failed: %s", e)
                handled = 0
            if not handled:
                # Sleep in small steps so a stop request is honoured quickly.
                deadline = time.monotonic() + poll
                while not self.stopping and time.monotonic() < deadline:
                    time.sleep(min(0.1, poll))
        alerts.join(alert_jobs.lease_seconds())
        self.stdout.write("smmpanel worker stopped")

    def alerts(self, poll: float) -> None:
        """The alerts' own loop (a thread): their duties when due, until the worker stops."""
        ensured = 0.0
        while not self.stopping:
            close_old_connections()
            try:
                ensure = time.monotonic() - ensured > 30  # new providers and channels get their duties
                alert_jobs.run_once(ensure=ensure)
                if ensure:
                    ensured = time.monotonic()
            except Exception as e:  # the database may be restarting: wait, do not die
                logging.getLogger("smmpanel.alerts").exception("alerts pass failed: %s", e)
            deadline = time.monotonic() + poll
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(min(0.1, poll))
        connections.close_all()  # this thread's own connection
