"""A delivery: the exact bytes and headers of one webhook POST, frozen.

Sits after `encoding` and `signing` in the data flow and before the targets:
payload -> `encode()` -> `sign()` -> `Delivery` -> `Target.send`. A delivery
never re-encodes its body; the sender posts `body` as it is.

Negative cases are one change away from a valid delivery (STYLE rule 5):
each variant method returns a new `Delivery` with exactly one thing changed
and a `label` saying what, for reports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from fakemeta.simulator import encoding, signing

__all__ = [
    "CONTENT_TYPE",
    "USER_AGENT",
    "Delivery",
    "Headers",
]

CONTENT_TYPE = "application/json"
USER_AGENT = "facebookexternalua"

Headers = tuple[tuple[str, str], ...]
"""Header name/value pairs in the order they are sent."""

_HEX = "0123456789abcdef"


@dataclass(frozen=True)
class Delivery:
    """One webhook POST: `body` bytes exactly as sent, `headers` in order.

    `label` says what this delivery is ("valid", or the change a variant
    made); reports print it beside the outcome.
    """

    body: bytes
    headers: Headers
    label: str = "valid"

    # -- construction --------------------------------------------------------

    @classmethod
    def signed(cls, body: bytes, app_secret: str | bytes, *, label: str = "valid") -> Delivery:
        """`body` with the headers Meta sends, signed with `app_secret`."""
        return cls(
            body=body,
            headers=(
                ("Content-Type", CONTENT_TYPE),
                ("User-Agent", USER_AGENT),
                (signing.SIGNATURE_HEADER, signing.sign(body, app_secret)),
                (signing.LEGACY_SIGNATURE_HEADER, signing.sign_sha1(body, app_secret)),
            ),
            label=label,
        )

    @classmethod
    def of(
        cls,
        payload: Mapping[str, Any] | list[Any],
        app_secret: str | bytes,
        *,
        legacy_escapes: bool = False,
    ) -> Delivery:
        """`payload` encoded the way Meta encodes it, then signed."""
        return cls.signed(encoding.encode(payload, legacy_escapes=legacy_escapes), app_secret)

    # -- reading -------------------------------------------------------------

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    @property
    def signature(self) -> str | None:
        """The `X-Hub-Signature-256` value, or None when absent."""
        return self.header(signing.SIGNATURE_HEADER)

    # -- one-change variants -------------------------------------------------

    def _variant(self, label: str, **changes: Any) -> Delivery:
        # Variants of variants name the whole chain, so a report shows both.
        full = label if self.label == "valid" else f"{self.label} + {label}"
        return replace(self, label=full, **changes)

    def with_header(self, name: str, value: str) -> Delivery:
        """Header `name` set to `value`: replaced in place if present, else appended."""
        return self._variant(f"header {name}: {value}", headers=_set(self.headers, name, value))

    def without_header(self, name: str) -> Delivery:
        """Header `name` removed (every occurrence, any case)."""
        return self._variant(f"no {name} header", headers=_drop(self.headers, name))

    def with_body(self, body: bytes) -> Delivery:
        """Another body under the original signature headers."""
        return self._variant("other body, original signature", body=body)

    def unsigned(self) -> Delivery:
        """No signature at all: both `X-Hub-Signature-256` and `X-Hub-Signature` removed."""
        headers = _drop(
            _drop(self.headers, signing.SIGNATURE_HEADER), signing.LEGACY_SIGNATURE_HEADER
        )
        return self._variant("unsigned", headers=headers)

    def signed_with(self, other_secret: str | bytes) -> Delivery:
        """Both signature headers recomputed with `other_secret` (a wrong app secret)."""
        headers = _set(
            self.headers, signing.SIGNATURE_HEADER, signing.sign(self.body, other_secret)
        )
        if _has(headers, signing.LEGACY_SIGNATURE_HEADER):
            legacy = signing.sign_sha1(self.body, other_secret)
            headers = _set(headers, signing.LEGACY_SIGNATURE_HEADER, legacy)
        return self._variant("signed with another secret", headers=headers)

    def tampered(self, *, at: int | None = None) -> Delivery:
        """One byte of the body changed after signing; the signature is kept.

        Which byte: with `at`, that index; otherwise the last digit inside a
        JSON string value (in Meta's envelopes a timestamp or an id), else the
        last letter inside a string value, else the last letter or digit
        anywhere, else the last byte. Digits become the next digit (9 -> 0)
        and letters the next letter in the same case (z -> a), so a JSON body
        stays valid JSON; any other byte has its lowest bit flipped.
        """
        if not self.body:
            raise ValueError("cannot tamper with an empty body; use with_body() instead")
        index = _tamper_index(self.body) if at is None else at
        if not -len(self.body) <= index < len(self.body):
            raise ValueError(f"tamper index {index} is outside the body ({len(self.body)} bytes)")
        index %= len(self.body)
        old = self.body[index]
        new = _next_byte(old)
        body = self.body[:index] + bytes([new]) + self.body[index + 1 :]
        label = f"tampered: byte {index} {chr(old)!r} -> {chr(new)!r} after signing"
        return self._variant(label, body=body)

    def with_prefix(self, prefix: str) -> Delivery:
        """The SHA-256 digest kept, its `sha256=` prefix replaced by `prefix`."""
        return self._resigned(
            prefix + self._digest(), f"signature prefix {prefix!r} instead of 'sha256='"
        )

    def without_prefix(self) -> Delivery:
        """The bare hex digest in `X-Hub-Signature-256`, without `sha256=`."""
        return self._resigned(self._digest(), "bare digest without 'sha256='")

    def with_algorithm(self, algorithm: str = "sha1") -> Delivery:
        """Another algorithm in `X-Hub-Signature-256`: Meta's legacy `sha1=` value there.

        The SHA-1 value is a correct signature with the right secret, so only
        a receiver that insists on SHA-256 rejects it. Only `"sha1"` exists.
        """
        if algorithm != "sha1":
            raise ValueError(f"Expected algorithm='sha1' but got algorithm={algorithm!r}")
        legacy = self.header(signing.LEGACY_SIGNATURE_HEADER)
        if legacy is None:
            raise ValueError("no X-Hub-Signature header to take the sha1 signature from")
        return self._resigned(legacy, "sha1 signature in X-Hub-Signature-256")

    def truncated(self, n: int = 32) -> Delivery:
        """Only the first `n` hex digits of the SHA-256 digest (default 32 of 64)."""
        digest = self._digest()
        if not 0 <= n < len(digest):
            raise ValueError(f"Expected 0 <= n < {len(digest)} but got n={n}")
        return self._resigned(
            "sha256=" + digest[:n], f"digest truncated to {n} of {len(digest)} hex digits"
        )

    def partial_digest(self, keep: int = 32) -> Delivery:
        """Right prefix, wrong tail, same length: digits after the first `keep` all changed."""
        digest = self._digest()
        if not 0 <= keep < len(digest):
            raise ValueError(f"Expected 0 <= keep < {len(digest)} but got keep={keep}")
        tail = "".join(_HEX[(_HEX.index(c) + 1) % 16] for c in digest[keep:])
        return self._resigned(
            "sha256=" + digest[:keep] + tail, f"digest right for {keep} hex digits, wrong after"
        )

    def reencoded(self) -> Delivery:
        """The body parsed and re-serialised the naive way, signature of the original kept.

        `json.dumps(obj, ensure_ascii=False)`: raw UTF-8 instead of `\\uXXXX`,
        `/` instead of `\\/`, `", "` and `": "` separators. This is what a
        receiver verifies when it re-serialises before checking the signature.
        """
        body = json.dumps(json.loads(self.body), ensure_ascii=False).encode("utf-8")
        return self._variant("re-encoded with json.dumps, original signature", body=body)

    # -- helpers -------------------------------------------------------------

    def _resigned(self, value: str, label: str) -> Delivery:
        return self._variant(label, headers=_set(self.headers, signing.SIGNATURE_HEADER, value))

    def _digest(self) -> str:
        value = self.signature
        if value is None:
            raise ValueError(f"delivery {self.label!r} has no {signing.SIGNATURE_HEADER} header")
        return value.partition("=")[2] if "=" in value else value


def _has(headers: Headers, name: str) -> bool:
    return any(key.lower() == name.lower() for key, _ in headers)


def _drop(headers: Headers, name: str) -> Headers:
    return tuple((k, v) for k, v in headers if k.lower() != name.lower())


def _set(headers: Headers, name: str, value: str) -> Headers:
    if not _has(headers, name):
        return (*headers, (name, value))
    # Replace the first occurrence where it stands (order is part of what is
    # sent) and drop any repeats, so the header ends up with exactly `value`.
    result: list[tuple[str, str]] = []
    done = False
    for key, old in headers:
        if key.lower() != name.lower():
            result.append((key, old))
        elif not done:
            result.append((key, value))
            done = True
    return tuple(result)


def _next_byte(byte: int) -> int:
    char = chr(byte)
    if char.isdigit() and byte < 128:
        return ord("0") + (byte - ord("0") + 1) % 10
    if "a" <= char <= "z":
        return ord("a") + (byte - ord("a") + 1) % 26
    if "A" <= char <= "Z":
        return ord("A") + (byte - ord("A") + 1) % 26
    return byte ^ 1


def _tamper_index(body: bytes) -> int:
    """The byte `tampered()` changes by default; see its docstring."""
    last_digit = last_letter = last_alnum = -1
    in_string = escaped = False
    start = 0
    pending: list[int] = []  # alnum positions in the string being scanned
    for i, byte in enumerate(body):
        if 48 <= byte <= 57 or 65 <= byte <= 90 or 97 <= byte <= 122:
            last_alnum = i
        if not in_string:
            if byte == 0x22:  # opening quote
                in_string, start, pending = True, i, []
            continue
        if escaped:
            # Skip `\uXXXX` hex digits as well as the escaped character.
            escaped = False
            if byte == 0x75:
                start = i + 4
            continue
        if byte == 0x5C:
            escaped = True
        elif byte == 0x22:
            in_string = False
            if not _is_key(body, i + 1):
                for j in pending:
                    if 48 <= body[j] <= 57:
                        last_digit = j
                    else:
                        last_letter = j
        elif i > start and (48 <= byte <= 57 or 65 <= byte <= 90 or 97 <= byte <= 122):
            pending.append(i)
    for index in (last_digit, last_letter, last_alnum):
        if index >= 0:
            return index
    return len(body) - 1


def _is_key(body: bytes, after: int) -> bool:
    """True when the string that closed just before `after` is an object key."""
    for byte in body[after : after + 64]:  # JSON whitespace runs are short
        if byte not in b" \t\r\n":
            return byte == 0x3A
    return False
