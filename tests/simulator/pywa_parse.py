"""Parse fakemeta's payloads with pywa, the way pywa's own webhook does.

pywa reads one update per POST: `entry[0].changes[0]` and, for messages,
`messages[0]` with `contacts[0]` (pywa/types/base_update.py RawUpdate,
pywa/types/message.py). Meta usually sends one message per POST; a batch is
split here into one-message (one-status) updates that keep Meta's shape (the
sender's or recipient's own contact, the change's metadata), so each message
is judged on its own.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pywa import WhatsApp
from pywa.types.base_update import RawUpdate

__all__ = ["Outcome", "parse_all", "single_updates"]


@dataclass(frozen=True)
class Outcome:
    kind: str  # "message:<type>", "status:<status>", "field:<field>", "errors"
    handler: str | None  # pywa's handler, None when pywa has none for this update
    error: str | None  # "KeyError: 'user_id'", None when pywa built the update


def _client() -> WhatsApp:
    # No server, no token use, no update filtering: only pywa's parsers.
    return WhatsApp(token="fakemeta-placeholder", filter_updates=False)


def _contact_of(contacts: list[dict[str, Any]], sender: dict[str, Any]) -> list[dict[str, Any]]:
    keys = [("wa_id", sender.get("from")), ("user_id", sender.get("from_user_id"))]
    for contact in contacts:
        if any(v is not None and contact.get(k) == v for k, v in keys):
            return [contact]
    return contacts[:1]


def _recipient_contacts(
    contacts: list[dict[str, Any]], status: dict[str, Any]
) -> list[dict[str, Any]]:
    """The contact of the status's recipient (its participant, for a group)."""
    user_id = status.get("recipient_participant_user_id") or status.get("recipient_user_id")
    number = status.get("recipient_participant_id") or status.get("recipient_id")
    return [
        c
        for c in contacts
        if (user_id is not None and c.get("user_id") == user_id)
        or (number is not None and c.get("wa_id") == number)
    ][:1]


def single_updates(payload: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """One pywa-sized update per message, per status, and per other change."""
    for entry in payload["entry"]:
        for change in entry["changes"]:
            value = change["value"]
            items: list[tuple[str, dict[str, Any]]] = []
            if "messages" in value:
                for message in value["messages"]:
                    one = {k: v for k, v in value.items() if k not in ("messages", "contacts")}
                    if "contacts" in value:
                        one["contacts"] = _contact_of(value["contacts"], message)
                    one["messages"] = [message]
                    items.append((f"message:{message['type']}", one))
            elif "statuses" in value:
                for status in value["statuses"]:
                    one = {k: v for k, v in value.items() if k not in ("statuses", "contacts")}
                    mine = _recipient_contacts(value.get("contacts", []), status)
                    if mine:
                        one["contacts"] = mine
                    one["statuses"] = [status]
                    items.append((f"status:{status['status']}", one))
            elif "errors" in value:
                items.append(("errors", value))
            else:
                items.append((f"field:{change['field']}", value))
            for kind, one_value in items:
                head = {k: v for k, v in entry.items() if k != "changes"}
                one_change = {"value": one_value, "field": change["field"]}
                body = {"object": payload["object"], "entry": [{**head, "changes": [one_change]}]}
                yield kind, copy.deepcopy(body)


def parse_all(payloads: list[dict[str, Any]]) -> list[Outcome]:
    """What pywa makes of every single update in `payloads`."""
    wa = _client()
    outcomes: list[Outcome] = []
    for payload in payloads:
        for kind, body in single_updates(payload):
            raw = RawUpdate(json.dumps(body).encode(), hmac_header=None, update_hash="fakemeta")
            try:
                handler = wa._get_handler_type(raw)
            except Exception as exc:
                outcomes.append(Outcome(kind, None, f"{type(exc).__name__}: {exc}"))
                continue
            if handler is None:
                outcomes.append(Outcome(kind, None, None))
                continue
            try:
                wa._handlers_to_updates[handler].from_update(client=wa, update=raw)
            except Exception as exc:
                outcomes.append(Outcome(kind, handler.__name__, f"{type(exc).__name__}: {exc}"))
            else:
                outcomes.append(Outcome(kind, handler.__name__, None))
    return outcomes
