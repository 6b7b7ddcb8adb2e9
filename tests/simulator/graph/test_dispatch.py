"""The dispatcher over real HTTP on loopback, driven synchronously (`drain`)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from serve_helpers import APP_SECRET, VERIFY_TOKEN, BotReceiver, wait_for

from fakemeta.simulator import envelopes, messages, statuses
from fakemeta.simulator.encoding import encode
from fakemeta.simulator.graph.dispatch import WAITING, Dispatcher
from fakemeta.simulator.graph.records import OutboundMessage
from fakemeta.simulator.graph.state import DEFAULT_PHONE_NUMBER, GraphState
from fakemeta.simulator.sender import RetrySchedule
from fakemeta.simulator.types import Payload

pytestmark = pytest.mark.timeout(30)

ACCOUNT = DEFAULT_PHONE_NUMBER.account
CUSTOMER = envelopes.Customer("966501234567", "ليلى")


def inbound(text: str = "مرحبا / hi") -> Payload:
    return envelopes.message_payload(ACCOUNT, messages.text(CUSTOMER, text), CUSTOMER)


@pytest.fixture
def receiver() -> Iterator[BotReceiver]:
    with BotReceiver() as bot:
        yield bot


@pytest.fixture
def state() -> GraphState:
    return GraphState()


@pytest.fixture
def dispatcher(state: GraphState) -> Iterator[Dispatcher]:
    d = Dispatcher(state, app_secret=APP_SECRET, timeout=3.0)
    yield d
    d.stop()


def test_nothing_is_delivered_before_the_handshake_passes(
    receiver: BotReceiver, state: GraphState, dispatcher: Dispatcher
) -> None:
    sub = dispatcher.subscribe(receiver.url, "wrong-token")
    assert not sub.verified
    assert "status 403" in sub.reason
    assert receiver.handshakes[0]["hub.mode"] == "subscribe"
    state.webhooks.schedule("inbound", inbound(), label="hello")
    assert dispatcher.drain() == 0
    assert receiver.posts == []
    [pending] = dispatcher.pending()
    assert pending["state"] == "waiting"
    assert pending["reason"] == WAITING

    receiver.verify_token = "wrong-token"  # the receiver is reconfigured to match
    assert dispatcher.verify().verified
    assert dispatcher.drain() == 1
    assert len(receiver.posts) == 1
    assert dispatcher.pending() == []


def test_delivery_is_meta_encoded_and_signed(
    receiver: BotReceiver, state: GraphState, dispatcher: Dispatcher
) -> None:
    payload = inbound()
    dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
    state.webhooks.schedule("inbound", payload, label="hello")
    dispatcher.drain()
    [posted] = receiver.posts
    assert posted.body == encode(payload)
    assert b"\\u0644" in posted.body
    assert b"\\/" in posted.body
    assert posted.signature_ok
    assert posted.headers["User-Agent"] == "facebookexternalua"
    [record] = dispatcher.log.records()
    assert record.state == "delivered"
    assert record.response_status == 200
    assert record.request_body == posted.body
    assert record.to_json()["response"]["body"] == "EVENT_RECEIVED"


def test_unreachable_callback_is_a_reason_not_a_crash(dispatcher: Dispatcher) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sub = dispatcher.subscribe(f"http://127.0.0.1:{port}/hook", VERIFY_TOKEN)
    assert not sub.verified
    assert "ReceiverUnreachable" in sub.reason


def test_failures_are_retried_on_metas_schedule_in_clock_time(
    receiver: BotReceiver, state: GraphState, dispatcher: Dispatcher
) -> None:
    dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
    receiver.default_status = 500
    state.webhooks.schedule("inbound", inbound(), label="hello")
    dispatcher.drain()
    first, second = dispatcher.log.records()
    assert (first.attempt, first.state, first.response_status) == (1, "retrying", 500)
    assert second.attempt == 2  # "at once"
    assert second.next_retry_at is not None
    assert second.next_retry_at - second.at == pytest.approx(15, abs=0.5)
    assert len(receiver.posts) == 2
    assert receiver.posts[0].body == receiver.posts[1].body

    receiver.default_status = 200
    state.clock.advance(16)
    dispatcher.drain()
    third = dispatcher.log.records()[-1]
    assert (third.attempt, third.state) == (3, "delivered")


def test_retries_end_in_given_up(receiver: BotReceiver, state: GraphState) -> None:
    dispatcher = Dispatcher(
        state, app_secret=APP_SECRET, schedule=RetrySchedule(delays=(0.0,), then_every=None)
    )
    dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
    receiver.default_status = 400
    state.webhooks.schedule("inbound", inbound(), label="hello")
    dispatcher.drain()
    assert [r.state for r in dispatcher.log.records()] == ["retrying", "given up"]
    assert dispatcher.pending() == []


def test_a_receiver_that_goes_away_is_recorded_and_retried(
    state: GraphState, dispatcher: Dispatcher
) -> None:
    with BotReceiver() as receiver:
        dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
    state.webhooks.schedule("inbound", inbound(), label="hello")
    dispatcher.drain()
    record = dispatcher.log.records()[0]
    assert record.state == "retrying"
    assert "ReceiverUnreachable" in (record.error or "")
    assert record.response_status is None


def test_drop_fault(receiver: BotReceiver, state: GraphState, dispatcher: Dispatcher) -> None:
    dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
    dispatcher.faults.set(drop=1)
    for text in ("one", "two"):
        state.webhooks.schedule("inbound", inbound(text), label=text)
    dispatcher.drain()
    assert [r.state for r in dispatcher.log.records()] == ["dropped", "delivered"]
    assert [p.messages()[0]["text"]["body"] for p in receiver.posts] == ["two"]
    assert dispatcher.faults.drop == 0


def test_duplicate_fault_sends_the_same_bytes_twice(
    receiver: BotReceiver, state: GraphState, dispatcher: Dispatcher
) -> None:
    dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
    dispatcher.faults.set(duplicate=1)
    state.webhooks.schedule("inbound", inbound("one"), label="one")
    state.webhooks.schedule("inbound", inbound("two"), label="two")
    dispatcher.drain()
    bodies = [p.messages()[0]["text"]["body"] for p in receiver.posts]
    assert sorted(bodies) == ["one", "one", "two"]
    first, copy = (p for p in receiver.posts if p.messages()[0]["text"]["body"] == "one")
    assert first.body == copy.body
    assert first.headers["X-Hub-Signature-256"] == copy.headers["X-Hub-Signature-256"]
    duplicates = [r for r in dispatcher.log.records() if r.duplicate_of is not None]
    assert len(duplicates) == 1


def test_reorder_fault_holds_then_reverses(
    receiver: BotReceiver, state: GraphState, dispatcher: Dispatcher
) -> None:
    dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
    dispatcher.faults.set(reorder=3)
    for text in ("one", "two"):
        state.webhooks.schedule("inbound", inbound(text), label=text)
    dispatcher.drain()
    assert receiver.posts == []
    assert [p["state"] for p in dispatcher.pending()] == ["held", "held"]
    for text in ("three", "four"):
        state.webhooks.schedule("inbound", inbound(text), label=text)
    dispatcher.drain()
    bodies = [p.messages()[0]["text"]["body"] for p in receiver.posts]
    assert bodies == ["three", "two", "one", "four"]


def test_clearing_faults_releases_held_jobs(
    receiver: BotReceiver, state: GraphState, dispatcher: Dispatcher
) -> None:
    dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
    dispatcher.faults.set(reorder=5)
    for text in ("one", "two"):
        state.webhooks.schedule("inbound", inbound(text), label=text)
    dispatcher.drain()
    dispatcher.clear_faults()
    dispatcher.drain()
    assert [p.messages()[0]["text"]["body"] for p in receiver.posts] == ["two", "one"]


def test_delay_fault_waits_in_clock_time(
    receiver: BotReceiver, state: GraphState, dispatcher: Dispatcher
) -> None:
    dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
    dispatcher.faults.set(delay=30)
    state.webhooks.schedule("inbound", inbound(), label="hello")
    dispatcher.drain()
    assert receiver.posts == []
    [pending] = dispatcher.pending()
    assert pending["state"] == "delayed"
    assert pending["due_in"] == pytest.approx(30, abs=1)
    state.clock.advance(31)
    dispatcher.drain()
    assert len(receiver.posts) == 1


def test_replay_sends_the_recorded_bytes_again(
    receiver: BotReceiver, state: GraphState, dispatcher: Dispatcher
) -> None:
    dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
    state.webhooks.schedule("inbound", inbound(), label="hello")
    dispatcher.drain()
    [record] = dispatcher.log.records()
    job = dispatcher.replay(record.id)
    assert job is not None
    assert dispatcher.replay(999) is None
    dispatcher.drain()
    assert len(receiver.posts) == 2
    assert receiver.posts[0].body == receiver.posts[1].body
    assert dispatcher.log.records()[-1].replay_of == record.id


def test_delivered_status_is_reported_to_the_graph_state(
    receiver: BotReceiver, state: GraphState, dispatcher: Dispatcher
) -> None:
    message_id = "wamid.HBgMOTY2NTAxMjM0NTY3FQIAERgSQjU1RkE1RjQ0QTJGNUZBNDk2AA=="
    state.record_outbound(
        OutboundMessage(
            id=message_id,
            phone_number_id=ACCOUNT.phone_number_id,
            to="966501234567",
            wa_id="966501234567",
            type="text",
            content={"body": "hi"},
            request={},
            created_at=time.time(),
            category="service",
        )
    )
    status = statuses.delivered(message_id, CUSTOMER)
    state.webhooks.schedule("status", envelopes.status_payload(ACCOUNT, status), label="s")
    dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
    dispatcher.drain()
    assert receiver.posts[0].statuses()[0]["status"] == "delivered"
    found = state.message(message_id)
    assert found is not None
    assert found["notified"] == ["delivered"]


def test_the_log_is_bounded(receiver: BotReceiver, state: GraphState) -> None:
    dispatcher = Dispatcher(state, app_secret=APP_SECRET, log_limit=3)
    dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
    for n in range(5):
        state.webhooks.schedule("inbound", inbound(str(n)), label=str(n))
    dispatcher.drain()
    assert [r.id for r in dispatcher.log.records()] == [3, 4, 5]


def test_the_thread_delivers_and_stops(
    receiver: BotReceiver, state: GraphState, dispatcher: Dispatcher
) -> None:
    dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
    dispatcher.start()
    state.webhooks.schedule("inbound", inbound(), label="hello")
    wait_for(lambda: receiver.posts, what="a delivery")
    receiver.default_status = 503
    state.webhooks.schedule("inbound", inbound("again"), label="again")
    wait_for(lambda: len(receiver.posts) == 3, what="a delivery and its immediate retry")
    state.clock.advance(15)
    dispatcher.wake()
    wait_for(lambda: len(receiver.posts) == 4, what="the retry after the clock moved")
    started = time.monotonic()
    dispatcher.stop()
    assert time.monotonic() - started < 2
