"""Adding funds from the panel: the Add funds page, the manual transfer's instructions, a payment's own page
(where the gateway sends the customer back) and the list of the customer's payments.

No rule of payments lives here: what may be paid where, its fee and bonus,
and every state change are smmpanel.payments.services'. A payment's page
says only what the panel knows to be true: coming back from a gateway proves
nothing (anyone can open the return URL), so the page asks the gateway
through its verified API (services.refresh) and shows the state that gives;
"paid" only once the money is in the ledger.

Every query is scoped to the signed-in customer's account: another
customer's payment is a 404 like a missing one.
"""

import secrets
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache

from smmpanel.ids import parse_id
from smmpanel.orders import idempotency
from smmpanel.paging import keyset_page
from smmpanel.payments import gateways, registry, services
from smmpanel.payments.errors import PaymentError
from smmpanel.payments.models import Payment
from smmpanel.web.context import customer_account
from smmpanel.web.payments import error_words, gateway_offers, state_of

MAX_REFERENCE = 200
# A payment's page asks its gateway at most this often (the page polls itself every 5 seconds while open).
ASK_EVERY_SECONDS = 10


def _amount(text: str) -> Decimal | None:
    """The amount as typed (a dot or a comma for decimals); None when it is no amount at all."""
    text = (text or "").strip().replace(",", ".")
    if not text or len(text) > 20:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _add_page(request: HttpRequest, values: dict, errors: dict, status: int = 200) -> HttpResponse:
    context = {"offers": gateway_offers(), "values": values, "errors": errors}
    response = render(request, "web/payments/add.html", context, status=status)
    # The form's post ends in a redirect to the gateway's checkout page: the page's Content-Security-Policy
    # (form-action, which browsers apply to that redirect too) names where the enabled gateways take payments.
    origins = sorted({o for g in gateways.enabled() for o in registry.get(g.kind).payment_page_origins()})
    if origins:
        response._csp_update = {"form-action": origins}  # type: ignore[attr-defined]  # django-csp reads it
    return response


def _manual_page(request: HttpRequest, quote: Payment, errors: dict, status: int = 200, token: str = ""):
    """The owner's instructions, what to transfer (the fee included when it is the customer's), the reference form."""
    context = {
        "gateway": quote.gateway,
        "quote": quote,
        # The form's own key: however often (and however concurrently) it is sent, one payment (see below).
        "once": token or secrets.token_urlsafe(16),
        "errors": errors,
        "reference": request.POST.get("reference", "").strip(),
    }
    return render(request, "web/payments/manual.html", context, status=status)


@login_required
@never_cache
def add_funds(request: HttpRequest) -> HttpResponse:
    """GET: the enabled gateways and the form. POST gateway + amount: a new payment, then off to the gateway
    (302 to its checkout page), or, for a manual transfer, its instructions and the reference form."""
    if request.method != "POST":
        return _add_page(request, {"gateway": request.GET.get("gateway", ""), "amount": ""}, {})
    name = request.POST.get("gateway", "").strip()
    values = {"gateway": name, "amount": request.POST.get("amount", "").strip()}
    gateway = gateways.by_name(name) if name else None
    if gateway is None:
        return _add_page(request, values, {"gateway": _("Choose how to pay.")}, status=400)
    amount = _amount(values["amount"])
    if amount is None or amount <= 0:
        return _add_page(request, values, {"amount": error_words("bad_amount")}, status=400)
    account = customer_account(request)
    if not registry.get(gateway.kind).hosted:
        try:
            # The amount checked and priced before the instructions show: nobody transfers money the
            # panel would then refuse. (An unsaved Payment: services' own checks, fee and bonus.)
            quote = services._new_payment(account, gateway.name, amount, hosted=False)
        except PaymentError as e:
            field = "amount" if e.code in AMOUNT_CODES else "gateway"
            return _add_page(request, values, {field: error_words(e)}, status=400)
        if "reference" not in request.POST:
            return _manual_page(request, quote, {})
        return _submit_manual(request, account, quote)
    try:
        payment = services.start_payment(
            account, gateway.name, amount, return_url_base=request.build_absolute_uri(reverse("web:payments"))
        )
    except PaymentError as e:
        field = "amount" if e.code in AMOUNT_CODES else "form"
        return _add_page(request, values, {field: error_words(e)}, status=400)
    if not payment.checkout_url:  # the gateway gave no page to go to: say so on the payment's own page
        return redirect("web:payment", payment.pk)
    return redirect(payment.checkout_url)


# PaymentError codes about the amount (shown under the amount box; the rest above the form).
AMOUNT_CODES = {"bad_amount", "below_min", "above_max"}


def _submit_manual(request: HttpRequest, account, quote: Payment) -> HttpResponse:
    """The customer says they paid: one payment per form, through the API's idempotency store.

    A reload or a double click sends the same form again; its key's row
    (unique per account, inserted in the transaction that makes the payment)
    lets exactly one of them make it, concurrently too, and the others are
    shown that one. A refusal stores nothing, so the corrected form goes again.
    """
    token = request.POST.get("once", "").strip()
    reference = request.POST.get("reference", "").strip()
    if not token or len(token) > 64:
        return _manual_page(request, quote, {"reference": _("This form is out of date: please send it again.")}, 400)
    if not reference:
        return _manual_page(request, quote, {"reference": _("Enter the transfer's reference.")}, 400, token)
    if len(reference) > MAX_REFERENCE:
        too_long = ngettext("At most %(n)d character.", "At most %(n)d characters.", MAX_REFERENCE)
        too_long %= {"n": MAX_REFERENCE}
        return _manual_page(request, quote, {"reference": too_long}, 400, token)
    made = []

    def submit() -> dict:
        payment = services.submit_manual(account, quote.gateway.name, quote.amount, reference)
        made.append(payment.pk)
        return {"payment": payment.pk}

    fields = {"gateway": quote.gateway.name, "amount": str(quote.amount), "reference": reference}
    try:
        answer = idempotency.run_once(account.pk, f"web-manual:{token}", idempotency.request_digest(fields), submit)
    except PaymentError as e:
        field = "amount" if e.code in AMOUNT_CODES else "reference"
        return _manual_page(request, quote, {field: error_words(e)}, 400, token)
    except idempotency.KeyReused:  # this form made a payment with another reference already
        messages.info(request, _("That form was already sent: your transfer is in the list below."))
        return redirect("web:payments")
    if made:
        messages.success(request, _("Thank you: the panel's owner checks your transfer, then credits your balance."))
    else:
        messages.info(request, _("That form was already sent: this is your transfer."))
    return redirect("web:payment", answer["payment"])


def _own_payment(request: HttpRequest, pk: int) -> Payment:
    payment = Payment.objects.select_related("gateway").filter(pk=pk, account_id=customer_account(request).pk).first()
    if payment is None:
        raise Http404("no such payment")
    return payment


def _asked_lately(payment: Payment) -> bool:
    """Whether the gateway was asked about this payment in the last ASK_EVERY_SECONDS (and note that it is now).

    Keyed by the gateway's own id (never reused, unlike a row id across test
    databases); a cache that fails says no, and the gateway is asked.
    """
    key = f"payments:asked:{payment.gateway_id}:{payment.external_id}"
    try:
        return not cache.add(key, True, ASK_EVERY_SECONDS)
    except Exception:  # noqa: BLE001 - any cache fault: ask the gateway (the worker's poll is the bound anyway)
        return False


@login_required
@never_cache
def payment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Where the gateway sends the customer back: the payment's state, as the gateway confirms it.

    While the payment is open, the page (and its part that updates itself
    every few seconds) asks the gateway through its verified API, at most
    once per ASK_EVERY_SECONDS per payment however many tabs poll: a lost
    webhook is found by the page itself.
    """
    payment = _own_payment(request, pk)
    if not payment.is_final and payment.external_id and not _asked_lately(payment):
        # quiet: a gateway out of reach leaves the payment as it was; the page says what is known.
        payment = services.refresh(payment.pk, quiet=True)
    account = customer_account(request)
    account.refresh_from_db(fields=["balance"])  # after any deposit the refresh just made
    context = {"payment": payment, "state": state_of(payment), "account": account}
    template = "web/payments/_state.html" if request.GET.get("part") == "state" else "web/payments/detail.html"
    return render(request, template, context)


@login_required
def payment_list(request: HttpRequest) -> HttpResponse:
    """The customer's payments, newest first, by keyset pages (?before= / ?after= a payment's id)."""
    rows = Payment.objects.filter(account_id=customer_account(request).pk).select_related("gateway")
    before = parse_id(request.GET.get("before", "")) if request.GET.get("before") else None
    after = parse_id(request.GET.get("after", "")) if request.GET.get("after") else None
    page = keyset_page(rows, before=before, after=after)
    context = {
        "page": page,
        "rows": [(p, state_of(p)) for p in page.rows],
        "keep": {},
        "payments_url": reverse("web:payments"),
        "can_add": bool(gateways.enabled()),
    }
    return render(request, "web/payments/list.html", context)
