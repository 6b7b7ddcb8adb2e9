"""The webhooks `fakemeta serve` owes the receiver: a time-ordered queue.

The fake Graph API and the control API put jobs in (status updates for
messages the bot sent, inbound messages from the customer); the dispatcher
takes them out when due, sends them with Meta's habits and puts retries
back. State only: no HTTP here (STYLE rule 7).

The queue is bounded (`limit` jobs waiting): a receiver that never
verifies its subscription, or one that answers slower than the bot writes,
must not grow the server without end. Past the bound the oldest job is
dropped, as Meta drops a webhook whose retries ran out, and `on_drop`
is told (the state counts and reports it).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque
from collections.abc import Callable
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

    def __init__(
        self,
        clock: OffsetClock,
        *,
        limit: int | None = None,
        on_drop: Callable[[Job], None] | None = None,
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.on_drop = on_drop
        self._heap: list[tuple[float, int, Job]] = []
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        #: Ids of the jobs in the heap (a dropped job's entry stays there, skipped).
        self._queued: set[int] = set()
        #: Queued jobs oldest first, for dropping past `limit` (stale entries skipped).
        self._age: deque[Job] = deque()

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
        """(Re)queue a job at its `due_at`, e.g. a retry; past `limit`, drop the oldest."""
        dropped: list[Job] = []
        with self._changed:
            heapq.heappush(self._heap, (job.due_at, job.id, job))
            self._queued.add(job.id)
            self._age.append(job)
            while self.limit is not None and len(self._queued) > self.limit:
                oldest = self._age.popleft()
                if oldest.id in self._queued:
                    self._queued.discard(oldest.id)
                    dropped.append(oldest)
            stale = max(len(self._heap), len(self._age)) - len(self._queued)
            if stale > len(self._queued) + 64:
                self._compact()
            self._changed.notify_all()
        if self.on_drop is not None:
            for old in dropped:
                self.on_drop(old)

    def _compact(self) -> None:
        """Rebuild the heap and the age order without dropped or stale entries."""
        self._heap = [entry for entry in self._heap if entry[2].id in self._queued]
        heapq.heapify(self._heap)
        seen: set[int] = set()
        kept: deque[Job] = deque()
        for job in self._age:
            if job.id in self._queued and job.id not in seen:
                seen.add(job.id)
                kept.append(job)
        self._age = kept

    def pop_due(self) -> list[Job]:
        """Every job due now, earliest first, taken off the queue."""
        now = self.clock.now()
        due: list[Job] = []
        with self._changed:
            while self._heap and self._heap[0][0] <= now:
                job = heapq.heappop(self._heap)[2]
                if job.id in self._queued:
                    self._queued.discard(job.id)
                    due.append(job)
        return due

    def waiting(self) -> int:
        """How many jobs are queued (not counting dropped ones)."""
        with self._changed:
            return len(self._queued)

    def wait_due(self, timeout: float) -> None:
        """Block until a job may be due, the queue changed, or `timeout` passed."""
        with self._changed:
            while self._heap and self._heap[0][2].id not in self._queued:
                heapq.heappop(self._heap)  # dropped past the bound
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
            return [job for _, _, job in sorted(self._heap) if job.id in self._queued]

    def clear(self) -> None:
        with self._changed:
            self._heap.clear()
            self._queued.clear()
            self._age.clear()
            self._changed.notify_all()
