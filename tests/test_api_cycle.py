"""The API's request cycle (smmpanel.api.cycle): what Django's request signals do around a call still happens.

Each test calls smmpanel.wsgi.application, what gunicorn serves, directly (not
through the test client, whose handler disconnects close_old_connections to
keep the test's transaction open), on a database without a wrapping transaction.
"""

import io
import json
from urllib.parse import urlencode

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import override_settings

from smmpanel.wsgi import application

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def kept_connections():
    """Connections kept between requests (SQLite's setting; PostgreSQL's pool settings have 0)."""
    old = connection.settings_dict["CONN_MAX_AGE"]
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = 600
    yield
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = old


def call(key: str, action: str = "balance") -> dict:
    body = urlencode({"key": key, "action": action}).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v2",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    statuses = []
    answer = b"".join(application(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["200 OK"]
    return json.loads(answer)


def test_a_receiver_connected_to_the_request_signals_runs_around_every_api_call(customer):
    key = customer().key
    seen = []

    def on_start(sender, **kwargs):
        seen.append(("started", sender, "environ" in kwargs))

    def on_finish(sender, **kwargs):
        seen.append(("finished", sender))

    request_started.connect(on_start)
    request_finished.connect(on_finish)
    try:
        assert "balance" in call(key)
        assert "balance" in call(key)
    finally:
        request_started.disconnect(on_start)
        request_finished.disconnect(on_finish)
    assert "balance" in call(key)  # disconnected: not called any more
    api = "smmpanel.api.wsgi"
    assert seen == [("started", api, True), ("finished", api), ("started", api, True), ("finished", api)]


def test_a_database_connection_past_its_max_age_is_replaced_at_the_next_api_call(customer, kept_connections):
    key = customer().key
    assert "balance" in call(key)
    before = connection.connection
    assert before is not None  # kept between calls (CONN_MAX_AGE)
    assert "balance" in call(key)
    assert connection.connection is before
    connection.close_at = 0  # its age is up
    assert "balance" in call(key)
    assert connection.connection is not None
    assert connection.connection is not before


def test_with_close_old_connections_disconnected_the_api_keeps_the_connection_it_has(customer, kept_connections):
    # What Django's test client relies on to keep a test's transaction: the API honours it too.
    key = customer().key
    assert "balance" in call(key)
    before = connection.connection
    connection.close_at = 0
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        assert "balance" in call(key)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert connection.connection is before


def test_with_debug_on_the_query_log_holds_only_the_last_api_calls_queries(customer):
    key = customer().key
    with override_settings(DEBUG=True):
        for _ in range(3):
            assert "balance" in call(key)
        # One query per `balance` call (the key's account): the earlier calls' were cleared.
        assert len(connection.queries) == 1
