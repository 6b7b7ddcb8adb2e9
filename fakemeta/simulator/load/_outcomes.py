"""Outcomes in the load engine: what an answer, a failure or a timeout does
to a delivery, with Meta's retries and duplicates.

The layer of `fakemeta.simulator.load.engine.Engine` above `_pacing` (`Engine.__init__`
sets the state declared here). An answer is counted with its latency, the
delivery is marked acknowledged or not, and the connection that came free
sends its next attempt at once.

Meta's habits, as fractions of deliveries:
- duplicates: the same bytes and signature sent again at once on another
  connection, racing the first copy (Meta delivers at least once); `_pacing`
  makes them, this settles them;
- retries: a delivery answered 200 treated as unacknowledged anyway, as when
  Meta's wait for the answer ran out, and re-sent (Meta's first retry is
  immediate). Every failed attempt (an answer other than 200, a timeout, a
  dropped connection) is retried as Meta does, on its schedule compressed
  1000 times (at once, 15 ms, 60 ms, 300 ms, 900 ms), `MAX_ATTEMPTS` in all,
  then given up.
"""

from __future__ import annotations

import heapq
import time

from fakemeta.simulator.load._connection import FIRST, RETRY, Connection, Job
from fakemeta.simulator.load._pacing import Pacing
from fakemeta.simulator.sender import DEFAULT_SCHEDULE

__all__ = ["COMPRESSION", "MAX_ATTEMPTS", "RETRY_DELAYS", "Outcomes"]

#: How much faster than Meta's the retry schedule runs (15 s -> 15 ms).
COMPRESSION = 1000.0
#: Attempts per copy of a delivery before it is given up.
MAX_ATTEMPTS = 6
RETRY_DELAYS = tuple(d / COMPRESSION for d in DEFAULT_SCHEDULE.delays[: MAX_ATTEMPTS - 1])

_perf = time.perf_counter


class Outcomes(Pacing):
    """Counts answers and failures, and settles or retries the deliveries."""

    _connections: list[Connection]
    _latencies: list[int]  # microseconds, appended as answers come
    _statuses: dict[int, int]  # answers but 200, counted in `_ok`
    _errors: dict[str, int]
    _ok: int
    _acked: int
    acked_ids: list[bytes]
    last_error: str
    _retries: float
    _sequence: int  # ties in `_later`, in the order retries were scheduled
    _stopping: bool

    def answered(self, connection: Connection, status: int) -> None:
        job = connection.job
        if job is None:  # an answer nobody asked for: don't trust the connection
            self.failed(connection, "protocol", "a response without a request")
            return
        now = _perf()
        self._latencies.append(int((now - job.intended) * 1_000_000))
        if status != 200:
            self._statuses[status] = self._statuses.get(status, 0) + 1
            self.last_error = f"HTTP {status}"
            self._unacknowledged(job, now)
        elif job.kind or self._retries or job.ids is not None:
            self._ok += 1
            self._acknowledged(job, now)
        else:  # the common case, inline: a first attempt acknowledged
            self._ok += 1
            job.acked = True
            self._acked += 1
        transport = connection.transport
        if connection.reader.close or transport is None:
            connection.job = None
            if transport is not None:
                transport.close()  # `lost` opens it again
            return
        # The connection that came free sends the next request itself
        # (`_send`, inline: this runs once a request).
        following = self._next_job(now)
        if following is None:
            connection.job = None
            self._free.append(connection)
            return
        connection.job, connection.sent_at = following, now
        self._requests += 1
        self._bytes += len(following.request)
        if following.kind:
            self._count(following)
        transport.write(following.request)

    def _acknowledged(self, job: Job, now: float) -> None:
        delivery = job.delivery
        if not delivery.acked:
            delivery.acked = True
            self._acked += 1
            if delivery.ids is not None:
                self.acked_ids.extend(delivery.ids)
        if job.kind == FIRST and self._retries and self._chance() < self._retries:
            self._schedule(job, now)  # Meta missed the 200: its first retry is at once
            return
        self._settle(job)

    def _unacknowledged(self, job: Job, now: float) -> None:
        if job.attempt < MAX_ATTEMPTS and not self._stopping:
            self._schedule(job, now)
        else:
            self._settle(job)

    def _schedule(self, job: Job, now: float) -> None:
        due = now + RETRY_DELAYS[min(job.attempt, len(RETRY_DELAYS)) - 1]
        retry = Job(job.delivery, job.request, RETRY, job.attempt + 1, due)
        if due <= now:
            self._ready.append(retry)
        else:
            self._sequence += 1
            heapq.heappush(self._later, (due, self._sequence, retry))

    def _settle(self, job: Job) -> None:
        delivery = job.delivery
        delivery.open -= 1
        if delivery.open == 0 and not delivery.acked:
            self.counters.given_up += 1

    def failed(self, connection: Connection, error: str, detail: str) -> None:
        """The attempt on `connection` ended without an answer; the connection is dropped."""
        job, connection.job = connection.job, None
        if job is not None:
            self._errors[error] = self._errors.get(error, 0) + 1
            self.last_error = f"{error}: {detail}" if detail else error
            self._unacknowledged(job, time.perf_counter())
        if connection.transport is not None:
            connection.transport.abort()

    def _sweep(self, now: float) -> None:
        """Fail the attempts that have waited longer than the plan's timeout."""
        limit = self.plan.timeout
        for connection in self._connections:
            if connection.job is not None and now - connection.sent_at > limit:
                self.failed(connection, "timeout", f"no answer in {limit:g} s")
