"""`smmpanel client`: JSON or a table on stdout, the reason on stderr, exit 0 / 1 / 2.

Most tests run the command's main() in this process against a sloppy panel (a real HTTP
server on 127.0.0.1, see test_client.py); the entry points (`smmpanel client`,
`python -m smmpanel.client`) run as real processes without Django settings, one of
them against our own panel on gunicorn.
"""

import json
import os
import subprocess
import sys

import pytest

from smmpanel.client.cli import main

from .conftest import ORDER_EXAMPLES, REPO, new_link
from .test_client import KEY, SloppyPanel, free_port, panel  # noqa: F401 - panel is a fixture

SMMPANEL = os.path.join(os.path.dirname(sys.executable), "smmpanel")
STATUS = {"charge": "0.27819", "start_count": "3572", "status": "Inprogress", "remains": "157", "currency": "USD"}


@pytest.fixture
def sloppy():
    server = SloppyPanel()
    yield server
    server.close()


@pytest.fixture
def run(sloppy, capsys):
    """run(*args) -> (exit code, stdout, stderr) of `smmpanel client --url ... --key ... *args`."""

    def call(*args, url=None):
        code = main(["--url", url or sloppy.url, "--key", KEY, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return call


def without_django_settings(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "SMMPANEL_CLIENT_KEY")}
    return {**env, **extra}


# --- output -------------------------------------------------------------------------------------------


def test_balance_prints_json(sloppy, run):
    sloppy.answer("balance", {"balance": "100.84292", "currency": "USD"})
    code, out, err = run("balance")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"balance": "100.84292", "currency": "USD"}


def test_services_print_as_json_without_the_raw_answer(sloppy, run):
    sloppy.answer(
        "services",
        [
            {
                "service": "1",
                "name": "Followers",
                "type": "Default",
                "category": "IG",
                "rate": 0.9,
                "min": "50",
                "max": "10000",
                "refill": "1",
                "cancel": 0,
            }
        ],
    )
    code, out, _ = run("services")
    assert code == 0
    assert json.loads(out) == [
        {
            "service": 1,
            "name": "Followers",
            "type": "Default",
            "category": "IG",
            "rate": "0.9",
            "min": 50,
            "max": 10000,
            "refill": True,
            "cancel": False,
            "dripfeed": False,
        }
    ]


def test_services_as_a_table_line_up_under_their_headers(sloppy, run):
    sloppy.answer(
        "services",
        [
            {
                "service": 1,
                "name": "Followers",
                "type": "Default",
                "category": "Instagram",
                "rate": "0.90",
                "min": "50",
                "max": "10000",
                "refill": True,
            },
            {
                "service": 120,
                "name": "Custom comments, fast",
                "type": "Custom Comments",
                "category": "IG",
                "rate": "12.5",
                "min": "1",
                "max": "500",
            },
        ],
    )
    code, out, _ = run("services", "--table")  # --table after the action works as well as before it
    assert code == 0
    header, first, second = out.rstrip("\n").split("\n")
    assert header.split() == [
        "service",
        "name",
        "type",
        "category",
        "rate",
        "min",
        "max",
        "refill",
        "cancel",
        "dripfeed",
    ]
    # Text columns start under their header; number columns end under it.
    assert first.index("Followers") == second.index("Custom comments") == header.index("name")
    rate_end = header.index("rate") + len("rate")
    assert first[:rate_end].endswith(" 0.90") and second[:rate_end].endswith("12.5")
    assert first.split()[-3:] == ["yes", "no", "no"]


def test_status_of_one_id_asks_with_the_single_form_and_prints_it_by_id(sloppy, run):
    sloppy.answer("status", STATUS)
    code, out, _ = run("status", "23")
    assert code == 0
    assert sloppy.forms("status")[-1]["order"] == "23"
    assert json.loads(out) == {
        "23": {
            "status": "In progress",
            "charge": "0.27819",
            "start_count": 3572,
            "remains": 157,
            "currency": "USD",
            "posts": None,
            "orders": [],
        }
    }


def test_status_of_several_ids_prints_each_and_exits_1_when_one_is_refused(sloppy, run):
    sloppy.answer("status", {"1": STATUS, "10": {"error": "Incorrect order ID"}})
    code, out, err = run("status", "1", "10")
    assert code == 1
    assert sloppy.forms("status")[-1]["orders"] == "1,10"
    body = json.loads(out)
    assert body["1"]["status"] == "In progress" and body["10"] == {"error": "Incorrect order ID"}
    assert err == "error: 10: Incorrect order ID\n"


def test_status_as_a_table_shows_errors_in_their_row(sloppy, run):
    sloppy.answer("status", {"1": STATUS, "10": "Incorrect order ID"})
    code, out, _ = run("--table", "status", "1", "10")
    assert code == 1
    header, one, ten = out.rstrip("\n").split("\n")
    assert header.split()[:2] == ["order", "status"] and header.split()[-1] == "error"
    assert one.split()[:2] == ["1", "In"] and ten.split()[0] == "10" and ten.endswith("Incorrect order ID")


def test_add_sends_the_order_fields_and_any_param(sloppy, run):
    sloppy.answer("add", {"order": "23501"})
    code, out, _ = run(
        "add",
        "--service",
        "4",
        "--link",
        "https://x.test/p",
        "--quantity",
        "1000",
        "--runs",
        "3",
        "--interval",
        "5",
        "--param",
        "comments=one\\ntwo",
        "--param",
        "answer_number=2",
    )
    assert (code, json.loads(out)) == (0, {"order": 23501})
    assert sloppy.forms("add")[-1] == {
        "key": KEY,
        "action": "add",
        "service": "4",
        "link": "https://x.test/p",
        "quantity": "1000",
        "runs": "3",
        "interval": "5",
        "comments": "one\ntwo",
        "answer_number": "2",
    }


def test_refill_refill_status_and_cancel_print_results_by_id(sloppy, run):
    sloppy.answer("refill", [{"order": 1, "refill": 7}, {"order": 2, "refill": {"error": "Incorrect order ID"}}])
    sloppy.answer("refill_status", {"status": "Completed"})
    sloppy.answer("cancel", [{"order": 1, "cancel": 1}])
    assert run("refill", "1", "2")[:2] == (
        1,
        json.dumps({"1": 7, "2": {"error": "Incorrect order ID"}}, indent=2) + "\n",
    )
    assert json.loads(run("refill-status", "7")[1]) == {"7": "Completed"}
    code, out, _ = run("cancel", "1", "--table")
    assert code == 0 and out.split() == ["order", "cancel", "1", "accepted"]


# --- failures -----------------------------------------------------------------------------------------


def test_a_refusal_exits_1_with_the_panels_words_on_stderr(sloppy, run):
    sloppy.answer("balance", {"error": "Invalid API key"}, status=401)
    code, out, err = run("balance")
    assert (code, out, err) == (1, "", "error: the panel answered: Invalid API key\n")


def test_an_html_page_exits_1_with_a_short_reason(sloppy, run):
    sloppy.answer("services", "<html>502 Bad Gateway</html>", status=502, content_type="text/html")
    code, out, err = run("services")
    assert (code, out) == (1, "")
    assert err.startswith("error: services: the answer is not JSON (HTTP 502)") and "Traceback" not in err


def test_an_unreachable_panel_exits_1_without_a_traceback(run):
    code, out, err = run("balance", url=f"http://127.0.0.1:{free_port()}/api/v2")
    assert (code, out) == (1, "")
    assert "ConnectError" in err and "Traceback" not in err and KEY not in err


@pytest.mark.parametrize(
    "args",
    [
        ["balance"],
        ["--key", KEY, "status"],
        ["--key", KEY, "status", "abc"],
        ["--key", KEY, "add", "--link", "https://x.test"],
        ["--key", KEY, "delete"],
    ],
)
def test_usage_errors_exit_2(sloppy, capsys, args):
    os.environ.pop("SMMPANEL_CLIENT_KEY", None)
    with pytest.raises(SystemExit) as caught:
        main(["--url", sloppy.url, *args])
    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err


# --- the entry points, as real processes without Django ----------------------------------------------


def test_smmpanel_client_takes_the_key_from_the_environment_and_runs_without_django(sloppy):
    sloppy.answer("balance", {"balance": "1.5", "currency": "USD"})
    done = subprocess.run(
        [SMMPANEL, "client", "--url", sloppy.url, "balance"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=without_django_settings(SMMPANEL_CLIENT_KEY=KEY),
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == {"balance": "1.5", "currency": "USD"}
    assert sloppy.forms("balance")[-1]["key"] == KEY


def test_python_dash_m_smmpanel_client_works_too(sloppy):
    sloppy.answer("balance", {"error": "Invalid API key"})
    done = subprocess.run(
        [sys.executable, "-m", "smmpanel.client", "--url", sloppy.url, "--key", KEY, "balance"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=without_django_settings(),
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "error: the panel answered: Invalid API key\n"


def test_smmpanel_client_against_our_own_panel(panel):  # noqa: F811 - the fixture from test_client
    env = without_django_settings(SMMPANEL_CLIENT_KEY=panel.world["key"], SMMPANEL_CLIENT_URL=panel.url)

    def cli(*args):
        done = subprocess.run(
            [SMMPANEL, "client", *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=60
        )
        assert "Traceback" not in done.stderr
        return done.returncode, done.stdout, done.stderr

    code, out, _ = cli("services", "--table")
    assert code == 0 and len(out.strip().splitlines()) == 1 + len(ORDER_EXAMPLES) + 1  # header + services
    service = panel.world["services"]["Poll"]
    code, out, _ = cli(
        "add", "--service", str(service), "--link", new_link(), "--quantity", "100", "--param", "answer_number=2"
    )
    assert code == 0
    order = json.loads(out)["order"]
    code, out, _ = cli("status", str(order), "999999")
    assert code == 1
    assert json.loads(out)[str(order)]["status"] == "Pending"
    assert json.loads(out)["999999"] == {"error": "Incorrect order ID"}
    code, out, _ = cli("cancel", str(order))
    assert (code, json.loads(out)) == (0, {str(order): "accepted"})
    code, out, _ = cli("balance")
    assert code == 0 and json.loads(out)["currency"] == "USD"
