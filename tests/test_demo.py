"""The README's first command, end to end: `smmpanel demo`, then `smmpanel serve` on the embedded default.

A newcomer must be able to list services with curl and watch an order complete by itself.
"""

import os
import signal
import subprocess
import sys
import time

import httpx

from smmpanel.catalog.order_types import ORDER_TYPES

from .conftest import REPO, _free_port


def test_demo_then_serve_lists_services_and_completes_an_order(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # the embedded default
    env.update(SMMPANEL_DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    smmpanel = [sys.executable, "-m", "smmpanel"]
    out = subprocess.run([*smmpanel, "demo"], cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout
    key = out.strip().splitlines()[-1].split(": ")[-1]
    again = subprocess.run([*smmpanel, "demo"], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert again.stdout == out  # idempotent: same catalog, same key

    port = _free_port()
    url = f"http://127.0.0.1:{port}/api/v2"
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen([*smmpanel, "serve", "--port", str(port)], cwd=REPO, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                catalog = httpx.post(url, data={"key": key, "action": "services"}, timeout=5).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        assert {s["type"] for s in catalog} == {t.name for t in ORDER_TYPES}
        followers = next(s for s in catalog if s["type"] == "Default" and s["refill"])

        placed = httpx.post(url, data={"key": key, "action": "add", "service": followers["service"],
                                       "link": "https://instagram.com/newcomer", "quantity": "100"}).json()
        order_id = placed["order"]
        seen = []
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            status = httpx.post(url, data={"key": key, "action": "status", "order": order_id}).json()
            seen.append(status["status"])
            if status["status"] == "Completed":
                break
            time.sleep(0.5)
        assert seen[-1] == "Completed", seen
        assert status["remains"] == "0"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            assert server.wait(timeout=20) == 0
        finally:
            if server.poll() is None:
                server.kill()
            log.close()
