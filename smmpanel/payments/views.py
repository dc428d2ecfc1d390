"""The gateways' notification endpoint: POST /payments/notify/<gateway name>/.

CSRF-exempt (the gateway has no session; its signature is the proof, checked
by the gateway's kind in constant time). A body over PAYMENTS_NOTIFY_MAX_BYTES
is refused unread. Every notification is recorded (smmpanel.payments.services).
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from smmpanel.payments import gateways, services


def _body(request: HttpRequest, limit: int) -> tuple[bytes, bool]:
    """The raw body, at most `limit` bytes; (what was read, whether there was more)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return b"", True
    body = request.read(limit + 1)
    return body[:limit], len(body) > limit


@csrf_exempt
@require_POST
def notify(request: HttpRequest, name: str) -> HttpResponse:
    gateway = gateways.by_name(name, enabled_only=False)
    if gateway is None:
        return HttpResponse("unknown gateway\n", status=404, content_type="text/plain")
    body, too_big = _body(request, settings.PAYMENTS_NOTIFY_MAX_BYTES)
    status, result = services.receive_notification(gateway, body, request.headers, too_big=too_big)
    return HttpResponse(f"{result}\n", status=status, content_type="text/plain")
