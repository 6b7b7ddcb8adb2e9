"""What a load run shows: the live progress line, the final table, the JSON
report, and the `--fail-if` thresholds that decide the exit status.

Last step of the load data flow: `runner.run()` hands over merged counters
and an HdrHistogram of latencies; `Summary.of()` turns them into the
numbers every output shares, so the table, the JSON and the thresholds
never disagree.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fakemeta.simulator.errors import BadInput
from fakemeta.simulator.load.probe import ProbeCount
from fakemeta.simulator.load.runner import Progress, RunResult

__all__ = [
    "PERCENTILES",
    "ProbeCount",
    "Summary",
    "Threshold",
    "parse_seconds",
    "parse_threshold",
    "progress_line",
    "table",
]

#: Reported latency percentiles: JSON key and percentile.
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))

_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_SECONDS = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*(us|µs|ms|s|m|min|h)?\s*")


def parse_seconds(text: str, option: str, *, default_unit: str = "s") -> float:
    """`10`, `10s`, `1.5m`, `500ms` -> seconds; `BadInput` naming `option` otherwise."""
    match = _SECONDS.fullmatch(text)
    if match is None:
        raise BadInput(f"{option} {text!r}: give a number with an optional unit (500ms, 10s, 2m)")
    return float(match.group(1)) * _UNITS[match.group(2) or default_unit]


@dataclass
class Summary:
    """The numbers of a run, as every output shows them."""

    target: str
    reason: str
    elapsed: float
    requests: int
    rate: float
    deliveries: int
    acknowledged: int
    updates: int
    duplicates: int
    retries: int
    given_up: int
    unfinished: int
    latency_ms: dict[str, float]
    statuses: dict[str, int]
    errors: dict[str, int]
    error_rate: float
    bytes_sent: int
    cpu_user: float = 0.0
    cpu_system: float = 0.0
    machine_busy: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    probe: ProbeCount | None = None

    @classmethod
    def of(cls, result: RunResult, target: str, config: dict[str, Any]) -> Summary:
        progress = result.progress
        c, histogram = progress.counters, progress.histogram
        latency: dict[str, float] = {}
        if histogram.get_total_count():
            for key, percentile in PERCENTILES:
                latency[key] = histogram.get_value_at_percentile(percentile) / 1000.0
            latency["max"] = histogram.get_max_value() / 1000.0
            latency["mean"] = histogram.get_mean_value() / 1000.0
        elapsed = max(progress.elapsed, 1e-9)
        return cls(
            target=target,
            reason=result.reason,
            elapsed=progress.elapsed,
            requests=c.requests,
            rate=c.requests / elapsed,
            deliveries=c.deliveries,
            acknowledged=c.acknowledged,
            updates=c.updates,
            duplicates=c.duplicates,
            retries=c.retries,
            given_up=c.given_up,
            unfinished=c.deliveries - c.acknowledged - c.given_up,
            latency_ms=latency,
            statuses=dict(sorted(c.statuses.items())),
            errors=dict(sorted(c.errors.items())),
            error_rate=c.error_rate(),
            bytes_sent=c.bytes_sent,
            cpu_user=c.cpu_user,
            cpu_system=c.cpu_system,
            machine_busy=result.machine_busy,
            config=config,
        )

    def to_json(self, thresholds: list[tuple[Threshold, float, bool]], exit_status: int) -> Any:
        probe = None
        if self.probe is not None:
            probe = {
                "checked": self.probe.checked,
                "stored_once": self.probe.checked - self.probe.gap,
                "not_stored": len(self.probe.missing),
                "stored_twice": len(self.probe.doubled),
                "not_stored_ids": list(self.probe.missing[:100]),
                "stored_twice_ids": list(self.probe.doubled[:100]),
                "statuses_checked": not self.probe.statuses_skipped,
            }
        return {
            "tool": "fakemeta",
            "command": "load",
            "target": self.target,
            "outcome": self.reason,
            "exit_status": exit_status,
            "config": self.config,
            "duration_s": round(self.elapsed, 3),
            "requests": self.requests,
            "rate": round(self.rate, 1),
            "deliveries": {
                "sent": self.deliveries,
                "acknowledged": self.acknowledged,
                "given_up": self.given_up,
                "unfinished": self.unfinished,
                "updates": self.updates,
            },
            "attempts": {
                "first": self.requests - self.duplicates - self.retries,
                "duplicates": self.duplicates,
                "retries": self.retries,
            },
            "latency_ms": {k: round(v, 3) for k, v in self.latency_ms.items()},
            "status_codes": self.statuses,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "bytes_sent": self.bytes_sent,
            "cpu_s": {"user": round(self.cpu_user, 3), "system": round(self.cpu_system, 3)},
            "machine_cpu_busy": None if self.machine_busy is None else round(self.machine_busy, 3),
            "thresholds": [
                {"expression": t.text, "value": value, "failed": failed}
                for t, value, failed in thresholds
            ],
            "probe": probe,
        }


# -- thresholds ------------------------------------------------------------------

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_THRESHOLD = re.compile(r"\s*([a-z0-9.]+)\s*(>=|<=|>|<)\s*([0-9]*\.?[0-9]+)\s*(%|[a-zµ]+)?\s*")
_LATENCIES = {"p50": "p50", "p90": "p90", "p99": "p99", "p999": "p999", "p99.9": "p999"}
_LATENCIES.update({"max": "max", "mean": "mean"})


@dataclass(frozen=True)
class Threshold:
    """`metric op value`: the run fails when it holds (`p99>500ms` fails a
    run whose p99 is above 500 ms)."""

    text: str
    metric: str
    op: str
    value: float  # ms for latencies, a fraction for errors, per second for rate

    def measure(self, summary: Summary) -> float:
        if self.metric == "errors":
            return summary.error_rate
        if self.metric == "rate":
            return summary.rate
        return summary.latency_ms.get(self.metric, 0.0)

    def check(self, summary: Summary) -> tuple[float, bool]:
        actual = self.measure(summary)
        return actual, _OPERATORS[self.op](actual, self.value)

    def show(self, actual: float) -> str:
        if self.metric == "errors":
            return f"{actual * 100:.3g}%"
        if self.metric == "rate":
            return f"{actual:,.0f}/s"
        return _ms(actual)


def parse_threshold(text: str) -> Threshold:
    """`p99>500ms`, `p50>=20ms`, `max>2s`, `errors>0.1%`, `rate<1000`."""
    match = _THRESHOLD.fullmatch(text.lower())
    example = "e.g. p99>500ms, errors>0.1%, rate<1000"
    if match is None:
        raise BadInput(f"--fail-if {text!r}: expected METRIC OP VALUE, {example}")
    name, op, number, unit = match.groups()
    value = float(number)
    if name in _LATENCIES:
        if unit is not None and unit not in _UNITS:
            raise BadInput(f"--fail-if {text!r}: unknown unit {unit!r}; use us, ms or s")
        return Threshold(text, _LATENCIES[name], op, value * _UNITS[unit or "ms"] * 1000.0)
    if name == "errors":
        if unit not in (None, "%"):
            raise BadInput(f"--fail-if {text!r}: errors take a percentage (0.1%) or a fraction")
        return Threshold(text, "errors", op, value / 100.0 if unit == "%" else value)
    if name == "rate":
        if unit not in (None, "s", "rps"):
            raise BadInput(f"--fail-if {text!r}: a rate is requests per second, e.g. rate<1000")
        return Threshold(text, "rate", op, value)
    known = ", ".join([*_LATENCIES, "errors", "rate"])
    raise BadInput(f"--fail-if {text!r}: unknown metric {name!r}; use one of {known}")


# -- text ------------------------------------------------------------------------


def _ms(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.2f} ms"


def _codes(statuses: dict[str, int]) -> str:
    return "  ".join(f"{code} ×{count:,}" for code, count in statuses.items()) or "none"


def progress_line(progress: Progress, rate: float) -> str:
    """One line: time, current rate, p50/p99 so far, status codes, errors."""
    c, histogram = progress.counters, progress.histogram
    latency = "p50 -  p99 -"
    if histogram.get_total_count():
        p50 = histogram.get_value_at_percentile(50.0) / 1000.0
        p99 = histogram.get_value_at_percentile(99.0) / 1000.0
        latency = f"p50 {_ms(p50)}  p99 {_ms(p99)}"
    failed = sum(c.errors.values())
    errors = f"errors {failed:,}" + (f" ({progress.last_error})" if failed else "")
    return (
        f"{progress.elapsed:6.1f} s  {rate:>9,.0f} req/s  {latency}  {_codes(c.statuses)}  "
        f"{errors}  conns {c.connections}"
    )


def table(summary: Summary, thresholds: list[tuple[Threshold, float, bool]]) -> str:
    """The final report, a few aligned lines."""
    s = summary
    config = s.config
    lines = [
        f"fakemeta load {s.target}: {_outcome(s.reason)} in {s.elapsed:.2f} s",
        f"  setup         {config.get('workers')} worker(s), {config.get('connections')}"
        f" connections, rate {config.get('rate')}, mix {config.get('mix')},"
        f" batch {config.get('batch')}, era {config.get('era')}, seed {config.get('seed')}",
        f"  requests      {s.requests:,} ({s.rate:,.0f}/s): duplicates {s.duplicates:,},"
        f" retries {s.retries:,}",
        f"  deliveries    {s.deliveries:,} ({s.updates:,} updates), acknowledged"
        f" {s.acknowledged:,} ({_share(s.acknowledged, s.deliveries)}), given up"
        f" {s.given_up:,}, unfinished {s.unfinished:,}",
    ]
    if s.latency_ms:
        shown = "  ".join(
            f"{'p99.9' if key == 'p999' else key} {_ms(value)}"
            for key, value in s.latency_ms.items()
        )
        lines.append(f"  latency       {shown}")
    else:
        lines.append("  latency       no answers")
    lines.append(f"  status codes  {_codes(s.statuses)}")
    errors = ", ".join(f"{name} ×{count:,}" for name, count in s.errors.items()) or "none"
    lines.append(f"  errors        {errors} (not acknowledged: {s.error_rate * 100:.3g}%)")
    cpu = s.cpu_user + s.cpu_system
    if s.requests and cpu:
        line = (
            f"  generator     CPU {cpu / s.requests * 1e6:.1f} µs a request"
            f" ({s.cpu_system / cpu * 100:.0f}% in the kernel), {cpu / s.elapsed:.2f} CPUs"
        )
        if s.machine_busy is not None:
            line += f"; the machine's CPUs {s.machine_busy * 100:.0f}% busy"
            if s.machine_busy > 0.9:
                line += " (saturated: the rate is this machine's as much as the receiver's)"
        lines.append(line)
    if thresholds:
        shown = "; ".join(
            f"{t.text}: {t.show(value)} {'FAILED' if failed else 'ok'}"
            for t, value, failed in thresholds
        )
        lines.append(f"  thresholds    {shown}")
    if s.probe is not None:
        p = s.probe
        lines.append(
            f"  probe         {p.checked:,} acknowledged message ids: {p.checked - p.gap:,}"
            f" stored once, {len(p.missing):,} not stored, {len(p.doubled):,} stored twice"
            + (
                " (statuses are not checked: the probe has no statuses)"
                if p.statuses_skipped
                else ""
            )
        )
    return "\n".join(lines)


def _outcome(reason: str) -> str:
    return {
        "completed": "completed",
        "interrupted": "interrupted (partial report)",
        "stalled": "stopped early (partial report)",
        "failed": "failed (partial report)",
    }.get(reason, reason)


def _share(part: int, whole: int) -> str:
    return f"{part / whole * 100:.2f}%" if whole else "-"
