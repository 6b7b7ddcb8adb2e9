"""`fakemeta load`: short real runs on loopback, and what they report.

In-process through `main()` where output and exit status are enough (the
workers are real processes either way); each run is bounded by a request
count, a few hundred at most.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Cli, run
from load_helpers import assert_refused_in_one_line

from fakemeta.simulator.delivery import Delivery


def test_a_run_sends_unique_bodies_signed_as_meta_signs(
    loopback_cli: Cli, loopback_receiver: Any, loopback_secret: str, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    code, out, err = loopback_cli(
        "load", "--requests", "200", "--connections", "4",
        "--mix", "text=3,image=1,contacts=1,status=2", "--report-json", str(report),
    )  # fmt: skip
    assert code == 0, err
    requests = loopback_receiver.requests
    assert len(requests) == 200
    assert len({r.body for r in requests}) == 200
    for request in requests:
        assert request.method == "POST"
        assert request.signature_ok
        expected = Delivery.signed(request.body, loopback_secret).headers
        assert all(request.header(name) == value for name, value in expected)
        assert json.loads(request.body)["object"] == "whatsapp_business_account"
    assert "completed" in out
    assert "200 ×200" in out
    data = json.loads(report.read_text())
    assert data["outcome"] == "completed"
    assert data["exit_status"] == 0
    assert data["requests"] == 200
    assert data["deliveries"]["acknowledged"] == 200
    assert data["status_codes"] == {"200": 200}
    assert set(data["latency_ms"]) == {"p50", "p90", "p99", "p999", "max", "mean"}
    assert data["latency_ms"]["p50"] <= data["latency_ms"]["p99"] <= data["latency_ms"]["max"]
    assert (
        data["config"]["mix"] == "text=3,image=1,contacts=1,sent=0.667,delivered=0.667,read=0.667"
    )


def test_the_builtin_receiver_stores_every_acknowledged_message_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    code, out, err = run(
        capsys, "load", "--requests", "300", "--connections", "8", "--probe", "--duplicates", "0.2",
        "--retries", "0.1", "--batch", "2", "--seed", "3", "--report-json", str(report),
    )  # fmt: skip
    assert code == 0, out + err
    assert "started the reference receiver" in err
    data = json.loads(report.read_text())
    probe = data["probe"]
    assert probe["checked"] > 300  # two updates a delivery, most of them messages
    assert probe["not_stored"] == probe["stored_twice"] == 0
    assert data["attempts"]["duplicates"] > 0
    assert data["attempts"]["retries"] > 0
    assert data["deliveries"]["acknowledged"] == 300
    assert "0 not stored, 0 stored twice" in out


def test_a_threshold_that_holds_fails_the_run(loopback_cli: Cli) -> None:
    code, out, _ = loopback_cli(
        "load", "--requests", "30", "--fail-if", "p50>0us", "--fail-if", "errors>1%"
    )
    assert code == 1
    assert "p50>0us:" in out
    assert "FAILED" in out
    assert "errors>1%: 0% ok" in out


def test_failed_attempts_are_retried_with_the_same_bytes(
    loopback_cli: Cli, loopback_receiver: Any, tmp_path: Path
) -> None:
    loopback_receiver.respond(500, 503)
    report = tmp_path / "report.json"
    code, _, err = loopback_cli(
        "load", "--requests", "10", "--connections", "1", "--report-json", str(report)
    )
    assert code == 0, err
    bodies = [r.body for r in loopback_receiver.requests]
    assert len(bodies) == 12
    # Retried at once (as Meta does), then 15 ms later (Meta's 15 s), while
    # the connection goes on with other deliveries.
    assert bodies[0] == bodies[1]
    assert bodies.count(bodies[0]) == 3
    assert len(set(bodies)) == 10
    data = json.loads(report.read_text())
    assert data["attempts"]["retries"] == 2
    assert data["status_codes"] == {"200": 10, "500": 1, "503": 1}
    assert data["deliveries"]["acknowledged"] == 10


def test_duplicates_send_the_same_bytes_twice(loopback_cli: Cli, loopback_receiver: Any) -> None:
    code, _, err = loopback_cli("load", "--requests", "20", "--duplicates", "1")
    assert code == 0, err
    requests = loopback_receiver.requests
    assert len(requests) == 40
    counts: dict[bytes, int] = {}
    for request in requests:
        counts[request.body] = counts.get(request.body, 0) + 1
    assert set(counts.values()) == {2}
    signatures = {r.body: r.header("X-Hub-Signature-256") for r in requests}
    assert len(signatures) == 20


def test_nothing_acknowledged_is_a_failed_run(
    capsys: pytest.CaptureFixture[str], loopback_receiver: Any
) -> None:
    loopback_receiver.default_status = 401
    code, out, err = run(
        capsys, "load", loopback_receiver.url, "--app-secret", "wrong", "--requests", "3",
        "--connections", "3",
    )  # fmt: skip
    assert code == 1
    assert "fakemeta: no delivery was acknowledged (HTTP 401); check --app-secret" in err
    assert "given up 3" in out  # six attempts each, on Meta's schedule compressed
    assert len(loopback_receiver.requests) == 18


def test_a_probe_that_misses_messages_fails_the_run(
    loopback_cli: Cli, loopback_receiver: Any
) -> None:
    def answer(request: Any) -> tuple[int, bytes, dict[str, str]]:
        if request.method == "GET":
            assert request.header("Authorization") == "Bearer t0ken"
            stored = 2 if request.args["id"].endswith(("A", "E")) else 0
            return 200, json.dumps({"messages": [{}] * stored}).encode(), {}
        return 200, b"ok", {}

    loopback_receiver.handler = answer
    code, out, _ = loopback_cli(
        "load", "--requests", "40", "--mix", "text=1",
        "--probe", loopback_receiver.base_url + "/probe", "--probe-token", "t0ken",
        "--phone-number-id", "106540352242922", "--probe-settle", "1s",
    )  # fmt: skip
    assert code == 1
    line = next(line for line in out.splitlines() if "probe" in line)
    assert "40 acknowledged message ids" in line
    assert "0 stored once" in line
    assert "not stored" in line
    assert "stored twice" in line


def test_a_worker_reports_every_acknowledged_id_however_many(
    loopback_cli: Cli, loopback_receiver: Any
) -> None:
    # 4,000 ids are some 260 KB of report, more than a socket buffer: the
    # worker's pipe, made non-blocking by its event loop, must still carry it.
    def answer(request: Any) -> tuple[int, bytes, dict[str, str]]:
        if request.method == "GET":
            return 200, b'{"messages": [{}]}', {}
        return 200, b"ok", {}

    loopback_receiver.handler = answer
    code, out, err = loopback_cli(
        "load", "--requests", "4", "--batch", "1000", "--mix", "text=1", "--connections", "2",
        "--workers", "1", "--probe", loopback_receiver.base_url + "/probe",
        "--phone-number-id", "106540352242922",
    )  # fmt: skip
    assert code == 0, err
    assert "4,000 acknowledged message ids: 4,000 stored once" in out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--mix", "text=1,selfie=2"], "unknown kind 'selfie'"),
        (["--rate", "fast"], "--rate 'fast': give deliveries per second"),
        (["--duplicates", "2"], "--duplicates 2: a fraction of deliveries"),
        (["--fail-if", "p99~5"], "expected METRIC OP VALUE"),
        (["--duration", "later"], "--duration 'later'"),
        (["--probe-settle", "soon"], "--probe-settle 'soon'"),
        (["--probe"], "--probe needs the probe's URL when loading a URL"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    assert_refused_in_one_line(capsys, args, says)


def test_a_set_rate_is_kept(loopback_cli: Cli, loopback_receiver: Any) -> None:
    code, out, err = loopback_cli(
        "load", "--rate", "200", "--duration", "1.5s", "--era", "2025", "--batch", "3"
    )
    assert code == 0, err
    sent = len(loopback_receiver.requests)
    assert 270 <= sent <= 305  # 200 a second for 1.5 s, the first at once
    for request in loopback_receiver.requests[:20]:
        payload = json.loads(request.body)
        assert len(payload["entry"]) == 3
        value = payload["entry"][0]["changes"][0]["value"]
        assert "user_id" not in json.dumps(value)  # the 2025 shapes: numbers only
    assert "rate 200.0" in out
    assert "era 2025" in out


def test_requests_and_duration_end_at_whichever_comes_first(
    loopback_cli: Cli, loopback_receiver: Any
) -> None:
    code, _, err = loopback_cli("load", "--requests", "25", "--duration", "30")
    assert code == 0, err
    assert len(loopback_receiver.requests) == 25


def test_the_progress_line_redraws_on_a_terminal_and_prints_plainly_when_piped() -> None:
    import io

    from fakemeta.simulator.cli._load import _Shown
    from fakemeta.simulator.load.runner import Progress
    from fakemeta.simulator.load.stats import Counters, Latencies

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    histogram = Latencies.empty()
    histogram.record_value(1500, 10)
    counters = Counters(requests=1000, connections=8, statuses={"200": 990, "503": 10})
    terminal, piped = Terminal(), io.StringIO()
    for stream in (terminal, piped):
        shown = _Shown(stream)
        for second in (0.5, 1.0, 5.5):
            shown(Progress(second, counters, histogram))
        shown.end()
    assert terminal.getvalue().count("\r") == 3
    assert "\x1b[K" in terminal.getvalue()
    assert "200 ×990  503 ×10" in terminal.getvalue()
    assert "p50 1.50 ms" in terminal.getvalue()
    lines = piped.getvalue().splitlines()
    assert len(lines) == 1  # one plain line each 5 s
    assert "\r" not in piped.getvalue()
    assert "\x1b" not in piped.getvalue()


def test_a_probe_that_refuses_the_token_is_one_line_after_the_report(
    loopback_cli: Cli, loopback_receiver: Any
) -> None:
    def answer(request: Any) -> tuple[int, bytes, dict[str, str]]:
        return (401, b"no", {}) if request.method == "GET" else (200, b"ok", {})

    loopback_receiver.handler = answer
    code, out, err = loopback_cli(
        "load", "--requests", "5", "--mix", "text=1",
        "--probe", loopback_receiver.base_url + "/probe", "--phone-number-id", "1",
    )  # fmt: skip
    assert code == 2
    assert "200 ×5" in out
    assert err.strip().splitlines()[-1].startswith("fakemeta: ProbeUnusable: probe ")
    assert "refused the token (HTTP 401); check --probe-token" in err
