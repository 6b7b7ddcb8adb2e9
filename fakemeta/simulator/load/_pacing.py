"""Pacing of the load engine: which attempt a free connection sends next, and when.

The lowest layer of `fakemeta.simulator.load.engine.Engine` (`Engine.__init__`
sets the state declared here). A free connection takes, in this order: a
duplicate or retry that is due, then a new delivery.

Rate: `rate=None` is a closed loop (every connection sends again as soon as
it is answered). With a rate, delivery k is due at `start + k / rate` (an
open loop); latency is counted from that due time, not from when a
connection came free, so a receiver that falls behind shows it in the
percentiles instead of quietly lowering the rate (no coordinated omission).

Requests are made and signed a few dozen at a time, just ahead of use (at
most 10 ms' worth at a set rate): see `stock_size`.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from fakemeta.simulator.load._connection import DUPLICATE, FIRST, Connection, Job

if TYPE_CHECKING:
    from fakemeta.simulator.load._http import Endpoint
    from fakemeta.simulator.load.bodies import BodyFactory
    from fakemeta.simulator.load.engine import WorkerPlan
    from fakemeta.simulator.load.stats import Counters

__all__ = ["TICK_CLOSED", "TICK_OPEN", "Pacing", "stock_size"]

#: How often the engine's clock ticks: an open loop releases sends every
#: millisecond; a closed loop only checks for the end and reports.
TICK_OPEN = 0.001
TICK_CLOSED = 0.01

_perf = time.perf_counter
_STOCK = 64  # requests made ahead in one go


def stock_size(plan: WorkerPlan) -> int:
    """Requests to make ahead: at most 10 ms' worth at the plan's rate, and
    fewer for big batches (making them holds up the answers meanwhile)."""
    ten_ms = float("inf") if plan.rate is None else plan.rate / 100
    return max(1, int(min(_STOCK // plan.body.batch, ten_ms)))


class Pacing:
    """Hands free connections their next attempt, at its due time."""

    plan: WorkerPlan
    endpoint: Endpoint
    factory: BodyFactory
    counters: Counters
    _chance: Callable[[], float]
    _duplicates: float
    _free: list[Connection]
    #: Duplicates and retries due now, and retries due later (a heap by due time).
    _ready: deque[Job]
    _later: list[tuple[float, int, Job]]
    _stock: list[tuple[bytes, list[bytes] | None]]
    _stock_size: int
    #: Deliveries made, and how many may be made (0 before the run and once stopping).
    _made: int
    _limit: float
    _rate: float | None
    _start: float
    _requests: int
    _bytes: int

    def _dispatch(self, now: float) -> None:
        free = self._free
        while free:
            job = self._next_job(now)
            if job is None:
                return
            self._send(free.pop(), job, now)

    def _next_job(self, now: float) -> Job | None:
        if self._ready:
            return self._ready.popleft()
        if self._later and self._later[0][0] <= now:
            return heapq.heappop(self._later)[2]
        if self._made >= self._limit:
            return None
        rate = self._rate
        if rate is None:
            intended = now
        else:
            intended = self._start + self._made / rate
            if intended > now:
                return None
        if not self._stock:
            self._restock()
            if rate is None:  # making them took time: the clock starts now
                intended = _perf()
        request, ids = self._stock.pop()
        self._made += 1
        job = Job(None, request, FIRST, 1, intended, ids)
        if self._duplicates and self._chance() < self._duplicates:
            job.open += 1
            self._ready.append(Job(job, request, DUPLICATE, 1, intended))
        return job

    def _restock(self) -> None:
        """Make the next few requests in one go (see `BodyFactory.requests`)."""
        endpoint = self.endpoint
        stock = self.factory.requests(
            self._stock_size, endpoint.head_to_digest, endpoint.middle, record=self.plan.record_ids
        )
        stock.reverse()
        self._stock = stock

    def _send(self, connection: Connection, job: Job, now: float) -> None:
        assert connection.transport is not None
        connection.job, connection.sent_at = job, now
        self._requests += 1
        self._bytes += len(job.request)
        if job.kind:
            self._count(job)
        connection.transport.write(job.request)

    def _count(self, job: Job) -> None:
        if job.kind == DUPLICATE:
            self.counters.duplicates += 1
        else:
            self.counters.retries += 1
