"""The CLIENT checks pass the reference receiver, skip without a probe, and
fail each broken receiver on the requirement it breaks (and not on others)."""

from __future__ import annotations

import pytest
from memory_receiver import MemoryReceiver
from reference_helpers import reference_config as base_config

from fakemeta.contract_tests.checks import _store
from fakemeta.contract_tests.checks._store import describe_difference
from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.report import Report
from fakemeta.contract_tests.runner import run
from fakemeta.reference_receiver.serve import Running

CLIENT_IDS = [f"CLIENT-{n}" for n in range(1, 11)]


def outcomes(report: Report, ids: list[str] = CLIENT_IDS) -> dict[str, str]:
    return {r.requirement.id: r.outcome for r in report.requirements(ids)}


def details(report: Report) -> str:
    return "\n".join(
        f"{r.check} {r.outcome}: {r.detail}" for r in report.results if r.outcome != "passed"
    )


@pytest.fixture(autouse=True)
def quick_settling(monkeypatch: pytest.MonkeyPatch) -> None:
    # The in-process receivers store before they answer: waiting the full
    # settle time for a record that never comes only slows these tests.
    monkeypatch.setattr(_store, "SETTLE_SECONDS", 0.3)


def reference_config(running: Running, **overrides: object) -> SuiteConfig:
    defaults: dict[str, object] = {"seed": 3, "examples": 3, "select": tuple(CLIENT_IDS)}
    return base_config(running, **{**defaults, **overrides})


def test_the_reference_receiver_passes_every_client_requirement(reference: Running) -> None:
    report = run(reference_config(reference))
    assert outcomes(report) == dict.fromkeys(CLIENT_IDS, "passed"), details(report)
    assert len(report.results) >= len(CLIENT_IDS)


def test_a_second_run_with_the_same_seed_passes_against_the_same_store(
    reference: Running,
) -> None:
    # Senders and message ids are fresh in every run, so a receiver that is
    # never reset does not see a rerun as redeliveries.
    ids = ["CLIENT-1", "CLIENT-3"]
    report = run(reference_config(reference, select=tuple(ids)))
    assert outcomes(report, ids) == dict.fromkeys(ids, "passed"), details(report)


def test_without_a_probe_every_client_requirement_is_skipped_with_the_reason(
    reference: Running,
) -> None:
    report = run(reference_config(reference, probe=None, probe_url=None))
    assert outcomes(report) == dict.fromkeys(CLIENT_IDS, "skipped")
    for result in report.results:
        assert result.detail == "needs a probe to see the receiver's store (--probe)"


def test_without_a_phone_number_id_only_client_4_runs(reference: Running) -> None:
    report = run(reference_config(reference, phone_number_id=None))
    assert outcomes(report) == {
        **dict.fromkeys(CLIENT_IDS, "skipped"),
        "CLIENT-4": "passed",
    }, details(report)


def test_the_memory_receiver_without_faults_passes() -> None:
    receiver = MemoryReceiver()
    report = run(receiver.config(select=tuple(CLIENT_IDS)))
    assert outcomes(report) == dict.fromkeys(CLIENT_IDS, "passed"), details(report)


@pytest.mark.parametrize(
    ("fault", "fails", "passes"),
    [
        # Duplicating the client breaks every check that sends twice from one number.
        ("client_per_message", {"CLIENT-2"}, {"CLIENT-1", "CLIENT-6", "CLIENT-7"}),
        ("racy_find_or_create", {"CLIENT-2"}, set(CLIENT_IDS) - {"CLIENT-2"}),
        ("log_redeliveries", {"CLIENT-3"}, set(CLIENT_IDS) - {"CLIENT-3"}),
        ("dedupe_by_body", {"CLIENT-3"}, set(CLIENT_IDS) - {"CLIENT-3"}),
        ("last_id_only", {"CLIENT-3"}, set(CLIENT_IDS) - {"CLIENT-3"}),
        ("racy_dedupe", {"CLIENT-3"}, set(CLIENT_IDS) - {"CLIENT-3"}),
        ("ignore_phone_number_id", {"CLIENT-4"}, set(CLIENT_IDS) - {"CLIENT-4"}),
        # Batches and several messages per delivery are all over the family.
        ("first_message_only", {"CLIENT-5", "CLIENT-4"}, {"CLIENT-1", "CLIENT-7", "CLIENT-8"}),
        ("first_entry_only", {"CLIENT-5", "CLIENT-4"}, set(CLIENT_IDS) - {"CLIENT-5", "CLIENT-4"}),
        # Every sender named after contacts[0]: CLIENT-9's batch of users too.
        ("first_contact_name", {"CLIENT-5", "CLIENT-9"}, set(CLIENT_IDS[:8]) - {"CLIENT-5"}),
        ("crash_on_unknown_type", {"CLIENT-6"}, set(CLIENT_IDS) - {"CLIENT-6"}),
        # CLIENT-5's batch holds a status change, so it is not acknowledged either.
        ("crash_on_status", {"CLIENT-7", "CLIENT-5"}, set(CLIENT_IDS) - {"CLIENT-7", "CLIENT-5"}),
        ("client_for_status_recipient", {"CLIENT-7"}, set(CLIENT_IDS) - {"CLIENT-7"}),
        ("nfc_text", {"CLIENT-8"}, set(CLIENT_IDS) - {"CLIENT-8"}),
        ("strip_text", {"CLIENT-8"}, set(CLIENT_IDS) - {"CLIENT-8"}),
        # 2026 identities: phone-less users merged into one client, or a crash on them.
        ("phone_keyed_clients", {"CLIENT-9", "CLIENT-10"}, set(CLIENT_IDS[:8])),
        ("crash_without_from", {"CLIENT-9", "CLIENT-10"}, set(CLIENT_IDS[:8])),
        ("user_id_not_attached", {"CLIENT-9"}, set(CLIENT_IDS) - {"CLIENT-9"}),
        ("ignores_number_change", {"CLIENT-10"}, set(CLIENT_IDS) - {"CLIENT-10"}),
        ("ignores_user_id_change", {"CLIENT-10"}, set(CLIENT_IDS) - {"CLIENT-10"}),
    ],
)
def test_a_broken_receiver_fails_the_requirement_it_breaks(
    fault: str, fails: set[str], passes: set[str]
) -> None:
    report = run(MemoryReceiver(fault).config(select=tuple(CLIENT_IDS)))
    result = outcomes(report)
    assert {i for i in fails if result[i] != "failed"} == set(), details(report)
    assert {i for i in passes if result[i] != "passed"} == set(), details(report)


def test_a_failure_says_what_went_wrong_and_how_to_reproduce_it() -> None:
    report = run(MemoryReceiver("nfc_text").config(select=("CLIENT-8",)))
    (result,) = report.results
    assert result.outcome == "failed"
    assert "NFC-normalised" in result.detail
    assert result.exchange is not None
    assert result.reproduce is not None
    assert result.reproduce.endswith("-k CLIENT-8")


def test_a_client_for_an_unknown_phone_number_id_is_reported_with_the_number() -> None:
    report = run(MemoryReceiver("ignore_phone_number_id").config(select=("CLIENT-4",)))
    (result,) = report.results
    assert "no account owns" in result.detail
    assert "log entry" in result.detail or "client" in result.detail


@pytest.mark.parametrize(
    ("sent", "stored", "words"),
    [
        ("Cafe\u0301", "Caf\u00e9", "NFC-normalised"),
        ("ＡＢＣ", "ABC", "NFKC-normalised"),
        ("  hi \n", "hi", "whitespace was stripped"),
        ("مرحبا", "مرحبا".encode().decode("cp1252", "replace"), "double-encoded"),
        ("abc", None, "not a string"),
        ("abcdef", "abXdef", "from character 2 sent U+0063"),
    ],
)
def test_describe_difference_names_what_happened(sent: str, stored: object, words: str) -> None:
    assert words in describe_difference(sent, stored)
