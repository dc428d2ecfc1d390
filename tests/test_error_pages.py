"""The panel's own 404, 403 and 500 pages (DEBUG off, as in production), and the API keeping its JSON errors."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.template import loader
from django.test import Client
from django.urls import include, path

pytestmark = pytest.mark.django_db


def fails(request):
    raise RuntimeError("a bug in a view")


def refuses(request):
    raise PermissionDenied


# The tests that need a failing or refusing view route this module's URLs (plus the real ones) instead.
urlpatterns = [
    path("test-fails/", fails),
    path("test-refuses/", refuses),
    path("", include("smmpanel.urls")),
]


@pytest.fixture
def browser(settings):
    settings.DEBUG = False
    return Client(raise_request_exception=False)


def test_a_missing_order_is_the_panels_styled_404(browser, customer):
    browser.force_login(customer().user)
    response = browser.get("/orders/99999/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "/static/web/panel.css" in page
    assert 'class="topbar"' in page  # the panel's header and menu, not a bare "Not Found"
    assert "Page not found" in page
    assert 'href="/"' in page


def test_a_missing_page_is_styled_for_a_visitor_too(browser):
    response = browser.get("/no-such-page/")
    assert response.status_code == 404
    assert "/static/web/panel.css" in response.content.decode()


@pytest.mark.urls(__name__)
def test_a_refused_page_is_the_styled_403(browser):
    response = browser.get("/test-refuses/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "/static/web/panel.css" in page and "Not allowed" in page and 'href="/"' in page


@pytest.mark.urls(__name__)
def test_a_failing_page_is_the_static_500(browser, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = browser.get("/test-fails/")
    assert response.status_code == 500
    page = response.content.decode()
    # The same bytes as the template rendered with no context at all: nothing in it can fail with the server.
    assert page == loader.get_template("500.html").render()
    assert "/static/web/panel.css" in page and "Something went wrong" in page and 'href="/"' in page


def test_the_api_still_answers_json_not_these_pages(browser):
    response = browser.post("/api/v2", {"key": "not-a-key", "action": "balance"})
    assert response["Content-Type"].startswith("application/json")
    assert "error" in json.loads(response.content)
