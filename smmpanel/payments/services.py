"""Payment logic: start a payment, record a manual transfer, the owner's decisions, and applying what a
gateway says (a webhook's or a poll's Verdict). The only code that writes payments.

Exactly once: a payment reaches the balance through ledger.credit_payment,
whose unique constraint (one deposit per payment) is the check. Nothing reads
the payment's state first to decide whether to credit (a concurrent webhook,
poll or click could not be seen); the deposit's insert decides, and the
payment's own state is written in the same transaction. State changes that
are not credits are guarded UPDATEs (`… WHERE state IN (…)`), so a late or
repeated message never moves a payment backwards.
"""

import logging
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from smmpanel.accounts.models import Account
from smmpanel.alerts import services as alerts
from smmpanel.alerts.models import Alert
from smmpanel.ledger import services as ledger
from smmpanel.ledger.models import Kind as LedgerKind
from smmpanel.ledger.money import MAX_AMOUNT, ZERO, round5, shown_money
from smmpanel.payments import gateways, registry
from smmpanel.payments.errors import PaymentError
from smmpanel.payments.kinds import base
from smmpanel.payments.models import BODY_KEPT, Gateway, Notification, Payment

log = logging.getLogger(__name__)
State = Payment.State
OPEN = (State.CREATED, State.PENDING)
# A payment the gateway gave up on may still be paid late (money that arrived is credited).
UNPAID = (State.CREATED, State.PENDING, State.FAILED, State.EXPIRED, State.CANCELED)


# --- starting -----------------------------------------------------------------------------------


def _amount(raw) -> Decimal:
    try:
        amount = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise PaymentError("bad_amount") from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise PaymentError("bad_amount")
    return round5(amount)


def _new_payment(account, gateway_name: str, raw_amount, *, hosted: bool) -> Payment:
    gateway = gateways.by_name(gateway_name)
    if gateway is None:
        raise PaymentError("unknown_gateway")
    if registry.get(gateway.kind).hosted != hosted:
        raise PaymentError("not_manual" if hosted is False else "needs_reference", gateway=gateway.label)
    amount = _amount(raw_amount)
    if amount < gateway.min_amount:
        raise PaymentError("below_min", gateway=gateway.label, minimum=shown_money(gateway.min_amount))
    if amount > gateway.max_amount:
        raise PaymentError("above_max", gateway=gateway.label, maximum=shown_money(gateway.max_amount))
    return Payment(
        account=account,
        gateway=gateway,
        amount=amount,
        fee=gateways.fee(gateway, amount),
        fee_payer=gateway.fee_payer,
        bonus=gateways.bonus(gateway, amount),
    )


def start_payment(account, gateway_name: str, amount, *, return_url_base: str) -> Payment:
    """Create a Payment and its checkout at the gateway; the customer goes to `payment.checkout_url`.

    `return_url_base` is the absolute URL of the return page without the
    payment's id (e.g. https://panel.example.com/funds/payments/): the
    gateway sends the customer back to `<base><id>/`. Raises PaymentError.
    """
    payment = _new_payment(account, gateway_name, amount, hosted=True)
    payment.save()  # CREATED: its id goes to the gateway
    gateway = payment.gateway
    return_url = f"{return_url_base.rstrip('/')}/{payment.pk}/"
    try:
        checkout = registry.get(gateway.kind).start(
            gateway,
            payment,
            return_url=return_url,
            cancel_url=return_url,
            notify_url=gateways.notify_url(gateway),
        )
    except base.GatewayDown as e:
        log.warning("payment #%s: %s could not start it: %s", payment.pk, gateway.name, e)
        Payment.objects.filter(pk=payment.pk, state=State.CREATED).update(
            state=State.FAILED, attention_reason=f"The gateway could not start it: {e}"[:500]
        )
        raise PaymentError("gateway_down", gateway=gateway.label) from None
    now = timezone.now()
    from smmpanel.payments.polling import first_poll

    Payment.objects.filter(pk=payment.pk, state=State.CREATED).update(
        state=State.PENDING,
        external_id=checkout.external_id,
        checkout_url=checkout.url,
        due_at=first_poll(now),
        updated=now,
    )
    payment.refresh_from_db()
    return payment


def submit_manual(account, gateway_name: str, amount, reference: str) -> Payment:
    """A customer's manual transfer: amount and reference, PENDING until the owner approves or rejects it."""
    reference = str(reference or "").strip()
    if not reference or len(reference) > 200:
        raise PaymentError("bad_reference")
    payment = _new_payment(account, gateway_name, amount, hosted=False)
    payment.reference = reference
    payment.state = State.PENDING
    payment.save()
    return payment


# --- crediting ----------------------------------------------------------------------------------


def _credit(payment: Payment, deposit: Decimal, received: Decimal | None, memo: str) -> bool:
    """Deposit `deposit` for the payment (+ its bonus, then the account's debt); False: it was credited already.

    The deposit's insert is the check (one_deposit_per_payment): with it, the
    bonus, the debt and the payment's new state in one transaction, a
    repeated or concurrent credit changes nothing at all.
    """
    bonus = payment.bonus if deposit >= payment.amount else gateways.bonus(payment.gateway, deposit)
    with transaction.atomic():
        if ledger.credit_payment(payment.account_id, deposit, payment.pk, LedgerKind.DEPOSIT, memo) is None:
            return False
        if bonus > ZERO:
            note = f"Bonus on payment #{payment.pk}"
            ledger.credit_payment(payment.account_id, bonus, payment.pk, LedgerKind.BONUS, note)
        ledger.pay_debt(payment.account_id, payment.pk)
        Payment.objects.filter(pk=payment.pk).update(
            state=State.PAID,
            credited=deposit,
            bonus=bonus,
            amount_received=received if received is not None else payment.to_pay,
            needs_attention=False,
            due_at=None,
            updated=timezone.now(),
        )
    return True


def _flag(payment: Payment, reason: str, **changes) -> None:
    """Set the payment aside for the owner (unless it is credited already: then the reason is moot)."""
    if (
        Payment.objects.filter(pk=payment.pk)
        .exclude(ledger__kind=LedgerKind.DEPOSIT)
        .update(needs_attention=True, attention_reason=reason[:500], due_at=None, updated=timezone.now(), **changes)
    ):
        _tell_owner(payment.pk, reason)


def _tell_owner(payment_id: int, reason: str) -> None:
    """The owner hears of a payment set aside, once per payment and reason (in the same transaction)."""
    alerts.raise_alert(
        Alert.Kind.PAYMENT,
        f"payment:{payment_id}:{reason[:150]}",
        f"Payment #{payment_id} needs attention: {reason}",
        f"/admin/payments/payment/{payment_id}/change/",
        subject_id=payment_id,
    )


def _paid(payment: Payment, verdict: base.Verdict) -> str:
    received, currency = verdict.amount, (verdict.currency or "").upper()
    if received is None:
        return "paid, but no amount said: ignored"
    if currency != payment.currency.upper():
        _flag(payment, f"Paid in {currency or 'an unnamed currency'}, not {payment.currency}: {received} {currency}")
        return "needs attention: other currency"
    if received < payment.to_pay:
        _flag(
            payment,
            f"Paid less than asked: received {shown_money(received)} of {shown_money(payment.to_pay)} {currency}",
            amount_received=received,
        )
        return "needs attention: paid less"
    # Paid in full or more: what arrived reaches the balance, less the fee when it is the customer's.
    deposit = received - (payment.fee if payment.fee_payer == Gateway.FeePayer.CUSTOMER else ZERO)
    memo = f"Payment #{payment.pk} by {payment.gateway.label}"
    if _credit(payment, deposit, received, memo):
        return f"credited {shown_money(deposit)} USD"
    return "already credited"


def _ended(payment: Payment, state: str, note: str) -> str:
    changed = Payment.objects.filter(pk=payment.pk, state__in=OPEN).update(
        state=state, due_at=None, updated=timezone.now()
    )
    return f"{state}{': ' + note if note else ''}" if changed else f"{state}: no change (already {payment.state})"


def _share(given: Decimal, part: Decimal, received: Decimal) -> Decimal:
    """What the customer got for `part` of what was received: that proportion of deposit + bonus (all, for all)."""
    return given if part >= received else round5(given * part / received)


def _take_back(payment: Payment, verdict: base.Verdict) -> str:
    """A refund or a dispute: take back the share of what was credited that it takes away.

    `Payment.refunded` counts what refunds and disputes took, in the gateway's
    units: a refund's verdict says the refunded total so far, a dispute its
    own amount; neither takes back more than was received, together.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        amount = verdict.amount or ZERO
        received = payment.amount_received or payment.to_pay
        if verdict.event == base.REFUND:
            new_total, reason, state = min(amount, received), f"refund:{verdict.key or amount}", State.REFUNDED
        else:
            new_total, reason, state = (
                min(payment.refunded + amount, received),
                f"dispute:{verdict.key}",
                State.DISPUTED,
            )
        if new_total <= payment.refunded:
            Payment.objects.filter(pk=payment.pk).update(state=state, due_at=None)
            return f"{verdict.event}: nothing more to take back"
        given = payment.credited + payment.bonus if payment.credited > ZERO else ZERO
        owed = _share(given, new_total, received) - _share(given, payment.refunded, received)
        done = ledger.take_back(payment.account_id, owed, payment.pk, reason[:40], f"Payment #{payment.pk}: {reason}")
        if done is None:
            return f"{verdict.event}: already taken back"
        Payment.objects.filter(pk=payment.pk).update(
            state=state, refunded=new_total, due_at=None, updated=timezone.now()
        )
    taken, debt = done
    return f"{verdict.event}: took back {shown_money(taken)} USD" + (f", {shown_money(debt)} USD owed" if debt else "")


def _find(gateway: Gateway, verdict: base.Verdict) -> Payment | None:
    payments = Payment.objects.filter(gateway=gateway).select_related("gateway")
    if verdict.payment_id is not None:
        found = payments.filter(pk=verdict.payment_id).first()
        # Our id and the gateway's must agree: a message about another checkout is not this payment's.
        if found is not None and (not verdict.external_id or found.external_id in ("", verdict.external_id)):
            return found
        return None
    if verdict.external_id:
        return payments.filter(external_id=verdict.external_id).first()
    if verdict.external_ref:
        return payments.filter(external_ref=verdict.external_ref).first()
    return None


def apply(gateway: Gateway, verdict: base.Verdict, note: Notification | None = None) -> str:
    """Apply the gateway's verified word about one payment; returns what was done, in words."""
    if verdict.event == base.IGNORED:
        return f"ignored{': ' + verdict.note if verdict.note else ''}"
    payment = _find(gateway, verdict)
    if payment is None:
        if note is not None:
            note.needs_attention = True
        words = f"unknown payment ({verdict.event}, id {verdict.payment_id}, {verdict.external_id})"
        alerts.raise_alert(
            Alert.Kind.PAYMENT,
            f"notification:{gateway.pk}:{verdict.event}:{verdict.payment_id}:{verdict.external_id}",
            f"{gateway.label}: a verified notification about an {words}",
            "/admin/payments/notification/",
        )
        return f"needs attention: {words}"
    if note is not None:
        note.payment = payment
    if verdict.external_ref and not payment.external_ref:
        Payment.objects.filter(pk=payment.pk, external_ref="").update(external_ref=verdict.external_ref[:200])
    if verdict.event == base.PAID:
        return _paid(payment, verdict)
    if verdict.event == base.PENDING:
        Payment.objects.filter(pk=payment.pk, state=State.CREATED).update(state=State.PENDING)
        return "pending"
    if verdict.event in (base.FAILED, base.EXPIRED, base.CANCELED):
        return _ended(payment, verdict.event, verdict.note)
    if verdict.event in (base.REFUND, base.DISPUTE):
        return _take_back(payment, verdict)
    return f"ignored: {verdict.event}"


def refresh(payment_id: int, *, quiet: bool = False) -> Payment:
    """Ask the payment's gateway about it (a verified API call) and apply the answer; returns the payment.

    The return page uses it (the return URL alone proves nothing; `quiet`: a
    gateway that cannot be asked now leaves the payment as it was) and so
    does the worker's poll (a gateway that cannot be asked raises GatewayDown).
    """
    payment = Payment.objects.select_related("gateway").get(pk=payment_id)
    kind = registry.get(payment.gateway.kind)
    if kind.hosted and payment.external_id and payment.state in OPEN:
        try:
            verdict = kind.fetch(payment.gateway, payment)
        except base.GatewayDown as e:
            if not quiet:
                raise
            log.warning("payment #%s: %s could not be asked: %s", payment.pk, payment.gateway.name, e)
            return payment
        verdict.payment_id, verdict.external_id = payment.pk, payment.external_id
        apply(payment.gateway, verdict)
        payment.refresh_from_db()
    return payment


def account_debt(account) -> Decimal:
    """What the account owes after refunds and chargebacks (0: nothing); no orders while it owes."""
    return Account.objects.filter(pk=account.pk).values_list("debt", flat=True).get()


# --- the owner's decisions ------------------------------------------------------------------------


def _manual(payment_id: int) -> Payment:
    payment = Payment.objects.select_related("gateway").filter(pk=payment_id).first()
    if payment is None:
        raise PaymentError("not_found")
    if registry.get(payment.gateway.kind).hosted:
        raise PaymentError("not_manual_payment")
    return payment


def _actor(user) -> str:
    return getattr(user, "username", "") or "the owner"


def approve_manual(payment_id: int, user) -> bool:
    """The owner saw the transfer: deposit it. True: credited now; False: it was credited already (no change)."""
    payment = _manual(payment_id)
    # The customer sent what they were asked (to_pay: the amount, and the fee where it is theirs).
    memo = f"Payment #{payment.pk} by {payment.gateway.label} (ref. {payment.reference}), approved by {_actor(user)}"
    return _credit(payment, payment.amount, payment.to_pay, memo)


def reject_manual(payment_id: int, user, reason: str = "") -> bool:
    """The owner found no such transfer. True: rejected now; False: it was rejected already.

    A credited payment is not rejected (PaymentError "already_credited"): take money back with an adjustment.
    """
    payment = _manual(payment_id)
    text = f"Rejected by {_actor(user)}" + (f": {reason}" if reason else "")
    with transaction.atomic():
        changed = Payment.objects.filter(pk=payment.pk, state__in=OPEN).update(
            state=State.CANCELED, attention_reason=text[:500], needs_attention=False, updated=timezone.now()
        )
        if not changed:
            if Payment.objects.filter(pk=payment.pk, ledger__kind=LedgerKind.DEPOSIT).exists():
                raise PaymentError("already_credited")
            return False
    return True


def settle_attention(payment_id: int, user, credit_amount=None) -> bool:
    """The owner's decision on a payment set aside: credit `credit_amount` USD, or (None) credit nothing.

    True: settled now; False: it was settled already (a second click changes nothing).
    """
    payment = Payment.objects.select_related("gateway").filter(pk=payment_id).first()
    if payment is None:
        raise PaymentError("not_found")
    if credit_amount is None:
        text = f"Settled by {_actor(user)} without credit: {payment.attention_reason}"
        return bool(
            Payment.objects.filter(pk=payment.pk, needs_attention=True).update(
                needs_attention=False, attention_reason=text[:500], updated=timezone.now()
            )
        )
    try:
        amount = round5(Decimal(str(credit_amount)))
    except (InvalidOperation, ValueError):
        raise PaymentError("bad_credit") from None
    if not amount.is_finite() or amount <= ZERO or amount > MAX_AMOUNT:
        raise PaymentError("bad_credit")
    if not payment.needs_attention:
        return False
    memo = f"Payment #{payment.pk} by {payment.gateway.label}, settled by {_actor(user)}"
    return _credit(payment, amount, payment.amount_received, memo)


def give_up_polling(payment_id: int) -> None:
    """The gateway never gave a final answer in PAYMENTS_POLL_DAYS: the owner looks (nothing credited)."""
    reason = f"No final answer from the gateway in {settings.PAYMENTS_POLL_DAYS} days"
    if Payment.objects.filter(pk=payment_id, state__in=OPEN).update(
        needs_attention=True, attention_reason=reason, due_at=None
    ):
        _tell_owner(payment_id, reason)


# --- notifications ----------------------------------------------------------------------------------


def _recorded_headers(kind, headers) -> dict:
    return {name: str(headers.get(name, ""))[:1000] for name in kind.recorded_headers if headers.get(name)}


def receive_notification(gateway: Gateway, body: bytes, headers, *, too_big: bool = False) -> tuple[int, str]:
    """Record a gateway's notification, verify it and apply what it says; returns (HTTP status, result).

    Recorded first, in its own transaction, whatever follows: a refused or
    failing notification is kept with its raw body and why. Refused ones
    (a bad signature, too old, too big, malformed) answer 400 and credit
    nothing; a failure of ours answers 500, so the gateway sends it again.
    """
    kind = registry.get(gateway.kind)
    note = Notification.objects.create(
        gateway=gateway,
        body=body[:BODY_KEPT].decode("utf-8", "replace"),
        headers=_recorded_headers(kind, headers),
        result="received",
    )
    if too_big:
        note.result = f"refused: body over {settings.PAYMENTS_NOTIFY_MAX_BYTES} bytes"
        note.save(update_fields=["result"])
        return 400, note.result
    try:
        verdicts = kind.verify(gateway, body, headers)
        note.verified = True
        results = [apply(gateway, verdict, note) for verdict in verdicts]
    except base.Refused as e:
        note.result = f"refused: {e}"[:500]
        note.save(update_fields=["result"])
        return 400, note.result
    except Exception as e:  # ours to fix: kept with the notification, and the gateway sends it again (500)
        log.exception("notification #%s of %s failed", note.pk, gateway.name)
        note.result = f"failed: {type(e).__name__}"
        note.save(update_fields=["verified", "result"])
        raise
    note.result = ("; ".join(results) or "nothing to do")[:500]
    note.save(update_fields=["verified", "result", "payment", "needs_attention"])
    return 200, note.result
