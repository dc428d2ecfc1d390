"""Simulated fulfilment: orders progress by themselves, at a per-service pace.

Powers the demo and the tests. Each order's fate is drawn from a random
generator seeded with its id, so an order behaves the same however often and
by whichever worker it is looked at:
  - Pending for START_DELAY, then In progress with a start count;
  - delivery at `units_per_minute`, drip-feed runs every `interval` minutes;
  - with probability `partial_percent` it stops short and ends Partial;
  - a cancel request ends it Canceled (nothing delivered) or Partial;
  - subscriptions make an order for each old post at once and for a new post
    every `post_every_seconds`, until `posts` is reached or expiry passes.
Refills go Pending → In progress → Completed.

Its per-service knobs are a SimulatedService row (defaults when there is none).
"""

import random
from datetime import date, timedelta

from smmpanel.fulfilment.base import Fulfilment
from smmpanel.fulfilment.models import SimulatedService
from smmpanel.orders import services
from smmpanel.orders.models import Order, Refill, Status

START_DELAY = timedelta(seconds=2)
TICK = timedelta(seconds=1)
REFILL_STEP = timedelta(seconds=3)
# Subscription posts made in one step at most: a step's work stays bounded
# (well inside any lease), and the rest is due again at once.
POSTS_PER_STEP = 20


def knobs(service) -> SimulatedService:
    try:
        return service.simulated
    except SimulatedService.DoesNotExist:
        return SimulatedService(service=service)


def _delivered(order: Order, elapsed: float) -> int:
    """Units delivered `elapsed` seconds after the order started."""
    per_second = knobs(order.service).units_per_minute / 60
    if not order.runs:
        return min(order.total, int(per_second * elapsed))
    assert order.interval is not None  # a drip-feed order: runs and interval come together
    done = 0
    for run in range(order.runs):
        run_elapsed = elapsed - run * order.interval * 60
        if run_elapsed < 0:
            break
        done += min(order.quantity, int(per_second * run_elapsed))
    return done


def _started_runs_units(order: Order, elapsed: float) -> int:
    """Units of the drip-feed runs started `elapsed` seconds after the order started."""
    assert order.runs is not None and order.interval is not None  # a drip-feed order: both are set
    return sum(order.quantity for run in range(order.runs) if run * order.interval * 60 <= elapsed)


def _next_run_start(order: Order, elapsed: float) -> float | None:
    if not order.runs:
        return None
    assert order.interval is not None  # a drip-feed order: runs and interval come together
    for run in range(order.runs):
        start = run * order.interval * 60
        if start > elapsed:
            return start
    return None


def post_link(username: str, number: int, old: bool) -> str:
    base = username.rstrip("/") if username.startswith("http") else f"https://social.example/{username.lstrip('@')}"
    return f"{base}/posts/{'old-' if old else ''}{number}"


class Simulated(Fulfilment):
    name = "simulated"
    worker_driven = True
    database_only = True
    service_data_model = SimulatedService
    order_related = ("service__simulated",)

    def first_due(self, now):
        return now + START_DELAY  # nothing happens before: no need to look

    def advance_order(self, order: Order, now):
        if order.is_subscription:
            return self._advance_subscription(order, now)
        rng = random.Random(order.pk)
        start_count = rng.randint(100, 10_000)
        stops_short = rng.random() * 100 < knobs(order.service).partial_percent
        lease = order.claim_token
        stop_at = max(1, int(order.total * rng.uniform(0.4, 0.9))) if order.total > 1 else order.total

        if order.cancel_requested_at is not None:
            services.apply_status(
                order.pk,
                Status.CANCELED if order.remains >= order.total else Status.PARTIAL,
                now=now,
                lease=lease,
                message="Canceled at the customer's request.",
            )
            return None
        if order.status == Status.PENDING:
            if now - order.created < START_DELAY:
                return order.created + START_DELAY
            services.apply_status(order.pk, Status.IN_PROGRESS, start_count=start_count, now=now, lease=lease)
            return now + TICK

        started = order.started_at or now
        elapsed = (now - started).total_seconds()
        delivered = _delivered(order, elapsed)
        if stops_short and delivered >= stop_at:
            services.apply_status(order.pk, Status.PARTIAL, remains=order.total - stop_at, now=now, lease=lease)
            return None
        if delivered >= order.total:
            services.apply_status(order.pk, Status.COMPLETED, now=now, lease=lease)
            return None
        services.apply_status(order.pk, Status.IN_PROGRESS, remains=order.total - delivered, now=now, lease=lease)
        if order.runs and delivered >= _started_runs_units(order, elapsed):
            # Between drip-feed runs: sleep until the next one starts.
            next_start = _next_run_start(order, elapsed)
            if next_start is not None:
                return started + timedelta(seconds=next_start)
        return now + TICK

    def _advance_subscription(self, sub: Order, now):
        lease = sub.claim_token
        # The counters as they are now, not as claimed: posts are made from them.
        sub = Order.objects.select_related("service__simulated").get(pk=sub.pk)
        if sub.claim_token != lease:
            raise services.LeaseLost(f"Order #{sub.pk}")
        params = sub.params
        if sub.cancel_requested_at is not None:
            services.apply_status(
                sub.pk, Status.CANCELED, now=now, lease=lease, message="Canceled at the customer's request."
            )
            return None
        expiry = params.get("expiry")
        if expiry and now.date() > date.fromisoformat(expiry):
            services.apply_status(sub.pk, Status.EXPIRED, now=now, lease=lease)
            return None
        every = knobs(sub.service).post_every_seconds or 30
        posted = int((now - sub.created).total_seconds() // every)
        limit = params.get("posts")
        if limit is not None:
            posted = min(posted, int(limit))
        wanted = [(True, n) for n in range(sub.old_posts_done + 1, int(params.get("old_posts", 0)) + 1)]
        wanted += [(False, n) for n in range(sub.posts_done + 1, posted + 1)]
        for old, n in wanted[:POSTS_PER_STEP]:
            rng = random.Random(f"{sub.pk}:{'old' if old else 'new'}:{n}")
            quantity = rng.randint(int(params["min"]), int(params["max"]))
            link = post_link(params["username"], n, old=old)
            made = services.add_post_order(
                sub.pk, number=n, old=old, link=link, quantity=quantity, now=now, lease=lease
            )
            if made is None:
                status = Order.objects.values_list("status", flat=True).get(pk=sub.pk)
                # Paused: try again when funds may be there. Otherwise another
                # step made this post already: look again with fresh counters.
                return now + (TICK * 5 if status == Status.PAUSED else TICK)
        if len(wanted) > POSTS_PER_STEP:
            return now  # more to make: due again at once, in a new claim
        if limit is not None and posted >= int(limit):
            services.apply_status(sub.pk, Status.COMPLETED, now=now, lease=lease)
            return None
        return sub.created + timedelta(seconds=every * (posted + 1))

    def advance_refill(self, refill: Refill, now):
        if now - refill.updated < REFILL_STEP:
            return refill.updated + REFILL_STEP
        if refill.status == Refill.Status.PENDING:
            services.apply_refill_status(refill.pk, Refill.Status.IN_PROGRESS, lease=refill.claim_token)
            return now + REFILL_STEP
        services.apply_refill_status(refill.pk, Refill.Status.COMPLETED, lease=refill.claim_token)
        return None
