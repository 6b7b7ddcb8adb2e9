"""TIME-1 passes the reference receiver, fails a receiver that is slow on big
batches (with the slowest exchange), and sends batches the size Meta sends."""

from __future__ import annotations

import json

import pytest
from reference_helpers import reference_config
from signing_receiver import PHONE_NUMBER_ID, SigningReceiver, context, details, failed, outcomes

from fakemeta.contract_tests.checks.timing import MAX_UPDATES, updates_batch
from fakemeta.contract_tests.runner import run
from fakemeta.reference_receiver.serve import Running
from fakemeta.simulator.encoding import encode


def test_the_reference_receiver_acknowledges_everything_in_time(reference: Running) -> None:
    config = reference_config(reference, seed=4, select=("TIME",))
    report = run(config)
    assert outcomes(report)["TIME-1"] == "passed", details(report)
    [result] = report.results
    assert result.outcome == "passed"


def test_a_receiver_slow_on_big_batches_fails_time1_with_the_slowest_exchange() -> None:
    receiver = SigningReceiver("slow_batches")
    report = run(receiver.config(time_limit=0.5, examples=2))
    assert failed(report) == {"TIME-1"}, details(report)
    result = next(r for r in report.results if r.outcome == "failed")
    assert result.detail.startswith(f"a batch of {MAX_UPDATES} updates")
    assert "acknowledged after 1." in result.detail
    assert "within 0.5 s" in result.expected
    assert result.exchange is not None
    assert result.exchange["response"]["status"] == 200
    assert result.exchange["latency_ms"] >= 1000
    assert result.reproduce.endswith("-k TIME-1")


def test_a_receiver_fast_enough_passes_under_the_same_limit() -> None:
    report = run(SigningReceiver().config(time_limit=0.5, select=("TIME",)))
    assert outcomes(report)["TIME-1"] == "passed", details(report)


@pytest.mark.parametrize("updates", [100, MAX_UPDATES])
def test_batches_are_spread_over_entries_changes_and_senders(updates: int) -> None:
    ctx = context(SigningReceiver().config(), "TIME-1")
    payload = updates_batch(ctx, updates)
    body = encode(payload)
    assert len(body) < 3 * 1024 * 1024, "within Meta's 3 MB"
    assert json.loads(body) == payload
    entries = payload["entry"]
    changes = [c for e in entries for c in e["changes"]]
    values = [c["value"] for c in changes]
    messages = [m for v in values for m in v.get("messages", [])]
    statuses = [s for v in values for s in v.get("statuses", [])]
    assert len(messages) + len(statuses) == updates
    assert len(statuses) == updates // 10
    assert len(entries) > 1
    assert len(changes) > len(entries)
    assert all(len(v.get("messages", v.get("statuses", []))) <= 25 for v in values)
    assert len({m["id"] for m in messages}) == len(messages)
    senders = {m["from"] for m in messages}
    assert len(senders) == len(messages) // 10
    for value in values:
        assert value["metadata"]["phone_number_id"] == PHONE_NUMBER_ID
        if "messages" in value:
            assert {c["wa_id"] for c in value["contacts"]} == {m["from"] for m in value["messages"]}
