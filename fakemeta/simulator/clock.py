"""Clocks for the sender: real time, compressed time, and time that tests move.

Meta retries for up to 7 days. The sender reads and waits on a `Clock` so
that a run can keep Meta's schedule in real time, play it faster
(`CompressedClock(factor)`: a day of waiting passes in 86400 / factor
seconds), or skip
the waiting entirely (`ManualClock`: sleeping advances it at once, which is
what tests use to check the whole schedule in milliseconds).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "CompressedClock", "ManualClock", "OffsetClock", "RealClock"]


class Clock(Protocol):
    """Seconds since the epoch (`now`) and a way to wait (`sleep`), in the clock's time."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    """Wall-clock time and real sleeping."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class CompressedClock:
    """Real time in which waiting runs `factor` times faster.

    `sleep(s)` waits `s / factor` real seconds and moves `now()` forward by
    the full `s`; time spent doing anything else (sending, the receiver
    answering) passes at its real rate. So a run keeps Meta's schedule exactly,
    with `factor=86400` making each day of waiting last one second, and a
    retry due "at once" is shown at once, not after the request's latency
    multiplied by `factor`. `now()` starts at `start` (default: now).
    """

    def __init__(self, factor: float, *, start: float | None = None) -> None:
        if not factor > 0:
            raise ValueError(f"Expected factor > 0 but got factor={factor!r}")
        self.factor = factor
        self._start = time.time() if start is None else start
        self._origin = time.monotonic()
        self._skipped = 0.0

    def now(self) -> float:
        return self._start + (time.monotonic() - self._origin) + self._skipped

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            real = seconds / self.factor
            time.sleep(real)
            self._skipped += seconds - real


class ManualClock:
    """Time that only moves when told: `sleep` and `advance` move it at once.

    `slept` lists every sleep, so a test can check the waits themselves.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept.append(seconds)
            self._now += seconds

    def advance(self, seconds: float) -> None:
        """Move time forward without recording a sleep (time spent elsewhere)."""
        if seconds < 0:
            raise ValueError(f"Expected seconds >= 0 but got seconds={seconds!r}")
        self._now += seconds


class OffsetClock:
    """Wall-clock time that can be moved forward (`advance`), never back.

    What `fakemeta serve` runs on: everything happens in real time, and the
    control API's "move the clock" makes a retry due in an hour due now.
    Thread-safe; `sleep` waits in real time.
    """

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"Expected seconds >= 0 but got seconds={seconds!r}")
        with self._lock:
            self._offset += seconds

    @property
    def offset(self) -> float:
        return self._offset
