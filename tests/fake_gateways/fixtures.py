"""pytest fixtures starting each fake gateway for one test: `fake_stripe`, `fake_cryptomus`, `fake_nowpayments`.

Use them by importing them into a conftest.py beside the tests (as tests/fake_gateways/conftest.py
does; pytest refuses `pytest_plugins` outside the root conftest), or into the test module itself.
Each fake listens on its own port (127.0.0.1:0), so tests run in parallel (pytest-xdist) without
sharing anything; `.settings()` gives the panel settings that point at it (e.g. STRIPE_API_BASE).
"""

from collections.abc import Callable, Iterator

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


def deliver_to(client, path: str) -> Callable[[bytes, dict[str, str]], int]:
    """A fake's `deliver` callable posting each notification to `path` through Django's test client.

    In-process, no server: `fake.deliver = deliver_to(client, "/payments/notify/stripe/")`. The
    body goes byte for byte, with the fake's headers (Stripe-Signature, x-nowpayments-sig, ...).
    """

    def deliver(body: bytes, headers: dict[str, str]) -> int:
        rest = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        content_type = headers.get("Content-Type", "application/json")
        return client.post(path, body, content_type=content_type, headers=rest).status_code

    return deliver
