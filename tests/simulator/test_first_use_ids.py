"""`ids.wamid()` without a Python call per key digit, and still the same ids.

A seeded generator must give exactly the ids it always gave (the fixture
files and `--seed` runs are made of them) and end in the same state; a
fresh id must read the OS's randomness once or twice, not once a digit.
"""

from __future__ import annotations

import base64
import os
import random
import re
import string
from collections import Counter
from typing import Any

import pytest

from fakemeta.simulator import ids


def _wamid_as_it_was(sender: str, *, inbound: bool = True, rng: random.Random) -> str:
    """The implementation before: one `choice` per digit of the key."""
    number = sender.encode("ascii")[:127]
    key = "".join(rng.choice("0123456789ABCDEF") for _ in range(rng.choice((20, 32)))).encode()
    raw = (
        b"\x1c\x18" + bytes([len(number)]) + number + b"\x15\x02\x00"
        + (b"\x12" if inbound else b"\x11") + b"\x18" + bytes([len(key)]) + key + b"\x00"
    )  # fmt: skip
    return "wamid." + base64.b64encode(raw).decode("ascii")


@pytest.mark.parametrize("inbound", [True, False])
def test_seeded_ids_and_the_generators_state_are_as_before(inbound: bool) -> None:
    assert ids._draws_as_random(random.Random)  # the fast path, not the loop, is under test
    for seed in range(500):
        ours, theirs = random.Random(seed), random.Random(seed)
        for _ in range(3):
            assert ids.wamid("966501234567", inbound=inbound, rng=ours) == _wamid_as_it_was(
                "966501234567", inbound=inbound, rng=theirs
            )
        assert ours.getstate() == theirs.getstate(), seed


def test_a_generator_of_another_kind_gets_the_same_ids_the_slow_way() -> None:
    class Halves(random.Random):
        def random(self) -> float:  # choice() then draws through random(), not getrandbits()
            return super().random() / 2

    assert ids.wamid("1", rng=Halves(3)) == _wamid_as_it_was("1", rng=Halves(3))


def _key(wamid: str) -> str:
    """The hex key: after the last 0x18 marker and its length byte, before the final 0."""
    raw = base64.b64decode(wamid[len("wamid.") :])
    return raw[raw.rindex(b"\x18") + 2 : -1].decode("ascii")


def test_fresh_ids_keep_the_shape_and_every_digit() -> None:
    keys = [_key(ids.wamid("16505551234")) for _ in range(400)]
    assert all(re.fullmatch(r"[0-9A-F]{20}|[0-9A-F]{32}", key) for key in keys), keys[:3]
    lengths = Counter(len(key) for key in keys)
    assert set(lengths) == {20, 32}
    assert min(lengths.values()) > 120  # about half each
    assert set("".join(keys)) == set(string.digits + "ABCDEF")


def test_a_fresh_id_reads_the_os_randomness_a_few_times_not_once_a_digit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = Counter[str]()
    real = os.urandom

    def counted(name: str) -> Any:
        def urandom(n: int) -> bytes:
            reads[name] += 1
            return real(n)

        return urandom

    monkeypatch.setattr(os, "urandom", counted("os"))
    monkeypatch.setattr(random, "_urandom", counted("random"))  # SystemRandom's source
    for _ in range(100):
        ids.wamid("16505551234")
    # Picking the length is a draw or two; the key one read. It was about 40 a wamid.
    assert sum(reads.values()) <= 400, reads
