"""What a customer sends, from the control API's JSON to Meta's payload.

The control API (`POST /_fakemeta/inbound`) takes one of three shapes and
turns it into a webhook payload here, with no HTTP and no state:

- a builder spec: `{"from": "<wa_id>", "name": "...", "type": "text",
  "text": "hi"}`; `type` names a builder of `fakemeta.simulator.messages` (`image`,
  `location`, `interactive_button_reply`, `reaction`, ...) and every other
  key is one of its keyword arguments (or goes in `"args": {...}` where its
  name is taken: a location's `name`); `reply_to` makes the message a reply
  to (or a tap on a button of) a bot message;
- a fixture: `{"fixture": "messages/text"}`, re-addressed to this server's
  account, with fresh message ids and timestamps (and `from`/`name` if given);
- a whole payload: `{"raw": {...}}`, sent as it is.

The era (`fakemeta.simulator.eras`) sets the shapes: in 2026 (business-scoped user
ids) a customer given by number also gets a `user_id` (`user_id_for` the
number: the one the server knows, else `state.user_id_of`), so the message
carries `from_user_id` and the contact `user_id`, and `user_id` alone (no
`from`) makes a user without a shared number; fixtures are the era's. In
2025 a customer is a number only, and `user_id`, `username` and
`system_user_changed_user_id` are refused.

Bad input raises `InboundError` with one line naming the problem.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fakemeta.simulator import eras, ids, messages
from fakemeta.simulator.envelopes import Account, Customer, message_payload
from fakemeta.simulator.eras import Era
from fakemeta.simulator.errors import UsageError
from fakemeta.simulator.fixtures import load
from fakemeta.simulator.graph.state import user_id_of
from fakemeta.simulator.types import Payload

__all__ = ["BUILDERS", "InboundError", "build", "kind_of", "messages_in", "statuses_in"]

#: `type` values a spec may name, and the builder each one calls.
BUILDERS: dict[str, Callable[..., Any]] = {
    name: getattr(messages, name)
    for name in (
        "text", "image", "video", "audio", "document", "sticker", "location", "contacts",
        "interactive_button_reply", "interactive_list_reply", "interactive_nfm_reply",
        "button", "reaction", "order", "request_welcome", "unsupported", "edit", "revoke",
        "system_user_changed_number", "system_user_changed_user_id",
    )
}  # fmt: skip
_ALIASES = {"button_reply": "interactive_button_reply", "list_reply": "interactive_list_reply"}
_SENDER_KEYS = ("from", "name", "user_id", "username")
_RESERVED = {"type", "phone_number_id", "reply_to", "args", *_SENDER_KEYS}
_NOT_ARGUMENTS = {"sender", "rng"}
#: What only users with business-scoped ids have (2026 on).
_BUSINESS_SCOPED_KEYS = ("user_id", "username")
_BUSINESS_SCOPED_TYPES = ("system_user_changed_user_id",)


class InboundError(UsageError):
    """The inbound spec cannot be turned into a payload.

    Cause: an unknown `type`, a missing or misspelt argument, a `from` that
    is not digits, an unknown fixture. Fix: follow the message, which names
    the key and what is accepted.
    """


def build(
    spec: Mapping[str, Any],
    account: Account,
    *,
    era: Era | str | None = None,
    user_id_for: Callable[[str], str] | None = None,
) -> Payload:
    """The payload `spec` describes, addressed to `account`, in the shapes of
    `era` (default: the current era). `user_id_for(wa_id)` gives a number's
    business-scoped id where the era has them (default: `state.user_id_of`)."""
    if "raw" in spec:
        raw = spec["raw"]
        if not isinstance(raw, dict) or not isinstance(raw.get("entry"), list):
            raise InboundError("'raw' must be a whole webhook payload: an object with 'entry' []")
        return raw  # type: ignore[return-value]
    chosen = eras.era(era)
    lookup = user_id_for or user_id_of
    if "fixture" in spec:
        return _from_fixture(spec, account, chosen, lookup)
    return _from_builder(spec, account, chosen, lookup)


def _values(payload: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every change's `value` object, skipping whatever is not shaped like one."""
    entries = payload.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if isinstance(value, dict):
                yield value


def _items(value: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = value.get(key)
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def kind_of(payload: Mapping[str, Any]) -> str:
    """The queue's job kind for a payload: inbound, status or field."""
    values = list(_values(payload))
    if any("messages" in v for v in values):
        return "inbound"
    if any("statuses" in v for v in values):
        return "status"
    return "field"


def messages_in(payload: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """`(phone_number_id, message)` for every message in a payload."""
    for value in _values(payload):
        metadata = value.get("metadata")
        phone_number_id = (
            str(metadata.get("phone_number_id", "")) if isinstance(metadata, dict) else ""
        )
        for message in _items(value, "messages"):
            yield phone_number_id, message


def statuses_in(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every status (with its `id` and `status`) in a payload, in order."""
    return [
        status
        for value in _values(payload)
        for status in _items(value, "statuses")
        if "id" in status and "status" in status
    ]


def _customer(
    spec: Mapping[str, Any], era: Era, user_id_for: Callable[[str], str], *, required: bool
) -> Customer | None:
    if not era.business_scoped_ids:
        for key in _BUSINESS_SCOPED_KEYS:
            if key in spec:
                raise InboundError(
                    f"{key!r} belongs to the shapes with business-scoped user ids, not to the "
                    f"{era.name} ones: give 'from' only, or run the server with --era 2026"
                )
    wa_id, user_id = spec.get("from"), spec.get("user_id")
    if wa_id is None and user_id is None:
        if required:
            raise InboundError("'from' is required: the customer's wa_id, digits without '+'")
        return None
    for key in _SENDER_KEYS:
        if key in spec and not isinstance(spec[key], str):
            raise InboundError(f"{key!r} must be a string, got {type(spec[key]).__name__}")
    if wa_id is not None and not (wa_id.isdigit() and 5 <= len(wa_id) <= 20):
        raise InboundError(f"'from' must be 5 to 20 digits without '+', got {wa_id!r}")
    if user_id is None and wa_id is not None and era.business_scoped_ids:
        user_id = user_id_for(wa_id)
    return Customer(wa_id, spec.get("name"), user_id, spec.get("username"))


def _from_builder(
    spec: Mapping[str, Any], account: Account, era: Era, user_id_for: Callable[[str], str]
) -> Payload:
    name = spec.get("type", "text")
    if not isinstance(name, str) or _ALIASES.get(name, name) not in BUILDERS:
        known = ", ".join(sorted([*BUILDERS, *_ALIASES]))
        raise InboundError(f"unknown message type {name!r}: say one of {known}")
    name = _ALIASES.get(name, name)
    if name in _BUSINESS_SCOPED_TYPES and not era.business_scoped_ids:
        raise InboundError(
            f"a {name} message has business-scoped user ids, which the {era.name} shapes "
            "do not have: run the server with --era 2026"
        )
    builder = BUILDERS[name]
    sender = _customer(spec, era, user_id_for, required=True)
    kwargs = {k: v for k, v in spec.items() if k not in _RESERVED}
    if name == "text" and "text" in kwargs:
        kwargs["body"] = kwargs.pop("text")
    args = spec.get("args", {})
    if not isinstance(args, dict):
        raise InboundError("'args' must be an object of the builder's keyword arguments")
    kwargs.update(args)
    parameters = inspect.signature(builder).parameters
    if "reply_to" in spec:
        if not isinstance(spec["reply_to"], str) or not spec["reply_to"]:
            raise InboundError("'reply_to' must be the id (wamid.…) of a bot message")
        if "context" not in parameters:
            raise InboundError(f"a {name} message cannot be a reply: drop 'reply_to'")
        kwargs["context"] = messages.reply_context(account.display_phone_number, spec["reply_to"])
    accepted = sorted(p for p in parameters if p not in _NOT_ARGUMENTS)
    for key in kwargs:
        if key in _NOT_ARGUMENTS or key not in parameters:
            raise InboundError(
                f"unknown key {key!r} for a {name} message: it takes {', '.join(accepted)}"
                " (and from, name, phone_number_id, reply_to, args)"
            )
    try:
        bound = inspect.signature(builder).bind(sender, **kwargs)
    except TypeError as exc:
        hint = " (give reply_to: the bot message id)" if "context" in str(exc) else ""
        raise InboundError(f"bad arguments for a {name} message: {exc}{hint}") from None
    try:
        message = builder(*bound.args, **bound.kwargs)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise InboundError(f"bad arguments for a {name} message: {exc}") from None
    contacts = None if name.startswith("system_") else sender
    return message_payload(account, message, contacts)


def _from_fixture(
    spec: Mapping[str, Any], account: Account, era: Era, user_id_for: Callable[[str], str]
) -> Payload:
    name = spec["fixture"]
    if not isinstance(name, str):
        raise InboundError("'fixture' must be a fixture name, e.g. messages/text")
    payload: dict[str, Any] = copy.deepcopy(load(name, era).payload)
    sender = _customer(spec, era, user_id_for, required=False)
    for entry in payload.get("entry", []):
        entry["id"] = account.waba_id
        for change in entry.get("changes", []):
            value = change.get("value", {})
            if "metadata" in value:
                value["metadata"] = account.metadata
            for message in value.get("messages", []):
                if sender is not None and sender.wa_id is not None and "from" in message:
                    message["from"] = sender.wa_id
                if sender is not None and sender.user_id is not None and "from_user_id" in message:
                    message["from_user_id"] = sender.user_id
                number = str(message.get("from") or message.get("from_user_id") or ids.wa_id())
                message["id"] = ids.wamid(number)
                message["timestamp"] = ids.timestamp()
            for contact in value.get("contacts", []):
                if sender is not None and sender.wa_id is not None and "wa_id" in contact:
                    contact["wa_id"] = sender.wa_id
                if sender is not None and sender.user_id is not None and "user_id" in contact:
                    contact["user_id"] = sender.user_id
                if sender is not None and sender.name is not None:
                    contact.setdefault("profile", {})["name"] = sender.name
    return payload  # type: ignore[return-value]
