"""Processing a verified delivery: find the account, find or create the client, log.

The seed's `process_whatsapp_message(message, phone_number_id)`, made safe
for what Meta really sends: batches (every entry, change and message),
redeliveries (one log per message id), parallel first messages (one client
per number), types nobody knows yet, and envelopes with the wrong shapes,
which are skipped piece by piece and never raise.

One client per user (CLIENT-9, CLIENT-10): since 2026 a message may name its
sender by number (`from`), by business-scoped user id (`from_user_id`), or
both. The client is the one holding either; an identifier it lacks is added;
a message whose number and user id name two clients merges them into the
older one (unless each has its own, different value of the other: then the
user id's client is used). System messages move a client to a new number and, from
2026, the new user id that comes with it (`user_changed_number`), or to a
new user id (`user_changed_user_id`); without a client nothing is created.
Only the delivery that logs a message touches clients, so a redelivered old
message cannot bring back an old number.
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


def _contact_name(contacts: list[Any], phone: str | None, user_id: str | None) -> str | None:
    for contact in map(_dict, contacts):
        if (phone and _str(contact.get("wa_id")) == phone) or (
            user_id and _str(contact.get("user_id")) == user_id
        ):
            return _str(_dict(contact.get("profile")).get("name"))
    return None


def _sender(message: dict[str, Any]) -> tuple[str | None, str | None]:
    """The sender's (number, business-scoped user id), each None when absent or unusable."""
    phone = _str(message.get("from"))
    user_id = _str(message.get("from_user_id"))
    return (
        phone if phone and phone.isdigit() and len(phone) <= 32 else None,
        user_id if user_id and len(user_id) <= 128 else None,
    )


def _contradict(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a != b


def _merge(first: Client, second: Client) -> Client | None:
    """Two clients of one user become the older one; None when their identifiers contradict."""
    if _contradict(first.phone, second.phone) or _contradict(first.user_id, second.user_id):
        return None
    kept, gone = sorted((first, second), key=lambda client: client.pk)
    phone, user_id = kept.phone or gone.phone, kept.user_id or gone.user_id
    name = kept.name or gone.name
    gone.delete()  # first, to free its identifiers; nothing else points at a client here
    kept.phone, kept.user_id, kept.name = phone, user_id, name
    kept.save(update_fields=["phone", "user_id", "name"])
    logger.info("WhatsApp client %s merged into client %s: one user", gone.pk, kept.pk)
    return kept


def _find_client(
    account: IntegrationAccount,
    phone: str | None,
    user_id: str | None,
    name: str | None,
    *,
    create: bool,
) -> Client | None:
    clients = Client.objects.filter(account=account, source=SOURCE)
    by_phone = clients.filter(phone=phone).first() if phone else None
    by_user = clients.filter(user_id=user_id).first() if user_id else None
    if by_phone is None and by_user is None:
        if not create:
            return None
        return Client.objects.create(
            company=account.company,
            account=account,
            source=SOURCE,
            phone=phone,
            user_id=user_id,
            name=name,
        )
    if by_phone is not None and by_user is not None and by_phone.pk != by_user.pk:
        merged = _merge(by_phone, by_user)
        if merged is None:
            logger.warning(
                "WhatsApp number and user id belong to two clients of different users "
                "(%s, %s); the user id's client is used",
                by_phone.pk,
                by_user.pk,
            )
            return by_user
        return merged
    client = by_user or by_phone
    assert client is not None
    added = []
    if phone and client.phone is None:
        client.phone = phone
        added.append("phone")
    if user_id and client.user_id is None:
        client.user_id = user_id
        added.append("user_id")
    if added:
        client.save(update_fields=added)
    return client


def _change_identity(
    account: IntegrationAccount, message: dict[str, Any], phone: str | None, user_id: str | None
) -> None:
    """`user_changed_number` / `user_changed_user_id`: the user's client takes the new
    identifiers. Since 2026 a number change carries the new user id too (Meta
    regenerates it with the number): both move at once."""
    system = _dict(message.get("system"))
    kind = system.get("type")
    new_user = _sender({"from_user_id": system.get("user_id")})[1]
    if kind == "user_changed_number":
        new = {"phone": _sender({"from": system.get("wa_id")})[0], "user_id": new_user}
        lookups = [("phone", phone), ("user_id", user_id)]
    elif kind == "user_changed_user_id":
        new = {"user_id": new_user}
        lookups = [("user_id", user_id), ("phone", phone)]
    else:
        return
    new = {field: value for field, value in new.items() if value is not None}
    if (kind == "user_changed_number" and "phone" not in new) or not new:
        return
    clients = Client.objects.filter(account=account, source=SOURCE)
    client = next(
        (found for key, value in lookups if value
         for found in clients.filter(**{key: value})[:1]),
        None,
    )  # fmt: skip
    if client is None:
        logger.info("WhatsApp %s for a user without a client: nothing created", kind)
        return
    if all(getattr(client, field) == value for field, value in new.items()):
        return  # told twice
    # Another client may hold a new identifier already: a message from it came first
    # (Meta keeps no order), or, for a number, its previous owner. One whose other
    # identifiers differ from who the user is now is another user: leave them, say so.
    # Otherwise merge them (the unique constraints allow nothing else).
    target = {"phone": client.phone, "user_id": client.user_id, **new}
    holders = [
        holder
        for field, value in new.items()
        for holder in clients.filter(**{field: value}).exclude(pk=client.pk)[:1]
    ]
    for holder in holders:
        if _contradict(target["phone"], holder.phone) or _contradict(
            target["user_id"], holder.user_id
        ):
            logger.warning(
                "WhatsApp %s: client %s already holds a new identifier and belongs to "
                "another user; nothing changed",
                kind,
                holder.pk,
            )
            return
    held = {field for field, value in new.items() for h in holders if getattr(h, field) == value}
    for field, value in target.items():
        setattr(client, field, None if field in held else value)
    client.save(update_fields=["phone", "user_id"])
    for holder in {h.pk: h for h in holders}.values():
        merged = _merge(client, holder)
        client = merged if merged is not None else client


def _retried(step: Any, *args: Any, **kwargs: Any) -> Any:
    """`step` in a savepoint; a unique constraint that refuses it means a concurrent
    delivery changed this user's clients first, so look again (a few times). The
    message stays logged whatever happens here (CLIENT-6)."""
    for _ in range(3):
        try:
            with transaction.atomic():
                return step(*args, **kwargs)
        except IntegrityError:
            continue
    logger.error("WhatsApp client could not be stored after 3 attempts; message logged only")
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
            # Meta batches up to 1000 messages, and TIME-1 wants the 200 within
            # 3 s: one transaction per change (each message a savepoint inside
            # it, not a commit of its own), and each sender looked up once.
            resolved: set[tuple[str | None, str | None]] = set()
            with transaction.atomic():
                for message in _list(value.get("messages")):
                    process_whatsapp_message(_dict(message), account, contacts, resolved)


def process_whatsapp_message(
    message: dict[str, Any],
    account: IntegrationAccount,
    contacts: list[Any],
    resolved: set[tuple[str | None, str | None]] | None = None,
) -> None:
    """Log `message` once and find or create its sender's client. `resolved`
    holds the senders this change already gave a client (a system message,
    which may move one, empties it)."""
    message_id = _str(message.get("id"))
    if not message_id:
        return
    kind = _str(message.get("type")) or "unknown"
    phone, user_id = _sender(message)
    sender = _str(message.get("from")) or user_id  # the log's `from`: the number, else the user id
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
            create = kind not in CLIENTLESS_TYPES
            known = resolved is not None and create and (phone, user_id) in resolved
            if created and (phone or user_id) and not known:
                name = _contact_name(contacts, phone, user_id)
                client = _retried(_find_client, account, phone, user_id, name, create=create)
                if kind == "system":
                    _retried(_change_identity, account, message, phone, user_id)
                    if resolved is not None:
                        resolved.clear()
                elif client is not None and resolved is not None:
                    resolved.add((phone, user_id))
    except IntegrityError:
        # A parallel redelivery logged it first: exactly what we wanted.
        logger.info("WhatsApp message %s was already logged", message_id)
