"""The owner hears about trouble first: each alert once, batched into one message per channel, safe with many workers.

Mail goes to Django's locmem outbox in-process (a file per message for the worker processes);
Telegram is a real HTTP server on 127.0.0.1 answering as the Bot API documents (tests/fake_telegram.py).
The delivery job runs in-process with `now` moved on (no sleeps), from two threads at once, and
in two real `smmpanel worker` processes on SQLite and PostgreSQL.
"""

import re
import shutil
import subprocess
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from smmpanel.alerts.models import Alert, Announcement, Delivery, Duty
from smmpanel.alerts.services import raise_alert
from smmpanel.orders import services
from smmpanel.orders.models import Actor, Order
from smmpanel.orders.validation import validate_order
from smmpanel.providers.models import Provider
from smmpanel.worker import alerts as jobs

from .conftest import PYTHON, REPO, PanelServer, new_link
from .fake_provider import fake_provider
from .fake_telegram import CHAT_ID, TOKEN, fake_telegram

LONG_REASON = "Failed 8 times in a row; last: provider X: cannot reach provider X: " + "timed out " * 40


@pytest.fixture
def telegram(settings, db):
    """The fake Bot API, with the panel's Telegram and mail settings pointing at it and the outbox."""
    with fake_telegram() as server:
        settings.TELEGRAM_API_BASE = server.base
        settings.TELEGRAM_BOT_TOKEN = TOKEN
        settings.TELEGRAM_CHAT_ID = CHAT_ID
        settings.ALERTS_EMAIL = ["owner@example.com"]
        settings.ALERTS_BATCH_SECONDS = 60
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        mail.outbox = []
        yield server


def later(seconds: float = 120):
    return timezone.now() + timedelta(seconds=seconds)


def manual_orders(customer, service, n: int) -> list[int]:
    """n Pending orders of a manual service (rows made at once: placing is not what is tested here)."""
    cust = customer("0")
    svc = service(rate="1", min=1, max=10, fulfilment="manual")
    rows = [
        Order(account=cust.account, service=svc, type="Default", link=new_link(), quantity=1, total=1, remains=1)
        for _ in range(n)
    ]
    Order.objects.bulk_create(rows)
    return list(Order.objects.filter(account=cust.account).order_by("id").values_list("pk", flat=True))


def told(messages: list[str], pattern: str) -> int:
    """How many alerts of a kind the messages tell in all (their "N orders need attention" lines)."""
    total = 0
    for text in messages:
        found = re.search(pattern, text)
        if found:
            total += int(found.group(1) or 1)
    return total


ATTENTION = r"(?:(\d+) orders need|1 order needs) attention"


# --- each alert once, batched -----------------------------------------------------------------


def test_five_hundred_orders_flagged_at_once_are_one_mail_and_one_telegram_message(telegram, customer, service):
    ids = manual_orders(customer, service, 500)
    for pk in ids:
        services.flag_attention(pk, LONG_REASON)
    assert Alert.objects.count() == 500

    jobs.run_once(timezone.now())  # the oldest is seconds old: still gathering what comes with it
    assert mail.outbox == [] and telegram.messages == []

    jobs.run_once(later())
    assert len(mail.outbox) == 1 and len(telegram.messages) == 1
    message = mail.outbox[0]
    assert message.to == ["owner@example.com"]
    assert "500 orders need attention" in message.subject
    assert f"Order #{ids[0]}: Failed 8 times" in message.body and "… and 490 more" in message.body
    text = telegram.messages[0]["text"]
    assert telegram.messages[0]["chat_id"] == CHAT_ID
    assert text.startswith("[smmpanel] 500 orders need attention") and len(text) <= 4096  # cut to fit
    assert not Delivery.objects.filter(delivered_at__isnull=True).exists()

    jobs.run_once(later(600))  # nothing new: nothing sent again
    assert len(mail.outbox) == 1 and len(telegram.messages) == 1


def test_an_order_is_told_once_per_time_it_needs_attention_and_not_when_a_person_flags_it(telegram, customer, service):
    first, second = manual_orders(customer, service, 2)
    services.flag_attention(first, "provider gave no clear answer")
    services.flag_attention(first, "provider gave no clear answer")  # still the same trouble
    services.flag_attention(second, "looked at by the owner", actor=Actor.ADMIN)
    assert list(Alert.objects.values_list("subject_id", flat=True)) == [first]

    services.resume(first, "fixed")
    services.flag_attention(first, "again")  # a new episode: told again
    assert Alert.objects.filter(subject_id=first).count() == 2

    jobs.run_once(later())
    assert len(telegram.messages) == 1 and "2 orders need attention" in telegram.messages[0]["text"]


def test_a_customers_cancel_of_a_manual_order_is_told(telegram, customer, service):
    cust = customer("10")
    svc = service(rate="1", min=1, max=10, fulfilment="manual", cancel=True)
    order = services.place_order(cust.account.pk, validate_order(svc, {"link": new_link(), "quantity": "1"}))
    services.request_cancel(cust.account.pk, order.pk)
    [alert] = Alert.objects.all()
    assert alert.text == f"Order #{order.pk}: The customer asked to cancel this order."
    assert alert.url == f"/admin/orders/order/{order.pk}/change/"


def test_raise_alert_records_a_key_once_for_the_other_apps(telegram):
    assert raise_alert("ticket", "ticket:7", "New ticket #7: refund please", "/admin/tickets/ticket/7/")
    assert raise_alert("ticket", "ticket:7", "New ticket #7: refund please") is None
    assert raise_alert("payment", "payment:3", "Payment #3: amount differs") is not None
    jobs.run_once(later())
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "[smmpanel] 1 new ticket; 1 payment needs attention"
    assert "New ticket #7: refund please /admin/tickets/ticket/7/" in mail.outbox[0].body


def test_a_telegram_429_is_retried_after_its_retry_after_and_the_mail_is_not_sent_twice(telegram):
    raise_alert("ticket", "ticket:1", "New ticket #1")
    telegram.refuse_next(retry_after=40)
    now = later()
    jobs.run_once(now)
    assert telegram.calls == 1 and telegram.messages == [] and len(mail.outbox) == 1
    duty = Duty.objects.get(name="channel:telegram")
    assert duty.attempts == 1 and "429" in duty.last_error and TOKEN not in duty.last_error
    assert duty.due_at >= now + timedelta(seconds=39)

    jobs.run_once(now + timedelta(seconds=30))  # before the retry_after: not asked
    assert telegram.calls == 1

    jobs.run_once(duty.due_at + timedelta(seconds=1))
    assert [m["text"] for m in telegram.messages] == ["[smmpanel] 1 new ticket\n\n1 new ticket:\n- New ticket #1"]
    assert len(mail.outbox) == 1
    assert Duty.objects.get(name="channel:telegram").attempts == 0


def test_a_wrong_bot_token_is_retried_with_back_off_and_never_shown(telegram, settings):
    settings.TELEGRAM_BOT_TOKEN = "999:wrong-token"
    raise_alert("ticket", "ticket:2", "New ticket #2")
    jobs.run_once(later())
    duty = Duty.objects.get(name="channel:telegram")
    assert "401 Unauthorized" in duty.last_error and "wrong-token" not in duty.last_error
    assert Delivery.objects.filter(channel="telegram", delivered_at__isnull=True).count() == 1
    settings.TELEGRAM_BOT_TOKEN = TOKEN  # the owner fixes it: the alert goes out at the next try
    jobs.run_once(duty.due_at + timedelta(seconds=1))
    assert len(telegram.messages) == 1


def in_two_threads(work) -> None:
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            work()
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)


@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_at_once_send_each_batch_once(telegram, customer, service):
    for pk in manual_orders(customer, service, 50):
        services.flag_attention(pk, "stuck upstream")
    jobs.ensure_duties(timezone.now())
    now = later()
    in_two_threads(lambda: jobs.run_once(now, ensure=False))
    assert len(telegram.messages) == 1 and len(mail.outbox) == 1
    assert told([m["text"] for m in telegram.messages], ATTENTION) == 50


@pytest.mark.django_db(transaction=True)
def test_control_without_the_claim_two_senders_send_the_same_batch_twice(telegram, customer, service):
    for pk in manual_orders(customer, service, 50):
        services.flag_attention(pk, "stuck upstream")
    jobs.ensure_duties(timezone.now())
    duty = Duty.objects.get(name="channel:telegram")
    telegram.gate = threading.Barrier(2, timeout=10)  # both sends in flight before either is marked
    in_two_threads(lambda: jobs.deliver(duty, "telegram", later(), time.monotonic()))
    assert len(telegram.messages) == 2  # what the claim (above) prevents


# --- what the worker checks -----------------------------------------------------------------------


def test_a_low_provider_balance_is_told_once_per_episode(telegram):
    with fake_provider() as upstream:  # answers a balance of 100.84292 USD
        provider = Provider.objects.create(
            name="P", api_url=upstream.url, api_key="k" * 20, low_balance_alert=Decimal("200")
        )
        now = later()
        jobs.run_once(now)
        jobs.run_once(now + timedelta(minutes=10))  # still low: the same episode
        [alert] = Alert.objects.filter(kind="provider-balance")
        assert alert.text == "Provider P: our balance is 100.84292 USD, below 200.00000 USD"
        assert upstream.requests.count("balance") == 2

        Provider.objects.filter(pk=provider.pk).update(low_balance_alert=Decimal("50"))  # above: re-armed
        jobs.run_once(now + timedelta(minutes=20))
        Provider.objects.filter(pk=provider.pk).update(low_balance_alert=Decimal("150"))  # low again
        jobs.run_once(now + timedelta(minutes=30))
    assert Alert.objects.filter(kind="provider-balance").count() == 2


def test_a_provider_failing_repeatedly_is_told_once(telegram):
    with fake_provider() as gone:
        url = gone.url
    Provider.objects.create(name="Down", api_url=url, api_key="k" * 20, timeout_seconds=2)
    now = later()
    for minute in range(6):
        jobs.run_once(now + timedelta(minutes=minute * 2))
    [alert] = Alert.objects.filter(kind="provider-failing")
    assert alert.text.startswith("Provider Down: 3 checks failed in a row; last: cannot reach provider Down")
    jobs.run_once(now + timedelta(minutes=20))
    assert "1 provider failing" in mail.outbox[-1].subject
    assert told([m.subject for m in mail.outbox], r"(\d+ )?providers? failing") == 1


def test_orders_unchanged_for_a_day_are_told_stuck_once(telegram, customer, service):
    stuck, _fresh, waiting_dripfeed = manual_orders(customer, service, 3)
    day_ago = timezone.now() - timedelta(hours=25)
    Order.objects.filter(pk=stuck).update(updated=day_ago)
    Order.objects.filter(pk=waiting_dripfeed).update(updated=day_ago, runs=5, interval=2880, due_at=later(3600))
    now = later()
    jobs.run_once(now)
    [alert] = Alert.objects.filter(kind="order-stuck")
    assert alert.subject_id == stuck and alert.text.startswith(f"Order #{stuck}: Pending, no change since")
    jobs.run_once(now + timedelta(minutes=15))  # the next scan: told already
    assert Alert.objects.filter(kind="order-stuck").count() == 1
    assert "1 order stuck" in telegram.messages[0]["text"]


# --- the announcement -----------------------------------------------------------------------------


def test_an_announcement_is_shown_on_the_new_order_page_until_it_expires(client, customer, service):
    cust = customer("10")
    service(rate="1")
    client.force_login(cust.user)
    Announcement.objects.create(text="Instagram services are slow today.", expires=later(3600))
    Announcement.objects.create(text="Old news.", expires=timezone.now() - timedelta(minutes=1))
    Announcement.objects.create(text="Not yet.", starts=later(3600))
    Announcement.objects.create(text="Turned off.", active=False)
    page = client.get("/order/").content.decode()
    assert "Instagram services are slow today." in page
    for hidden in ("Old news.", "Not yet.", "Turned off."):
        assert hidden not in page


# --- real workers -----------------------------------------------------------------------------------

FLAG = """
import json
from smmpanel.accounts.models import Account
from smmpanel.catalog.models import Category, Service
from smmpanel.ledger.services import deposit
from decimal import Decimal
from smmpanel.orders import services
from smmpanel.orders.validation import validate_order
from django.contrib.auth import get_user_model
import uuid
user = get_user_model().objects.create_user(f"u{uuid.uuid4().hex[:8]}")
account = Account.objects.create(user=user)
deposit(account, Decimal(1000), memo="test")
svc = Service.objects.create(name="Manual", category=Category.objects.get_or_create(name="T")[0], type="Default",
                             rate=Decimal(1), min=1, max=10, fulfilment="manual")
from django.db import transaction
orders = [services.place_order(account.pk, validate_order(svc, {"link": f"https://x.test/{uuid.uuid4().hex}",
                                                               "quantity": "1"})) for i in range(200)]
for wave in (orders[:120], orders[120:]):  # the second while the workers may be sending the first
    with transaction.atomic():  # flagged together, as a pass of the worker flags a provider's batch
        for order in wave:
            services.flag_attention(order.pk, "the provider is down")
print(json.dumps({}))
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def workers_server(request, tmp_path, sqlite_template) -> PanelServer:
    """A migrated database of the test's own (a copy of the SQLite template, or a throwaway PostgreSQL
    database) and the means to run commands on it; no web server: only workers are needed."""
    if request.param == "sqlite":
        path = tmp_path / "alerts.sqlite3"
        shutil.copyfile(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("throwaway_postgres_db")
    (tmp_path / "data").mkdir()
    return PanelServer(url, tmp_path / "data")


def test_two_worker_processes_tell_each_alert_once(workers_server, tmp_path):
    mails = tmp_path / "mails"
    server = workers_server
    with fake_telegram() as telegram:
        env = {
            **server.env,
            "TELEGRAM_API_BASE": telegram.base,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_CHAT_ID": CHAT_ID,
            "ALERTS_EMAIL": "owner@example.com",
            "ALERTS_BATCH_SECONDS": "2",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(mails),
            "WORKER_POLL_SECONDS": "0.1",
        }
        server.env = env
        workers = [
            subprocess.Popen(
                [str(PYTHON), "-m", "smmpanel", "worker"],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(tmp_path / f"w{i}.log", "wb"),  # noqa: SIM115 - read on failure, closed with the process
            )
            for i in range(2)
        ]
        try:
            server.python(FLAG)
            deadline = time.monotonic() + 60
            while server.sql("SELECT count(*) FROM alerts_delivery WHERE delivered_at IS NULL")[0][0] or (
                server.sql("SELECT count(*) FROM alerts_delivery")[0][0] < 400
            ):
                assert time.monotonic() < deadline, [p.read_text() for p in tmp_path.glob("w*.log")]
                time.sleep(0.2)
            assert all(worker.poll() is None for worker in workers)  # both ran all along
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)
        texts = [m["text"] for m in telegram.messages]
    assert told(texts, ATTENTION) == 200 and 1 <= len(texts) <= 2
    mailed = [p.read_text() for p in Path(mails).iterdir()]
    assert told(mailed, ATTENTION) == 200 and 1 <= sum(m.count("Subject: ") for m in mailed) <= 2
