"""The sender: deliveries to a target with Meta's habits.

After `Delivery` and before the receiver in the data flow. Meta counts only
`200` as an acknowledgement; anything else (another 2xx, 3xx, 4xx, 5xx, a
timeout, a refused connection) is retried at once, then less and less often
for up to 7 days. It also delivers some updates twice, in no promised order,
and batches several updates into one POST. The sender reproduces each of
these, seeded, on a `Clock` that tests and users can compress.

Attempts run on a timeline: a priority queue of due attempts, processed in
due-time order, so that retries of one delivery interleave with the first
attempts of others, as Meta's do.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from fakemeta.simulator import envelopes
from fakemeta.simulator.clock import Clock, RealClock
from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.errors import TransportError
from fakemeta.simulator.targets import Exchange, Target
from fakemeta.simulator.types import Payload

__all__ = [
    "DEFAULT_SCHEDULE",
    "NO_RETRIES",
    "Attempt",
    "AttemptHook",
    "RetrySchedule",
    "SendResult",
    "Sender",
    "deliveries_of",
]

DAY = 86400.0


@dataclass(frozen=True)
class RetrySchedule:
    """How long to wait after each failed attempt, and when to give up.

    `delays[k]` is the wait after failure k+1, counted from the end of that
    attempt; after the listed delays, `then_every` repeats (None: stop). A
    retry is not made when it would fall more than `max_age` seconds after
    the first attempt. The default: at once, 15 s, 1 min, 5 min, 15 min,
    1 h, 3 h, 6 h, 12 h, then daily, for 7 days: 16 attempts in all when
    every one fails instantly (the last on day 6, the next would pass day 7).
    """

    delays: tuple[float, ...] = (0.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 10800.0, 21600.0, 43200.0)
    then_every: float | None = DAY
    max_age: float = 7 * DAY

    def delay_after(self, failures: int) -> float | None:
        """The wait after the `failures`-th failed attempt, or None for no more."""
        if failures <= len(self.delays):
            return self.delays[failures - 1]
        return self.then_every

    def offsets(self) -> list[float]:
        """Attempt times since the first, when every attempt fails instantly."""
        times = [0.0]
        while (delay := self.delay_after(len(times))) is not None:
            if times[-1] + delay > self.max_age:
                break
            times.append(times[-1] + delay)
        return times


DEFAULT_SCHEDULE = RetrySchedule()
NO_RETRIES = RetrySchedule(delays=(), then_every=None)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST of one delivery, as the sender saw it.

    `index` is the delivery's position in the input, `copy` 0 for the
    delivery and 1 for a duplicate of it, `number` counts attempts of that
    copy from 1. Times are in the clock's seconds. Exactly one of `exchange`
    and `error` is set. `next_retry_at` is None when acknowledged or given up.
    """

    index: int
    label: str
    copy: int
    number: int
    scheduled_at: float
    sent_at: float
    source_ip: str | None
    exchange: Exchange | None
    error: TransportError | None
    latency: float
    acknowledged: bool
    next_retry_at: float | None

    @property
    def status(self) -> int | None:
        return None if self.exchange is None else self.exchange.status

    @property
    def gave_up(self) -> bool:
        return not self.acknowledged and self.next_retry_at is None

    def describe(self, origin: float = 0.0) -> str:
        """One line for a live log; times shown relative to `origin`."""
        copy = " (duplicate)" if self.copy else ""
        what = f"HTTP {self.status}" if self.error is None else self.error.one_line()
        if self.acknowledged:
            then = "acknowledged"
        elif self.next_retry_at is None:
            then = "given up"
        else:
            then = f"retry at +{_span(self.next_retry_at - origin)}"
        return (
            f"delivery {self.index}{copy} attempt {self.number} at +{_span(self.sent_at - origin)}:"
            f" {what} in {self.latency * 1000:.0f} ms, {then}"
        )


AttemptHook = Callable[[Attempt], None]


@dataclass(frozen=True)
class SendResult:
    """Every attempt in the order made, and how each delivery ended.

    `acknowledged` lists the indices of deliveries every copy of which was
    answered 200; `given_up` those with a copy whose retries ran out.
    """

    deliveries: tuple[Delivery, ...]
    attempts: tuple[Attempt, ...]
    acknowledged: tuple[int, ...]
    given_up: tuple[int, ...]
    started_at: float
    finished_at: float

    @property
    def ok(self) -> bool:
        return not self.given_up

    def attempts_for(self, index: int, copy: int | None = None) -> tuple[Attempt, ...]:
        return tuple(
            a for a in self.attempts if a.index == index and (copy is None or a.copy == copy)
        )


@dataclass(order=True, slots=True)
class _Due:
    due: float
    seq: int
    index: int = field(compare=False)
    copy: int = field(compare=False)
    number: int = field(compare=False, default=1)
    first_at: float | None = field(compare=False, default=None)


class Sender:
    """Sends deliveries to `target` the way Meta does.

    - `schedule`: retries (default `DEFAULT_SCHEDULE`; `NO_RETRIES` for one try).
    - `duplicates`: a float in [0, 1] is the chance that a delivery is also
      sent a second time; an int is how many deliveries are sent twice. The
      duplicate is an independent copy with its own retries, first due
      `duplicate_delay` seconds (at most, seeded) after the start.
    - `reorder`: deliveries are shuffled within consecutive windows of this
      many (0 or 1: input order).
    - `seed`: makes duplicates and reordering reproducible.
    - `source_ips`: client addresses used in turn, one per attempt.
    - `on_attempt`: called after every attempt (the CLI prints them live).
    """

    def __init__(
        self,
        target: Target,
        *,
        clock: Clock | None = None,
        schedule: RetrySchedule = DEFAULT_SCHEDULE,
        duplicates: float | int = 0,
        duplicate_delay: float = 0.0,
        reorder: int = 0,
        seed: int | None = None,
        source_ips: Sequence[str] = (),
        on_attempt: AttemptHook | None = None,
    ) -> None:
        if isinstance(duplicates, bool) or duplicates < 0:
            raise ValueError(f"Expected a count or a probability but got duplicates={duplicates!r}")
        if isinstance(duplicates, float) and duplicates > 1:
            raise ValueError(f"Expected a probability <= 1.0 but got duplicates={duplicates!r}")
        if reorder < 0:
            raise ValueError(f"Expected reorder >= 0 but got reorder={reorder!r}")
        self.target = target
        self.clock: Clock = clock if clock is not None else RealClock()
        self.schedule = schedule
        self.duplicates = duplicates
        self.duplicate_delay = duplicate_delay
        self.reorder = reorder
        self.seed = seed
        self.source_ips = tuple(source_ips)
        self.on_attempt = on_attempt

    def send_payloads(
        self,
        payloads: Iterable[Payload],
        app_secret: str | bytes,
        *,
        batch_size: int = 1,
        legacy_escapes: bool = False,
    ) -> SendResult:
        """`deliveries_of(...)` then `send(...)`."""
        return self.send(
            deliveries_of(
                payloads, app_secret, batch_size=batch_size, legacy_escapes=legacy_escapes
            )
        )

    def send(self, deliveries: Iterable[Delivery]) -> SendResult:
        """Send every delivery until each is acknowledged or given up."""
        items = tuple(deliveries)
        start = self.clock.now()
        timeline = self._timeline(len(items), start)
        seq = len(timeline)
        attempts: list[Attempt] = []
        given_up: set[int] = set()
        while timeline:
            due = heapq.heappop(timeline)
            attempt = self._attempt(items[due.index], due, len(attempts))
            attempts.append(attempt)
            if self.on_attempt is not None:
                self.on_attempt(attempt)
            if attempt.next_retry_at is not None:
                first_at = due.first_at if due.first_at is not None else attempt.sent_at
                retry = _Due(
                    attempt.next_retry_at, seq, due.index, due.copy, due.number + 1, first_at
                )
                heapq.heappush(timeline, retry)
                seq += 1
            elif not attempt.acknowledged:
                given_up.add(due.index)
        return SendResult(
            deliveries=items,
            attempts=tuple(attempts),
            acknowledged=tuple(i for i in range(len(items)) if i not in given_up),
            given_up=tuple(sorted(given_up)),
            started_at=start,
            finished_at=self.clock.now(),
        )

    def _timeline(self, count: int, start: float) -> list[_Due]:
        """First attempts: input order, duplicates after their original, then windows shuffled."""
        rng = random.Random(self.seed)
        if isinstance(self.duplicates, int):
            twice = set(rng.sample(range(count), min(self.duplicates, count)))
        else:
            twice = {i for i in range(count) if rng.random() < self.duplicates}
        order: list[tuple[int, int]] = []
        for index in range(count):
            order.append((index, 0))
            if index in twice:
                order.append((index, 1))
        if self.reorder > 1:
            for low in range(0, len(order), self.reorder):
                window = order[low : low + self.reorder]
                rng.shuffle(window)
                order[low : low + self.reorder] = window
        timeline = []
        for seq, (index, copy) in enumerate(order):
            delay = rng.uniform(0, self.duplicate_delay) if copy and self.duplicate_delay else 0.0
            timeline.append(_Due(start + delay, seq, index, copy))
        heapq.heapify(timeline)
        return timeline

    def _attempt(self, delivery: Delivery, due: _Due, counter: int) -> Attempt:
        now = self.clock.now()
        if due.due > now:
            self.clock.sleep(due.due - now)
        source_ip = self.source_ips[counter % len(self.source_ips)] if self.source_ips else None
        sent_at = self.clock.now()
        exchange: Exchange | None = None
        error: TransportError | None = None
        began = time.perf_counter()
        try:
            exchange = self.target.send(
                "POST", "", delivery.body, delivery.headers, source_ip=source_ip
            )
        except TransportError as exc:
            error = exc
        latency = exchange.latency if exchange is not None else time.perf_counter() - began
        acknowledged = exchange is not None and exchange.status == 200
        next_retry_at = None
        if not acknowledged:
            delay = self.schedule.delay_after(due.number)
            first_at = due.first_at if due.first_at is not None else sent_at
            ended = self.clock.now()
            if delay is not None and ended + delay - first_at <= self.schedule.max_age:
                next_retry_at = ended + delay
        return Attempt(
            index=due.index,
            label=delivery.label,
            copy=due.copy,
            number=due.number,
            scheduled_at=due.due,
            sent_at=sent_at,
            source_ip=source_ip,
            exchange=exchange,
            error=error,
            latency=latency,
            acknowledged=acknowledged,
            next_retry_at=next_retry_at,
        )


def deliveries_of(
    payloads: Iterable[Payload],
    app_secret: str | bytes,
    *,
    batch_size: int = 1,
    legacy_escapes: bool = False,
) -> list[Delivery]:
    """Payloads encoded and signed, `batch_size` of them joined per delivery.

    Batches use `envelopes.batch` (entries side by side, in order) before
    encoding and signing, as Meta batches updates into one POST.
    """
    if batch_size < 1:
        raise ValueError(f"Expected batch_size >= 1 but got batch_size={batch_size!r}")
    items = list(payloads)
    result = []
    for low in range(0, len(items), batch_size):
        group = items[low : low + batch_size]
        body = envelopes.batch(group) if batch_size > 1 else group[0]
        delivery = Delivery.of(body, app_secret, legacy_escapes=legacy_escapes)
        if batch_size > 1:
            delivery = Delivery(delivery.body, delivery.headers, f"batch of {len(group)}")
        result.append(delivery)
    return result


def _span(seconds: float) -> str:
    """Seconds as a short duration: 0ms, 250ms, 15s, 1m15s, 3h0m, 2d4h."""
    s = int(seconds)
    if s < 60:
        if seconds < 0.0005:
            return "0s"
        return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"
