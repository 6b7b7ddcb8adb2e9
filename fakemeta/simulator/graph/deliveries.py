"""What `fakemeta serve` remembers about its webhooks: the subscription, every
delivery attempt, the faults to inject, and a feed of events for the console.

State only, no HTTP (STYLE rule 7): the dispatcher (`dispatch.py`) writes
here while it sends, the control API (`control.py`) reads and changes it.
Every class is thread-safe: the dispatcher thread, the server's request
threads and tests share one instance.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from fakemeta.simulator.graph.webhooks import Job
from fakemeta.simulator.targets import Exchange

__all__ = [
    "AttemptState",
    "DeliveryLog",
    "DeliveryRecord",
    "EventFeed",
    "Faults",
    "Subscription",
    "pending_view",
]

AttemptState = Literal["delivered", "retrying", "given up", "dropped"]

#: Bytes of a receiver's response body kept per attempt.
RESPONSE_KEPT = 4096


@dataclass
class Subscription:
    """The app's webhook subscription: where to deliver, and whether Meta may.

    Meta sends nothing until the callback has passed the verification
    handshake; `verified` says whether the last one passed and `reason`
    why not. `checked_at` is clock time, None before the first handshake.
    """

    callback_url: str | None = None
    verify_token: str | None = None
    fields: tuple[str, ...] = ("messages",)
    object: str = "whatsapp_business_account"
    verified: bool = False
    reason: str = "no subscription: start with --webhook URL or POST /v23.0/<app-id>/subscriptions"
    checked_at: float | None = None
    challenge: str | None = None
    status: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The control API's view; the verify token itself is not shown."""
        return {
            "object": self.object,
            "callback_url": self.callback_url,
            "fields": list(self.fields),
            "verify_token_set": bool(self.verify_token),
            "verified": self.verified,
            "reason": self.reason,
            "checked_at": self.checked_at,
            "challenge": self.challenge,
            "status": self.status,
        }


@dataclass
class DeliveryRecord:
    """One attempt at one webhook job, as the receiver saw it (or did not).

    `at` and `next_retry_at` are clock seconds; `latency` real seconds.
    `response_*` are None when nothing came back (`error` says why) or the
    attempt was dropped by a fault.
    """

    id: int
    job: int
    kind: str
    label: str
    attempt: int
    state: AttemptState
    at: float
    url: str | None
    request_headers: list[tuple[str, str]]
    request_body: bytes
    response_status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""
    latency: float | None = None
    error: str | None = None
    next_retry_at: float | None = None
    duplicate_of: int | None = None
    replay_of: int | None = None

    @classmethod
    def of_attempt(
        cls,
        id: int,
        job: Job,
        body: bytes,
        state: AttemptState,
        *,
        at: float,
        url: str | None,
        exchange: Exchange | None,
        headers: tuple[tuple[str, str], ...],
        error: str | None,
        next_retry_at: float | None,
    ) -> DeliveryRecord:
        """The record of one attempt at `job`; `headers` are used when nothing was sent."""
        record = cls(
            id=id, job=job.id, kind=job.kind, label=job.label, attempt=job.attempts,
            state=state, at=at, url=url,
            request_headers=list(exchange.request.headers if exchange else headers),
            request_body=body, error=error, next_retry_at=next_retry_at,
            duplicate_of=job.meta.get("duplicate_of"), replay_of=job.meta.get("replay_of"),
        )  # fmt: skip
        if exchange is not None:
            record.response_status = exchange.status
            record.response_headers = list(exchange.response.headers)
            # Only what the log shows is kept: a receiver answering megabytes
            # must not fill the memory of a server that keeps 2000 attempts.
            record.response_body = exchange.response.body[:RESPONSE_KEPT]
            record.latency = exchange.latency
        return record

    def summary(self) -> dict[str, Any]:
        """The record without bodies and headers: what the events feed carries."""
        return {
            "id": self.id,
            "job": self.job,
            "kind": self.kind,
            "label": self.label,
            "attempt": self.attempt,
            "state": self.state,
            "at": self.at,
            "status": self.response_status,
            "error": self.error,
            "next_retry_at": self.next_retry_at,
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("request_headers", "request_body", "response_headers", "response_body"):
            del data[key]
        data["request"] = {
            "headers": [list(pair) for pair in self.request_headers],
            "body": self.request_body.decode("utf-8", "replace"),
        }
        data["response"] = (
            None
            if self.response_status is None
            else {
                "status": self.response_status,
                "headers": [list(pair) for pair in self.response_headers],
                "body": self.response_body[:RESPONSE_KEPT].decode("utf-8", "replace"),
            }
        )
        data["latency_ms"] = None if self.latency is None else round(self.latency * 1000, 3)
        del data["latency"]
        return data


def pending_view(job: Job, why: str, now: float, *, waiting: bool) -> dict[str, Any]:
    """A queued job as the control API lists it; `state` is the first word of `why`."""
    return {
        "job": job.id,
        "kind": job.kind,
        "label": job.label,
        "state": "waiting" if waiting else why.split(" ")[0],
        "reason": why,
        "due_at": job.due_at,
        "due_in": max(0.0, job.due_at - now),
        "attempts": job.attempts,
    }


class DeliveryLog:
    """The last `limit` attempts, oldest first, with ids counting from 1;
    `evicted` counts the older ones forgotten to stay within the limit."""

    def __init__(self, limit: int = 2000) -> None:
        if limit < 1:
            raise ValueError(f"Expected a delivery log limit >= 1 but got {limit!r}")
        self.limit = limit
        self.evicted = 0
        self._records: deque[DeliveryRecord] = deque(maxlen=limit)
        self._next = 1
        self._lock = threading.Lock()

    def next_id(self) -> int:
        with self._lock:
            value = self._next
            self._next += 1
            return value

    def add(self, record: DeliveryRecord) -> None:
        with self._lock:
            if len(self._records) == self.limit:
                self.evicted += 1
            self._records.append(record)

    def get(self, record_id: int) -> DeliveryRecord | None:
        with self._lock:
            return next((r for r in self._records if r.id == record_id), None)

    def records(self, *, after: int = 0, job: int | None = None) -> list[DeliveryRecord]:
        with self._lock:
            return [r for r in self._records if r.id > after and (job is None or r.job == job)]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class Faults:
    """Trouble to inject into the next deliveries (first attempts only).

    `drop`: the next N are lost (recorded as dropped, never retried).
    `delay`: every delivery waits S more clock seconds before it is sent.
    `duplicate`: the next N are sent twice, byte for byte.
    `reorder`: the next N are held, then sent in reverse order.
    """

    NAMES = ("drop", "delay", "duplicate", "reorder")

    def __init__(self) -> None:
        self.drop = 0
        self.delay = 0.0
        self.duplicate = 0
        self.reorder = 0
        self._lock = threading.Lock()

    def set(self, *, drop: int | None = None, delay: float | None = None,
            duplicate: int | None = None, reorder: int | None = None) -> None:  # fmt: skip
        with self._lock:
            if drop is not None:
                self.drop = drop
            if delay is not None:
                self.delay = delay
            if duplicate is not None:
                self.duplicate = duplicate
            if reorder is not None:
                self.reorder = reorder

    def clear(self) -> None:
        self.set(drop=0, delay=0.0, duplicate=0, reorder=0)

    def take(self, name: Literal["drop", "duplicate", "reorder"]) -> bool:
        """Use one of the `name` fault's count: True when there was one left."""
        with self._lock:
            left: int = getattr(self, name)
            if left <= 0:
                return False
            setattr(self, name, left - 1)
            return True

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "drop": self.drop,
                "delay": self.delay,
                "duplicate": self.duplicate,
                "reorder": self.reorder,
            }


class EventFeed:
    """A bounded, numbered list of events that readers can wait on (long-poll).

    Each event is `{"seq", "type", "at", "data"}`; `seq` only grows, also
    across a reset, so a reader's `after` stays meaningful.
    """

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self.evicted = 0  # events older than the last `limit`, forgotten
        self._events: deque[dict[str, Any]] = deque(maxlen=limit)
        self._seq = 0
        self._closed = False
        self._changed = threading.Condition()

    @property
    def last(self) -> int:
        with self._changed:
            return self._seq

    def publish(self, type: str, data: dict[str, Any], *, at: float) -> int:
        with self._changed:
            self._seq += 1
            if len(self._events) == self.limit:
                self.evicted += 1
            self._events.append({"seq": self._seq, "type": type, "at": at, "data": data})
            self._changed.notify_all()
            return self._seq

    def after(self, seq: int, *, timeout: float = 0.0) -> list[dict[str, Any]]:
        """Events newer than `seq`; waits up to `timeout` seconds for one.

        A `seq` from the future (a reader that outlived a restarted server)
        counts as 0: the reader gets every event kept.
        """
        with self._changed:
            if seq > self._seq:
                seq = 0
            if not self._closed and self._seq <= seq and timeout > 0:
                self._changed.wait_for(lambda: self._closed or self._seq > seq, timeout)
            return [event for event in self._events if event["seq"] > seq]

    def close(self) -> None:
        """Wake every waiting reader (the server is shutting down)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
