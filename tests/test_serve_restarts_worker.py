"""`smmpanel serve` survives its worker: a dead worker is started again, and the API never goes down with it.

The real command runs in a subprocess (tests/test_serving.py's `Serve`); the
test kills its background worker with SIGKILL, as the kernel's OOM killer
would, and talks HTTP to the API meanwhile.
"""

import os
import signal
import time
from pathlib import Path

import pytest

from .test_serving import Serve, alive, descendants


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def serve_database(request):
    """The database `serve` runs on: its own SQLite file (the embedded default), or a throwaway PostgreSQL one."""
    return None if request.param == "sqlite" else request.getfixturevalue("throwaway_postgres_db")


@pytest.fixture
def served(tmp_path, sqlite_template, serve_database):
    started = []

    def start(*args: str) -> Serve:
        server = Serve(tmp_path, sqlite_template, serve_database, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def worker_pid(server: Serve) -> int | None:
    """The background worker's pid (`python -m smmpanel worker`), None while there is none."""
    for pid in descendants(server.process.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if command[-3:] == [b"smmpanel", b"worker", b""] and alive(pid):
            return pid
    return None


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)
    return result


def test_a_killed_worker_is_started_again_and_the_api_stays_up(served):
    server = served()
    wait_for(lambda: worker_pid(server), 30, "the worker started")
    for _ in range(2):  # every time it dies
        killed = worker_pid(server)
        os.kill(killed, signal.SIGKILL)
        assert "balance" in server.balance()  # the API does not go down with it
        wait_for(lambda k=killed: (pid := worker_pid(server)) and pid != k and pid, 30, "a new worker")
        assert server.process.poll() is None, server.log()[-2000:]
        assert "balance" in server.balance()
    log = wait_for(lambda: server.log().count("worker started again") >= 2 and server.log(), 10, "the log says so")
    assert "killed by signal 9" in log and "starting it again in" in log


def test_a_worker_that_dies_at_once_again_and_again_stops_serve_with_a_clear_message(served):
    server = served("--worker-restart-delay", "0.2")  # 0.2, 0.4, 0.8, 1.6 s between the five
    killed = set()

    def kill_each_new_worker():
        pid = worker_pid(server)
        if pid is not None and pid not in killed:
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        return server.process.poll() is not None

    wait_for(kill_each_new_worker, 60, "serve gave up on its worker")
    assert server.process.returncode == 1
    log = server.log()
    assert "the worker died 5 times in a row within 10 s of starting" in log, log[-2000:]
    assert len(killed) == 5
