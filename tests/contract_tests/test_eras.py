"""`--era`: the suite sends the chosen era's webhook shapes, and says so.

End to end against the built-in reference receiver (both eras pass; CLIENT-9
is skipped with its reason in 2025), the option's one-line usage error, the
Python API's `era=`, and what the traffic looks like in each era: recorded
from the in-process memory receiver.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from check_helpers import check_process
from memory_receiver import PATH, MemoryReceiver

from fakemeta.contract_tests._plugin_items import pytest_words
from fakemeta.contract_tests.checks import _store
from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.probes import CallableProbe
from fakemeta.contract_tests.report import Report
from fakemeta.contract_tests.runner import reproduce_command, run
from fakemeta.simulator import eras
from fakemeta.simulator.cli import main
from fakemeta.simulator.errors import UnknownEra
from fakemeta.simulator.targets import Exchange, Target, target_for

NO_USER_IDS = "era 2025 has no business-scoped user ids: run with --era 2026"


pytestmark = pytest.mark.usefixtures("check_environment")


def outcomes(report: Report, ids: Sequence[str]) -> dict[str, str]:
    return {r.requirement.id: r.outcome for r in report.requirements(ids)}


def details(report: Report) -> str:
    return "\n".join(
        f"{r.check} {r.outcome}: {r.detail}" for r in report.results if r.outcome != "passed"
    )


# --- fakemeta check --era, against the built-in receiver ----------------------------


@pytest.mark.parametrize("era", ["2025", "2026"])
def test_the_builtin_receiver_passes_in_both_eras_and_the_report_shows_the_era(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, era: str
) -> None:
    json_path, junit_path = tmp_path / "r.json", tmp_path / "junit.xml"
    with pytest.raises(SystemExit) as exited:
        main(
            ["check", "--era", era, "--seed", "4", "--examples", "3",
             "--report-json", str(json_path), "--junitxml", str(junit_path)]
        )  # fmt: skip
    out, err = capsys.readouterr()
    assert exited.value.code == 0, out + err
    assert f"profile strict, era {era}, seed 4" in out

    report = json.loads(json_path.read_text())
    assert report["summary"]["failed"] == 0
    graph = eras.ERAS[era].graph_version
    assert any(note.startswith(f"era {era}: webhook shapes of Graph API {graph}") for note in
               report["notes"])  # fmt: skip
    requirements = {r["id"]: r for r in report["requirements"]}
    skipped = {i for i, r in requirements.items() if r["outcome"] == "skipped"}
    client_10 = requirements["CLIENT-10"]
    assert client_10["outcome"] == "passed"
    if era == "2025":
        assert skipped == {"CLIENT-9"}
        assert requirements["CLIENT-9"]["detail"] == NO_USER_IDS
        # The number change still runs, number-only; the user id change cannot.
        assert client_10["detail"] == f"1 check passed (1 of 2 checks skipped: {NO_USER_IDS})"
    else:
        assert skipped == set()
        assert requirements["CLIENT-9"]["outcome"] == "passed"
        assert client_10["detail"] == "2 checks passed"

    suite = ET.parse(junit_path).getroot().find("testsuite")  # noqa: S314 - ours
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["era"] == era


def test_a_past_era_is_in_the_reproduce_command() -> None:
    url = "http://127.0.0.1:9/hook"
    config = SuiteConfig(url, "token", "secret", seed=5, era=eras.ERAS["2025"])
    assert reproduce_command(config, "CLIENT-1") == (
        f"fakemeta check {url} --era 2025 --seed 5 -k CLIENT-1"
    )
    current = SuiteConfig(url, "token", "secret", seed=5)
    assert "--era" not in reproduce_command(current, "CLIENT-1")


# --- usage errors ----------------------------------------------------------------


def test_an_unknown_era_exits_2_with_one_line_before_anything_starts() -> None:
    done = check_process("--era", "1999")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "fakemeta: UnknownEra: --era '1999': use one of 2025, 2026 (the current shapes are 2026)"
    ]


def test_the_era_comes_from_the_environment_too(capsys: pytest.CaptureFixture[str]) -> None:
    done = check_process("-k", "VERIFY-1", env={"FAKEMETA_ERA": "1999"})
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    words = " ".join(capsys.readouterr().out.split())
    assert "--era [2025|2026]" in words
    assert "[env: FAKEMETA_ERA]" in words


def test_suite_config_reads_era_names_and_refuses_others() -> None:
    config = SuiteConfig("http://x/", "t", "s", era="2025")  # type: ignore[arg-type]
    assert config.era is eras.ERAS["2025"]
    assert SuiteConfig("http://x/", "t", "s").era is eras.CURRENT
    with pytest.raises(UnknownEra, match="unknown era '1999'"):
        SuiteConfig("http://x/", "t", "s", era="1999")  # type: ignore[arg-type]


def test_the_plugin_says_its_own_option_in_a_skip_reason() -> None:
    assert pytest_words(NO_USER_IDS) == (
        "era 2025 has no business-scoped user ids: run with --fakemeta-era 2026"
    )


# --- the Python API, and the traffic of each era ---------------------------------


class Recording:
    """A target that keeps every POSTed body, parsed."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self.url = target.url
        self.bodies: list[dict[str, Any]] = []

    def send(self, method: str, query: str = "", body: bytes = b"", *args: Any, **kw: Any) -> Any:
        exchange: Exchange = self._target.send(method, query, body, *args, **kw)
        if method == "POST" and exchange.status == 200:
            self.bodies.append(json.loads(body))
        return exchange

    def close(self) -> None:
        self._target.close()

    def values(self) -> Iterator[dict[str, Any]]:
        for body in self.bodies:
            for entry in body["entry"]:
                for change in entry["changes"]:
                    yield change["value"]


@pytest.fixture(autouse=True)
def quick_settling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_store, "SETTLE_SECONDS", 0.3)


def _recorded(receiver: MemoryReceiver, era: str, select: tuple[str, ...]) -> tuple[Report, Any]:
    recording = Recording(target_for(receiver.app, PATH))
    try:
        report = run(receiver.config(select=select), target=recording, era=era)
    finally:
        recording.close()
    return report, recording


def test_2025_traffic_has_numbers_only_and_conversations_on_statuses() -> None:
    select = ("SIG-1", "CLIENT-5", "CLIENT-7")
    report, recording = _recorded(MemoryReceiver(), "2025", select)
    assert outcomes(report, select) == dict.fromkeys(select, "passed"), details(report)
    assert report.notes[0] == "era 2025: webhook shapes of Graph API v23.0, phone numbers only"
    statuses = [s for value in recording.values() for s in value.get("statuses", [])]
    assert statuses
    for body in recording.bodies:
        assert "user_id" not in json.dumps(body)
    # Every status the suite builds itself carries its conversation.
    assert sum("conversation" in s for s in statuses) >= 5
    assert not any("contacts" in v for v in recording.values() if "statuses" in v)


def test_2026_traffic_has_user_ids_and_contacts_on_statuses() -> None:
    select = ("SIG-1", "CLIENT-1", "CLIENT-5", "CLIENT-7")
    report, recording = _recorded(MemoryReceiver(), "2026", select)
    assert outcomes(report, select) == dict.fromkeys(select, "passed"), details(report)
    with_contacts = 0
    for value in recording.values():
        if "messages" in value and "contacts" in value:
            for contact in value["contacts"]:
                assert contact.get("user_id"), contact
            for message in value["messages"]:
                assert message.get("from_user_id"), message
        for status in value.get("statuses", []):
            if "conversation" in status:  # v24.0+: only in a free entry point window
                assert status["pricing"]["type"] == "free_entry_point", status
            user_id = status.get("recipient_user_id")
            if status["status"] in ("sent", "delivered", "read") and user_id:
                named = [c.get("user_id") for c in value.get("contacts", [])]
                assert user_id in named, value
                with_contacts += 1
    assert with_contacts >= 5


def test_client_9_runs_in_2026_and_is_skipped_with_the_reason_in_2025() -> None:
    receiver = MemoryReceiver()
    assert outcomes(run(receiver.config(select=("CLIENT-9",)), era="2026"), ["CLIENT-9"]) == {
        "CLIENT-9": "passed"
    }
    report = run(receiver.config(select=("CLIENT-9",)), era="2025")
    assert [(r.outcome, r.detail) for r in report.results] == [("skipped", NO_USER_IDS)]


def test_after_a_number_change_the_user_writes_under_the_new_user_id() -> None:
    report, recording = _recorded(MemoryReceiver(), "2026", ("CLIENT-10",))
    assert outcomes(report, ["CLIENT-10"]) == {"CLIENT-10": "passed"}, details(report)
    messages = [m for value in recording.values() for m in value.get("messages", [])]
    (changed,) = [m for m in messages if m.get("system", {}).get("type") == "user_changed_number"]
    system = changed["system"]
    assert system["user_id"] != changed["from_user_id"]
    assert system["previous_user_id"] == changed["from_user_id"]
    after = [m for m in messages if m.get("from") == system["wa_id"] and m["type"] == "text"]
    assert after
    assert {m["from_user_id"] for m in after} == {system["user_id"]}


@pytest.mark.parametrize(
    ("fault", "era", "outcome"),
    [
        # Meta regenerates the user id with the number from 2026 only.
        ("keeps_user_id_on_number_change", "2026", "failed"),
        ("keeps_user_id_on_number_change", "2025", "passed"),
        ("ignores_number_change", "2025", "failed"),
        ("ignores_number_change", "2026", "failed"),
        ("ignores_user_id_change", "2025", "passed"),
    ],
)
def test_client_10_judges_the_number_change_in_both_eras(
    fault: str, era: str, outcome: str
) -> None:
    report = run(MemoryReceiver(fault).config(select=("CLIENT-10",)), era=era)
    assert outcomes(report, ["CLIENT-10"]) == {"CLIENT-10": outcome}, details(report)
    failed = [r for r in report.results if r.outcome == "failed"]
    if failed:
        assert [r.check for r in failed] == ["CLIENT-10::number_change_moves_the_client"]
        named_era = "--era 2025 " if era == "2025" else ""
        assert failed[0].reproduce.endswith(f"{named_era}--seed 7 -k CLIENT-10")


def test_a_probe_without_user_lookups_still_judges_the_number_change_in_2026() -> None:
    receiver = MemoryReceiver()
    probe = CallableProbe(receiver.probe.clients_for, receiver.probe.messages_for)
    report = run(receiver.config(select=("CLIENT-10",), probe=probe), era="2026")
    by_check = {r.check: (r.outcome, r.detail) for r in report.results}
    assert by_check["CLIENT-10::number_change_moves_the_client"] == ("passed", "")
    outcome, detail = by_check["CLIENT-10::user_id_change_rekeys_the_client"]
    assert outcome == "skipped"
    assert "no clients by user_id" in detail
