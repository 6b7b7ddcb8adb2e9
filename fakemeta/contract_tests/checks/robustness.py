"""ROBUST-*: what a receiver does with correctly signed bodies Meta never sends.

The signature verifies, so only the receiver's own parsing stands between
these bodies and a crash: a body that is not JSON must be refused with 400;
JSON that is not a Meta envelope (wrong types, missing keys, arrays, deep
nesting, numbers no parser expects) may be acknowledged or refused but never
answered 5xx, since Meta retries a 5xx for days; and the webhook serves GET
and POST only.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from fakemeta.contract_tests.checks._deliveries import (
    Refused,
    drawn_senders,
    expect_nothing_stored,
    fresh_text,
)
from fakemeta.contract_tests.context import CheckContext
from fakemeta.contract_tests.registry import check
from fakemeta.simulator.encoding import encode
from fakemeta.simulator.strategies import message_payloads, status_payloads
from fakemeta.simulator.types import Payload

__all__: list[str] = []

# --- ROBUST-1 ---------------------------------------------------------------

_NOT_JSON: list[tuple[str, bytes]] = [
    ("plain text", b"not json"),
    ("an empty body", b""),
    ("NUL bytes", b"\x00" * 16),
    ("invalid UTF-8 inside a JSON string", b'{"object":"whatsapp_business_account\xff\xfe"}'),
    ("a trailing comma", b'{"object":"whatsapp_business_account","entry":[],}'),
    ("single-quoted strings", b"{'object': 'whatsapp_business_account', 'entry': []}"),
    ("two JSON documents back to back", b'{"object":"whatsapp_business_account"}{}'),
    ("an unterminated string", b'{"object":"whatsapp_business_acc'),
    ("a JavaScript comment", b'{"object":"whatsapp_business_account" /* hi */}'),
    ("a form-encoded body", b"object=whatsapp_business_account&entry=%5B%5D"),
    ("an XML body", b'<?xml version="1.0"?><object>whatsapp_business_account</object>'),
]


@check("ROBUST-1")
def non_json_body_is_refused_with_400(ctx: CheckContext) -> None:
    """A correctly signed body that is not JSON is refused with 400, never 5xx."""
    cases = list(_NOT_JSON)
    meta = fresh_text(ctx).delivery.body
    # Neither ends in whitespace, so a receiver that strips the body (a SIG-4
    # bug) still sees the signed bytes and answers for the JSON, not the HMAC.
    cases.append(("a Meta delivery cut off halfway", meta[: len(meta) // 2].rstrip()))
    noise = b"\xff" + bytes(ctx.rng.getrandbits(8) for _ in range(254)) + b"\xfe"
    cases.append(("random bytes", noise))
    for what, body in cases:
        exchange = ctx.post(ctx.signed(body))
        ctx.expect_refused(exchange, f"a correctly signed body of {what}", strict_status=400)


# --- ROBUST-2 ---------------------------------------------------------------

Path = tuple[str | int, ...]
_VALUE: Path = ("entry", 0, "changes", 0, "value")
_MESSAGE: Path = (*_VALUE, "messages", 0)
_DROP = object()


def _changed(payload: Any, path: Path, new: Any) -> Any:
    """A deep copy of `payload` with the value at `path` replaced (or dropped)."""
    result = copy.deepcopy(payload)
    if not path:
        return new
    parent = result
    for key in path[:-1]:
        parent = parent[key]
    if new is _DROP:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return result


# (what, path, replacement) applied to a valid text delivery from a fresh sender.
_CHANGES: list[tuple[str, Path, Any]] = [
    ("an empty array", (), []),
    ("a JSON string", (), "x"),
    ("null", (), None),
    ("a number", (), 0),
    ("true", (), True),
    ("an empty object", (), {}),
    ("`object` a number", ("object",), 1),
    ("no `entry`", ("entry",), _DROP),
    ("`entry` an object", ("entry",), {}),
    ("`entry` a string", ("entry",), "x"),
    ("`entry` null", ("entry",), None),
    ("`entry` [1]", ("entry",), [1]),
    ("`entry` [null]", ("entry",), [None]),
    ("`entry` [[]]", ("entry",), [[]]),
    ("an entry id that is a number", ("entry", 0, "id"), 1),
    ("no `changes`", ("entry", 0, "changes"), _DROP),
    ("`changes` an object", ("entry", 0, "changes"), {}),
    ("`changes` a string", ("entry", 0, "changes"), "x"),
    ("`changes` [null]", ("entry", 0, "changes"), [None]),
    ("`changes` [1]", ("entry", 0, "changes"), [1]),
    ("no `value`", _VALUE, _DROP),
    ("`value` null", _VALUE, None),
    ("`value` an array", _VALUE, []),
    ("`value` a string", _VALUE, "x"),
    ("`field` a number", ("entry", 0, "changes", 0, "field"), 1),
    ("no `field`", ("entry", 0, "changes", 0, "field"), _DROP),
    ("no `metadata`", (*_VALUE, "metadata"), _DROP),
    ("`metadata` null", (*_VALUE, "metadata"), None),
    ("`metadata` a string", (*_VALUE, "metadata"), "x"),
    ("no `phone_number_id`", (*_VALUE, "metadata", "phone_number_id"), _DROP),
    ("`phone_number_id` null", (*_VALUE, "metadata", "phone_number_id"), None),
    ("`phone_number_id` an array", (*_VALUE, "metadata", "phone_number_id"), []),
    ("`contacts` an object", (*_VALUE, "contacts"), {}),
    ("`contacts` [null]", (*_VALUE, "contacts"), [None]),
    ("a contact with `profile` null", (*_VALUE, "contacts", 0, "profile"), None),
    ("a contact with `wa_id` a number", (*_VALUE, "contacts", 0, "wa_id"), 1),
    ("`messages` an object", (*_VALUE, "messages"), {}),
    ("`messages` a string", (*_VALUE, "messages"), "x"),
    ("`messages` [null]", (*_VALUE, "messages"), [None]),
    ("`messages` [{}]", (*_VALUE, "messages"), [{}]),
    ("a message without `id`", (*_MESSAGE, "id"), _DROP),
    ("a message without `from`", (*_MESSAGE, "from"), _DROP),
    ("a message without `type`", (*_MESSAGE, "type"), _DROP),
    ("a message without `timestamp`", (*_MESSAGE, "timestamp"), _DROP),
    ("a message whose `id` is a number", (*_MESSAGE, "id"), 1),
    ("a message whose `id` is empty", (*_MESSAGE, "id"), ""),
    ("a message whose `type` is a number", (*_MESSAGE, "type"), 1),
    ("a message whose `type` is null", (*_MESSAGE, "type"), None),
    ("a message whose `timestamp` is not a number", (*_MESSAGE, "timestamp"), "yesterday"),
    ("a message whose `timestamp` is a float", (*_MESSAGE, "timestamp"), 1.5e300),
    ("a text message with `text` null", (*_MESSAGE, "text"), None),
    ("a text message with `text` a string", (*_MESSAGE, "text"), "x"),
    ("a text message with `text` {}", (*_MESSAGE, "text"), {}),
    ("a text message with `body` a number", (*_MESSAGE, "text", "body"), 1),
    ("a text message with `body` an object", (*_MESSAGE, "text", "body"), {"a": [1]}),
    ("a text with a NUL character", (*_MESSAGE, "text", "body"), "before\x00after"),
    ("a text of 100,000 characters", (*_MESSAGE, "text", "body"), "long " * 20_000),
    ("`statuses` a string", (*_VALUE, "statuses"), "x"),
    ("`statuses` [{}]", (*_VALUE, "statuses"), [{}]),
    ("a status whose fields are all null", (*_VALUE, "statuses"), [
        {"id": None, "status": None, "timestamp": None, "recipient_id": None}]),
    ("`errors` an object", (*_VALUE, "errors"), {}),
]  # fmt: skip

# Bodies that `encode` cannot write: a placeholder string is swapped for them.
_PLACEHOLDER = "__fakemeta_raw__"
_DEPTH = 20_000
_RAW: list[tuple[str, Path, bytes]] = [
    ("a 5,000-digit number as the timestamp", (*_MESSAGE, "timestamp"), b"9" * 5000),
    ("1e999 (beyond a double) as the timestamp", (*_MESSAGE, "timestamp"), b"1e999"),
    ("-0 as the entry id", ("entry", 0, "id"), b"-0"),
    ("a lone surrogate (\\ud800) in the text", (*_MESSAGE, "text", "body"), b'"a\\ud800b"'),
    ("a text nested 20,000 arrays deep", (*_MESSAGE, "text", "body"),
     b"[" * _DEPTH + b"]" * _DEPTH),
    ("a value nested 20,000 objects deep", (*_VALUE, "extra"),
     b'{"a":' * _DEPTH + b"{}" + b"}" * _DEPTH),
    ("a whole body nested 20,000 arrays deep", (), b"[" * _DEPTH + b"]" * _DEPTH),
    ("a duplicated `object` key", ("object",),
     b'"page","object":"whatsapp_business_account"'),
]  # fmt: skip


def _raw(payload: Payload, path: Path, raw: bytes) -> bytes:
    if not path:
        return raw
    marked = encode(_changed(payload, path, _PLACEHOLDER))
    return marked.replace(f'"{_PLACEHOLDER}"'.encode(), raw, 1)


@check("ROBUST-2")
def non_envelope_json_is_never_a_server_error(ctx: CheckContext) -> None:
    """Signed JSON that is not a Meta envelope (wrong types, missing keys, nesting) never 5xx."""
    for what, path, new in _CHANGES:
        payload = fresh_text(ctx).payload
        body = encode(_changed(payload, path, new))
        ctx.expect_no_5xx(ctx.post(ctx.signed(body)), f"a signed envelope with {what}")
    for what, path, raw in _RAW:
        body = _raw(fresh_text(ctx).payload, path, raw)
        ctx.expect_no_5xx(ctx.post(ctx.signed(body)), f"a signed envelope with {what}")


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every path below `value` to a value inside it, in document order."""
    found: list[Path] = []
    items: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        path = (*prefix, key)
        found.append(path)
        found.extend(_paths(child, path))
    return found


_WRONG_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.just([]),
    st.just({}),
    st.lists(st.integers(0, 9), min_size=1, max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(0, 9), min_size=1, max_size=2),
)


@st.composite
def _mutants(draw: st.DrawFn, valid: st.SearchStrategy[Payload]) -> tuple[str, Any]:
    """A valid delivery with one to three values dropped or swapped for another type."""
    mutant: Any = draw(valid)
    done = []
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(mutant)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        if draw(st.booleans()):
            mutant = _changed(mutant, path, _DROP)
            done.append(f"dropped {_show(path)}")
        else:
            new = draw(_WRONG_VALUES)
            mutant = _changed(mutant, path, new)
            done.append(f"{_show(path)} = {new!r}")
    return "; ".join(done), mutant


def _show(path: Path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


@check("ROBUST-2")
def mutated_envelopes_are_never_a_server_error(ctx: CheckContext) -> None:
    """Generated Meta deliveries with keys dropped or values of the wrong type never get a 5xx."""
    # Drawn senders: `ctx.examples` freshens every attempt's ids and numbers,
    # and an example must be a function of its draw to shrink and replay.
    senders = drawn_senders(ctx, st.just("Contract Test"))
    valid = st.one_of(
        message_payloads(
            account=ctx.account, senders=senders, max_entries=2, max_messages=3, era=ctx.era
        ),
        status_payloads(account=ctx.account, max_statuses=2, era=ctx.era),
    )

    def deliver(mutant: tuple[str, Any]) -> None:
        what, payload = mutant
        exchange = ctx.post(ctx.signed(encode(payload)))
        ctx.expect_no_5xx(exchange, f"a signed Meta delivery changed so: {what}")

    ctx.examples(_mutants(valid), deliver)


# --- ROBUST-3 ---------------------------------------------------------------


@check("ROBUST-3")
def other_methods_are_answered_405(ctx: CheckContext) -> None:
    """PUT, PATCH and DELETE are answered 405 and store nothing; HEAD and OPTIONS never 5xx.

    A correctly signed delivery goes with each method, so a receiver that
    treats every method as POST is caught. HEAD and OPTIONS are only held to
    "no server error": many frameworks and proxies answer HEAD like GET and
    OPTIONS with the allowed methods, before the receiver's code runs.
    """
    refused = []
    for method in ("PUT", "PATCH", "DELETE"):
        sent = fresh_text(ctx)
        delivery = sent.delivery
        exchange = ctx.send(method, "", delivery.body, delivery.headers)
        what = f"a signed delivery sent with {method}"
        ctx.expect_refused(exchange, what, strict_status=405)
        refused.append(Refused(exchange, what, sent.customer, sent.message_id))
    for method in ("HEAD", "OPTIONS"):
        ctx.expect_no_5xx(ctx.send(method), f"a {method} request")
    expect_nothing_stored(
        ctx, refused, expected="nothing stored from a request with a method other than POST"
    )
