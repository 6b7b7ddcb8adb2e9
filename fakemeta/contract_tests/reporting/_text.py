"""Plain-text pieces every report format shares: marks, one-line reasons,
the summary line, and a failure laid out as what was sent, what came back,
what was expected and how to reproduce it.

Everything here may carry text the receiver chose (its status line, headers
and body are untrusted), so `printable()` turns control characters into
visible escapes before any of it reaches a terminal or a file.
"""

from __future__ import annotations

from typing import Any

from fakemeta.contract_tests.report import CUT_NOTE, CheckResult, Report
from fakemeta.simulator.targets import printable

__all__ = [
    "ASCII_MARKS",
    "MARKS",
    "failure_fields",
    "failure_text",
    "one_line",
    "printable",
    "summary_line",
]

MARKS = {"passed": "✓", "failed": "✗", "skipped": "–"}
ASCII_MARKS = {"passed": "+", "failed": "x", "skipped": "-"}


def one_line(text: str, limit: int = 100) -> str:
    """Whitespace collapsed, control characters escaped, cut at `limit` characters."""
    text = printable(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_line(report: Report) -> str:
    """`27 requirements: 25 passed, 1 failed, 1 skipped`."""
    counts = report.summary()
    total = sum(counts.values())
    noun = "requirement" if total == 1 else "requirements"
    return (
        f"{total} {noun}: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped"
    )


def _trim(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters shown in the JSON report)"


def _message_lines(
    first: str, headers: list[list[str]], body: str, body_limit: int | None, *, cut: bool = False
) -> list[str]:
    lines = [printable(first)]
    lines += [printable(f"{name}: {value}") for name, value in headers]
    if body:
        lines.append("")
        lines += printable(_trim(body, body_limit)).splitlines() or [""]
    else:
        lines.append("(empty body)")
    if cut:
        lines.append(f"(body {CUT_NOTE})")
    return lines


def _sent(exchange: dict[str, Any], body_limit: int | None) -> list[str]:
    request = exchange["request"]
    first = f"{request['method']} {request['url']}"
    if request.get("source_ip"):
        first += f"  (from {request['source_ip']})"
    return _message_lines(first, request["headers"], request["body"], body_limit)


def _came_back(exchange: dict[str, Any], body_limit: int | None) -> list[str]:
    response = exchange["response"]
    first = f"HTTP {response['status']}"
    if exchange.get("latency_ms") is not None:
        first += f" in {exchange['latency_ms']:g} ms"
    cut = bool(response.get("truncated"))
    return _message_lines(first, response["headers"], response["body"], body_limit, cut=cut)


def failure_fields(
    result: CheckResult, *, body_limit: int | None = None
) -> list[tuple[str, list[str]]]:
    """A failed check as (label, lines): reason, sent, came back, expected, reproduce.

    Labels without lines are left out (a failure with no exchange, say).
    """
    fields: list[tuple[str, list[str]]] = [("reason", [printable(result.detail)])]
    if result.exchange is not None:
        fields.append(("sent", _sent(result.exchange, body_limit)))
        fields.append(("came back", _came_back(result.exchange, body_limit)))
    if result.expected:
        fields.append(("expected", [printable(result.expected)]))
    if result.reproduce:
        fields.append(("reproduce", [printable(result.reproduce)]))
    return fields


def failure_text(result: CheckResult, *, body_limit: int | None = None) -> str:
    """`failure_fields` as indented plain text (JUnit, logs)."""
    out: list[str] = []
    for label, lines in failure_fields(result, body_limit=body_limit):
        out.append(f"{label}:")
        out += [f"  {line}" if line else "" for line in lines]
    return "\n".join(out)
