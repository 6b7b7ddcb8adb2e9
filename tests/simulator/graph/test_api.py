"""api.handle: Meta's success and error shapes, statuses and codes for sends,
mark-as-read, tokens, unknown objects, limits and malformed input."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from graph_helpers import PNID, USER, call, error_of, make_state, send, template, text
from hypothesis import given
from hypothesis import strategies as st

from fakemeta.simulator.graph.api import handle

UNSUPPORTED = (
    "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due "
    "to missing permissions, or does not support this operation. Please read the Graph API "
    "documentation at https://developers.facebook.com/docs/graph-api"
)


def wa(type_: str, content: Any, to: str = USER) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": to, "type": type_, type_: content}


def open_state(**settings: Any):
    state = make_state(**settings)
    state.record_inbound(PNID, USER)
    return state


# -- success -------------------------------------------------------------------


def test_a_text_message_is_answered_in_metas_shape():
    state = open_state()
    response = send(state, text(to="+1 (650) 555-1234"))
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    payload = response.json()
    assert list(payload) == ["messaging_product", "contacts", "messages"]
    assert payload["messaging_product"] == "whatsapp"
    assert payload["contacts"] == [{"input": "+1 (650) 555-1234", "wa_id": USER}]
    [message] = payload["messages"]
    assert list(message) == ["id"]
    raw = base64.b64decode(message["id"].removeprefix("wamid."))
    assert USER.encode() in raw
    assert b"\x11" in raw


def test_the_body_is_minified_with_metas_escapes():
    state = make_state()
    response = call(state, "POST", "/v23.0/1/messages", {})
    assert b"https:\\/\\/developers.facebook.com\\/docs\\/graph-api" in response.body
    assert b": " not in response.body


def test_a_template_answer_carries_message_status_accepted():
    response = send(make_state(), template())
    assert response.status == 200
    assert response.json()["messages"][0]["message_status"] == "accepted"


def upload(state, data: bytes = b"\xff\xd8\xff", mime: str = "image/jpeg") -> str:
    boundary = "XyZ"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="messaging_product"\r\n\r\n'
            f'whatsapp\r\n--{boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\n'
            f'{mime}\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="f.bin"\r\nContent-Type: {mime}\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = call(
        state, "POST", f"/v23.0/{PNID}/media", body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )  # fmt: skip
    assert response.status == 200, response.body
    media_id = response.json()["id"]
    assert isinstance(media_id, str)
    return media_id


BUTTONS = {
    "type": "button",
    "body": {"text": "Pick one"},
    "action": {"buttons": [
        {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
        {"type": "reply", "reply": {"id": "no", "title": "No"}},
        {"type": "reply", "reply": {"id": "later", "title": "x" * 20}},
    ]},
}  # fmt: skip
LIST = {
    "type": "list",
    "header": {"type": "text", "text": "Menu"},
    "body": {"text": "Choose"},
    "footer": {"text": "Thanks"},
    "action": {"button": "Options", "sections": [
        {"title": "A", "rows": [{"id": f"a{n}", "title": f"Row {n}"} for n in range(5)]},
        {"title": "B", "rows": [{"id": f"b{n}", "title": "t", "description": "d" * 72}
                                for n in range(5)]},
    ]},
}  # fmt: skip
CTA = {
    "type": "cta_url",
    "body": {"text": "See"},
    "action": {"name": "cta_url", "parameters": {"display_text": "Open", "url": "https://x.io"}},
}


@pytest.mark.parametrize(
    "payload",
    [
        text(preview_url=None) | {"text": {"body": "see https://x.io", "preview_url": True}},
        text("x" * 4096),
        wa("image", {"link": "https://example.com/a.jpg", "caption": "c"}),
        wa("video", {"link": "https://example.com/a.mp4"}),
        wa("audio", {"link": "https://example.com/a.ogg"}),
        wa("document", {"link": "https://example.com/a.pdf", "filename": "a.pdf"}),
        wa("sticker", {"link": "https://example.com/a.webp"}),
        wa("interactive", BUTTONS),
        wa("interactive", LIST),
        wa("interactive", CTA),
        wa("reaction", {"message_id": "wamid.X", "emoji": "\U0001f600"}),
        wa("reaction", {"message_id": "wamid.X", "emoji": ""}),
        wa("location", {"latitude": 37.48, "longitude": "-122.14", "name": "HQ"}),
        wa("contacts", [{"name": {"formatted_name": "Jo", "first_name": "Jo"}}]),
        {"messaging_product": "whatsapp", "to": USER, "text": {"body": "type defaults to text"}},
        text(context={"message_id": "wamid.PREV"}, recipient_type="individual"),
        {
            **template(),
            "template": {
                "name": "t",
                "language": {"code": "en"},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": "Jo"}]},
                ],
            },
        },
    ],
    ids=lambda p: p.get("type", "default") + ":" + json.dumps(p)[60:80],
)
def test_every_message_type_is_accepted(payload):
    response = send(open_state(), payload)
    assert response.status == 200, response.body


def test_media_by_uploaded_id_is_accepted_and_unknown_ids_are_not():
    state = open_state()
    media_id = upload(state)
    assert send(state, wa("image", {"id": media_id})).status == 200
    response = send(state, wa("image", {"id": "123"}))
    assert response.status == 400
    error = error_of(response)
    assert error["message"] == (
        "(#100) Param image['id'] is not a valid whatsapp business account media attachment ID"
    )


def test_a_form_encoded_send_is_accepted():
    body = b"messaging_product=whatsapp&to=16505551234&type=text&text=%7B%22body%22%3A%22hi%22%7D"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = send(open_state(), {}, body=body, headers=headers)
    assert response.status == 200, response.body


@pytest.mark.parametrize("version", ["v18.0", "v23.0", "v99.1"])
def test_any_version_segment(version):
    response = call(open_state(), "POST", f"/{version}/{PNID}/messages", text())
    assert response.status == 200
    assert response.headers["facebook-api-version"] == version


def test_no_version_segment():
    assert call(open_state(), "POST", f"/{PNID}/messages", text()).status == 200


def test_mark_as_read_answers_success_and_sends_no_webhook():
    state = make_state(throughput_per_second=1)
    state.record_inbound(PNID, USER, {"id": "wamid.IN", "type": "text", "text": {"body": "x"}})
    for _ in range(3):  # not counted against throughput
        response = send(state, {"messaging_product": "whatsapp", "status": "read",
                                "message_id": "wamid.IN",
                                "typing_indicator": {"type": "text"}})  # fmt: skip
        assert response.status == 200
        assert response.json() == {"success": True}
    assert state.webhooks.pending() == []
    assert state.conversation(PNID, USER)[0]["status"] == "read"


def test_get_the_phone_number():
    response = call(make_state(), "GET", f"/v23.0/{PNID}")
    assert response.status == 200
    assert response.json()["id"] == PNID


# -- tokens and objects ----------------------------------------------------------


def test_no_token_is_code_104():
    response = send(make_state(), text(), token=None)
    assert response.status == 400
    error = error_of(response)
    assert (error["code"], error["type"]) == (104, "OAuthException")
    assert error["message"] == "An access token is required to request this resource."


@pytest.mark.parametrize("header", ["Bearer wrong", "Bearer  ", "Basic abc"])
def test_a_wrong_token_is_code_190_with_401(header):
    response = send(make_state(), text(), token=None, headers={"Authorization": header})
    if header in ("Bearer  ", "Basic abc"):
        assert error_of(response)["code"] == 104
        return
    assert response.status == 401
    error = error_of(response)
    assert error == {
        "message": "Invalid OAuth access token - Cannot parse access token",
        "type": "OAuthException",
        "code": 190,
        "fbtrace_id": error["fbtrace_id"],
    }
    assert response.headers["WWW-Authenticate"].startswith(
        'OAuth "Facebook Platform" "invalid_token"'
    )


def test_the_token_may_come_as_a_query_parameter():
    response = send(open_state(), text(), token=None, query="access_token=fakemeta-access-token")
    assert response.status == 200


def test_an_unknown_phone_number_id_is_code_100_subcode_33():
    response = call(make_state(), "POST", "/v23.0/123456/messages", text())
    assert response.status == 400
    error = error_of(response)
    assert error["message"] == UNSUPPORTED.format(method="post", id="123456")
    assert (error["type"], error["code"], error["error_subcode"]) == (
        "GraphMethodException",
        100,
        33,
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v23.0/42"),
        ("DELETE", "/v23.0/42"),
        ("PUT", f"/v23.0/{PNID}/messages"),
        ("GET", "/"),
    ],
)
def test_unknown_objects_and_methods(method, path):
    response = call(make_state(), method, path)
    assert response.status == 400
    assert error_of(response)["error_subcode"] == 33


def test_the_token_is_checked_before_the_object():
    assert error_of(call(make_state(), "POST", "/v23.0/1/messages", token="x"))["code"] == 190


# -- validation ------------------------------------------------------------------


def required_message(path: str) -> str:
    return f"(#100) The parameter {path} is required."


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"to": USER, "type": "text", "text": {"body": "x"}}, "messaging_product"),
        ({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}, "to"),
        (wa("text", {}), "text['body']"),
        (wa("text", {"body": ""}), "text['body']"),
        ({"messaging_product": "whatsapp", "to": USER, "type": "text"}, "text"),
        (wa("template", {"language": {"code": "en"}}), "template['name']"),
        (wa("template", {"name": "t"}), "template['language']"),
        (wa("template", {"name": "t", "language": {}}), "template['language']['code']"),
        (wa("reaction", {"emoji": "x"}), "reaction['message_id']"),
        (wa("reaction", {"message_id": "wamid.X"}), "reaction['emoji']"),
        (wa("location", {"longitude": 1}), "location['latitude']"),
        (wa("image", {"caption": "c"}), "image['id'] or image['link']"),
        (wa("interactive", {"type": "button", "body": {"text": "b"}}), "interactive['action']"),
        (wa("interactive", {"action": {}}), "interactive['type']"),
        (wa("contacts", [{"name": {}}]), "contacts[0]['name']['formatted_name']"),
        (wa("contacts", []), "contacts[0]"),
        ({"messaging_product": "whatsapp", "status": "read"}, "message_id"),
    ],
)
def test_missing_parameters_are_named(payload, path):
    response = send(open_state(), payload)
    assert response.status == 400
    error = error_of(response)
    assert (error["code"], error["type"]) == (100, "OAuthException")
    assert error["message"] == required_message(path)
    assert error["error_data"] == {
        "messaging_product": "whatsapp",
        "details": f"The parameter {path} is required.",
    }


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            text() | {"messaging_product": "sms"},
            '(#100) Param messaging_product must be one of {WHATSAPP} - got "sms".',
        ),
        (
            text() | {"type": "fax"},
            "(#100) Param type must be one of {AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, "
            'LINK_PREVIEW, LOCATION, REACTION, STICKER, TEMPLATE, TEXT, VIDEO} - got "fax".',
        ),
        (wa("text", "hi"), "(#100) Param text must be a JSON object."),
        (wa("text", {"body": ["hi"]}), "(#100) Param text['body'] must be a string."),
        (
            wa("text", {"body": "x", "preview_url": "yes"}),
            "(#100) Param text['preview_url'] must be a boolean.",
        ),
        (text("x" * 4097), "(#100) Param text['body'] must be at most 4096 characters long."),
        (
            wa("location", {"latitude": 91, "longitude": 0}),
            "(#100) Param location['latitude'] must be a number between -90 and 90.",
        ),
        (
            wa("image", {"link": "ftp://x"}),
            "(#100) Param image['link'] must be a valid http or https URL.",
        ),
        (
            text() | {"recipient_type": "group"},
            '(#100) Param recipient_type must be one of {INDIVIDUAL} - got "group".',
        ),
        (wa("contacts", {"name": "x"}), "(#100) Param contacts must be an array."),
    ],
)
def test_bad_values_are_code_100(payload, message):
    response = send(open_state(), payload)
    assert response.status == 400
    error = error_of(response)
    assert (error["code"], error["message"]) == (100, message)
    assert error["error_data"]["details"] == message.removeprefix("(#100) ")


@pytest.mark.parametrize("to", ["abc", "0033612345678", "+1 650 CALL NOW", "12345", "1" * 16, ""])
def test_a_malformed_to_is_an_invalid_parameter(to):
    response = send(open_state(), text(to=to))
    assert response.status == 400
    error = error_of(response)
    assert error["code"] == 100
    if to == "":
        assert error["message"] == required_message("to")
    else:
        assert error["message"] == "(#100) Invalid parameter"
        assert "'to'" in error["error_data"]["details"]


@pytest.mark.parametrize(
    ("interactive", "details"),
    [
        (
            {**BUTTONS, "action": {"buttons": BUTTONS["action"]["buttons"] * 2}},
            "Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: 3",
        ),
        (
            {**BUTTONS, "action": {"buttons": []}},
            "Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: 3",
        ),
        (
            {
                **BUTTONS,
                "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "x" * 21}}]},
            },
            "Button title length invalid. Min length: 1, Max length: 20",
        ),
        (
            {
                **BUTTONS,
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "a", "title": "A"}},
                        {"type": "reply", "reply": {"id": "a", "title": "B"}},
                    ]
                },
            },
            "Buttons must have unique ids and titles.",
        ),
        (
            {
                **LIST,
                "action": {
                    "button": "Go",
                    "sections": [{"rows": [{"id": str(n), "title": "t"} for n in range(11)]}],
                },
            },
            "Invalid rows count. Min allowed rows: 1, Max allowed rows: 10",
        ),
        (
            {
                **LIST,
                "action": {
                    "button": "Go",
                    "sections": [{"rows": [{"id": "1", "title": "x" * 25}]}],
                },
            },
            "Row title length invalid. Min length: 1, Max length: 24",
        ),
        (
            {
                **LIST,
                "action": {"button": "x" * 21, "sections": [{"rows": [{"id": "1", "title": "t"}]}]},
            },
            "Button text length invalid. Min length: 1, Max length: 20",
        ),
        (
            {**LIST, "header": {"type": "text", "text": "h" * 61}},
            "Header text length invalid. Min length: 1, Max length: 60",
        ),
        (
            {
                **CTA,
                "action": {
                    "name": "cta_url",
                    "parameters": {"display_text": "d" * 21, "url": "https://x.io"},
                },
            },
            "Display text length invalid. Min length: 1, Max length: 20",
        ),
    ],
)
def test_interactive_limits_are_code_131009(interactive, details):
    response = send(open_state(), wa("interactive", interactive))
    assert response.status == 400
    error = error_of(response)
    assert error == {
        "message": "(#131009) Parameter value is not valid",
        "type": "OAuthException",
        "code": 131009,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": error["fbtrace_id"],
    }


@pytest.mark.parametrize("body", [b"{", b"not json", b"\xff\xfe", b"[1, 2]", b'"text"', b"null"])
def test_malformed_json_is_code_100_with_400(body):
    response = send(make_state(), {}, body=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    error = error_of(response)
    assert (error["code"], error["message"]) == (100, "(#100) Invalid parameter")


def test_an_empty_body_asks_for_messaging_product():
    response = send(make_state(), {}, body=b"")
    assert error_of(response)["message"] == required_message("messaging_product")


def test_an_unknown_template_is_132001_when_templates_are_configured():
    state = make_state(templates={"order_update": "utility"})
    assert send(state, template("order_update")).status == 200
    response = send(state, template("nope"))
    assert response.status == 404
    error = error_of(response)
    assert error["message"] == "(#132001) Template name does not exist in the translation"
    assert error["error_data"]["details"] == "template name (nope) does not exist in en_US"


# -- rate limits -------------------------------------------------------------------


def test_a_burst_over_throughput_is_130429():
    state = make_state(throughput_per_second=80, pair_rate_interval=None)
    answers = [send(state, text(to=f"1650555{n:04d}")).status for n in range(81)]
    assert answers == [200] * 80 + [400]
    error = error_of(send(state, text()))
    assert error == {
        "message": "(#130429) Rate limit hit",
        "type": "OAuthException",
        "code": 130429,
        "error_data": {
            "messaging_product": "whatsapp",
            "details": "Cloud API message throughput has been reached.",
        },
        "fbtrace_id": error["fbtrace_id"],
    }
    state.clock.advance(1)
    assert send(state, text()).status == 200


def test_too_many_to_one_user_is_131056():
    state = open_state(pair_rate_burst=3, pair_rate_interval=6.0)
    assert [send(state, text()).status for _ in range(4)] == [200, 200, 200, 400]
    error = error_of(send(state, template()))  # templates count too
    assert error["code"] == 131056
    assert error["message"] == "(#131056) (Business Account, Consumer Account) pair rate limit hit"
    state.clock.advance(6)
    assert send(state, text()).status == 200


# -- media endpoints -----------------------------------------------------------------


def test_upload_get_download_delete():
    state = make_state()
    data = bytes(range(256)) * 4 + b"\r\n--Xy\r\n\r\n"
    media_id = upload(state, data, "image/png")
    info = call(state, "GET", f"/v23.0/{media_id}")
    assert info.status == 200
    payload = info.json()
    assert list(payload) == ["url", "mime_type", "sha256", "file_size", "id", "messaging_product"]
    assert payload["mime_type"] == "image/png"
    assert payload["file_size"] == len(data)
    assert payload["id"] == media_id
    assert payload["url"].startswith(
        f"http://fakemeta.test/whatsapp_business/attachments/?mid={media_id}&ext="
    )
    url = payload["url"].removeprefix("http://fakemeta.test")
    path, query = url.split("?")
    assert call(state, "GET", path, query=query, token=None).status == 401
    assert call(state, "GET", path, query=query, token="wrong").status == 401
    download = call(state, "GET", path, query=query)
    assert download.status == 200
    assert download.body == data
    assert download.headers["Content-Type"] == "image/png"
    assert call(state, "GET", path, query=query.replace("hash=", "hash=0")).status == 404
    assert call(state, "GET", f"/v23.0/{media_id}", query="phone_number_id=1").status == 400
    deleted = call(state, "DELETE", f"/v23.0/{media_id}")
    assert deleted.json() == {"success": True}
    assert call(state, "GET", path, query=query).status == 404
    again = call(state, "GET", f"/v23.0/{media_id}")
    assert error_of(again)["message"] == UNSUPPORTED.format(method="get", id=media_id)


def test_a_media_url_expires_after_5_minutes():
    state = make_state()
    media_id = upload(state)
    url = call(state, "GET", f"/v23.0/{media_id}").json()["url"]
    path, query = url.removeprefix("http://fakemeta.test").split("?")
    state.clock.advance(301)
    assert call(state, "GET", path, query=query).status == 404
    fresh = call(state, "GET", f"/v23.0/{media_id}").json()["url"].split("?")[1]
    assert call(state, "GET", path, query=fresh).status == 200


def multipart(
    fields: dict[str, str], file: tuple[str, bytes] | None
) -> tuple[bytes, dict[str, str]]:
    chunks = [f'--B\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
              for k, v in fields.items()]  # fmt: skip
    if file is not None:
        chunks.append(f'--B\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n'
                      f"Content-Type: {file[0]}\r\n\r\n".encode() + file[1] + b"\r\n")  # fmt: skip
    return b"".join(chunks) + b"--B--\r\n", {"Content-Type": "multipart/form-data; boundary=B"}


@pytest.mark.parametrize(
    ("fields", "file", "code", "message"),
    [
        (
            {"type": "image/png"},
            ("image/png", b"x"),
            100,
            "(#100) The parameter messaging_product is required.",
        ),
        ({"messaging_product": "whatsapp"}, None, 100, "(#100) The parameter file is required."),
        (
            {"messaging_product": "whatsapp", "type": "image/gif"},
            ("image/gif", b"x"),
            100,
            "(#100) Param file must be a file with one of the following types: audio/aac, ",
        ),
        (
            {"messaging_product": "whatsapp", "type": "image/webp"},
            ("image/webp", b"x" * (500 * 1024 + 1)),
            131053,
            "(#131053) Media upload error",
        ),
    ],
)
def test_upload_errors(fields, file, code, message):
    body, headers = multipart(fields, file)
    response = call(make_state(), "POST", f"/v23.0/{PNID}/media", body=body, headers=headers)
    assert response.status == 400
    error = error_of(response)
    assert error["code"] == code
    assert error["message"].startswith(message)


def test_a_malformed_multipart_upload_is_a_400():
    headers = {"Content-Type": "multipart/form-data; boundary=B"}
    response = call(make_state(), "POST", f"/v23.0/{PNID}/media", body=b"junk", headers=headers)
    assert response.status == 400


def test_the_type_falls_back_to_the_file_part():
    body, headers = multipart({"messaging_product": "whatsapp"}, ("audio/ogg; codecs=opus", b"O"))
    response = call(make_state(), "POST", f"/v23.0/{PNID}/media", body=body, headers=headers)
    assert response.status == 200


# -- never a 5xx ----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
keys = st.sampled_from(["messaging_product", "to", "type", "text", "template", "interactive",
                        "image", "reaction", "location", "contacts", "status", "message_id",
                        "context", "recipient_type"])  # fmt: skip
near_valid = st.fixed_dictionaries(
    {"messaging_product": st.just("whatsapp"), "to": st.just(USER)},
    optional={
        "type": st.sampled_from(
            [
                "text",
                "template",
                "interactive",
                "image",
                "reaction",
                "location",
                "contacts",
                "sticker",
            ]
        )
    },
).flatmap(lambda base: st.dictionaries(keys, json_values, max_size=5).map(lambda d: {**base, **d}))


def assert_meta_answer(response) -> None:
    assert response.status < 500, response.body
    if response.status != 200:
        assert 400 <= response.status < 500
        error_of(response)


@given(st.one_of(json_values, near_valid))
def test_random_json_never_gets_a_5xx(payload):
    state = open_state()
    assert_meta_answer(send(state, payload))
    assert_meta_answer(call(state, "POST", f"/v23.0/{PNID}/media", payload))


@given(
    st.binary(max_size=200),
    st.sampled_from(
        [
            "application/json",
            "multipart/form-data; boundary=a",
            "application/x-www-form-urlencoded",
            "",
        ]
    ),
)
def test_random_bytes_never_get_a_5xx(body, content_type):
    state = make_state()
    for path in (f"/v23.0/{PNID}/messages", f"/v23.0/{PNID}/media"):
        response = send(state, {}, body=body, headers={"Content-Type": content_type})
        assert_meta_answer(response)
        response = call(state, "POST", path, body=body, headers={"Content-Type": content_type})
        assert_meta_answer(response)


@given(
    st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH"]),
    st.text(max_size=40),
    st.text(max_size=20),
)
def test_random_paths_never_get_a_5xx(method, path, query):
    response = handle(make_state(), method, "/" + path, query, {"Authorization": "Bearer x"}, b"")
    assert response.status < 500
