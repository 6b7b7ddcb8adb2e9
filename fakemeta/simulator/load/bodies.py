"""Signed webhook bodies at load-test speed, byte for byte what the builders make.

Where this sits: the builders (`fakemeta.simulator.messages`, `fakemeta.simulator.statuses`,
`fakemeta.simulator.envelopes`, through `fakemeta.simulator.load.updates`) make one payload
per (kind, customer) of the run with a placeholder token in every field
that must differ from body to body (the message id, the timestamp, media
ids and hashes, conversation ids); the encoder turns it into Meta's bytes;
the bytes are split at the tokens into a template. At run time a body is
the template's constant pieces joined with fresh values, already in their
encoded form (`/` written `\\/`), and signed with HMAC-SHA256 and HMAC-SHA1
as `Delivery.signed` signs. A batch (`BodySpec.batch` updates a POST) joins
the templates' entries, as `envelopes.batch` does.

Three things make this fast without changing a byte: the values are drawn
from one seeded `random.Random` with a few big `getrandbits` calls instead
of the builders' per-character draws; each template's constant head
(envelope, metadata, contacts: about half the body) is fed to the HMAC
once, at build time, so each body only hashes from its first fresh value
on; and the engine takes whole requests a few dozen at a time
(`requests()`), in one loop that keeps its code and data in the caches.

`tests/simulator/load/test_load_bodies.py` rebuilds a sample of bodies with
the builders and the same values and compares the bytes.
"""

from __future__ import annotations

import hashlib
import random
import re
from binascii import b2a_base64, hexlify
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import call as _call
from operator import itemgetter
from time import time as _time
from typing import Any

from fakemeta.simulator.encoding import encode
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.eras import Era
from fakemeta.simulator.load.mix import Mix
from fakemeta.simulator.load.updates import SLOTS, build_update, customers_for

__all__ = ["BodyFactory", "BodySpec", "Update", "build_update", "customers_for"]

#: What every encoded payload starts and ends with; batches join entries between.
HEAD = b'{"object":"whatsapp_business_account","entry":['
TAIL = b"]}"

_TOKEN = re.compile(rb"~~([a-z]+)~~")  # no fixed text of ours has "~~"
_URLSAFE = bytes.maketrans(b"+/", b"-_")


@dataclass(frozen=True)
class BodySpec:
    """Everything a body factory needs; plain data, so it can go to a worker process."""

    mix: Mix
    era: Era
    account: Account
    app_secret: str
    batch: int = 1
    customers: int = 32
    seed: int | None = None


@dataclass(frozen=True)
class Update:
    """One update of a sampled body: what `build_update` needs to make it again."""

    kind: str
    customer: Customer
    variant: int
    values: dict[str, str]


@dataclass(eq=False)
class _Template:
    kind: str
    customer: int  # index in the factory's pool
    parts: list[bytes]  # constants at even indices, values at odd ones
    names: tuple[str, ...]  # the distinct slots, in first-seen order
    order: tuple[int, ...]  # for each odd index of `parts`, its slot in `names`
    gens: list[Callable[[], bytes]] = field(default_factory=list)
    fill: Callable[[list[bytes]], tuple[bytes, ...]] = tuple
    id_slot: int = -1  # where the inbound message id is in `names`, or -1
    entry_first: bytes = b""  # parts[0] without HEAD, for batches
    entry_last: bytes = b""  # parts[-1] without TAIL
    head_length: int = 0  # len(parts[0]): the constant head the HMAC states have seen
    prefix_256: Any = None  # HMAC inner states after parts[0]
    prefix_1: Any = None


class _Signer:
    """HMAC-SHA256 and HMAC-SHA1 (RFC 2104) from precomputed pad states, so a
    known prefix of the body can be hashed once and reused."""

    def __init__(self, secret: str) -> None:
        key = secret.encode("utf-8")
        self.inner_256, self.outer_256 = self._pads(key, hashlib.sha256)
        self.inner_1, self.outer_1 = self._pads(key, hashlib.sha1)

    @staticmethod
    def _pads(key: bytes, algorithm: Callable[[], Any]) -> tuple[Any, Any]:
        if len(key) > 64:
            key = algorithm(key).digest()  # type: ignore[call-arg]
        key = key.ljust(64, b"\0")
        inner, outer = algorithm(), algorithm()
        inner.update(bytes(b ^ 0x36 for b in key))
        outer.update(bytes(b ^ 0x5C for b in key))
        return inner, outer

    def prefixed(self, prefix: bytes) -> tuple[Any, Any]:
        """The SHA-256 and SHA-1 inner states after `prefix`."""
        a, b = self.inner_256.copy(), self.inner_1.copy()
        a.update(prefix)
        b.update(prefix)
        return a, b


class BodyFactory:
    """Makes the run's bodies: `make()` returns `(body, sha256_header, sha1_header)`,
    the header values as bytes (`sha256=<hex>`, `sha1=<hex>`)."""

    def __init__(self, spec: BodySpec, rng: random.Random | None = None) -> None:
        self.spec = spec
        self._rng = rng if rng is not None else random.Random()
        self._bits = self._rng.getrandbits
        self._signer = _Signer(spec.app_secret)
        self._now = 0
        self._ts = b""
        self._drawn: list[tuple[_Template, list[bytes]]] | None = None
        pool_rng = random.Random(f"{spec.seed}/customers") if spec.seed is not None else None
        self.customers = customers_for(spec.era, spec.customers, pool_rng or random.Random())
        by_kind = {
            kind: [self._compile(kind, i) for i in range(len(self.customers))]
            for kind in spec.mix.kinds
        }
        self._table = [by_kind[kind] for kind in spec.mix.table(1024)]
        self._pool = len(self.customers)
        self._pick_bits = 10 + max(1, (self._pool - 1).bit_length())
        self._single = spec.batch == 1

    # -- templates -------------------------------------------------------------

    def _compile(self, kind: str, index: int) -> _Template:
        customer, spec = self.customers[index], self.spec
        tokens = {name: f"~~{name}~~" for name in SLOTS}
        wire = encode(build_update(kind, customer, spec.account, spec.era, tokens, index))
        pieces = _TOKEN.split(wire)
        slots = [p.decode("ascii") for p in pieces[1::2]]
        names = tuple(dict.fromkeys(slots))
        template = _Template(
            kind=kind,
            customer=index,
            parts=pieces,
            names=names,
            order=tuple(names.index(n) for n in slots),
            id_slot=names.index("id") if "id" in names else -1,
        )
        order = template.order
        template.fill = itemgetter(*order) if len(order) > 1 else lambda v: (v[order[0]],)
        number = customer.wa_id or customer.user_id or ""
        template.gens = [self._generator(name, number) for name in names]
        template.entry_first = pieces[0].removeprefix(HEAD)
        template.entry_last = pieces[-1].removesuffix(TAIL)
        template.head_length = len(pieces[0])
        template.prefix_256, template.prefix_1 = self._signer.prefixed(pieces[0])
        return template

    def _generator(self, name: str, number: str) -> Callable[[], bytes]:
        bits = self._bits
        if name in ("id", "out", "ref"):
            head = self._wamid_head(number, inbound=name == "id")

            def wamid() -> bytes:
                r = bits(129)
                key = b"\x14%020X\x00" % (r >> 49) if r & 1 else b"\x20%032X\x00" % (r >> 1)
                return b"wamid." + b2a_base64(head + key, newline=False).replace(b"/", b"\\/")

            return wamid
        # Draws reduced modulo a range are biased by under 1e-3 (64 bits into
        # at most 9e15 values): no receiver can tell, and it saves randrange.
        if name == "media":  # 15 or 16 digits, no leading zero, as `ids.media_id`

            def media() -> bytes:
                r = bits(65)
                if r & 1:
                    return b"%d" % (10**14 + (r >> 1) % (9 * 10**14))
                return b"%d" % (10**15 + (r >> 1) % (9 * 10**15))

            return media
        simple: dict[str, Callable[[], bytes]] = {
            "ts": lambda: self._ts,
            "sha": lambda: b2a_base64(bits(256).to_bytes(32), newline=False).replace(b"/", b"\\/"),
            "ext": lambda: b"%d" % (self._now + 300 + bits(16) % 6),
            "hash": lambda: b2a_base64(bits(264).to_bytes(33), newline=False).translate(_URLSAFE),
            "conv": lambda: b"%032x" % bits(128),
            "exp": lambda: b"%d" % (self._now + 86400),
        }
        return simple[name]

    @staticmethod
    def _wamid_head(number: str, *, inbound: bool) -> bytes:
        """The start of the record `ids.wamid` encodes, up to the key's length."""
        raw = number.encode("ascii")[:127]
        return b"\x1c\x18" + bytes([len(raw)]) + raw + b"\x15\x02\x00" + (
            b"\x12" if inbound else b"\x11"
        ) + b"\x18"  # fmt: skip

    # -- bodies ----------------------------------------------------------------

    def _pick(self) -> tuple[_Template, list[bytes]]:
        r = self._bits(self._pick_bits)
        template = self._table[r & 1023][(r >> 10) % self._pool]
        values = list(map(_call, template.gens))
        if self._drawn is not None:
            self._drawn.append((template, values))
        return template, values

    def make(self, ids_out: list[bytes] | None = None) -> tuple[bytes, bytes, bytes]:
        """A fresh signed body. With `ids_out`, the wire form of each inbound
        message id in it is appended there (`\\/` for `/`)."""
        now = int(_time())
        if now != self._now:
            self._now, self._ts = now, b"%d" % now
        template, values = self._pick()
        if self._single:
            parts = template.parts
            parts[1::2] = template.fill(values)
            body = b"".join(parts)
            if ids_out is not None and template.id_slot >= 0:
                ids_out.append(values[template.id_slot])
        else:
            body = self._batch(template, values, ids_out)
        # HMAC from the states after the template's constant head (RFC 2104).
        rest = body[template.head_length :]
        signer = self._signer
        inner, outer = template.prefix_256.copy(), signer.outer_256.copy()
        inner.update(rest)
        outer.update(inner.digest())
        inner_1, outer_1 = template.prefix_1.copy(), signer.outer_1.copy()
        inner_1.update(rest)
        outer_1.update(inner_1.digest())
        return body, b"sha256=" + hexlify(outer.digest()), b"sha1=" + hexlify(outer_1.digest())

    def requests(
        self, count: int, head: bytes, middle: bytes, *, record: bool = False
    ) -> list[tuple[bytes, list[bytes] | None]]:
        """`count` whole requests: `head` (the request line and headers up to
        `X-Hub-Signature-256: sha256=`), the digest, `middle` (up to
        `X-Hub-Signature: sha1=`), the digest, `Content-Length`, the body;
        each with its inbound message ids when `record`.

        The same bytes as `make()` and `Endpoint.request`, in one loop with
        everything it needs in local names: the engine's way to make bodies,
        a few dozen at a time, which keeps this code and its data in the
        CPU's caches (made one at a time between network events, a body
        takes about twice as long).
        """
        if not self._single or self._drawn is not None:
            return self._requests_slowly(count, head, middle, record)
        now = int(_time())
        if now != self._now:
            self._now, self._ts = now, b"%d" % now
        bits, table, pool, width = self._bits, self._table, self._pool, self._pick_bits
        outer_256, outer_1 = self._signer.outer_256, self._signer.outer_1
        join, hexed, length = b"".join, hexlify, b"\r\nContent-Length: %d\r\n\r\n"
        made: list[tuple[bytes, list[bytes] | None]] = []
        for _ in range(count):
            r = bits(width)
            template = table[r & 1023][(r >> 10) % pool]
            values = list(map(_call, template.gens))
            parts = template.parts
            parts[1::2] = template.fill(values)
            body = join(parts)
            rest = body[template.head_length :]
            inner, outer = template.prefix_256.copy(), outer_256.copy()
            inner.update(rest)
            outer.update(inner.digest())
            inner_1, outer_1_ = template.prefix_1.copy(), outer_1.copy()
            inner_1.update(rest)
            outer_1_.update(inner_1.digest())
            request = join(
                (
                    head,
                    hexed(outer.digest()),
                    middle,
                    hexed(outer_1_.digest()),
                    length % len(body),
                    body,
                )
            )
            ids = None
            if record:
                ids = [values[template.id_slot]] if template.id_slot >= 0 else []
            made.append((request, ids))
        return made

    def _requests_slowly(
        self, count: int, head: bytes, middle: bytes, record: bool
    ) -> list[tuple[bytes, list[bytes] | None]]:
        made: list[tuple[bytes, list[bytes] | None]] = []
        for _ in range(count):
            ids: list[bytes] | None = [] if record else None
            body, sha256, sha1 = self.make(ids)
            length = b"\r\nContent-Length: %d\r\n\r\n" % len(body)
            made.append((b"".join((head, sha256[7:], middle, sha1[5:], length, body)), ids))
        return made

    def _batch(
        self, first: _Template, first_values: list[bytes], ids_out: list[bytes] | None
    ) -> bytes:
        entries = []
        template, values = first, first_values
        for index in range(self.spec.batch):
            if index:
                template, values = self._pick()
            if ids_out is not None and template.id_slot >= 0:
                ids_out.append(values[template.id_slot])
            parts = template.parts.copy()
            parts[0], parts[-1] = template.entry_first, template.entry_last
            parts[1::2] = template.fill(values)
            entries.append(b"".join(parts))
        return HEAD + b",".join(entries) + TAIL

    # -- for tests and the benchmark -------------------------------------------

    def sample(self, count: int) -> list[tuple[bytes, bytes, bytes, list[Update]]]:
        """`count` bodies as `make()` makes them, each with its updates' kinds,
        customers and values (decoded), for rebuilding with `build_update`."""
        result = []
        for _ in range(count):
            self._drawn = []
            try:
                body, sig_256, sig_1 = self.make()
                drawn = self._drawn
            finally:
                self._drawn = None
            updates = [self._update(t, v) for t, v in drawn]
            result.append((body, sig_256, sig_1, updates))
        return result

    def _update(self, template: _Template, values: list[bytes]) -> Update:
        decoded = {
            name: value.replace(b"\\/", b"/").decode("ascii")
            for name, value in zip(template.names, values, strict=True)
        }
        index = template.customer
        return Update(template.kind, self.customers[index], index, decoded)
