"""Fill a PostgreSQL database with a big panel for bench/web.py, in bulk (COPY), once; reuse it after.

What it holds (the defaults; see --help):
  - a catalog of 48 services in 12 categories covering all 16 order types (refill, cancel and
    drip-feed flags), half of them forwarded to one of two providers, half manual;
  - 3,000 customers with a long-tailed number of orders each, one customer ("big") with 100,000
    orders, and one staff user ("staff"), all with the password ``bench-password``;
  - about 1,000,000 orders over 90 days, ids rising with time and the customers' orders interleaved
    (as a real panel's table is, so a customer's rows are spread over the table's pages). Each order
    follows a plan made when it is placed: started after a few minutes, finished after hours (a
    long tail of days), Completed / Partial / Canceled; whatever its plan has not reached by now is
    Pending, In progress or Processing. A quarter of the drip-feed service's orders are drip-feed
    runs (runs done so far); subscriptions (prepaid posts) have one child order per post made so far
    and end Completed, Canceled or Expired with the unused posts refunded; completed orders of
    refill services sometimes have refills; a few active orders need attention;
  - the ledger as the panel would have written it: a charge row per paid order, a refund row per
    Partial / Canceled order or unused posts, and a deposit whenever the balance would not cover a
    charge; every row with its running balance, each account's balance equal to the sum of its rows;
  - the order history (status events), the upstream orders of forwarded orders (with the
    provider's charge, for the dashboard's cost and profit).

The catalog and the users are made through the models (a few rows); everything else is generated
in time order, one day at a time, and written with COPY (foreign-key triggers off while loading).
A small table ``webbench_info`` records what was loaded: the next run with the same sizes reuses
the database as it is (``--reload`` rebuilds it). Prints one ``WEBDATA_JSON {...}`` line with
what bench/web.py needs (users, counts, ids, a search term).

Usage (from the repository root, with the project's virtualenv; a PostgreSQL server at
127.0.0.1:5432 that the user ``postgres`` reaches without a password)::

    .venv/bin/python bench/web_data.py                    # smmpanel_webbench, built if missing
    .venv/bin/python bench/web_data.py --reload           # rebuild it
    .venv/bin/python bench/web_data.py --db smmpanel_webtiny --orders 20000 --big 5000 --customers 50
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import os
import random
import string
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PASSWORD = "bench-password"
BIG, STAFF = "big", "staff"
DAY = 86400.0
# Bumped when the generated data changes shape: a database loaded by another version is rebuilt.
VERSION = 3  # 3: no Order.runs_done (derived from remains since issue 13)

# (category, [(name, type, rate, min, max, flags)]); flags: r refill, c cancel, d drip-feed, p provider
CATALOG = [
    (
        "Instagram Followers",
        [
            ("Followers [Refill 30d]", "Default", "0.90", 50, 100000, "rcp"),
            ("Followers [Drip-feed]", "Default", "0.75", 50, 50000, "cd"),
            ("Followers [Real]", "Default", "2.40", 100, 20000, "rp"),
            ("Followers [Cheap]", "Default", "0.30", 100, 200000, ""),
        ],
    ),
    (
        "Instagram Likes",
        [
            ("Likes [Instant]", "Default", "0.12", 10, 50000, "cp"),
            ("Likes [Refill]", "Default", "0.25", 10, 50000, "r"),
            ("Likes Package 1k", "Package", "1.50", 1, 1, "p"),
            ("Comment Likes", "Comment Likes", "2.00", 20, 5000, "c"),
        ],
    ),
    (
        "Instagram Comments",
        [
            ("Custom Comments", "Custom Comments", "8.00", 1, 1500, "cp"),
            ("Custom Comments Package (10)", "Custom Comments Package", "4.00", 1, 10, ""),
            ("Comment Replies", "Comment Replies", "9.00", 1, 500, "p"),
            ("Random Comments", "Default", "5.00", 10, 1000, ""),
        ],
    ),
    (
        "Instagram Mentions",
        [
            ("Mentions", "Mentions", "3.00", 100, 10000, "p"),
            ("Mentions + Hashtags", "Mentions with Hashtags", "3.50", 100, 10000, ""),
            ("Mentions Custom List", "Mentions Custom List", "4.00", 1, 1000, "p"),
            ("Mentions (hashtag users)", "Mentions Hashtag", "3.20", 100, 10000, ""),
        ],
    ),
    (
        "Instagram Mentions+",
        [
            ("Mentions (user followers)", "Mentions User Followers", "3.20", 100, 10000, "p"),
            ("Mentions (media likers)", "Mentions Media Likers", "3.20", 100, 10000, ""),
            ("Story Views", "Default", "0.05", 100, 100000, "p"),
            ("Reel Views", "Default", "0.02", 100, 1000000, ""),
        ],
    ),
    (
        "Instagram Auto",
        [
            ("Auto Likes (subscription)", "Subscriptions", "0.60", 50, 5000, "c"),
            ("Auto Views (subscription)", "Subscriptions", "0.05", 100, 50000, "cp"),
            ("Auto Comments (subscription)", "Subscriptions", "6.00", 5, 100, ""),
            ("Auto Saves (subscription)", "Subscriptions", "0.40", 50, 5000, "p"),
        ],
    ),
    (
        "YouTube",
        [
            ("Views [Refill]", "Default", "1.10", 500, 1000000, "rcp"),
            ("Likes", "Default", "2.00", 20, 20000, "r"),
            ("Subscribers [Drip-feed]", "Default", "12.00", 50, 10000, "rdp"),
            ("Watch hours", "Default", "9.00", 100, 4000, ""),
        ],
    ),
    (
        "TikTok",
        [
            ("Followers", "Default", "1.40", 100, 100000, "rcp"),
            ("Likes", "Default", "0.35", 50, 100000, "c"),
            ("Views", "Default", "0.01", 1000, 10000000, "p"),
            ("Comments", "Custom Comments", "7.00", 1, 1000, ""),
        ],
    ),
    (
        "Telegram",
        [
            ("Poll Votes", "Poll", "1.20", 100, 50000, "rp"),
            ("Group Invites", "Invites from Groups", "5.00", 100, 5000, "c"),
            ("Channel Members", "Default", "1.80", 100, 50000, "rdp"),
            ("Post Views", "Default", "0.03", 100, 1000000, ""),
        ],
    ),
    (
        "Twitter / X",
        [
            ("Followers", "Default", "3.00", 100, 20000, "rp"),
            ("Likes", "Default", "0.90", 20, 10000, "c"),
            ("Retweets", "Default", "1.20", 20, 10000, "p"),
            ("Mentions Comment Likes", "Comment Likes", "2.50", 20, 5000, ""),
        ],
    ),
    (
        "Website Traffic",
        [
            ("Traffic [SEO keywords]", "SEO", "0.40", 100, 100000, "p"),
            ("Traffic [Worldwide]", "Default", "0.20", 1000, 1000000, "d"),
            ("Traffic [USA]", "Default", "0.80", 1000, 500000, "p"),
            ("Traffic [Mobile]", "Default", "0.50", 1000, 500000, ""),
        ],
    ),
    (
        "Spotify",
        [
            ("Plays", "Default", "0.60", 1000, 1000000, "rp"),
            ("Followers", "Default", "1.00", 100, 100000, "r"),
            ("Monthly listeners", "Default", "2.20", 500, 100000, "p"),
            ("Playlist followers", "Package", "25.00", 1, 1, ""),
        ],
    ),
]
# How often each type is ordered, relative (Default dominates, as on every panel).
TYPE_WEIGHT = {"Default": 8.0, "Subscriptions": 0.5}
OTHER_WEIGHT = 1.0
SITES = {
    "Instagram": "https://www.instagram.com/",
    "YouTube": "https://www.youtube.com/watch?v=",
    "TikTok": "https://www.tiktok.com/@",
    "Telegram": "https://t.me/",
    "Twitter": "https://x.com/",
    "Website": "https://www.example.com/",
    "Spotify": "https://open.spotify.com/track/",
}
LETTERS = string.ascii_lowercase + string.digits


def log(msg: str) -> None:
    print(f"[webdata {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--db", default="smmpanel_webbench", help="database name (default smmpanel_webbench)")
    p.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432", help="the PostgreSQL server")
    p.add_argument("--reload", action="store_true", help="drop and rebuild the database even if it is loaded")
    p.add_argument("--orders", type=int, default=1_000_000, help="orders in the panel, about (default 1,000,000)")
    p.add_argument("--big", type=int, default=100_000, help="orders of the customer 'big' (default 100,000)")
    p.add_argument("--customers", type=int, default=3000, help="other customers (default 3,000)")
    p.add_argument("--days", type=int, default=90, help="days the orders are spread over (default 90)")
    p.add_argument("--seed", type=int, default=8)
    p.add_argument(
        "--code", type=Path, default=ROOT, help="where smmpanel/ is taken from (bench/web.py: a snapshot of HEAD)"
    )
    return p.parse_args(argv)


# --- the database ---------------------------------------------------------------------------


def admin_sql(args, sql: str, fetch: bool = False):
    import psycopg

    with psycopg.connect(f"{args.pg_url}/postgres", autocommit=True, connect_timeout=10) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if fetch else None


def loaded_info(args) -> dict | None:
    """What webbench_info says was loaded into the database, or None (no database, or not loaded)."""
    import psycopg

    if not admin_sql(args, f"SELECT 1 FROM pg_database WHERE datname = '{args.db}'", fetch=True):
        return None
    with psycopg.connect(f"{args.pg_url}/{args.db}", connect_timeout=10) as conn:
        exists = conn.execute("SELECT to_regclass('webbench_info')").fetchone()
        if not exists or exists[0] is None:
            return None
        row = conn.execute("SELECT value FROM webbench_info WHERE key = 'info'").fetchone()
        return row[0] if row else None


def wanted(args) -> dict:
    return {
        "version": VERSION,
        "orders": args.orders,
        "big": args.big,
        "customers": args.customers,
        "days": args.days,
        "seed": args.seed,
    }


def django_env(args) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DEBUG")}
    env.update(
        DATABASE_URL=f"{args.pg_url}/{args.db}",
        DATABASE_POOL_SIZE="0",
        SECRET_KEY=env.get("SECRET_KEY", "bench-only-not-secret"),
        DJANGO_SETTINGS_MODULE="smmpanel.settings",
        LOG_LEVEL="WARNING",
    )
    return env


# --- generating ---------------------------------------------------------------------------


def ts_dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def units(amount_per_1000_units: int, qty: int) -> int:
    """rate (in 10⁻⁵ USD units) × qty / 1000, rounded half-up to a unit, as round5 does."""
    return (amount_per_1000_units * qty + 500) // 1000


class Table:
    """Rows of one model waiting for COPY: our columns first, then every other column's default."""

    def __init__(self, model, names: list[str]):
        from django.db import connection

        meta = model._meta
        fields = {f.name: f for f in meta.concrete_fields}
        self.table = meta.db_table
        self.columns = [fields[n].column for n in names]
        rest = [f for f in meta.concrete_fields if f.name not in names and not f.primary_key]
        self.columns += [f.column for f in rest]
        self.extra = tuple(f.get_db_prep_save(f.get_default(), connection) for f in rest)
        self.rows: list[tuple] = []
        self.count = 0

    def add(self, *values) -> None:
        self.rows.append(values + self.extra)

    def flush(self, cur) -> None:
        if not self.rows:
            return
        cols = ", ".join(f'"{c}"' for c in self.columns)
        with cur.copy(f'COPY "{self.table}" ({cols}) FROM STDIN') as copy:
            for row in self.rows:
                copy.write_row(row)
        self.count += len(self.rows)
        self.rows = []


class Generator:
    """The panel's history, generated in time order; rows go to Tables, flushed once a day."""

    def __init__(self, args, services, accounts: list[int], big_account: int, now: float):
        from psycopg.types.json import Jsonb

        from smmpanel.ledger.models import LedgerEntry
        from smmpanel.orders.models import Order, OrderEvent, Refill
        from smmpanel.providers.models import UpstreamOrder

        self.Jsonb = Jsonb
        self.args = args
        self.rng = random.Random(args.seed)
        self.now = now
        self.start = now - args.days * DAY
        self.services = services  # list of dicts
        self.accounts = accounts
        self.big = big_account
        self.orders = Table(
            Order,
            [
                "id", "account", "service", "type", "link", "quantity", "runs", "interval", "total", "params",
                "charge", "refunded", "status", "start_count", "remains", "parent", "paid_by_parent",
                "post_number", "post_is_old", "posts_done", "old_posts_done", "cancel_requested_at",
                "needs_attention", "attention_note", "created", "updated", "started_at", "finished_at", "due_at",
            ],
        )  # fmt: skip
        self.ledger = Table(
            LedgerEntry, ["id", "account", "kind", "amount", "balance_after", "order", "reason", "memo", "created"]
        )
        self.events = Table(
            OrderEvent,
            ["id", "order", "created", "actor", "action", "old_status", "new_status", "remains", "start_count",
             "message"],
        )  # fmt: skip
        self.refills = Table(Refill, ["id", "order", "account", "status", "created", "updated", "due_at"])
        self.upstream = Table(
            UpstreamOrder,
            ["id", "order", "run", "provider", "state", "submitted_at", "quantity", "upstream_id", "status",
             "remains", "start_count", "charge", "checked_at"],
        )  # fmt: skip
        self.tables = [self.orders, self.ledger, self.events, self.refills, self.upstream]
        self.next_id = {"order": 1, "ledger": 1, "event": 1, "refill": 1, "upstream": 1}
        self.balance: dict[int, int] = {}
        self.heap: list = []  # (ts, seq, kind, payload): what happens later, in time order
        self.seq = 0
        self.big_handles = [self.word(8) for _ in range(40)]
        # Customers' weights: a long tail (a few resellers place most orders).
        weights = [self.rng.paretovariate(1.1) for _ in accounts]
        self.cum = list(_accumulate(weights))
        svc_weights = [TYPE_WEIGHT.get(s["type"], OTHER_WEIGHT) for s in services]
        self.svc_cum = list(_accumulate(svc_weights))
        self.handles: dict[int, list[str]] = {}

    # --- helpers
    def word(self, n: int) -> str:
        return "".join(self.rng.choices(LETTERS, k=n))

    def take(self, kind: str) -> int:
        i = self.next_id[kind]
        self.next_id[kind] = i + 1
        return i

    def later(self, ts: float, kind: str, payload) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (ts, self.seq, kind, payload))

    def handle_of(self, account: int) -> str:
        pool = (
            self.big_handles
            if account == self.big
            else self.handles.setdefault(account, [self.word(7) for _ in range(5)])
        )
        return self.rng.choice(pool)

    def link(self, service, account: int) -> str:
        site = next((v for k, v in SITES.items() if service["category"].startswith(k)), "https://example.com/")
        return f"{site}{self.handle_of(account)}/p/{self.word(11)}"

    def event(self, order_id: int, ts: float, old: str, new: str, remains, start_count, actor="worker") -> None:
        self.events.add(self.take("event"), order_id, ts_dt(ts), actor, "status", old, new, remains, start_count, "")

    def money(self, account: int, ts: float, kind: str, amount: int, order_id, reason: str, memo: str) -> None:
        bal = self.balance.get(account, 0)
        if amount < 0 and bal + amount < 0:
            # A customer tops up when the balance runs short, by a round sum.
            need = -amount - bal
            step = 100_000 * (self.rng.choice([20, 50, 100, 200]) if account != self.big else 1000)
            deposit = ((need + step - 1) // step) * step
            bal += deposit
            self.ledger.add(self.take("ledger"), account, "deposit", deposit, bal, None, "", "Deposit", ts_dt(ts - 1))
        bal += amount
        self.balance[account] = bal
        self.ledger.add(self.take("ledger"), account, kind, amount, bal, order_id, reason, memo, ts_dt(ts))

    # --- an order's plan
    def plan(self, ts: float, quantity: int):
        """(status, started_at, finished_at, delivered share) as of now, for an order placed at ts."""
        rng = self.rng
        r = rng.random()
        start_delay = rng.expovariate(1 / 600) if r > 0.02 else rng.uniform(0, 20 * DAY)  # a few wait long
        hours = rng.lognormvariate(1.2, 1.0) * (1 + quantity / 20000)
        if rng.random() < 0.03:
            hours *= 40  # the long tail: stuck for days
        started = ts + start_delay
        finished = started + hours * 3600
        outcome = rng.random()
        if outcome < 0.85:
            final, share = "Completed", 1.0
        elif outcome < 0.91:
            final, share = "Partial", rng.uniform(0.1, 0.9)
        else:
            final, share = "Canceled", 0.0
        if finished <= self.now:
            return final, (started if final != "Canceled" or rng.random() < 0.5 else None), finished, share
        if started <= self.now:
            status = "In progress" if rng.random() < 0.8 else "Processing"
            return status, started, None, min(0.95, (self.now - started) / (finished - started))
        return "Pending", None, None, 0.0

    def quantity(self, service) -> int:
        lo, hi = service["min"], service["max"]
        if lo == hi:
            return lo
        q = int(lo * (min(hi / lo, 2000) ** self.rng.random()))
        step = 100 if q >= 1000 else (10 if q >= 100 else 1)
        return max(lo, min(hi, q // step * step))

    # --- writing orders
    def place(self, ts: float, account: int) -> None:
        rng = self.rng
        service = self.services[bisect.bisect(self.svc_cum, rng.random() * self.svc_cum[-1])]
        if service["type"] == "Subscriptions":
            self.subscription(ts, account, service)
            return
        oid = self.take("order")
        qty = self.quantity(service)
        runs = interval = None
        params: dict = {}
        total = qty
        ot = service["type"]
        if ot == "Package":
            qty = total = 1
        elif ot in ("Custom Comments", "Custom Comments Package", "Comment Replies", "Mentions Custom List"):
            qty = total = min(qty, 40) if ot != "Custom Comments Package" else rng.randint(1, 10)
            key = "usernames" if ot == "Mentions Custom List" else "comments"
            params[key] = "\n".join(f"nice post {i}" for i in range(qty))
            if ot == "Comment Replies":
                params["username"] = self.word(8)
        elif ot == "SEO":
            params["keywords"] = "buy followers\nsmm panel"
        elif ot == "Mentions with Hashtags":
            params.update(usernames="alice\nbob", hashtags="#smm\n#growth")
        elif ot == "Mentions":
            params["usernames"] = "alice\nbob\ncarol"
        elif ot == "Mentions Hashtag":
            params["hashtag"] = "#smm"
        elif ot in ("Mentions User Followers", "Comment Likes"):
            params["username"] = self.word(8)
        elif ot == "Mentions Media Likers":
            params["media"] = f"https://www.instagram.com/p/{self.word(11)}"
        elif ot == "Poll":
            params["answer_number"] = rng.randint(1, 4)
        elif ot == "Invites from Groups":
            params["groups"] = "group_one\ngroup_two"
        if service["dripfeed"] and rng.random() < 0.25:
            runs, interval = rng.randint(2, 10), rng.choice([10, 30, 60, 120, 360])
            total = qty * runs
        once = ot in ("Package", "Custom Comments Package")
        charge = service["rate_units"] if once else units(service["rate_units"], total)
        self.order(oid, ts, account, service, self.link(service, account), qty, total, params, charge, runs, interval)

    def order(self, oid, ts, account, service, link, qty, total, params, charge, runs=None, interval=None,
              parent=None, post_number=None, post_is_old=False) -> None:  # fmt: skip
        rng = self.rng
        status, started, finished, share = self.plan(ts, total)
        if runs:  # a drip-feed runs on its interval, whatever the plan says about speed
            finished_runs = (self.now - ts) / (interval * 60)
            if status not in ("Completed", "Partial", "Canceled") and finished_runs >= runs:
                status, finished = "In progress", None
        delivered = int(total * share)
        remains = 0 if status == "Completed" else total - delivered
        start_count = rng.randint(0, 50000) if started else 0
        refunded = 0
        if status == "Partial" and total:
            refunded = (charge * remains + total // 2) // total
        elif status == "Canceled":
            refunded = charge
        attention = status in ("In progress", "Processing", "Pending") and rng.random() < 0.01
        cancel_req = finished - 60 if status == "Canceled" and finished and rng.random() < 0.5 else None
        updated = finished or started or ts
        due = None if finished else self.now + rng.uniform(60, 3600)
        self.orders.add(
            oid, account, service["id"], "Default" if parent else service["type"], link, qty, runs, interval,
            total, self.Jsonb(params), charge, refunded, status, start_count, remains, parent,
            parent is not None and service["type"] == "Subscriptions", post_number, post_is_old, 0, 0,
            ts_dt(cancel_req) if cancel_req else None, attention,
            "Provider answered with an error twice" if attention else "", ts_dt(ts), ts_dt(updated),
            ts_dt(started) if started else None, ts_dt(finished) if finished else None,
            ts_dt(due) if due else None,
        )  # fmt: skip
        if started:
            self.event(oid, started, "Pending", "In progress", total, start_count)
        if finished:
            self.event(oid, finished, "In progress" if started else "Pending", status, remains, start_count)
        if parent is None:  # a subscription's post was paid by the subscription
            self.money(account, ts, "charge", -charge, oid, "", f"Order #{oid}")
        if refunded:  # a post's refund too reaches the customer
            reason = "partial" if status == "Partial" else "canceled"
            self.later(finished, "refund", (account, refunded, oid, reason))
        if service["provider"]:
            cost = units(service["cost_units"], total)
            up_status = "Completed" if status == "Completed" else status
            self.upstream.add(
                self.take("upstream"), oid, 0, service["provider"], "placed", ts_dt(ts + 2), total,
                str(10_000_000 + oid), up_status, remains, start_count, Decimal(cost) / 100_000,
                ts_dt(min(self.now, updated + 60)),
            )  # fmt: skip
        if status == "Completed" and service["refill"] and rng.random() < 0.08:
            asked = finished + rng.uniform(DAY, 20 * DAY)
            if asked < self.now:
                self.later(asked, "refill", (oid, account))

    def subscription(self, ts: float, account: int, service) -> None:
        rng = self.rng
        oid = self.take("order")
        low = service["min"]
        high = min(service["max"], low * rng.choice([2, 4, 10]))
        posts, old_posts = rng.randint(5, 30), rng.choice([0, 0, 1, 3])
        delay = rng.choice([0, 0, 5, 30, 60])
        # The username plays the link's part: one running subscription per (service, username).
        username = f"{self.handle_of(account)}_{self.word(4)}"
        params = {"username": username, "min": low, "max": high, "delay": delay, "old_posts": old_posts,
                  "posts": posts}  # fmt: skip
        charge = units(service["rate_units"], high * (posts + old_posts))
        # The posts: old ones at once, new ones every 1–3 days; each an order the worker made.
        times = [(ts + 60 * (i + 1), True, i + 1) for i in range(old_posts)]
        t = ts
        for n in range(1, posts + 1):
            t += rng.uniform(0.5, 3) * DAY
            times.append((t, False, n))
        end = rng.random()
        if end < 0.1:  # canceled part-way
            stop = ts + rng.uniform(1, 20) * DAY
        elif end < 0.2:  # expired (its expiry date came)
            stop = ts + rng.uniform(5, 40) * DAY
        else:
            stop = times[-1][0] + DAY
        made = [(pt, old, n) for pt, old, n in times if pt < min(stop, self.now)]
        used = 0
        quantities = []
        for _ in made:
            q = rng.randint(low, high)
            quantities.append(q)
            used += units(service["rate_units"], q)
        if stop <= self.now:
            status = "Canceled" if end < 0.1 else ("Expired" if end < 0.2 else "Completed")
            finished = stop
        else:
            status, finished = ("Paused" if rng.random() < 0.05 else "Active"), None
        refunded = max(0, charge - used) if finished else 0
        self.orders.add(
            oid, account, service["id"], "Subscriptions", username, 0, None, None, 0, self.Jsonb(params), charge,
            refunded, status, 0, 0, None, False, None, False, sum(1 for m in made if not m[1]),
            sum(1 for m in made if m[1]), None, False, "", ts_dt(ts), ts_dt(finished or (made[-1][0] if made else ts)),
            ts_dt(ts), ts_dt(finished) if finished else None, None if finished else ts_dt(self.now + 3600),
        )  # fmt: skip
        if finished:
            self.event(oid, finished, "Active", status, 0, 0)
        self.money(account, ts, "charge", -charge, oid, "", f"Order #{oid}")
        if refunded:
            self.later(finished, "refund", (account, refunded, oid, "unused-posts"))
        for (pt, old, n), q in zip(made, quantities, strict=True):
            self.later(pt, "post", (oid, account, service, username, n, old, q))

    def post(self, ts: float, payload) -> None:
        parent, account, service, username, n, old, q = payload
        oid = self.take("order")
        link = f"https://www.instagram.com/p/{username}{'o' if old else 'n'}{n}"
        charge = units(service["rate_units"], q)
        self.order(oid, ts, account, service, link, q, q, {}, charge, parent=parent, post_number=n, post_is_old=old)

    def refill(self, ts: float, payload) -> None:
        oid, account = payload
        age = self.now - ts
        if age > 2 * DAY:
            status = "Completed" if self.rng.random() < 0.85 else "Rejected"
        else:
            status = "Pending" if self.rng.random() < 0.5 else "In progress"
        open_ = status in ("Pending", "In progress")
        updated = ts if open_ else ts + self.rng.uniform(3600, DAY)
        due = ts_dt(self.now + 600) if open_ else None
        self.refills.add(self.take("refill"), oid, account, status, ts_dt(ts), ts_dt(updated), due)

    # --- the days
    def run(self, cur) -> None:
        args, rng = self.args, self.rng
        top_level = args.orders - args.big
        for day in range(args.days):
            day_start = self.start + day * DAY
            day_end = min(day_start + DAY, self.now)
            # The panel grows: later days have more orders (×1.5 over the period), the same split each day.
            share = (1 + 0.5 * day / args.days) / sum(1 + 0.5 * d / args.days for d in range(args.days))
            n_other = round(top_level * 0.92 * share)  # about 8 % more come as subscription posts
            n_big = round(args.big * 0.92 * share)
            for _ in range(n_other):
                acct = self.accounts[bisect.bisect(self.cum, rng.random() * self.cum[-1])]
                self.later(rng.uniform(day_start, day_end), "order", acct)
            for _ in range(n_big):
                self.later(rng.uniform(day_start, day_end), "order", self.big)
            while self.heap and self.heap[0][0] < day_end:
                ts, _, kind, payload = heapq.heappop(self.heap)
                if kind == "order":
                    self.place(ts, payload)
                elif kind == "post":
                    self.post(ts, payload)
                elif kind == "refund":
                    account, amount, oid, reason = payload
                    self.money(account, ts, "refund", amount, oid, reason, f"Order #{oid}: {reason}")
                else:
                    self.refill(ts, payload)
            for t in self.tables:
                t.flush(cur)
            if day % 10 == 9:
                log(f"day {day + 1}/{args.days}: {self.orders.count:,} orders, {self.ledger.count:,} ledger rows")
        # Whatever is left was planned after now: it has not happened.


def _accumulate(values):
    total = 0.0
    for v in values:
        total += v
        yield total


# --- loading ----------------------------------------------------------------------------------


def load(args) -> dict:
    """Runs with Django set up on the (migrated, empty) database."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from smmpanel.accounts.models import Account
    from smmpanel.catalog.models import Category, Service
    from smmpanel.providers.models import Provider, ProviderService

    now = time.time()
    User = get_user_model()
    providers = [
        Provider.objects.create(name=f"Upstream {n}", api_url=f"https://upstream{n}.example/api/v2",
                                api_key=f"bench-provider-key-{n}-0123456789", currency="USD",
                                balance=Decimal(bal), balance_checked_at=ts_dt(now - 600))
        for n, bal in ((1, "1843.20000"), (2, "92.50000"))
    ]  # fmt: skip
    services = []
    for pos, (cat_name, items) in enumerate(CATALOG):
        cat = Category.objects.create(name=cat_name, position=pos)
        for spos, (name, type_, rate, lo, hi, flags) in enumerate(items):
            s = Service.objects.create(
                name=f"{cat_name.split()[0]} {name}", category=cat, type=type_, rate=Decimal(rate), min=lo, max=hi,
                refill="r" in flags, cancel="c" in flags, dripfeed="d" in flags, position=spos,
                description=f"{name}: starts in 0–1 h, up to 10k/day." + (" 30 days refill." if "r" in flags else ""),
                fulfilment="provider" if "p" in flags else "manual",
            )  # fmt: skip
            provider = providers[len(services) % 2] if "p" in flags else None
            cost = (Decimal(rate) * Decimal("0.62")).quantize(Decimal("0.00001"))
            if provider:
                ProviderService.objects.create(
                    service=s, provider=provider, upstream_service=str(1000 + s.pk), upstream_name=name,
                    upstream_category=cat_name, upstream_type=type_, upstream_rate=cost, upstream_min=lo,
                    upstream_max=hi, markup_percent=Decimal("61.29"), synced_at=ts_dt(now - 3600),
                )  # fmt: skip
            services.append({
                "id": s.pk, "type": type_, "category": cat_name, "min": lo, "max": hi,
                "rate_units": int(Decimal(rate) * 100_000), "cost_units": int(cost * 100_000),
                "refill": "r" in flags, "dripfeed": "d" in flags, "provider": provider.pk if provider else None,
            })  # fmt: skip
    log(f"catalog: {len(services)} services, {len(providers)} providers")

    password = make_password(PASSWORD)
    joined = ts_dt(now - (args.days + 30) * DAY)
    with connection.cursor() as c:
        cur = c.cursor  # psycopg's own cursor, for COPY
        cur.execute("SET session_replication_role = replica")  # no foreign-key triggers while loading
        user_t = Table(User, ["id", "password", "username", "email", "is_staff", "is_superuser", "is_active",
                              "date_joined"])  # fmt: skip
        acct_t = Table(Account, ["id", "user", "balance", "created"])
        names = [BIG] + [f"c{i:05d}" for i in range(1, args.customers + 1)]
        for i, name in enumerate(names, start=1):
            user_t.add(i, password, name, f"{name}@example.com", False, False, True, joined)
            acct_t.add(i, i, 0, joined)
        staff_id = len(names) + 1
        user_t.add(staff_id, password, STAFF, "staff@example.com", True, True, True, joined)
        user_t.flush(cur)
        acct_t.flush(cur)
        accounts = list(range(2, len(names) + 1))
        gen = Generator(args, services, accounts, 1, now)
        t0 = time.monotonic()
        with transaction.atomic():
            gen.run(cur)
        log(f"generated and copied in {time.monotonic() - t0:.0f} s")
        # Balances, as the ledger says (equal to the sum of each account's rows by construction).
        acct_table = Account._meta.db_table
        cur.execute("CREATE TEMP TABLE bal (id bigint, balance bigint)")
        with cur.copy("COPY bal (id, balance) FROM STDIN") as copy:
            for acct, bal in gen.balance.items():
                copy.write_row((acct, bal))
        cur.execute(f'UPDATE "{acct_table}" a SET balance = b.balance FROM bal b WHERE a.id = b.id')
        cur.execute("SET session_replication_role = DEFAULT")
        # Sequences after the ids we gave.
        for model_table in [User._meta.db_table, acct_table] + [t.table for t in gen.tables]:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{model_table}\"', 'id'), "
                f'COALESCE((SELECT max(id) FROM "{model_table}"), 1))'
            )
        order_table = gen.orders.table
        cur.execute(f'SELECT min(id), max(id), count(*) FROM "{order_table}" WHERE account_id = 1')
        lo, hi, n_big = cur.fetchone()
        info = {
            **wanted(args),
            "loaded_at": ts_dt(now).isoformat(),
            "password": PASSWORD,
            "big_user": BIG,
            "staff_user": STAFF,
            "big_orders": n_big,
            "big_min_id": lo,
            "big_max_id": hi,
            "search_handle": gen.big_handles[0],
            "rows": {t.table: t.count for t in gen.tables},
        }
        cur.execute("CREATE TABLE webbench_info (key text PRIMARY KEY, value jsonb)")
        cur.execute("INSERT INTO webbench_info VALUES ('info', %s)", [json.dumps(info)])
    return info


def main(argv=None) -> int:
    args = parse_args(argv)
    info = None if args.reload else loaded_info(args)
    if info and {k: info.get(k) for k in wanted(args)} == wanted(args):
        log(f"{args.db}: already loaded at {info['loaded_at']} ({info['rows']}); --reload to rebuild")
        print("WEBDATA_JSON", json.dumps(info), flush=True)
        return 0
    t0 = time.monotonic()
    log(f"{args.db}: creating")
    admin_sql(args, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    admin_sql(args, f'CREATE DATABASE "{args.db}"')
    env = django_env(args)
    subprocess.run([PY, "-m", "smmpanel", "migrate", "--noinput", "-v", "0"], env=env, cwd=args.code, check=True)
    os.environ.update(env)
    sys.path.insert(0, str(args.code))
    import django

    django.setup()
    info = load(args)
    log("VACUUM ANALYZE")
    admin = f"{args.pg_url}/{args.db}"
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    info["load_seconds"] = round(time.monotonic() - t0)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("UPDATE webbench_info SET value = %s WHERE key = 'info'", [json.dumps(info)])
    log(f"{args.db}: loaded in {info['load_seconds']} s: {info['rows']}")
    print("WEBDATA_JSON", json.dumps(info), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
