"""The only functions that change a balance: deposit, debit (charge), refund, adjust.

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

from smmpanel import fastsql
from smmpanel.ledger.fields import from_units, to_units
from smmpanel.ledger.models import Kind, LedgerEntry
from smmpanel.ledger.money import ZERO, round5

if TYPE_CHECKING:  # annotations only (see the docstring)
    from smmpanel.accounts.models import Account


class NotEnoughFunds(Exception):
    pass


def _accounts() -> "type[Account]":
    """The model holding the balances: the one a ledger row's `account` points to."""
    return cast("type[Account]", LedgerEntry._meta.get_field("account").related_model)


def _balance_update_sql(guard: bool) -> str:
    Account = _accounts()
    account, balance, pk = fastsql.table(Account), fastsql.column(Account, "balance"), fastsql.column(Account, "id")
    sql = f"UPDATE {account} SET {balance} = {balance} + %s WHERE {pk} = %s"
    return sql + (f" AND {balance} >= %s" if guard else "")


def _balance_params(account_id: int, units: int, guard: bool) -> list:
    return [units, account_id, -units] if guard else [units, account_id]


@cache
def _balance_after_position() -> int:
    """Where balance_after stands among the ledger's insert values (the statement computes it)."""
    return [f.name for f in fastsql.insert_fields(LedgerEntry)].index("balance_after")


@cache
def _move_sql_postgresql(guard: bool) -> str:
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


def _add_to_balance(account_id: int, units: int, guard: bool) -> Decimal:
    """balance += amount; with `guard`, only if it stays >= 0. Returns the new balance."""
    sql, params = _balance_update_sql(guard), _balance_params(account_id, units, guard)
    with connection.cursor() as cursor:
        if fastsql.returns_ids():
            cursor.execute(f"{sql} RETURNING {fastsql.column(_accounts(), 'balance')}", params)
            row = cursor.fetchone()
            if row is None:
                raise NotEnoughFunds
            return from_units(row[0])
        cursor.execute(sql, params)  # SQLite before 3.35: no RETURNING
        if not cursor.rowcount:
            raise NotEnoughFunds
    return _accounts().objects.filter(pk=account_id).values_list("balance", flat=True).get()


def _move(account_id: int, amount: Decimal, kind: str, *, order=None, reason="", memo="", guard=False):
    amount = round5(amount)
    entry = LedgerEntry(account_id=account_id, kind=kind, amount=amount, order=order, reason=reason, memo=memo[:500])
    # No savepoint: callers already run inside their own transaction, and a
    # failure here aborts it as a whole.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            entry.balance_after = 0  # computed by the statement
            values = fastsql.prepared_values(entry)
            del values[_balance_after_position()]
            with connection.cursor() as cursor:
                cursor.execute(
                    _move_sql_postgresql(guard), _balance_params(account_id, to_units(amount), guard) + values
                )
                row = cursor.fetchone()
            if row is None:
                raise NotEnoughFunds
            entry.pk, entry.balance_after = row[0], from_units(row[1])
            entry._state.adding = False
        else:
            entry.balance_after = _add_to_balance(account_id, to_units(amount), guard)
            fastsql.insert(entry)
    return entry


def deposit(account: "Account", amount: Decimal, memo: str = "") -> LedgerEntry:
    if round5(amount) <= ZERO:
        raise ValueError("a deposit must be positive")
    return _move(account.pk, amount, Kind.DEPOSIT, memo=memo)


def adjust(account: "Account", amount: Decimal, memo: str) -> LedgerEntry:
    """An owner's correction, either sign; never below zero."""
    return _move(account.pk, amount, Kind.ADJUSTMENT, memo=memo, guard=True)


def debit(account_id: int, amount: Decimal, order, memo: str = "") -> LedgerEntry:
    """Charge for an order; raises NotEnoughFunds and changes nothing when the balance is short."""
    return _move(account_id, -round5(amount), Kind.CHARGE, order=order, memo=memo, guard=True)


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
