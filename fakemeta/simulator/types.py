"""The shapes of Meta's webhook payloads, as TypedDicts over plain dicts.

Builders return these; the encoder turns them into bytes. Keys are listed in
the order Meta writes them, which is also the order the builders insert them.
Message bodies vary by type, so a message is typed by its common keys and the
per-type object is left as a mapping.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "Change",
    "Contact",
    "Entry",
    "Message",
    "Metadata",
    "Payload",
    "Profile",
    "Status",
    "Value",
]

JSON = dict[str, Any]


class Metadata(TypedDict):
    display_phone_number: str
    phone_number_id: str


class Profile(TypedDict):
    name: NotRequired[str]
    username: NotRequired[str]


# `from` is a keyword, hence the functional syntax.
class Contact(TypedDict):
    profile: NotRequired[Profile]
    wa_id: NotRequired[str]
    user_id: NotRequired[str]
    parent_user_id: NotRequired[str]


# The per-type object ("text": {...}, "image": {...}) sits under the type's own
# name, a key this TypedDict cannot list: builders build the dict and cast it.
Message = TypedDict(
    "Message",
    {
        "context": NotRequired[JSON],
        "referral": NotRequired[JSON],
        "from": NotRequired[str],
        "from_user_id": NotRequired[str],
        "from_parent_user_id": NotRequired[str],
        "group_id": NotRequired[str],
        "id": str,
        "timestamp": str,
        "type": str,
        "errors": NotRequired[list[JSON]],
    },
)


class Status(TypedDict):
    id: str
    status: Literal["sent", "delivered", "read", "failed", "played", "deleted", "warning"]
    timestamp: str
    recipient_id: NotRequired[str]
    recipient_user_id: NotRequired[str]
    recipient_parent_user_id: NotRequired[str]
    recipient_type: NotRequired[Literal["group"]]
    recipient_participant_id: NotRequired[str]
    recipient_participant_user_id: NotRequired[str]
    recipient_participant_parent_user_id: NotRequired[str]
    biz_opaque_callback_data: NotRequired[str]
    conversation: NotRequired[JSON]
    pricing: NotRequired[JSON]
    errors: NotRequired[list[JSON]]


class Value(TypedDict):
    messaging_product: NotRequired[str]
    metadata: NotRequired[Metadata]
    contacts: NotRequired[list[Contact]]
    messages: NotRequired[list[Message]]
    statuses: NotRequired[list[Status]]
    errors: NotRequired[list[JSON]]


class Change(TypedDict):
    value: Value | JSON
    field: str


class Entry(TypedDict):
    id: str
    time: NotRequired[int]
    changes: list[Change]


class Payload(TypedDict):
    object: str
    entry: list[Entry]
