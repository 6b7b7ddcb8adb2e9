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

from fakemeta.simulator import eras, ids
from fakemeta.simulator.eras import Era
from fakemeta.simulator.types import (
    Change,
    Contact,
    Entry,
    Message,
    Metadata,
    Payload,
    Status,
    Value,
)

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
    "status_contacts",
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
    """A WhatsApp user.

    Up to 2025 a user is a number (`wa_id`). From the 2026 era every user
    also has a business-scoped id (`user_id`), a `parent_user_id` when the
    business's portfolio has parent ids enabled, and maybe a `username`;
    `wa_id` is None for a user Meta shares only by business-scoped id.
    """

    wa_id: str | None
    name: str | None = None
    user_id: str | None = None
    username: str | None = None
    parent_user_id: str | None = None

    @classmethod
    def generate(
        cls,
        name: str = "Test User",
        rng: random.Random | None = None,
        *,
        era: Era | str | None = None,
    ) -> Customer:
        """A user with a number, and in the 2026 era a business-scoped id of
        the number's country too."""
        number = ids.wa_id(rng)
        if not eras.era(era).business_scoped_ids:
            return cls(number, name)
        return cls(number, name, user_id=ids.bsuid(ids.country_of(number), rng))

    @property
    def sender_fields(self) -> dict[str, str]:
        """The keys a message from this user opens with: `from`,
        `from_user_id`, `from_parent_user_id`, each when known (Meta's
        business-scoped user id guide, May 7, 2026: `from` omitted for a
        user whose number cannot be shared, never sent as "")."""
        fields: dict[str, str] = {}
        if self.wa_id is not None:
            fields["from"] = self.wa_id
        if self.user_id is not None:
            fields["from_user_id"] = self.user_id
        if self.parent_user_id is not None:
            fields["from_parent_user_id"] = self.parent_user_id
        return fields

    @property
    def contact(self) -> Contact:
        """`{profile {name, username}, wa_id, user_id, parent_user_id}`, each
        key only when known (the order of Meta's messages webhook reference,
        Updated Jun 17, 2026, and of its business-scoped user id guide)."""
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
        if self.parent_user_id is not None:
            contact["parent_user_id"] = self.parent_user_id
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


#: The statuses whose delivery carries a contacts array (2026): "Only
#: included for sent, delivered, and read status messages."
_STATUSES_WITH_CONTACTS = frozenset({"sent", "delivered", "read"})


def status_contacts(
    statuses: Sequence[Status], recipients: Sequence[Customer], *, profiles: bool = True
) -> list[Contact]:
    """The `contacts` Meta puts before business-scoped statuses (2026).

    Meta's business-scoped user id guide (May 7, 2026): one contact per
    recipient with a business-scoped id (per participant for a group
    status), only for `sent`, `delivered` and `read` ("For failed status
    webhooks, the contacts array is omitted"; `played` is not named);
    `username` is "omitted entirely for sent status messages webhooks".
    `profiles=False` leaves out the profile, as live 2026 status bodies do
    (`"contacts":[{"wa_id":"917012838736","user_id":"IN.1319920266149785"}]`).
    """
    contacts: list[Contact] = []
    for customer in dict.fromkeys(recipients):
        if customer.user_id is None:
            continue
        kinds = {s["status"] for s in statuses if _about(s, customer)}
        if not kinds & _STATUSES_WITH_CONTACTS:
            continue
        contact = customer.contact
        if not profiles:
            del contact["profile"]
        elif not kinds & {"delivered", "read"}:
            contact["profile"].pop("username", None)
        contacts.append(contact)
    return contacts


def _about(status: Status, customer: Customer) -> bool:
    """Whether `status` is about `customer`, sent to them or to a group of theirs."""
    if status.get("recipient_type") == "group":
        return status.get("recipient_participant_user_id") == customer.user_id
    return status.get("recipient_user_id") == customer.user_id or (
        customer.wa_id is not None and status.get("recipient_id") == customer.wa_id
    )


def statuses_value(
    account: Account,
    statuses: Sequence[Status],
    recipients: Sequence[Customer] = (),
    *,
    profiles: bool = True,
) -> Value:
    """`messaging_product, metadata, [contacts], statuses` for a `messages`
    change; `recipients` gives the 2026 contacts array (see `status_contacts`)."""
    value: Value = {"messaging_product": "whatsapp", "metadata": account.metadata}
    contacts = status_contacts(statuses, recipients, profiles=profiles)
    if contacts:
        value["contacts"] = contacts
    value["statuses"] = list(statuses)
    return value


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


def status_payload(
    account: Account,
    statuses: Sequence[Status] | Status,
    recipients: Sequence[Customer] | Customer = (),
    *,
    profiles: bool = True,
) -> Payload:
    """A whole status delivery; `recipients` (the customers the statuses are
    about) adds the 2026 contacts array for those with a business-scoped id."""
    status_list = [statuses] if isinstance(statuses, dict) else list(statuses)
    people = [recipients] if isinstance(recipients, Customer) else list(recipients)
    value = statuses_value(account, status_list, people, profiles=profiles)
    return payload([entry(account.waba_id, [change(value)])])


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
