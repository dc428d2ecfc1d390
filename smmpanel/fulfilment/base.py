"""The interface every fulfilment kind implements, and what the worker hands it.

A kind looks at a batch of claimed orders (or refills) of its own, decides
what happened since it last looked, reports it through smmpanel.orders.services
(which writes statuses, refunds and history), and says when to look at each
row again. It never writes money or statuses itself.

A claimed row carries its lease (`claim_token`): every state change a step
makes passes that lease to the orders services, which re-read the row under
lock and refuse the change (LeaseLost) when another worker has taken the row
over since. So a step that outlived its lease changes nothing.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import models, transaction

log = logging.getLogger(__name__)


class StepError(Exception):
    """A step failed. `permanent` ones go to "needs attention" at once; others are retried with back-off."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass
class Outcome:
    """What a step decided for one row: when to look again, or that it failed."""

    next_due: datetime | None = None
    error: StepError | None = None


class Fulfilment:
    name = ""
    # Does the worker move this kind's orders on? (False: a person does, in the admin.)
    worker_driven = False
    # Its per-service data: a model with a one-to-one `service` (None: no data of its own).
    # The catalog admin edits it inline on the service's page.
    service_data_model: type[models.Model] | None = None
    # Of that data, what the admin shows but never edits (e.g. what a provider sync read).
    service_data_readonly: tuple[str, ...] = ()
    # What to read with each claimed order (select_related paths from the order).
    order_related: tuple = ()
    # True when a step is database work only (no network): the worker then runs a few
    # rows' steps and releases in one transaction, one commit instead of several each.
    database_only = False

    def first_due(self, now: datetime) -> datetime | None:
        """When the worker should first look at a new order or refill of this kind (None: a person does it)."""
        return now

    # What a customer's request does, asked of the kind by smmpanel.orders.services (which
    # writes the changes named here, in the request's transaction, with its history line).

    def cancel_requested(self, order, now: datetime) -> dict:
        """The changes to `order` (locked) when its customer asks to cancel it, as {field: value}.

        The worker looks at it now, even if it was next due in a month (a
        drip-feed's next run): the worker's release keeps a due time set after
        its claim, and the kind's step sees `cancel_requested_at`.
        """
        return {"due_at": now}

    def refill_requested(self, order, refill) -> dict:
        """The changes to `order` when a refill of it is asked for, as {field: value}.

        Nothing by default: the refill itself is due at `first_due` and the worker takes it from there.
        """
        return {}

    def group_key(self, order):
        """Orders with the same key are handed to one `advance_orders` call (a provider: one upstream panel)."""
        return

    def advance_orders(self, orders: list, now: datetime) -> dict[int, Outcome]:
        """Move claimed orders on; an Outcome per order id (a missing id: released with nothing due).

        By default one at a time through `advance_order`; a kind that can do a
        batch at once (a provider's multi-status call) overrides this.
        """
        return {order.pk: self._one(self.advance_order, order, now) for order in orders}

    def advance_refills(self, refills: list, now: datetime) -> dict[int, Outcome]:
        return {refill.pk: self._one(self.advance_refill, refill, now) for refill in refills}

    def advance_order(self, order, now: datetime) -> datetime | None:
        """Move one order on; return when to look at it again (None: not until something changes)."""
        raise NotImplementedError

    def advance_refill(self, refill, now: datetime) -> datetime | None:
        raise NotImplementedError

    # --- what a person does in the admin --------------------------------------------------------

    def owner_edited(self, services: list, changed_fields) -> None:
        """A person changed these services of this kind by hand: keep what the kind must know of it."""

    def resume_refusal(self, order) -> str | None:
        """Why "look again" cannot simply hand this order back (None: it can).

        An order only a person can move on (say, one whose sending was
        ambiguous) must stay in "needs attention" until they do.
        """
        return None

    def resend(self, order_id: int, *, user=None) -> bool:
        """Send again an order whose sending was ambiguous (the person checked it did not arrive).

        False: there was nothing ambiguous to send again (the default: a kind that sends nothing).
        """
        return False

    @staticmethod
    def _one(step, row, now) -> Outcome:
        from smmpanel.orders.services import LeaseLost

        try:
            with transaction.atomic():  # a savepoint inside the worker's transaction: a failure undoes only this row
                return Outcome(next_due=step(row, now))
        except LeaseLost:
            return Outcome()  # another worker holds the row now; its release is not ours to make
        except StepError as e:
            log.warning("%s #%s: %s", type(row).__name__, row.pk, e)
            return Outcome(error=e)
        except Exception as e:  # recorded, retried with back-off
            log.exception("%s #%s: step failed", type(row).__name__, row.pk)
            return Outcome(error=StepError(f"{type(e).__name__}: {e}"))
