"""bench/web_data.py, the web benchmark's bulk loader: the panel it writes is one the panel itself could have written.

Run on a small panel in a throwaway PostgreSQL database (the loader needs PostgreSQL's COPY).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOADER = ROOT / "bench" / "web_data.py"
SIZES = ["--orders", "6000", "--big", "2000", "--customers", "20", "--days", "30"]


def load(db_url: str, *extra: str) -> tuple[dict, str]:
    server, _, name = db_url.rpartition("/")
    p = subprocess.run(
        [sys.executable, str(LOADER), "--db", name, "--pg-url", server, *SIZES, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("WEBDATA_JSON "))
    return json.loads(line.split(" ", 1)[1]), p.stderr


@pytest.fixture
def loaded(throwaway_postgres_db):
    import psycopg

    info, _ = load(throwaway_postgres_db)
    with psycopg.connect(throwaway_postgres_db) as conn:
        yield throwaway_postgres_db, info, conn


def one(conn, sql: str, params=()):
    return conn.execute(sql, params).fetchone()


def test_every_balance_is_the_sum_of_its_ledger_rows_and_never_went_below_zero(loaded):
    _, _, conn = loaded
    mismatched = one(
        conn,
        "SELECT count(*) FROM accounts_account a LEFT JOIN (SELECT account_id, sum(amount) s FROM ledger_ledgerentry "
        "GROUP BY 1) l ON l.account_id = a.id WHERE a.balance <> coalesce(l.s, 0)",
    )[0]
    assert mismatched == 0
    assert one(conn, "SELECT count(*) FROM ledger_ledgerentry WHERE balance_after < 0")[0] == 0
    # Each row's running balance follows from the one before it, in id order (the funds page's order).
    broken = one(
        conn,
        "SELECT count(*) FROM (SELECT balance_after, amount, lag(balance_after, 1, 0::bigint) OVER "
        "(PARTITION BY account_id ORDER BY id) AS before FROM ledger_ledgerentry) r "
        "WHERE r.before + r.amount <> r.balance_after",
    )[0]
    assert broken == 0


def test_each_paid_order_was_charged_once_and_refunded_what_it_says(loaded):
    _, _, conn = loaded
    charges = one(
        conn,
        "SELECT count(*) FROM orders_order o WHERE NOT o.paid_by_parent AND (SELECT count(*) FROM "
        "ledger_ledgerentry l WHERE l.order_id = o.id AND l.kind = 'charge' AND l.amount = -o.charge) <> 1",
    )[0]
    assert charges == 0
    refunds = one(
        conn,
        "SELECT count(*) FROM orders_order o WHERE o.refunded <> coalesce((SELECT sum(amount) FROM "
        "ledger_ledgerentry l WHERE l.order_id = o.id AND l.kind = 'refund'), 0)",
    )[0]
    assert refunds == 0
    # Prepaid subscription posts were paid by their subscription, not charged again.
    assert one(
        conn,
        "SELECT count(*) FROM orders_order o JOIN ledger_ledgerentry l ON l.order_id = o.id "
        "WHERE o.paid_by_parent AND l.kind = 'charge'",
    ) == (0,)


def test_the_big_customer_has_orders_on_every_tab_of_the_orders_page_with_ids_rising_in_time(loaded):
    _, info, conn = loaded
    statuses = dict(
        conn.execute("SELECT status, count(*) FROM orders_order WHERE account_id = 1 GROUP BY 1").fetchall()
    )
    for tab in ("Pending", "In progress", "Processing", "Completed", "Partial", "Canceled"):
        assert statuses.get(tab, 0) > 0, (tab, statuses)
    assert info["big_orders"] == sum(statuses.values())
    later_but_smaller = one(
        conn,
        "SELECT count(*) FROM (SELECT created, lag(created) OVER (ORDER BY id) AS before FROM orders_order "
        "WHERE parent_id IS NULL) o WHERE o.created < o.before",
    )[0]
    assert later_but_smaller == 0
    # The big customer's orders are spread among the others', not packed together.
    others_between = one(
        conn,
        "SELECT count(*) FROM orders_order WHERE account_id <> 1 AND id BETWEEN %s AND %s",
        [info["big_min_id"], info["big_max_id"]],
    )[0]
    assert others_between > info["big_orders"]


def test_a_second_run_reuses_the_loaded_database_and_reload_rebuilds_it(loaded):
    url, info, conn = loaded
    conn.close()
    again, said = load(url)
    assert again["loaded_at"] == info["loaded_at"]
    assert "already loaded" in said
    rebuilt, _ = load(url, "--reload")
    assert rebuilt["loaded_at"] != info["loaded_at"]
