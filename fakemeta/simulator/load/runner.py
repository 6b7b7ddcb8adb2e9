"""A load run across worker processes, and the parent that watches it.

The parent checks that the receiver accepts connections (one line and exit
2 when it does not), starts the workers (processes of their own, so a
built-in receiver running in the parent's threads keeps the parent's GIL to
itself), waits until each has its connections open, and starts them
together. While they run it merges their counters and latency histograms
for the progress line, and ends the run early when the receiver stops
answering (no answer for the timeout while attempts fail) or on Ctrl-C,
collecting what the workers counted so far. Workers ignore SIGINT and run
in their own process group: the parent decides when they stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any

from fakemeta.simulator.errors import ReceiverUnreachable
from fakemeta.simulator.load._http import Endpoint
from fakemeta.simulator.load.engine import Engine, WorkerPlan
from fakemeta.simulator.load.stats import Counters, Latencies, merge

__all__ = ["Progress", "RunResult", "preflight", "run", "split", "worker_main"]

_READY_TIMEOUT = 60.0  # spawning and building templates on a busy machine
_COLLECT_TIMEOUT = 5.0


@dataclass
class Progress:
    """The run so far, merged over the workers."""

    elapsed: float
    counters: Counters
    histogram: Any  # HdrHistogram
    last_error: str = ""


@dataclass
class RunResult:
    """How the run ended: `reason` is completed, interrupted, stalled or failed;
    `message` says why in one line when it is not completed."""

    progress: Progress
    reason: str = "completed"
    message: str = ""
    acked_ids: list[str] = field(default_factory=list)
    #: The share of the machine's CPU time busy during the run (every
    #: process, not only ours), where the system tells it; None elsewhere.
    machine_busy: float | None = None


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) CPU ticks of the whole machine since boot (Linux)."""
    try:
        with open("/proc/stat", "rb") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def preflight(url: str, timeout: float) -> None:
    """Raise `ReceiverUnreachable` unless a TCP connection to `url` opens."""
    target = Endpoint(url)
    try:
        with socket.create_connection((target.host, target.port), timeout=min(timeout, 10.0)):
            pass
    except OSError as exc:
        if isinstance(exc, ConnectionRefusedError):
            reason = "connection refused"
        elif isinstance(exc, socket.gaierror):
            reason = f"the host name does not resolve ({exc})"
        elif isinstance(exc, TimeoutError):
            reason = f"no answer to connecting in {min(timeout, 10.0):g} s"
        else:
            reason = exc.strerror or str(exc)
        raise ReceiverUnreachable(
            f"cannot connect to {url}: {reason} — is the receiver running?", url=url
        ) from None


def split(total: int | float | None, parts: int, index: int) -> Any:
    """Worker `index`'s share of `total` (requests: whole numbers, the
    remainder to the first workers; a rate: equal parts)."""
    if total is None:
        return None
    if isinstance(total, int):
        return total // parts + (1 if index < total % parts else 0)
    return total / parts


# -- the worker process ----------------------------------------------------------


def worker_main(pipe: Connection) -> None:
    """A worker process: receive its plan over `pipe`, run it, report back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        plan = pipe.recv()
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
            asyncio.run(_work(plan, pipe))
        else:
            uvloop.run(_work(plan, pipe))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            pipe.send(("failed", f"{type(exc).__name__}: {exc}"))


async def _work(plan: WorkerPlan, pipe: Connection) -> None:
    engine = Engine(plan, lambda kind, *data: pipe.send((kind, *data, engine.last_error)))
    loop = asyncio.get_running_loop()
    go = asyncio.Event()
    stopped: list[str] = []

    def on_message() -> None:
        try:
            message = pipe.recv()
        except (EOFError, OSError):
            message = ("stop", "interrupted")
            loop.remove_reader(pipe.fileno())
        if message[0] == "stop":
            stopped.append(message[1])
            engine.stop(message[1])
        go.set()

    loop.add_reader(pipe.fileno(), on_message)
    if not await engine.connect():
        pipe.send(("unreachable", engine.last_error))
        return
    pipe.send(("ready",))
    await go.wait()
    if not stopped:
        await engine.run()
    counters, histogram = engine.snapshot()
    ids = [i.replace(b"\\/", b"/").decode("ascii") for i in engine.acked_ids]
    # The event loop made the pipe non-blocking when it began watching it: the
    # report (every acknowledged id, megabytes after a long run) must be
    # written whole, however long the parent takes to read it.
    loop.remove_reader(pipe.fileno())
    os.set_blocking(pipe.fileno(), True)
    pipe.send(("done", counters, histogram, ids, engine.end_reason, engine.last_error))


# -- the parent ------------------------------------------------------------------


class _Workers:
    """The worker processes, by their `Popen` handles, and what they reported."""

    def __init__(self, plans: list[WorkerPlan]) -> None:
        self.pipes: list[Connection] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.counters = [Counters() for _ in plans]
        self.histogram = Latencies.empty()
        self.done = [False] * len(plans)
        self.ids: list[str] = []
        self.last_error = ""
        self.failure = ""
        self.started = time.monotonic()  # reset when they are told to go
        self.ticks: tuple[int, int] | None = None
        for plan in plans:
            # `python -m fakemeta.simulator.load._worker FD`, not multiprocessing: a
            # spawned child would import the parent's main module (the whole
            # command line, two seconds) before it could start. Its own
            # process group keeps a terminal's Ctrl-C away from it: the
            # parent decides when workers stop, and collects their counts.
            ours, theirs = socket.socketpair()
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "fakemeta.simulator.load._worker", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                process_group=0,
            )
            theirs.close()
            pipe = Connection(ours.detach())
            pipe.send(plan)
            self.pipes.append(pipe)
            self.processes.append(process)

    def send(self, *message: Any) -> None:
        for index, pipe in enumerate(self.pipes):
            if not self.done[index]:
                with contextlib.suppress(OSError):
                    pipe.send(message)

    def receive(self, timeout: float) -> list[tuple[int, tuple[Any, ...]]]:
        waiting = {id(p): i for i, p in enumerate(self.pipes) if not self.done[i]}
        ready = wait([self.pipes[i] for i in waiting.values()], timeout)
        messages = []
        for pipe in ready:
            index = waiting[id(pipe)]
            try:
                message = self.pipes[index].recv()
            except (EOFError, OSError):
                message = ("failed", f"worker {index} ended without a report")
            messages.append((index, message))
        return messages

    def absorb(self, index: int, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind in ("progress", "done"):
            self.counters[index] = Counters.from_dict(message[1])
            if message[2]:
                Latencies.add_encoded(self.histogram, message[2])
            self.last_error = message[-1] or self.last_error
        if kind == "done":
            self.done[index] = True
            self.ids.extend(message[3])
        elif kind in ("failed", "unreachable"):
            self.done[index] = True
            self.failure = self.failure or message[1]

    def close(self) -> None:
        for process in self.processes:
            try:
                process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                process.terminate()  # our own child, by its handle
                try:
                    process.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for pipe in self.pipes:
            pipe.close()


def run(
    plans: list[WorkerPlan],
    on_progress: Callable[[Progress], None],
    *,
    every: float = 0.5,
) -> RunResult:
    """Run `plans` (one per worker) to the end; `on_progress` every `every` s."""
    url, timeout = plans[0].url, plans[0].timeout
    preflight(url, timeout)
    workers = _Workers(plans)
    try:
        return _watch(workers, plans, on_progress, every)
    except KeyboardInterrupt:
        return _collect(workers, "interrupted", "interrupted")
    finally:
        workers.close()


def _watch(
    workers: _Workers,
    plans: list[WorkerPlan],
    on_progress: Callable[[Progress], None],
    every: float,
) -> RunResult:
    ready: set[int] = set()
    deadline = time.monotonic() + _READY_TIMEOUT
    while len(ready) < len(plans):
        for index, message in workers.receive(0.1):
            if message[0] == "ready":
                ready.add(index)
            elif message[0] == "unreachable":
                workers.send("stop", "failed")
                raise ReceiverUnreachable(
                    f"cannot connect to {plans[0].url}: {message[1]} — is the receiver running?",
                    url=plans[0].url,
                )
            else:
                workers.absorb(index, message)
                if workers.failure:
                    return _collect(workers, "failed", workers.failure)
        if time.monotonic() > deadline:
            return _collect(workers, "failed", "the workers did not start")
    workers.send("go")
    workers.ticks = _cpu_ticks()
    started = last_shown = last_answer = workers.started = time.monotonic()
    answered = failed_since = 0
    timeout = plans[0].timeout
    duration = plans[0].duration
    while not all(workers.done):
        for index, received in workers.receive(0.05):
            workers.absorb(index, received)
        now = time.monotonic()
        if workers.failure:
            return _collect(workers, "failed", workers.failure)
        total = merge(workers.counters)
        if total.answered != answered:
            answered, last_answer, failed_since = total.answered, now, sum(total.errors.values())
        elif sum(total.errors.values()) > failed_since and now - last_answer > timeout:
            why = (
                f"the receiver stopped answering: no answer for {now - last_answer:.1f} s"
                f" (last error: {workers.last_error or 'none'}); stopping"
            )
            return _collect(workers, "stalled", why)
        if duration is not None and now - started > duration + timeout + 10:
            return _collect(workers, "stalled", "the workers did not finish; stopping")
        if now - last_shown >= every:
            last_shown = now
            on_progress(Progress(now - started, total, workers.histogram, workers.last_error))
    return _result(workers, "completed", "")


def _collect(workers: _Workers, reason: str, message: str) -> RunResult:
    """Stop the workers and gather what they counted, for a partial report."""
    workers.send("stop", reason)
    deadline = time.monotonic() + _COLLECT_TIMEOUT
    while not all(workers.done) and time.monotonic() < deadline:
        for index, received in workers.receive(0.1):
            if received[0] in ("progress", "done", "failed"):
                workers.absorb(index, received)
    return _result(workers, reason, message)


def _result(workers: _Workers, reason: str, message: str) -> RunResult:
    progress = Progress(
        time.monotonic() - workers.started,
        merge(workers.counters),
        workers.histogram,
        workers.last_error,
    )
    busy = None
    now = _cpu_ticks()
    if workers.ticks is not None and now is not None and now[1] > workers.ticks[1]:
        busy = (now[0] - workers.ticks[0]) / (now[1] - workers.ticks[1])
    return RunResult(progress, reason, message, workers.ids, busy)


def plans_for(plan: WorkerPlan, workers: int) -> list[WorkerPlan]:
    """`plan` (for the whole run) divided among `workers` processes."""
    return [
        replace(
            plan,
            worker=index,
            connections=max(1, split(plan.connections, workers, index)),
            rate=split(plan.rate, workers, index),
            requests=split(plan.requests, workers, index),
        )
        for index in range(workers)
    ]
