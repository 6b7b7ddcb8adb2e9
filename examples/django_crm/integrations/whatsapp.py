"""Processing a verified delivery: find the account, find or create the client, log.

The seed's `process_whatsapp_message(message, phone_number_id)`, made safe
for what Meta really sends: batches (every entry, change and message),
redeliveries (one log per message id), parallel first messages (one client
per number), types nobody knows yet, and envelopes with the wrong shapes,
which are skipped piece by piece and never raise.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from crm.models import Client
from integrations.models import ACTION_MESSAGE_RECEIVED, IntegrationAccount, IntegrationLog

logger = logging.getLogger(__name__)

SOURCE = "whatsapp"
# These refer to a conversation rather than start one: logged, no client.
CLIENTLESS_TYPES = frozenset({"reaction", "system", "edit", "revoke"})


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _storable(value: Any) -> Any:
    """`value` with every string made encodable, for the JSON column."""
    if isinstance(value, str):
        return _str(value)
    if isinstance(value, dict):
        return {_str(str(k)): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def message_text(message: dict[str, Any]) -> str | None:
    """The text body, caption or title, exactly as sent; None for other types."""
    kind = _str(message.get("type")) or ""
    body = _dict(message.get(kind))
    if kind == "text":
        return _str(body.get("body"))
    if kind in {"image", "video", "document"}:
        return _str(body.get("caption"))
    if kind == "button":
        return _str(body.get("text"))
    if kind == "interactive":
        for reply in ("button_reply", "list_reply"):
            title = _str(_dict(body.get(reply)).get("title"))
            if title is not None:
                return title
        return _str(_dict(body.get("nfm_reply")).get("body"))
    return None


def _contact_name(contacts: list[Any], sender: str | None) -> str | None:
    for contact in map(_dict, contacts):
        if sender and _str(contact.get("wa_id")) == sender:
            return _str(_dict(contact.get("profile")).get("name"))
    return None


def connected_account(phone_number_id: str) -> IntegrationAccount | None:
    return (
        IntegrationAccount.objects.filter(
            platform=SOURCE, status="connected", metadata__phone_number_id=phone_number_id
        )
        .select_related("company")
        .first()
    )


def process_webhook(envelope: object) -> None:
    """Every message of every change of every entry; everything else is acknowledged only."""
    for entry in _list(_dict(envelope).get("entry")):
        for change in _list(_dict(entry).get("changes")):
            change = _dict(change)
            value = _dict(change.get("value"))
            if change.get("field") != "messages" or not value.get("messages"):
                continue  # statuses, errors, other fields: nothing to store
            phone_number_id = _str(_dict(value.get("metadata")).get("phone_number_id"))
            account = connected_account(phone_number_id) if phone_number_id else None
            if account is None:
                logger.warning("WhatsApp delivery for unknown phone number id %r", phone_number_id)
                continue
            contacts = _list(value.get("contacts"))
            for message in _list(value.get("messages")):
                process_whatsapp_message(_dict(message), account, contacts)


def process_whatsapp_message(
    message: dict[str, Any], account: IntegrationAccount, contacts: list[Any]
) -> None:
    message_id = _str(message.get("id"))
    if not message_id:
        return
    kind = _str(message.get("type")) or "unknown"
    sender = _str(message.get("from"))
    try:
        with transaction.atomic():
            _, created = IntegrationLog.objects.get_or_create(
                account=account,
                action=ACTION_MESSAGE_RECEIVED,
                message_id=message_id,
                defaults={
                    "sender": sender,
                    "message_type": kind,
                    "text": message_text(message),
                    "payload": _storable(message),
                },
            )
            if created and sender and sender.isdigit() and kind not in CLIENTLESS_TYPES:
                Client.objects.get_or_create(
                    account=account,
                    source=SOURCE,
                    phone=sender,
                    defaults={
                        "company": account.company,
                        "name": _contact_name(contacts, sender),
                    },
                )
    except IntegrityError:
        # A parallel redelivery logged it first: exactly what we wanted.
        logger.info("WhatsApp message %s was already logged", message_id)
