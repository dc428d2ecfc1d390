"""The `smmpanel` command-line front: user creation, funds, and the API key it prints."""

import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from smmpanel.accounts.models import Account
from smmpanel.ledger.models import LedgerEntry

from .conftest import REPO


def run(*args, capsys):
    call_command(*args)
    return capsys.readouterr().out


@pytest.mark.django_db
def test_user_create_prints_only_a_working_api_key(capsys, api):
    out = run("user", "create", "alice", "--email", "a@example.com", "--balance", "12.5", capsys=capsys)
    key = out.strip()
    assert out.count("\n") == 1 and len(key) >= 32 and key.isalnum()
    assert api(key, "balance") == {"balance": "12.50000", "currency": "USD"}
    account = Account.objects.get(user__username="alice")
    assert account.api_key_hash != key and key not in account.api_key_hash  # stored hashed
    assert LedgerEntry.objects.get(account=account).kind == "deposit"


@pytest.mark.django_db
def test_user_create_refuses_an_existing_username(capsys):
    run("user", "create", "bob", capsys=capsys)
    with pytest.raises(CommandError, match="already exists"):
        call_command("user", "create", "bob")


@pytest.mark.django_db
def test_user_key_replaces_the_old_key(capsys, api):
    old = run("user", "create", "carol", capsys=capsys).strip()
    new = run("user", "key", "carol", capsys=capsys).strip()
    assert new != old
    assert api(old, "balance") == {"error": "Invalid API key"}
    assert api(new, "balance")["balance"] == "0.00000"


@pytest.mark.django_db
def test_funds_add_credits_through_the_ledger(capsys):
    run("user", "create", "dave", "--balance", "1", capsys=capsys)
    out = run("funds", "add", "dave", "2.25", "--memo", "bank transfer 42", capsys=capsys)
    assert "balance 3.25000" in out
    entry = LedgerEntry.objects.filter(account__user__username="dave").first()
    assert (entry.kind, entry.amount, entry.memo) == ("deposit", Decimal("2.25000"), "bank transfer 42")


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["abc", "NaN", "0", "-0", "0.000001", "inf", "1e30", "-100000000000000", ""])
def test_funds_add_refuses_amounts_that_are_not_numbers_or_zero(capsys, amount):
    run("user", "create", "erin", capsys=capsys)
    # A CommandError (printed as one line, exit status 1), never a traceback.
    with pytest.raises(CommandError) as refused:
        call_command("funds", "add", "erin", amount, "--memo", "x")
    assert str(refused.value) == (
        f"AMOUNT must be a non-zero number of USD, e.g. 25, 12.50 or -3 to take money back (got {amount!r})"
    )
    assert Account.objects.get(user__username="erin").balance == 0
    assert not LedgerEntry.objects.filter(account__user__username="erin").exists()


def test_the_console_command_is_a_front_to_django_management(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["SMMPANEL_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "smmpanel", "check"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "secret_key").exists()  # generated and kept when none is configured
