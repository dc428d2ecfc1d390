"""Sign-up and log-in abuse (issue 14 §4): per-address limits, closed sign-up, e-mail verification before the
first order, a sign-up that tells no one which e-mails have accounts, ASCII usernames, the CSP header.

Every per-address limit is off in the test runs (tests/conftest.py) unless a test sets it, as these do; each
test comes from addresses of its own, so that counts never meet (Redis is shared by parallel runs).
The Redis tests need a server at SMMPANEL_TEST_REDIS_URL (see tests/test_ratelimit.py).
"""

import json
import logging
import os
import re
import subprocess
import sys
import uuid
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client

from smmpanel import counters
from smmpanel.accounts.models import Account
from smmpanel.ledger.services import deposit
from smmpanel.orders.models import Order
from tests.conftest import REPO
from tests.test_ratelimit import redis_cache
from tests.test_ratelimit import redis_url as redis_url  # a fixture

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "tangerine-Orbit-42"
TOO_MANY = {"error": "Too many requests"}
UNVERIFIED = "Confirm your e-mail address first: follow the link we mailed you, then order"


def new_address() -> str:
    """An IPv4 address no other test uses (198.18.0.0/15, the benchmarking range)."""
    n = uuid.uuid4().int
    return f"198.{18 + (n >> 16) % 2}.{(n >> 8) % 256}.{n % 256}"


def sign_up(client, username=None, email=None, address="192.0.2.1", password=GOOD_PASSWORD):
    username = username or f"u{uuid.uuid4().hex[:10]}"
    data = {"username": username, "email": email or f"{username}@example.com", "password1": password}
    return client.post("/signup/", {**data, "password2": password}, REMOTE_ADDR=address)


def api_call(client, params: dict, address: str, **environ):
    return client.post(
        "/api/v2",
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        REMOTE_ADDR=address,
        **environ,
    )


def log_in(client, username, password, address, path="/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def member(username=None, password=GOOD_PASSWORD):
    username = username or f"m{uuid.uuid4().hex[:10]}"
    user = get_user_model().objects.create_user(username, f"{username}@example.com", password)
    Account.objects.create(user=user)
    return user


# --- sign-ups and reset mails per address -----------------------------------------------------------------


def test_one_address_signs_up_only_so_many_accounts_then_gets_429_with_retry_after(client, settings):
    settings.SIGNUPS_PER_ADDRESS = "3/h"
    flood, other = new_address(), new_address()
    for _ in range(3):
        assert sign_up(Client(), address=flood).status_code == 302
    refused = sign_up(client, username="fourth", address=flood)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert "Too many accounts were signed up from your address." in refused.content.decode()
    assert not get_user_model().objects.filter(username="fourth").exists()
    assert get_user_model().objects.count() == 3
    # Another address is not affected.
    assert sign_up(client, username="elsewhere", address=other).status_code == 302


def test_a_form_with_mistakes_is_not_a_sign_up(client, settings):
    settings.SIGNUPS_PER_ADDRESS = "1/h"
    address = new_address()
    for _ in range(3):
        assert sign_up(client, address=address, password="short").status_code == 200
    assert sign_up(client, address=address).status_code == 302


def test_one_address_asks_for_only_so_many_password_reset_mails(client, settings):
    settings.PASSWORD_RESETS_PER_ADDRESS = "2/h"
    user = member()
    address = new_address()
    for _ in range(2):
        sent = client.post("/password/reset/", {"email": user.email}, REMOTE_ADDR=address)
        assert sent["Location"] == "/password/reset/sent/"
    refused = client.post("/password/reset/", {"email": user.email}, REMOTE_ADDR=address)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert "Too many e-mails were asked for from your address." in refused.content.decode()
    # An unknown address counts as well (the answer must not differ), and sends nothing.
    assert client.post("/password/reset/", {"email": "x@example.com"}, REMOTE_ADDR=address).status_code == 429
    assert len(mail.outbox) == 2
    assert client.post("/password/reset/", {"email": user.email}, REMOTE_ADDR=new_address()).status_code == 302
    assert len(mail.outbox) == 3


def test_behind_the_proxy_the_address_it_appended_is_counted(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SIGNUPS_PER_ADDRESS = "1/h"
    client_address = new_address()
    proxied = {"HTTP_X_FORWARDED_PROTO": "https", "secure": True}
    first = client.post(
        "/signup/",
        {"username": "a1", "email": "a1@example.com", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR=f"203.0.113.9, {client_address}",
        **proxied,
    )
    assert first.status_code == 302
    # A made-up first entry does not make a new client: the proxy's last one decides.
    second = Client().post(
        "/signup/",
        {"username": "a2", "email": "a2@example.com", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR=f"{new_address()}, {client_address}",
        **proxied,
    )
    assert second.status_code == 429


def test_an_ipv6_address_counts_for_its_64_network():
    from smmpanel import addresslimits

    assert addresslimits.counted_as("2001:db8:1:2:aaaa::1") == addresslimits.counted_as("2001:db8:1:2:bbbb::9")
    assert addresslimits.counted_as("2001:db8:1:3::1") != addresslimits.counted_as("2001:db8:1:2::1")
    assert addresslimits.counted_as("::ffff:192.0.2.7") == "192.0.2.7"
    assert addresslimits.counted_as(None) == "unknown"


def test_with_redis_the_sign_up_count_is_shared_and_expires(client, settings, redis_url):
    import redis

    settings.CACHES = redis_cache(redis_url)
    settings.SIGNUPS_PER_ADDRESS = "2/h"
    address = new_address()
    assert [sign_up(Client(), address=address).status_code for _ in range(3)] == [302, 302, 429]
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    server = redis.Redis.from_url(redis_url)
    names = server.keys(f"{prefix}:*")
    assert [n for n in names if address.encode() in n] == names and len(names) == 1
    assert int(server.get(names[0])) == 3  # every process adds to this one count
    assert 0 < server.ttl(names[0]) <= 3601
    server.delete(*names)


def test_with_redis_failed_log_ins_are_counted_there_and_read_back(client, settings, redis_url):
    settings.CACHES = redis_cache(redis_url)
    settings.LOGIN_FAILURES_PER_ADDRESS = "2/h"
    user, address = member(), new_address()
    assert [log_in(Client(), user.username, "wrong", address).status_code for _ in range(2)] == [200, 200]
    assert log_in(Client(), user.username, GOOD_PASSWORD, address).status_code == 429


def test_when_the_cache_fails_sign_ups_go_on_uncounted_with_one_warning(client, settings, caplog, monkeypatch):
    monkeypatch.setattr(counters, "_events_failing", False)  # whatever an earlier test left
    settings.CACHES = redis_cache("redis://127.0.0.1:1/0")  # nothing listens on port 1
    settings.SIGNUPS_PER_ADDRESS = "1/h"
    caplog.set_level(logging.WARNING, logger="smmpanel.counters")
    address = new_address()
    assert [sign_up(Client(), address=address).status_code for _ in range(3)] == [302, 302, 302]
    warnings = [r for r in caplog.records if r.name == "smmpanel.counters"]
    assert len(warnings) == 1 and "not applied" in warnings[0].getMessage()


def test_a_malformed_per_address_limit_stops_the_start_and_the_defaults_are_set(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_PER_ADDRESS")},
        "SMMPANEL_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "smmpanel.settings",
    }
    show = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SIGNUPS_PER_ADDRESS, s.PASSWORD_RESETS_PER_ADDRESS, s.LOGIN_FAILURES_PER_ADDRESS,"
        " s.API_KEY_FAILURES_PER_ADDRESS, s.SIGNUP_OPEN, s.SIGNUP_EMAIL_VERIFICATION)"
    )
    defaults = subprocess.run(
        [sys.executable, "-c", show], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert defaults.stdout.split() == ["10/h", "10/h", "100/h", "30/m", "True", "False"], defaults.stderr
    bad = subprocess.run(
        [sys.executable, "-c", "import smmpanel.wsgi"],
        cwd=REPO,
        env={**env, "SIGNUPS_PER_ADDRESS": "lots"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0
    assert "SIGNUPS_PER_ADDRESS='lots'" in bad.stderr


# --- closing sign-up ---------------------------------------------------------------------------------------


def test_a_closed_sign_up_makes_no_account_and_no_page_offers_it(client, settings):
    settings.SIGNUP_OPEN = False
    page = client.get("/signup/")
    assert page.status_code == 403
    assert "Sign-up is closed" in page.content.decode()
    assert sign_up(client).status_code == 403
    assert not get_user_model().objects.exists()
    for path in ("/", "/login/", "/services/"):
        assert b'href="/signup/"' not in client.get(path).content, path
    settings.SIGNUP_OPEN = True
    assert b'href="/signup/"' in client.get("/").content


# --- not telling which e-mails have accounts -----------------------------------------------------------------


@pytest.mark.parametrize("verification", [False, True])
def test_sign_up_with_a_taken_email_says_nothing_of_it_and_mails_its_owner(client, settings, verification):
    settings.SIGNUP_EMAIL_VERIFICATION = verification
    owner = member("owner1")
    taken = sign_up(client, username="prober", email="OWNER1@example.com")
    assert taken.status_code == 302 and taken["Location"] == "/signup/sent/"
    page = client.get(taken["Location"]).content.decode()
    assert "Check your e-mail" in page and "exists" not in page
    assert not get_user_model().objects.filter(username="prober").exists()
    assert client.get("/settings/").status_code == 302  # nobody signed in
    [notice] = mail.outbox
    assert notice.to == [owner.email]
    assert '"owner1"' in notice.body and "http://testserver/password/reset/" in notice.body


def test_with_verification_a_new_and_a_taken_email_get_the_same_answer_and_a_mail_each(client, settings):
    settings.SIGNUP_EMAIL_VERIFICATION = True
    member("owner2")
    taken = sign_up(Client(), username="someone", email="owner2@example.com")
    new = sign_up(Client(), username="newcomer", email="newcomer@example.com")
    assert (taken.status_code, taken["Location"]) == (new.status_code, new["Location"]) == (302, "/signup/sent/")
    assert [m.to for m in mail.outbox] == [["owner2@example.com"], ["newcomer@example.com"]]
    assert "/signup/confirm/" in mail.outbox[1].body


# --- e-mail verification before the first order -------------------------------------------------------------


def confirm_link(message) -> str:
    return re.search(r"http://testserver(/signup/confirm/\S+/)", message.body)[1]


def test_a_verified_sign_up_orders_only_after_following_the_mailed_link(client, settings, service):
    settings.SIGNUP_EMAIL_VERIFICATION = True
    svc = service(rate="1", min=10, max=1000)
    response = sign_up(client, username="careful", email="careful@example.com")
    assert response["Location"] == "/signup/sent/"
    assert client.get("/settings/").status_code == 302  # not signed in before the link
    account = Account.objects.get(user__username="careful")
    assert account.email_verified is False
    link = confirm_link(mail.outbox[0])
    assert mail.outbox[0].to == ["careful@example.com"]

    # Signed in by password, the account sees why it cannot order, on the web …
    assert log_in(client, "careful", GOOD_PASSWORD, new_address()).status_code == 302
    deposit(account, Decimal("5"), memo="test deposit")
    order = {"service": svc.pk, "link": "https://instagram.com/p/v", "quantity": "100", "token": "t1"}
    refused = client.post("/order/", order)
    assert refused.status_code == 200 and UNVERIFIED in refused.content.decode()
    assert "is not confirmed yet" in client.get("/settings/").content.decode()
    # … and over the API.
    key = account.regenerate_api_key()
    params = {"key": key, "action": "add", "service": svc.pk, "link": "https://instagram.com/p/v", "quantity": 100}
    assert json.loads(api_call(client, params, new_address()).content) == {"error": UNVERIFIED}
    assert not Order.objects.exists()

    # A mail scanner's GET confirms nothing; the button does, and the link then works no more.
    client.post("/logout/")
    page = client.get(link)
    assert page.status_code == 200 and b"careful@example.com" in page.content
    assert Account.objects.get(pk=account.pk).email_verified is False
    confirmed = client.post(link)
    assert confirmed.status_code == 302 and confirmed["Location"] == "/order/"
    assert Account.objects.get(pk=account.pk).email_verified is True
    assert client.get("/settings/").status_code == 200  # the link signed the customer in
    assert client.get(link).status_code == 400

    placed = client.post("/order/", {**order, "token": "t2"})
    assert placed.status_code == 302 and "/orders/" in placed["Location"]
    assert "order" in json.loads(api_call(client, {**params, "link": "https://instagram.com/p/w"}, "192.0.2.3").content)
    assert Order.objects.count() == 2


def test_the_link_can_be_sent_again_and_a_password_reset_also_confirms_the_address(client, settings):
    settings.SIGNUP_EMAIL_VERIFICATION = True
    sign_up(client, username="lost", email="lost@example.com")
    assert log_in(client, "lost", GOOD_PASSWORD, new_address()).status_code == 302
    again = client.post("/signup/confirm/again/")
    assert again["Location"] == "/settings/"
    assert [m.to for m in mail.outbox] == [["lost@example.com"], ["lost@example.com"]]
    assert "/signup/confirm/" in mail.outbox[1].body
    client.post("/logout/")
    client.post("/password/reset/", {"email": "lost@example.com"})
    link = re.search(r"http://testserver(/password/reset/\S+/)", mail.outbox[2].body)[1]
    form = client.get(link, follow=True)
    client.post(form.redirect_chain[-1][0], {"new_password1": "another-Orbit-77", "new_password2": "another-Orbit-77"})
    assert Account.objects.get(user__username="lost").email_verified is True


def test_without_verification_nothing_waits_for_a_link(client, settings, customer, service):
    settings.SIGNUP_EMAIL_VERIFICATION = False
    response = sign_up(client, username="quick")
    assert response["Location"] == "/order/"
    assert Account.objects.get(user__username="quick").email_verified is True
    assert not mail.outbox
    # An account left unconfirmed while the owner required it orders once the owner stops requiring it.
    cust = customer("10")
    Account.objects.filter(pk=cust.account.pk).update(email_verified=False)
    svc = service(rate="1", min=10, max=1000)
    params = {"key": cust.key, "action": "add", "service": svc.pk, "link": "https://instagram.com/p/q", "quantity": 100}
    assert "order" in json.loads(api_call(client, params, "192.0.2.4").content)


# --- usernames ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["аdmin", "admin\u200b", "ad min", "a@b", "a+b", "ádmin"])
def test_a_new_username_takes_only_ascii_letters_digits_and_dot_underscore_dash(client, name):
    refused = sign_up(client, username=name, email="look@example.com")
    assert refused.status_code == 200
    assert "Use only letters a–z, digits and . _ - in a username." in refused.content.decode()
    assert not get_user_model().objects.exists()


def test_plain_usernames_are_accepted_and_old_accounts_keep_theirs(client):
    assert sign_up(client, username="Good.name_1-x").status_code == 302
    old = member("аdmin")  # made before the rule, with a Cyrillic а
    assert log_in(Client(), old.username, GOOD_PASSWORD, new_address()).status_code == 302


def test_the_owners_command_applies_the_same_rule():
    with pytest.raises(CommandError, match="Use only letters"):
        call_command("user", "create", "аdmin")
    call_command("user", "create", "plain_name")
    assert get_user_model().objects.filter(username="plain_name").exists()


# --- failed API key lookups per address ---------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["wsgi", "django"])
def test_an_address_guessing_keys_gets_429_with_retry_after_in_the_apis_words(
    entry, wsgi_client, client, customer, settings
):
    settings.API_KEY_FAILURES_PER_ADDRESS = "3/m"
    http = wsgi_client if entry == "wsgi" else client
    cust = customer("1")
    guesser, other = new_address(), new_address()
    for _ in range(3):
        answer = api_call(http, {"key": uuid.uuid4().hex, "action": "balance"}, guesser)
        assert json.loads(answer.content) == {"error": "Invalid API key"}
    over = api_call(http, {"key": uuid.uuid4().hex, "action": "balance"}, guesser)
    assert over.status_code == 429 and json.loads(over.content) == TOO_MANY
    assert over["Content-Type"] == "application/json"
    assert 1 <= int(over["Retry-After"]) <= 60
    # Until the window ends, that address is refused before any lookup, a good key too …
    assert api_call(http, {"key": cust.key, "action": "balance"}, guesser).status_code == 429
    # … while the same key from elsewhere works.
    fine = api_call(http, {"key": cust.key, "action": "balance"}, other)
    assert json.loads(fine.content) == {"balance": "1.00000", "currency": "USD"}


def test_good_keys_are_not_counted_as_failures(wsgi_client, customer, settings):
    settings.API_KEY_FAILURES_PER_ADDRESS = "2/m"
    cust = customer("1")
    address = new_address()
    for _ in range(10):
        assert api_call(wsgi_client, {"key": cust.key, "action": "balance"}, address).status_code == 200
    assert json.loads(api_call(wsgi_client, {"key": "x", "action": "balance"}, address).content) == {
        "error": "Invalid API key"
    }


def test_with_redis_another_process_refuses_an_address_at_its_first_failure_there(
    wsgi_client, customer, settings, redis_url, monkeypatch
):
    from smmpanel import addresslimits

    settings.CACHES = redis_cache(redis_url)
    settings.API_KEY_FAILURES_PER_ADDRESS = "2/m"
    address = new_address()
    statuses = [api_call(wsgi_client, {"key": "guess", "action": "balance"}, address).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    # Another process: its own memory knows nothing of the address, the shared count does.
    monkeypatch.setattr(addresslimits, "_blocked", addresslimits.Blocked())
    assert addresslimits.api_key_refused(address) is None
    assert api_call(wsgi_client, {"key": "guess", "action": "balance"}, address).status_code == 429


# --- password spraying: failed log-ins per address ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_an_address_spraying_passwords_over_usernames_is_stopped_with_429(client, settings, path):
    settings.LOGIN_FAILURES_PER_ADDRESS = "5/h"
    settings.AXES_FAILURE_LIMIT = 10
    sprayer, other = new_address(), new_address()
    victim = member()
    victim.is_staff = True
    victim.save()
    for _ in range(5):  # one try each for many usernames: under the per-username lockout
        assert log_in(client, f"user{uuid.uuid4().hex[:6]}", "Summer2026!", sprayer, path).status_code == 200
    refused = log_in(client, victim.username, GOOD_PASSWORD, sprayer, path)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert "Too many log-ins failed from your address." in refused.content.decode()
    assert log_in(Client(), victim.username, GOOD_PASSWORD, other, path).status_code == 302


def test_good_log_ins_are_not_failures(client, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = "2/h"
    user = member()
    address = new_address()
    for _ in range(4):
        assert log_in(Client(), user.username, GOOD_PASSWORD, address).status_code == 302


# --- Content-Security-Policy -------------------------------------------------------------------------------------


def test_every_page_sends_a_content_security_policy_allowing_only_the_panel_itself(client, customer):
    policy_pages = ["/", "/signup/", "/login/", "/password/reset/", "/services/", "/api/docs/", "/admin/login/"]
    cust = customer("1")
    for path in policy_pages:
        response = client.get(path)
        assert response.status_code == 200, path
        policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
        assert policy["default-src"] == "'self'", path
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", path
        assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'", path
    client.force_login(cust.user)
    assert "script-src 'self'" in client.get("/order/")["Content-Security-Policy"]
