"""Fixtures of the payments tests: gateways, and checks that every balance equals its ledger."""

import pytest

from tests.conftest import money_is_conserved


@pytest.fixture
def gateway(db):
    """gateway(kind="manual", name=None, **fields) -> an enabled Gateway."""
    from smmpanel.payments.models import Gateway

    def make(kind="manual", name=None, bonuses=(), **fields):
        fields.setdefault("enabled", True)
        gw = Gateway.objects.create(name=name or kind, kind=kind, **fields)
        for min_amount, percent in bonuses:
            gw.bonuses.create(min_amount=min_amount, percent=percent)
        return gw

    return make


@pytest.fixture
def conserved():
    """conserved(*customers): each balance equals its ledger, is never negative, and adds up (see tests/conftest.py)."""

    def check(*customers):
        for cust in customers:
            money_is_conserved(cust)

    return check
