"""Screenshots of the panel for the README: `.venv/bin/python -m tests.browser.screenshots [OUT_DIR]`.

Starts a live panel (tests/browser/panel.py) on a throwaway SQLite database with the demo
(`smmpanel demo`'s catalog, customer and admin), gives it a month of demo-like orders
through the API, lets the worker move them, then photographs with Debian's chromium, at
desktop (1280×800) and phone (390×844) widths: the new-order page with a service chosen,
the orders page, the API page (as a customer) and the dashboard (as the staff admin).
Writes OUT_DIR/<page>-desktop.png and OUT_DIR/<page>-phone.png (default docs/screenshots).
"""

import random
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from smmpanel.client import ApiError, Client
from tests.browser.customer import choose_service, exactly
from tests.browser.panel import LivePanel
from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
WIDTHS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
DEMO_SEED = (
    "import json; from smmpanel.demo.seed import seed_catalog, seed_people;"
    "services = seed_catalog(); logins = seed_people();"
    "print(json.dumps({'key': logins.api_key, 'services': {s.name: s.pk for s in services}}))"
)
# Spread the finished orders over the last 30 days, older ids earlier, as a panel in use has them
# (the dashboard's chart counts orders by the day they were placed; a subscription's posts stay
# with it, today). Only this throwaway database is touched.
SPREAD_OVER_DAYS = (
    "import json, random; from datetime import timedelta; from django.utils import timezone;"
    "from smmpanel.orders.models import Order;"
    "rng = random.Random(8); now = timezone.now();"
    "ids = list(Order.objects.filter(status__in=['Completed', 'Partial'], parent__isnull=True)"
    ".order_by('id').values_list('id', flat=True))\n"
    "for n, pk in enumerate(ids):\n"
    "    days = 29 * (len(ids) - n) / len(ids)\n"
    "    ago = timedelta(days=days, hours=rng.uniform(0, 20))\n"
    "    Order.objects.filter(pk=pk).update(created=now - ago)\n"
    "print(json.dumps({'moved': len(ids)}))"
)


def place_demo_orders(panel: LivePanel) -> None:
    """Orders of several kinds through the API, as a reseller's script would place them."""
    services = panel.catalog["services"]
    rng = random.Random(8)
    with Client(panel.base_url + "/api/v2", panel.catalog["key"]) as api:

        def add(name: str, **params) -> int | None:
            try:
                return api.add(services[name], **params)
            except ApiError as e:
                print(f"  demo order on {name!r} refused: {e}")
                return None

        for n in range(36):  # quick ones: done (or Partial) within seconds
            add(
                rng.choice(["Instagram Followers [Refill 30d]", "Instagram Likes Package 1k"]),
                link=f"https://instagram.com/p/demo{n}",
                quantity=rng.choice([100, 250, 500, 1000]),
            )
        for n in range(4):
            add("Instagram Custom Comments", link=f"https://instagram.com/p/talk{n}", comments="Love it!\nSo good\nWow")
        for n in range(6):  # big and drip-fed: still In progress when the pictures are taken
            add(
                "Instagram Followers [Drip-feed]",
                link=f"https://instagram.com/brand{n}",
                quantity=5000,
                runs=4,
                interval=30,
            )
        add("Instagram Auto Likes (subscription)", username="demo.brand", min=100, max=200, posts=10, delay=0)
        canceled = add("Instagram Followers [Drip-feed]", link="https://instagram.com/oops", quantity=8000)
        if canceled is not None:
            api.cancel(canceled)


def wait_until_quiet(panel: LivePanel, seconds: float) -> None:
    """Give the worker time to start, finish and refund what it will."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert panel.worker is not None and panel.worker.poll() is None, panel.logs()
        time.sleep(1)


def log_in(page, path: str, username: str, password: str) -> None:
    page.goto(path)
    page.get_by_label(exactly("Username")).fill(username)
    page.get_by_label(exactly("Password")).fill(password)
    page.get_by_label(exactly("Password")).press("Enter")
    page.wait_for_load_state("networkidle")


def choose_a_service(page, service_id: int) -> None:
    """The new-order page as a customer sees it mid-order: a service chosen, fields filled, the charge shown."""
    choose_service(page, "Instagram Followers", service_id)
    page.get_by_label("Link").fill("https://instagram.com/demo.brand")
    page.get_by_label("Quantity").fill("2500")
    expect(page.locator("#charge")).to_contain_text("USD")  # the live charge, once it has answered


def shoot(browser, panel: LivePanel, out: Path) -> list[Path]:
    services = panel.catalog["services"]
    written = []
    for width, viewport in WIDTHS.items():
        customer = browser.new_context(base_url=panel.base_url, viewport=viewport)
        staff = browser.new_context(base_url=panel.base_url, viewport=viewport)
        page, admin = customer.new_page(), staff.new_page()
        log_in(page, "/login/", "demo", "demo-password")
        log_in(admin, "/admin/login/", "admin", "admin-password")
        shots = [
            ("new-order", page, "/order/", lambda p: choose_a_service(p, services["Instagram Followers [Refill 30d]"])),
            ("orders", page, "/orders/", None),
            ("api", page, "/api/", None),
            ("dashboard", admin, "/admin/", None),
        ]
        for name, tab, path, prepare in shots:
            tab.goto(path)
            tab.wait_for_load_state("networkidle")
            if prepare is not None:
                prepare(tab)
            target = out / f"{name}-{width}.png"
            tab.screenshot(path=str(target))
            written.append(target)
            print(f"  {target.relative_to(REPO) if target.is_relative_to(REPO) else target}  ({tab.url})")
        customer.close()
        staff.close()
    return written


def main(argv: list[str]) -> int:
    out = Path(argv[0]).resolve() if argv else REPO / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="smmpanel-screenshots-") as tmp:
        panel = LivePanel(f"sqlite:///{tmp}/panel.sqlite3", Path(tmp))
        try:
            print("starting a demo panel ...")
            panel.start(seed=DEMO_SEED)
            place_demo_orders(panel)
            wait_until_quiet(panel, 25)
            print(f"  {panel.server.python(SPREAD_OVER_DAYS)['moved']} finished orders spread over 30 days")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
                try:
                    shoot(browser, panel, out)
                finally:
                    browser.close()
        except Exception:
            print(panel.logs(), file=sys.stderr)
            raise
        finally:
            panel.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
