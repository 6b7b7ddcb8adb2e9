"""Identifiers shaped like Meta's."""

from __future__ import annotations

import base64
import random
import re

from fakemeta.simulator import ids


def test_wamid_is_base64_of_a_record_holding_the_sender() -> None:
    wamid = ids.wamid("16505551234", rng=random.Random(1))
    assert wamid.startswith("wamid.")
    raw = base64.b64decode(wamid[len("wamid.") :], validate=True)
    assert raw[:2] == b"\x1c\x18"
    assert raw[2] == len("16505551234")
    assert raw[3:14] == b"16505551234"
    assert b"\x12\x18" in raw  # inbound marker
    assert raw.endswith(b"\x00")


def test_outbound_wamid_is_marked_differently() -> None:
    raw = base64.b64decode(ids.wamid("1555", inbound=False, rng=random.Random(1))[6:])
    assert b"\x11\x18" in raw


def test_seeded_ids_repeat_and_fresh_ids_do_not() -> None:
    assert ids.wamid("1", rng=random.Random(7)) == ids.wamid("1", rng=random.Random(7))
    assert len({ids.wamid("1") for _ in range(200)}) == 200
    assert len({ids.phone_number_id() for _ in range(200)}) == 200


def test_numeric_ids_have_meta_lengths_and_no_leading_zero() -> None:
    rng = random.Random(3)
    for _ in range(300):
        for value in (ids.phone_number_id(rng), ids.waba_id(rng), ids.media_id(rng)):
            assert re.fullmatch(r"[1-9]\d{14,15}", value)
        number = ids.wa_id(rng)
        assert re.fullmatch(r"[1-9]\d{9,14}", number), number


def test_bsuid_timestamp_and_hash_shapes() -> None:
    assert re.fullmatch(r"BR\.\d{16,20}", ids.bsuid("BR", random.Random(2)))
    assert ids.timestamp(1_700_000_000.9) == "1700000000"
    assert re.fullmatch(r"\d{10}", ids.timestamp())
    assert len(base64.b64decode(ids.sha256_b64(random.Random(1)))) == 32
