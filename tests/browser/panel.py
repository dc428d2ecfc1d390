"""A live panel for a browser: gunicorn and `smmpanel worker` on one fresh database.

Shared by the browser tests (tests/browser/conftest.py) and the screenshot script
(tests/browser/screenshots.py). The browser needs a real server on a real port, and
orders only move when the background worker runs, so both run as the owner runs
them: subprocesses on the same database (a SQLite file, or a PostgreSQL database the
caller made). Seeding and crediting go through the panel's own commands, as an
owner's would: the test process never writes the panel's database itself.
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, PanelServer


def database_is_postgres() -> bool:
    """Whether this run is the suite's PostgreSQL run (DATABASE_URL names PostgreSQL)."""
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


class LivePanel:
    """The panel at `base_url`, its worker running; `seed` and `credit` act as the owner."""

    def __init__(self, database_url: str, data_dir: Path):
        self.server = PanelServer(database_url, data_dir)
        # Orders must move while a browser watches: the worker polls often. E-mails (password
        # resets) go to the server's output, where a test reads them, whatever the machine's setup.
        self.server.env.update(
            WORKER_POLL_SECONDS="0.2", EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend"
        )
        self.base_url = f"http://127.0.0.1:{self.server.port}"
        self.worker: subprocess.Popen | None = None
        self.catalog: dict = {}  # what the seed printed: {service name: id} for the tests' catalog
        self.worker_log = data_dir / "worker.log"

    def start(self, seed: str = "from tests.browser.catalog import seed; seed()") -> dict:
        """Migrate, run `seed` in the panel's shell (it prints one JSON line), serve, start the worker.

        Returns what `seed` printed (kept as `catalog`).
        """
        self.server.manage("migrate", "--noinput")
        self.catalog = self.server.python(seed)
        self.server.start(workers=2, threads=4)
        self._worker_log = open(self.worker_log, "wb")  # noqa: SIM115 - closed in stop()
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "smmpanel", "worker"],
            cwd=REPO,
            env=self.server.env,
            stdout=self._worker_log,
            stderr=subprocess.STDOUT,
        )
        return self.catalog

    def credit(self, username: str, amount: str) -> None:
        """Add funds as the owner does today (`smmpanel funds add`): a deposit row in the ledger."""
        self.server.manage("funds", "add", username, amount, "--memo", "Added by the owner")

    def make_owner(self, username: str, password: str) -> None:
        """A staff superuser who logs in at /admin/, made as `createsuperuser` makes one."""
        self.server.python(
            "from django.contrib.auth import get_user_model;"
            f"get_user_model().objects.create_superuser({username!r}, '', {password!r}); print('{{}}')"
        )

    def logs(self) -> str:
        """The server's and the worker's output, for a failing test's report."""
        parts = []
        for path in (self.server.log, self.worker_log):
            if path.exists():
                parts.append(f"--- {path.name} ---\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        if self.worker is not None:
            if self.worker.poll() is None:
                self.worker.terminate()  # SIGTERM: it finishes its pass and exits
                try:
                    self.worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.worker.kill()
                    self.worker.wait()
            self._worker_log.close()
        self.server.stop()
