"""What a load run counts: requests, answers, errors, deliveries, latencies.

The engine (one per worker process) counts into a `Counters` and buffers
latencies in microseconds; `Latencies.flush()` moves them into an
HdrHistogram (the `hdrhistogram` package: 1 µs to 1 h at 3 significant
digits) a batch at a time, since recording each value costs more than
sending a request. Workers send the parent their cumulative counters and
the histogram of each interval, encoded; the parent adds them up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

__all__ = ["ERROR_CLASSES", "Counters", "Latencies", "merge"]

#: Why an attempt failed without an HTTP answer, as reports name it.
ERROR_CLASSES = ("refused", "connect", "timeout", "reset", "closed", "protocol", "tls")

_LOWEST_US = 1
_HIGHEST_US = 3_600_000_000
_DIGITS = 3


@dataclass
class Counters:
    """Cumulative counts of one worker, or of all once merged."""

    #: Requests written: first attempts, duplicates and retries.
    requests: int = 0
    #: Deliveries made (each unique body once), and how many got a 200.
    deliveries: int = 0
    acknowledged: int = 0
    #: Updates in those deliveries (batches hold several).
    updates: int = 0
    duplicates: int = 0
    retries: int = 0
    #: Deliveries whose attempts all failed on Meta's (compressed) schedule.
    given_up: int = 0
    #: Duplicates and retries due when the run ended, never sent.
    unsent: int = 0
    in_flight: int = 0
    connections: int = 0
    bytes_sent: int = 0
    #: CPU seconds the workers spent while sending (a generator at 100% of
    #: its cores is measuring itself, not the receiver).
    cpu_user: float = 0.0
    cpu_system: float = 0.0
    #: Answers by status code ("200": n), attempts without one by error class.
    statuses: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def failed(self) -> int:
        """Attempts not acknowledged: any answer but 200, or no answer."""
        return self.answered - self.statuses.get("200", 0) + sum(self.errors.values())

    @property
    def attempts(self) -> int:
        """Attempts that ended: answered or failed without an answer."""
        return self.answered + sum(self.errors.values())

    def error_rate(self) -> float:
        return self.failed / self.attempts if self.attempts else 0.0

    @property
    def cpu(self) -> float:
        return self.cpu_user + self.cpu_system

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Counters:
        return cls(**data)


def merge(parts: list[Counters]) -> Counters:
    """The sum of several workers' counters."""
    total = Counters()
    for part in parts:
        for name, value in vars(part).items():
            if isinstance(value, dict):
                into: dict[str, int] = getattr(total, name)
                for key, count in value.items():
                    into[key] = into.get(key, 0) + count
            else:
                setattr(total, name, getattr(total, name) + value)
    return total


class Latencies:
    """Latencies in microseconds: appended cheaply, flushed into an HdrHistogram."""

    def __init__(self) -> None:
        self.buffer: list[int] = []
        self.histogram = self.empty()

    @staticmethod
    def empty() -> HdrHistogram:
        return HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)

    def flush(self) -> None:
        if self.buffer:
            counts = Counter(self.buffer)
            self.buffer.clear()  # in place: the engine holds on to the list
            record = self.histogram.record_value
            for value, count in counts.items():
                record(min(max(value, _LOWEST_US), _HIGHEST_US), count)

    def take_encoded(self) -> bytes:
        """The histogram since the last call, encoded; the histogram starts anew."""
        self.flush()
        encoded: bytes = self.histogram.encode()
        self.histogram = self.empty()
        return encoded

    @staticmethod
    def add_encoded(into: HdrHistogram, encoded: bytes) -> None:
        into.decode_and_add(encoded)
