"""Reading Meta's webhook envelope defensively: no shape may raise.

Every accessor returns `None` or an empty list for a missing key or a value
of the wrong type, so that a malformed delivery is skipped piece by piece
instead of failing as a whole (ROBUST-2). Nothing here touches the store.
`envelope_object()` is the webhook's quick look before the 200;
`parse_envelope()` the drainer's full read after it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

__all__ = [
    "CLIENTLESS_TYPES",
    "KNOWN_TYPES",
    "WHATSAPP_OBJECT",
    "Change",
    "Contacts",
    "InboundMessage",
    "envelope_object",
    "iter_changes",
    "message_text",
    "parse_envelope",
    "parse_message",
    "sanitize",
    "storable",
]

WHATSAPP_OBJECT = "whatsapp_business_account"

# Types Meta documents for inbound messages; anything else is logged as unknown.
KNOWN_TYPES = frozenset(
    {
        "text", "image", "video", "audio", "voice", "document", "sticker", "location",
        "contacts", "interactive", "button", "reaction", "order", "system",
        "request_welcome", "unsupported", "unknown", "edit", "revoke",
    }
)  # fmt: skip
# These refer to a conversation rather than start one: they never create a client.
CLIENTLESS_TYPES = frozenset({"reaction", "system", "edit", "revoke"})


class _Head(msgspec.Struct):
    """The one member of an envelope the webhook looks at; the rest is skipped."""

    object: Any = None


_HEAD = msgspec.json.Decoder(_Head)


def parse_envelope(body: bytes) -> dict[str, Any] | None:
    """The JSON object in `body`, or None when it is not JSON or not an object."""
    try:
        envelope = json.loads(body, parse_int=_int_or_digits)
    except (ValueError, RecursionError):
        return None
    return envelope if isinstance(envelope, dict) else None


def _int_or_digits(text: str) -> int | str:
    """An integer, or its digits when Python refuses to convert that many
    (`sys.get_int_max_str_digits()`, 4,300 by default): one such number
    anywhere must not cost a delivery that was acknowledged."""
    try:
        return int(text)
    except ValueError:
        return text


def envelope_object(body: bytes) -> tuple[bool, object]:
    """(whether `body` is a JSON object, its `object` member): all the webhook needs to
    answer 400 or 200 before the delivery goes into the inbox.

    msgspec checks a batch of 1000 messages in a twentieth of the time the
    standard library takes to parse it, which the acknowledgement would pay,
    because it builds nothing but the one member it is asked for (and still
    checks the syntax of everything it skips). It is stricter than `json`
    (lone surrogate escapes, NaN, a byte order mark, UTF-16), so what it
    refuses is read again with `json`, which decides; and since it does not
    decode the strings it skips, a body that is not UTF-8 goes to `json` too.
    The drainer parses with `json` alone (`parse_envelope`), so that both
    agree on what a delivery says.
    """
    if body.isascii() or _is_utf8(body):
        try:
            head = _HEAD.decode(body)
        except msgspec.ValidationError:
            return False, None  # JSON, but not an object
        except (msgspec.DecodeError, RecursionError):
            pass
        else:
            return True, head.object
    parsed = parse_envelope(body)
    return (False, None) if parsed is None else (True, parsed.get("object"))


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _clean(text: str) -> str:
    # NUL cannot live in a PostgreSQL text column and a lone surrogate (from a
    # "\ud800" escape) cannot be encoded for any database: replace just those.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def storable(text: str) -> bool:
    """Whether `text` can be a key in a query as it is (`_clean` would leave it alone)."""
    return _clean(text) == text


def sanitize(value: Any) -> Any:
    """`value` with every string made storable (see `_clean`), for JSON columns.

    A non-finite number (`Infinity`, `NaN`, or `1e400`, which reads as infinity)
    is not JSON: PostgreSQL refused the row, and with it every status of the
    change. It is kept as text, the way Python's `json` writes it.
    """
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)
    if isinstance(value, dict):
        return {_clean(str(k)): sanitize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [sanitize(v) for v in value]
    return value


def _bounded(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = _clean(value)
    return value if len(value) <= limit else None


@dataclass(frozen=True)
class Change:
    """One `entry[].changes[]` item."""

    entry_id: str | None
    field: str | None
    value: dict[str, Any]

    @property
    def phone_number_id(self) -> str | None:
        return as_str(as_dict(self.value.get("metadata")).get("phone_number_id"))


def iter_changes(envelope: dict[str, Any]) -> Iterator[Change]:
    for entry in as_list(envelope.get("entry")):
        entry = as_dict(entry)
        for change in as_list(entry.get("changes")):
            change = as_dict(change)
            yield Change(
                entry_id=as_str(entry.get("id")),
                field=as_str(change.get("field")),
                value=as_dict(change.get("value")),
            )


@dataclass(frozen=True)
class InboundMessage:
    """What the store needs from one `value.messages[]` item."""

    message_id: str
    type: str
    sender: str | None  # `from`: digits, absent for some business-scoped users
    sender_user_id: str | None  # `from_user_id` (2026 business-scoped user ids)
    name: str | None  # the matching contact's profile name
    text: str | None
    sent_at: datetime | None
    known_type: bool
    # Identity changes (system messages, CLIENT-10): the sender's new number
    # (`user_changed_number`) or new business-scoped user id (`user_changed_user_id`).
    new_phone: str | None = None
    new_user_id: str | None = None
    # The `timestamp` as sent when it could not be read as a time (past year 9999...).
    timestamp_raw: str | None = None

    @property
    def changes_identity(self) -> bool:
        return self.new_phone is not None or self.new_user_id is not None


def _text_of(message: dict[str, Any], kind: str) -> str | None:
    body = as_dict(message.get(kind))
    if kind == "text":
        return as_str(body.get("body"))
    if kind in {"image", "video", "document"}:
        return as_str(body.get("caption"))
    if kind == "interactive":
        for reply in ("button_reply", "list_reply"):
            title = as_str(as_dict(body.get(reply)).get("title"))
            if title is not None:
                return title
        return as_str(as_dict(body.get("nfm_reply")).get("body"))
    if kind == "button":
        return as_str(body.get("text"))
    return None


def message_text(message: dict[str, Any]) -> str | None:
    """The text body, caption or title of `message`, exactly as sent; None for other types."""
    kind = as_str(message.get("type")) or ""
    return _text_of(message, kind)


def _identity_change(message: dict[str, Any]) -> tuple[str | None, str | None]:
    """(new number, new user id) announced by a `system` message; (None, None) for the rest.

    A number change carries the new user id too from 2026 (Meta regenerates
    the business-scoped id with the number), so both may be set."""
    if message.get("type") != "system":
        return None, None
    system = as_dict(message.get("system"))
    kind = system.get("type")
    user_id = _bounded(as_str(system.get("user_id")), 128) or None
    if kind == "user_changed_number":
        # 2026: a new number comes with a new business-scoped id, `system.user_id`.
        return _bounded(as_str(system.get("wa_id")), 32) or None, user_id
    if kind == "user_changed_user_id":
        return None, user_id
    return None, None


def _timestamp(value: object) -> datetime | None:
    text = as_str(value)
    if text is None or not text.isascii() or not text.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(text), UTC)
    except (OverflowError, ValueError, OSError):  # past year 9999: no datetime holds it
        return None


def _raw_timestamp(value: object, read: datetime | None) -> str | None:
    """What was sent as the timestamp, when it was sent but could not be read."""
    if read is not None or value is None:
        return None
    return _clean(value if isinstance(value, str) else json.dumps(sanitize(value)))[:64]


class Contacts:
    """`value.contacts` indexed once per change, so naming each of a batch's senders is O(1).

    Same answer as scanning the list: the first contact whose `wa_id` is the
    sender or whose `user_id` is the sender's user id; failing that, a lone
    contact without `wa_id` (business-scoped users) names whoever sent.
    """

    __slots__ = ("_by_user_id", "_by_wa_id", "_lone_name")

    def __init__(self, contacts: list[Any]) -> None:
        self._by_wa_id: dict[str, tuple[int, str | None]] = {}
        self._by_user_id: dict[str, tuple[int, str | None]] = {}
        for position, item in enumerate(contacts):
            contact = as_dict(item)
            name = as_str(as_dict(contact.get("profile")).get("name"))
            wa_id = as_str(contact.get("wa_id"))
            user_id = as_str(contact.get("user_id"))
            if wa_id:
                self._by_wa_id.setdefault(wa_id, (position, name))
            if user_id:
                self._by_user_id.setdefault(user_id, (position, name))
        lone = as_dict(contacts[0]) if len(contacts) == 1 else None
        self._lone_name = (
            as_str(as_dict(lone.get("profile")).get("name"))
            if lone is not None and not as_str(lone.get("wa_id"))
            else None
        )

    def name_of(self, sender: str | None, user_id: str | None) -> str | None:
        matches = [
            found
            for found in (
                self._by_wa_id.get(sender) if sender else None,
                self._by_user_id.get(user_id) if user_id else None,
            )
            if found is not None
        ]
        if matches:
            return min(matches, key=lambda found: found[0])[1]
        return self._lone_name


def parse_message(message: object, contacts: list[Any] | Contacts) -> InboundMessage | None:
    """An `InboundMessage`, or None when the item has no usable id or sender.

    `contacts` is the change's `value.contacts`; pass it as `Contacts` when
    parsing many messages of one change.
    """
    item = as_dict(message)
    message_id = _bounded(as_str(item.get("id")), 256)
    sender = _bounded(as_str(item.get("from")), 32) or None
    user_id = _bounded(as_str(item.get("from_user_id")), 128) or None
    if not message_id or (sender is None and user_id is None):
        return None
    kind = _clean(as_str(item.get("type")) or "unknown")
    if not isinstance(contacts, Contacts):
        contacts = Contacts(contacts)
    name = contacts.name_of(as_str(item.get("from")), as_str(item.get("from_user_id")))
    text = message_text(item)
    new_phone, new_user_id = _identity_change(item)
    sent_at = _timestamp(item.get("timestamp"))
    return InboundMessage(
        message_id=message_id,
        type=kind[:64],
        sender=sender,
        sender_user_id=user_id,
        name=None if name is None else _clean(name)[:512],
        text=None if text is None else _clean(text),
        sent_at=sent_at,
        known_type=kind in KNOWN_TYPES,
        new_phone=new_phone,
        new_user_id=new_user_id,
        timestamp_raw=_raw_timestamp(item.get("timestamp"), sent_at),
    )
