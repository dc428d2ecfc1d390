"""The fake gateways' fixtures, for the tests of the fakes in this folder."""

from tests.fake_gateways.fixtures import fake_cryptomus, fake_nowpayments, fake_stripe  # noqa: F401 - fixtures
