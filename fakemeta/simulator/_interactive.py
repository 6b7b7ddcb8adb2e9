"""Answers to what the business sent: interactive replies, template quick
replies, and orders from a catalog.

Part of the builders behind `fakemeta.simulator.messages` (re-exported there). A tap
on a button or a list row always comes with a `context` naming the business
message it answers, so these builders require one (build it with
`reply_context(business_number, message_id)`).

Key orders (live captures 2024-2026, Meta's references and OpenAPI examples):

    interactive: {"type": "button_reply", "button_reply": {"id", "title"}}
                 {"type": "list_reply", "list_reply": {"id", "title", "description"}}
                 {"type": "nfm_reply", "nfm_reply": {"response_json", "body", "name"}}
    button:      {"payload", "text"}
    order:       {"catalog_id", "text", "product_items": [{"product_retailer_id",
                  "quantity", "item_price", "currency"}]}

Meta's older docs showed the reply object before its `type`; every live
capture has `type` first, and so do the current references.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from fakemeta.simulator._message_base import JSON, assemble
from fakemeta.simulator.envelopes import Customer
from fakemeta.simulator.types import Message

__all__ = [
    "button",
    "interactive_button_reply",
    "interactive_list_reply",
    "interactive_nfm_reply",
    "order",
    "product_item",
]


def _interactive(
    sender: Customer,
    reply_type: str,
    reply: JSON,
    *,
    context: Mapping[str, Any],
    id: str | None,
    timestamp: str | None,
    rng: random.Random | None,
) -> Message:
    content = {"type": reply_type, reply_type: reply}
    return assemble(
        sender, "interactive", content, id=id, timestamp=timestamp, context=context, rng=rng
    )


def interactive_button_reply(
    sender: Customer,
    button_id: str,
    title: str,
    *,
    context: Mapping[str, Any],
    id: str | None = None,
    timestamp: str | None = None,
    rng: random.Random | None = None,
) -> Message:
    """A tap on a reply button (titles are at most 20 characters in WhatsApp)."""
    return _interactive(
        sender, "button_reply", {"id": button_id, "title": title},
        context=context, id=id, timestamp=timestamp, rng=rng,
    )  # fmt: skip


def interactive_list_reply(
    sender: Customer,
    row_id: str,
    title: str,
    description: str | None = None,
    *,
    context: Mapping[str, Any],
    id: str | None = None,
    timestamp: str | None = None,
    rng: random.Random | None = None,
) -> Message:
    """A choice from a list message; `description` only when the row has one."""
    reply: JSON = {"id": row_id, "title": title}
    if description is not None:
        reply["description"] = description
    return _interactive(
        sender, "list_reply", reply, context=context, id=id, timestamp=timestamp, rng=rng
    )


def interactive_nfm_reply(
    sender: Customer,
    response: Mapping[str, Any] | str,
    *,
    body: str = "Sent",
    name: str = "flow",
    context: Mapping[str, Any],
    id: str | None = None,
    timestamp: str | None = None,
    rng: random.Random | None = None,
) -> Message:
    """A completed WhatsApp Flow. `response_json` is a JSON *string* inside the
    JSON (it carries the `flow_token` and the user's answers), so it arrives
    doubly escaped; a mapping is serialised compactly, as live captures show."""
    response_json = (
        response
        if isinstance(response, str)
        else json.dumps(response, ensure_ascii=False, separators=(",", ":"))
    )
    reply = {"response_json": response_json, "body": body, "name": name}
    return _interactive(
        sender, "nfm_reply", reply, context=context, id=id, timestamp=timestamp, rng=rng
    )


def button(
    sender: Customer,
    payload: str,
    text: str,
    *,
    context: Mapping[str, Any],
    id: str | None = None,
    timestamp: str | None = None,
    rng: random.Random | None = None,
) -> Message:
    """A tap on a template's quick-reply button: `payload` is what the business
    set, `text` the label the user saw."""
    return assemble(
        sender, "button", {"payload": payload, "text": text},
        id=id, timestamp=timestamp, context=context, rng=rng,
    )  # fmt: skip


def product_item(product_retailer_id: str, quantity: int, item_price: float, currency: str) -> JSON:
    return {
        "product_retailer_id": product_retailer_id,
        "quantity": quantity,
        "item_price": item_price,
        "currency": currency,
    }


def order(
    sender: Customer,
    catalog_id: str,
    product_items: Sequence[Mapping[str, Any]],
    text: str = "",
    *,
    id: str | None = None,
    timestamp: str | None = None,
    context: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
) -> Message:
    """A cart sent from a catalog. `text` is what the user typed with it
    (Meta's reference: usually the empty string)."""
    content = {
        "catalog_id": catalog_id,
        "text": text,
        "product_items": [dict(item) for item in product_items],
    }
    return assemble(sender, "order", content, id=id, timestamp=timestamp, context=context, rng=rng)
