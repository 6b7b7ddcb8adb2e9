"""SIG-*: `X-Hub-Signature-256` over the raw body (seed section 6).

Meta signs every POST with `sha256=` and the lowercase hex HMAC-SHA256 of
the exact body bytes, keyed with the app secret. A receiver must answer a
correctly signed delivery 200 whatever bytes Meta chose to encode it with,
and refuse (any 4xx: whether it is the seed's 401 is CODE-2's business),
storing nothing, every delivery whose header is missing, from another
secret, over other bytes, with another prefix or algorithm, or matching only
in part. Every negative is one change away from
a valid delivery of a fresh message from a fresh sender.

SIG-1 sends plain, everyday deliveries; SIG-6 the bytes that a receiver
re-serialising the JSON before verifying gets wrong. A receiver that
re-encodes the way Meta usually does (compact, ASCII-escaped, `\\/`) passes
SIG-1 and fails SIG-6; one that re-encodes any other way fails both, since
even Meta's everyday image deliveries have `\\/` in them.
"""

from __future__ import annotations

import hmac
import json
import random
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hypothesis import strategies as st

from fakemeta.contract_tests.checks._deliveries import (
    Refused,
    Sent,
    drawn_senders,
    expect_nothing_stored,
    fresh_text,
)
from fakemeta.contract_tests.context import CheckContext
from fakemeta.contract_tests.registry import check
from fakemeta.contract_tests.shrinking import freshen
from fakemeta.simulator import messages, statuses
from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.encoding import encode
from fakemeta.simulator.envelopes import Account, Customer, batch, message_payload, status_payload
from fakemeta.simulator.signing import LEGACY_SIGNATURE_HEADER, SIGNATURE_HEADER
from fakemeta.simulator.strategies import hostile_texts, message_payloads, person_names
from fakemeta.simulator.targets import Exchange
from fakemeta.simulator.types import Payload

__all__ = ["ENCODINGS", "raw_byte_cases"]


def _refuse(ctx: CheckContext, sent: Sent, delivery: Delivery, what: str) -> Refused:
    """Post a delivery that must be refused (any 4xx: the code itself is CODE-2's)."""
    exchange = ctx.post(delivery)
    ctx.expect_refused(exchange, what)
    return Refused(exchange, what, sent.customer, sent.message_id)


def _hex(delivery: Delivery) -> str:
    """The right hex digest of `delivery`'s body (lowercase, 64 digits)."""
    value = delivery.signature or ""
    return value.removeprefix("sha256=")


def _hmac(ctx: CheckContext, body: bytes, algorithm: str) -> str:
    return hmac.new(ctx.config.app_secret.encode("utf-8"), body, algorithm).hexdigest()


# --- SIG-1 ------------------------------------------------------------------


@check("SIG-1")
def signed_deliveries_are_acknowledged(ctx: CheckContext) -> None:
    """Correctly signed text, image, status and batch deliveries are answered 200."""
    ann, ben, cat, dan = (ctx.customer() for _ in range(4))
    deliveries: list[tuple[str, Payload]] = [
        ("a signed text message", fresh_text(ctx).payload),
        (
            "a signed image message (Meta escapes the `/` of its mime type and URL)",
            message_payload(ctx.account, messages.image(ann, "invoice photo"), ann),
        ),
        (
            "a signed `sent` status",
            status_payload(ctx.account, statuses.sent(None, ben, era=ctx.era), ben),
        ),
        (
            "a signed batch (three entries, two senders, messages and a status)",
            batch(
                [
                    message_payload(ctx.account, messages.text(cat, "first of two"), cat),
                    message_payload(
                        ctx.account,
                        [messages.text(dan, "one"), messages.text(dan, "two")],
                        dan,
                    ),
                    status_payload(ctx.account, statuses.delivered(None, cat, era=ctx.era), cat),
                ]
            ),
        ),
    ]
    for what, payload in deliveries:
        ctx.expect_acknowledged(ctx.post(ctx.signed(payload)), what)


# --- SIG-2 ------------------------------------------------------------------


@check("SIG-2")
def unsigned_delivery_is_refused(ctx: CheckContext) -> None:
    """A delivery without X-Hub-Signature-256 is refused and stores nothing."""
    refused = []
    variants: list[tuple[str, Callable[[Delivery], Delivery]]] = [
        ("a delivery with no signature headers at all", Delivery.unsigned),
        (
            "a delivery with only the legacy X-Hub-Signature (sha1, valid) header",
            lambda d: d.without_header(SIGNATURE_HEADER),
        ),
        (
            "a delivery with an empty X-Hub-Signature-256 header",
            lambda d: d.with_header(SIGNATURE_HEADER, "").without_header(LEGACY_SIGNATURE_HEADER),
        ),
    ]
    for what, change in variants:
        sent = fresh_text(ctx)
        refused.append(_refuse(ctx, sent, change(sent.delivery), what))
    expect_nothing_stored(ctx, refused)


# --- SIG-3 ------------------------------------------------------------------


def _wrong_secrets(ctx: CheckContext) -> list[tuple[str, str]]:
    secret = ctx.config.app_secret
    wrong = [
        ("another app secret", "".join(ctx.rng.choices("0123456789abcdef", k=32))),
        ("an empty app secret (an unset META_CLIENT_SECRET)", ""),
        ("the app secret with a newline after it (read from a file)", secret + "\n"),
        ("the app secret without its last character", secret[:-1]),
    ]
    if secret.swapcase() != secret:
        wrong.append(("the app secret in another case", secret.swapcase()))
    # The other secrets a receiver holds, and confuses with the app secret.
    wrong.append(("the verify token (META_WEBHOOK_VERIFY_TOKEN)", ctx.config.verify_token))
    if ctx.config.access_token:
        wrong.append(("the access token (--access-token)", ctx.config.access_token))
    return [(what, value) for what, value in wrong if value != secret]


# Other bytes of the same JSON, each under the signature of one form: a receiver
# that verifies `form(json.loads(body))` instead of the body accepts the delivery.
_OTHER_FORMS: list[tuple[str, Callable[[Any], bytes]]] = [
    (
        "the Meta-encoded bytes",
        encode,
    ),
    (
        "json.dumps(obj, ensure_ascii=False, separators=(',', ':'))",
        lambda obj: json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode(),
    ),
    (
        "json.dumps(obj)",
        lambda obj: json.dumps(obj).encode(),
    ),
]


@check("SIG-3")
def wrong_secret_or_other_bytes_is_refused(ctx: CheckContext) -> None:
    """A signature from another secret, or a valid signature of other bytes, is refused."""
    refused = []
    for what, secret in _wrong_secrets(ctx):
        sent = fresh_text(ctx)
        delivery = sent.delivery.signed_with(secret)
        refused.append(_refuse(ctx, sent, delivery, f"a delivery signed with {what}"))

    sent, other = fresh_text(ctx), fresh_text(ctx)
    delivery = other.delivery.with_body(sent.delivery.body)
    what = "a delivery under the valid signature of another message"
    refused.append(_refuse(ctx, sent, delivery, what))

    # The same JSON in other bytes: non-ASCII and `/` make every form differ.
    hostile = "مرحبا 👋 see https://example.com/a/b"
    sent = fresh_text(ctx, hostile)
    what = "the body re-encoded with json.dumps(ensure_ascii=False) under the original signature"
    refused.append(_refuse(ctx, sent, sent.delivery.reencoded(), what))
    for form, encoder in _OTHER_FORMS[1:]:
        sent = fresh_text(ctx, hostile)
        signed_form = ctx.signed(encoder(sent.payload))
        delivery = signed_form.with_body(sent.delivery.body)
        what = f"the Meta-encoded body under the valid signature of {form}"
        refused.append(_refuse(ctx, sent, delivery, what))
    sent = fresh_text(ctx, hostile)
    pretty = json.dumps(sent.payload, indent=2).encode()
    what = "the body pretty-printed under the signature of the Meta-encoded bytes"
    refused.append(_refuse(ctx, sent, sent.delivery.with_body(pretty), what))

    expect_nothing_stored(ctx, refused)


# --- SIG-4 ------------------------------------------------------------------

# Arabic "م" is `\u0645` on the wire: its last hex digit is the one changed.
_TAMPER_TEXT = "Hello \u0645\u0631\u062d\u0628\u0627, I need information"


def _index(body: bytes, marker: bytes, offset: int) -> int:
    start = body.find(marker)
    if start < 0:  # pragma: no cover - the markers are in every body built here
        raise ValueError(f"{marker!r} is not in the body")
    return start + offset


def _tampered_at(marker: bytes, offset: int) -> Callable[[Delivery], Delivery]:
    return lambda d: d.tampered(at=_index(d.body, marker, offset))


_TAMPERINGS: list[tuple[str, Callable[[Delivery], Delivery]]] = [
    ("a letter of the text changed", _tampered_at(b"information", 2)),
    ("a hex digit of a \\u escape in the text changed", _tampered_at(b"\\u0645", 5)),
    ("a character of the message id changed", _tampered_at(b'"id":"wamid.', 12)),
    ("a digit of the phone number id changed", _tampered_at(b'"phone_number_id":"', 19)),
    ("a digit of the sender's number changed", _tampered_at(b'"from":"', 10)),
    ("a digit of the timestamp changed", Delivery.tampered),
    ("a space appended", lambda d: d.with_body(d.body + b" ")),
    ("a newline appended", lambda d: d.with_body(d.body + b"\n")),
    ("a space put before the body", lambda d: d.with_body(b" " + d.body)),
]


@check("SIG-4")
def body_changed_after_signing_is_refused(ctx: CheckContext) -> None:
    """One byte of the body changed (or added) after signing is refused."""
    for what, change in _TAMPERINGS:
        sent = fresh_text(ctx, _TAMPER_TEXT)
        delivery = change(sent.delivery)
        _refuse(ctx, sent, delivery, f"a signed delivery with {what} after signing")


# --- SIG-5 ------------------------------------------------------------------


@check("SIG-5")
def other_prefix_or_algorithm_is_refused(ctx: CheckContext) -> None:
    """A bare digest, another prefix or another algorithm (even correctly keyed) is refused."""

    def algorithm(name: str) -> Callable[[Delivery], Delivery]:
        return lambda d: d.with_header(SIGNATURE_HEADER, f"{name}={_hmac(ctx, d.body, name)}")

    variants: list[tuple[str, Callable[[Delivery], Delivery]]] = [
        ("the bare digest without `sha256=`", Delivery.without_prefix),
        ("the digest under `SHA256=`", lambda d: d.with_prefix("SHA256=")),
        ("the digest under `sha256:`", lambda d: d.with_prefix("sha256:")),
        ("the digest under `sha512=`", lambda d: d.with_prefix("sha512=")),
        ("a valid `sha1=` HMAC in X-Hub-Signature-256", lambda d: d.with_algorithm("sha1")),
        ("a valid `sha512=` HMAC in X-Hub-Signature-256", algorithm("sha512")),
        ("a valid `md5=` HMAC in X-Hub-Signature-256", algorithm("md5")),
    ]
    for what, change in variants:
        sent = fresh_text(ctx)
        _refuse(ctx, sent, change(sent.delivery), f"a delivery signed with {what}")


# --- SIG-6 ------------------------------------------------------------------


def _json(obj: Any, **options: Any) -> str:
    return json.dumps(obj, allow_nan=False, **options)


def _meta_slashes(text: str) -> bytes:
    return text.replace("/", "\\/").encode("ascii")


def _reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed(v) for k, v in reversed(value.items())}
    if isinstance(value, list):
        return [_reversed(v) for v in value]
    return value


_ESCAPE = re.compile(rb"\\u([0-9a-f]{4})")

#: Ways to write the same payload as valid JSON bytes; the receiver must
#: verify whichever bytes arrive. The first is Meta's.
ENCODINGS: list[tuple[str, Callable[[Any], bytes]]] = [
    ("Meta's encoding", encode),
    ("Meta's encoding with legacy \\u0040 \\u0025 \\u003c escapes",
     lambda p: encode(p, legacy_escapes=True)),
    ("pretty-printed, two-space indent", lambda p: _meta_slashes(_json(p, indent=2))),
    ("spaces after colons and commas", lambda p: _meta_slashes(_json(p))),
    ("CRLF line breaks and tab indents",
     lambda p: _meta_slashes(_json(p, indent="\t")).replace(b"\n", b"\r\n")),
    ("keys in reverse order at every level", lambda p: encode(_reversed(p))),
    # Not raw UTF-8: Meta always escapes non-ASCII, and receivers such as
    # whatsapp-api-js re-escape it before hashing (so that a body their
    # framework decoded still matches Meta's bytes). That is right for every
    # body Meta sends, so a raw UTF-8 body must not fail a MUST.
    ("compact, `/` unescaped (Meta's bytes without the \\/ escapes)",
     lambda p: _json(p, separators=(",", ":")).encode("ascii")),
    ("uppercase hex in \\uXXXX escapes",
     lambda p: _ESCAPE.sub(lambda m: b"\\u" + m[1].upper(), encode(p))),
    ("whitespace around the whole body", lambda p: b" \r\n\t" + encode(p) + b"\n"),
]  # fmt: skip


def _letters_escaped(marker: str) -> Callable[[Any], bytes]:
    escaped = "".join(f"\\u{ord(c):04x}" for c in marker).encode("ascii")
    return lambda p: encode(p).replace(marker.encode("ascii"), escaped, 1)


def raw_byte_cases(
    account: Account, customer: Callable[[str | None], Customer]
) -> list[tuple[str, Payload, bytes]]:
    """Correctly signable bodies that a re-serialising receiver gets wrong.

    One text message each, from `customer(name)` (a fresh sender), with what
    makes it hard: Meta's escapes (`\\uXXXX` with surrogate pairs, `\\/`, the
    legacy `\\u0040`), and the same JSON written with other whitespace, key
    order or escapes. Returns (what, payload, body).
    """
    plain = "Hello from fakemeta"
    arabic = "مرحبا، أحتاج معلومات 👋🏽 e\u0301"
    url = "the invoice: https://example.com/invoices/2026/03?id=7&x=%20"
    legacy = "write to user@example.com, 100% sure, <b>soon</b>"
    quoted = 'say "hi" to C:\\path\\to\n\tthe end'
    cases: list[tuple[str, str, str | None, Callable[[Any], bytes]]] = [
        ("Arabic and emoji (\\uXXXX escapes, surrogate pairs)", arabic, "ليلى حسن", encode),
        ("a URL in the text (\\/ escapes)", url, None, encode),
        ("quotes, backslashes, newline and tab in the text", quoted, None, encode),
        ("plain letters written as \\u0041-style escapes", plain, None, _letters_escaped("Hello")),
    ]
    # Every other form of a text with non-ASCII and `/` in it (and `@ % <` for
    # the legacy escapes), so that no re-serialisation gets all of them right.
    for what, form in ENCODINGS[1:]:
        text = legacy if "legacy" in what else f"{arabic} {url}"
        cases.append((what, text, None, form))
    built = []
    for what, text, name, form in cases:
        sender = customer(name)
        payload = message_payload(account, messages.text(sender, text), sender)
        built.append((what, payload, form(payload)))
    return built


def _expect_verified(ctx: CheckContext, exchange: Exchange, what: str) -> None:
    status = exchange.status
    if status != 200:
        hint = (
            ": a refusal, as if the HMAC were computed over re-serialised JSON, not the raw bytes"
            if 400 <= status < 500
            else ""
        )
        ctx.fail(
            f"a correctly signed delivery with {what} was answered HTTP {status}{hint}",
            expected="HTTP 200: X-Hub-Signature-256 is the HMAC of exactly these bytes",
            exchange=exchange,
        )


@check("SIG-6")
def raw_bytes_are_verified(ctx: CheckContext) -> None:
    """Bodies that re-serialising breaks (escapes, whitespace, key order) verify when signed."""
    for what, _, body in raw_byte_cases(ctx.account, ctx.customer):
        _expect_verified(ctx, ctx.post(ctx.signed(body)), what)


#: Whose generated texts SIG-6 sends; `freshen` gives every attempt its own
#: number (and, in the 2026 era, user id).
_TEXT_SENDER = Customer("15550100001", "Contract Test")
_SCOPED_TEXT_SENDER = replace(_TEXT_SENDER, user_id="US.13491208655302741918")

_GENERATED_TYPES = (
    "text", "image", "video", "document", "location", "contacts", "interactive", "button",
    "reaction",
)  # fmt: skip


@check("SIG-6")
def generated_bodies_are_verified(ctx: CheckContext) -> None:
    """Generated deliveries with hostile text verify in every JSON form they are signed in."""
    # Senders and ids are drawn, not fresh: every byte of an example, down to
    # a `/` in a message id's base64, is then a function of the draw, which
    # shrinking and --replay need. `ctx.examples` sends each attempt with
    # fresh ids of the same shape.
    names = st.one_of(person_names(), hostile_texts(max_size=40))
    senders = drawn_senders(ctx, names)
    forms = st.sampled_from(ENCODINGS)

    def deliver(drawn: tuple[Payload, tuple[str, Callable[[Any], bytes]]]) -> None:
        payload, (form, encoder) = drawn
        _expect_verified(ctx, ctx.post(ctx.signed(encoder(payload))), form)

    payloads = message_payloads(
        account=ctx.account, senders=senders, types=_GENERATED_TYPES, max_entries=2,
        max_messages=3, era=ctx.era,
    )  # fmt: skip
    ctx.examples(st.tuples(payloads, forms), deliver)
    sender = _SCOPED_TEXT_SENDER if ctx.era.business_scoped_ids else _TEXT_SENDER

    def deliver_text(drawn: tuple[str, tuple[str, Callable[[Any], bytes]]]) -> None:
        # Built here, not in the strategy: the timestamp is the time of sending.
        text, form = drawn
        message = messages.text(sender, text, rng=random.Random(text))
        deliver((freshen(message_payload(ctx.account, message, sender)), form))

    ctx.examples(st.tuples(hostile_texts(max_size=600), forms), deliver_text)


# --- SIG-7 ------------------------------------------------------------------


def _resigned(value: Callable[[str], str]) -> Callable[[Delivery], Delivery]:
    return lambda d: d.with_header(SIGNATURE_HEADER, "sha256=" + value(_hex(d)))


def _first_digit_wrong(digest: str) -> str:
    return ("1" if digest[0] == "0" else "0") + digest[1:]


@check("SIG-7")
def partly_matching_digest_is_refused(ctx: CheckContext) -> None:
    """A digest that matches only in part (wrong tail, truncated, extended) is refused.

    An uppercase-hex spelling of the right digest is not checked: Meta sends
    lowercase, but the uppercase digits are the same HMAC, and accepting them
    weakens nothing.
    """
    variants: list[tuple[str, Callable[[Delivery], Delivery]]] = [
        ("the first 32 hex digits right and the rest wrong", lambda d: d.partial_digest(32)),
        ("every hex digit right but the last", lambda d: d.partial_digest(63)),
        ("every hex digit right but the first", _resigned(_first_digit_wrong)),
        ("the last hex digit replaced by a non-hex letter", _resigned(lambda h: h[:63] + "g")),
        ("the digest truncated to 32 hex digits", lambda d: d.truncated(32)),
        ("the digest truncated to 63 hex digits", lambda d: d.truncated(63)),
        ("`sha256=` and no digest", lambda d: d.truncated(0)),
        ("the right digest with a hex digit appended", _resigned(lambda h: h + "0")),
        ("the right digest twice", _resigned(lambda h: h + h)),
    ]
    for what, change in variants:
        sent = fresh_text(ctx)
        _refuse(ctx, sent, change(sent.delivery), f"a delivery with {what}")
