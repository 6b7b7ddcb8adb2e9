"""The webhook endpoint: the handshake (GET) and deliveries (POST).

Order of work for a POST: size cap (413), signature over the raw bytes
(401), JSON parse (400), then one durable write: the raw body into the
inbox (`inbox.py`), and 200. Nothing is parsed or stored before the
signature has been checked, and nothing else is done before the answer:
Meta retries what is slow, so clients, logs, statuses and notifications are
written by the drainer (`drainer.py`, `process.py`) after the 200, from the
inbox row, which a crash cannot lose.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, current_app, request

from .inbox import InboxUnavailable
from .payload import WHATSAPP_OBJECT, envelope_object
from .signature import SIGNATURE_HEADER, SIGNATURE_PREFIX, signature_is_valid
from .state import ReceiverState, receiver_state

__all__ = ["WEBHOOK_PATH", "webhook"]

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/integrations/webhooks/whatsapp/"

webhook = Blueprint("whatsapp_webhook", __name__)


def _text(body: str, status: int) -> Response:
    response = Response(body, status, mimetype="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@webhook.route(WEBHOOK_PATH, methods=["GET", "POST"], provide_automatic_options=False)
def whatsapp_webhook() -> Response:
    state = receiver_state(current_app)
    if request.method == "HEAD":
        # Flask adds HEAD to every GET route; the seed allows GET and POST only.
        response = _text("Method Not Allowed\n", 405)
        response.headers["Allow"] = "GET, POST"
        return response
    if request.method == "GET":
        return _handshake(state)
    return _delivery(state)


def _handshake(state: ReceiverState) -> Response:
    mode = request.args.get("hub.mode")
    token = request.args.get("hub.verify_token")
    challenge = request.args.get("hub.challenge")
    configured = state.settings.verify_token
    if (
        mode == "subscribe"
        and configured  # an unset or empty configured token verifies nothing
        and token
        and challenge is not None
        and hmac.compare_digest(token.encode("utf-8"), configured.encode("utf-8"))
    ):
        return _text(challenge, 200)
    logger.info("WhatsApp webhook verification refused (hub.mode=%r)", (mode or "")[:32])
    return _text("Forbidden\n", 403)


def _delivery(state: ReceiverState) -> Response:
    raw = request.get_data(cache=True)  # 413 above MAX_CONTENT_LENGTH
    header = request.headers.get(SIGNATURE_HEADER)
    if not signature_is_valid(raw, header, state.settings.app_secret):
        logger.warning("WhatsApp webhook signature verification failed")
        return _text("Invalid signature\n", 401)
    assert header is not None  # a valid signature has one: "sha256=" + 64 hex digits
    is_object, kind = envelope_object(raw)
    if not is_object:
        return _text("Body is not a JSON object\n", 400)
    if kind != WHATSAPP_OBJECT:
        logger.warning("WhatsApp webhook for object %r ignored", str(kind)[:64])
        return _text("EVENT_RECEIVED", 200)
    state.in_this_process()
    try:
        state.inbox.add(raw, bytes.fromhex(header[len(SIGNATURE_PREFIX) :]))
    except InboxUnavailable:
        # The database is down or locked: not 200, so that Meta redelivers.
        logger.exception("WhatsApp webhook could not reach the database")
        response = _text("Storage unavailable\n", 503)
        response.headers["Retry-After"] = "5"
        return response
    if state.drainer is not None:
        state.drainer.wake()
    return _text("EVENT_RECEIVED", 200)
