"""Production settings: one SITE_URL switch, local-only hosts by default, strict booleans,
private files, an atomic secret key, durable SQLite commits, the PostgreSQL pool, and the
admin log-in lockout.

Settings are read once per process, so most tests start `smmpanel` in a subprocess with
the environment under test.
"""

import json
import os
import stat
import subprocess
import sys

import pytest

from .conftest import PATHS, REPO

SMMPANEL = [sys.executable, "-m", "smmpanel"]
STRONG_KEY = "k" * 10 + "7Qv!x2#pL9@zR4$wM8^tB1&nY6*cF3(dH5)jG0-sA" + "x" * 20
SHOW = """
import json
from django.conf import settings as s
print(json.dumps({name: getattr(s, name) for name in %r}, default=str))
"""


def env_for(tmp_path, **variables) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "SITE_URL", "ALLOWED_HOSTS", "DEBUG", "SECRET_KEY", "CSRF_TRUSTED_ORIGINS")
    }
    env.update(SMMPANEL_DATA_DIR=str(tmp_path / "data"), **variables)
    return env


def smmpanel(env, *args, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run([*SMMPANEL, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def settings_in(env, *names) -> dict:
    """The settings a process started with `env` gets: the settings module alone is loaded, as every
    command loads it first (a process per call, but no app set up: a fifth of `smmpanel shell`'s time)."""
    return json.loads(settings_process(env, SHOW % (names,)).strip().splitlines()[-1])


def settings_process(env, code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**env, "DJANGO_SETTINGS_MODULE": "smmpanel.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# --- SITE_URL and hosts -----------------------------------------------------------------


def test_an_https_site_url_sets_hosts_origins_and_every_https_setting(tmp_path):
    got = settings_in(
        env_for(tmp_path, SITE_URL="https://panel.example.com/"),
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_SSL_REDIRECT",
    )
    assert got == {
        "ALLOWED_HOSTS": ["panel.example.com"],
        "CSRF_TRUSTED_ORIGINS": ["https://panel.example.com"],
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_SSL_REDIRECT": True,
    }


def test_each_setting_a_site_url_implies_can_be_overridden_by_its_own_variable(tmp_path):
    got = settings_in(
        env_for(
            tmp_path,
            SITE_URL="https://panel.example.com",
            ALLOWED_HOSTS="a.example.com,b.example.com",
            CSRF_TRUSTED_ORIGINS="https://a.example.com",
            SESSION_COOKIE_SECURE="off",
            CSRF_COOKIE_SECURE="no",
            SECURE_HSTS_SECONDS="0",
            SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
            SECURE_HSTS_PRELOAD="0",
            SECURE_PROXY_SSL_HEADER="off",
            SECURE_SSL_REDIRECT="off",
        ),
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_SSL_REDIRECT",
    )
    assert got == {
        "ALLOWED_HOSTS": ["a.example.com", "b.example.com"],
        "CSRF_TRUSTED_ORIGINS": ["https://a.example.com"],
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "SECURE_SSL_REDIRECT": False,
    }


def test_a_plain_http_site_url_sets_hosts_but_no_https_settings(tmp_path):
    got = settings_in(
        env_for(tmp_path, SITE_URL="http://panel.internal:8000"),
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
        "SESSION_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
    )
    assert got == {
        "ALLOWED_HOSTS": ["panel.internal"],
        "CSRF_TRUSTED_ORIGINS": ["http://panel.internal:8000"],
        "SESSION_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
    }


def test_without_site_url_or_allowed_hosts_only_local_names_are_served(tmp_path):
    got = settings_in(env_for(tmp_path), "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS")
    assert got == {"ALLOWED_HOSTS": ["127.0.0.1", "localhost", "[::1]"], "CSRF_TRUSTED_ORIGINS": []}


def test_the_deploy_check_passes_with_site_url_and_secret_key(tmp_path):
    done = smmpanel(
        env_for(tmp_path, SITE_URL="https://panel.example.com", SECRET_KEY=STRONG_KEY),
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_the_deploy_check_fails_without_site_url(tmp_path):
    """The control: the check above passes because of SITE_URL, not because it checks nothing."""
    done = smmpanel(
        env_for(tmp_path, SECRET_KEY=STRONG_KEY), "check", "--deploy", "--fail-level", "WARNING", check=False
    )
    assert done.returncode != 0
    assert "SECURE_SSL_REDIRECT" in done.stderr + done.stdout


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("path", [*PATHS, "/admin/", "/admin/login/", "/", "/static/admin/css/base.css"])
def test_a_foreign_host_header_gets_400_on_every_path(wsgi_client, path, method):
    response = getattr(wsgi_client, method)(path, {"key": "x", "action": "balance"}, HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    if path in PATHS:  # the API still answers JSON
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content) == {"error": "Invalid Host header"}


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"])
def test_local_host_names_are_answered(api, wsgi_client, customer, host):
    cust = customer(balance="5")
    response = wsgi_client.post("/api/v2", {"key": cust.key, "action": "balance"}, HTTP_HOST=host)
    assert json.loads(response.content) == {"balance": "5.00000", "currency": "USD"}


@pytest.mark.django_db
def test_a_host_answered_before_follows_a_changed_allowed_hosts(wsgi_client, customer, settings):
    """The entry point remembers each Host header's answer: a new ALLOWED_HOSTS must still decide."""
    cust = customer(balance="5")

    def ask(host):
        return wsgi_client.post("/api/v2", {"key": cust.key, "action": "balance"}, HTTP_HOST=host).status_code

    settings.ALLOWED_HOSTS = ["panel.example.com"]
    assert ask("panel.example.com") == 200
    assert ask("other.example.com") == 400
    settings.ALLOWED_HOSTS = ["other.example.com"]
    assert ask("panel.example.com") == 400
    assert ask("other.example.com") == 200


# --- strict booleans and other values ----------------------------------------------------


@pytest.mark.parametrize(
    "variable,value", [("DEBUG", "maybe"), ("SESSION_COOKIE_SECURE", "ture"), ("SECURE_SSL_REDIRECT", "2")]
)
def test_a_boolean_variable_with_an_unexpected_value_stops_the_start(tmp_path, variable, value):
    done = smmpanel(env_for(tmp_path, **{variable: value}), "check", check=False)
    assert done.returncode != 0
    assert f"{variable}={value!r} is not a boolean" in done.stderr


def test_boolean_variables_accept_the_usual_words(monkeypatch):
    from smmpanel.settings import env_bool

    for word, meaning in [
        ("1", True),
        ("0", False),
        ("true", True),
        ("False", False),
        ("YES", True),
        ("no", False),
        ("on", True),
        (" off ", False),
    ]:
        monkeypatch.setenv("SMMPANEL_TEST_FLAG", word)
        assert env_bool("SMMPANEL_TEST_FLAG") is meaning, word
    monkeypatch.setenv("SMMPANEL_TEST_FLAG", "")
    assert env_bool("SMMPANEL_TEST_FLAG", default=True) is True
    monkeypatch.delenv("SMMPANEL_TEST_FLAG")
    assert env_bool("SMMPANEL_TEST_FLAG") is False


def test_an_unknown_sqlite_synchronous_level_stops_the_start(tmp_path):
    done = smmpanel(env_for(tmp_path, SQLITE_SYNCHRONOUS="SOMETIMES"), "check", check=False)
    assert done.returncode != 0 and "SQLITE_SYNCHRONOUS" in done.stderr


# --- files ---------------------------------------------------------------------------------


def test_the_data_dir_the_database_and_the_secret_key_are_private(tmp_path):
    env = env_for(tmp_path)
    smmpanel(env, "migrate", "-v", "0")
    smmpanel(env, "user", "create", "alice", "--balance", "1")  # a write: the -wal and -shm files exist now
    data = tmp_path / "data"

    def mode(path):
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(data) == 0o700
    files = ["smmpanel.sqlite3", "secret_key"]
    files += [name for name in ("smmpanel.sqlite3-wal", "smmpanel.sqlite3-shm") if (data / name).exists()]
    assert {name: mode(data / name) for name in files} == dict.fromkeys(files, 0o600)


def test_two_processes_starting_together_agree_on_the_secret_key(tmp_path):
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    for attempt in range(5):
        env = dict(env_for(tmp_path), SMMPANEL_DATA_DIR=str(tmp_path / f"data{attempt}"))
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code],
                cwd=REPO,
                env={**env, "DJANGO_SETTINGS_MODULE": "smmpanel.settings"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        keys = {p.communicate(timeout=60)[0].strip() for p in procs}
        assert len(keys) == 1 and len(keys.pop()) >= 50
        assert [f.name for f in (tmp_path / f"data{attempt}").iterdir() if f.name.startswith(".secret")] == []


# --- databases ---------------------------------------------------------------------------

PRAGMA = """
import json
from django.db import connection
with connection.cursor() as c:
    c.execute("PRAGMA synchronous")
    print(json.dumps({"synchronous": c.fetchone()[0]}))
"""


def test_sqlite_commits_are_durable_by_default_with_an_opt_out(tmp_path):
    def level(**variables):
        out = smmpanel(env_for(tmp_path, **variables), "shell", "-c", PRAGMA).stdout
        return json.loads(out.strip().splitlines()[-1])["synchronous"]

    assert level() == 2  # FULL
    assert level(SQLITE_SYNCHRONOUS="NORMAL") == 1


def test_postgresql_uses_a_bounded_pool_unless_told_not_to(tmp_path):
    url = "postgres://smm@db.internal:5432/smmpanel"
    pooled = settings_in(env_for(tmp_path, DATABASE_URL=url, DATABASE_POOL_SIZE="5"), "DATABASES")
    options = pooled["DATABASES"]["default"]["OPTIONS"]
    assert options["pool"]["max_size"] == 5
    assert pooled["DATABASES"]["default"]["CONN_MAX_AGE"] == 0
    plain = settings_in(env_for(tmp_path, DATABASE_URL=url, DATABASE_POOL_SIZE="0"), "DATABASES")
    assert "pool" not in plain["DATABASES"]["default"].get("OPTIONS", {})
    assert plain["DATABASES"]["default"]["CONN_MAX_AGE"] == 600


def test_postgresql_prepares_the_api_reads_on_pooled_connections_that_live_a_minute(tmp_path):
    url = "postgres://smm@db.internal:5432/smmpanel"

    def options(**variables):
        databases = settings_in(env_for(tmp_path, DATABASE_URL=url, **variables), "DATABASES")["DATABASES"]
        # Django fills an empty OPTIONS in when it sets up; the settings module alone may have none.
        return databases["default"].get("OPTIONS", {})

    default = options()
    # psycopg prepares only what smmpanel.fastsql asks for: a threshold no other statement reaches.
    assert default["prepare_threshold"] >= 2**31 - 1
    # A prepared plan is sized for the tables when it was made: its connection is replaced after a minute.
    assert default["pool"]["max_lifetime"] == 60
    # One generic plan per prepared statement (they all look rows up by a unique key).
    assert "-c plan_cache_mode=force_generic_plan" in default["options"]
    off = options(DATABASE_PREPARED_STATEMENTS="off")  # for PgBouncer < 1.21
    assert off.get("prepare_threshold") is None
    assert "max_lifetime" not in off["pool"] and "options" not in off
    assert options(DATABASE_POOL_SIZE="0").get("prepare_threshold") is None  # an outside pooler: Django's default


# --- log-in lockout ------------------------------------------------------------------------


def admin_login(client, username, password, address):
    """A log-in through Django's handler (what serves /admin/), CSRF checks off as in Django's test client."""
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.django_db
def test_admin_login_locks_out_a_username_and_address_after_repeated_failures(client, settings):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    User.objects.create_superuser("boss", "boss@example.com", "right-password")
    User.objects.create_superuser("other", "other@example.com", "other-password")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert admin_login(client, "boss", "wrong", "203.0.113.7").status_code == 200  # the form again
    assert admin_login(client, "boss", "wrong", "203.0.113.7").status_code == 429
    # Locked: even the right password is refused, from that address, for that username.
    assert admin_login(client, "boss", "right-password", "203.0.113.7").status_code == 429
    # Another address, or another username from the same address, is unaffected.
    assert admin_login(client, "boss", "right-password", "198.51.100.9").status_code == 302
    client.logout()
    assert admin_login(client, "other", "other-password", "203.0.113.7").status_code == 302


def test_the_default_lockout_is_ten_failures_in_fifteen_minutes():
    from django.conf import settings

    assert settings.AXES_FAILURE_LIMIT == 10
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_HTTP_RESPONSE_CODE == 429


@pytest.mark.django_db
def test_behind_the_proxy_the_lockout_counts_the_address_the_proxy_saw(client, settings):
    from django.contrib.auth import get_user_model

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.AXES_FAILURE_LIMIT = 3
    get_user_model().objects.create_superuser("boss", "boss@example.com", "right-password")

    def attempt(password, forwarded):
        return client.post(
            "/admin/login/",
            {"username": "boss", "password": password},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=forwarded,
        ).status_code

    # The client forges a different first entry each time; the proxy's (last) entry is the same.
    for n in range(3):
        attempt("wrong", f"10.0.0.{n}, 203.0.113.7")
    assert attempt("right-password", "10.0.0.99, 203.0.113.7") == 429
    assert attempt("right-password", "198.51.100.9") == 302
