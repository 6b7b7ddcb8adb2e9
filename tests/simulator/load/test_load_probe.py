"""`count_stored`: patient with a receiver that stores after answering, and
not fooled by one that never stores."""

from __future__ import annotations

import json
import time
from typing import Any

from fakemeta.simulator.load.probe import count_stored

IDS = [f"wamid.{n:04d}" for n in range(30)]


def _probe(loopback_receiver: Any, stored: Any) -> str:
    """Answer the probe protocol with `stored(message_id)` log entries per id."""

    def answer(request: Any) -> tuple[int, bytes, dict[str, str]]:
        count = stored(request.args["id"])
        return 200, json.dumps({"messages": [{}] * count}).encode(), {}

    loopback_receiver.handler = answer
    return loopback_receiver.base_url + "/probe"


def test_ids_stored_over_several_seconds_after_the_run_all_count(loopback_receiver: Any) -> None:
    # A backlog drained at 6 ids a second: the last id is stored 4.8 s
    # after the probe first asks, longer than any fixed recheck would wait.
    started = time.monotonic()

    def stored(message_id: str) -> int:
        due = IDS.index(message_id) / 6
        return int(time.monotonic() - started >= due)

    count = count_stored(_probe(loopback_receiver, stored), None, IDS, settle=2.0)
    assert count.checked == len(IDS)
    assert count.missing == ()
    assert count.doubled == ()


def test_ids_never_stored_are_missing_once_nothing_more_is_found_for_settle_seconds(
    loopback_receiver: Any,
) -> None:
    lost = set(IDS[::7])
    started = time.monotonic()
    count = count_stored(
        _probe(loopback_receiver, lambda m: 0 if m in lost else 2 if m == IDS[1] else 1),
        None,
        IDS,
        settle=1.0,
    )
    took = time.monotonic() - started
    assert set(count.missing) == lost
    assert count.doubled == (IDS[1],)
    assert count.gap == len(lost) + 1
    assert 1.0 <= took < 10.0  # waited out `settle`, and no more
