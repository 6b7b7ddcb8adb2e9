"""The webhook endpoint: the handshake (GET) and deliveries (POST).

Order of work for a POST: size cap (413), signature over the raw bytes
(401), JSON parse (400), then the store. Nothing is parsed or stored before
the signature has been checked.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import OperationalError

from .models import ACTION_EVENT
from .notify import notify_all
from .payload import Contacts, InboundMessage, as_list, iter_changes, parse_message
from .signature import SIGNATURE_HEADER, signature_is_valid
from .state import ReceiverState, receiver_state
from .store import AccountRef

__all__ = ["WEBHOOK_PATH", "process_envelope", "webhook"]

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/integrations/webhooks/whatsapp/"
ACTION_ERROR = "whatsapp_webhook_error"

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
    if not signature_is_valid(
        raw, request.headers.get(SIGNATURE_HEADER), state.settings.app_secret
    ):
        logger.warning("WhatsApp webhook signature verification failed")
        return _text("Invalid signature\n", 401)
    try:
        envelope = json.loads(raw)
    except (ValueError, RecursionError):
        return _text("Body is not JSON\n", 400)
    if not isinstance(envelope, dict):
        return _text("Body is not a webhook envelope\n", 400)
    try:
        process_envelope(state, envelope)
    except OperationalError:
        # The database is down or locked: not 200, so that Meta redelivers.
        logger.exception("WhatsApp webhook could not reach the database")
        response = _text("Storage unavailable\n", 503)
        response.headers["Retry-After"] = "5"
        return response
    return _text("EVENT_RECEIVED", 200)


def process_envelope(state: ReceiverState, envelope: dict[str, Any]) -> None:
    """Store every message, status and event of a verified delivery; skip what is malformed.

    Each change's messages are parsed first (an unusable item is skipped
    there) and then stored together, so a batch of 1000 costs a few
    statements, not 1000 transactions; the new ones are notified together
    once their change is committed.
    """
    if envelope.get("object") != "whatsapp_business_account":
        logger.warning("WhatsApp webhook for object %r ignored", str(envelope.get("object"))[:64])
        return
    store = state.store
    accounts: dict[str, AccountRef | None] = {}
    for change in iter_changes(envelope):
        value = change.value
        phone_number_id = change.phone_number_id
        account = None
        if phone_number_id:
            if phone_number_id not in accounts:
                accounts[phone_number_id] = store.find_account(phone_number_id)
            account = accounts[phone_number_id]
            if account is None:
                logger.warning(
                    "WhatsApp webhook for unknown phone_number_id %r: nothing stored",
                    phone_number_id[:64],
                )
                continue
        messages = as_list(value.get("messages"))
        statuses = as_list(value.get("statuses"))
        errors = as_list(value.get("errors"))
        if account is None or change.field != "messages":
            details = {"field": change.field, "entry_id": change.entry_id, "value": value}
            logger.info("WhatsApp webhook field %r logged", (change.field or "")[:64])
            _guarded(store.record_event, account, ACTION_EVENT, details)
            continue
        if messages:
            parsed = _parse_messages(messages, Contacts(as_list(value.get("contacts"))))
            stored = _guarded(store.record_messages, account, parsed)
            if stored:
                notify_all(state.notifier, stored)
        if statuses:
            _guarded(store.record_statuses, account, statuses)
        if errors:
            logger.warning("WhatsApp webhook reported %d error(s)", len(errors))
            _guarded(store.record_event, account, ACTION_ERROR, {"errors": errors})


def _parse_messages(items: list[Any], contacts: Contacts) -> list[InboundMessage]:
    parsed = []
    for item in items:
        try:
            message = parse_message(item, contacts)
        except Exception:  # parse_message never raises by design; one item must not cost the rest
            logger.exception("WhatsApp message could not be parsed; skipped")
            continue
        if message is None:
            logger.warning("WhatsApp message without a usable id or sender skipped")
            continue
        if not message.known_type:
            logger.info(
                "WhatsApp message %s of unknown type %r logged", message.message_id, message.type
            )
        parsed.append(message)
    return parsed


def _guarded(function: Any, *args: Any) -> Any:
    # One malformed item must not cost the rest of the batch; a database
    # outage must surface (OperationalError) so that the delivery is retried.
    try:
        return function(*args)
    except OperationalError:
        raise
    except Exception:
        logger.exception("WhatsApp webhook item could not be stored; skipped")
        return None
