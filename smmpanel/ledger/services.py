"""The only functions that change a balance: deposit, debit (charge), refund, adjust.

Each one writes the balance and its ledger row in the same transaction, so the
balance always equals the sum of the rows. A debit is a single conditional
UPDATE (`balance >= amount`), which is atomic on every database: concurrent
debits can never take a balance below zero, and no read-modify-write race
exists to lose an update.
"""

from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from smmpanel.accounts.models import Account
from smmpanel.ledger.fields import from_units, money, to_units
from smmpanel.ledger.models import Kind, LedgerEntry
from smmpanel.ledger.money import ZERO, round5


class NotEnoughFunds(Exception):
    pass


def _add_to_balance(account_id: int, amount: Decimal, guard: bool) -> Decimal:
    """balance += amount in one statement; with `guard`, only if it stays >= 0. Returns the new balance."""
    if not connection.features.can_return_columns_from_insert:  # SQLite before 3.35: no RETURNING
        rows = Account.objects.filter(pk=account_id)
        if guard:
            rows = rows.filter(balance__gte=-amount)
        if not rows.update(balance=F("balance") + money(amount)):
            raise NotEnoughFunds
        return Account.objects.filter(pk=account_id).values_list("balance", flat=True).get()
    # One round trip instead of UPDATE then SELECT: this is on every order's path.
    table = connection.ops.quote_name(Account._meta.db_table)
    units = to_units(amount)
    sql = f"UPDATE {table} SET balance = balance + %s WHERE id = %s"
    params = [units, account_id]
    if guard:
        sql += " AND balance >= %s"
        params.append(-units)
    with connection.cursor() as cursor:
        cursor.execute(sql + " RETURNING balance", params)
        row = cursor.fetchone()
    if row is None:
        raise NotEnoughFunds
    return from_units(row[0])


def _move(account_id: int, amount: Decimal, kind: str, *, order=None, reason="", memo="", guard=False):
    amount = round5(amount)
    # No savepoint: callers already run inside their own transaction, and a
    # failure here aborts it as a whole.
    with transaction.atomic(savepoint=False):
        balance = _add_to_balance(account_id, amount, guard)
        return LedgerEntry.objects.create(
            account_id=account_id,
            kind=kind,
            amount=amount,
            balance_after=balance,
            order=order,
            reason=reason,
            memo=memo[:500],
        )


def deposit(account: Account, amount: Decimal, memo: str = "") -> LedgerEntry:
    if round5(amount) <= ZERO:
        raise ValueError("a deposit must be positive")
    return _move(account.pk, amount, Kind.DEPOSIT, memo=memo)


def adjust(account: Account, amount: Decimal, memo: str) -> LedgerEntry:
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
