"""The suite's configuration, resolved once into a frozen object (STYLE rule 10).

The command line and the pytest plugin both build a `SuiteConfig`; checks
read it through their `CheckContext`, never from the environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from fakemeta.contract_tests.errors import ContractUsageError
from fakemeta.contract_tests.probes import Probe
from fakemeta.contract_tests.shrinking import DEFAULT_SHRINK_BUDGET, ReplayToken
from fakemeta.simulator import eras
from fakemeta.simulator.eras import Era

__all__ = ["PROFILES", "Profile", "RateLimit", "SuiteConfig"]

Profile = Literal["strict", "meta"]
PROFILES: tuple[Profile, ...] = ("strict", "meta")


@dataclass(frozen=True)
class RateLimit:
    """The limit the receiver should enforce: `requests` per `seconds` per client IP."""

    requests: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> RateLimit | None:
        """`N/SECONDS` (`100/60`) or `off` (None)."""
        if text.strip().lower() == "off":
            return None
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*", text)
        if match is None or int(match[1]) < 1 or float(match[2]) <= 0:
            raise ContractUsageError(
                f"--rate-limit {text!r}: expected N/SECONDS such as 100/60, or off"
            )
        return cls(int(match[1]), float(match[2]))

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}"


DEFAULT_RATE_LIMIT = RateLimit(100, 60)


@dataclass(frozen=True)
class SuiteConfig:
    """Everything a run needs to know about the receiver and how to judge it.

    `target` is the webhook URL, or a WSGI/ASGI app with `path` its webhook
    route. `url` is what reports and reproduce commands show.
    """

    target: str | Callable[..., Any]
    verify_token: str
    app_secret: str
    phone_number_id: str | None = None
    display_phone_number: str = "15550783881"
    path: str = "/"
    probe: Probe | None = None
    probe_url: str | None = None
    profile: Profile = "strict"
    rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT
    seed: int = 0
    examples: int = 10
    select: tuple[str, ...] = ()
    timeout: float = 10.0
    time_limit: float = 3.0
    #: The receiver's Graph API access token, when known: SIG-3 signs with it,
    #: since receivers confuse it with the app secret.
    access_token: str | None = None
    #: Deliveries a failing property check may send to shrink its example (0: none).
    shrink_budget: int = DEFAULT_SHRINK_BUDGET
    #: `--replay`: send exactly this generated example (a reproduce command's token).
    replay: str | None = None
    #: `--era`: whose webhook shapes every check sends (an era name is read as its `Era`).
    era: Era = eras.CURRENT
    #: False under `--insecure`: any TLS certificate is accepted (a test certificate).
    verify_tls: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.era, Era):
            # An era's name ("2025") or None; a wrong name raises UnknownEra.
            object.__setattr__(self, "era", eras.era(self.era))
        if not self.app_secret:
            raise ContractUsageError("no app secret: pass --app-secret or set META_CLIENT_SECRET")
        if not self.verify_token:
            raise ContractUsageError(
                "no verify token: pass --verify-token or set META_WEBHOOK_VERIFY_TOKEN"
            )
        if self.profile not in PROFILES:
            raise ContractUsageError(f"--profile {self.profile!r}: expected strict or meta")
        if not 1 <= self.examples <= 10_000:
            raise ContractUsageError(f"--examples {self.examples}: expected 1 to 10000")
        if not 0 <= self.shrink_budget <= 10_000:
            raise ContractUsageError(
                f"--shrink-budget {self.shrink_budget}: expected 0 (no shrinking) to 10000"
            )
        if self.replay is not None:
            ReplayToken.parse(self.replay)

    @property
    def url(self) -> str:
        if isinstance(self.target, str):
            return self.target
        name = getattr(self.target, "__name__", type(self.target).__name__)
        return f"in-process app {name} at {self.path}"

    @property
    def in_process(self) -> bool:
        return not isinstance(self.target, str)
