"""`fakemeta load` when things go wrong: a clear line, a partial report, the
right exit status; never a traceback, never a hang.

Each case runs the real command as a subprocess (what a user sees), against
a receiver on 127.0.0.1 that misbehaves on cue (`conftest.RawServer`), with
short timeouts so that every run ends within seconds.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

COMMAND = [sys.executable, "-c", "from fakemeta.simulator.cli import main; main()", "load"]


def load(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args, "--app-secret", "s3cret"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_an_unreachable_receiver_is_one_line_and_exit_2(loopback_closed_url: str) -> None:
    started = time.monotonic()
    result = load(loopback_closed_url, "--duration", "30")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"fakemeta: ReceiverUnreachable: cannot connect to {loopback_closed_url}:"
        " connection refused — is the receiver running?"
    ]
    assert result.stdout == ""
    assert time.monotonic() - started < 20


def test_a_receiver_that_stops_answering_ends_the_run(raw_server: Any, tmp_path: Path) -> None:
    server = raw_server("hang")
    report = tmp_path / "report.json"
    started = time.monotonic()
    result = load(server.url, "--duration", "60", "--timeout", "1s", "--report-json", str(report))
    assert time.monotonic() - started < 30  # the duration was 60 s
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "fakemeta: the receiver stopped answering: no answer for" in result.stderr
    assert "last error: timeout: no answer in 1 s" in result.stderr
    assert "stopped early (partial report)" in result.stdout
    data = json.loads(report.read_text())
    assert data["outcome"] == "stalled"
    assert data["exit_status"] == 1
    assert data["errors"].get("timeout", 0) > 0


def test_a_receiver_that_goes_away_mid_run_ends_the_run(raw_server: Any, tmp_path: Path) -> None:
    server = raw_server("answer", stop_after=300)
    report = tmp_path / "report.json"
    result = load(
        server.url, "--duration", "60", "--timeout", "1s", "--connections", "4",
        "--report-json", str(report),
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "fakemeta: the receiver stopped answering" in result.stderr
    assert "refused" in result.stderr
    data = json.loads(report.read_text())
    assert data["status_codes"]["200"] >= 290
    assert data["errors"]["refused"] > 0
    assert data["deliveries"]["acknowledged"] >= 290


def test_ctrl_c_gives_a_partial_report_and_exit_130(raw_server: Any, tmp_path: Path) -> None:
    server = raw_server("answer")
    report = tmp_path / "report.json"
    process = subprocess.Popen(
        [*COMMAND, server.url, "--app-secret", "s", "--duration", "60", "--rate", "200",
         "--report-json", str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.wait_for_requests(50, timeout=30), "the run did not start"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    assert "fakemeta: interrupted after" in err
    assert "interrupted (partial report)" in out
    data = json.loads(report.read_text())
    assert data["outcome"] == "interrupted"
    assert data["exit_status"] == 130
    assert data["requests"] >= 50
    assert data["status_codes"]["200"] >= 50
