"""The dispatcher: Meta's webhook sender inside `fakemeta serve`.

It takes due jobs from `state.webhooks` (status updates the fake Graph API
queued, inbound messages the control API queued), encodes and signs each
(`Delivery.of`) and POSTs it to the subscribed callback through a target,
with Meta's habits: nothing before the callback passes the verification
handshake, only `200` acknowledges, failures are retried on
`RetrySchedule` (at once, 15 s, 1 min, ... for 7 days) in the state's clock
time, so moving the clock forward makes a retry due now. Every attempt goes
to the delivery log; injected faults drop, delay, duplicate or reorder the
next deliveries. A failing receiver is recorded and retried; nothing here
raises into the server.

`run_due()` and `drain()` do the work synchronously (tests, the in-process
fixture); `start()` runs it on a background thread until `stop()`. That
thread hands each attempt to one of a few sender threads and waits for it
only briefly (`patience`): deliveries go out in order while the receiver
answers promptly, and one that trickles its answer holds a sender thread
until the attempt's deadline (the target's timeout), not the queue. No lock
is held while sending, so the control API and `stop()` never wait on a
receiver.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from fakemeta.simulator.clock import OffsetClock
from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.graph.deliveries import (
    AttemptState,
    DeliveryLog,
    DeliveryRecord,
    EventFeed,
    Faults,
    Subscription,
    pending_view,
)
from fakemeta.simulator.graph.inbound import statuses_in
from fakemeta.simulator.graph.webhooks import Job, WebhookQueue
from fakemeta.simulator.handshake import HandshakeResult, handshake
from fakemeta.simulator.sender import DEFAULT_SCHEDULE, RetrySchedule
from fakemeta.simulator.targets import Exchange, HttpTarget, Target, printable

__all__ = ["Dispatcher", "TargetFactory"]

log = logging.getLogger("fakemeta.serve")

TargetFactory = Callable[[str], Target]
"""Makes the target for a callback URL (default: `HttpTarget`)."""

WAITING = "waiting for a verified subscription"
_HUB_QUERY = re.compile(r"[?&]hub\.mode=[^\s:]*")


class _State(Protocol):
    """What the dispatcher needs of the Graph state (`GraphState`)."""

    @property
    def webhooks(self) -> WebhookQueue: ...

    @property
    def clock(self) -> OffsetClock: ...


class Dispatcher:
    """Sends `state.webhooks` to the subscribed callback, as Meta would."""

    def __init__(
        self,
        state: _State,
        *,
        app_secret: str,
        schedule: RetrySchedule = DEFAULT_SCHEDULE,
        target_factory: TargetFactory | None = None,
        log_limit: int = 2000,
        timeout: float = 10.0,
        senders: int = 4,
        patience: float = 0.5,
    ) -> None:
        """`timeout`: the whole of one attempt (default target). `senders`: attempts
        the thread may have in flight; `patience`: how long it waits for one
        before it sends the next."""
        self.state = state
        self.app_secret = app_secret
        self.schedule = schedule
        self.subscription = Subscription()
        self.log = DeliveryLog(log_limit)
        self.faults = Faults()
        self.events = EventFeed()
        self._target_factory = target_factory or (lambda url: HttpTarget(url, timeout=timeout))
        self._target: Target | None = None
        self._held: list[Job] = []  # jobs the reorder fault holds back
        self._released: deque[Job] = deque()  # held jobs to send next, in this order
        self._lock = threading.RLock()  # guards the target and held jobs; never held while sending
        self._round = threading.Lock()  # one `run_due` at a time
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._senders: _Senders | None = None
        self._sender_count = max(1, senders)
        self.patience = patience

    @property
    def queue(self) -> WebhookQueue:
        return self.state.webhooks

    @property
    def clock(self) -> OffsetClock:
        return self.state.clock

    # -- subscription ----------------------------------------------------------

    def subscribe(
        self,
        callback_url: str,
        verify_token: str | None,
        *,
        fields: tuple[str, ...] = ("messages",),
        verify: bool = True,
    ) -> Subscription:
        """Point deliveries at `callback_url` and (by default) verify it now.

        Raises `InvalidTargetError` for a URL that is not one; the old
        subscription is then kept.
        """
        target = self._target_factory(callback_url)
        with self._lock:
            if self._target is not None:
                self._target.close()
            self._target = target
            self.subscription = Subscription(callback_url, verify_token, tuple(fields))
            self.subscription.reason = "not verified yet: POST /_fakemeta/subscription/verify"
        if verify:
            self.verify()
        return self.subscription

    def verify(self) -> Subscription:
        """Perform the handshake against the callback; deliveries wait until it passes."""
        sub = self.subscription
        if sub.callback_url is None:
            self._publish("subscription", sub.to_json())
            return sub
        target = self._target_factory(sub.callback_url)
        result: HandshakeResult | None = None
        try:
            result = handshake(target, sub.verify_token)
            verified, reason = result.verified, result.reason
        except Exception as exc:  # an unreachable receiver is a reason, never a crash
            # The error names the URL with its query: keep the verify token out of logs.
            verified, reason = False, _HUB_QUERY.sub("", _one_line(exc))
        finally:
            target.close()
        with self._lock:
            sub.verified = verified
            sub.reason = "" if verified else f"verification failed: {reason}"
            sub.checked_at = self.clock.now()
            sub.challenge = result.challenge if result is not None else None
            sub.status = result.status if result is not None else None
        if verified:
            log.info("webhook verified: %s answered the challenge", sub.callback_url)
        else:
            log.warning("webhook NOT verified (%s): %s", sub.callback_url, printable(reason))
        self._publish("subscription", sub.to_json())
        self.wake()
        return sub

    def unsubscribe(self) -> None:
        with self._lock:
            if self._target is not None:
                self._target.close()
            self._target = None
            self.subscription = Subscription()
        self._publish("subscription", self.subscription.to_json())

    # -- the work ----------------------------------------------------------------

    def run_due(self) -> int:
        """Deliver every job due now (none while unverified); how many were handled."""
        return self._run_due(self._deliver_now)

    def _run_due(self, deliver: _Deliver) -> int:
        """`run_due` with `deliver` making the attempts; stops early (jobs put
        back) when `deliver` refuses one because the dispatcher is stopping."""
        with self._round:
            if not self.subscription.verified:
                return 0
            handled = 0
            while True:
                with self._lock:
                    if not self._released:
                        break
                    job = self._released.popleft()
                if not deliver(job):
                    return handled
                handled += 1
            due = self.queue.pop_due()
            for index, job in enumerate(due):
                if not self._process(job, deliver):
                    for later in due[index + 1 :]:
                        self.queue.put(later)
                    return handled
                handled += 1
            return handled

    def drain(self, *, max_rounds: int = 1000) -> int:
        """`run_due()` until nothing more is due now (retries due later stay queued)."""
        total = 0
        for _ in range(max_rounds):
            handled = self.run_due()
            if not handled:
                break
            total += handled
        return total

    def replay(self, record_id: int) -> Job | None:
        """Queue the exact bytes of attempt `record_id` again, due now; None if unknown."""
        record = self.log.get(record_id)
        if record is None:
            return None
        job = self.queue.schedule(
            record.kind,  # type: ignore[arg-type]
            {},  # type: ignore[typeddict-item]
            label=f"replay of delivery {record_id}: {record.label}",
            meta={"body": record.request_body, "replay_of": record_id, "skip_faults": True},
        )
        self.wake()
        return job

    def clear_faults(self) -> None:
        """No more faults; jobs the reorder fault held are sent now, in reverse."""
        self.faults.clear()
        with self._lock:
            self._released.extend(reversed(self._held))
            self._held.clear()
        self.wake()

    def reset(self) -> None:
        """Forget queued jobs, held jobs, faults and the delivery log."""
        with self._lock:
            self.queue.clear()
            self._held.clear()
            self._released.clear()
            self.faults.clear()
            self.log.clear()
        self._publish("reset", {})

    def pending(self) -> list[dict[str, Any]]:
        """Jobs not yet acknowledged nor given up, with why they wait."""
        now = self.clock.now()
        verified = self.subscription.verified
        jobs = [(job, "held by the reorder fault") for job in [*self._held, *self._released]]
        for job in self.queue.pending():
            if not verified:
                why = WAITING
            elif job.attempts:
                why = "retrying"
            elif job.meta.get("delayed"):
                why = "delayed by the delay fault"
            else:
                why = "scheduled"
            jobs.append((job, why))
        return [pending_view(job, why, now, waiting=why == WAITING) for job, why in jobs]

    # -- the thread --------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._senders = _Senders(self._sender_count)
        self._thread = threading.Thread(target=self._loop, name="fakemeta-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread; returns within about `timeout` seconds, whatever the
        receiver does. Attempts in flight end by their deadline on their own
        (daemon) threads; their results are still recorded."""
        self._stopping.set()
        self.wake()
        self.events.close()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._senders is not None:
            self._senders.close()
            self._senders = None
        with self._lock:
            if self._target is not None:
                self._target.close()

    def wake(self) -> None:
        """Look at the queue now (after a subscription change or a clock move)."""
        self._wake.set()
        self.queue.poke()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                handled = self._run_due(self._hand_off)
            except Exception:  # never let one bad job end the dispatcher
                log.exception("dispatcher: unexpected error")
                handled = 0
            if handled:
                continue
            if self.subscription.verified:
                self.queue.wait_due(0.5)
            else:
                self._wake.wait(0.5)
            self._wake.clear()

    # -- one job -------------------------------------------------------------------

    def _deliver_now(self, job: Job) -> bool:
        self._deliver(job)
        return True

    def _hand_off(self, job: Job) -> bool:
        """Give the attempt to a sender thread; False (the job put back) when stopping."""
        senders = self._senders
        done = senders.submit(lambda: self._deliver(job), self._stopping) if senders else None
        if done is None:
            job.meta["skip_faults"] = True  # the faults were applied to it already
            self.queue.put(job)
            return False
        # In order while the receiver answers promptly; a slow attempt goes on alone.
        done.wait(self.patience)
        return True

    def _process(self, job: Job, deliver: _Deliver) -> bool:
        """Apply the faults to a first attempt, then deliver; False as `deliver`."""
        if job.attempts or job.meta.get("skip_faults"):
            return deliver(job)
        if "delayed" not in job.meta:
            delay = self.faults.delay
            job.meta["delayed"] = delay
            if delay > 0:
                job.due_at = self.clock.now() + delay
                self.queue.put(job)
                return True
        if self.faults.take("drop"):
            self._record(job, self._body(job), state="dropped", error="dropped by the drop fault")
            return True
        job.meta["twice"] = self.faults.take("duplicate")
        if self.faults.take("reorder"):
            with self._lock:
                self._held.append(job)
                held: list[Job] = []
                if self.faults.reorder == 0:
                    held, self._held = self._held, []
            for index, other in enumerate(reversed(held)):
                if not deliver(other):
                    for later in list(reversed(held))[index + 1 :]:
                        later.meta["skip_faults"] = True
                        self.queue.put(later)
                    return False
            return True
        return deliver(job)

    def _deliver(self, job: Job) -> None:
        body = self._body(job)
        delivery = Delivery.signed(body, self.app_secret)
        now = self.clock.now()
        job.attempts += 1
        if job.first_attempt_at is None:
            job.first_attempt_at = now
        exchange: Exchange | None = None
        error: str | None = None
        with self._lock:
            target = self._target
        try:
            if target is None:
                raise RuntimeError("no subscribed callback")
            exchange = target.send("POST", "", body, delivery.headers)
        except Exception as exc:  # refused, timed out, TLS ...: a failed attempt
            error = _one_line(exc)
        if exchange is not None and exchange.status == 200:
            self._record(job, body, state="delivered", exchange=exchange, headers=delivery.headers)
            self._after_delivery(job)
        else:
            next_at = self._next_retry(job)
            if next_at is not None:
                job.due_at = next_at
                self.queue.put(job)
            self._record(
                job, body, state="retrying" if next_at is not None else "given up",
                exchange=exchange, headers=delivery.headers, error=error, next_retry_at=next_at,
            )  # fmt: skip
        if job.meta.pop("twice", False):
            self.queue.schedule(
                job.kind,
                job.payload,
                label=f"{job.label} (duplicate)",
                meta={"body": body, "duplicate_of": job.id, "skip_faults": True},
            )

    def _next_retry(self, job: Job) -> float | None:
        delay = self.schedule.delay_after(job.attempts)
        ended = self.clock.now()
        first = job.first_attempt_at if job.first_attempt_at is not None else ended
        if delay is None or ended + delay - first > self.schedule.max_age:
            return None
        return ended + delay

    def _after_delivery(self, job: Job) -> None:
        """Tell the Graph state a status reached the bot (once per job)."""
        if job.kind != "status" or job.meta.get("duplicate_of") or job.meta.get("replay_of"):
            return
        mark = getattr(self.state, "mark_status", None)
        if mark is None:
            return
        for status in statuses_in(job.payload):
            try:
                mark(status["id"], status["status"])
            except Exception:
                log.exception("mark_status(%r, %r) failed", status.get("id"), status.get("status"))
            self._publish("status", {"id": status["id"], "status": status["status"]})

    def _body(self, job: Job) -> bytes:
        body = job.meta.get("body")
        if not isinstance(body, bytes):
            body = Delivery.of(job.payload, self.app_secret).body
            job.meta["body"] = body  # retries and duplicates send the same bytes
        return body

    def _record(
        self,
        job: Job,
        body: bytes,
        *,
        state: AttemptState,
        exchange: Exchange | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        error: str | None = None,
        next_retry_at: float | None = None,
    ) -> DeliveryRecord:
        record = DeliveryRecord.of_attempt(
            self.log.next_id(), job, body, state, at=self.clock.now(),
            url=self.subscription.callback_url, exchange=exchange, headers=headers,
            error=error, next_retry_at=next_retry_at,
        )  # fmt: skip
        self.log.add(record)
        if state != "delivered":
            what = error or f"HTTP {record.response_status}"
            # The console log is a terminal: an error may quote the receiver.
            log.warning("delivery %d (%s) %s: %s", record.id, job.label, state, printable(what))
        self._publish("delivery", record.summary())
        return record

    def _publish(self, type: str, data: dict[str, Any]) -> None:
        self.events.publish(type, data, at=self.clock.now())


_Deliver = Callable[[Job], bool]
"""Makes (or starts) one attempt; False when it refused because the dispatcher stops."""


class _Senders:
    """A few daemon threads that make attempts for the dispatcher thread.

    One slow receiver's attempt holds one of them until its deadline; the
    dispatcher waits for a free one only while all are busy. Daemon threads,
    so that an attempt in flight never delays the process's exit.
    """

    def __init__(self, count: int) -> None:
        self._free = threading.Semaphore(count)
        self._tasks: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._count = count
        for number in range(count):
            name = f"fakemeta-sender-{number + 1}"
            threading.Thread(target=self._work, name=name, daemon=True).start()

    def submit(self, task: Callable[[], None], stopping: threading.Event) -> threading.Event | None:
        """Run `task` on a free thread; its done event, or None if `stopping` was set first."""
        while not self._free.acquire(timeout=0.1):
            if stopping.is_set():
                return None
        done = threading.Event()

        def run() -> None:
            try:
                task()
            except Exception:  # never let one bad job end a sender
                log.exception("dispatcher: unexpected error")
            finally:
                self._free.release()
                done.set()

        self._tasks.put(run)
        return done

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            task()

    def close(self) -> None:
        """Each thread ends after the attempt it is making, if any."""
        for _ in range(self._count):
            self._tasks.put(None)


def _one_line(exc: BaseException) -> str:
    one_line = getattr(exc, "one_line", None)
    if callable(one_line):
        return str(one_line())
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
