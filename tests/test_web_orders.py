"""The orders pages: tabs, search, keyset pages, an order's page with its history, runs, posts and buttons."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from smmpanel.ledger.money import shown_money
from smmpanel.orders import services
from smmpanel.orders.models import Actor, Order, OrderEvent, Refill, Status
from smmpanel.orders.validation import validate_order
from smmpanel.paging import PAGE_SIZE

pytestmark = pytest.mark.django_db

ORDERS = reverse("web:orders")


@pytest.fixture
def shopper(customer, client):
    cust = customer("1000")
    client.force_login(cust.user)
    return cust


def order(cust, svc, **fields) -> Order:
    """An order placed as the API or the form would place it."""
    fields.setdefault("link", f"https://example.com/{Order.objects.count() + 1}")
    if svc.order_type.takes_quantity:
        fields.setdefault("quantity", str(svc.min))
    return services.place_order(cust.account.pk, validate_order(svc, fields))


def ids_on(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="order-(\d+)"', page)]


def test_the_list_shows_what_was_paid_and_the_counts(shopper, client, service):
    svc = service(rate="1", min=10, max=10000, name="IG <i>likes</i>")
    o = order(shopper, svc, quantity="1000")
    services.apply_status(o.pk, Status.IN_PROGRESS, start_count=321)
    services.apply_status(o.pk, Status.PARTIAL, remains=250)
    page = client.get(ORDERS).content.decode()
    row = re.search(rf'<tr id="order-{o.pk}">(.*?)</tr>', page, re.S)[1]
    assert "0.75" in row  # 1.00000 charged, 0.25000 refunded
    assert ">321<" in row and ">1000<" in row and ">250<" in row
    assert "status-partial" in row and "IG &lt;i&gt;likes&lt;/i&gt;" in row
    assert f'<a href="{reverse("web:order", args=[o.pk])}">{o.pk}</a>' in row


def test_the_tabs_show_only_their_status(shopper, client, service):
    svc = service(rate="1", min=10, max=10000)
    pending = order(shopper, svc)
    done = order(shopper, svc)
    services.apply_status(done.pk, Status.COMPLETED)
    canceled = order(shopper, svc)
    services.apply_status(canceled.pk, Status.CANCELED)
    assert ids_on(client.get(ORDERS).content.decode()) == [canceled.pk, done.pk, pending.pk]
    assert ids_on(client.get(ORDERS, {"status": "completed"}).content.decode()) == [done.pk]
    assert ids_on(client.get(ORDERS, {"status": "pending"}).content.decode()) == [pending.pk]
    assert ids_on(client.get(ORDERS, {"status": "canceled"}).content.decode()) == [canceled.pk]
    assert ids_on(client.get(ORDERS, {"status": "in-progress"}).content.decode()) == []
    assert (
        'class="active" aria-current="page">Completed<' in client.get(ORDERS, {"status": "completed"}).content.decode()
    )


def test_an_order_needing_attention_shows_the_status_the_api_shows(shopper, client, service):
    o = order(shopper, service(rate="1"))
    services.flag_attention(o.pk, "provider said: no such link")
    page = client.get(ORDERS, {"status": "pending"}).content.decode()
    assert ids_on(page) == [o.pk] and "provider said" not in page


def test_search_finds_an_id_or_the_start_of_a_link(shopper, client, service):
    svc = service(rate="1")
    cat = order(shopper, svc, link="https://instagram.com/p/cat")
    dog = order(shopper, svc, link="https://instagram.com/p/dog")
    order(shopper, svc, link="https://youtube.com/watch?v=1")
    assert ids_on(client.get(ORDERS, {"q": str(cat.pk)}).content.decode()) == [cat.pk]
    assert ids_on(client.get(ORDERS, {"q": f"#{dog.pk}"}).content.decode()) == [dog.pk]
    assert ids_on(client.get(ORDERS, {"q": "https://instagram.com/p/"}).content.decode()) == [dog.pk, cat.pk]
    assert ids_on(client.get(ORDERS, {"q": "instagram.com/p/d"}).content.decode()) == [dog.pk]
    assert ids_on(client.get(ORDERS, {"q": "instagram", "status": "completed"}).content.decode()) == []
    assert "No order matches this search." in client.get(ORDERS, {"q": "nothing"}).content.decode()


def test_pages_go_older_and_newer_by_id_and_meet_every_order_once(shopper, client, service):
    svc = service(rate="1")
    size = PAGE_SIZE
    made = sorted(order(shopper, svc).pk for _ in range(4 * size + 20))
    seen, url, params = [], ORDERS, {}
    while True:
        page = client.get(url, params).content.decode()
        seen += ids_on(page)
        older = re.search(r'href="\?before=(\d+)"', page)
        if not older:
            break
        params = {"before": older[1]}
    assert seen == sorted(made, reverse=True) and len(seen) == len(made)
    assert 'rel="next"' not in page
    newer = re.search(r'href="\?after=(\d+)"', page)[1]
    back = client.get(url, {"after": newer}).content.decode()
    assert ids_on(back) == sorted(made, reverse=True)[3 * size : 4 * size]
    assert 'rel="prev"' in back and 'rel="next"' in back


def test_a_tab_pages_within_its_status(shopper, client, service):
    svc = service(rate="1")
    done = []
    size = PAGE_SIZE
    for n in range(4 * size + 10):  # 2 × size + 5 of them completed: two full pages and a bit
        o = order(shopper, svc)
        if n % 2:
            services.apply_status(o.pk, Status.COMPLETED)
            done.append(o.pk)
    first = client.get(ORDERS, {"status": "completed"}).content.decode()
    older = re.search(r'href="\?status=completed&amp;before=(\d+)"', first)[1]
    second = client.get(ORDERS, {"status": "completed", "before": older}).content.decode()
    assert ids_on(first) + ids_on(second) == sorted(done, reverse=True)[: 2 * size]


def test_the_list_shows_only_the_customers_own_orders(shopper, customer, client, service):
    svc = service(rate="1")
    other = customer("10")
    theirs = order(other, svc)
    mine = order(shopper, svc)
    assert ids_on(client.get(ORDERS).content.decode()) == [mine.pk]
    assert ids_on(client.get(ORDERS, {"q": str(theirs.pk)}).content.decode()) == []


def test_another_customers_order_is_a_404_like_a_missing_one(shopper, customer, client, service):
    svc = service(rate="1", refill=True, cancel=True)
    theirs = order(customer("10"), svc)
    assert client.get(reverse("web:order", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("web:order", args=[theirs.pk + 1000])).status_code == 404
    assert client.post(reverse("web:order-cancel", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("web:order-refill", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.cancel_requested_at is None and not Refill.objects.exists()


def test_the_pages_need_a_signed_in_customer(client):
    for name in ("web:orders", "web:refills", "web:dripfeed", "web:subscriptions"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/login/" in response["Location"], name


def test_an_order_page_shows_its_details_and_history(shopper, client, service):
    svc = service("Custom Comments", rate="8", min=1, max=100)
    o = order(shopper, svc, link="https://x.com/<script>alert(1)</script>", comments="<script>bad()</script>\nnice")
    services.apply_status(o.pk, Status.IN_PROGRESS, start_count=10, message="upstream #77 secret words")
    services.apply_status(o.pk, Status.COMPLETED)
    page = client.get(reverse("web:order", args=[o.pk])).content.decode()
    assert "<script>" not in page.split("</head>")[1].replace('<script src="/static', "")  # none of theirs
    assert "&lt;script&gt;bad()&lt;/script&gt;<br>nice" in page
    assert "https://x.com/&lt;script&gt;alert(1)&lt;/script&gt;" in page
    history = re.search(r'<ol class="history">(.*?)</ol>', page, re.S)[1]
    assert "Pending → In progress" in history and "In progress → Completed" in history
    assert "secret words" not in page  # the provider's words are the owner's, not the customer's
    listing = client.get(ORDERS).content.decode()
    assert "https://x.com/&lt;script&gt;alert(1)&lt;/script&gt;" in listing and "<script>alert" not in listing


def test_the_history_shows_statuses_and_requests_not_the_panels_own_steps(shopper, client, service):
    o = order(shopper, service(rate="1", cancel=True))
    services.flag_attention(o.pk, "provider timed out")
    services.resume(o.pk, "checked by hand")
    services.request_cancel(shopper.account.pk, o.pk, actor=Actor.WEB)
    services.apply_status(o.pk, Status.CANCELED)
    page = client.get(reverse("web:order", args=[o.pk])).content.decode()
    history = re.search(r'<ol class="history">(.*?)</ol>', page, re.S)[1]
    steps = [" ".join(re.sub(r"<[^>]+>", "", item).split()) for item in re.findall(r"</time>(.*?)</li>", history, re.S)]
    assert steps == ["Placed", "Cancel requested", "Pending → Canceled (remains 10)"]


def test_cancel_shows_only_where_allowed_and_asks_for_the_cancel(shopper, client, service):
    cancelable = order(shopper, service(rate="1", cancel=True))
    fixed = order(shopper, service(rate="1", cancel=False))
    url = reverse("web:order", args=[cancelable.pk])
    assert reverse("web:order-cancel", args=[cancelable.pk]) in client.get(url).content.decode()
    assert "order-cancel" not in client.get(reverse("web:order", args=[fixed.pk])).content.decode()
    assert (
        reverse("web:order-cancel", args=[fixed.pk])
        not in client.get(reverse("web:order", args=[fixed.pk])).content.decode()
    )

    response = client.post(reverse("web:order-cancel", args=[cancelable.pk]), follow=True)
    assert "Cancel requested" in response.content.decode()
    cancelable.refresh_from_db()
    assert cancelable.cancel_requested_at is not None
    event = OrderEvent.objects.get(order=cancelable, action="cancel requested")
    assert event.actor == Actor.WEB
    assert reverse("web:order-cancel", args=[cancelable.pk]) not in response.content.decode()  # asked once

    again = client.post(reverse("web:order-cancel", args=[cancelable.pk]), follow=True).content.decode()
    assert "Cancel is already requested for this order" in again
    refused = client.post(reverse("web:order-cancel", args=[fixed.pk]), follow=True).content.decode()
    assert "Cancel is disabled for this service" in refused


def test_refill_shows_only_for_a_completed_order_within_its_days(shopper, client, service):
    svc = service(rate="1", refill=True, refill_days=7)
    o = order(shopper, svc)
    url, refill_url = reverse("web:order", args=[o.pk]), reverse("web:order-refill", args=[o.pk])
    assert refill_url not in client.get(url).content.decode()  # Pending
    services.apply_status(o.pk, Status.COMPLETED)
    assert refill_url in client.get(url).content.decode()

    response = client.post(refill_url, follow=True).content.decode()
    refill = Refill.objects.get(order=o)
    assert f"Refill #{refill.pk} requested." in response
    assert refill_url not in response  # one open refill at a time
    assert OrderEvent.objects.get(order=o, action="refill requested").actor == Actor.WEB
    assert "A refill for this order is already in progress" in client.post(refill_url, follow=True).content.decode()
    assert Refill.objects.filter(order=o).count() == 1

    services.apply_refill_status(refill.pk, Refill.Status.COMPLETED)
    Order.objects.filter(pk=o.pk).update(finished_at=timezone.now() - timedelta(days=8))
    assert refill_url not in client.get(url).content.decode()
    assert "Refill period of 7 days has expired" in client.post(refill_url, follow=True).content.decode()


def test_the_refills_list_pages_the_customers_refills(shopper, customer, client, service):
    svc = service(rate="1", refill=True)
    mine = order(shopper, svc)
    services.apply_status(mine.pk, Status.COMPLETED)
    refill = services.request_refill(shopper.account.pk, mine.pk, actor=Actor.WEB)
    other = customer("10")
    theirs = order(other, svc)
    services.apply_status(theirs.pk, Status.COMPLETED)
    their_refill = services.request_refill(other.account.pk, theirs.pk)
    page = client.get(reverse("web:refills")).content.decode()
    assert f'<tr id="refill-{refill.pk}">' in page and f'id="refill-{their_refill.pk}"' not in page
    assert mine.link in page and "status-pending" in page
    assert f'<a href="{reverse("web:order", args=[mine.pk])}">{mine.pk}</a>' in page


def test_a_drip_feed_order_shows_its_runs(shopper, client, service):
    svc = service(rate="1", min=10, max=1000, dripfeed=True)
    o = order(shopper, svc, quantity="100", runs="3", interval="60")
    services.apply_status(o.pk, Status.IN_PROGRESS, remains=150)  # a run and a half delivered
    page = client.get(reverse("web:order", args=[o.pk])).content.decode()
    runs = re.search(r'<table class="runs">(.*?)</table>', page, re.S)[1]
    assert re.findall(r"<td class=\"num\">(\d+ / 100)</td>", runs) == ["100 / 100", "50 / 100", "0 / 100"]
    assert re.findall(r'<span class="badge[^"]*">(\w+)</span>', runs) == ["Done", "Running", "Waiting"]
    listing = client.get(reverse("web:dripfeed")).content.decode()
    assert ids_on(listing) == [o.pk]
    assert '<progress value="1" max="3"></progress> 1 of 3' in listing


def test_a_drip_feed_order_says_its_runs_and_interval_in_plain_words(shopper, client, service):
    svc = service(rate="1", min=10, max=1000, dripfeed=True)
    every_minute = order(shopper, svc, quantity="100", runs="3", interval="1")
    hourly = order(shopper, svc, quantity="100", runs="2", interval="60")
    assert "3 runs, every 1 minute<" in client.get(reverse("web:order", args=[every_minute.pk])).content.decode()
    assert "2 runs, every 60 minutes<" in client.get(reverse("web:order", args=[hourly.pk])).content.decode()


def test_a_subscription_shows_its_posts_and_what_they_cost(shopper, client, service):
    svc = service("Subscriptions", rate="1", min=10, max=1000)
    sub = order(shopper, svc, username="nasa", min="100", max="100", delay="0")  # pays per post
    post = services.add_post_order(sub.pk, number=1, old=False, link="https://x.com/post1", quantity=100)
    assert post is not None
    page = client.get(reverse("web:order", args=[sub.pk])).content.decode()
    assert "https://x.com/post1" in page and reverse("web:order", args=[post.pk]) in page
    assert "0.10 USD" in page  # the post's order, paid one by one
    listing = client.get(reverse("web:subscriptions")).content.decode()
    assert ids_on(listing) == [sub.pk] and f"#{post.pk}" in listing
    shown = re.findall(r"<dt>([^<]+)</dt><dd class=\"param\">", page)
    assert shown == ["Minimum per post", "Maximum per post", "Old posts", "Delay (minutes)"]  # the username is the link
    post_page = client.get(reverse("web:order", args=[post.pk])).content.decode()
    assert reverse("web:order", args=[sub.pk]) in post_page


def test_dates_are_shown_in_the_customers_time_zone(shopper, client, service):
    from smmpanel.accounts.models import Account

    Account.objects.filter(pk=shopper.account.pk).update(time_zone="Asia/Tokyo")  # UTC+9, no summer time
    o = order(shopper, service(rate="1"))
    Order.objects.filter(pk=o.pk).update(created=datetime(2026, 1, 2, 20, 30, tzinfo=UTC))
    page = client.get(ORDERS).content.decode()
    assert "2026-01-03 05:30" in page


def test_money_on_the_list_is_what_the_api_says_without_its_trailing_zeros(shopper, client, service, api):
    svc = service(rate="3", min=10, max=10000)
    o = order(shopper, svc, quantity="777")
    services.apply_status(o.pk, Status.PARTIAL, remains=111)
    body = api(shopper.key, "status", order=o.pk)
    page = client.get(ORDERS).content.decode()
    assert f">{shown_money(Decimal(body['charge']))}<" in page  # 1.99800 on the API, 1.998 on the page
    assert Decimal(body["charge"]) == o.charge - Order.objects.get(pk=o.pk).refunded


def test_a_user_made_without_an_account_gets_an_empty_one_on_the_pages(client, db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("owner", is_staff=True)
    client.force_login(user)
    assert "No orders here yet." in client.get(ORDERS).content.decode()
    assert user.account.balance == 0
