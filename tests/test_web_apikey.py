"""The API page (a new key shown once, then only its first characters) and the API documentation page."""

import itertools
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from smmpanel.accounts.models import Account
from smmpanel.api.views import ACTIONS as API_ACTIONS
from smmpanel.catalog.order_types import ORDER_TYPES
from smmpanel.client import Client
from smmpanel.web import apidocs

REPO = Path(__file__).resolve().parent.parent


def form_token(client) -> str:
    """The one-time token of the "Generate new key" form the API page serves now."""
    return re.search(r'name="once" value="([^"]+)"', client.get("/api/").content.decode()).group(1)


def new_key(client, confirm=True, once=None):
    data = {"once": once or form_token(client)}
    if confirm:
        data["confirm"] = "on"
    return client.post("/api/key/new/", data)


def key_in(response) -> str:
    return re.search(r'<code id="new-key">([A-Za-z0-9]+)</code>', response.content.decode()).group(1)


# --- the key ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_page_shows_the_key_s_first_characters_never_the_key(client, customer):
    cust = customer()
    client.force_login(cust.user)
    response = client.get("/api/")
    body = response.content.decode()
    assert cust.key not in body
    assert f"{cust.key[:6]}…" in body
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_a_new_key_needs_the_confirmation_and_is_shown_in_full_once(client, customer, api):
    cust = customer()
    client.force_login(cust.user)

    refused = new_key(client, confirm=False)
    assert refused.status_code == 400
    assert "Tick the box to confirm" in refused.content.decode()
    assert api(cust.key, "balance")["currency"] == "USD"  # the old key still works

    made = new_key(client)
    assert made.status_code == 200
    assert "no-store" in made["Cache-Control"]
    key = key_in(made)
    assert len(key) == 40 and key != cust.key
    assert 'id="copy-key"' in made.content.decode()
    # The new key works, the old one no longer does.
    assert api(key, "balance") == {"balance": "100.00000", "currency": "USD"}
    assert api(cust.key, "balance") == {"error": "Invalid API key"}
    # Only its digest is stored, and nothing that could show it again is kept.
    account = Account.objects.get(pk=cust.account.pk)
    assert account.api_key_hint == key[:6] and key not in account.api_key_hash
    assert key not in str(dict(client.session))
    # Coming back to the page shows the first characters only.
    again = client.get("/api/").content.decode()
    assert key not in again and f"{key[:6]}…" in again


@pytest.mark.django_db
def test_sending_the_same_form_again_keeps_the_key_just_shown(client, customer, api):
    cust = customer()
    client.force_login(cust.user)
    once = form_token(client)
    key = key_in(new_key(client, once=once))
    # A reload of that answer sends the same POST again: nothing changes, no key is shown.
    again = new_key(client, once=once)
    assert again.status_code == 302 and again["Location"] == "/api/"
    assert api(key, "balance")["currency"] == "USD"
    page = client.get("/api/").content.decode()
    assert "your key was not changed" in page
    assert key not in page and f"{key[:6]}…" in page
    # A forged or missing token changes nothing either.
    assert new_key(client, once="forged").status_code == 302
    assert client.post("/api/key/new/", {"confirm": "on"}).status_code == 302
    assert api(key, "balance")["currency"] == "USD"


@pytest.mark.django_db
def test_a_new_key_is_made_only_by_a_post_from_the_signed_in_customer(client, customer):
    cust = customer()
    assert new_key(client, once="x")["Location"].startswith("/login/")
    client.force_login(cust.user)
    assert client.get("/api/key/new/").status_code == 405
    account = Account.objects.get(pk=cust.account.pk)
    assert Account.for_key(cust.key) == account  # unchanged


@pytest.mark.django_db
def test_making_a_key_needs_the_csrf_token(customer):
    from django.test import Client as DjangoClient

    cust = customer()
    strict = DjangoClient(enforce_csrf_checks=True)
    strict.force_login(cust.user)
    assert strict.post("/api/key/new/", {"confirm": "on"}).status_code == 403
    assert Account.for_key(cust.key) is not None


@pytest.mark.django_db
def test_a_customer_who_signed_up_has_no_key_until_making_one(client):
    client.post(
        "/signup/",
        {"username": "zoe", "email": "z@example.com", "password1": "pear-Canyon-81", "password2": "pear-Canyon-81"},
    )
    page = client.get("/api/").content.decode()
    assert "You have no API key yet." in page
    key = key_in(new_key(client))
    assert Account.for_key(key).user.username == "zoe"


# --- the documentation -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_docs_are_public_and_cover_every_action_and_every_order_type(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "http://testserver/api/v2" in body
    for name in API_ACTIONS:
        assert f'id="action-{name}"' in body, name
    for spec in ORDER_TYPES:
        section = body[body.index(f'id="{apidocs.slug(spec.name)}"') :].split("</section>")[0]
        for param in apidocs.type_params(spec):
            assert f"<code>{param.name}</code>" in section, (spec.name, param.name)
        for name in spec.params:
            assert f"<code>{name}</code>" in section, (spec.name, name)
        assert "curl -X POST" in section and "from smmpanel.client import Client" in section
        assert "curl_setopt_array" in section


def test_the_docs_describe_exactly_the_actions_the_api_serves():
    assert [a.name for a in apidocs.ACTIONS] == list(API_ACTIONS)


def test_the_docs_and_docs_api_v2_md_give_each_type_the_same_parameters():
    text = (REPO / "docs" / "api-v2.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in {t.name for t in ORDER_TYPES}:
            rows[cells[0]] = set(re.findall(r"`([a-z_]+)`", cells[1]))
    assert set(rows) == {t.name for t in ORDER_TYPES}
    for spec in ORDER_TYPES:
        assert rows[spec.name] == {p.name for p in apidocs.type_params(spec)}, spec.name


def test_the_python_examples_call_methods_the_client_has():
    page = apidocs.page("https://panel.example.com/api/v2")
    snippets = [ex["code"]["python"] for item in page["actions"] for ex in item["examples"]]
    snippets += [t.code["python"] for t in page["types"]]
    for snippet in snippets:
        compile(snippet, "<example>", "exec")
        for method in re.findall(r"panel\.(\w+)\(", snippet):
            assert callable(getattr(Client, method, None)), method


@pytest.mark.django_db
def test_the_docs_page_never_shows_the_customer_s_key(client, customer):
    cust = customer()
    client.force_login(cust.user)
    body = client.get("/api/docs/").content.decode()
    assert cust.key not in body and cust.key[:6] not in body
    assert "YOUR_API_KEY" in body


# --- the examples, run ------------------------------------------------------------------------------------


def _service_for(spec, service):
    lo, hi = (100, 1000) if spec.subscription else (1, 10000)
    return service(type=spec.name, rate="1", min=lo, max=hi, dripfeed=spec.dripfeed_capable)


def curl_fields(command: str) -> dict:
    """The form fields a documented curl command sends, as bash reads its quoting."""
    argv_printer = f"{shlex.quote(sys.executable)} -c 'import json, sys; print(json.dumps(sys.argv[1:]))'"
    out = subprocess.run(
        ["bash", "-c", argv_printer + command.removeprefix("curl")], capture_output=True, text=True, check=True
    ).stdout
    args = json.loads(out)
    fields = {}
    for flag, value in itertools.pairwise(args):
        if flag in ("-d", "--data-urlencode"):
            name, _, text = value.partition("=")
            fields[name] = text
    return fields


@pytest.mark.django_db
def test_every_type_s_curl_example_is_an_order_the_api_accepts(customer, service, api):
    cust = customer("1000")
    for spec in ORDER_TYPES:
        svc = _service_for(spec, service)
        command = apidocs.curl("http://testserver/api/v2", "add", apidocs.type_example(spec, svc.pk))
        fields = curl_fields(command)
        assert fields.pop("key") == apidocs.KEY_PLACEHOLDER
        body = api(cust.key, **fields)
        assert set(body) == {"order"}, (spec.name, body)


@pytest.mark.django_db(transaction=True)
def test_every_type_s_python_example_places_its_order_through_a_running_panel(live_server, customer, service):
    cust = customer("1000")
    url = f"{live_server.url}/api/v2"
    for spec in ORDER_TYPES:
        svc = _service_for(spec, service)
        snippet = apidocs.python(url, "add", apidocs.type_example(spec, svc.pk))
        out = subprocess.run(
            [sys.executable, "-c", snippet.replace(apidocs.KEY_PLACEHOLDER, cust.key)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, (spec.name, out.stderr[-2000:])
        order = int(out.stdout.strip())
        assert cust.orders().get(pk=order).service_id == svc.pk


@pytest.mark.django_db
def test_the_docs_list_the_api_s_refusals_in_its_exact_words(client):
    body = client.get("/api/docs/").content.decode()
    for text in ("Invalid API key", "Not enough funds on balance", "Quantity less than minimal N", "Bad link"):
        assert f"<code>{text}</code>" in body
    assert "You have active order with this link. Please wait until order being completed." in body


def test_the_docs_offer_the_client_as_a_download_that_python_imports(client, tmp_path):
    page = client.get(reverse("web:api-docs")).content.decode()
    assert "pip install smmpanel" not in page  # not published: the page says how to get it instead
    assert f'href="{reverse("web:api-client")}"' in page and "PYTHONPATH=smmpanel-client.zip" in page
    download = client.get(reverse("web:api-client"))
    assert download["Content-Type"] == "application/zip"
    archive = tmp_path / "smmpanel-client.zip"
    archive.write_bytes(download.content)
    # A fresh interpreter importing the client from the zip alone (first on its path), as the page says.
    script = (
        f"import sys; sys.path.insert(0, {str(archive)!r})\n"
        "import smmpanel, smmpanel.client as c\n"
        f"assert c.__file__.startswith({str(archive)!r}), c.__file__\n"
        "assert not hasattr(smmpanel, 'settings')\n"
        "print(c.parse_id('12'), c.Client('https://panel.example/api/v2', 'k').__class__.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["12", "Client"]
