"""The customer panel's account pages: sign up, log in and out (with the lockout), passwords, settings, time zone."""

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from smmpanel.accounts.models import Account
from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.services import deposit

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "tangerine-Orbit-42"


def sign_up(client, username="newbie", email="newbie@example.com", password=GOOD_PASSWORD, again=None):
    data = {"username": username, "email": email, "password1": password, "password2": again or password}
    return client.post("/signup/", data)


def log_in(client, username, password, address="198.51.100.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def member(username="member", password=GOOD_PASSWORD):
    user = get_user_model().objects.create_user(username, f"{username}@example.com", password)
    Account.objects.create(user=user)
    return user


# --- signing up -----------------------------------------------------------------------------------


def test_signing_up_makes_an_account_without_a_key_and_signs_the_customer_in(client):
    response = sign_up(client)
    assert response.status_code == 302
    assert response["Location"] == "/order/"
    user = get_user_model().objects.get(username="newbie")
    assert user.email == "newbie@example.com"
    assert user.check_password(GOOD_PASSWORD)
    account = Account.objects.get(user=user)
    # No key is made (and so none can be shown) until the customer asks for one on the API page.
    assert account.api_key_hash is None and account.api_key_hint == ""
    assert account.balance == 0
    page = client.get("/settings/")
    assert page.status_code == 200
    assert b"newbie" in page.content


def test_signing_up_refuses_a_weak_or_mistyped_password_and_creates_no_one(client):
    weak = sign_up(client, password="password")
    assert weak.status_code == 200
    assert "This password is too common." in weak.content.decode()
    short = sign_up(client, password="x7")
    assert "This password is too short." in short.content.decode()
    like_name = sign_up(client, username="tangerineorbit", password="tangerineorbit")
    assert "too similar to the username" in like_name.content.decode()
    mistyped = sign_up(client, again="tangerine-Orbit-43")
    assert "The two passwords differ." in mistyped.content.decode()
    assert not get_user_model().objects.exists()


def test_signing_up_refuses_a_taken_username_or_email_whatever_their_case(client):
    member("Alice")
    taken = sign_up(client, username="alice", email="other@example.com")
    assert "That username is taken." in taken.content.decode()
    # A taken e-mail is not said on the page (tests/test_signup_abuse.py): its owner gets a mail instead.
    same_email = sign_up(client, username="bob", email="ALICE@example.com")
    assert same_email.status_code == 302 and same_email["Location"] == "/signup/sent/"
    assert [m.to for m in mail.outbox] == [["Alice@example.com"]]
    assert get_user_model().objects.count() == 1


def test_the_signup_form_carries_a_csrf_token(client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    page = strict.get("/signup/")
    assert b'name="csrfmiddlewaretoken"' in page.content
    # Without the token the form is refused.
    refused = strict.post("/signup/", {"username": "x", "email": "x@example.com", "password1": "a", "password2": "a"})
    assert refused.status_code == 403


# --- logging in and out ------------------------------------------------------------------------------


def test_logging_in_leads_to_the_new_order_page_and_logging_out_ends_the_session(client):
    member("carol")
    assert log_in(client, "carol", "wrong").status_code == 200
    response = log_in(client, "carol", GOOD_PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/order/"
    assert client.get("/settings/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/settings/")["Location"].startswith("/login/?next=/settings/")


def test_repeated_wrong_passwords_lock_the_username_out_from_that_address_with_429(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    member("dave")
    for _ in range(2):
        assert log_in(client, "dave", "wrong", "203.0.113.7").status_code == 200
    locked = log_in(client, "dave", "wrong", "203.0.113.7")
    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()
    # Locked: even the right password is refused from that address …
    assert log_in(client, "dave", GOOD_PASSWORD, "203.0.113.7").status_code == 429
    # … but not from another one.
    assert log_in(client, "dave", GOOD_PASSWORD, "198.51.100.9").status_code == 302


def test_customer_pages_send_a_visitor_to_the_log_in(client):
    for path in ("/settings/", "/password/change/", "/funds/", "/funds/ledger.csv", "/api/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"/login/?next={path}"


# --- passwords ---------------------------------------------------------------------------------------------


def test_a_password_reset_mails_a_link_that_sets_a_new_password_once(client):
    member("erin")
    response = client.post("/password/reset/", {"email": "erin@example.com"})
    assert response.status_code == 302 and response["Location"] == "/password/reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["erin@example.com"]
    link = re.search(r"http://testserver(/password/reset/\S+/)", message.body).group(1)
    form_page = client.get(link, follow=True)  # Django swaps the token for a session marker
    assert form_page.status_code == 200
    assert b"Choose a new password" in form_page.content
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "another-Orbit-77", "new_password2": "another-Orbit-77"}
    )
    assert done.status_code == 302 and done["Location"] == "/password/reset/done/"
    assert log_in(client, "erin", "another-Orbit-77").status_code == 302
    # The link worked once.
    client.post("/logout/")
    assert b"This link does not work" in client.get(link, follow=True).content


def test_a_password_reset_for_an_unknown_address_says_the_same_and_sends_nothing(client):
    response = client.post("/password/reset/", {"email": "nobody@example.com"})
    assert response["Location"] == "/password/reset/sent/"
    assert mail.outbox == []


def test_changing_the_password_needs_the_old_one_and_keeps_the_session(client):
    user = member("frank")
    client.force_login(user)
    wrong = client.post(
        "/password/change/",
        {"old_password": "nope", "new_password1": "brand-New-pass-9", "new_password2": "brand-New-pass-9"},
    )
    assert wrong.status_code == 200
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    ok = client.post(
        "/password/change/",
        {"old_password": GOOD_PASSWORD, "new_password1": "brand-New-pass-9", "new_password2": "brand-New-pass-9"},
        follow=True,
    )
    assert "Your password was changed." in ok.content.decode()
    user.refresh_from_db()
    assert user.check_password("brand-New-pass-9")
    assert client.get("/settings/").status_code == 200


def test_mail_goes_to_the_console_by_default_and_to_smtp_when_a_host_is_set(tmp_path):
    def email_settings(**env):
        code = (
            "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS)"
        )
        environ = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
        environ.update(SMMPANEL_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="smmpanel.settings", **env)
        done = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            env=environ,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.split()

    assert email_settings() == ["django.core.mail.backends.console.EmailBackend", "587", "True"]
    assert email_settings(EMAIL_HOST="smtp.example.com", EMAIL_PORT="465", EMAIL_USE_SSL="1") == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        "465",
        "False",
    ]


# --- settings and time zone ----------------------------------------------------------------------------


def test_the_chosen_time_zone_shows_on_the_customer_s_timestamps(client):
    user = member("gina")
    account = Account.objects.get(user=user)
    entry = deposit(account, Decimal("5"), memo="welcome")
    LedgerEntry.objects.filter(pk=entry.pk).update(created=datetime(2026, 1, 1, 0, 30, tzinfo=UTC))
    client.force_login(user)
    assert "2026-01-01 00:30" in client.get("/funds/").content.decode()  # the panel's zone: UTC

    saved = client.post("/settings/", {"email": "gina@example.com", "time_zone": "Asia/Tokyo"})
    assert saved.status_code == 302
    account.refresh_from_db()
    assert account.time_zone == "Asia/Tokyo"
    assert "2026-01-01 09:30" in client.get("/funds/").content.decode()  # UTC+9

    # A new session (another browser) reads the zone from the account.
    client.post("/logout/")
    client.force_login(user)
    assert "2026-01-01 09:30" in client.get("/funds/").content.decode()


def test_the_settings_refuse_an_unknown_time_zone_and_another_customer_s_email(client):
    member("hank")
    user = member("ivy")
    client.force_login(user)
    bad_zone = client.post("/settings/", {"email": "ivy@example.com", "time_zone": "Mars/Olympus"})
    assert bad_zone.status_code == 200
    assert "Select a valid choice" in bad_zone.content.decode()
    taken = client.post("/settings/", {"email": "hank@example.com", "time_zone": "UTC"})
    assert "Another account uses that e-mail." in taken.content.decode()
    assert Account.objects.get(user=user).time_zone == ""


def test_a_username_with_markup_is_shown_as_text(client):
    # The sign-up form allows no such name; the admin or a script might.
    user = get_user_model().objects.create_user("<script>alert(1)</script>", "x@example.com", GOOD_PASSWORD)
    Account.objects.create(user=user)
    client.force_login(user)
    for path in ("/settings/", "/funds/", "/api/"):
        body = client.get(path).content.decode()
        assert "<script>alert(1)</script>" not in body, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, path


def test_signing_up_follows_a_next_link_on_this_site_only(client):
    inside = client.post(
        "/signup/?next=/services/",
        {"username": "kim", "email": "k@example.com", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
    )
    assert inside["Location"] == "/services/"
    client.post("/logout/")
    outside = client.post(
        "/signup/?next=https://evil.example/",
        {"username": "lee", "email": "l@example.com", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
    )
    assert outside["Location"] == "/order/"
