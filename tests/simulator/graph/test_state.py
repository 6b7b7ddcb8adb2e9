"""GraphState: settings, the 24 h window, transcripts, rate limits, media, reset."""

from __future__ import annotations

import hashlib
import threading

import pytest
from graph_helpers import PHONE, PNID, START, USER, FrozenClock, make_state

from fakemeta.simulator.graph.records import OutboundMessage
from fakemeta.simulator.graph.state import GraphSettings, GraphState, PhoneNumber
from fakemeta.simulator.graph.webhooks import WebhookQueue

HOUR = 60 * 60


def inbound(message_id: str = "wamid.IN1", body: str = "hi") -> dict[str, object]:
    return {"from": USER, "id": message_id, "timestamp": "1750000000", "type": "text",
            "text": {"body": body}}  # fmt: skip


def outbound(message_id: str = "wamid.OUT1", created_at: float = START) -> OutboundMessage:
    return OutboundMessage(
        message_id, PNID, "+" + USER, USER, "text", {"body": "yo"}, {}, created_at, "service"
    )


# -- settings ------------------------------------------------------------------


def test_default_settings_have_one_number_and_one_token():
    settings = GraphSettings()
    assert list(settings.phone_numbers) == [PHONE.phone_number_id]
    assert settings.throughput_per_second == 80
    assert (settings.pair_rate_burst, settings.pair_rate_interval) == (45, 6.0)
    assert PHONE.account.metadata == {
        "display_phone_number": PHONE.display_phone_number,
        "phone_number_id": PNID,
    }


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"access_tokens": frozenset()}, "non-empty token"),
        ({"phone_numbers": {"1": PHONE}}, "keyed by PhoneNumber.phone_number_id"),
        ({"throughput_per_second": 0}, "throughput_per_second >= 1"),
        ({"pair_rate_burst": 0}, "pair_rate_burst >= 1"),
        ({"pair_rate_interval": 0}, "pair_rate_interval > 0"),
        ({"read_after": -1}, "read_after >= 0"),
        ({"templates": {"x": "promo"}}, "template category"),
    ],
)
def test_settings_are_checked_eagerly(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GraphSettings(**kwargs)


def test_settings_are_frozen_and_copied():
    numbers = {PNID: PHONE}
    settings = GraphSettings(phone_numbers=numbers, access_tokens={"a", "b"})  # type: ignore[arg-type]
    numbers["2"] = PhoneNumber("2", "1", "3")
    assert list(settings.phone_numbers) == [PNID]
    assert settings.access_tokens == frozenset({"a", "b"})
    with pytest.raises(AttributeError):
        settings.throughput_per_second = 1  # type: ignore[misc]


def test_tokens_and_numbers():
    state = make_state(access_tokens=frozenset({"t1", "t2"}))
    assert state.valid_token("t2")
    assert not state.valid_token("t3")
    assert not state.valid_token(None)
    assert state.phone_number(PNID) == PHONE
    assert state.phone_number("1") is None


def test_clock_and_queue_are_shared():
    clock = FrozenClock()
    queue = WebhookQueue(clock)
    state = GraphState(webhooks=queue)
    assert state.clock is clock
    assert state.webhooks is queue
    with pytest.raises(ValueError, match="same clock"):
        GraphState(clock=FrozenClock(), webhooks=queue)


# -- the window ----------------------------------------------------------------


def test_a_user_who_never_wrote_has_no_window():
    state = make_state()
    assert not state.window_open(PNID, USER)
    assert state.window_expires_at(PNID, USER) is None


def test_an_inbound_message_opens_the_window_for_24_hours():
    state = make_state()
    state.record_inbound(PNID, USER)
    assert state.window_expires_at(PNID, USER) == START + 24 * HOUR
    state.clock.advance(24 * HOUR - 1)
    assert state.window_open(PNID, USER)
    state.clock.advance(1)
    assert not state.window_open(PNID, USER)


def test_a_later_message_extends_the_window():
    state = make_state()
    state.record_inbound(PNID, USER)
    state.clock.advance(20 * HOUR)
    state.record_inbound(PNID, USER)
    state.clock.advance(5 * HOUR)
    assert state.window_open(PNID, USER)
    assert not state.window_open("other", USER)


# -- transcripts ---------------------------------------------------------------


def test_the_transcript_holds_both_directions_in_order():
    state = make_state()
    state.record_inbound(PNID, USER, inbound("wamid.IN1", "hello"))
    state.record_outbound(outbound("wamid.OUT1"))
    state.record_inbound(PNID, USER, inbound("wamid.IN2", "thanks"))
    entries = state.conversation(PNID, USER)
    assert [(e["direction"], e["id"]) for e in entries] == [
        ("inbound", "wamid.IN1"), ("outbound", "wamid.OUT1"), ("inbound", "wamid.IN2"),
    ]  # fmt: skip
    assert entries[0]["content"] == {"body": "hello"}
    assert entries[0]["status"] == "received"
    assert entries[1]["status"] == "accepted"
    assert entries[1]["ticks"] == 0
    assert state.conversation(PNID, "999") == []


def test_mark_read_marks_an_inbound_message():
    state = make_state()
    state.record_inbound(PNID, USER, inbound())
    assert state.mark_read("wamid.IN1")
    assert not state.mark_read("wamid.nope")
    assert state.conversation(PNID, USER)[0]["status"] == "read"


def test_status_follows_the_timeline_and_the_clock():
    state = make_state()
    message = outbound()
    message.timeline[:] = [("sent", START + 1), ("delivered", START + 2), ("read", START + 5)]
    state.record_outbound(message)
    seen = []
    for _ in range(6):
        found = state.message("wamid.OUT1")
        assert found is not None
        seen.append((found["status"], found["ticks"]))
        state.clock.advance(1)
    assert seen == [
        ("accepted", 0), ("sent", 1), ("delivered", 2), ("delivered", 2), ("delivered", 2),
        ("read", 3),
    ]  # fmt: skip


def test_mark_status_records_what_the_receiver_was_told():
    state = make_state()
    state.record_outbound(outbound())
    assert state.mark_status("wamid.OUT1", "sent")
    assert state.mark_status("wamid.OUT1", "delivered")
    assert not state.mark_status("wamid.unknown", "sent")
    found = state.message("wamid.OUT1")
    assert found is not None
    assert found["notified"] == ["sent", "delivered"]


def test_sent_messages_filter_by_recipient_in_any_format():
    state = make_state()
    state.record_outbound(outbound("wamid.A"))
    other = outbound("wamid.B")
    other.wa_id, other.to = "4915112345678", "4915112345678"
    state.record_outbound(other)
    assert [m["id"] for m in state.sent_messages()] == ["wamid.A", "wamid.B"]
    assert [m["id"] for m in state.sent_messages(to="+1 (650) 555-1234")] == ["wamid.A"]
    assert [m["id"] for m in state.sent_messages(to="+" + USER)] == ["wamid.A"]
    assert state.sent_messages(phone_number_id="1") == []


def test_conversations_lists_each_pair_once():
    state = make_state()
    state.record_inbound(PNID, USER, inbound())
    state.record_outbound(outbound())
    state.record_inbound(PNID, "4915112345678")
    summaries = state.conversations()
    assert [(c["wa_id"], c["messages"], c["window_open"]) for c in summaries] == [
        (USER, 2, True), ("4915112345678", 0, True),
    ]  # fmt: skip
    assert summaries[0]["last_message_id"] == "wamid.OUT1"


# -- rate limits ---------------------------------------------------------------


def test_throughput_allows_n_per_second_per_number():
    state = make_state(throughput_per_second=3, pair_rate_interval=None)
    assert [state.admit(PNID, str(n)) for n in range(4)] == [None, None, None, 130429]
    assert state.admit("other-number", "1") is None
    state.clock.advance(1)
    assert state.admit(PNID, "9") is None


def test_the_pair_limit_is_a_bucket_of_45_refilled_every_6_seconds():
    state = make_state()
    assert all(state.admit(PNID, USER) is None for _ in range(45))
    assert state.admit(PNID, USER) == 131056
    assert state.admit(PNID, "4915112345678") is None  # another user is unaffected
    state.clock.advance(5.9)
    assert state.admit(PNID, USER) == 131056
    state.clock.advance(0.1)
    assert state.admit(PNID, USER) is None
    assert state.admit(PNID, USER) == 131056


def test_a_refused_send_counts_against_neither_limit():
    state = make_state(throughput_per_second=2, pair_rate_burst=1, pair_rate_interval=6.0)
    assert state.admit(PNID, USER) is None
    assert state.admit(PNID, USER) == 131056
    assert state.admit(PNID, "4915112345678") is None  # the refusal used no throughput
    assert state.admit(PNID, "4915112345679") == 130429


def test_pair_limit_off():
    state = make_state(pair_rate_interval=None)
    assert all(state.admit(PNID, USER) is None for _ in range(80))


def test_admit_is_thread_safe():
    state = make_state(throughput_per_second=100, pair_rate_interval=None)
    results: list[int | None] = []

    def worker() -> None:
        for n in range(25):
            results.append(state.admit(PNID, str(n)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(None) == 100
    assert results.count(130429) == 100


# -- undeliverable, templates, media, billing ----------------------------------


def test_undeliverable_numbers_and_predicate():
    state = make_state(
        undeliverable=frozenset({"15550000000"}), undeliverable_if=lambda n: n.startswith("999")
    )
    assert state.undeliverable("15550000000")
    assert state.undeliverable("9991234567")
    assert not state.undeliverable(USER)


def test_template_categories():
    assert make_state().template_category("anything") == "utility"
    state = make_state(templates={"promo": "marketing"}, default_template_category="marketing")
    assert state.template_category("promo") == "marketing"
    assert state.template_category("other") is None


def test_media_store():
    state = make_state()
    media = state.add_media(PNID, b"\x89PNG", "image/png", "a.png")
    assert media.id.isdigit()
    assert len(media.id) in (15, 16)
    assert media.file_size == 4
    assert media.sha256 == hashlib.sha256(b"\x89PNG").hexdigest()
    assert state.media(media.id) is media
    assert state.delete_media(media.id)
    assert not state.delete_media(media.id)
    assert state.media(media.id) is None


def test_media_url_hash_binds_id_and_expiry():
    state = make_state()
    assert state.media_url_hash("1", 10) == state.media_url_hash("1", 10)
    assert state.media_url_hash("1", 10) != state.media_url_hash("1", 11)
    assert state.media_url_hash("1", 10) != make_state().media_url_hash("1", 10)


def test_billing_conversation_lasts_24_hours_per_category():
    state = make_state()
    first = state.billing_conversation(PNID, USER, "service")
    assert first[1] == START + 24 * HOUR
    assert state.billing_conversation(PNID, USER, "service") == first
    assert state.billing_conversation(PNID, USER, "marketing")[0] != first[0]
    state.clock.advance(24 * HOUR)
    assert state.billing_conversation(PNID, USER, "service")[0] != first[0]


def test_reset_forgets_everything_and_empties_the_queue():
    state = make_state()
    state.record_inbound(PNID, USER, inbound())
    state.record_outbound(outbound())
    state.add_media(PNID, b"x", "text/plain")
    state.webhooks.schedule("status", {"object": "x", "entry": []}, label="x")  # type: ignore[typeddict-item]
    state.admit(PNID, USER)
    state.reset()
    assert state.conversations() == []
    assert state.sent_messages() == []
    assert state.webhooks.pending() == []
    assert not state.window_open(PNID, USER)


def test_the_webhook_queue_drops_the_oldest_past_its_limit() -> None:
    dropped: list[int] = []
    queue = WebhookQueue(FrozenClock(), limit=3, on_drop=lambda job: dropped.append(job.id))
    jobs = [queue.schedule("inbound", {"n": n}, label=f"j{n}") for n in range(5)]
    assert [job.id for job in queue.pending()] == [j.id for j in jobs[2:]]
    assert dropped == [jobs[0].id, jobs[1].id]
    assert queue.waiting() == 3
    due = queue.pop_due()  # all are due now; a dropped one never comes out
    assert [job.id for job in due] == [j.id for j in jobs[2:]]
    assert queue.waiting() == 0
    queue.put(due[0])  # a retry goes back in and counts again
    assert queue.waiting() == 1
    assert queue.pop_due() == [due[0]]


def test_the_webhook_queue_keeps_no_stale_entries_in_a_long_run() -> None:
    queue = WebhookQueue(FrozenClock(), limit=10)
    for n in range(5000):
        queue.schedule("status", {"n": n}, label="s")
        if n % 3 == 0:
            queue.pop_due()
    assert queue.waiting() <= 10
    assert len(queue._heap) < 200
    assert len(queue._age) < 200
