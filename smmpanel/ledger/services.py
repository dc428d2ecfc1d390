"""The only functions that change a balance: deposit, debit (charge), refund, adjust; and for payments
credit_payment, take_back (a refund or chargeback at a gateway, the rest as debt) and pay_debt.

Each one writes the balance and its ledger row in the same transaction, so the
balance always equals the sum of the rows. A debit is a single conditional
UPDATE (`balance >= amount`), which is atomic on every database: concurrent
debits can never take a balance below zero, and no read-modify-write race
exists to lose an update.

The ledger sits below accounts (an account's balance field and its services
are built on it), so the account model is reached through the ledger row's
foreign key, not imported.
"""

from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from smmpanel import fastsql
from smmpanel.ledger.fields import from_units, money, to_units
from smmpanel.ledger.models import Kind, LedgerEntry
from smmpanel.ledger.money import ZERO, round5

if TYPE_CHECKING:  # annotations only (see the docstring)
    from smmpanel.accounts.models import Account


class NotEnoughFunds(Exception):
    pass


def _accounts() -> "type[Account]":
    """The model holding the balances: the one a ledger row's `account` points to."""
    return cast("type[Account]", LedgerEntry._meta.get_field("account").related_model)


class InDebt(NotEnoughFunds):
    """A charge refused because the account owes money (Account.debt, left by a gateway's refund)."""

    def __init__(self, debt: Decimal):
        super().__init__(debt)
        self.debt = debt


# Guards of a balance update: none (credits), "funds" (never below zero), "charge" (that, and no debt).
NO_GUARD, FUNDS, CHARGE = "", "funds", "charge"


@cache
def _balance_update_sql(guard: str) -> str:
    Account = _accounts()
    account, balance, pk = fastsql.table(Account), fastsql.column(Account, "balance"), fastsql.column(Account, "id")
    sql = f"UPDATE {account} SET {balance} = {balance} + %s WHERE {pk} = %s"
    if guard:
        sql += f" AND {balance} >= %s"
    if guard == CHARGE:
        # An account in debt places no order: refused by the same statement, so a refund's debt
        # arriving while an order is placed cannot slip between a check and the charge.
        sql += f" AND {fastsql.column(Account, 'debt')} = 0"
    return sql


def _balance_params(account_id: int, units: int, guard: str) -> list:
    return [units, account_id, -units] if guard else [units, account_id]


@cache
def _balance_after_position() -> int:
    """Where balance_after stands among the ledger's insert values (the statement computes it)."""
    return [f.name for f in fastsql.insert_fields(LedgerEntry)].index("balance_after")


@cache
def _move_sql_postgresql(guard: str) -> str:
    """One statement: the balance update and its ledger row (a data-modifying CTE).

    On every order's path, so it is worth it: the account row stays locked
    from this statement to COMMIT, and that is now one round trip, not three.
    """
    names = [f.name for f in fastsql.insert_fields(LedgerEntry)]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fastsql.insert_fields(LedgerEntry))
    values = ", ".join("moved.balance" if n == "balance_after" else "%s" for n in names)
    return (
        f"WITH moved AS ({_balance_update_sql(guard)} RETURNING {fastsql.column(_accounts(), 'balance')} AS balance) "
        f"INSERT INTO {fastsql.table(LedgerEntry)} ({columns}) SELECT {values} FROM moved "
        f"RETURNING {fastsql.column(LedgerEntry, 'id')}, {fastsql.column(LedgerEntry, 'balance_after')}"
    )


def _refused(account_id: int, guard: str) -> NotEnoughFunds:
    """Why a guarded update changed nothing: InDebt for a charge to an account in debt, else NotEnoughFunds.

    Read on the refused path only (still inside the move's transaction): a charge that passes reads nothing more.
    """
    if guard == CHARGE:
        debt = _accounts().objects.filter(pk=account_id).values_list("debt", flat=True).first()
        if debt:
            return InDebt(debt)
    return NotEnoughFunds()


@cache
def _balance_returning_sql(guard: str) -> str:
    return f"{_balance_update_sql(guard)} RETURNING {fastsql.column(_accounts(), 'balance')}"


def _add_to_balance(account_id: int, units: int, guard: str) -> Decimal:
    """balance += amount; with `guard`, only if it stays >= 0. Returns the new balance."""
    sql, params = _balance_update_sql(guard), _balance_params(account_id, units, guard)
    if fastsql.returns_ids():
        row = fastsql.run(_balance_returning_sql(guard), params, write=True)
        if row is None:
            raise _refused(account_id, guard)
        return from_units(row[0])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)  # SQLite before 3.35: no RETURNING
        if not cursor.rowcount:
            raise _refused(account_id, guard)
    return _accounts().objects.filter(pk=account_id).values_list("balance", flat=True).get()


def _moved(account_id: int, amount: Decimal, guard: str, values: list) -> tuple[int, Decimal]:
    """balance += amount (see `guard`) and its ledger row; returns the row's id and balance_after.

    `values`: the row's prepared values (fastsql's insert order), balance_after's
    a placeholder, filled here from the new balance.
    """
    # No savepoint: callers already run inside their own transaction, and a
    # failure here aborts it as a whole.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            del values[_balance_after_position()]  # computed by the statement
            row = fastsql.run(
                _move_sql_postgresql(guard), _balance_params(account_id, to_units(amount), guard) + values, write=True
            )
            if row is None:
                raise _refused(account_id, guard)
            return row[0], from_units(row[1])
        balance = _add_to_balance(account_id, to_units(amount), guard)
        values[_balance_after_position()] = LedgerEntry._meta.get_field("balance_after").get_db_prep_save(
            balance, connection
        )
        return fastsql.insert_values(LedgerEntry, values), balance


def _move(account_id: int, amount: Decimal, kind: str, *, order=None, payment=None, reason="", memo="", guard=NO_GUARD):
    amount = round5(amount)
    entry = LedgerEntry(
        account_id=account_id,
        kind=kind,
        amount=amount,
        balance_after=0,
        order=order,
        payment_id=payment,
        reason=reason,
        memo=memo[:500],
    )
    # The instance's values: its auto_now_add `created` is set on it as a save sets it.
    entry.pk, entry.balance_after = _moved(account_id, amount, guard, fastsql.prepared_values(entry))
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


def deposit(account: "Account", amount: Decimal, memo: str = "") -> LedgerEntry:
    """An owner's deposit (the admin, `smmpanel funds add`); an account in debt pays its debt from it first."""
    if round5(amount) <= ZERO:
        raise ValueError("a deposit must be positive")
    with transaction.atomic():
        entry = _move(account.pk, amount, Kind.DEPOSIT, memo=memo)
        pay_debt(account.pk, None)
    return entry


def adjust(account: "Account", amount: Decimal, memo: str) -> LedgerEntry:
    """An owner's correction, either sign; never below zero."""
    return _move(account.pk, amount, Kind.ADJUSTMENT, memo=memo, guard=FUNDS)


def debit(account_id: int, amount: Decimal, order, memo: str = "") -> int:
    """Charge for an order; raises NotEnoughFunds (InDebt: the account owes money) and changes nothing when refused.

    Returns the ledger row's id. On every order's path, so no LedgerEntry is
    built: the row's values go straight to the statement (fastsql.row_values).
    """
    if order is not None and order.pk is None:  # as a save of LedgerEntry(order=order) refuses it
        raise ValueError("debit() prohibited to prevent data loss due to unsaved related object 'order'.")
    amount = -round5(amount)
    values = fastsql.row_values(
        LedgerEntry,
        {
            "account_id": account_id,
            "kind": Kind.CHARGE,
            "amount": amount,
            "balance_after": 0,
            "order_id": None if order is None else order.pk,
            "memo": memo[:500],
        },
    )
    return _moved(account_id, amount, CHARGE, values)[0]


def refund(account_id: int, amount: Decimal, order, reason: str, memo: str = "") -> LedgerEntry | None:
    """Give money back for an order, once per (order, reason).

    Returns None when that refund was already made (the unique constraint
    decides, so two workers applying the same outcome cannot both pay).
    """
    amount = round5(amount)
    if amount <= ZERO:
        return None
    try:
        with transaction.atomic():
            return _move(account_id, amount, Kind.REFUND, order=order, reason=reason, memo=memo)
    except IntegrityError:
        return None


# --- payments (smmpanel.payments calls these; the ledger knows a payment only by its id) ---------


def credit_payment(account_id: int, amount: Decimal, payment_id: int, kind: str, memo: str = "") -> LedgerEntry | None:
    """A payment's deposit (kind "deposit") or bonus (kind "bonus"), at most once per payment and kind.

    Returns None when that row exists already: the unique constraints
    `one_deposit_per_payment` and `one_bonus_per_payment` decide, so any
    number of webhooks, polls and clicks racing to credit one payment credit
    it once. No Python check comes first (it could not see a concurrent one).
    """
    if kind not in (Kind.DEPOSIT, Kind.BONUS):
        raise ValueError(f"not a payment credit: {kind}")
    amount = round5(amount)
    if amount <= ZERO:
        raise ValueError("a credit must be positive")
    try:
        with transaction.atomic():
            return _move(account_id, amount, kind, payment=payment_id, memo=memo)
    except IntegrityError:
        return None


def _locked_account(account_id: int) -> tuple[Decimal, Decimal]:
    """(balance, debt), the account row locked until the transaction ends (SQLite: the transaction is the lock)."""
    return _accounts().objects.select_for_update().filter(pk=account_id).values_list("balance", "debt").get()


def pay_debt(account_id: int, payment_id: int | None) -> Decimal:
    """Pay the account's debt from its balance after a deposit (a payment's: once per payment); returns what was paid.

    Call inside a transaction. A "debt" ledger row takes the money; for a
    payment, its unique constraint (one per payment) makes a repeat a no-op.
    """
    balance, debt = _locked_account(account_id)
    paid = min(balance, debt)
    if paid <= ZERO:
        return ZERO
    try:
        with transaction.atomic():
            memo = f"Debt paid from payment #{payment_id}" if payment_id else "Debt paid from the deposit"
            _move(account_id, -paid, Kind.DEBT, payment=payment_id, memo=memo, guard=FUNDS)
            _accounts().objects.filter(pk=account_id).update(debt=F("debt") - money(paid))
    except IntegrityError:
        return ZERO
    return paid


def take_back(account_id: int, amount: Decimal, payment_id: int, reason: str, memo: str = "") -> tuple | None:
    """A gateway's refund or chargeback of a payment: take `amount` back, once per (payment, reason).

    The balance never goes below zero (its CHECK stays): what the balance
    cannot give is added to the account's debt, which the next deposit pays
    first and which blocks new orders until then. Returns (taken from the
    balance, added to the debt), or None when this (payment, reason) was
    taken back already. The "chargeback" row is written even when the balance
    is empty (amount 0): it is what makes the refund unrepeatable.
    """
    amount = round5(amount)
    if amount < ZERO:
        raise ValueError("a take-back is a positive amount")
    try:
        with transaction.atomic():
            balance, _ = _locked_account(account_id)
            taken = min(balance, amount)
            owed = amount - taken
            note = memo + (f" ({owed} USD owed)" if owed else "")
            _move(account_id, -taken, Kind.CHARGEBACK, payment=payment_id, reason=reason, memo=note, guard=FUNDS)
            if owed:
                _accounts().objects.filter(pk=account_id).update(debt=F("debt") + money(owed))
    except IntegrityError:
        return None
    return taken, owed
