"""The contract suite's two error families (STYLE rule 9).

- `Failure` (an AssertionError): a receiver broke a requirement. It carries
  the requirement ID, what was sent, what came back and what was expected;
  the runner adds the command that reproduces it.
- `ContractUsageError`: the suite was asked for something it cannot do (no
  app secret, a bad option). The command line prints it as one line, exit 2.

`Skipped` ends a check that cannot run here (no probe, no phone number id),
with the reason shown in every report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakemeta.simulator.errors import UsageError
from fakemeta.simulator.targets import Exchange

if TYPE_CHECKING:
    from fakemeta.contract_tests.shrinking import Shrunk

__all__ = ["ContractUsageError", "Failure", "Skipped"]


class ContractUsageError(UsageError):
    """The contract suite cannot run as configured.

    Cause: a missing secret or token, an unknown requirement ID in `-k`, an
    invalid `--rate-limit`. Fix: the message names the option to change.
    """


class Failure(AssertionError):
    """A receiver did not meet a requirement.

    Cause: the receiver's behaviour, shown by `exchange` (what was sent and
    what came back) against `expected`. Fix: change the receiver; rerun the
    check with the command in the report's `reproduce`.
    """

    def __init__(
        self,
        requirement: str,
        message: str,
        *,
        expected: str = "",
        exchange: Exchange | None = None,
    ) -> None:
        super().__init__(f"{requirement}: {message}")
        self.requirement = requirement
        self.message = message
        self.expected = expected
        self.exchange = exchange
        #: For a generated example: the `--replay` token that sends it again,
        #: and how far it was shrunk (None when it was not).
        self.replay: str | None = None
        self.shrink: Shrunk | None = None

    def minimal(self, *, replay: str | None, shrink: Shrunk | None) -> None:
        """Mark this as the minimal failing example of a property check; the
        message says how far it was shrunk, so every report shows it."""
        self.replay = replay
        self.shrink = shrink
        if shrink is not None:
            self.message = f"{self.message} ({shrink.describe()})"
            self.args = (f"{self.requirement}: {self.message}",)


class Skipped(Exception):
    """A check that cannot run against this receiver or configuration.

    Cause: `reason` (no probe configured, no phone number id, rate limit
    off, ...). Fix: give what the reason names, or accept the skip.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
