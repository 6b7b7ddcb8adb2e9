"""Sending to a business-scoped user id (`recipient`, 2026): the request, the
response, the record and the statuses, after Meta's "Business-scoped user
IDs" guide (Updated May 7, 2026; sending available from July 2026).

Response (guide, "Send message response"): `contacts[] {input, user_id}`
with the id as given and no `wa_id`; statuses (guide, "Status messages
webhooks"): `recipient_user_id` always, `recipient_parent_user_id` for a
user with a parent id, `recipient_id` only when the number can be shared.
"""

from __future__ import annotations

from typing import Any

import pytest
from graph_helpers import PNID, USER, error_of, make_state, send, template, text

from fakemeta.simulator.eras import ERAS
from fakemeta.simulator.graph.state import GraphState, user_id_of

BSUID = user_id_of(USER)  # the id fakemeta gives USER, as their webhooks carry it
PHONELESS = "BR.98765432109876543210"  # a user who shares no number
PARENT = "US.ENT.11815799212886844830"
HOUR = 60 * 60


def to_user(recipient: Any, **extra: Any) -> dict[str, Any]:
    """A text to a business-scoped id: `recipient` without `to`."""
    body = text(**extra)
    del body["to"]
    return {**body, "recipient": recipient}


def wrote(state: GraphState, wa_id: str | None, **ids: str) -> None:
    """A customer message reached the business (opens the window)."""
    message = {"id": f"wamid.IN{len(state.conversations())}", "timestamp": "1750000000",
               "type": "text", "text": {"body": "hi"}, **ids}  # fmt: skip
    if wa_id is not None:
        message["from"] = wa_id
    state.record_inbound(PNID, wa_id, message)


def statuses(state: GraphState) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(status, its change's value) for every queued status webhook, in due order."""
    found = []
    for job in state.webhooks.pending():
        [entry] = job.payload["entry"]
        [change] = entry["changes"]
        value: dict[str, Any] = dict(change["value"])
        [status] = value["statuses"]
        found.append((dict(status), value))
    return found


def accepted(state: GraphState, payload: dict[str, Any]) -> dict[str, Any]:
    response = send(state, payload)
    assert response.status == 200, response.body
    answer: dict[str, Any] = response.json()
    return answer


# -- the request and the response --------------------------------------------------


def test_a_send_to_a_user_id_is_answered_with_input_and_user_id():
    state = make_state()
    wrote(state, USER)
    answer = accepted(state, to_user(BSUID))
    assert list(answer) == ["messaging_product", "contacts", "messages"]
    # The guide's example: {"input": "US.1349…", "user_id": "US.1349…"}, no wa_id,
    # even though this server knows the user's number.
    assert answer["contacts"] == [{"input": BSUID, "user_id": BSUID}]
    [message] = answer["messages"]
    assert list(message) == ["id"]
    assert message["id"].startswith("wamid.")


def test_a_template_to_a_user_id_carries_message_status_too():
    state = make_state()
    wrote(state, USER)
    body = template()
    del body["to"]
    answer = accepted(state, {**body, "recipient": BSUID})
    assert answer["contacts"] == [{"input": BSUID, "user_id": BSUID}]
    assert answer["messages"][0]["message_status"] == "accepted"


def test_to_takes_precedence_over_recipient():
    state = make_state()
    wrote(state, USER)
    # Even a recipient naming someone else, or no valid id at all: `to` wins.
    for recipient in (PHONELESS, "not an id"):
        answer = accepted(state, text(to="+" + USER) | {"recipient": recipient})
        assert answer["contacts"] == [{"input": "+" + USER, "wa_id": USER}]
    found = state.sent_messages()
    assert [(m["to"], m["wa_id"], "recipient" in m) for m in found] == [
        ("+" + USER, USER, False), ("+" + USER, USER, False),
    ]  # fmt: skip
    status, _ = statuses(state)[0]
    assert status["recipient_id"] == USER


@pytest.mark.parametrize(
    "recipient",
    [
        "13491208655302741918",  # a number-like id without its country
        "us.13491208655302741918",  # the country code in lower case
        "USA.13491208655302741918",
        "US13491208655302741918",  # no period
        "US.",
        "US.ENT.",
        "US.ENT.ENT.1",
        "US.1349-1208",
        "US." + "1" * 129,  # up to 128 alphanumerics
        "+16505551234",  # a phone number belongs in `to`
        13491208655302741918,
    ],
)
def test_a_malformed_recipient_is_an_invalid_parameter(recipient):
    response = send(make_state(), to_user(recipient))
    assert response.status == 400
    error = error_of(response)
    assert (error["code"], error["type"]) == (100, "OAuthException")
    assert error["message"] == "(#100) Invalid parameter"
    assert "'recipient'" in error["error_data"]["details"]
    assert "business-scoped user id" in error["error_data"]["details"]


@pytest.mark.parametrize("recipient", ["US." + "a1B2" * 32, "IN.1", PARENT])
def test_the_longest_and_shortest_ids_are_well_formed(recipient):
    assert send(make_state(), to_user(recipient)).status == 200


@pytest.mark.parametrize("recipient", [None, ""])
def test_without_to_or_recipient_it_is_metas_missing_to(recipient):
    body = to_user(recipient)
    if recipient is None:
        del body["recipient"]
    response = send(make_state(), body)
    assert response.status == 400
    error = error_of(response)
    assert error["message"] == "(#100) The parameter to is required."
    assert error["error_data"]["details"] == "The parameter to is required."


@pytest.mark.parametrize("with_to", [False, True])
def test_the_2025_era_refuses_recipient(with_to):
    state = make_state(era=ERAS["2025"])
    state.record_inbound(PNID, USER)
    body = text() | {"recipient": BSUID} if with_to else to_user(BSUID)
    response = send(state, body)
    assert response.status == 400
    error = error_of(response)
    assert (error["code"], error["message"]) == (100, "(#100) Invalid parameter")
    details = error["error_data"]["details"]
    assert "'recipient'" in details
    assert "business-scoped user id" in details
    assert "fakemeta serve --era 2026" in details
    assert state.webhooks.pending() == []


def test_an_authentication_template_to_a_user_id_is_131062():
    state = make_state(templates={"otp": "authentication", "promo": "marketing"})
    wrote(state, USER)
    body = template("otp")
    del body["to"]
    response = send(state, {**body, "recipient": BSUID})
    assert response.status == 400
    error = error_of(response)
    assert error["code"] == 131062
    assert error["error_data"]["details"] == (
        "Business-scoped User ID (BSUID) recipients are not supported for this message."
    )
    assert state.webhooks.pending() == []
    # To the number it goes; other templates go to the id.
    assert send(state, template("otp")).status == 200
    assert send(state, {**template("promo"), "to": None, "recipient": BSUID}).status == 200


# -- the record and the statuses ---------------------------------------------------


def test_a_user_without_a_number_gets_recipient_user_id_and_no_recipient_id():
    state = make_state()
    wrote(state, None, from_user_id=PHONELESS)
    answer = accepted(state, to_user(PHONELESS))
    message_id = answer["messages"][0]["id"]
    found = statuses(state)
    assert [s["status"] for s, _ in found] == ["sent", "delivered", "read"]
    for status, value in found:
        assert status["id"] == message_id
        assert status["recipient_user_id"] == PHONELESS
        assert "recipient_id" not in status
        assert list(status)[:4] == ["id", "status", "timestamp", "recipient_user_id"]
        assert list(value) == ["messaging_product", "metadata", "contacts", "statuses"]
        assert value["contacts"] == [{"user_id": PHONELESS}]
    # The record keeps the recipient; the window the customer opened applies.
    [record] = state.sent_messages(to=PHONELESS)
    assert (record["to"], record["wa_id"]) == (None, None)
    assert (record["recipient"], record["user_id"]) == (PHONELESS, PHONELESS)
    assert "error_code" not in record
    assert [m["direction"] for m in state.conversation(PNID, PHONELESS)] == ["inbound", "outbound"]
    [summary] = state.conversations()
    assert (summary["wa_id"], summary["user_id"], summary["messages"]) == (None, PHONELESS, 2)


def test_a_user_known_by_number_gets_both_ids_and_one_conversation():
    state = make_state()
    wrote(state, USER, from_user_id=BSUID)
    accepted(state, text("by number"))
    answer = accepted(state, to_user(BSUID, body="by id"))
    for status, value in statuses(state):
        assert status["recipient_id"] == USER
        assert status["recipient_user_id"] == BSUID
        assert value["contacts"] == [{"wa_id": USER, "user_id": BSUID}]
    transcript = state.conversation(PNID, USER)
    assert [m["content"]["body"] for m in transcript] == ["hi", "by number", "by id"]
    assert state.conversation(PNID, BSUID) == transcript
    record = transcript[-1]
    assert record["id"] == answer["messages"][0]["id"]
    assert (record["to"], record["wa_id"], record["recipient"]) == (None, USER, BSUID)
    assert [s["wa_id"] for s in state.conversations()] == [USER]


def test_a_parent_id_reaches_its_user_with_both_ids_in_the_statuses():
    state = make_state()
    wrote(state, USER, from_user_id=BSUID, from_parent_user_id=PARENT)
    answer = accepted(state, to_user(PARENT))
    assert answer["contacts"] == [{"input": PARENT, "user_id": PARENT}]
    for status, value in statuses(state):
        assert list(status)[3:6] == ["recipient_id", "recipient_user_id",
                                     "recipient_parent_user_id"]  # fmt: skip
        assert (status["recipient_id"], status["recipient_user_id"]) == (USER, BSUID)
        assert status["recipient_parent_user_id"] == PARENT
        assert value["contacts"] == [{"wa_id": USER, "user_id": BSUID, "parent_user_id": PARENT}]
    [record] = state.sent_messages(to=PARENT)
    assert (record["user_id"], record["parent_user_id"]) == (BSUID, PARENT)


def test_a_failed_status_to_a_user_id_keeps_recipient_user_id():
    state = make_state()
    wrote(state, USER, from_user_id=BSUID)
    state.clock.advance(25 * HOUR)  # the window closed: a free-form message fails 131047
    accepted(state, to_user(BSUID))
    [(status, value)] = statuses(state)
    assert status["status"] == "failed"
    assert status["errors"][0]["code"] == 131047
    # Meta omits recipient_user_id from a failed status only for a send to a number.
    assert list(status) == ["id", "status", "timestamp", "recipient_id", "recipient_user_id",
                            "errors"]  # fmt: skip
    assert (status["recipient_id"], status["recipient_user_id"]) == (USER, BSUID)
    assert "contacts" not in value


def test_a_number_the_business_sent_to_is_in_its_contact_book():
    state = make_state()
    accepted(state, text())  # never wrote: fails 131047, but the user exists
    state.webhooks.clear()
    accepted(state, to_user(BSUID))  # the id the first message's statuses carried
    [(status, _)] = statuses(state)
    assert status["errors"][0]["code"] == 131047  # not 131026: the user is known
    assert (status["recipient_id"], status["recipient_user_id"]) == (USER, BSUID)


def test_an_unknown_user_id_is_accepted_then_fails_131026():
    state = make_state()
    answer = accepted(state, to_user(PHONELESS))
    assert answer["contacts"] == [{"input": PHONELESS, "user_id": PHONELESS}]
    [(status, value)] = statuses(state)
    assert status["status"] == "failed"
    [error] = status["errors"]
    assert (error["code"], error["title"]) == (131026, "Message undeliverable")
    assert list(status) == ["id", "status", "timestamp", "recipient_user_id", "errors"]
    assert status["recipient_user_id"] == PHONELESS
    assert "contacts" not in value
    [record] = state.sent_messages()
    assert (record["recipient"], record["wa_id"], record["error_code"]) == (
        PHONELESS, None, 131026,
    )  # fmt: skip


def test_an_unknown_parent_id_fails_131026_with_only_the_parent_id():
    state = make_state()
    accepted(state, to_user(PARENT))
    [(status, _)] = statuses(state)
    assert status["errors"][0]["code"] == 131026
    assert list(status) == ["id", "status", "timestamp", "recipient_parent_user_id", "errors"]
    assert status["recipient_parent_user_id"] == PARENT


def test_an_undeliverable_number_fails_by_its_user_id_too():
    state = make_state(undeliverable=frozenset({USER}))
    wrote(state, USER, from_user_id=BSUID)
    accepted(state, to_user(BSUID))
    [(status, _)] = statuses(state)
    assert status["errors"][0]["code"] == 131026
    assert status["recipient_user_id"] == BSUID


def test_the_pair_rate_limit_counts_a_user_by_number_and_id_together():
    state = make_state(pair_rate_burst=2)
    wrote(state, USER, from_user_id=BSUID)
    accepted(state, text())
    accepted(state, to_user(BSUID))
    refused = send(state, to_user(BSUID))
    assert refused.status == 400
    assert error_of(refused)["code"] == 131056
