"""Sender: Meta's acknowledgement rule, retry schedule, disorder, duplicates, batches."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest

from fakemeta.simulator.clock import CompressedClock, ManualClock, RealClock
from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.envelopes import Account, Customer, message_payload
from fakemeta.simulator.errors import ReceiverUnreachable, SourceAddressError
from fakemeta.simulator.sender import (
    DEFAULT_SCHEDULE,
    NO_RETRIES,
    Attempt,
    RetrySchedule,
    Sender,
    deliveries_of,
)
from fakemeta.simulator.targets import HttpTarget, WsgiTarget
from fakemeta.simulator.types import Payload

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import LoopbackReceiver

START = 1_700_000_000.0
ACCOUNT = Account("102290129340398", "106540352242922", "15550783881")


def payload(n: int) -> Payload:
    sender = Customer(f"4915{n:09d}", f"User {n}")
    message = {
        "from": sender.wa_id,
        "id": f"wamid.TEST{n:04d}",
        "timestamp": "1718036589",
        "type": "text",
        "text": {"body": f"message {n} ✓"},
    }
    return message_payload(ACCOUNT, message, sender)  # type: ignore[arg-type]


@pytest.fixture
def target(loopback_receiver: LoopbackReceiver) -> Iterator[HttpTarget]:
    with HttpTarget(loopback_receiver.url) as target:
        yield target


def deliveries(secret: str, count: int) -> list[Delivery]:
    return deliveries_of((payload(n) for n in range(count)), secret)


def received_ids(receiver: LoopbackReceiver) -> list[str]:
    return [
        json.loads(r.body)["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        for r in receiver.requests
    ]


# -- acknowledgement and retries -----------------------------------------------


def test_two_failures_then_200_gives_three_attempts_at_the_schedule(
    target: HttpTarget, loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    loopback_receiver.respond(500, 500, 200)
    clock = ManualClock(START)
    result = Sender(target, clock=clock).send(deliveries(loopback_secret, 1))
    assert [a.status for a in result.attempts] == [500, 500, 200]
    assert [a.number for a in result.attempts] == [1, 2, 3]
    assert [a.sent_at - START for a in result.attempts] == [0.0, 0.0, 15.0]
    assert [a.scheduled_at - START for a in result.attempts] == [0.0, 0.0, 15.0]
    assert [a.acknowledged for a in result.attempts] == [False, False, True]
    assert [a.next_retry_at for a in result.attempts] == [START, START + 15, None]
    assert result.acknowledged == (0,)
    assert result.given_up == ()
    assert result.ok
    assert clock.slept == [15.0]
    assert all(r.signature_ok for r in loopback_receiver.requests)


def test_always_500_stops_after_seven_days(
    target: HttpTarget, loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    loopback_receiver.default_status = 500
    result = Sender(target, clock=ManualClock(START)).send(deliveries(loopback_secret, 1))
    offsets = [a.sent_at - START for a in result.attempts]
    day = 86400
    expected = [0, 0, 15, 75, 375, 1275, 4875, 15675, 37275, 80475]
    expected += [80475 + k * day for k in range(1, 7)]
    assert offsets == expected == DEFAULT_SCHEDULE.offsets()
    assert offsets[-1] <= 7 * day < offsets[-1] + day
    assert len(loopback_receiver.requests) == 16
    assert result.given_up == (0,)
    assert result.acknowledged == ()
    assert not result.ok
    assert result.attempts[-1].gave_up
    assert result.attempts[-1].next_retry_at is None
    assert result.finished_at - START == offsets[-1]


@pytest.mark.parametrize("status", [201, 202, 204, 301, 302, 400, 401, 404, 429, 503])
def test_only_200_acknowledges(
    target: HttpTarget, loopback_receiver: LoopbackReceiver, loopback_secret: str, status: int
) -> None:
    loopback_receiver.respond(status, 200)
    result = Sender(target, clock=ManualClock(START)).send(deliveries(loopback_secret, 1))
    assert [a.status for a in result.attempts] == [status, 200]
    assert [a.acknowledged for a in result.attempts] == [False, True]


def test_connection_refused_is_recorded_and_retried(
    loopback_closed_url: str, loopback_secret: str
) -> None:
    schedule = RetrySchedule(delays=(0.0, 10.0), then_every=None)
    with HttpTarget(loopback_closed_url) as target:
        result = Sender(target, clock=ManualClock(START), schedule=schedule).send(
            deliveries(loopback_secret, 1)
        )
    assert len(result.attempts) == 3
    assert all(isinstance(a.error, ReceiverUnreachable) for a in result.attempts)
    assert all(a.exchange is None and a.status is None for a in result.attempts)
    assert [a.sent_at - START for a in result.attempts] == [0.0, 0.0, 10.0]
    assert result.given_up == (0,)
    assert "connection refused" in result.attempts[0].describe(START)


def test_max_age_bounds_the_retries(
    target: HttpTarget, loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    loopback_receiver.default_status = 500
    schedule = RetrySchedule(max_age=60)
    result = Sender(target, clock=ManualClock(START), schedule=schedule).send(
        deliveries(loopback_secret, 1)
    )
    assert [a.sent_at - START for a in result.attempts] == [0.0, 0.0, 15.0]
    assert schedule.offsets() == [0.0, 0.0, 15.0]


def test_no_retries_schedule_tries_once(
    target: HttpTarget, loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    loopback_receiver.default_status = 500
    result = Sender(target, clock=ManualClock(), schedule=NO_RETRIES).send(
        deliveries(loopback_secret, 3)
    )
    assert len(result.attempts) == 3
    assert result.given_up == (0, 1, 2)


def test_retries_interleave_with_other_deliveries(
    target: HttpTarget, loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    # Delivery 0 fails once; its immediate retry queues behind deliveries 1 and 2.
    loopback_receiver.respond(500)
    result = Sender(target, clock=ManualClock(START)).send(deliveries(loopback_secret, 3))
    assert [(a.index, a.number) for a in result.attempts] == [(0, 1), (1, 1), (2, 1), (0, 2)]
    assert received_ids(loopback_receiver) == [
        "wamid.TEST0000",
        "wamid.TEST0001",
        "wamid.TEST0002",
        "wamid.TEST0000",
    ]
    assert result.acknowledged == (0, 1, 2)


def test_a_later_retry_waits_for_its_time_while_others_go_first(
    target: HttpTarget, loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    loopback_receiver.respond(500, 200, 500, 200, 200)
    result = Sender(target, clock=ManualClock(START)).send(deliveries(loopback_secret, 2))
    # 0 fails, 1 ok, 0 retried at once and fails, then 0 again 15 s later.
    assert [(a.index, a.number, a.sent_at - START) for a in result.attempts] == [
        (0, 1, 0.0),
        (1, 1, 0.0),
        (0, 2, 0.0),
        (0, 3, 15.0),
    ]


# -- duplicates, order, batches ------------------------------------------------------


def test_duplicate_count_is_seeded(
    target: HttpTarget, loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    items = deliveries(loopback_secret, 6)
    first = Sender(target, clock=ManualClock(), duplicates=2, seed=7).send(items)
    again = Sender(target, clock=ManualClock(), duplicates=2, seed=7).send(items)
    copies = [(a.index, a.copy) for a in first.attempts]
    assert copies == [(a.index, a.copy) for a in again.attempts]
    twice = sorted(i for i, c in copies if c == 1)
    assert len(twice) == 2
    assert len(copies) == 8
    ids = received_ids(loopback_receiver)[:8]
    for index in twice:
        assert ids.count(f"wamid.TEST{index:04d}") == 2
    bodies = [r.body for r in loopback_receiver.requests[:8]]
    assert len(set(bodies)) == 6
    assert first.acknowledged == tuple(range(6))


@pytest.mark.parametrize(("duplicates", "expected"), [(0.0, 0), (1.0, 5), (0, 0), (10, 5)])
def test_duplicate_probability_and_bounds(
    target: HttpTarget, loopback_secret: str, duplicates: float, expected: int
) -> None:
    result = Sender(target, clock=ManualClock(), duplicates=duplicates, seed=1).send(
        deliveries(loopback_secret, 5)
    )
    assert sum(a.copy for a in result.attempts) == expected


def test_duplicate_probability_is_roughly_respected(loopback_secret: str) -> None:
    app_calls: list[int] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        app_calls.append(1)
        start_response("200 OK", [])
        return [b""]

    items = [Delivery.signed(b"{}", loopback_secret)] * 400
    with WsgiTarget(app) as target:
        result = Sender(target, clock=ManualClock(), duplicates=0.25, seed=3).send(items)
    duplicated = sum(a.copy for a in result.attempts)
    assert 60 < duplicated < 140
    assert len(app_calls) == 400 + duplicated


def test_reorder_shuffles_within_windows_reproducibly(
    target: HttpTarget, loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    items = deliveries(loopback_secret, 12)
    first = Sender(target, clock=ManualClock(), reorder=4, seed=11).send(items)
    order = [a.index for a in first.attempts]
    assert order != list(range(12))
    for low in (0, 4, 8):
        assert sorted(order[low : low + 4]) == list(range(low, low + 4))
    again = Sender(target, clock=ManualClock(), reorder=4, seed=11).send(items)
    assert [a.index for a in again.attempts] == order
    assert received_ids(loopback_receiver)[:12] == [f"wamid.TEST{i:04d}" for i in order]


def test_batching_joins_payloads_before_signing(
    target: HttpTarget, loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    result = Sender(target, clock=ManualClock()).send_payloads(
        [payload(n) for n in range(5)], loopback_secret, batch_size=2
    )
    assert len(result.deliveries) == 3
    assert [d.label for d in result.deliveries] == ["batch of 2", "batch of 2", "batch of 1"]
    received = [json.loads(r.body) for r in loopback_receiver.requests]
    assert [len(b["entry"]) for b in received] == [2, 2, 1]
    assert all(r.signature_ok for r in loopback_receiver.requests)
    ids = [e["changes"][0]["value"]["messages"][0]["id"] for b in received for e in b["entry"]]
    assert ids == [f"wamid.TEST{n:04d}" for n in range(5)]
    assert b"\\u2713" in loopback_receiver.requests[0].body  # still Meta's encoding


def test_deliveries_of_validates_and_keeps_single_payloads_valid(loopback_secret: str) -> None:
    [single] = deliveries_of([payload(1)], loopback_secret)
    assert single == Delivery.of(payload(1), loopback_secret)
    with pytest.raises(ValueError, match="batch_size"):
        deliveries_of([payload(1)], loopback_secret, batch_size=0)


# -- hooks, addresses, options -------------------------------------------------------


def test_on_attempt_sees_every_attempt_live(
    target: HttpTarget, loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    loopback_receiver.respond(503)
    seen: list[Attempt] = []
    result = Sender(target, clock=ManualClock(START), on_attempt=seen.append).send(
        deliveries(loopback_secret, 2)
    )
    assert tuple(seen) == result.attempts
    assert seen[0].describe(START) == (
        f"delivery 0 attempt 1 at +0s: HTTP 503 in {seen[0].latency * 1000:.0f} ms, retry at +0s"
    )
    assert seen[-1].describe(START).endswith("acknowledged")


def test_source_ips_rotate_per_attempt(
    target: HttpTarget, loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    sender = Sender(target, clock=ManualClock(), source_ips=["127.0.0.2", "127.0.0.3"])
    result = sender.send(deliveries(loopback_secret, 3))
    expected = ["127.0.0.2", "127.0.0.3", "127.0.0.2"]
    assert [r.remote_addr for r in loopback_receiver.requests] == expected
    assert [a.source_ip for a in result.attempts] == expected


def test_usage_errors_are_not_retried(target: HttpTarget, loopback_secret: str) -> None:
    sender = Sender(target, clock=ManualClock(), source_ips=["10.1.2.3"])
    with pytest.raises(SourceAddressError):
        sender.send(deliveries(loopback_secret, 1))


@pytest.mark.parametrize(
    "options",
    [{"duplicates": True}, {"duplicates": -1}, {"duplicates": 1.5}, {"reorder": -2}],
)
def test_invalid_options_are_refused(target: HttpTarget, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Expected"):
        Sender(target, **options)


# -- clocks -------------------------------------------------------------------------


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(10.0)
    clock.sleep(5)
    clock.sleep(0)
    clock.advance(1)
    assert clock.now() == 16.0
    assert clock.slept == [5]
    with pytest.raises(ValueError, match="seconds >= 0"):
        clock.advance(-1)


def test_compressed_clock_scales_time() -> None:
    clock = CompressedClock(1000, start=0.0)
    began = time.monotonic()
    clock.sleep(100)  # 0.1 real seconds
    elapsed = time.monotonic() - began
    assert 0.09 < elapsed < 1.0
    assert 90 < clock.now() < 1000
    with pytest.raises(ValueError, match="factor > 0"):
        CompressedClock(0)


def test_compressed_clock_compresses_only_its_waits() -> None:
    """Work outside `sleep` passes at the real rate: a retry due at once is not
    shown minutes later because a request took milliseconds."""
    clock = CompressedClock(3600, start=0.0)
    time.sleep(0.05)
    assert clock.now() < 1.0
    clock.sleep(3600)  # an hour, waited in one real second
    assert 3600 <= clock.now() < 3601.5


def test_compressed_clock_runs_the_schedule_fast(
    target: HttpTarget, loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    loopback_receiver.respond(500, 500)
    clock = CompressedClock(300.0)  # the 15 s wait takes 50 ms
    began = time.monotonic()
    result = Sender(target, clock=clock).send(deliveries(loopback_secret, 1))
    assert [a.status for a in result.attempts] == [500, 500, 200]
    assert result.attempts[2].sent_at - result.attempts[1].sent_at >= 15.0
    assert time.monotonic() - began < 5


def test_real_clock_is_wall_time() -> None:
    assert abs(RealClock().now() - time.time()) < 1
