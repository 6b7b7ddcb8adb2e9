"""The webhook endpoint: the handshake (GET) and deliveries (POST).

Order of work for a POST: size cap (413, chunked bodies too; the
connection is closed after it), signature over the raw bytes
(401), JSON parse (400), then one durable write: the raw body into the
inbox (`inbox.py`), and 200. Nothing is parsed or stored before the
signature has been checked, and nothing else is done before the answer:
Meta retries what is slow, so clients, logs, statuses and notifications are
written by the drainer (`drainer.py`, `process.py`) after the 200, from the
inbox row, which a crash cannot lose.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import socket
from collections.abc import Iterator
from typing import TypeVar

from flask import Blueprint, Response, current_app, request
from werkzeug.wrappers import Response as BaseResponse

from .inbox import InboxUnavailable
from .payload import WHATSAPP_OBJECT, envelope_object
from .signature import SIGNATURE_HEADER, SIGNATURE_PREFIX, signature_is_valid
from .state import ReceiverState, receiver_state

__all__ = ["WEBHOOK_PATH", "closing", "webhook"]

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/integrations/webhooks/whatsapp/"

webhook = Blueprint("whatsapp_webhook", __name__)

R = TypeVar("R", bound=BaseResponse)


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


def too_large() -> Response:
    """413, and the connection closed (`closing`)."""
    return closing(_text("413 Request Entity Too Large\n", 413))


def closing(response: R) -> R:
    """`response`, after which the server closes the connection rather than keep it.

    For a 413, whose body was never read: gunicorn keeps a connection alive
    whatever the app's `Connection` header says, and reads the unread body
    before the next request; werkzeug's server reads it before it closes. A
    client still sending (a chunked body without its end) held the connection
    for as long as it liked. So once the answer is written, the socket's
    reading side is shut: both servers then see the end of the input at once
    and close.
    """
    environ = request.environ
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if "werkzeug.socket" not in environ:  # werkzeug's server sends its own
        response.headers["Connection"] = "close"
    if sock is None or not hasattr(sock, "shutdown"):
        return response
    body = response.get_data()
    response.headers["Content-Length"] = str(len(body))

    def then_stop_reading() -> Iterator[bytes]:
        yield body
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)

    response.response = then_stop_reading()
    return response


def _body(limit: int) -> bytes | None:
    """The raw body, or None when it is longer than `limit` bytes.

    With a Content-Length, werkzeug refuses a body over MAX_CONTENT_LENGTH
    before reading it (413). A chunked body has no length: werkzeug then reads
    *up to* the limit and stops without a word, so the cut body failed the
    signature check (401). Here one byte past the limit is asked for, from the
    server's dechunked stream (`wsgi.input_terminated`), and its arrival is the 413.
    """
    environ = request.environ
    if request.content_length is not None or not environ.get("wsgi.input_terminated"):
        return request.get_data(cache=True)
    stream = environ["wsgi.input"]
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        part = stream.read(min(64 * 1024, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return None if size > limit else b"".join(parts)


def _delivery(state: ReceiverState) -> Response:
    raw = _body(state.settings.max_body_bytes)  # 413 above MAX_BODY_BYTES
    if raw is None:
        logger.warning("WhatsApp webhook body over %d bytes refused", state.settings.max_body_bytes)
        return too_large()
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
