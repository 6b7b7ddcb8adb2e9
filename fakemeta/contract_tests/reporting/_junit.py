"""`--junitxml`: the run as JUnit XML, one `<testcase>` per check.

CI systems (GitHub, GitLab, Jenkins) show a test per check, named with its
requirement ID (`classname="fakemeta.SIG-2"`,
`name="SIG-2::unsigned_delivery_is_refused"`); a failure carries the reason
as its message and the exchange, expectation and reproduce command as its
text; a skip carries its reason. Receiver text can hold characters XML 1.0
cannot (NUL, ESC): they are escaped so the file always parses.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime

from fakemeta.contract_tests.report import Report
from fakemeta.contract_tests.reporting._text import failure_text, one_line, summary_line

__all__ = ["render_junit"]

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _xml(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _xml(text)
    return element


def render_junit(report: Report, properties: Mapping[str, str]) -> bytes:
    """The JUnit XML document (UTF-8 bytes with an XML declaration)."""
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for result in report.results:
        counts[result.outcome] += 1
    root = ET.Element(
        "testsuites",
        {
            "name": "fakemeta",
            "tests": str(len(report.results)),
            "failures": str(counts["failed"]),
            "errors": "0",
            "skipped": str(counts["skipped"]),
            "time": f"{report.duration:.3f}",
        },
    )
    suite = _element(
        root,
        "testsuite",
        name="fakemeta check",
        tests=str(len(report.results)),
        failures=str(counts["failed"]),
        errors="0",
        skipped=str(counts["skipped"]),
        time=f"{report.duration:.3f}",
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
        hostname=socket.gethostname(),
    )
    props = _element(suite, "properties")
    for name, value in properties.items():
        _element(props, "property", name=name, value=value)
    for result in report.results:
        case = _element(
            suite,
            "testcase",
            classname=f"fakemeta.{result.requirement.id}",
            name=result.check,
            time=f"{result.duration:.3f}",
        )
        if result.outcome == "failed":
            _element(
                case,
                "failure",
                failure_text(result),
                message=one_line(result.detail, 500),
                type=f"{result.requirement.id} ({result.requirement.level})",
            )
        elif result.outcome == "skipped":
            _element(case, "skipped", message=one_line(result.detail, 500))
    out = [summary_line(report), *(f"note: {note}" for note in report.notes)]
    _element(suite, "system-out", "\n".join(out))
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document
