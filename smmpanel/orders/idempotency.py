"""Idempotent placing: one key, one order, however often (and however concurrently) it is sent.

A client that timed out cannot know whether its `add` was placed; with an
`Idempotency-Key` header (the IETF httpapi draft's name) or an
`idempotency_key` field it may simply send the same request again:

- same key, same parameters, within TTL: the first answer again, charged once;
- same key, other parameters: an error, nothing placed;
- a refused add (any {"error": ...}) stores nothing, so a retry runs anew;
- a key older than TTL is new again (its row is replaced; `delete_expired`
  is the cleanup the worker calls).

The API's `add` uses it, and so do the web panel's order forms (a token per
form). Keys are per customer. The key's row is inserted first, inside the same
transaction that places the order (place_order nests in it as a savepoint),
so the row exists exactly when the order does, and a second request with the
same key waits on the unique (account, key) index (PostgreSQL) or on the
IMMEDIATE write lock (SQLite) until the first commits, then fails its insert
and answers what the first stored. Requests without a key never come here.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from smmpanel.orders.errors import OrderError
from smmpanel.orders.models import IdempotentAdd

TTL = timedelta(hours=24)
FIELD = "idempotency_key"  # the API's field (its Idempotency-Key header arrives as this field too)
# Not part of what was asked: the API's credential and the key itself.
NOT_PARAMETERS = frozenset({"key", FIELD})
# A lost insert race means the winner's row exists; reading it is the second
# attempt. More attempts cover the winner's row expiring in between.
ATTEMPTS = 3


class KeyReused(OrderError):
    """The key was used with other parameters: nothing placed."""

    def __init__(self):
        super().__init__("idempotency_mismatch")


class _Refused(Exception):
    """Rolls the claim back: a refused add leaves no trace."""

    def __init__(self, answer: dict):
        super().__init__(answer)
        self.answer = answer


def key_of(fields: dict) -> str | None:
    """The request's idempotency key; None when it has none (or a blank one)."""
    text = fields.get(FIELD, "").strip()
    if not text:
        return None
    if len(text) > IdempotentAdd.MAX_KEY_LENGTH:
        raise OrderError("idempotency_key_too_long", maximum=IdempotentAdd.MAX_KEY_LENGTH)
    return text


def request_digest(fields: dict) -> str:
    """SHA-256 of the request's parameters: the same request in any encoding or field order gives one digest."""
    items = sorted((name, value) for name, value in fields.items() if name not in NOT_PARAMETERS)
    return hashlib.sha256(json.dumps(items, ensure_ascii=False).encode("utf-8", "surrogatepass")).hexdigest()


def _replay(row: IdempotentAdd, digest: str) -> dict:
    if row.request_digest != digest:
        raise KeyReused()
    return cast(dict, row.answer)  # never NULL once committed: the row and its answer commit together


def run_once(account_id: int, key: str, digest: str, add: Callable[[], dict], now: datetime | None = None) -> dict:
    """`add()`'s answer, run at most once per (account, key) within TTL; the stored answer after that."""
    now = now or timezone.now()
    for _ in range(ATTEMPTS):
        row = IdempotentAdd.objects.filter(account_id=account_id, key=key).first()
        if row is not None and row.created > now - TTL:
            return _replay(row, digest)
        try:
            with transaction.atomic():
                if row is not None:  # expired: the key is new again
                    IdempotentAdd.objects.filter(pk=row.pk).delete()
                claim = IdempotentAdd.objects.create(account_id=account_id, key=key, request_digest=digest, created=now)
                answer = add()
                if "error" in answer:
                    raise _Refused(answer)
                IdempotentAdd.objects.filter(pk=claim.pk).update(answer=answer)
            return answer
        except _Refused as refused:
            return refused.answer
        except IntegrityError:
            continue  # another request with this key committed first: answer what it stored
    raise RuntimeError(f"idempotency key {key!r} of account {account_id} kept changing")


def delete_expired(now: datetime) -> int:
    """Delete the rows of keys older than TTL (they no longer protect anything); returns how many."""
    deleted, _ = IdempotentAdd.objects.filter(created__lte=now - TTL).delete()
    return deleted
