"""The webhooks `fakemeta serve` owes the receiver: a time-ordered queue.

The fake Graph API and the control API put jobs in (status updates for
messages the bot sent, inbound messages from the customer); the dispatcher
takes them out when due, sends them with Meta's habits and puts retries
back. State only: no HTTP here (STYLE rule 7).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from fakemeta.simulator.clock import OffsetClock
from fakemeta.simulator.types import Payload

__all__ = ["Job", "JobKind", "WebhookQueue"]

JobKind = Literal["inbound", "status", "field"]


@dataclass
class Job:
    """One webhook to deliver: a payload (signed at send time), when, and why.

    `attempts` counts the tries so far; `first_attempt_at` starts Meta's
    7-day retry window.
    """

    id: int
    kind: JobKind
    payload: Payload
    due_at: float
    label: str
    attempts: int = 0
    first_attempt_at: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class WebhookQueue:
    """Jobs ordered by due time; `wait_due` blocks a dispatcher until one is due."""

    def __init__(self, clock: OffsetClock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Job]] = []
        self._ids = itertools.count(1)
        self._changed = threading.Condition()

    def schedule(
        self,
        kind: JobKind,
        payload: Payload,
        *,
        label: str,
        delay: float = 0.0,
        meta: dict[str, Any] | None = None,
    ) -> Job:
        """Queue `payload` for delivery `delay` seconds from now (clock time)."""
        job = Job(next(self._ids), kind, payload, self.clock.now() + delay, label, meta=meta or {})
        self.put(job)
        return job

    def put(self, job: Job) -> None:
        """(Re)queue a job at its `due_at`, e.g. a retry."""
        with self._changed:
            heapq.heappush(self._heap, (job.due_at, job.id, job))
            self._changed.notify_all()

    def pop_due(self) -> list[Job]:
        """Every job due now, earliest first, taken off the queue."""
        now = self.clock.now()
        due: list[Job] = []
        with self._changed:
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap)[2])
        return due

    def wait_due(self, timeout: float) -> None:
        """Block until a job may be due, the queue changed, or `timeout` passed."""
        with self._changed:
            if self._heap:
                timeout = min(timeout, max(0.0, self._heap[0][0] - self.clock.now()))
            self._changed.wait(timeout)

    def poke(self) -> None:
        """Wake waiting dispatchers (after the clock moved forward)."""
        with self._changed:
            self._changed.notify_all()

    def pending(self) -> list[Job]:
        """A snapshot of the queued jobs, earliest first."""
        with self._changed:
            return [job for _, _, job in sorted(self._heap)]

    def clear(self) -> None:
        with self._changed:
            self._heap.clear()
            self._changed.notify_all()
