"""`fakemeta check` against hostile receivers: bounded memory and time, a safe terminal.

The raw-socket receivers and the peak-RSS measurement are those of
`tests/simulator/test_hostile_receivers.py` (loaded from its path: test
directories are not packages), so that both suites misbehave alike.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_helpers import run

from fakemeta.contract_tests.probes import HttpProbe, ProbeError
from fakemeta.contract_tests.report import CheckResult, Report, exchange_summary
from fakemeta.contract_tests.reporting import TerminalReporter
from fakemeta.contract_tests.requirements import REQUIREMENTS
from fakemeta.simulator.load.probe import ProbeUnusable, count_stored
from fakemeta.simulator.targets import RESPONSE_BODY_LIMIT, HttpTarget

_PATH = Path(__file__).parents[1] / "simulator" / "test_hostile_receivers.py"
_spec = importlib.util.spec_from_file_location("_hostile_receivers", _PATH)
assert _spec is not None
assert _spec.loader is not None
hostile = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = hostile
_spec.loader.exec_module(hostile)

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("check_environment")]

SECRET = "hostile-app-secret"
TOKEN = "hostile-verify-token"
CUT = f"cut at {RESPONSE_BODY_LIMIT // 1024} KiB: the receiver sent more"


@pytest.fixture
def serve_raw() -> Iterator[Callable[..., hostile.RawServer]]:
    servers: list[hostile.RawServer] = []

    def start(handler: hostile.Handler) -> hostile.RawServer:
        servers.append(hostile.RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.__exit__()


def test_check_stays_small_against_a_body_without_end(
    serve_raw: Callable[..., hostile.RawServer], tmp_path: Path
) -> None:
    server = serve_raw(hostile.endless)
    report = tmp_path / "report.json"
    code, seconds, mib, out = hostile.peak_rss(
        ["check", server.url, "--app-secret", SECRET, "--verify-token", TOKEN,
         "-k", "VERIFY-1", "--timeout", "5", "--report-json", str(report)]
    )  # fmt: skip
    print(f"fakemeta check against a body without end: {seconds:.1f} s, peak RSS {mib} MiB")
    assert code == 1, out  # VERIFY-1 failed: the body is no challenge
    assert seconds < 15
    assert mib < 250
    assert f"(body {CUT})" in out
    [check] = json.loads(report.read_text())["checks"]
    response = check["exchange"]["response"]
    assert response["truncated"] is True
    assert response["body"].endswith(f"… ({CUT})")


def test_check_gives_up_on_a_trickling_receiver_in_time(
    serve_raw: Callable[..., hostile.RawServer],
) -> None:
    # A byte every 0.1 s never trips a per-read timeout; the receiver gives up after 6 s.
    server = serve_raw(hostile.trickler())
    code, seconds, _, out = hostile.peak_rss(
        ["check", server.url, "--app-secret", SECRET, "--verify-token", TOKEN,
         "-k", "VERIFY-1", "--timeout", "1"],
        limit=10,
    )  # fmt: skip
    assert code == 2, out
    assert seconds < 4.5
    assert "ReceiverTimeout" in out


def test_escape_sequences_stay_in_the_json_report_and_off_the_terminal(
    serve_raw: Callable[..., hostile.RawServer],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    server = serve_raw(hostile.escapes)
    report = tmp_path / "report.json"
    code, out, err = run(
        capsys, "check", server.url, "--app-secret", SECRET, "--verify-token", TOKEN,
        "-k", "VERIFY-1", "--report-json", str(report),
    )  # fmt: skip
    assert code == 1, err
    # The terminal sees the escapes, made visible.
    assert not hostile.RAW_CONTROL.search(out + err)
    assert "\\x1b]0;owned\\x07" in out
    # The JSON keeps the receiver's exact text, written with JSON escapes only.
    text = report.read_text()
    assert not hostile.RAW_CONTROL.search(text)
    [check] = json.loads(text)["checks"]
    assert check["exchange"]["response"]["body"] == hostile.ESCAPES
    assert ["x-evil", "a\x9b31mb"] in check["exchange"]["response"]["headers"]


def test_the_coloured_terminal_report_escapes_them_too(
    serve_raw: Callable[..., hostile.RawServer],
) -> None:
    server = serve_raw(hostile.escapes)
    with HttpTarget(server.url, timeout=5) as target:
        exchange = target.send("GET", "hub.mode=subscribe")
    requirement = REQUIREMENTS["VERIFY-1"]
    result = CheckResult(
        "VERIFY-1::x", requirement, "d", "failed", hostile.ESCAPES, "", exchange_summary(exchange)
    )
    stream = io.StringIO()
    reporter = TerminalReporter(stream, color=True)
    reporter.result(result)
    reporter.finish(Report(server.url, "strict", 1, [result], duration=0.0))
    shown = stream.getvalue()
    # rich writes its own SGR sequences; none of the receiver's reach the stream.
    for raw in ("\x1b[2J", "\x1b]0;owned", "\x07", "\x9b", "\u202e"):
        assert raw not in shown
    assert "\\x1b]0;owned\\x07" in shown


def test_a_probe_answering_without_end_is_refused_in_bounded_memory(
    serve_raw: Callable[..., hostile.RawServer],
) -> None:
    server = serve_raw(hostile.endless)
    probe = HttpProbe(server.url.rstrip("/"), timeout=5)
    try:
        with pytest.raises(ProbeError, match="answered more than 1024 KiB"):
            probe.messages("wamid.X")
    finally:
        probe.close()


@pytest.mark.parametrize("head_first", [False, True], ids=["trickled-head", "trickled-body"])
def test_a_trickling_probe_is_given_up_on_at_its_timeout(
    serve_raw: Callable[..., hostile.RawServer], head_first: bool
) -> None:
    # A byte every 0.1 s never trips a per-read timeout of 1 s.
    server = serve_raw(hostile.trickler(head_first=head_first))
    probe = HttpProbe(server.url.rstrip("/"), timeout=1)
    started = time.monotonic()
    try:
        with pytest.raises(ProbeError, match="had not answered in full after 1 s"):
            probe.messages("wamid.X")
    finally:
        probe.close()
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("handler", "said"),
    [
        (hostile.endless, "answered more than 1024 KiB"),
        (hostile.trickler(), "had not answered in full after 1 s"),
    ],
    ids=["endless", "trickled-head"],
)
def test_the_load_probe_is_bounded_too(
    serve_raw: Callable[..., hostile.RawServer], handler: hostile.Handler, said: str
) -> None:
    server = serve_raw(handler)
    started = time.monotonic()
    with pytest.raises(ProbeUnusable, match=said):
        count_stored(server.url.rstrip("/"), None, ["wamid.X"], timeout=1, concurrency=1)
    assert time.monotonic() - started < 3
