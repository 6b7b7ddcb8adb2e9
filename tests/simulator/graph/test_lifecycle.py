"""Status webhooks for accepted messages: timings, pricing, conversations, and
the failures Meta reports by webhook (131047 outside the window, 131026)."""

from __future__ import annotations

from typing import Any

from graph_helpers import PHONE, PNID, START, USER, make_state, send, template, text

from fakemeta.simulator.eras import ERAS
from fakemeta.simulator.graph.state import GraphState

HOUR = 60 * 60
#: The era whose statuses carry `conversation` (v23.0); 2026's omit it.
V23 = ERAS["2025"]


def jobs(state: GraphState) -> list[tuple[str, float, dict[str, Any]]]:
    """(status, delay, the status object) for every queued job, in due order."""
    found = []
    for job in state.webhooks.pending():
        [entry] = job.payload["entry"]
        [change] = entry["changes"]
        [status] = change["value"]["statuses"]  # type: ignore[typeddict-item]
        assert job.kind == "status"
        assert job.meta["message_id"] == status["id"]
        assert job.meta["status"] == status["status"]
        found.append((status["status"], job.due_at - START, dict(status)))
    return found


def sent_id(state: GraphState, payload: dict[str, Any]) -> str:
    response = send(state, payload)
    assert response.status == 200, response.body
    message_id = response.json()["messages"][0]["id"]
    assert isinstance(message_id, str)
    return message_id


def test_a_reply_in_the_window_is_sent_delivered_and_read():
    state = make_state(era=V23)
    state.record_inbound(PNID, USER)
    message_id = sent_id(state, text())
    queued = jobs(state)
    assert [(kind, delay) for kind, delay, _ in queued] == [
        ("sent", 0.5), ("delivered", 1.0), ("read", 3.0),
    ]  # fmt: skip
    sent, delivered, read = (status for _, _, status in queued)
    assert sent == {
        "id": message_id,
        "status": "sent",
        "timestamp": str(int(START)),
        "recipient_id": USER,
        "conversation": {
            "id": sent["conversation"]["id"],
            "expiration_timestamp": str(int(START + 24 * HOUR)),
            "origin": {"type": "service"},
        },
        "pricing": {"billable": False, "pricing_model": "PMP", "category": "service",
                    "type": "free_customer_service"},
    }  # fmt: skip
    assert delivered["conversation"] == {
        "id": sent["conversation"]["id"],
        "origin": {"type": "service"},
    }
    assert delivered["pricing"] == sent["pricing"]
    assert delivered["timestamp"] == str(int(START + 1))
    assert list(read) == ["id", "status", "timestamp", "recipient_id"]


def test_the_envelope_is_the_business_account_and_number():
    state = make_state()
    state.record_inbound(PNID, USER)
    send(state, text())
    payload = state.webhooks.pending()[0].payload
    assert payload["object"] == "whatsapp_business_account"
    [entry] = payload["entry"]
    assert entry["id"] == PHONE.waba_id
    assert entry["changes"][0]["field"] == "messages"
    assert entry["changes"][0]["value"]["metadata"] == PHONE.account.metadata  # type: ignore[typeddict-item]


def test_outside_the_window_a_free_form_message_is_accepted_then_fails_131047():
    state = make_state()
    state.record_inbound(PNID, USER)
    state.clock.advance(25 * HOUR)
    message_id = sent_id(state, text())
    [(kind, delay, status)] = jobs(state)
    assert (kind, delay) == ("failed", 25 * HOUR + 0.5)
    assert status["id"] == message_id
    [error] = status["errors"]
    assert error["code"] == 131047
    assert error["title"] == "Re-engagement message"
    assert "conversation" not in status
    assert "pricing" not in status


def test_a_user_who_never_wrote_gets_131047_too():
    state = make_state()
    sent_id(state, {"messaging_product": "whatsapp", "to": USER, "type": "reaction",
                    "reaction": {"message_id": "wamid.X", "emoji": "\U0001f44d"}})  # fmt: skip
    assert [kind for kind, _, _ in jobs(state)] == ["failed"]
    found = state.sent_messages()[0]
    assert found["error_code"] == 131047


def test_a_template_outside_the_window_is_delivered_and_billed():
    state = make_state(era=V23)
    sent_id(state, template())
    queued = jobs(state)
    assert [kind for kind, _, _ in queued] == ["sent", "delivered", "read"]
    sent = queued[0][2]
    assert sent["conversation"]["origin"] == {"type": "utility"}
    assert sent["pricing"] == {"billable": True, "pricing_model": "PMP", "category": "utility",
                               "type": "regular"}  # fmt: skip


def test_a_utility_template_inside_the_window_is_free():
    state = make_state()
    state.record_inbound(PNID, USER)
    sent_id(state, template())
    pricing = jobs(state)[0][2]["pricing"]
    assert (pricing["category"], pricing["type"], pricing["billable"]) == (
        "utility", "free_customer_service", False,
    )  # fmt: skip


def test_template_categories_come_from_settings():
    state = make_state(templates={"promo": "marketing", "otp": "authentication"})
    state.record_inbound(PNID, USER)
    sent_id(state, template("promo"))
    sent_id(state, template("otp"))
    categories = [s["pricing"]["category"] for kind, _, s in jobs(state) if kind == "sent"]
    assert categories == ["marketing", "authentication"]
    types = {s["pricing"]["type"] for kind, _, s in jobs(state) if kind == "sent"}
    assert types == {"regular"}


def test_undeliverable_numbers_fail_131026_even_for_templates():
    state = make_state(undeliverable=frozenset({USER}))
    state.record_inbound(PNID, USER)
    sent_id(state, text())
    sent_id(state, template())
    assert [(kind, s["errors"][0]["code"]) for kind, _, s in jobs(state)] == [
        ("failed", 131026), ("failed", 131026),
    ]  # fmt: skip


def test_timings_are_configurable_and_read_can_be_off():
    state = make_state(sent_after=0, delivered_after=2, read_after=None)
    state.record_inbound(PNID, USER)
    sent_id(state, text())
    assert [(kind, delay) for kind, delay, _ in jobs(state)] == [("sent", 0), ("delivered", 2)]


def test_without_delivered_the_read_carries_the_pricing():
    state = make_state(delivered_after=None, read_after=4, era=V23)
    state.record_inbound(PNID, USER)
    sent_id(state, text())
    queued = jobs(state)
    assert [kind for kind, _, _ in queued] == ["sent", "read"]
    assert queued[1][2]["pricing"]["category"] == "service"
    assert "expiration_timestamp" not in queued[1][2]["conversation"]


def test_one_conversation_id_per_user_and_category_for_24_hours():
    state = make_state(era=V23)
    state.record_inbound(PNID, USER)
    sent_id(state, text("one"))
    sent_id(state, text("two"))
    ids = {s["conversation"]["id"] for kind, _, s in jobs(state) if kind != "read"}
    assert len(ids) == 1
    assert len(next(iter(ids))) == 32


def test_status_and_ticks_move_with_the_clock():
    state = make_state()
    state.record_inbound(PNID, USER)
    message_id = sent_id(state, text())
    seen = []
    for step in (0, 0.5, 0.5, 2):
        state.clock.advance(step)
        found = state.message(message_id)
        assert found is not None
        seen.append((found["status"], found["ticks"]))
    assert seen == [("accepted", 0), ("sent", 1), ("delivered", 2), ("read", 3)]
    entries = state.conversation(PNID, USER)
    assert entries[-1]["id"] == message_id
    assert entries[-1]["direction"] == "outbound"


def test_biz_opaque_callback_data_is_echoed_in_every_status():
    state = make_state()
    state.record_inbound(PNID, USER)
    sent_id(state, text(biz_opaque_callback_data="order-42"))
    assert {s["biz_opaque_callback_data"] for _, _, s in jobs(state)} == {"order-42"}


def test_a_rejected_send_schedules_nothing():
    state = make_state()
    state.record_inbound(PNID, USER)
    assert send(state, text("")).status == 400
    assert state.webhooks.pending() == []
    assert state.sent_messages() == []


def test_replies_remember_their_context():
    state = make_state()
    state.record_inbound(PNID, USER)
    sent_id(state, text(context={"message_id": "wamid.PREV"}))
    assert state.sent_messages()[0]["context"] == {"message_id": "wamid.PREV"}
