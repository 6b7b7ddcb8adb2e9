"""`fakemeta.simulator.load.bodies`: what the fast path sends is what the builders make.

For a sample of bodies of every kind, in both eras, one update and several
per POST, the test makes the same payload with the public builders
(`fakemeta.simulator.messages`, `fakemeta.simulator.statuses`,
`fakemeta.simulator.envelopes`) from the ids and times the factory drew,
encodes it with `fakemeta.simulator.encoding.encode` and compares the bytes;
the signatures are compared with `fakemeta.simulator.signing`, the request's
headers with `Delivery.signed`.
"""

from __future__ import annotations

import base64
import json
import random
import re
from typing import Any

import pytest

from fakemeta.simulator import eras
from fakemeta.simulator import messages as m
from fakemeta.simulator import statuses as s
from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.encoding import encode
from fakemeta.simulator.envelopes import Account, Customer, batch, message_payload, status_payload
from fakemeta.simulator.eras import Era
from fakemeta.simulator.load._http import Endpoint
from fakemeta.simulator.load.bodies import BodyFactory, BodySpec, Update
from fakemeta.simulator.load.mix import MESSAGE_KINDS, STATUS_KINDS, parse_mix
from fakemeta.simulator.signing import sign, sign_sha1

SECRET = "load-test-secret"
ACCOUNT = Account("102290129340398", "106540352242922", "15550783881")
EVERY_KIND = ",".join(f"{kind}=1" for kind in (*MESSAGE_KINDS, *STATUS_KINDS))
SAMPLE = 240  # bodies per case: every kind several times over


def factory(era: Era, batch_size: int = 1, mix: str = EVERY_KIND, seed: int = 5) -> BodyFactory:
    spec = BodySpec(parse_mix(mix), era, ACCOUNT, SECRET, batch=batch_size, seed=seed)
    return BodyFactory(spec, random.Random(seed))


def _first(payload: Any, key: str) -> Any:
    return payload["entry"][0]["changes"][0]["value"][key][0]


def expected_payload(update: Update, era: Era, wire: Any) -> Any:
    """The update made by the public builders with the factory's values; the
    fixed content of the kind (texts, captions, titles) read from `wire`."""
    kind, c, v = update.kind, update.customer, update.values
    if kind in STATUS_KINDS:
        if kind == "failed":
            status = s.failed(v["out"], c, timestamp=v["ts"])
        else:
            status = getattr(s, kind)(v["out"], c, timestamp=v["ts"], era=era)
            if "conversation" in status:  # the one value the builder draws itself
                status["conversation"]["id"] = v["conv"]
        return status_payload(ACCOUNT, status, c)
    sent = _first(wire, "messages")
    content = sent.get(kind)
    at, mid = v["ts"], v["id"]
    reply = m.reply_context(ACCOUNT.display_phone_number, v.get("ref", ""))
    media: dict[str, Any] = {"media_id": v.get("media"), "sha256": v.get("sha"), "url": False}
    if "url" in (content or {}):
        media["url"] = content["url"]
    if kind == "text":
        message = m.text(c, content["body"], id=mid, timestamp=at)
    elif kind in ("image", "video"):
        builder = m.image if kind == "image" else m.video
        message = builder(c, content.get("caption"), id=mid, timestamp=at, **media)
    elif kind == "audio":
        message = m.audio(c, voice=content["voice"], id=mid, timestamp=at, **media)
    elif kind == "document":
        message = m.document(
            c, content["filename"], content.get("caption"), id=mid, timestamp=at, **media
        )
    elif kind == "sticker":
        message = m.sticker(c, animated=content["animated"], id=mid, timestamp=at, **media)
    elif kind == "location":
        message = m.location(
            c, content["latitude"], content["longitude"], name=content.get("name"),
            address=content.get("address"), url=content.get("url"), id=mid, timestamp=at,
        )  # fmt: skip
    elif kind == "contacts":
        message = m.contacts(c, content, id=mid, timestamp=at)
    elif kind == "reaction":
        message = m.reaction(c, v["ref"], content["emoji"], id=mid, timestamp=at)
    elif kind == "interactive":
        button = content["button_reply"]
        message = m.interactive_button_reply(
            c, button["id"], button["title"], context=reply, id=mid, timestamp=at
        )
    else:
        assert kind == "button"
        message = m.button(
            c, content["payload"], content["text"], context=reply, id=mid, timestamp=at
        )
    return message_payload(ACCOUNT, message, c)


@pytest.mark.parametrize("era", list(eras.ERAS.values()), ids=lambda e: e.name)
@pytest.mark.parametrize("batch_size", [1, 3])
def test_bodies_are_what_the_builders_make_byte_for_byte(era: Era, batch_size: int) -> None:
    seen: set[str] = set()
    for body, sha256, sha1, updates in factory(era, batch_size).sample(SAMPLE // batch_size):
        wire = json.loads(body)
        assert len(updates) == batch_size
        parts = [
            expected_payload(update, era, {"entry": [entry]})
            for update, entry in zip(updates, wire["entry"], strict=True)
        ]
        expected = parts[0] if batch_size == 1 else batch(parts)
        assert encode(expected) == body
        assert sha256.decode() == sign(body, SECRET)
        assert sha1.decode() == sign_sha1(body, SECRET)
        seen.update(u.kind for u in updates)
    assert seen == {*MESSAGE_KINDS, *STATUS_KINDS}


def test_every_body_and_every_id_is_unique() -> None:
    made = factory(eras.CURRENT, mix="text=1,image=1,read=1")
    ids: list[bytes] = []
    bodies = {made.make(ids)[0] for _ in range(3000)}
    assert len(bodies) == 3000
    assert len(set(ids)) == len(ids) > 1000


def _wamid(value: str) -> tuple[str, bool, bytes]:
    raw = base64.b64decode(value.removeprefix("wamid."), validate=True)
    assert raw[:2] == b"\x1c\x18"
    number = raw[3 : 3 + raw[2]].decode("ascii")
    rest = raw[3 + raw[2] :]
    assert rest[:3] == b"\x15\x02\x00"
    assert rest[4] == 0x18
    key = rest[6 : 6 + rest[5]]
    assert rest[6 + rest[5] :] == b"\x00"
    return number, rest[3] == 0x12, key


#: The download URL's shape, checked against what `messages.lookaside_url` makes.
_URL = re.compile(
    r"https://lookaside\.fbsbx\.com/whatsapp_business/attachments/"
    r"\?mid=([0-9]+)&source=webhook&ext=([0-9]+)&hash=AR([A-Za-z0-9_-]{44})"
)


@pytest.mark.parametrize("era", list(eras.ERAS.values()), ids=lambda e: e.name)
def test_values_have_the_shapes_the_id_helpers_make(era: Era) -> None:
    reference = m.lookaside_url("1234567890123456", "1700000000", random.Random(0))
    assert _URL.fullmatch(reference)
    urls = 0
    for body, _, _, updates in factory(era).sample(SAMPLE):
        (update,) = updates
        v, c = update.values, update.customer
        number = c.wa_id or c.user_id
        for slot, inbound in (("id", True), ("out", False), ("ref", False)):
            if slot in v:
                got_number, got_inbound, key = _wamid(v[slot])
                assert (got_number, got_inbound) == (number, inbound)
                assert len(key) in (20, 32)
                assert re.fullmatch(rb"[0-9A-F]+", key)
        assert v["ts"].isdigit()
        if "media" in v:
            assert re.fullmatch(r"[1-9][0-9]{14,15}", v["media"])
            assert len(base64.b64decode(v["sha"], validate=True)) == 32
            url = _first(json.loads(body), "messages")[update.kind].get("url")
            assert (url is not None) == (era.name == "2026")
            if url is not None:
                urls += 1
                mid, ext, _ = _URL.fullmatch(url).groups()  # type: ignore[union-attr]
                assert mid == v["media"]
                assert 300 <= int(ext) - int(v["ts"]) <= 305
        if "conv" in v:
            assert re.fullmatch(r"[0-9a-f]{32}", v["conv"])
    assert urls or era.name == "2025"


def test_the_2026_pool_has_phoneless_users_and_2025_has_none() -> None:
    current = factory(eras.CURRENT).customers
    old = factory(eras.era("2025")).customers
    assert any(c.wa_id is None and c.user_id for c in current)
    assert all(c.wa_id and c.user_id is None for c in old)


def test_a_seed_makes_the_same_traffic() -> None:
    first, second = factory(eras.CURRENT, seed=11), factory(eras.CURRENT, seed=11)
    ids_a: list[bytes] = []
    ids_b: list[bytes] = []
    for _ in range(50):
        first.make(ids_a)
        second.make(ids_b)
    assert ids_a == ids_b
    assert [c.wa_id for c in first.customers] == [c.wa_id for c in second.customers]


def test_the_request_carries_the_headers_delivery_signed_sends() -> None:
    body, sha256, sha1 = factory(eras.CURRENT).make()
    request = Endpoint("http://127.0.0.1:8000/webhook/?x=1").request(body, sha256, sha1)
    head, _, sent = request.partition(b"\r\n\r\n")
    lines = head.decode("ascii").split("\r\n")
    assert lines[0] == "POST /webhook/?x=1 HTTP/1.1"
    headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
    expected = Delivery.signed(body, SECRET).headers
    assert headers == [("Host", "127.0.0.1:8000"), *expected, ("Content-Length", str(len(body)))]
    assert sent == body


def test_a_long_secret_is_hashed_first_as_hmac_does() -> None:
    spec = BodySpec(parse_mix("text=1"), eras.CURRENT, ACCOUNT, "k" * 100)
    body, sha256, sha1 = BodyFactory(spec).make()
    assert sha256.decode() == sign(body, "k" * 100)
    assert sha1.decode() == sign_sha1(body, "k" * 100)


def test_a_customer_without_a_number_writes_from_its_user_id() -> None:
    made = factory(eras.CURRENT, mix="text=1")
    phoneless = [u for _, _, _, us in made.sample(400) for u in us if u.customer.wa_id is None]
    assert phoneless
    customer: Customer = phoneless[0].customer
    assert _wamid(phoneless[0].values["id"])[0] == customer.user_id


@pytest.mark.parametrize("batch_size", [1, 4])
def test_the_engines_batch_path_makes_the_same_requests(
    batch_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`requests()` (the engine's way) and `make()` + `Endpoint.request` agree
    byte for byte on the same random stream, at the same second."""
    import fakemeta.simulator.load.bodies as bodies

    monkeypatch.setattr(bodies, "_time", lambda: 1_767_225_600.5)
    endpoint = Endpoint("http://127.0.0.1:8000/webhook")
    fast = factory(eras.CURRENT, batch_size, mix="text=3,image=1,status=2", seed=9)
    slow = factory(eras.CURRENT, batch_size, mix="text=3,image=1,status=2", seed=9)
    made = fast.requests(50, endpoint.head_to_digest, endpoint.middle, record=True)
    for request, ids in made:
        expected_ids: list[bytes] = []
        assert request == endpoint.request(*slow.make(expected_ids))
        assert ids == expected_ids
