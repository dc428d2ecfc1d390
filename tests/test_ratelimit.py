"""The API's per-key rate limit (API_RATE_LIMIT): 429 + Retry-After + JSON; per process or shared through Redis.

The Redis tests need a server at SMMPANEL_TEST_REDIS_URL (default
redis://127.0.0.1:6379/0): skipped with the reason when there is none,
a failure under CI=true (as the PostgreSQL tests are).
"""

import json
import logging
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured

from smmpanel import counters
from smmpanel.accounts.keys import hash_key
from smmpanel.api import ratelimit
from tests.conftest import REPO, PanelServer, call_api

TOO_MANY = {"error": "Too many requests"}


def balance(client, cust):
    return call_api(client, {"key": cust.key, "action": "balance"})


# --- the rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, rule",
    [
        ("", None),
        ("  ", None),
        ("20/s", counters.Rule(20, 1)),
        ("600/m", counters.Rule(600, 60)),
        ("10000/h", counters.Rule(10000, 3600)),
        (" 5 / minute ", counters.Rule(5, 60)),
        ("1/second", counters.Rule(1, 1)),
        ("30/MIN", counters.Rule(30, 60)),
    ],
)
def test_a_rate_is_requests_per_second_minute_or_hour(text, rule):
    assert counters.parse_rule(text) == rule


@pytest.mark.parametrize("text", ["20", "20/d", "0/s", "-1/s", "x/s", "20/s/m", "1.5/s"])
def test_a_malformed_rate_is_a_configuration_error(text):
    with pytest.raises(ImproperlyConfigured, match="API_RATE_LIMIT"):
        counters.parse_rule(text)


def test_a_malformed_rate_stops_the_server_at_start_up(tmp_path):
    env = {
        **os.environ,
        "API_RATE_LIMIT": "lots",
        "SMMPANEL_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "smmpanel.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", "import smmpanel.wsgi"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "API_RATE_LIMIT='lots'" in done.stderr


# --- per process (no REDIS_URL: LocMemCache) ---------------------------------------------------------


def test_without_a_rate_limit_nothing_is_counted(wsgi_client, customer, settings):
    settings.API_RATE_LIMIT = ""
    cust = customer("1")
    for _ in range(50):
        assert balance(wsgi_client, cust).status_code == 200
    assert not any(hash_key(cust.key)[:40] in str(k) for k in caches["default"]._cache)


@pytest.mark.parametrize("path", ["/api/v2", "/api/v2/"])
def test_over_the_rate_a_key_gets_429_with_retry_after_and_json(wsgi_client, client, customer, settings, path):
    settings.API_RATE_LIMIT = "3/h"
    cust, other = customer("1"), customer("2")
    for entry in (wsgi_client, client):  # both entry points count the same key
        assert balance(entry, cust).status_code == 200
    assert call_api(wsgi_client, {"key": cust.key, "action": "balance"}, path=path).status_code == 200
    for entry in (wsgi_client, client):
        response = call_api(entry, {"key": cust.key, "action": "balance"}, path=path)
        assert response.status_code == 429
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content) == TOO_MANY
        assert 1 <= int(response["Retry-After"]) <= 3600
    # Other keys have their own count.
    assert json.loads(balance(wsgi_client, other).content) == {"balance": "2.00000", "currency": "USD"}


def test_every_action_and_a_wrong_key_count_too(wsgi_client, customer, settings):
    settings.API_RATE_LIMIT = "2/h"
    cust = customer()
    for action in ("services", "no-such-action"):
        assert call_api(wsgi_client, {"key": cust.key, "action": action}).status_code == 200
    assert call_api(wsgi_client, {"key": cust.key, "action": "add"}).status_code == 429
    # A flood of guesses is limited before it costs a query.
    for _ in range(2):
        assert json.loads(call_api(wsgi_client, {"key": "guess", "action": "balance"}).content) == {
            "error": "Invalid API key"
        }
    assert call_api(wsgi_client, {"key": "guess", "action": "balance"}).status_code == 429


def test_the_count_restarts_with_the_next_window_and_retry_after_says_when(settings):
    settings.API_RATE_LIMIT = "5/m"
    digest = hash_key(uuid.uuid4().hex)
    start = 6_000_000.0 * 60  # a window's first second
    for i in range(5):
        ratelimit.check(digest, now=start + i)
    with pytest.raises(ratelimit.RateLimited) as refused:
        ratelimit.check(digest, now=start + 20.2)
    assert refused.value.retry_after == 40  # 39.8 s to the next window, rounded up
    with pytest.raises(ratelimit.RateLimited) as refused:
        ratelimit.check(digest, now=start + 59.9)
    assert refused.value.retry_after == 1
    ratelimit.check(digest, now=start + 60)  # a new window


def test_the_cache_holds_a_digest_of_the_key_never_the_key(wsgi_client, customer, settings):
    settings.API_RATE_LIMIT = "100/h"
    cust = customer()
    balance(wsgi_client, cust)
    names = [str(k) for k in caches["default"]._cache]
    assert any(hash_key(cust.key)[:40] in name for name in names)
    assert not any(cust.key in name for name in names)


# --- Redis ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url():
    return reachable_redis_url()


def reachable_redis_url() -> str:
    """The test Redis's URL; the test is skipped (failed under CI=true) when it does not answer."""
    url = os.environ.get("SMMPANEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as e:  # noqa: BLE001 - any reason counts as unreachable
        reason = f"Redis is not reachable at {url} ({type(e).__name__}: {e})"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(reason + "; CI=true requires it", pytrace=False)
        pytest.skip(reason + "; set SMMPANEL_TEST_REDIS_URL to run the Redis tests")
    return url


def redis_cache(url: str) -> dict:
    """The CACHES setting REDIS_URL makes, with a prefix of this test's own."""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


def test_with_redis_the_count_lives_in_redis_with_an_expiry(wsgi_client, customer, settings, redis_url):
    import redis

    settings.CACHES = redis_cache(redis_url)
    settings.API_RATE_LIMIT = "3/h"
    cust = customer()
    assert [balance(wsgi_client, cust).status_code for _ in range(5)] == [200, 200, 200, 429, 429]
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    client = redis.Redis.from_url(redis_url)
    names = client.keys(f"{prefix}:*")
    assert names and all(hash_key(cust.key)[:40].encode() in name for name in names)
    assert all(0 < client.ttl(name) <= 3601 for name in names)
    client.delete(*names)


def test_when_redis_is_down_the_api_serves_and_warns_once(wsgi_client, customer, settings, caplog):
    settings.CACHES = redis_cache("redis://127.0.0.1:1/0")  # nothing listens on port 1
    settings.API_RATE_LIMIT = "1/h"
    cust = customer("3")
    caplog.set_level(logging.WARNING, logger="smmpanel.api.ratelimit")
    for _ in range(5):
        response = balance(wsgi_client, cust)
        assert response.status_code == 200
        assert json.loads(response.content) == {"balance": "3.00000", "currency": "USD"}
    warnings = [r for r in caplog.records if r.name == "smmpanel.api.ratelimit"]
    assert len(warnings) == 1 and "not applied" in warnings[0].getMessage()
    assert not any(r.exc_info for r in warnings)  # a warning, not a traceback per request


def test_with_redis_a_high_limit_takes_a_batch_of_the_count_per_round_trip(wsgi_client, customer, settings, redis_url):
    import redis

    settings.CACHES = redis_cache(redis_url)
    settings.API_RATE_LIMIT = "1000/h"  # a batch of 10 per round trip
    cust = customer()
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    client = redis.Redis.from_url(redis_url)

    def shared_count():
        return sum(int(client.get(name)) for name in client.keys(f"{prefix}:*"))

    assert all(balance(wsgi_client, cust).status_code == 200 for _ in range(5))
    assert shared_count() == 10  # one reservation served all five
    assert all(balance(wsgi_client, cust).status_code == 200 for _ in range(7))
    assert shared_count() == 20  # the sixth request past the first batch took the second
    client.delete(*client.keys(f"{prefix}:*"))


def test_with_redis_a_batch_is_granted_only_up_to_the_limit(wsgi_client, customer, settings, redis_url):
    import redis

    settings.CACHES = redis_cache(redis_url)
    settings.API_RATE_LIMIT = "250/h"  # a batch of 2
    cust = customer()
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    client = redis.Redis.from_url(redis_url)
    window = int(ratelimit.time.time() // 3600)
    # Another process took 249 of the window's 250 requests.
    client.set(f"{prefix}:1:api-rate:{hash_key(cust.key)[:40]}:3600:{window}", 249, ex=3601)
    codes = [balance(wsgi_client, cust).status_code for _ in range(4)]
    assert codes == [200, 429, 429, 429]
    client.delete(*client.keys(f"{prefix}:*"))


@pytest.mark.parametrize("limit, requests", [(6, 24), (300, 330)])
def test_with_redis_every_server_process_shares_one_count(tmp_path, redis_url, limit, requests):
    server = PanelServer(f"sqlite:///{tmp_path}/rate.sqlite3", tmp_path)
    server.env.update({"REDIS_URL": redis_url, "API_RATE_LIMIT": f"{limit}/h"})
    server.manage("migrate", "--noinput")
    key = server.python(
        "import json\n"
        "from django.contrib.auth import get_user_model\n"
        "from smmpanel.accounts.models import Account\n"
        f"a = Account.objects.create(user=get_user_model().objects.create_user('r{uuid.uuid4().hex[:8]}'))\n"
        "print(json.dumps({'key': a.regenerate_api_key()}))\n"
    )["key"]
    server.start(workers=3, threads=2)
    try:

        def call(_):
            with httpx.Client(timeout=30) as client:  # a connection each: spread over the processes
                return client.post(server.url, data={"key": key, "action": "balance"})

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(call, range(requests)))
    finally:
        server.stop()
    served = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(served) + len(refused) == requests, [r.status_code for r in responses]
    # Never past the limit; short of it by at most what each of the 3 processes
    # reserved and did not use (a batch less one: exact below 100 requests).
    unused = 3 * (counters.batch_size(counters.Rule(limit, 3600)) - 1)
    assert limit - unused <= len(served) <= limit
    assert all(r.json() == TOO_MANY and int(r.headers["retry-after"]) >= 1 for r in refused)
