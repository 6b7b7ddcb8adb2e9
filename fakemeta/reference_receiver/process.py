"""Applying acknowledged deliveries to the CRM: the step after the inbox.

`apply_deliveries()` runs in the drainer's transaction over a pass of inbox
rows, in the order they were received. Each body is parsed again (the
webhook only checked that it is a JSON object) and walked entry by entry,
change by change; an unusable item is skipped there (ROBUST-2). Work is then
grouped by account, keeping delivery order inside each group, so that a pass
of a hundred one-message deliveries costs the statements of one batch of a
hundred messages: the store's rules are the same for a batch as for its
messages one after the other (`store.py`, `identity.py`), so grouping
changes no outcome. Statuses and events are written in savepoints, so one
that the database refuses costs nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from .models import ACTION_EVENT
from .notify import NewMessage
from .payload import (
    WHATSAPP_OBJECT,
    Contacts,
    InboundMessage,
    as_list,
    iter_changes,
    parse_envelope,
    parse_message,
    storable,
)
from .store import AccountRef, Store

__all__ = ["ACTION_ERROR", "apply_deliveries"]

logger = logging.getLogger(__name__)

ACTION_ERROR = "whatsapp_webhook_error"


class _Pass:
    """What a pass of deliveries asks of the store, grouped by account in delivery order."""

    def __init__(self, session: Session, store: Store) -> None:
        self.session = session
        self.store = store
        self.accounts: dict[str, AccountRef | None] = {}
        self.messages: dict[AccountRef, list[InboundMessage]] = {}
        self.statuses: dict[AccountRef, list[list[Any]]] = {}
        self.events: list[tuple[AccountRef | None, str, dict[str, Any]]] = []

    def account(self, phone_number_id: str) -> AccountRef | None:
        if phone_number_id not in self.accounts:
            self.accounts[phone_number_id] = self.store.find_account(self.session, phone_number_id)
        return self.accounts[phone_number_id]

    def add(self, envelope: dict[str, Any]) -> None:
        if envelope.get("object") != WHATSAPP_OBJECT:
            logger.warning(
                "WhatsApp webhook for object %r ignored", str(envelope.get("object"))[:64]
            )
            return
        for change in iter_changes(envelope):
            value = change.value
            phone_number_id = change.phone_number_id
            account = None
            if phone_number_id and not storable(phone_number_id):
                # NUL or a lone surrogate: no account has it, and PostgreSQL
                # refuses it even in a query (the pass failed, and the delivery with it).
                logger.warning(
                    "WhatsApp webhook for unknown phone_number_id %r: nothing stored",
                    phone_number_id[:64],
                )
                continue
            if phone_number_id:
                account = self.account(phone_number_id)
                if account is None:
                    logger.warning(
                        "WhatsApp webhook for unknown phone_number_id %r: nothing stored",
                        phone_number_id[:64],
                    )
                    continue
            if account is None or change.field != "messages":
                details = {"field": change.field, "entry_id": change.entry_id, "value": value}
                logger.info("WhatsApp webhook field %r logged", (change.field or "")[:64])
                self.events.append((account, ACTION_EVENT, details))
                continue
            messages = as_list(value.get("messages"))
            statuses = as_list(value.get("statuses"))
            errors = as_list(value.get("errors"))
            if messages:
                parsed = _parse_messages(messages, Contacts(as_list(value.get("contacts"))))
                self.messages.setdefault(account, []).extend(parsed)
            if statuses:
                self.statuses.setdefault(account, []).append(statuses)
            if errors:
                logger.warning("WhatsApp webhook reported %d error(s)", len(errors))
                self.events.append((account, ACTION_ERROR, {"errors": errors}))

    def apply(self) -> list[NewMessage]:
        session, store = self.session, self.store
        stored: list[NewMessage] = []
        for account, messages in self.messages.items():
            stored.extend(store.record_messages(session, account, messages))
        for account, groups in self.statuses.items():
            merged = [status for group in groups for status in group]
            failed = _guarded(session, store.record_statuses, account, merged) is _FAILED
            if failed and len(groups) > 1:
                for group in groups:  # again change by change: only the bad one is skipped
                    _guarded(session, store.record_statuses, account, group)
        for account_or_none, action, details in self.events:
            _guarded(session, store.record_event, account_or_none, action, details)
        return stored


def apply_deliveries(session: Session, store: Store, bodies: Sequence[bytes]) -> list[NewMessage]:
    """Store every message, status and event of `bodies` (verified deliveries, in the
    order received) in `session`'s transaction; returns the newly stored messages.

    Raises `OperationalError` when the database fails (the caller rolls the
    pass back and the deliveries stay in the inbox).
    """
    work = _Pass(session, store)
    for body in bodies:
        envelope = parse_envelope(body)
        if envelope is None:  # the webhook refused these; a row written by hand, perhaps
            logger.warning("WhatsApp delivery in the inbox is not a JSON object; skipped")
            continue
        work.add(envelope)
    return work.apply()


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


_FAILED = object()


def _guarded(session: Session, function: Callable[..., Any], *args: Any) -> Any:
    """`function(session, *args)` in a savepoint: one item the database refuses must
    not cost the rest of the pass; a database failure (OperationalError) must
    surface, so that the pass is rolled back and tried again."""
    try:
        with session.begin_nested():
            return function(session, *args)
    except OperationalError:
        raise
    except Exception:
        logger.exception("WhatsApp webhook item could not be stored; skipped")
        return _FAILED
