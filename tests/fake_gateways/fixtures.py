"""pytest fixtures starting each fake gateway for one test: `fake_stripe`, `fake_cryptomus`, `fake_nowpayments`.

Use them by importing them into a conftest.py beside the tests (as tests/fake_gateways/conftest.py
does; pytest refuses `pytest_plugins` outside the root conftest), or into the test module itself.
Each fake listens on its own port (127.0.0.1:0), so tests run in parallel (pytest-xdist) without
sharing anything; `.settings()` gives the panel settings that point at it (e.g. STRIPE_API_BASE).
"""

from collections.abc import Iterator

import pytest

from tests.fake_gateways.cryptomus import FakeCryptomus
from tests.fake_gateways.nowpayments import FakeNOWPayments
from tests.fake_gateways.stripe import FakeStripe


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def fake_cryptomus() -> Iterator[FakeCryptomus]:
    with FakeCryptomus() as fake:
        yield fake


@pytest.fixture
def fake_nowpayments() -> Iterator[FakeNOWPayments]:
    with FakeNOWPayments() as fake:
        yield fake
