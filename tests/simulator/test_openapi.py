"""Generated deliveries against Meta's own OpenAPI description of the webhook.

Meta publishes `WebhookPayload` in its business-messaging OpenAPI spec (v23.0,
kept under shared/reference/meta-openapi/). The spec is older and narrower
than what Meta sends today, so two kinds of adjustment are made, each named:

1. Repairs of the spec's own reference bugs (`fakemeta.simulator._drift_spec.SPEC_REF_REPAIRS`,
   shared with the drift check): when the
   webhook schemas were merged into the spec, their names collided with the
   send-message schemas and got suffixes (`TextMessage_2`, ...), but the
   references kept the bare names. As published, every inbound message is
   checked against the *outbound* schema (which requires `to`,
   `recipient_type`, `messaging_product` on the message) and nothing
   validates; `test_the_published_spec_needs_its_references_repaired` pins that.
2. Exclusions of cases Meta really sends that the spec does not describe
   (`spec_covers`), one reason each. Everything else is validated as drawn.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakemeta.simulator import envelopes, messages
from fakemeta.simulator._drift_spec import repaired_components
from fakemeta.simulator._message_examples import message_examples
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.strategies._ids import accounts, bsuids, wa_ids
from fakemeta.simulator.strategies._messages import MESSAGE_STRATEGIES
from fakemeta.simulator.strategies._text import person_names
from fakemeta.simulator.types import Message

yaml = pytest.importorskip("yaml")
openapi_schema_validator = pytest.importorskip("openapi_schema_validator")

SPEC = (
    Path(__file__).parents[2].parent
    / "shared/reference/meta-openapi/business-messaging-api_v23.0.yaml"
)

#: Message types the spec's `IncomingMessage` and `SystemMessage` describe.
#: request_welcome, edit and revoke are not in it at all.
SPEC_TYPES = (
    "text", "reaction", "audio", "document", "image", "sticker", "video", "location",
    "contacts", "unsupported", "button", "interactive", "order", "system",
)  # fmt: skip


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.skip(f"Meta's OpenAPI spec is not checked out at {SPEC}")
    with SPEC.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = yaml.safe_load(f)
    return loaded


def _validator(spec: dict[str, Any], *, repaired: bool) -> Any:
    components = repaired_components(spec) if repaired else copy.deepcopy(spec["components"])
    root = {"components": components, "$ref": "#/components/schemas/WebhookPayload"}
    # The document declares `openapi: 3.1.0`: JSON Schema 2020-12 semantics.
    return openapi_schema_validator.OAS31Validator(
        root, format_checker=openapi_schema_validator.oas31_format_checker
    )


@pytest.fixture(scope="module")
def validator(spec: dict[str, Any]) -> Any:
    return _validator(spec, repaired=True)


def spec_covers(msg: Any) -> bool:
    """False for what Meta sends but its v23.0 spec does not describe."""
    kind = msg["type"]
    body = msg.get(kind)
    if kind == "text" and "context" in msg and "referred_product" not in msg["context"]:
        return False  # ContextObject requires referred_product: no replies or forwards
    if kind == "reaction" and "emoji" not in body:
        return False  # emoji is required: reaction removals are missing
    if kind == "location" and "name" not in body:
        return False  # address and name are required: bare pins are missing
    if kind == "interactive" and body["type"] == "nfm_reply":
        return False  # only list_reply and button_reply: WhatsApp Flows are missing
    return not (kind == "system" and body["type"] == "user_changed_user_id")  # 2026


def _senders() -> st.SearchStrategy[Customer]:
    # The spec requires `from` on every message and a profile name on contacts.
    return st.builds(Customer, wa_ids(), person_names(), user_id=st.one_of(st.none(), bsuids()))


@st.composite
def _covered_payloads(draw: st.DrawFn) -> Any:
    account: Account = draw(accounts())
    sender = draw(_senders())
    kind = draw(st.sampled_from(SPEC_TYPES))
    msg: Message = draw(MESSAGE_STRATEGIES[kind](sender).filter(spec_covers))
    senders = None if kind == "system" else sender
    return envelopes.message_payload(account, msg, senders)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(payload=_covered_payloads())
def test_generated_deliveries_match_metas_openapi_spec(validator: Any, payload: Any) -> None:
    errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_every_example_the_spec_covers_validates(validator: Any) -> None:
    sender = Customer("16505551234", "Sheena Nelson")
    account = Account("102290129340398", "106540352242922", "15550783881")
    examples = message_examples(sender, "15550783881", random.Random(1), "1767225600")
    checked = 0
    for name, msg in examples.items():
        if msg["type"] not in SPEC_TYPES or not spec_covers(msg):
            continue
        payload = envelopes.message_payload(
            account, msg, None if msg["type"] == "system" else sender
        )
        errors = list(validator.iter_errors(payload))
        assert not errors, f"{name}: {errors[0].message}"
        checked += 1
    assert checked >= 18


def test_the_published_spec_needs_its_references_repaired(spec: dict[str, Any]) -> None:
    # If Meta fixes the references, this fails and _drift_spec.SPEC_REF_REPAIRS can go.
    sender = Customer("16505551234", "Sheena Nelson")
    account = Account("102290129340398", "106540352242922", "15550783881")
    payload = envelopes.message_payload(account, messages.text(sender, "hi"), sender)
    assert _validator(spec, repaired=True).is_valid(payload)
    assert not _validator(spec, repaired=False).is_valid(payload)


def test_the_repaired_spec_still_rejects_a_broken_message(validator: Any) -> None:
    sender = Customer("16505551234", "Sheena Nelson")
    account = Account("102290129340398", "106540352242922", "15550783881")
    msg: Any = messages.image(sender, "x")
    del msg["image"]["sha256"]
    assert not validator.is_valid(envelopes.message_payload(account, msg, sender))
