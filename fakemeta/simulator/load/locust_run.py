"""`fakemeta load --locust`: the same run sent by Locust, a master and local workers.

Where this sits: in place of `runner.py`, between the command line and
`report.py`. `run()` checks that the receiver accepts connections, starts
Locust's master and its workers on loopback (`python -m
fakemeta.simulator.load.locustfile`, the ready locustfile, each process in a process
group of its own: the parent decides when they stop), and hands back a
`RunResult` like the embedded runner's.

The counts come from the workers, not from Locust's statistics: those round
latencies (to the millisecond below 100 ms), count no status codes, and the
master waits only half a second for the workers' last report. Each Locust
process that runs users keeps a `ProcessCounts` (`fakemeta.simulator.load.locust`
starts one with `--fakemeta-counts-dir`): the engine's `Counters` and
HdrHistogram, rewritten as `<pid>.json` twice a second, and once more with
the acknowledged message ids (`<pid>.ids`) when its users stop and as it
exits. The parent merges them for the progress line and the report.

How the options map: the connections are Locust users (one keep-alive
connection each), all started at once; a `rate` paces each user at
rate/users deliveries a second (Locust's `constant_throughput`), so the
total holds while a delivery is answered within users/rate seconds, and
latency counts from when a request went out, not from when it was due; the
duration is Locust's `--run-time`, in whole seconds; the timeout is each
user's connect and answer timeout and Locust's `--stop-timeout`, so that a
delivery sent before the end is answered and counted. Locust posts each body
once: there are no duplicates or retries, and a delivery not answered 200 is
given up at once.

On Ctrl-C (or a receiver that stops answering) the master gets SIGTERM,
Locust's own way to shut down: it tells the workers to quit, they let their
users finish the delivery they are on and write their counts, and the report
is partial.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fakemeta.simulator.load.stats import Counters, Latencies, merge

if TYPE_CHECKING:  # the runner imports asyncio: not in a Locust process
    from fakemeta.simulator.load.runner import Progress, RunResult

__all__ = ["LocustPlan", "ProcessCounts", "available", "run", "version"]

_READY_TIMEOUT = 60  # seconds for the workers to connect to the master
_LOCUSTFILE = "fakemeta.simulator.load.locustfile"


# -- in each Locust process --------------------------------------------------------


class ProcessCounts:
    """What one Locust process's users sent and got back, kept in `directory`.

    Users call `sent()` before each POST and `answered()` or `failed()`
    after it; `write()` replaces `<pid>.json` (and with `final`, `<pid>.ids`)
    in one rename, so that a reader never sees half a file.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{os.getpid()}.json"
        self.counters = Counters()
        self.latencies = Latencies()
        self.ids: list[str] = []
        self.last_error = ""
        self.started = self.last = time.time()  # last: the last answer or failure
        self._times = os.times()

    def sent(self, updates: int, size: int) -> None:
        c = self.counters
        c.requests += 1
        c.deliveries += 1
        c.updates += updates
        c.bytes_sent += size
        c.in_flight += 1

    def answered(self, status: int, micros: int) -> None:
        c = self.counters
        c.in_flight -= 1
        self.last = time.time()
        code = str(status)
        c.statuses[code] = c.statuses.get(code, 0) + 1
        self.latencies.buffer.append(micros)
        if status == 200:
            c.acknowledged += 1
        else:
            c.given_up += 1  # Locust posts each body once

    def failed(self, error: BaseException | None) -> None:
        c = self.counters
        c.in_flight -= 1
        self.last = time.time()
        c.given_up += 1
        kind = _error_class(error)
        c.errors[kind] = c.errors.get(kind, 0) + 1
        self.last_error = f"{kind}: {_reason(error)}"

    def write(self, users: int, *, final: bool = False) -> None:
        """`users` running now; none: the run ended with the last answer."""
        times = os.times()
        c = self.counters
        c.connections = users
        c.cpu_user = times.user - self._times.user
        c.cpu_system = times.system - self._times.system
        self.latencies.flush()
        snapshot = {
            "started": self.started,
            "at": time.time() if users else self.last,
            "counters": c.to_dict(),
            "histogram": self.latencies.histogram.encode().decode("ascii"),
            "last_error": self.last_error,
        }
        if final:
            _replace(self.path.with_suffix(".ids"), "\n".join(self.ids))
        _replace(self.path, json.dumps(snapshot))


def _replace(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _error_class(error: BaseException | None) -> str:
    """`stats.ERROR_CLASSES` for geventhttpclient's errors (some by name: the
    parent process does not import it)."""
    name = type(error).__name__
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, ssl.SSLError):
        return "tls"
    if isinstance(error, TimeoutError) or "Timeout" in name:
        return "timeout"
    if isinstance(error, ConnectionResetError | BrokenPipeError):
        return "reset"
    if name == "HTTPConnectionClosed":
        return "closed"
    if name == "HTTPParseError":
        return "protocol"
    return "connect"


def _reason(error: BaseException | None) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


# -- the parent --------------------------------------------------------------------


def available() -> bool:
    """Whether Locust is installed (the `load` extra)."""
    return importlib.util.find_spec("locust") is not None


def version() -> str:
    from importlib.metadata import version as installed

    return installed("locust")


@dataclass(frozen=True)
class LocustPlan:
    """A whole `--locust` run, from the command line's options."""

    url: str
    app_secret: str
    mix: str  # `Mix.describe()`: the workers need no mix file
    batch: int
    era: str
    phone_number_id: str | None
    users: int
    workers: int
    duration: int  # whole seconds: Locust's --run-time
    rate: float | None  # deliveries a second in all; None: as fast as answered
    timeout: float
    insecure: bool = False
    record_ids: bool = False

    @property
    def user_rate(self) -> float | None:
        return None if self.rate is None else self.rate / self.users


def run(
    plan: LocustPlan, on_progress: Callable[[Progress], None], *, every: float = 0.5
) -> RunResult:
    """Run `plan` on Locust to the end (or Ctrl-C); `on_progress` every `every` s."""
    from fakemeta.simulator.load.runner import preflight

    preflight(plan.url, plan.timeout)
    with tempfile.TemporaryDirectory(prefix="fakemeta-locust-") as temp:
        locust = _Locust(plan, Path(temp))
        try:
            try:
                reason, message = locust.watch(on_progress, every)
            except KeyboardInterrupt:
                reason, message = "interrupted", "interrupted"
                locust.stop()
        except KeyboardInterrupt:  # pressed again while the workers stop: no more waiting
            reason, message = "interrupted", "interrupted"
        finally:
            locust.close()
        return locust.result(reason, message)


class _Locust:
    """Locust's master and workers, by their `Popen` handles, and their counts."""

    def __init__(self, plan: LocustPlan, directory: Path) -> None:
        self.plan = plan
        self.directory = directory
        self.counts = directory / "counts"
        self.ticks: tuple[int, int] | None = None
        # Locust reads LOCUST_* variables as options: ours are on the command
        # line, and a stray LOCUST_PROCESSES or LOCUST_USERS must not change them.
        # The secret goes in the environment, not on a command line others can see.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
        self.env["META_CLIENT_SECRET"] = plan.app_secret
        port = _free_port()
        self.master = self._start("master", self._master_args(port))
        worker = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
        self.workers = [self._start(f"worker-{i + 1}", worker) for i in range(plan.workers)]

    def _master_args(self, port: int) -> list[str]:
        plan = self.plan
        args = [
            "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
            "--expect-workers", str(plan.workers),
            "--expect-workers-max-wait", str(_READY_TIMEOUT),
            "--headless", "--only-summary", "--host", plan.url,
            "--users", str(plan.users), "--spawn-rate", str(plan.users),
            "--run-time", f"{plan.duration}s", "--stop-timeout", str(math.ceil(plan.timeout)),
            "--exit-code-on-error", "0",  # failed deliveries are ours to judge
            "--fakemeta-mix", plan.mix, "--fakemeta-batch", str(plan.batch),
            "--fakemeta-era", plan.era, "--fakemeta-timeout", str(plan.timeout),
            "--fakemeta-counts-dir", str(self.counts),
        ]  # fmt: skip
        if plan.phone_number_id:
            args += ["--fakemeta-phone-number-id", plan.phone_number_id]
        if plan.user_rate is not None:
            args += ["--fakemeta-user-rate", repr(plan.user_rate)]
        if plan.insecure:
            args.append("--fakemeta-insecure")
        if plan.record_ids:
            args.append("--fakemeta-record-ids")
        return args

    def _start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with (self.directory / f"{name}.log").open("wb") as log:
            return subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", _LOCUSTFILE, *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,  # a terminal's Ctrl-C reaches the parent alone
            )

    def watch(self, on_progress: Callable[[Progress], None], every: float) -> tuple[str, str]:
        """Until the master exits: the progress, and the end of a run gone wrong."""
        plan = self.plan
        began = time.monotonic()
        first = last_shown = last_answer = 0.0
        answered = failed_since = 0
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.master.wait(timeout=0.1)
            if self.master.returncode is not None:
                return self._ended()
            for index, worker in enumerate(self.workers, 1):
                if worker.poll():
                    self.stop()
                    code = worker.returncode
                    said = self._said(f"worker-{index}")
                    return "failed", f"Locust worker {index} exited with status {code}{said}"
            now = time.monotonic()
            if now - last_shown < every:
                continue
            last_shown = now
            gathered = _gather(self.counts)
            if gathered is None:
                if now - began > _READY_TIMEOUT + 15:  # the master gives up at 60 s
                    self.stop()
                    return "failed", f"Locust did not start in {now - began:.0f} s"
                continue
            progress = gathered[0]
            if not first:
                first, last_answer = now, now
                self.ticks = _machine_ticks()
            on_progress(progress)
            total = progress.counters
            if total.answered != answered:
                answered, last_answer = total.answered, now
                failed_since = sum(total.errors.values())
            elif sum(total.errors.values()) > failed_since and now - last_answer > plan.timeout:
                self.stop()
                return "stalled", (
                    f"the receiver stopped answering: no answer for {now - last_answer:.1f} s"
                    f" (last error: {progress.last_error or 'none'}); stopping"
                )
            if now - first > plan.duration + plan.timeout + 30:
                self.stop()
                return "stalled", "Locust did not end the run; stopping"

    def _ended(self) -> tuple[str, str]:
        """The master has exited: its workers follow once their users stop."""
        _wait(self.workers, self.plan.timeout + 10)
        code = self.master.returncode
        if code:
            return "failed", f"Locust's master exited with status {code}{self._said('master')}"
        if _gather(self.counts) is None:
            return "failed", f"Locust ran no users{self._said('master')}"
        return "completed", ""

    def stop(self) -> None:
        """End the run as Locust ends it on SIGTERM to the master: it tells
        the workers to quit, and each lets its users finish the delivery they
        are on (`--stop-timeout`) and writes its counts. (A worker sent
        SIGTERM itself exits without waiting for its users.) Workers that
        never started a run are left to `close()`."""
        if self.master.poll() is None:
            self.master.terminate()  # our own child, by its handle
        _wait([self.master], 5.0)
        if _gather(self.counts) is not None:
            _wait(self.workers, self.plan.timeout + 5)

    def close(self) -> None:
        """Whatever still runs: SIGTERM (a worker then writes its counts), then SIGKILL."""
        alive = [p for p in (self.master, *self.workers) if p.poll() is None]
        for process in alive:
            process.terminate()
        _wait(alive, 3.0)
        for process in alive:
            if process.poll() is None:
                process.kill()
                process.wait()

    def _said(self, name: str) -> str:
        """': <the last line worth showing>' from a process's log, or nothing."""
        try:
            lines = (self.directory / f"{name}.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        lines = [line.strip() for line in lines if line.strip()]
        worth = [line for line in lines if "fakemeta:" in line or "ERROR" in line] or lines
        return f": {worth[-1][:300]}" if worth else ""

    def result(self, reason: str, message: str) -> RunResult:
        from fakemeta.simulator.load.runner import Progress, RunResult

        gathered = _gather(self.counts, ids=self.plan.record_ids)
        if gathered is None:
            gathered = Progress(0.0, Counters(), Latencies.empty()), []
        busy = None
        now = _machine_ticks()
        if self.ticks is not None and now is not None and now[1] > self.ticks[1]:
            busy = (now[0] - self.ticks[0]) / (now[1] - self.ticks[1])
        return RunResult(gathered[0], reason, message, gathered[1], busy)


def _gather(directory: Path, *, ids: bool = False) -> tuple[Progress, list[str]] | None:
    """The workers' counts merged (None before any has written), and with
    `ids` the message ids they acknowledged."""
    from fakemeta.simulator.load.runner import Progress

    parts: list[Counters] = []
    started: list[float] = []
    at: list[float] = []
    histogram = Latencies.empty()
    last_error = ""
    acknowledged: list[str] = []
    for path in sorted(directory.glob("*.json")):
        try:
            snapshot = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        parts.append(Counters.from_dict(snapshot["counters"]))
        Latencies.add_encoded(histogram, snapshot["histogram"].encode("ascii"))
        started.append(snapshot["started"])
        at.append(snapshot["at"])
        last_error = snapshot["last_error"] or last_error
        if ids:
            with contextlib.suppress(OSError):
                acknowledged += path.with_suffix(".ids").read_text().split()
    if not parts:
        return None
    return Progress(max(at) - min(started), merge(parts), histogram, last_error), acknowledged


def _wait(processes: list[subprocess.Popen[bytes]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))


def _machine_ticks() -> tuple[int, int] | None:
    from fakemeta.simulator.load.runner import _cpu_ticks  # the embedded runner's measure

    return _cpu_ticks()


def _free_port() -> int:
    """A free port on loopback for the master (bound by Locust a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
