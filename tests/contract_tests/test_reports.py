"""The report renderers (fakemeta.contract_tests.reporting) on a hand-built `Report`:
terminal (plain and colour), JUnit XML, HTML, redaction and atomic files.

The receiver's answers are untrusted: every format must show a `<script>`,
an escape sequence or a NUL in a response as text, and still be valid.
"""

from __future__ import annotations

import io
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from fakemeta.contract_tests.errors import ContractUsageError
from fakemeta.contract_tests.report import CheckResult, Outcome, Report
from fakemeta.contract_tests.reporting import (
    TerminalReporter,
    check_writable,
    redact,
    render_html,
    render_junit,
    summary_line,
    write_atomic,
)
from fakemeta.contract_tests.requirements import REQUIREMENTS

ANSI = re.compile(r"\x1b\[")
HOSTILE_BODY = "1234567890<script>alert('x')</script>\x1b[2J\x00[bold]markup[/bold]"
TOKEN = "s3cret-verify-token"
REPRODUCE = "fakemeta check http://127.0.0.1:9/hook --seed 7 -k VERIFY-2"


def _exchange(body: str = HOSTILE_BODY) -> dict[str, Any]:
    return {
        "request": {
            "method": "GET",
            "url": "http://127.0.0.1:9/hook?hub.mode=subscribe&hub.challenge=1234567890"
            f"&hub.verify_token=not-{TOKEN}",
            "source_ip": "127.1.0.4",
            "headers": [["host", "127.0.0.1:9"], ["accept", "*/*"]],
            "body": "",
        },
        "response": {
            "status": 200,
            "headers": [["content-type", "text/html"], ["x-evil", "a\x1b[31mb"]],
            "body": body,
        },
        "latency_ms": 2.5,
    }


def _result(requirement: str, outcome: Outcome, **fields: Any) -> CheckResult:
    return CheckResult(
        f"{requirement}::a_check",
        REQUIREMENTS[requirement],
        "What the check checks.",
        outcome,
        **fields,
    )


def _failed() -> CheckResult:
    return _result(
        "VERIFY-2",
        "failed",
        detail="the handshake with another token was answered HTTP 200",
        expected="HTTP 403 (any 4xx under --profile meta)",
        exchange=_exchange(),
        reproduce=REPRODUCE,
        duration=0.25,
    )


def _report() -> Report:
    """32 requirements: 30 passed, 1 failed (VERIFY-2), 1 skipped (CLIENT-1)."""
    report = Report("http://127.0.0.1:9/hook", "strict", 7, duration=1.5)
    for requirement in REQUIREMENTS:
        if requirement == "VERIFY-2":
            report.results.append(_failed())
        elif requirement == "CLIENT-1":
            report.results.append(
                _result(requirement, "skipped", detail="needs a probe to see the store (--probe)")
            )
        else:
            report.results.append(_result(requirement, "passed", duration=0.1))
    report.notes.append("the suite paced itself")
    return report


PROPERTIES = {"target": "http://127.0.0.1:9/hook", "profile": "strict", "seed": "7"}


# --- terminal --------------------------------------------------------------


def _terminal(report: Report, *, color: bool) -> str:
    stream = io.StringIO()
    terminal = TerminalReporter(stream, color=color)
    for result in report.results:
        terminal.result(result)
    terminal.finish(report)
    return stream.getvalue()


def test_summary_line_counts_requirements() -> None:
    assert summary_line(_report()) == "32 requirements: 30 passed, 1 failed, 1 skipped"


def test_plain_terminal_has_progress_table_failure_and_summary() -> None:
    out = _terminal(_report(), color=False)
    assert not ANSI.search(out)
    assert "✓ VERIFY-1::a_check" in out
    assert "✗ VERIFY-2::a_check  the handshake with another token was answered HTTP 200" in out
    assert "– CLIENT-1::a_check  needs a probe" in out
    table = re.search(r"^requirement +level +outcome +reason$", out, re.MULTILINE)
    assert table is not None
    assert re.search(r"^VERIFY-2 +MUST +failed +the handshake with another token", out, re.M)
    assert re.search(r"^VERIFY-4 +SHOULD +passed", out, re.MULTILINE)
    # The failure in full: sent, came back, expected, reproduce, in that order.
    failure = out[out.index("✗ VERIFY-2 (MUST)") :]
    positions = [
        failure.index(f"  {label}")
        for label in ("reason", "sent", "came back", "expected", "reproduce")
    ]
    assert positions == sorted(positions)
    assert "GET http://127.0.0.1:9/hook?hub.mode=subscribe" in failure
    assert "(from 127.1.0.4)" in failure
    assert "HTTP 200 in 2.5 ms" in failure
    assert f"reproduce  {REPRODUCE}" in failure
    assert out.rstrip().endswith(
        "32 requirements: 30 passed, 1 failed, 1 skipped in 1.5 s\nnote: the suite paced itself"
    )


def test_terminal_never_passes_receiver_control_characters_through() -> None:
    for color in (False, True):
        out = _terminal(_report(), color=color)
        assert "\x1b[2J" not in out
        assert "\x1b[31mb" not in out
        assert "\x00" not in out
        assert "\\x1b[2J" in out
        assert "\\x00" in out


def test_colour_terminal_uses_ansi_and_shows_markup_literally() -> None:
    out = _terminal(_report(), color=True)
    assert ANSI.search(out)
    plain = ANSI.sub("", re.sub(r"\x1b\[[0-9;]*m", "", out))
    assert "[bold]markup[/bold]" in plain
    assert "VERIFY-2" in plain
    assert REPRODUCE in plain
    assert "32 requirements: 30 passed, 1 failed, 1 skipped" in plain


def test_terminal_falls_back_to_ascii_marks_on_a_narrow_encoding() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    terminal = TerminalReporter(stream, color=False)
    terminal.result(_result("VERIFY-1", "passed"))
    terminal.result(_failed())
    terminal.result(_result("SIG-1", "failed", detail="body مرحبا 👋"))
    stream.flush()
    out = raw.getvalue().decode("ascii")
    assert "+ VERIFY-1::a_check" in out
    assert "x VERIFY-2::a_check" in out
    assert "\\u0645" in out  # Arabic, escaped rather than crashing


def test_piped_terminal_defaults_to_plain() -> None:
    stream = io.StringIO()  # not a tty
    assert TerminalReporter(stream).color is False


# --- JUnit XML -------------------------------------------------------------


def test_junit_is_valid_xml_with_one_testcase_per_check() -> None:
    report = _report()
    root = ET.fromstring(render_junit(report, PROPERTIES))  # noqa: S314 - our own output
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "32"
    assert suite.get("failures") == "1"
    assert suite.get("skipped") == "1"
    assert suite.get("errors") == "0"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == PROPERTIES
    cases = suite.findall("testcase")
    assert len(cases) == len(report.results)
    assert {c.get("classname") for c in cases} == {f"fakemeta.{r}" for r in REQUIREMENTS}
    failed = [c for c in cases if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [
        ("fakemeta.VERIFY-2", "VERIFY-2::a_check")
    ]
    failure = failed[0].find("failure")
    assert failure is not None
    assert failure.get("message") == "the handshake with another token was answered HTTP 200"
    text = failure.text or ""
    for part in ("sent:", "came back:", "HTTP 200", "expected:", "HTTP 403", REPRODUCE):
        assert part in text
    assert "<script>alert('x')</script>" in text  # as text; XML escaping kept it inert
    skipped = [c.find("skipped") for c in cases if c.find("skipped") is not None]
    assert len(skipped) == 1
    assert skipped[0] is not None
    assert "needs a probe" in (skipped[0].get("message") or "")


def test_junit_escapes_characters_xml_cannot_hold() -> None:
    report = Report("http://x/", "strict", 1)
    report.results.append(
        _result("SIG-1", "failed", detail="bad \x00 \x1b \ufffe", exchange=_exchange("\x00\x01"))
    )
    root = ET.fromstring(render_junit(report, PROPERTIES))  # noqa: S314 - our own output
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == "bad \\x00 \\x1b \\ufffe"
    assert "\\x00\\x01" in (failure.text or "")


# --- HTML ------------------------------------------------------------------


def test_html_is_one_self_contained_page_with_the_matrix_and_failures() -> None:
    page = render_html(_report(), PROPERTIES)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<html") == 1
    for requirement in REQUIREMENTS.values():
        assert f">{requirement.id}<" in page
    assert 'href="#failure-1"' in page
    assert 'id="failure-1"' in page
    assert "HTTP 403 (any 4xx under --profile meta)" in page
    assert REPRODUCE in page
    assert "32 requirements: 30 passed, 1 failed, 1 skipped" in page
    # Nothing external and nothing that runs.
    assert not re.search(r"<(script|link|img|iframe|object)\b", page, re.IGNORECASE)
    assert not re.search(r"\b(src|href)\s*=\s*[\"']?(https?:)?//", page, re.IGNORECASE)
    assert "default-src 'none'" in page


def test_html_shows_a_script_in_a_response_as_text() -> None:
    page = render_html(_report(), PROPERTIES)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "\x1b" not in page
    assert "\x00" not in page


def test_html_escapes_everything_the_receiver_controls() -> None:
    report = Report('http://x/"><b>', "strict", 1)
    hostile = _result(
        "SIG-1",
        "failed",
        detail="<img src=x onerror=alert(1)>",
        expected="<b>",
        exchange=_exchange(),
        reproduce="fakemeta check '<u>'",
    )
    report.results.append(hostile)
    page = render_html(report, {"target": report.target})
    assert "<img" not in page
    assert "<b>" not in page
    assert "<u>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# --- redaction -------------------------------------------------------------


def test_redact_replaces_secrets_raw_and_percent_encoded() -> None:
    report = _report()
    report.results.append(
        _result(
            "SIG-1",
            "failed",
            detail="echoed abc/def+ghi",
            exchange=_exchange("abc%2Fdef%2Bghi and abc/def+ghi"),
        )
    )
    redact(report, {"verify-token": TOKEN, "app-secret": "abc/def+ghi", "probe-token": None})
    text = repr([r.__dict__ for r in report.results])
    assert TOKEN not in text
    assert "abc/def+ghi" not in text
    assert "abc%2Fdef%2Bghi" not in text
    assert "not-<verify-token>" in text
    assert "<app-secret> and <app-secret>" in text


def test_redact_leaves_very_short_values_alone() -> None:
    report = _report()
    redact(report, {"verify-token": "x"})
    assert report.results[0].detail == _report().results[0].detail


# --- files -----------------------------------------------------------------


def test_write_atomic_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    mode = target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_write_atomic_failure_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")

    def broken(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, b"new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_check_writable_names_the_option_and_the_problem(tmp_path: Path) -> None:
    check_writable(tmp_path / "ok.xml", "--junitxml")
    with pytest.raises(ContractUsageError, match=r"--junitxml .*does not exist"):
        check_writable(tmp_path / "missing" / "r.xml", "--junitxml")
    with pytest.raises(ContractUsageError, match=r"--report-html .*is a directory"):
        check_writable(tmp_path, "--report-html")
