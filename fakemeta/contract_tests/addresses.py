"""Client addresses for the suite's own traffic.

A receiver that limits 100 requests per 60 s per client IP would throttle
the suite itself. On loopback the suite spreads its requests over source
addresses in 127.0.0.0/8 (each a different client IP to the receiver);
in-process it sets `REMOTE_ADDR`; against any other host it cannot choose
its address, so it paces itself under the limit and says so in the report.
Linux routes all of 127.0.0.0/8 to the loopback interface; macOS only
127.0.0.1 unless the others are aliased on lo0, so the suite first tries to
bind one, and when it cannot it paces on loopback too and the report says
why (`NO_LOOPBACK_ALIASES`).

Addresses come in blocks of 254 (`127.B.C.1` to `127.B.C.254`, B from 1:
127.0.0.1 stays for people's own tools), drawn at random for every run and
never from `--seed` (which fixes the traffic, not the addresses), so a second
run right after the first never meets a window the first one filled. Runs
on one machine at the same time (pytest-xdist workers, two CI jobs against
one receiver) lease their blocks in a small file in the temporary directory:
a block stays taken while its run lasts and one rate-limit window after, and
other runs draw around it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fakemeta.contract_tests.config import RateLimit, SuiteConfig

__all__ = ["LEASE_FILE", "NO_LOOPBACK_ALIASES", "AddressPlan", "Leases", "loopback_aliases_bind"]

# Stay this many requests under the limit on any one address, so a receiver
# that counts a little differently (a fixed window, a GET it also counts)
# still never throttles the suite.
_MARGIN = 5

#: Blocks `127.B.C.0/24` with B in 1..254 and C in 0..255.
_BLOCKS = 254 * 256
#: How long a block stays leased when its run never says it has finished
#: (a killed process): long enough for any run, short enough not to pile up.
_UNFINISHED_SECONDS = 3600.0

LEASE_FILE = Path(tempfile.gettempdir()) / "fakemeta-address-leases.json"

_random = secrets.SystemRandom()


#: The report's line when only 127.0.0.1 can be bound.
NO_LOOPBACK_ALIASES = (
    "addresses in 127.0.0.0/8 other than 127.0.0.1 cannot be bound on this machine (macOS "
    "has only those aliased on lo0): the suite sent everything from 127.0.0.1, pacing itself "
    "under any rate limit, and could not check RATE-2; on Linux (or in a container) it spreads "
    "its requests over client addresses instead"
)


def loopback_aliases_bind() -> bool:
    """Whether a socket can be bound to an address of 127.0.0.0/8 other than
    127.0.0.1, one drawn like the suite's own (any of them on Linux; on macOS
    only one aliased on lo0, so in practice none)."""
    block, host = _random.randrange(_BLOCKS), 1 + _random.randrange(254)
    address = f"127.{1 + block // 256}.{block % 256}.{host}"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "localhost" or host.startswith("127.") or host == "::1"


def block_range(block: int) -> str:
    """`127.B.C.1-254`: how a block is named in reports."""
    return f"127.{1 + block // 256}.{block % 256}.1-254"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: leases are best effort
        yield
        return
    with open(path.with_suffix(".lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Leases:
    """Blocks taken by runs on this machine, in a JSON file {block: expiry}.

    Any problem with the file (unwritable, corrupt) leaves the run with its
    random draw alone, which already makes two runs meeting unlikely.
    """

    def __init__(self, path: Path = LEASE_FILE) -> None:
        self.path = path

    def _read(self) -> dict[int, float]:
        try:
            raw: Any = json.loads(self.path.read_text())
            now = time.time()
            return {int(k): float(v) for k, v in raw.items() if float(v) > now}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}

    def _write(self, leases: dict[int, float]) -> None:
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps({str(k): v for k, v in leases.items()}))
        os.replace(temporary, self.path)

    def take(self) -> int:
        """A block no run on this machine holds or held within its window."""
        try:
            with _locked(self.path):
                leases = self._read()
                block = self._draw(leases)
                leases[block] = time.time() + _UNFINISHED_SECONDS
                self._write(leases)
                return block
        except OSError:
            return _random.randrange(_BLOCKS)

    def release(self, blocks: list[int], window: float) -> None:
        """The run is over: its blocks are free again after `window` seconds."""
        if not blocks:
            return
        try:
            with _locked(self.path):
                leases = self._read()
                until = time.time() + window
                for block in blocks:
                    leases[block] = until
                self._write(leases)
        except OSError:
            pass

    @staticmethod
    def _draw(taken: dict[int, float]) -> int:
        for _ in range(64):
            block = _random.randrange(_BLOCKS)
            if block not in taken:
                return block
        free = sorted(set(range(_BLOCKS)) - set(taken))
        return _random.choice(free) if free else _random.randrange(_BLOCKS)


class AddressPlan:
    """Hands out source addresses, or paces requests when it cannot."""

    def __init__(self, config: SuiteConfig, *, leases: Leases | None = None) -> None:
        on_loopback = isinstance(config.target, str) and _is_loopback(config.target)
        #: On loopback, but only 127.0.0.1 can be bound: paced like a remote receiver.
        self.no_aliases = on_loopback and not loopback_aliases_bind()
        self.spread = config.in_process or (on_loopback and not self.no_aliases)
        self.limit: RateLimit | None = config.rate_limit
        self._leases = leases if leases is not None else Leases()
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self.paced_seconds = 0.0
        #: Blocks this run took, in order; addresses handed out of the last one.
        self.blocks: list[int] = []
        self._used_in_block = 254
        self._fresh: set[str] = set()
        #: What the suite did about a receiver that was already limiting it.
        self.events: list[str] = []
        self._closed = False

    @property
    def budget(self) -> int | None:
        """Requests one address may send before the suite moves to another."""
        if self.limit is None:
            return None
        return max(1, self.limit.requests - _MARGIN)

    def fresh(self) -> str | None:
        """A source address no request of this run (nor of another run within
        its window) has used, or None when the suite cannot choose (a remote
        receiver)."""
        if not self.spread:
            return None
        with self._lock:
            if self._used_in_block >= 254:
                self.blocks.append(self._leases.take())
                self._used_in_block = 0
            self._used_in_block += 1
            block = self.blocks[-1]
            address = f"127.{1 + block // 256}.{block % 256}.{self._used_in_block}"
            self._fresh.add(address)
            return address

    def first_use(self, address: str | None) -> bool:
        """True once for each fresh address: whether this is its first request."""
        with self._lock:
            if address in self._fresh:
                self._fresh.discard(address)
                return True
            return False

    def already_limited(self, address: str | None, retry_after: str | None) -> None:
        """The receiver answered 429 to a request the suite kept under the limit:
        an earlier run (or another client) filled this address's window. On
        loopback the caller moves to a fresh address; remotely, wait it out."""
        if self.spread:
            with self._lock:
                self.events.append(
                    f"{address} was already rate-limited on its first request (an earlier "
                    "run's window?): the suite moved to a fresh address and did not count it "
                    "against the receiver"
                )
            return
        window = self.limit.seconds if self.limit is not None else 60.0
        wait = window + 1
        if retry_after is not None and retry_after.strip().isdigit():
            wait = min(wait, float(retry_after.strip()) + 1)
        with self._lock:
            self.events.append(
                "the receiver was already limiting the suite's address before the suite went "
                f"over its limit (an earlier run's window?): the suite waited {wait:.0f} s and "
                "did not count it against the receiver"
            )
            self.paced_seconds += wait
            self._sent.clear()
        time.sleep(wait)

    def before_request(self) -> None:
        """Wait, when pacing, until one more request stays under the limit."""
        if self.spread or self.limit is None:
            return
        window, allowed = self.limit.seconds, self.budget or 1
        with self._lock:
            now = time.monotonic()
            while self._sent and now - self._sent[0] >= window:
                self._sent.popleft()
            if len(self._sent) >= allowed:
                wait = window - (now - self._sent[0]) + 0.05
                self.paced_seconds += wait
                time.sleep(wait)
                self._sent.popleft()
            self._sent.append(time.monotonic())

    def describe(self) -> str | None:
        """The report's line about the addresses this run used."""
        if self.no_aliases:
            return NO_LOOPBACK_ALIASES
        if not self.blocks:
            return None
        named = ", ".join(block_range(b) for b in self.blocks[:3])
        more = f" and {len(self.blocks) - 3} more blocks" if len(self.blocks) > 3 else ""
        return f"client addresses: {named}{more} (drawn for this run, never reused within a window)"

    def close(self) -> None:
        """Free this run's blocks once a rate-limit window has passed."""
        if self._closed:
            return
        self._closed = True
        window = self.limit.seconds if self.limit is not None else 0.0
        self._leases.release(self.blocks, window + 1)
