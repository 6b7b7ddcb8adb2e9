"""One worker's load loop: keep-alive connections, rate control, Meta's
duplicates and retries, counted as it goes.

Runs inside a worker process (`fakemeta.simulator.load.runner` starts them) on
uvloop when it is installed. Each connection is an asyncio `Protocol` with
one request in flight at a time (HTTP/1.1 keep-alive, no pipelining, as
Meta sends). `Engine` is built in layers, one module each, so that the
request loop stays a few attribute lookups on one object:

    _pacing.py      which attempt a free connection sends next, and when
                    (open or closed loop), requests made ahead in batches
    _outcomes.py    answers, failures and timeouts; Meta's retries and duplicates
    _connecting.py  opening the connections, and opening them again
    engine.py       the plan, its state, the clock, the life cycle, counts

The clock ticks every millisecond at a set rate (every 10 ms otherwise): it
releases what is due, fails attempts past the timeout, reports progress to
the parent and ends the run when its duration or request budget is used up.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fakemeta.simulator.load._connecting import Connecting, tls_context
from fakemeta.simulator.load._connection import Connection
from fakemeta.simulator.load._http import Endpoint
from fakemeta.simulator.load._outcomes import COMPRESSION, MAX_ATTEMPTS
from fakemeta.simulator.load._pacing import TICK_CLOSED, TICK_OPEN, stock_size
from fakemeta.simulator.load.bodies import BodyFactory, BodySpec
from fakemeta.simulator.load.stats import Counters, Latencies

__all__ = ["COMPRESSION", "MAX_ATTEMPTS", "Engine", "WorkerPlan"]

_SWEEP = 0.05  # how often in-flight requests are checked against the timeout


@dataclass(frozen=True)
class WorkerPlan:
    """One worker's share of a run: plain data, sent to its process."""

    url: str
    body: BodySpec
    connections: int
    rate: float | None  # deliveries per second for this worker; None: as fast as it can
    duration: float | None
    requests: int | None  # deliveries for this worker
    timeout: float
    duplicates: float = 0.0
    retries: float = 0.0
    record_ids: bool = False
    insecure: bool = False
    worker: int = 0
    seed: int | None = None
    report_every: float = 0.25


class Engine(Connecting):
    """Runs one `WorkerPlan`; `report(kind, *data)` carries messages to the parent.

    The request loop is in the layers below (see the module docstring); this
    holds the state they share, and the life cycle: connect, run, stop."""

    def __init__(self, plan: WorkerPlan, report: Callable[..., None]) -> None:
        self.plan = plan
        self.endpoint = Endpoint(plan.url)
        seed = plan.seed
        tag = f"{seed}/worker/{plan.worker}"
        self.factory = BodyFactory(plan.body, random.Random(tag) if seed is not None else None)
        self._chance = (
            random.Random(tag + "/habits") if seed is not None else random.Random()
        ).random
        self._report = report
        self._retries, self._duplicates = plan.retries, plan.duplicates
        self.counters = Counters()
        self.latencies = Latencies()
        self.acked_ids = []
        self.last_error = ""
        self.end_reason = "completed"
        self._statuses = {}
        # Hot counters as plain attributes; `snapshot()` copies them over.
        self._requests = self._bytes = self._acked = self._ok = 0
        self._latencies = self.latencies.buffer
        self._errors = {}
        self._connections = [Connection(self) for _ in range(max(1, plan.connections))]
        self._free = []
        self._ready = deque()
        self._stock = []
        self._stock_size = stock_size(plan)
        self._later = []
        self._sequence = 0
        self._made = 0
        self._budget = plan.requests if plan.requests is not None else float("inf")
        self._limit = 0
        self._rate = plan.rate
        self._start = 0.0
        self._stopping = False
        self._stop_at = 0.0
        self._started = False
        self._closing = False
        self._next_report = 0.0
        self._cpu: os.times_result | None = None
        self._reports = 0
        self._next_sweep = 0.0
        self._loop = None
        self._done: asyncio.Event | None = None
        self._ssl = tls_context(self.endpoint, insecure=plan.insecure)

    # -- life cycle ---------------------------------------------------------------

    async def connect(self) -> bool:
        """Open every connection; True when at least one opened."""
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        await asyncio.gather(*(self._open(c) for c in self._connections))
        return bool(self._free)

    async def run(self) -> None:
        """Send until the plan's duration or request budget is used up, or `stop()`."""
        assert self._loop is not None
        assert self._done is not None
        self._start = time.perf_counter()
        self._cpu = os.times()
        self._started = True
        self._limit = self._budget
        self._next_report = self._start + self.plan.report_every
        self._next_sweep = self._start + _SWEEP
        for connection in self._connections:
            if connection.transport is None:  # failed while connecting: try again now
                self._reopen(connection)
        self._tick()
        await self._done.wait()
        # What is still in flight is abandoned: counted, not failed.
        self.counters.in_flight = sum(1 for c in self._connections if c.job is not None)
        self._cpu_now()
        self._closing = True
        for connection in self._connections:
            if connection.transport is not None:
                connection.transport.abort()

    def stop(self, reason: str) -> None:
        """Stop now: nothing more is sent, what is in flight is abandoned."""
        if self.end_reason == "completed":
            self.end_reason = reason
        self._begin_stop(time.perf_counter())
        self._finish()

    def _cpu_now(self) -> None:
        if self._cpu is not None:
            now = os.times()
            self.counters.cpu_user = now.user - self._cpu.user
            self.counters.cpu_system = now.system - self._cpu.system

    def snapshot(self, *, latencies: bool = True) -> tuple[dict[str, Any], bytes]:
        """Cumulative counters, and the latencies since the last snapshot
        that had them (encoded), or b"" without `latencies`."""
        c = self.counters
        c.requests, c.bytes_sent, c.acknowledged = self._requests, self._bytes, self._acked
        c.deliveries = self._made
        answers = {**self._statuses, 200: self._ok} if self._ok else self._statuses
        c.statuses = {str(k): v for k, v in sorted(answers.items())}
        c.errors = dict(self._errors)
        c.updates = c.deliveries * self.plan.body.batch
        if not self._closing:
            self._cpu_now()
            c.connections = sum(1 for x in self._connections if x.transport is not None)
            c.in_flight = sum(1 for x in self._connections if x.job is not None)
        return c.to_dict(), self.latencies.take_encoded() if latencies else b""

    # -- the clock ----------------------------------------------------------------

    def _tick(self) -> None:
        if self._done is None or self._done.is_set():
            return
        now = time.perf_counter()
        plan = self.plan
        if not self._stopping and (
            (plan.duration is not None and now - self._start >= plan.duration)
            or (self._made >= self._budget and self._idle())
        ):
            self._begin_stop(now)
        if self._stopping and (
            not any(c.job for c in self._connections) or now - self._stop_at > plan.timeout
        ):
            self._finish()
            return
        if now >= self._next_sweep:
            self._next_sweep = now + _SWEEP
            self._sweep(now)
        self._dispatch(now)
        if now >= self._next_report:
            self._next_report = now + plan.report_every
            # Latencies go once a second: moving them into the histogram
            # costs per distinct value, and there are fewer per value in bulk.
            self._reports += 1
            self._report("progress", *self.snapshot(latencies=self._reports % 4 == 0))
        assert self._loop is not None
        tick = TICK_OPEN if plan.rate is not None else TICK_CLOSED
        self._loop.call_later(tick, self._tick)

    def _idle(self) -> bool:
        return not self._ready and not self._later and not any(c.job for c in self._connections)

    def _begin_stop(self, now: float) -> None:
        if not self._stopping:
            self._stopping, self._stop_at, self._limit = True, now, 0
            self.counters.unsent += len(self._ready) + len(self._later)
            self._ready.clear()
            self._later.clear()

    def _finish(self) -> None:
        if self._done is not None:
            self._done.set()
