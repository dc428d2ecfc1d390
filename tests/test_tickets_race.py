"""The open-ticket cap under a race: many tickets opened at once by one customer never pass TICKETS_OPEN_MAX.

The control shows the race: counting open tickets and then inserting, without
the account's lock, lets every racer through.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.db import connection

from smmpanel.tickets import services
from smmpanel.tickets.errors import TicketError
from smmpanel.tickets.models import State, Ticket, TicketMessage

RACERS = 8
CAP = 3


def _in_threads(work) -> list:
    barrier = threading.Barrier(RACERS)

    def run(_):
        try:
            return work(barrier)
        finally:
            connection.close()

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(run, range(RACERS)))


@pytest.mark.django_db(transaction=True)
def test_tickets_opened_at_once_never_pass_the_cap_where_a_count_then_insert_would(customer, settings):
    settings.TICKETS_OPEN_MAX = CAP
    settings.TICKET_MESSAGES_PER_CUSTOMER = ""
    caches["default"].clear()

    # The control: count, then insert, with nothing held in between.
    naive = customer("0")

    def naive_open(barrier):
        count = Ticket.objects.filter(account_id=naive.account.pk).exclude(state=State.CLOSED).count()
        barrier.wait()  # every racer has counted before any inserts
        if count >= CAP:
            return False
        ticket = Ticket.objects.create(account_id=naive.account.pk, kind="other")
        TicketMessage.objects.create(ticket=ticket, body="race")
        return True

    assert sum(_in_threads(naive_open)) == RACERS > CAP

    # The services' way, under the same start.
    guarded = customer("0")

    def guarded_open(barrier):
        barrier.wait()
        try:
            services.open_ticket(guarded.account.pk, "other", "race")
            return "opened"
        except TicketError as error:
            return error.code

    outcomes = _in_threads(guarded_open)
    assert sorted(outcomes) == ["opened"] * CAP + ["too_many_open"] * (RACERS - CAP)
    assert Ticket.objects.filter(account_id=guarded.account.pk).count() == CAP
