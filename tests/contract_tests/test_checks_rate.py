"""The RATE checks pass receivers that limit per client IP with Retry-After,
and fail, each on its own requirement, receivers that do not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from memory_receiver import MemoryReceiver

from fakemeta.contract_tests import addresses
from fakemeta.contract_tests.config import RateLimit, SuiteConfig
from fakemeta.contract_tests.report import Report
from fakemeta.contract_tests.runner import run
from fakemeta.reference_receiver.serve import Running, start_background

RATE_IDS = ["RATE-1", "RATE-2", "RATE-3", "RATE-4"]
LIMIT = RateLimit(10, 60)


def outcomes(report: Report) -> dict[str, str]:
    return {r.requirement.id: r.outcome for r in report.requirements(RATE_IDS)}


def details(report: Report) -> str:
    return "\n".join(f"{r.check} {r.outcome}: {r.detail}" for r in report.results)


def reference_config(running: Running, limit: RateLimit | None) -> SuiteConfig:
    return SuiteConfig(
        running.url,
        running.verify_token,
        running.app_secret,
        running.phone_number_id,
        rate_limit=limit,
        seed=5,
        select=tuple(RATE_IDS),
    )


@pytest.fixture(scope="module")
def reference() -> Iterator[Running]:
    with start_background({"rate_limit": str(LIMIT)}) as running:
        yield running


def test_the_reference_receiver_passes_every_rate_requirement(reference: Running) -> None:
    report = run(reference_config(reference, LIMIT))
    assert outcomes(report) == dict.fromkeys(RATE_IDS, "passed"), details(report)
    # N+1 from the burst, then RATE-2's other address and its look back at the first.
    assert len(report.results) == 4


def test_rate_requirements_are_skipped_when_no_limit_is_expected(reference: Running) -> None:
    report = run(reference_config(reference, None))
    assert outcomes(report) == dict.fromkeys(RATE_IDS, "skipped")
    assert {r.detail for r in report.results} == {
        "--rate-limit off: the receiver is not expected to limit"
    }


def test_a_remote_receiver_is_limited_from_the_suites_own_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if the receiver were elsewhere: the suite cannot choose addresses,
    # waits out one window, bursts from its own address and skips RATE-2.
    monkeypatch.setattr(addresses, "_is_loopback", lambda url: False)
    limit = RateLimit(5, 1)
    with start_background({"rate_limit": str(limit)}) as running:
        report = run(reference_config(running, limit))
    assert outcomes(report) == {
        "RATE-1": "passed",
        "RATE-2": "skipped",
        "RATE-3": "passed",
        "RATE-4": "passed",
    }, details(report)
    (skipped,) = [r for r in report.results if r.outcome == "skipped"]
    assert "cannot choose a second client address" in skipped.detail


def test_the_memory_receiver_limiting_per_address_passes() -> None:
    report = run(
        MemoryReceiver(rate_limit=(10, 60)).config(rate_limit=LIMIT, select=tuple(RATE_IDS))
    )
    assert outcomes(report) == dict.fromkeys(RATE_IDS, "passed"), details(report)


@pytest.mark.parametrize(
    ("receiver", "expected"),
    [
        pytest.param(
            MemoryReceiver("never_limits", rate_limit=(10, 60)),
            {"RATE-1": "failed", "RATE-2": "skipped", "RATE-3": "skipped", "RATE-4": "skipped"},
            id="never limits",
        ),
        pytest.param(
            MemoryReceiver(rate_limit=(9, 60)),
            {"RATE-1": "failed", "RATE-2": "passed", "RATE-3": "passed", "RATE-4": "passed"},
            id="limits one request too early",
        ),
        pytest.param(
            MemoryReceiver(rate_limit=(11, 60)),
            # N+1 requests bound every burst: no 429 comes, nothing to judge.
            {"RATE-1": "failed", "RATE-2": "skipped", "RATE-3": "skipped", "RATE-4": "skipped"},
            id="limits one request too late",
        ),
        pytest.param(
            MemoryReceiver("global_limit", rate_limit=(10, 60)),
            {"RATE-1": "passed", "RATE-2": "failed", "RATE-3": "passed", "RATE-4": "passed"},
            id="one limit for every address",
        ),
        pytest.param(
            MemoryReceiver("no_retry_after", rate_limit=(10, 60)),
            {"RATE-1": "passed", "RATE-2": "passed", "RATE-3": "failed", "RATE-4": "passed"},
            id="429 without Retry-After",
        ),
        pytest.param(
            MemoryReceiver("keys_on_forwarded_for", rate_limit=(10, 60)),
            {"RATE-1": "passed", "RATE-2": "passed", "RATE-3": "passed", "RATE-4": "failed"},
            id="limit keyed on a forged X-Forwarded-For",
        ),
    ],
)
def test_a_broken_limit_fails_its_requirement(
    receiver: MemoryReceiver, expected: dict[str, str]
) -> None:
    report = run(receiver.config(rate_limit=LIMIT, select=tuple(RATE_IDS)))
    assert outcomes(report) == expected, details(report)


def test_never_limiting_says_which_request_should_have_been_refused() -> None:
    receiver = MemoryReceiver("never_limits", rate_limit=(10, 60))
    report = run(receiver.config(rate_limit=LIMIT, select=("RATE-1",)))
    (result,) = report.results
    assert "request 11 from 127." in result.detail
    assert "HTTP 429" in result.expected
    assert result.exchange is not None
    assert result.exchange["response"]["status"] == 200


@pytest.mark.parametrize(
    ("value", "outcome"),
    [
        ("0", "passed"),
        ("30", "passed"),
        ("Wed, 21 Oct 2015 07:28:00 GMT", "passed"),
        ("soon", "failed"),
        ("-1", "failed"),
        ("1.5", "failed"),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value: str, outcome: str) -> None:
    receiver = MemoryReceiver(rate_limit=(10, 60), retry_after=value)
    report = run(receiver.config(rate_limit=LIMIT, select=("RATE-3",)))
    assert outcomes(report)["RATE-3"] == outcome, details(report)
