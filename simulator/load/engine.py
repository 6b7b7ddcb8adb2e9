"""One worker's load loop: keep-alive connections, rate control, Meta's
duplicates and retries, counted as it goes.

Runs inside a worker process (`simulator.load.runner` starts them) on
uvloop when it is installed. Each connection is an asyncio `Protocol` with
one request in flight at a time (HTTP/1.1 keep-alive, no pipelining, as
Meta sends). A free connection takes, in this order: a duplicate or retry
that is due, then a new delivery. Bodies are made and signed a few dozen at
a time, just ahead of use (at most 10 ms' worth at a set rate).

Rate: `rate=None` is a closed loop (every connection sends again as soon as
it is answered). With a rate, delivery k is due at `start + k / rate` (an
open loop); latency is counted from that due time, not from when a
connection came free, so a receiver that falls behind shows it in the
percentiles instead of quietly lowering the rate (no coordinated omission).

Meta's habits, as fractions of deliveries:
- duplicates: the same bytes and signature sent again at once on another
  connection, racing the first copy (Meta delivers at least once);
- retries: a delivery answered 200 treated as unacknowledged anyway, as when
  Meta's wait for the answer ran out, and re-sent (Meta's first retry is
  immediate). Every failed attempt (an answer other than 200, a timeout, a
  dropped connection) is retried as Meta does, on its schedule compressed
  1000 times (at once, 15 ms, 60 ms, 300 ms, 900 ms), `MAX_ATTEMPTS` in all,
  then given up.
"""

from __future__ import annotations

import asyncio
import heapq
import os
import random
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.load._connection import DUPLICATE, FIRST, RETRY, Connection, Job
from simulator.load._http import Endpoint
from simulator.load.bodies import BodyFactory, BodySpec
from simulator.load.stats import Counters, Latencies
from simulator.sender import DEFAULT_SCHEDULE

__all__ = ["COMPRESSION", "MAX_ATTEMPTS", "Engine", "WorkerPlan"]

#: How much faster than Meta's the retry schedule runs (15 s -> 15 ms).
COMPRESSION = 1000.0
#: Attempts per copy of a delivery before it is given up.
MAX_ATTEMPTS = 6
RETRY_DELAYS = tuple(d / COMPRESSION for d in DEFAULT_SCHEDULE.delays[: MAX_ATTEMPTS - 1])

_perf = time.perf_counter
_TICK_OPEN = 0.001  # open loop: sends are released every millisecond
_TICK_CLOSED = 0.01
_SWEEP = 0.05  # how often in-flight requests are checked against the timeout
_MAX_BACKOFF = 1.0
_STOCK = 64  # requests made ahead in one go


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


class Engine:
    """Runs one `WorkerPlan`; `report(kind, *data)` carries messages to the parent."""

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
        self.acked_ids: list[bytes] = []
        self.last_error = ""
        self.end_reason = "completed"
        self._statuses: dict[int, int] = {}  # answers but 200, counted in `_ok`
        # Hot counters as plain attributes; `snapshot()` copies them over.
        self._requests = self._bytes = self._acked = self._ok = 0
        self._latencies = self.latencies.buffer
        self._errors: dict[str, int] = {}
        self._connections = [Connection(self) for _ in range(max(1, plan.connections))]
        self._free: list[Connection] = []
        self._ready: deque[Job] = deque()
        # Requests made ahead: at most 10 ms' worth at the plan's rate, and
        # fewer for big batches (making them holds up the answers meanwhile).
        self._stock: list[tuple[bytes, list[bytes] | None]] = []
        ten_ms = float("inf") if plan.rate is None else plan.rate / 100
        self._stock_size = max(1, int(min(_STOCK // plan.body.batch, ten_ms)))
        self._later: list[tuple[float, int, Job]] = []
        self._sequence = 0
        self._made = 0
        self._budget = plan.requests if plan.requests is not None else float("inf")
        # Deliveries that may be made: none before `run()` or once stopping.
        self._limit: float = 0
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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None
        self._ssl: ssl.SSLContext | None = None
        if self.endpoint.tls:
            self._ssl = ssl.create_default_context()
            if plan.insecure:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE

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

    # -- sending ------------------------------------------------------------------

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
        tick = _TICK_OPEN if plan.rate is not None else _TICK_CLOSED
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

    # -- outcomes -----------------------------------------------------------------

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
        limit = self.plan.timeout
        for connection in self._connections:
            if connection.job is not None and now - connection.sent_at > limit:
                self.failed(connection, "timeout", f"no answer in {limit:g} s")

    # -- connections --------------------------------------------------------------

    def opened(self, connection: Connection) -> None:
        self._free.append(connection)
        if self._started:
            self._dispatch(time.perf_counter())

    def lost(self, connection: Connection, exc: Exception | None) -> None:
        if self._closing:
            connection.transport = None
            return
        if connection.job is not None:
            status = connection.reader.eof() if exc is None else 0
            if status:
                self.answered(connection, status)
            else:
                error = "closed" if exc is None else "reset"
                why = "the receiver closed the connection before answering"
                self.failed(connection, error, why if exc is None else str(exc))
        connection.transport = None
        if connection in self._free:
            self._free.remove(connection)
        if not self._stopping and self._loop is not None:
            self._reopen(connection)

    def _reopen(self, connection: Connection) -> None:
        """Open `connection` again after its backoff (none after a clean close)."""
        assert self._loop is not None
        delay = connection.backoff
        connection.backoff = min(_MAX_BACKOFF, max(0.05, delay * 2))
        self._loop.call_later(delay, self._reopen_now, connection)

    def _reopen_now(self, connection: Connection) -> None:
        if not self._stopping and self._loop is not None:
            self._loop.create_task(self._open(connection))

    async def _open(self, connection: Connection) -> None:
        if self._stopping:
            return
        assert self._loop is not None
        endpoint = self.endpoint
        try:
            await asyncio.wait_for(
                self._loop.create_connection(
                    lambda: connection, endpoint.host, endpoint.port, ssl=self._ssl
                ),
                self.plan.timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            error = _connect_error(exc)
            self._errors[error] = self._errors.get(error, 0) + 1
            self.last_error = f"{error}: {_reason(exc)}"
            if self._started:
                self._reopen(connection)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _connect_error(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "connect"
