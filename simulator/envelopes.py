"""Meta's envelope: `object`, `entry[] {id, changes[] {value, field}}`.

The business side is an `Account` (a WhatsApp Business Account and one of
its phone numbers), the user side a `Customer`. Message, status and field
builders make the inner objects; these functions wrap them, and `batch()`
joins several payloads into one delivery the way Meta batches updates.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from simulator import ids
from simulator.types import Change, Contact, Entry, Message, Metadata, Payload, Status, Value

__all__ = [
    "OBJECT",
    "Account",
    "Customer",
    "batch",
    "change",
    "entry",
    "field_payload",
    "message_payload",
    "messages_value",
    "payload",
    "status_payload",
    "statuses_value",
]

OBJECT = "whatsapp_business_account"


@dataclass(frozen=True)
class Account:
    """The business: a WhatsApp Business Account and one of its phone numbers."""

    waba_id: str
    phone_number_id: str
    display_phone_number: str

    @classmethod
    def generate(cls, rng: random.Random | None = None) -> Account:
        return cls(ids.waba_id(rng), ids.phone_number_id(rng), ids.wa_id(rng))

    @property
    def metadata(self) -> Metadata:
        return {
            "display_phone_number": self.display_phone_number,
            "phone_number_id": self.phone_number_id,
        }


@dataclass(frozen=True)
class Customer:
    """A WhatsApp user. `wa_id` is None for a 2026 user known only by
    business-scoped id (`user_id`) and username."""

    wa_id: str | None
    name: str | None = None
    user_id: str | None = None
    username: str | None = None

    @classmethod
    def generate(cls, name: str = "Test User", rng: random.Random | None = None) -> Customer:
        return cls(ids.wa_id(rng), name)

    @property
    def sender_fields(self) -> dict[str, str]:
        """The keys a message from this user opens with: `from` and/or `from_user_id`."""
        fields: dict[str, str] = {}
        if self.wa_id is not None:
            fields["from"] = self.wa_id
        if self.user_id is not None:
            fields["from_user_id"] = self.user_id
        return fields

    @property
    def contact(self) -> Contact:
        profile: dict[str, str] = {}
        if self.name is not None:
            profile["name"] = self.name
        if self.username is not None:
            profile["username"] = self.username
        contact: dict[str, Any] = {"profile": profile}
        if self.wa_id is not None:
            contact["wa_id"] = self.wa_id
        if self.user_id is not None:
            contact["user_id"] = self.user_id
        return contact  # type: ignore[return-value]


def messages_value(
    account: Account, messages: Sequence[Message], contacts: Sequence[Contact] | None
) -> Value:
    """The `value` of a `messages` change carrying inbound messages.

    `contacts` is None for system messages, which come without a contacts array.
    """
    value: Value = {"messaging_product": "whatsapp", "metadata": account.metadata}
    if contacts is not None:
        value["contacts"] = list(contacts)
    value["messages"] = list(messages)
    return value


def statuses_value(account: Account, statuses: Sequence[Status]) -> Value:
    return {
        "messaging_product": "whatsapp",
        "metadata": account.metadata,
        "statuses": list(statuses),
    }


def change(value: Value | dict[str, Any], field: str = "messages") -> Change:
    return {"value": value, "field": field}


def entry(waba_id: str, changes: Iterable[Change], *, time: int | None = None) -> Entry:
    """One entry per WhatsApp Business Account; non-message fields carry `time` (an int)."""
    result: Entry = {"id": waba_id}  # type: ignore[typeddict-item]
    if time is not None:
        result["time"] = time
    result["changes"] = list(changes)
    return result


def payload(entries: Iterable[Entry]) -> Payload:
    return {"object": OBJECT, "entry": list(entries)}


def message_payload(
    account: Account,
    messages: Sequence[Message] | Message,
    senders: Sequence[Customer] | Customer | None,
) -> Payload:
    """A whole delivery for inbound messages: one entry, one `messages` change.

    `senders` gives the contacts array (one per distinct sender, in order);
    None leaves it out, as Meta does for system messages.
    """
    message_list = [messages] if isinstance(messages, dict) else list(messages)
    contacts: list[Contact] | None = None
    if senders is not None:
        sender_list = [senders] if isinstance(senders, Customer) else list(senders)
        contacts = [s.contact for s in dict.fromkeys(sender_list)]
    return payload(
        [entry(account.waba_id, [change(messages_value(account, message_list, contacts))])]
    )


def status_payload(account: Account, statuses: Sequence[Status] | Status) -> Payload:
    status_list = [statuses] if isinstance(statuses, dict) else list(statuses)
    return payload([entry(account.waba_id, [change(statuses_value(account, status_list))])])


def field_payload(
    waba_id: str, field: str, value: dict[str, Any], *, time: int | None = None
) -> Payload:
    """A delivery for a field other than `messages` (account_update, ...)."""
    return payload([entry(waba_id, [change(value, field)], time=time)])


def batch(payloads: Iterable[Payload]) -> Payload:
    """Several payloads as one delivery: their entries side by side, in order.

    Meta batches up to 1000 updates per POST; a receiver must process every
    entry, every change and every message in it.
    """
    entries: list[Entry] = []
    for p in payloads:
        entries.extend(p["entry"])
    return payload(entries)
