"""The WhatsApp webhook (seed sections 5, 6, 9 and 10).

GET is Meta's subscription handshake; POST is a delivery, accepted only with
a valid `X-Hub-Signature-256` over the raw request body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from integrations.ratelimit import rate_limit_webhook
from integrations.whatsapp import process_webhook

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "HTTP_X_HUB_SIGNATURE_256"


def _text(body: str, status: int) -> HttpResponse:
    # text/plain always: an echoed challenge must never render as HTML.
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


def _verify_handshake(request: HttpRequest) -> HttpResponse:
    expected = settings.META_WEBHOOK_VERIFY_TOKEN
    token = request.GET.get("hub.verify_token")
    if (
        request.GET.get("hub.mode") == "subscribe"
        and expected  # an unset token verifies nothing (the seed's code accepted "")
        and token is not None
        and hmac.compare_digest(token.encode(), expected.encode())
    ):
        return _text(request.GET.get("hub.challenge", ""), 200)
    return _text("Forbidden\n", 403)


def signature_is_valid(body: bytes, header: str | None) -> bool:
    """`sha256=<hex of HMAC-SHA256(app secret, the raw body)>`, compared in constant time."""
    secret = settings.META_CLIENT_SECRET
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.encode(), expected.encode())


@csrf_exempt
@require_http_methods(["GET", "POST"])
@rate_limit_webhook()
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _verify_handshake(request)
    body = request.body  # the raw bytes: the signature covers exactly these
    if not signature_is_valid(body, request.META.get(SIGNATURE_HEADER)):
        logger.warning("WhatsApp webhook signature verification failed")
        return _text("Unauthorized\n", 401)
    try:
        envelope = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _text("Bad Request: the body is not JSON\n", 400)
    process_webhook(envelope)
    return _text("OK\n", 200)
