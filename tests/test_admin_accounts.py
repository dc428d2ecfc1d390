"""The owner's account pages: balance changes through the ledger, big ledgers, new customers and API keys."""

import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from smmpanel.accounts.models import Account
from smmpanel.ledger.models import LedgerEntry

from .conftest import money_is_conserved


@pytest.fixture
def owner_client(client, db):
    owner = get_user_model().objects.create_superuser("owner", "owner@example.com", "pw-owner-1")
    client.force_login(owner)
    return client


def account_url(account) -> str:
    return f"/admin/accounts/account/{account.pk}/change/"


def change_balance(owner_client, account, amount, memo="bank transfer 42", kind="adjustment"):
    return owner_client.post(account_url(account), {"kind": kind, "amount": amount, "memo": memo})


def rows_of(cust):
    return list(LedgerEntry.objects.filter(account_id=cust.account.pk).order_by("id"))


# --- balance changes ------------------------------------------------------------------------


def test_a_positive_adjustment_writes_one_ledger_row_and_moves_the_balance(owner_client, customer):
    cust = customer("10")
    response = change_balance(owner_client, cust.account, "2.5", memo="goodwill")
    assert response.status_code == 302
    assert cust.balance() == Decimal("12.50000")
    entry = rows_of(cust)[-1]
    assert (entry.kind, entry.amount, entry.balance_after) == ("adjustment", Decimal("2.50000"), Decimal("12.50000"))
    assert entry.memo == "goodwill (by owner)"
    money_is_conserved(cust)


def test_a_negative_adjustment_takes_money_back(owner_client, customer):
    cust = customer("10")
    assert change_balance(owner_client, cust.account, "-3", memo="chargeback").status_code == 302
    assert cust.balance() == Decimal("7.00000")
    entry = rows_of(cust)[-1]
    assert (entry.kind, entry.amount, entry.balance_after) == ("adjustment", Decimal("-3.00000"), Decimal("7.00000"))
    money_is_conserved(cust)


def test_an_adjustment_below_zero_is_refused_with_the_balance_in_words(owner_client, customer):
    cust = customer("2")
    response = change_balance(owner_client, cust.account, "-3", memo="chargeback")
    assert response.status_code == 200  # the form again, with the error
    assert "The balance is 2.00 USD: it cannot go below zero." in response.content.decode()
    assert cust.balance() == Decimal("2.00000")
    assert len(rows_of(cust)) == 1


def test_a_balance_change_needs_a_memo(owner_client, customer):
    cust = customer("2")
    response = change_balance(owner_client, cust.account, "5", memo="  ")
    assert "Say why the balance changes." in response.content.decode()
    assert cust.balance() == Decimal("2.00000")


def test_a_deposit_is_positive(owner_client, customer):
    cust = customer("5")
    response = change_balance(owner_client, cust.account, "-1", kind="deposit")
    assert "A deposit is positive" in response.content.decode()
    assert cust.balance() == Decimal("5.00000")
    assert change_balance(owner_client, cust.account, "1", kind="deposit").status_code == 302
    assert rows_of(cust)[-1].kind == "deposit"
    assert cust.balance() == Decimal("6.00000")


def test_saving_the_page_without_an_amount_changes_nothing(owner_client, customer):
    cust = customer("5")
    assert (
        owner_client.post(account_url(cust.account), {"kind": "deposit", "amount": "", "memo": ""}).status_code == 302
    )
    assert len(rows_of(cust)) == 1
    assert cust.balance() == Decimal("5.00000")


def test_the_balance_is_not_a_form_field(owner_client, customer):
    cust = customer("5")
    page = owner_client.get(account_url(cust.account)).content.decode()
    assert 'name="balance"' not in page
    owner_client.post(account_url(cust.account), {"balance": "1000", "kind": "deposit", "amount": "", "memo": ""})
    assert cust.balance() == Decimal("5.00000")


def test_an_account_with_10000_ledger_rows_opens_small_and_fast_and_takes_a_deposit(owner_client, customer):
    cust = customer("0")
    # 10,000 deposits of 0.01 (written in bulk for the test; the balance set to their sum).
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            account_id=cust.account.pk,
            kind="deposit",
            amount=Decimal("0.01"),
            balance_after=Decimal("0.01") * (i + 1),
            memo=f"row {i}",
        )
        for i in range(10_000)
    )
    Account.objects.filter(pk=cust.account.pk).update(balance=Decimal("100"))
    started = time.perf_counter()
    page = owner_client.get(account_url(cust.account))
    elapsed = time.perf_counter() - started
    assert page.status_code == 200
    assert len(page.content) < 100_000, len(page.content)  # the latest 50 rows, not 10,000
    assert elapsed < 2, elapsed
    body = page.content.decode()
    assert "row 9999" in body and "row 9949" not in body
    assert f"/admin/ledger/ledgerentry/?account__id__exact={cust.account.pk}" in body

    assert change_balance(owner_client, cust.account, "25", kind="deposit", memo="wire").status_code == 302
    assert cust.balance() == Decimal("125.00000")
    assert LedgerEntry.objects.filter(account_id=cust.account.pk).count() == 10_001
    money_is_conserved(cust)


def test_the_whole_ledger_of_an_account_is_paged_and_read_only(owner_client, customer):
    mine, other = customer("1"), customer("7")
    page = owner_client.get(f"/admin/ledger/ledgerentry/?account__id__exact={mine.account.pk}")
    assert page.status_code == 200
    body = page.content.decode()
    assert mine.user.username in body and other.user.username not in body
    assert owner_client.get("/admin/ledger/ledgerentry/add/").status_code == 403


# --- new customers ---------------------------------------------------------------------------


def test_the_owner_creates_a_customer_and_sees_the_key_once(owner_client):
    assert owner_client.get("/admin/accounts/account/add/").status_code == 200
    response = owner_client.post(
        "/admin/accounts/account/add/",
        {"username": "carol", "email": "carol@example.com", "password": "", "balance": "12.5"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    account = Account.objects.get(user__username="carol")
    key = response.context["pairs"][0][1]
    assert key in response.content.decode()
    assert Account.for_key(key) == account
    assert account.balance == Decimal("12.50000")
    assert account.user.email == "carol@example.com"
    assert not account.user.has_usable_password()
    assert LedgerEntry.objects.get(account=account).memo == "Opening balance"
    # Never again: the account's own page has only the key's first characters.
    page = owner_client.get(account_url(account)).content.decode()
    assert key not in page and key[:6] in page


def test_a_new_customer_with_a_password_can_log_in(owner_client, client):
    owner_client.post(
        "/admin/accounts/account/add/",
        {"username": "dan", "email": "", "password": "a-long-pass-phrase-9", "balance": ""},
    )
    user = get_user_model().objects.get(username="dan")
    assert user.check_password("a-long-pass-phrase-9")
    assert Account.objects.get(user=user).balance == 0


def test_a_taken_username_is_refused(owner_client, customer):
    cust = customer("1")
    response = owner_client.post(
        "/admin/accounts/account/add/", {"username": cust.user.username.upper(), "email": "", "password": ""}
    )
    assert "A user with that username already exists." in response.content.decode()
    assert Account.objects.count() == 1


def test_issuing_a_new_key_asks_first_then_shows_it_once_and_the_old_one_stops_working(owner_client, customer):
    cust = customer("1")
    ask = owner_client.post(
        "/admin/accounts/account/", {"action": "issue_api_key", "_selected_action": [cust.account.pk]}
    )
    assert ask.status_code == 200 and "Issue new keys" in ask.content.decode()
    assert Account.for_key(cust.key) == cust.account  # nothing changed yet

    done = owner_client.post(
        "/admin/accounts/account/", {"action": "issue_api_key", "_selected_action": [cust.account.pk], "apply": "1"}
    )
    assert done.status_code == 200 and "no-store" in done["Cache-Control"]
    new_key = done.context["pairs"][0][1]
    assert new_key in done.content.decode()
    assert Account.for_key(new_key) == cust.account
    assert Account.for_key(cust.key) is None


# --- only the owner's staff ----------------------------------------------------------------


@pytest.mark.parametrize("page", ["/admin/", "/admin/accounts/account/add/", "/admin/accounts/account/"])
def test_a_customer_is_sent_to_the_admin_log_in(client, customer, page):
    cust = customer("1")
    client.force_login(cust.user)
    response = client.get(page)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# --- the command line -----------------------------------------------------------------------


def test_funds_add_with_a_negative_amount_takes_money_back(customer, capsys):
    cust = customer("10", username="erin")
    call_command("funds", "add", "erin", "-3", "--memo", "chargeback")
    assert "erin: -3.00000 USD, balance 7.00000 USD" in capsys.readouterr().out
    entry = rows_of(cust)[-1]
    assert (entry.kind, entry.amount, entry.memo) == ("adjustment", Decimal("-3.00000"), "chargeback")
    money_is_conserved(cust)


def test_funds_add_refuses_to_go_below_zero_and_says_so(customer):
    cust = customer("2", username="frank")
    with pytest.raises(CommandError) as refused:
        call_command("funds", "add", "frank", "-3", "--memo", "chargeback")
    assert str(refused.value) == (
        "frank's balance is 2.00000 USD: taking 3.00000 USD would take it below zero; nothing changed"
    )
    assert cust.balance() == Decimal("2.00000")
    assert len(rows_of(cust)) == 1


def test_funds_add_needs_a_memo(customer):
    customer("2", username="gina")
    with pytest.raises(CommandError, match="memo"):
        call_command("funds", "add", "gina", "1", "--memo", " ")


def test_a_user_added_from_the_users_page_has_an_account(owner_client):
    response = owner_client.post(
        "/admin/auth/user/add/",
        {
            "username": "hank",
            "password1": "a-long-pass-phrase-9",
            "password2": "a-long-pass-phrase-9",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    account = Account.objects.get(user__username="hank")
    assert account.balance == 0 and not LedgerEntry.objects.filter(account=account).exists()
