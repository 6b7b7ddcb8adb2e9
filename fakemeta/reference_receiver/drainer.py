"""The drainer: applies the inbox to the CRM, outside the webhook's requests.

One pass is one transaction: claim the next deliveries in id order (a
size budget keeps it short; on SQLite it holds the write lock the webhook
needs too), apply them (`process.py`), write their outbox notifications,
delete their inbox rows, commit. A delivery is therefore applied exactly
once, and a crash anywhere before the commit leaves it in the inbox for the
next pass, in this process or another. Other notifiers (FCM) are called
after the commit.

Every app process runs one drainer thread (unless `INBOX_DRAIN=external`;
then `fakemeta receiver drain` does the work). The webhook wakes it after
each acknowledged delivery, so a quiet receiver applies a delivery within
milliseconds; it also polls every `POLL_SECONDS`, for rows acknowledged by
other processes. Under load (deliveries acknowledged while a pass ran) it
rests after each pass as long as the pass took, so that acknowledgements,
which Meta times, keep at least half of the process in a burst, and waits
`LINGER_SECONDS` before the pass after the inbox was empty, so that each
pass takes what arrived meanwhile at once. Failures are sorted out here:

- the database is unreachable: the pass is rolled back and tried again
  after a pause that doubles up to 10 s (nothing is lost; nothing is logged
  twice);
- a deadlock with a concurrent drainer (PostgreSQL): the pass is tried again;
- anything else (a bug, a row the database refuses whole): the pass's
  deliveries are tried again one per pass, and a delivery that fails alone
  is put off and counted (`Inbox.failed`), then left for a person after
  `inbox.MAX_ATTEMPTS` passes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING

from sqlalchemy.exc import OperationalError

from .db import custom_plans
from .notify import NewMessage, notify_all
from .process import apply_deliveries
from .store import rolled_back

if TYPE_CHECKING:
    from .state import ReceiverState

__all__ = ["POLL_SECONDS", "Drainer", "drain_forever"]

logger = logging.getLogger(__name__)

#: How often an idle drainer looks for deliveries that another process acknowledged.
POLL_SECONDS = 0.05
#: Bytes of bodies per pass: a pass on SQLite holds the write lock that
#: acknowledgements wait for, so it is kept to a few tens of milliseconds.
BUDGETS = {"sqlite": 128 * 1024, "postgresql": 1024 * 1024}
DEFAULT_BUDGET = 256 * 1024
#: Deliveries per pass, at most.
MAX_ROWS = 500
#: Under load (deliveries acknowledged while a pass ran), the pause before the
#: next pass, so that it takes many deliveries at once: a pass has a fixed cost
#: of about ten statements and a commit, a message in it a small share of one.
LINGER_SECONDS = 0.02
#: Under load, the rest after each pass, as a share of the time the pass took:
#: 1.0 leaves acknowledgements at least half of this process's time in a burst
#: (applying a message costs some thirty times what acknowledging it does), and
#: the drainer catches up when the burst is over.
REST_RATIO = 3.0
_MAX_PAUSE = 10.0


class Drainer:
    """Applies a receiver's inbox in passes; in a thread of its own (`start()`) or in the
    caller's (`drain()`)."""

    def __init__(
        self,
        state: ReceiverState,
        *,
        budget: int | None = None,
        max_rows: int = MAX_ROWS,
        poll: float = POLL_SECONDS,
        linger: float = LINGER_SECONDS,
        rest_ratio: float = REST_RATIO,
    ) -> None:
        # Weak: a drainer thread must not keep an app that nobody uses any more alive.
        self._state = weakref.ref(state)
        dialect = state.engine.dialect.name
        self.budget = budget if budget is not None else BUDGETS.get(dialect, DEFAULT_BUDGET)
        self.max_rows = max_rows
        self.poll = poll
        self.linger = linger
        self.rest_ratio = rest_ratio
        self._average = 2048.0  # bytes per delivery, to size a claim to the budget
        self._singles = 0  # passes left to take one delivery each (after a failed pass)
        self._reset_thread_state()

    def _reset_thread_state(self) -> None:
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._stopping = False
        self._requested = 1  # wakes asked for (the first: whatever a crash left behind)
        self._taken = 0  # wakes a pass has started on
        self._completed = 0  # wakes whose pass ended with nothing left to claim

    # -- the thread --------------------------------------------------------------

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive() and self._pid == os.getpid()

    def start(self) -> None:
        """Run passes in a daemon thread until `stop()`; again in a forked child."""
        if self._pid != os.getpid():
            # gunicorn --preload forks after create_app(): the thread stayed behind.
            self._reset_thread_state()
        with self._cond:
            if self.running:
                return
            self._stopping = False
            self._thread = threading.Thread(
                target=self._run, name="fakemeta-inbox-drainer", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current pass and end the thread."""
        thread = self._thread
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def wake(self) -> None:
        """A delivery was acknowledged: drain now rather than at the next poll."""
        with self._cond:
            self._requested += 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every delivery woken for so far is applied; False on timeout or
        when no drainer thread runs in this process."""
        if not self.running:
            return False
        with self._cond:
            target = self._requested
            return self._cond.wait_for(lambda: self._completed >= target or self._stopping, timeout)

    def _run(self) -> None:
        pause = 0.0
        busy = False
        while True:
            if pause or busy:
                self._rest(pause or self.linger)
            with self._cond:
                if not (pause or busy) and self._taken == self._requested and not self._stopping:
                    self._cond.wait(self.poll)
                if self._stopping:
                    return
                generation = self._requested
                self._taken = generation
            try:
                if self._state() is None:
                    return  # the app is gone
                self._drain_yielding()
            except Exception as error:
                pause = _failed_pass(pause, error)
                continue
            pause = 0.0
            with self._cond:
                self._completed = max(self._completed, generation)
                self._cond.notify_all()
                busy = self._requested != generation

    def _drain_yielding(self) -> None:
        """Passes until nothing is left to claim, resting after each one during which
        deliveries were acknowledged (see `REST_RATIO`)."""
        while not self._stopping:
            started = time.monotonic()
            before = self._requested
            if not self.drain_once():
                return
            if self._requested != before and self.rest_ratio > 0:
                self._rest((time.monotonic() - started) * self.rest_ratio)

    def _rest(self, seconds: float) -> None:
        """Sleep `seconds`, cut short only by `stop()` (wakes do not end a rest)."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while not self._stopping and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)

    # -- passes --------------------------------------------------------------------

    def drain(self) -> int:
        """Passes in the caller's thread until nothing is left to claim; returns how many
        deliveries were applied. Raises `OperationalError` when the database fails."""
        applied = 0
        while True:
            count = self.drain_once()
            if not count:
                return applied
            applied += max(count, 0)

    def drain_once(self) -> int:
        """One pass. Returns the deliveries applied; 0 when none was waiting; -1 when the
        pass was rolled back (a deadlock, or a failure now being retried one by one)
        and should simply be run again."""
        state = self._state()
        if state is None:
            return 0
        single = self._singles > 0
        rows = 1 if single else max(1, min(self.max_rows, int(self.budget / self._average) + 1))
        budget = 0 if single else self.budget
        claimed: list[int] = []
        notifier = state.notifier
        later: list[NewMessage] = []
        try:
            with state.sessions() as session, session.begin():
                custom_plans(session)
                waiting = state.inbox.claim(session, rows=rows, budget=budget)
                if not waiting:
                    self._singles = 0
                    return 0
                claimed = [item.id for item in waiting]
                new = apply_deliveries(session, state.store, [item.body for item in waiting])
                later = new
                stage = getattr(notifier, "stage", None)
                if new and callable(stage):
                    try:
                        with session.begin_nested():
                            stage(session, new)
                        later = []
                    except OperationalError:
                        raise
                    except Exception:
                        logger.exception(
                            "could not write %d notification(s) with their messages; "
                            "writing them afterwards",
                            len(new),
                        )
                state.inbox.remove(session, claimed)
        except OperationalError as error:
            if not rolled_back(error):
                raise
            logger.info("WhatsApp inbox pass rolled back by the database (%s)", _reason(error))
            return -1
        except Exception as error:
            if not claimed:
                raise
            if len(claimed) > 1:
                logger.exception(
                    "WhatsApp inbox pass of %d deliveries failed; trying them one by one",
                    len(claimed),
                )
                self._singles = len(claimed)
            else:
                attempts = state.inbox.failed(claimed[0], f"{type(error).__name__}: {error}")
                logger.exception(
                    "WhatsApp delivery %d in the inbox could not be applied (attempt %d)",
                    claimed[0],
                    attempts,
                )
                self._singles = max(0, self._singles - 1)
            return -1
        if single:
            self._singles -= 1
        size = sum(len(item.body) for item in waiting) / len(waiting)
        self._average = 0.8 * self._average + 0.2 * size
        if later:
            notify_all(notifier, later)
        return len(waiting)


def _failed_pass(pause: float, error: BaseException) -> float:
    """Log a pass that failed as a whole; returns the pause before the next one
    (doubled from the last, 0.5 s to 10 s)."""
    pause = min(max(pause * 2, 0.5), _MAX_PAUSE)
    logger.warning(
        "WhatsApp inbox could not be drained (%s); trying again in %.1f s", _reason(error), pause
    )
    return pause


def _reason(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return f"{type(original).__name__}: {text[0][:200]}" if text else type(original).__name__


def drain_forever(drainer: Drainer, *, stop: threading.Event) -> None:
    """`fakemeta receiver drain`: passes in this thread until `stop` is set."""
    pause = 0.0
    while not stop.is_set():
        try:
            applied = drainer.drain()
        except Exception as error:
            pause = _failed_pass(pause, error)
            stop.wait(pause)
            continue
        pause = 0.0
        if not applied:
            stop.wait(drainer.poll)
