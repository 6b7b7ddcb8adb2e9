"""Client addresses for the suite's own traffic.

A receiver that limits 100 requests per 60 s per client IP would throttle
the suite itself. On loopback the suite spreads its requests over source
addresses in 127.0.0.0/8 (each a different client IP to the receiver);
in-process it sets `REMOTE_ADDR`; against any other host it cannot choose
its address, so it paces itself under the limit and says so in the report.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from urllib.parse import urlsplit

from contract_tests.config import RateLimit, SuiteConfig

__all__ = ["AddressPlan"]

# Stay this many requests under the limit on any one address, so a receiver
# that counts a little differently (a fixed window, a GET it also counts)
# still never throttles the suite.
_MARGIN = 5


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "localhost" or host.startswith("127.") or host == "::1"


class AddressPlan:
    """Hands out source addresses, or paces requests when it cannot."""

    def __init__(self, config: SuiteConfig) -> None:
        self.spread = config.in_process or (
            isinstance(config.target, str) and _is_loopback(config.target)
        )
        self.limit: RateLimit | None = config.rate_limit
        self._counter = 0
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self.paced_seconds = 0.0

    @property
    def budget(self) -> int | None:
        """Requests one address may send before the suite moves to another."""
        if self.limit is None:
            return None
        return max(1, self.limit.requests - _MARGIN)

    def fresh(self) -> str | None:
        """A source address no request of this run has used, or None when the
        suite cannot choose (a remote receiver)."""
        if not self.spread:
            return None
        with self._lock:
            self._counter += 1
            n = self._counter
        # 127.1.0.1 onwards: clear of 127.0.0.1, which people's own tools use.
        return f"127.{1 + n // 65024 % 254}.{n // 254 % 256}.{1 + n % 254}"

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
