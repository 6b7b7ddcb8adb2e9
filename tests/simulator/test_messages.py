"""Message builders: Meta's keys, in Meta's order, and the exact bytes."""

from __future__ import annotations

import random
import re

import pytest

from fakemeta.simulator import encoding, envelopes, messages
from fakemeta.simulator._message_examples import message_examples
from fakemeta.simulator.envelopes import Account, Customer

AT = "1767225600"
WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
BIZ_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI0RTJEOTc2ODVERUY5RDlGNkYA"
SENDER = Customer("16505551234", "Sheena Nelson")
BSUID_ONLY = Customer(None, "Sheena", user_id="US.13491208655302741918", username="sheena.n")
BOTH = Customer("16505551234", "Sheena", user_id="US.13491208655302741918")
ACCOUNT = Account("102290129340398", "106540352242922", "15550783881")


def fixed(**extra: object) -> dict[str, object]:
    return {"id": WAMID, "timestamp": AT, **extra}


# -- key order -------------------------------------------------------------


def test_text_puts_text_before_type_as_live_payloads_do() -> None:
    msg = messages.text(SENDER, "hi", **fixed())  # type: ignore[arg-type]
    assert list(msg) == ["from", "id", "timestamp", "text", "type"]


def test_context_and_referral_open_the_message_and_from_user_id_follows_from() -> None:
    ctx = messages.reply_context("15550783881", BIZ_WAMID)
    ref = messages.ad_referral(body="b", headline="h", rng=random.Random(1))
    msg = messages.text(BOTH, "hi", context=ctx, referral=ref, **fixed())  # type: ignore[arg-type]
    assert list(msg) == [
        "context", "referral", "from", "from_user_id", "id", "timestamp", "text", "type",
    ]  # fmt: skip
    assert msg["context"] == {"from": "15550783881", "id": BIZ_WAMID}


def test_a_user_known_only_by_bsuid_has_from_user_id_and_no_from() -> None:
    msg = messages.image(BSUID_ONLY, "x", **fixed())  # type: ignore[arg-type]
    assert list(msg) == ["from_user_id", "id", "timestamp", "type", "image"]
    assert msg["from_user_id"] == "US.13491208655302741918"


def test_ad_referral_keys_image_and_video() -> None:
    image_ad = messages.ad_referral(
        body="b", headline="h", welcome_message="hello", rng=random.Random(2)
    )
    assert list(image_ad) == [
        "source_url", "source_id", "source_type", "body", "headline", "media_type",
        "image_url", "ctwa_clid", "welcome_message",
    ]  # fmt: skip
    assert image_ad["welcome_message"] == {"text": "hello"}
    video_ad = messages.ad_referral(body="b", headline="h", media_type="video")
    assert list(video_ad)[6:8] == ["video_url", "thumbnail_url"]
    assert "image_url" not in video_ad


@pytest.mark.parametrize(
    ("msg", "keys"),
    [
        (messages.image(SENDER, "cap"), ["caption", "mime_type", "sha256", "id", "url"]),
        (messages.image(SENDER), ["mime_type", "sha256", "id", "url"]),
        (messages.video(SENDER, "cap"), ["caption", "mime_type", "sha256", "id", "url"]),
        (messages.audio(SENDER), ["mime_type", "sha256", "id", "url", "voice"]),
        (
            messages.document(SENDER, "a.pdf", "cap"),
            ["caption", "filename", "mime_type", "sha256", "id", "url"],
        ),
        (messages.document(SENDER, "a.pdf"), ["filename", "mime_type", "sha256", "id", "url"]),
        (messages.sticker(SENDER), ["mime_type", "sha256", "id", "url", "animated"]),
        (messages.audio(SENDER, url=False), ["mime_type", "sha256", "id", "voice"]),
    ],
)
def test_media_objects_in_meta_order(msg: dict[str, object], keys: list[str]) -> None:
    assert list(msg)[-2:] == ["type", msg["type"]]
    assert list(msg[msg["type"]]) == keys  # type: ignore[call-overload, index]


def test_media_url_is_a_lookaside_url_escaped_on_the_wire() -> None:
    msg = messages.image(SENDER, media_id="1003383421387256", rng=random.Random(3), **fixed())  # type: ignore[arg-type]
    url = msg["image"]["url"]  # type: ignore[typeddict-item]
    assert re.fullmatch(
        r"https://lookaside\.fbsbx\.com/whatsapp_business/attachments/\?mid=1003383421387256"
        r"&source=webhook&ext=17672259\d\d&hash=AR[A-Za-z0-9_-]{44}",
        url,
    )
    assert b"https:\\/\\/lookaside.fbsbx.com\\/whatsapp_business\\/attachments\\/?mid=" in (
        encoding.encode(msg)
    )


def test_location_venue_and_bare_pin() -> None:
    venue = messages.location(
        SENDER,
        37.44,
        -122.16,
        name="Philz",
        address="101 Forest Ave",
        url="https://philzcoffee.com/",
    )
    assert list(venue["location"]) == ["address", "latitude", "longitude", "name", "url"]  # type: ignore[typeddict-item]
    pin = messages.location(SENDER, 30.04, 31.23)
    assert pin["location"] == {"latitude": 30.04, "longitude": 31.23}  # type: ignore[typeddict-item]


def test_reaction_and_its_removal_which_has_no_emoji_key() -> None:
    added = messages.reaction(SENDER, BIZ_WAMID, "👍")
    assert added["reaction"] == {"message_id": BIZ_WAMID, "emoji": "👍"}  # type: ignore[typeddict-item]
    removed = messages.reaction(SENDER, BIZ_WAMID, None)
    assert removed["reaction"] == {"message_id": BIZ_WAMID}  # type: ignore[typeddict-item]
    assert "emoji" not in removed["reaction"]  # type: ignore[typeddict-item]


def test_button_and_interactive_open_with_their_context() -> None:
    ctx = messages.reply_context("15550783881", BIZ_WAMID)
    btn = messages.button(SENDER, "Unsubscribe", "Stop", context=ctx)
    assert list(btn) == ["context", "from", "id", "timestamp", "type", "button"]
    assert list(btn["button"]) == ["payload", "text"]  # type: ignore[typeddict-item]
    lst = messages.interactive_list_reply(SENDER, "row", "Title", "Desc", context=ctx)
    assert lst["interactive"] == {  # type: ignore[typeddict-item]
        "type": "list_reply",
        "list_reply": {"id": "row", "title": "Title", "description": "Desc"},
    }
    bare = messages.interactive_list_reply(SENDER, "row", "Title", context=ctx)
    assert "description" not in bare["interactive"]["list_reply"]  # type: ignore[typeddict-item]
    flow = messages.interactive_nfm_reply(SENDER, {"flow_token": "t", "a": "é"}, context=ctx)
    assert list(flow["interactive"]["nfm_reply"]) == ["response_json", "body", "name"]  # type: ignore[typeddict-item]
    assert flow["interactive"]["nfm_reply"]["response_json"] == '{"flow_token":"t","a":"é"}'  # type: ignore[typeddict-item]


def test_unsupported_has_errors_before_type_and_its_kind_after() -> None:
    msg = messages.unsupported(SENDER, unsupported_type="edit")
    assert list(msg) == ["from", "id", "timestamp", "errors", "type", "unsupported"]
    assert msg["errors"][0]["code"] == 131051
    assert list(msg["errors"][0]) == ["code", "title", "message", "error_data"]
    assert msg["unsupported"] == {"type": "edit"}  # type: ignore[typeddict-item]
    assert "unsupported" not in messages.unsupported(SENDER)


def test_order_request_welcome_edit_and_revoke() -> None:
    item = messages.product_item("di9ozbzfi4", 2, 30.0, "USD")
    order = messages.order(SENDER, "194836987003835", [item])
    assert list(order["order"]) == ["catalog_id", "text", "product_items"]  # type: ignore[typeddict-item]
    assert list(item) == ["product_retailer_id", "quantity", "item_price", "currency"]
    assert list(messages.request_welcome(SENDER)) == ["from", "id", "timestamp", "type"]
    edit = messages.edit(SENDER, WAMID, "new")
    assert edit["edit"] == {  # type: ignore[typeddict-item]
        "original_message_id": WAMID,
        "message": {"type": "text", "text": {"body": "new"}},
    }
    assert messages.revoke(SENDER, WAMID)["revoke"] == {"original_message_id": WAMID}  # type: ignore[typeddict-item]


def test_contact_cards_keep_only_what_was_shared() -> None:
    card = messages.contact_card(
        "Lucía Gómez", first_name="Lucía", last_name="Gómez",
        phones=[("+1 (983) 555-2319", "19835552319", "MOBILE"), ("+1 555 0000", None, "HOME")],
        org={"company": "Google"},
    )  # fmt: skip
    assert list(card) == ["name", "org", "phones"]
    assert list(card["name"]) == ["first_name", "last_name", "formatted_name"]
    assert card["phones"][1] == {"phone": "+1 555 0000", "type": "HOME"}
    msg = messages.contacts(SENDER, [card])
    assert msg["contacts"] == [card]  # type: ignore[typeddict-item]


def test_system_messages_come_without_a_contacts_array() -> None:
    changed = messages.system_user_changed_number(SENDER, "12195555358")
    assert changed["system"] == {  # type: ignore[typeddict-item]
        "body": "User Sheena Nelson changed from 16505551234 to 12195555358",
        "wa_id": "12195555358",
        "type": "user_changed_number",
    }
    rotated = messages.system_user_changed_user_id(BOTH, "US.2", parent_user_id="US.ENT.2")
    assert list(rotated["system"]) == [  # type: ignore[typeddict-item]
        "body", "user_id", "parent_user_id", "previous_user_id", "type",
    ]  # fmt: skip
    assert rotated["system"]["previous_user_id"] == BOTH.user_id  # type: ignore[typeddict-item]
    # 2026: a new number comes with a new business-scoped id, and the old one.
    renumbered = messages.system_user_changed_number(BOTH, "12195555358", new_user_id="US.3")
    assert renumbered["system"] == {  # type: ignore[typeddict-item]
        "body": f"User {BOTH.name} changed from 16505551234 to 12195555358",
        "wa_id": "12195555358",
        "user_id": "US.3",
        "previous_user_id": BOTH.user_id,
        "type": "user_changed_number",
    }
    for msg in (changed, rotated, renumbered):
        value = envelopes.message_payload(ACCOUNT, msg, None)["entry"][0]["changes"][0]["value"]
        assert list(value) == ["messaging_product", "metadata", "messages"]


# -- ids, determinism, bytes ----------------------------------------------


def test_ids_are_fresh_by_default_and_reproducible_with_an_rng() -> None:
    assert messages.text(SENDER, "a")["id"] != messages.text(SENDER, "a")["id"]
    first = messages.image(SENDER, "c", rng=random.Random(7), timestamp=AT)
    again = messages.image(SENDER, "c", rng=random.Random(7), timestamp=AT)
    assert first == again
    assert first["id"].startswith("wamid.")
    assert re.fullmatch(r"\d{15,16}", first["image"]["id"])  # type: ignore[typeddict-item]


def test_encoding_round_trips_with_order_kept() -> None:
    msg = messages.document(SENDER, "عقد.pdf", "page 2/3 👍", rng=random.Random(5))
    assert list(encoding.decode(encoding.encode(msg))) == list(msg)
    assert encoding.decode(encoding.encode(msg)) == msg


def test_golden_bytes_text_with_reply_context() -> None:
    msg = messages.text(
        SENDER, "مرحبا 👋 https://x.co/a",
        context=messages.reply_context("15550783881", BIZ_WAMID), **fixed(),  # type: ignore[arg-type]
    )  # fmt: skip
    assert encoding.encode(msg) == (
        b'{"context":{"from":"15550783881","id":"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI0RTJEOTc2ODVE'
        b'RUY5RDlGNkYA"},"from":"16505551234","id":"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OU'
        b'FFRTAzODEwMTQ0RgA=","timestamp":"1767225600","text":{"body":"\\u0645\\u0631\\u062d'
        b'\\u0628\\u0627 \\ud83d\\udc4b https:\\/\\/x.co\\/a"},"type":"text"}'
    )


def test_golden_bytes_voice_note_with_url() -> None:
    msg = messages.audio(
        SENDER, media_id="1908647269898587", sha256="wvqXMe6n7n1W0zphvLPoLj+s/NtKqmr3zZ7YzTP7xFI=",
        url="https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1908647269898587&source=webhook&ext=1767225901&hash=ARabc",
        **fixed(),  # type: ignore[arg-type]
    )  # fmt: skip
    assert encoding.encode(msg) == (
        b'{"from":"16505551234","id":"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0'
        b'RgA=","timestamp":"1767225600","type":"audio","audio":{"mime_type":"audio\\/ogg; codecs='
        b'opus","sha256":"wvqXMe6n7n1W0zphvLPoLj+s\\/NtKqmr3zZ7YzTP7xFI=","id":"1908647269898587",'
        b'"url":"https:\\/\\/lookaside.fbsbx.com\\/whatsapp_business\\/attachments\\/?mid=19086472'
        b'69898587&source=webhook&ext=1767225901&hash=ARabc","voice":true}}'
    )


def test_golden_bytes_reaction_removed() -> None:
    msg = messages.reaction(BOTH, BIZ_WAMID, None, **fixed())  # type: ignore[arg-type]
    assert encoding.encode(msg) == (
        b'{"from":"16505551234","from_user_id":"US.13491208655302741918","id":"wamid.HBgLMTY1MDU1'
        b'NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1767225600","type":"reaction",'
        b'"reaction":{"message_id":"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI0RTJEOTc2ODVERUY5RDlGNkYA"}}'
    )


# -- examples -------------------------------------------------------------

EXAMPLE_NAMES = {
    "text", "text_reply", "text_forwarded", "text_frequently_forwarded", "text_referred_product",
    "text_ad_referral", "image", "video", "audio", "voice", "document", "sticker",
    "sticker_animated", "location", "location_pin", "contacts", "interactive_button_reply",
    "interactive_list_reply", "interactive_nfm_reply", "button", "reaction", "reaction_removed",
    "order", "system_number_changed", "system_user_id_changed", "request_welcome", "unsupported",
    "edit", "revoke",
}  # fmt: skip


def test_message_examples_are_deterministic_and_complete() -> None:
    one = message_examples(SENDER, "15550783881", random.Random(2026), AT)
    two = message_examples(SENDER, "15550783881", random.Random(2026), AT)
    other = message_examples(SENDER, "15550783881", random.Random(2027), AT)
    assert set(one) == EXAMPLE_NAMES - {"system_user_id_changed"}  # a sender without a user id
    scoped = message_examples(BOTH, "15550783881", random.Random(2026), AT)
    assert set(scoped) == EXAMPLE_NAMES | {"text_group"}
    assert scoped["text_group"]["group_id"].endswith("ZD")  # type: ignore[typeddict-item]
    assert [encoding.encode(m) for m in one.values()] == [encoding.encode(m) for m in two.values()]
    assert one["text"]["id"] != other["text"]["id"]
    assert {m["type"] for m in scoped.values()} == set(messages.MESSAGE_TYPES)
    assert all(m["timestamp"] == AT for m in one.values())
    assert len({m["id"] for m in one.values()}) == len(one)
    wire = b"".join(encoding.encode(m) for m in one.values())
    assert b"\\u0645" in wire  # Arabic
    assert b"\\ud83d" in wire  # emoji as surrogate pairs
    assert b"\\/" in wire  # URLs
    assert one["voice"]["audio"]["voice"] is True  # type: ignore[typeddict-item]
    assert one["audio"]["audio"]["voice"] is False  # type: ignore[typeddict-item]
    assert one["sticker_animated"]["sticker"]["animated"] is True  # type: ignore[typeddict-item]
    assert "emoji" not in one["reaction_removed"]["reaction"]  # type: ignore[typeddict-item]
    assert scoped["system_user_id_changed"]["system"]["type"] == "user_changed_user_id"  # type: ignore[typeddict-item]
