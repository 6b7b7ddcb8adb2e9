"""`fakemeta load --locust`: the command driving Locust's master and workers.

Short real runs on loopback (a few seconds, a handful of users, a set rate
so that the counts stay small). The command itself runs in this process
through `main()`, or in a subprocess to be interrupted; it starts Locust in
processes of its own, so this one is never patched by gevent. What is
checked: the report counts what the receiver got (the reference receiver's
probe finds every acknowledged message stored once, for the phone number id
the command was given), a set rate is kept, thresholds and a receiver that
goes away end the run as they do without Locust, Ctrl-C stops everything
with a partial report, and options Locust cannot honour are one line and
exit 2 (as are bad values of the settings it passes on, in the locustfile).
The helpers are `load_helpers`', the reference receiver fixture conftest's.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import MAIN, run
from load_helpers import (
    LOCUST_TIMEOUT,
    NEEDS_LOCUST,
    NOWHERE,
    PHONE_NUMBER_ID,
    assert_refused_in_one_line,
    finish,
    locust_environment,
    run_locustfile_briefly,
)

from fakemeta.reference_receiver.serve import Running

pytestmark = NEEDS_LOCUST


def test_a_locust_run_is_reported_and_every_acknowledged_message_stored_once(
    capsys: pytest.CaptureFixture[str], receiver: Running, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    code, out, err = run(
        capsys, "load", receiver.url, "--locust", "--locust-workers", "2", "--connections", "4",
        "--duration", "3", "--rate", "60", "--batch", "2", "--mix", "text=1",
        "--app-secret", receiver.app_secret, "--phone-number-id", PHONE_NUMBER_ID,
        "--probe", receiver.probe_url, "--probe-token", receiver.probe_token,
        "--report-json", str(report),
    )  # fmt: skip
    assert code == 0, out + err
    data = json.loads(report.read_text())
    assert data["outcome"] == "completed"
    assert data["exit_status"] == 0
    assert data["config"]["engine"] == "locust"
    assert data["config"]["workers"] == 2
    assert data["config"]["locust"]["user_rate"] == 15
    sent = data["requests"]
    assert 120 <= sent <= 200, "60 a second for 3 s, paced by 4 users"
    assert data["deliveries"] == {
        "sent": sent,
        "acknowledged": sent,
        "given_up": 0,
        "unfinished": 0,
        "updates": 2 * sent,
    }
    assert data["status_codes"] == {"200": sent}
    assert data["errors"] == {}
    assert set(data["latency_ms"]) == {"p50", "p90", "p99", "p999", "max", "mean"}
    assert data["latency_ms"]["p50"] <= data["latency_ms"]["p99"] <= data["latency_ms"]["max"]
    # Counted at the receiver: every message of every acknowledged body
    # (text only: the probe has no statuses) stored once, for our number.
    probe = data["probe"]
    assert probe["checked"] == 2 * data["deliveries"]["acknowledged"]
    assert probe["not_stored"] == probe["stored_twice"] == 0
    assert "Locust" in out.splitlines()[1]
    assert f"200 ×{sent:,}" in out


def test_the_builtin_receiver_and_a_threshold_that_holds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    code, out, err = run(
        capsys, "load", "--locust", "--locust-workers", "1", "--connections", "2",
        "--duration", "1", "--rate", "20", "--probe", "--fail-if", "p50>0us",
        "--fail-if", "errors>1%", "--report-json", str(report),
    )  # fmt: skip
    assert code == 1, out + err
    assert "started the reference receiver" in err
    assert "p50>0us:" in out
    assert "FAILED" in out
    assert "errors>1%: 0% ok" in out
    data = json.loads(report.read_text())
    assert data["outcome"] == "completed"
    assert data["exit_status"] == 1
    assert data["deliveries"]["acknowledged"] == data["requests"] > 0
    assert data["probe"]["not_stored"] == data["probe"]["stored_twice"] == 0


def test_a_receiver_that_goes_away_stops_the_run(
    capsys: pytest.CaptureFixture[str], raw_server: Any
) -> None:
    server = raw_server(stop_after=50)
    code, out, err = run(
        capsys, "load", server.url, "--app-secret", "s", "--locust", "--locust-workers", "1",
        "--connections", "2", "--duration", "30", "--timeout", "1s",
    )  # fmt: skip
    assert code == 1, out + err
    assert "stopped early" in out
    assert "fakemeta: the receiver stopped answering" in err
    assert "200 ×50" in out
    assert "Traceback" not in err


def test_ctrl_c_stops_locust_and_reports_what_was_sent(
    loopback_receiver: Any, loopback_secret: str, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    out_log, err_log = tmp_path / "out.log", tmp_path / "err.log"
    command = [
        sys.executable, "-c", MAIN, "load", loopback_receiver.url, "--app-secret", loopback_secret,
        "--locust", "--locust-workers", "2", "--connections", "4", "--rate", "40",
        "--duration", "60", "--report-json", str(report),
    ]  # fmt: skip
    with out_log.open("wb") as out, err_log.open("wb") as err:
        process = subprocess.Popen(
            command, env=locust_environment(tmp_path), stdout=out, stderr=err
        )
    deadline = time.monotonic() + LOCUST_TIMEOUT
    while len(loopback_receiver.requests) < 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)  # the command alone, as a terminal's Ctrl-C
    assert finish([process], [out_log, err_log]) == [130], err_log.read_text()
    received = len(loopback_receiver.requests)
    time.sleep(0.5)
    assert len(loopback_receiver.requests) == received, "Locust's processes are gone"

    errors = err_log.read_text()
    assert "Traceback" not in errors
    assert errors.strip().splitlines()[-1].startswith("fakemeta: interrupted after")
    assert "interrupted (partial report)" in out_log.read_text()
    data = json.loads(report.read_text())
    assert data["outcome"] == "interrupted"
    assert data["exit_status"] == 130
    assert data["requests"] == received >= 20
    assert data["deliveries"]["acknowledged"] == received


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--locust", "--requests", "10"], "--requests does not work with --locust"),
        (["--locust", "--workers", "2"], "with --locust give --locust-workers"),
        (["--locust", "--duplicates", "0.1"], "--duplicates does not work with --locust"),
        (["--locust", "--retries", "0.1"], "--retries does not work with --locust"),
        (["--locust", "--seed", "7"], "--seed does not work with --locust"),
        (["--locust", "--duration", "1.5s"], "Locust runs for whole seconds; give 2s"),
        (["--locust-workers", "2"], "--locust-workers needs --locust"),
        (["--locust"], "cannot connect to http://127.0.0.1:9/webhook: connection refused"),
    ],
)
def test_what_locust_cannot_do_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    assert_refused_in_one_line(capsys, args, says)


def test_without_locust_installed_the_line_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    find_spec = importlib.util.find_spec

    def without_locust(name: str, *args: Any) -> Any:
        return None if name == "locust" else find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_locust)
    code, out, err = run(capsys, "load", NOWHERE, "--app-secret", "s", "--locust")
    assert code == 2
    assert err.strip() == "fakemeta: BadInput: --locust needs Locust: pip install 'fakemeta[load]'"
    assert out == ""


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("--fakemeta-user-rate", "--fakemeta-user-rate 0.0: give deliveries a second, more than 0"),
        ("--fakemeta-timeout", "--fakemeta-timeout 0.0: give seconds, more than 0"),
    ],
)
def test_the_settings_the_command_passes_on_are_checked_by_locust_too(
    tmp_path: Path, option: str, says: str
) -> None:
    result = run_locustfile_briefly(tmp_path, "--fakemeta-app-secret", "s", option, "0")
    assert result.returncode == 2, result.stderr
    assert f"fakemeta: BadInput: {says}" in result.stderr
    assert "Traceback" not in result.stderr
