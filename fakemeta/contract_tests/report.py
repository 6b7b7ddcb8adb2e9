"""Results of a run, and the JSON report of DESIGN.md.

One `CheckResult` per check; a requirement's outcome is failed if any of its
checks failed, skipped if none could run, passed otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal

from fakemeta.contract_tests.requirements import REQUIREMENTS, Requirement
from fakemeta.contract_tests.shrinking import Shrunk
from fakemeta.simulator.targets import RESPONSE_BODY_LIMIT, Exchange

__all__ = ["CUT_NOTE", "CheckResult", "Outcome", "Report", "RequirementResult", "exchange_summary"]

Outcome = Literal["passed", "failed", "skipped"]

_BODY_LIMIT = 2000
# `json.dumps` escapes C0 controls (ESC becomes `\u001b`) but writes these raw
# under `ensure_ascii=False`: DEL, the C1 controls (U+009B starts an escape
# sequence on a terminal, as ESC [ does), line separators and bidirectional
# overrides. They occur only inside strings, where `\uXXXX` means the same.
_RAW_CONTROLS = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


#: How reports say that fakemeta stopped reading a response body.
CUT_NOTE = f"cut at {RESPONSE_BODY_LIMIT // 1024} KiB: the receiver sent more"


def _trim(data: bytes, *, cut: bool = False) -> str:
    text = data.decode("utf-8", "replace")
    if len(text) <= _BODY_LIMIT and not cut:
        return text
    return f"{text[:_BODY_LIMIT]}… ({CUT_NOTE if cut else f'{len(data)} bytes in all'})"


def exchange_summary(exchange: Exchange) -> dict[str, Any]:
    """What was sent and what came back, bodies trimmed, for reports.

    Strings are the receiver's own, control characters included: renderers
    for terminals make them visible (`reporting.printable`). `truncated`
    says the receiver sent more body than fakemeta reads.
    """
    request, response = exchange.request, exchange.response
    return {
        "request": {
            "method": request.method,
            "url": request.url,
            "source_ip": request.source_ip,
            "headers": [list(pair) for pair in request.headers],
            "body": _trim(request.body),
        },
        "response": {
            "status": response.status,
            "headers": [list(pair) for pair in response.headers],
            "body": _trim(response.body, cut=response.truncated),
            "truncated": response.truncated,
        },
        "latency_ms": round(exchange.latency * 1000, 1),
    }


@dataclass(frozen=True)
class CheckResult:
    check: str  # "SIG-2::unsigned_delivery_is_refused"
    requirement: Requirement
    description: str
    outcome: Outcome
    detail: str = ""
    expected: str = ""
    exchange: dict[str, Any] | None = None
    reproduce: str = ""
    duration: float = 0.0
    #: A failed generated example: how far it was shrunk, and the `--replay`
    #: token of the example `reproduce` sends.
    shrink: Shrunk | None = None
    replay: str | None = None


@dataclass(frozen=True)
class RequirementResult:
    requirement: Requirement
    outcome: Outcome
    detail: str
    reproduce: str
    checks: tuple[CheckResult, ...]


def _aggregate(requirement: Requirement, checks: tuple[CheckResult, ...]) -> RequirementResult:
    failed = [c for c in checks if c.outcome == "failed"]
    if failed:
        return RequirementResult(
            requirement, "failed", failed[0].detail, failed[0].reproduce, checks
        )
    passed = [c for c in checks if c.outcome == "passed"]
    if passed:
        skipped = [c for c in checks if c.outcome == "skipped"]
        note = (
            f" ({len(skipped)} of {len(checks)} checks skipped: {skipped[0].detail})"
            if skipped
            else ""
        )
        detail = f"{len(passed)} check{'' if len(passed) == 1 else 's'} passed{note}"
        return RequirementResult(requirement, "passed", detail, "", checks)
    reason = checks[0].detail if checks else "no check selected"
    return RequirementResult(requirement, "skipped", reason, "", checks)


@dataclass
class Report:
    target: str
    profile: str
    seed: int
    results: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration: float = 0.0

    @property
    def version(self) -> str:
        return metadata.version("fakemeta")

    def requirements(self, ids: Iterable[str] | None = None) -> list[RequirementResult]:
        """One result per requirement of the catalogue (or of `ids`), in catalogue order."""
        wanted = list(ids) if ids is not None else list(REQUIREMENTS)
        by_id: dict[str, list[CheckResult]] = {i: [] for i in wanted}
        for result in self.results:
            by_id.setdefault(result.requirement.id, []).append(result)
        return [_aggregate(REQUIREMENTS[i], tuple(by_id[i])) for i in wanted if i in by_id]

    def summary(self) -> dict[str, int]:
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        for requirement in self.requirements():
            counts[requirement.outcome] += 1
        return counts

    @property
    def ok(self) -> bool:
        return self.summary()["failed"] == 0

    def skipped_musts(self, option: str) -> str | None:
        """The note `option` (`--fail-on-skipped-must`) fails a run with when
        a MUST requirement was skipped (no probe, an in-process app...), or None."""
        # A requirement with no checks was not selected (-k), not skipped.
        skipped = [
            r
            for r in self.requirements()
            if r.requirement.level == "MUST" and r.outcome == "skipped" and r.checks
        ]
        if not skipped:
            return None
        listed = "; ".join(f"{r.requirement.id} ({r.detail})" for r in skipped)
        return (
            f"{option}: {len(skipped)} MUST requirement"
            f"{' was' if len(skipped) == 1 else 's were'} skipped, so the run fails: {listed}"
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON report exactly as DESIGN.md fixes it (plus `checks`, `notes`)."""
        return {
            "tool": "fakemeta",
            "version": self.version,
            "target": self.target,
            "profile": self.profile,
            "seed": self.seed,
            "requirements": [
                {
                    "id": r.requirement.id,
                    "level": r.requirement.level,
                    "title": r.requirement.title,
                    "outcome": r.outcome,
                    "detail": r.detail,
                    "reproduce": r.reproduce,
                }
                for r in self.requirements()
            ],
            "summary": self.summary(),
            "checks": [
                {
                    "id": c.check,
                    "requirement": c.requirement.id,
                    "description": c.description,
                    "outcome": c.outcome,
                    "detail": c.detail,
                    "expected": c.expected,
                    "exchange": c.exchange,
                    "reproduce": c.reproduce,
                    "duration_s": round(c.duration, 3),
                    "shrink": c.shrink.to_json() if c.shrink is not None else None,
                }
                for c in self.results
            ],
            "notes": self.notes,
        }

    def dumps(self) -> str:
        """The JSON report: receivers' strings kept exactly, every control character
        written as a JSON escape, so that printing the file cannot drive a terminal."""
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=2)
        return _RAW_CONTROLS.sub(lambda match: f"\\u{ord(match[0]):04x}", text)
