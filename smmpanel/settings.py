"""Django settings, read from environment variables only (12-factor).

Everything a panel owner may want to change is an environment variable; see
README.md ("Configuration") for the list. With nothing set, the panel runs on
an embedded SQLite file under ``./var``.
"""

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def env_bool(name: str, default: bool = False) -> bool:
    """A boolean variable; unset or empty means `default`, a value outside the known words is an error.

    A typo (`DEBUG=ture`, `SESSION_COOKIE_SECURE=maybe`) must stop the start, not read as false.
    """
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={os.environ[name]!r} is not a boolean: use 1/0, true/false, yes/no or on/off")


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated variable; unset means `default`."""
    if name not in os.environ:
        return default
    return [item.strip() for item in os.environ[name].split(",") if item.strip()]


DATA_DIR = Path(os.environ.get("SMMPANEL_DATA_DIR", "var")).resolve()
# Only its owner may read the SQLite file, the secret key and the demo key kept here.
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def private_file(path: Path, text: str) -> None:
    """Create `path` (mode 0600) holding `text`, atomically: it appears complete or not at all.

    The text goes to a temporary file first, which is then hard-linked to its
    name: link() fails if the name exists, so when two processes race, one
    wins and the other reads the winner's complete file (FileExistsError).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _secret_key() -> str:
    """Use SECRET_KEY when given; otherwise one generated once and kept in DATA_DIR."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = DATA_DIR / "secret_key"
    try:
        private_file(path, secrets.token_urlsafe(50))
    except FileExistsError:
        pass  # made earlier, or by a process starting at the same time: theirs is the key
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")


def _site_url() -> tuple[str, str, str]:
    """SITE_URL split into (scheme, host name, origin); empty strings when unset."""
    url = os.environ.get("SITE_URL", "").strip().rstrip("/")
    if not url:
        return "", "", ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"SITE_URL={url!r} must look like https://panel.example.com")
    return parts.scheme, parts.hostname, f"{parts.scheme}://{parts.netloc}"


# One switch for a deployment (like healthchecks' SITE_ROOT): the address customers use.
# It sets the host names, the CSRF origin and, for https, the secure-cookie, HSTS,
# proxy and redirect settings below; each of those can still be set by its own variable.
SITE_URL_SCHEME, SITE_HOST, SITE_ORIGIN = _site_url()
HTTPS = SITE_URL_SCHEME == "https"
LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]"]  # Django compares IPv6 hosts in brackets
# Without SITE_URL or ALLOWED_HOSTS only local names are answered (a foreign Host gets 400);
# the test runner adds Django's "testserver" itself.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [SITE_HOST] if SITE_HOST else LOCAL_HOSTS)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_ORIGIN] if SITE_ORIGIN else [])
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
# HSTS: browsers then refuse plain http to this host (and, with includeSubDomains, to
# *.panel.example.com — the panel's own subdomains, not its parent domain's).
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
# The TLS-terminating proxy in front says how the client came in; only trust the header
# where such a proxy sets it (it must also overwrite any X-Forwarded-Proto the client sent).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL_HEADER", HTTPS) else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
# The API never redirects (a client would re-send the POST as a GET without its body); gunicorn
# serves it outside the middleware anyway, this keeps the Django route (runserver) the same.
SECURE_REDIRECT_EXEMPT = [r"^api/v2/?$"]
SITE_NAME = os.environ.get("SITE_NAME", "smmpanel")

INSTALLED_APPS = [
    "smmpanel.dashboard",  # before the admin: its admin/index.html is the owner's dashboard
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "smmpanel.accounts",
    "smmpanel.catalog",
    "smmpanel.ledger",
    "smmpanel.orders",
    "smmpanel.fulfilment",
    "smmpanel.providers",
    "smmpanel.payments",
    "smmpanel.api",
    "smmpanel.worker",
    "smmpanel.alerts",
    "smmpanel.demo",
    "smmpanel.updates",
    "smmpanel.averagetime",
    "smmpanel.web",
    "smmpanel.tickets",
    "django_htmx",
    "axes",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The signed-in customer's time zone for the panel's pages (after authentication).
    "smmpanel.web.timezones.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The Content-Security-Policy header on every page (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    # Turns a log-in refused for its address (LOGIN_FAILURES_PER_ADDRESS) into HTTP 429.
    "smmpanel.loginlimits.AddressLimitMiddleware",
    # Last, as django-axes requires: turns a locked-out log-in into HTTP 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "smmpanel.urls"
WSGI_APPLICATION = "smmpanel.wsgi.application"
# /api/v2 and /api/v2/ are both routes; never redirect a POST to add a slash.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "smmpanel.web.context.panel",
            ],
        },
    },
]


SQLITE_SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


def _sqlite_synchronous() -> str:
    """FULL by default: a committed charge survives a power loss, not only a crash of the process.

    NORMAL (in WAL mode) can lose the last transactions on power loss but never
    corrupts the file; it saves an fsync per commit (see docs/benchmarks.md).
    """
    level = os.environ.get("SQLITE_SYNCHRONOUS", "FULL").strip().upper()
    if level not in SQLITE_SYNCHRONOUS_LEVELS:
        raise ImproperlyConfigured(f"SQLITE_SYNCHRONOUS={level!r}: use one of {', '.join(SQLITE_SYNCHRONOUS_LEVELS)}")
    return level


def _private_sqlite_file(name: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would use the umask, often 0644).

    SQLite gives the -wal and -shm files it makes later the database file's mode.
    """
    try:
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _pool_size() -> int:
    try:
        return int(os.environ.get("DATABASE_POOL_SIZE", "8"))
    except ValueError:
        raise ImproperlyConfigured("DATABASE_POOL_SIZE must be a whole number (0: no pool)") from None


def _database() -> dj_database_url.DBConfig:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'smmpanel.sqlite3'}"
    if url.startswith("sqlite"):
        db = dj_database_url.parse(url)
        # Django's backend, except that under gevent a wait for the write lock yields
        # to other requests instead of blocking the whole process (smmpanel/sqlite/base.py).
        db["ENGINE"] = "smmpanel.sqlite"
        if db["NAME"] and db["NAME"] != ":memory:":
            Path(db["NAME"]).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _private_sqlite_file(db["NAME"])
        db["OPTIONS"] = {
            # Writers take the lock when the transaction starts, so concurrent
            # writers queue (up to `timeout` seconds) instead of failing with
            # "database is locked" when a read lock tries to upgrade.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": f"PRAGMA journal_mode=WAL; PRAGMA synchronous={_sqlite_synchronous()};",
        }
        # Tests use a file, not :memory:, so that threads and live servers in
        # the tests share it; one per process so that parallel runs do not clash.
        db["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
        # Keep connections (one per thread): opening one and running the
        # PRAGMAs on every request cost more than the request's own query.
        db["CONN_MAX_AGE"] = 600
        return db
    size = _pool_size()
    if size <= 0:  # e.g. behind PgBouncer: a persistent connection per thread, checked before reuse
        return dj_database_url.parse(url, conn_max_age=600, conn_health_checks=True)
    # A pool per process (Django 5.1+ over psycopg_pool): `smmpanel serve` runs gevent
    # workers, a greenlet per client connection, so connections must be shared and bounded:
    # at most DATABASE_POOL_SIZE per process, whatever the number of clients. A request
    # takes one when it first queries and gives it back when it ends (CONN_MAX_AGE 0).
    db = dj_database_url.parse(url, conn_max_age=0)
    db.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": size, "timeout": 20}
    return db


# How long a pooled PostgreSQL connection lives when it prepares statements (below).
PREPARED_CONNECTION_SECONDS = 60


def _postgres_prepared(db: dj_database_url.DBConfig) -> dj_database_url.DBConfig:
    """Let smmpanel.fastsql prepare the API's hot reads on each pooled PostgreSQL connection.

    Django turns psycopg's prepared statements off (`prepare_threshold` None),
    to keep transaction-mode poolers working. A threshold psycopg never
    reaches turns them on for the statements that ask (fastsql.hot_cursor)
    and for nothing else: Django's own cursors bind on the client and are
    never prepared.

    Each connection keeps one generic plan per statement (plan_cache_mode
    force_generic_plan, which concerns prepared statements only): all of them
    look rows up by a unique key, so no value needs a plan of its own, and
    PostgreSQL's default would plan `status` anew at every call (it compares
    the generic plan's estimate of 10 ids with the 1 asked: 0.30 ms of
    PostgreSQL per call against 0.125 ms, measured at 4,400 orders).

    A prepared statement keeps the plan made for the tables as they were then:
    prepared while orders_order held 100 rows, `status` scanned the table whole
    (cheaper than the index at that size) and kept doing so as it grew, from
    0.2 ms of PostgreSQL per call to 1.2 ms at 10,000 orders (bench/api.py, on
    a server with autovacuum off). PostgreSQL plans again after an ANALYZE, but
    one may not come, so a pooled connection that prepares lives at most
    PREPARED_CONNECTION_SECONDS; its replacement plans for the tables' size then.

    Only with the pool: DATABASE_POOL_SIZE=0 (an outside pooler) keeps Django's
    default, as does DATABASE_PREPARED_STATEMENTS=off (for a pooler that cannot
    keep prepared statements, PgBouncer before 1.21).
    """
    pool = db.get("OPTIONS", {}).get("pool")
    if db["ENGINE"].endswith("postgresql") and pool and env_bool("DATABASE_PREPARED_STATEMENTS", True):
        db["OPTIONS"].setdefault("prepare_threshold", 2**31 - 1)
        db["OPTIONS"]["options"] = f"{db['OPTIONS'].get('options', '')} -c plan_cache_mode=force_generic_plan".strip()
        pool.setdefault("max_lifetime", PREPARED_CONNECTION_SECONDS)
    return db


DATABASES = {"default": _postgres_prepared(_database())}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Checked when a customer signs up, changes or resets a password in the panel.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
# Dates as the panel's pages write them ("2026-12-06 01:15"), in the admin too: see smmpanel.formats.
FORMAT_MODULE_PATH = ["smmpanel.formats"]
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve admin assets without a collectstatic step on the embedded default.
WHITENOISE_USE_FINDERS = True

# E-mail (password reset): printed to the console unless an SMTP server is configured
# with EMAIL_HOST; EMAIL_BACKEND may name any other Django backend.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "").strip()
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "").strip() or (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
if os.environ.get("EMAIL_FILE_PATH"):  # for EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend
    EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", not env_bool("EMAIL_USE_SSL"))  # STARTTLS unless implicit TLS is asked
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other: set one")
EMAIL_TIMEOUT = 10  # a hung mail server must not hang the request that sends a reset link
DEFAULT_FROM_EMAIL = (
    os.environ.get("DEFAULT_FROM_EMAIL", "").strip() or f"{SITE_NAME} <noreply@{SITE_HOST or 'localhost'}>"
)

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:new-order"
LOGOUT_REDIRECT_URL = "web:landing"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_traceback_for_403": {"()": "smmpanel.logfilters.NoTracebackFor403"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["no_traceback_for_403"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # lockouts are warnings; its banner and each failure are not
        "httpx": {"level": "WARNING"},  # the worker's every request to a provider is not news
        "stripe": {"level": "WARNING"},  # nor each call to Stripe
    },
}

# Log-in lockout (django-axes), for the admin's and the customer panel's log-in (both
# authenticate through these backends): after LOGIN_FAILURE_LIMIT wrong passwords for one
# username from one address within LOGIN_LOCKOUT_MINUTES, that pair is refused with HTTP 429
# until the failures are that old. Other addresses are unaffected, and so are other usernames
# until the address as a whole reaches LOGIN_FAILURES_PER_ADDRESS (password spraying).
AUTHENTICATION_BACKENDS = [
    # First: an address over LOGIN_FAILURES_PER_ADDRESS is refused before any password is checked.
    "smmpanel.loginlimits.AddressLimitBackend",
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_USE_ATTEMPT_EXPIRATION = True  # failures count within the window, not forever
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HTTP_RESPONSE_CODE = 429
AXES_RESET_ON_SUCCESS = True
# The 429 page, in the panel's look (admin and customer log-in alike).
AXES_LOCKOUT_TEMPLATE = "web/account/locked_out.html"
# Behind the proxy every client has the proxy's address: take the one it appended.
AXES_CLIENT_IP_CALLABLE = "smmpanel.loginlimits.client_ip"

# Worker: how often the loop looks for due work, and how long a claim lasts
# before another worker may take the row over (a crashed worker's lease).
WORKER_POLL_SECONDS = float(os.environ.get("WORKER_POLL_SECONDS", "1"))
WORKER_LEASE_SECONDS = float(os.environ.get("WORKER_LEASE_SECONDS", "60"))
# Providers: how often a young order is checked upstream (older ones less often:
# ×4 after 10 minutes, ×20 after an hour, ×60 after a day; see providers/engine.py).
PROVIDER_SYNC_SECONDS = float(os.environ.get("PROVIDER_SYNC_SECONDS", "15"))
# Providers a worker talks to at once (one thread each; each provider's own limits apply within).
WORKER_THREADS = int(os.environ.get("WORKER_THREADS", "4"))

# Alerts to the owner (smmpanel/alerts): by mail to ALERTS_EMAIL (comma-separated; empty: the
# superusers' addresses, else ADMINS; "off": no mail) and by Telegram when a bot token and a chat
# id are set. The worker sends what piled up at most every ALERTS_BATCH_SECONDS, as one message.
ALERTS_EMAIL = env_list("ALERTS_EMAIL", [])
TELEGRAM_BOT_TOKEN = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
TELEGRAM_CHAT_ID = os.environ.get("TELEGRAM_CHAT_ID", "").strip()
TELEGRAM_API_BASE = os.environ.get("TELEGRAM_API_BASE", "").strip() or "https://api.telegram.org"
ALERTS_BATCH_SECONDS = float(os.environ.get("ALERTS_BATCH_SECONDS", "30"))
ALERTS_SEND_TIMEOUT = float(os.environ.get("ALERTS_SEND_TIMEOUT", "10"))
# Providers are asked for our balance (and so seen failing) every ALERTS_PROVIDER_CHECK_SECONDS;
# ALERTS_PROVIDER_FAILURES failed checks in a row are an alert.
ALERTS_PROVIDER_CHECK_SECONDS = float(os.environ.get("ALERTS_PROVIDER_CHECK_SECONDS", "300"))
ALERTS_PROVIDER_FAILURES = int(os.environ.get("ALERTS_PROVIDER_FAILURES", "3"))
# An order Pending / In progress / Processing with no change for this long is reported stuck.
STUCK_HOURS = float(os.environ.get("STUCK_HOURS", "24"))

# Django's cache: Redis when REDIS_URL is set (e.g. redis://127.0.0.1:6379/0), shared by
# every process; otherwise one in-memory cache per process. The API rate limit counts in it.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "smmpanel",
            # A Redis that hangs must not hang the API (the rate limit then serves uncounted).
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# API v2: at most this many requests per API key ("20/s", "600/m", "10000/h"); empty: no limit.
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "").strip()
# One limit on a request body, for every encoding (multipart included) and method: 1 MiB
# holds the largest order (64 KiB of parameters, percent-encoded) many times over.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

# Content-Security-Policy (django-csp): every page's scripts, styles, fonts and images come
# from the panel itself (no CDN, no inline script or style), so nothing else is allowed;
# images may also be data: URLs (the admin's icons in CSS). No page may be framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Signing up: SIGNUP_OPEN=off closes it (the owner then makes accounts: `smmpanel user create`,
# the admin). With SIGNUP_EMAIL_VERIFICATION a new account places no order before its owner
# follows the link mailed to the address (smmpanel/accounts/verification.py).
SIGNUP_OPEN = env_bool("SIGNUP_OPEN", True)
SIGNUP_EMAIL_VERIFICATION = env_bool("SIGNUP_EMAIL_VERIFICATION")

# Per-address limits (smmpanel/addresslimits.py), counted in the cache like the API rate
# limit (shared by every process with REDIS_URL), in the same rate syntax; empty: no limit.
SIGNUPS_PER_ADDRESS = os.environ.get("SIGNUPS_PER_ADDRESS", "10/h").strip()
PASSWORD_RESETS_PER_ADDRESS = os.environ.get("PASSWORD_RESETS_PER_ADDRESS", "10/h").strip()
LOGIN_FAILURES_PER_ADDRESS = os.environ.get("LOGIN_FAILURES_PER_ADDRESS", "100/h").strip()
API_KEY_FAILURES_PER_ADDRESS = os.environ.get("API_KEY_FAILURES_PER_ADDRESS", "30/m").strip()

# Payment gateways (smmpanel.payments). Keys set here win over the ones stored in the admin, and a
# gateway whose keys are all set here is enabled with defaults (no fee, no bonus, 1 to 10,000 USD).
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "").strip()
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "").strip()
CRYPTOMUS_MERCHANT_ID = os.environ.get("CRYPTOMUS_MERCHANT_ID", "").strip()
CRYPTOMUS_PAYMENT_KEY = os.environ.get("CRYPTOMUS_PAYMENT_KEY", "").strip()
NOWPAYMENTS_API_KEY = os.environ.get("NOWPAYMENTS_API_KEY", "").strip()
NOWPAYMENTS_IPN_SECRET = os.environ.get("NOWPAYMENTS_IPN_SECRET", "").strip()
# Optional: NOWPayments' dashboard login, with which the worker can find a payment no IPN named yet.
NOWPAYMENTS_EMAIL = os.environ.get("NOWPAYMENTS_EMAIL", "").strip()
NOWPAYMENTS_PASSWORD = os.environ.get("NOWPAYMENTS_PASSWORD", "").strip()
# Where each gateway's API is (their sandboxes, or a fake one in the tests).
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "").strip().rstrip("/") or "https://api.stripe.com"
CRYPTOMUS_API_BASE = os.environ.get("CRYPTOMUS_API_BASE", "").strip().rstrip("/") or "https://api.cryptomus.com"
NOWPAYMENTS_API_BASE = os.environ.get("NOWPAYMENTS_API_BASE", "").strip().rstrip("/") or "https://api.nowpayments.io"
# A gateway's notification larger than this is refused unread (theirs are a few KiB).
PAYMENTS_NOTIFY_MAX_BYTES = 64 * 1024
# Seconds a request to a gateway may take, and the most of an answer read from it.
PAYMENTS_HTTP_TIMEOUT = float(os.environ.get("PAYMENTS_HTTP_TIMEOUT", "15"))
PAYMENTS_HTTP_MAX_BYTES = 1024 * 1024
# How old a Stripe event's signature may be (Stripe's own default: 5 minutes).
STRIPE_WEBHOOK_TOLERANCE = 300
# The worker asks a gateway about a pending payment this often (less often as it ages), for this long.
PAYMENTS_POLL_SECONDS = float(os.environ.get("PAYMENTS_POLL_SECONDS", "60"))
PAYMENTS_POLL_DAYS = 7

# Support tickets (smmpanel/tickets/limits.py): tickets a customer may have open (not closed) at
# once, and new messages (tickets and replies) per customer, in the rate syntax; empty: no limit.
TICKETS_OPEN_MAX = int(os.environ.get("TICKETS_OPEN_MAX", "5"))
TICKET_MESSAGES_PER_CUSTOMER = os.environ.get("TICKET_MESSAGES_PER_CUSTOMER", "10/h").strip()
