"""Property checks' examples: fresh attempts, minimal failures, replay tokens.

Where it sits: a check hands `CheckContext.examples` a strategy and a body
that sends; `run_examples` here drives Hypothesis over them. When an example
fails, Hypothesis shrinks it and every smaller candidate is a real delivery,
so three rules keep the result honest:

- Each attempt is fresh (`freshen`: new sender numbers, user ids and message
  ids; the context adds a new client address), so a receiver that fails only
  on its first sight of a message, or limits per address, cannot fake a pass.
- Hypothesis replays values it has tried (the failing example before
  shrinking, the minimal one before reporting it). Outcomes are remembered by
  the drawn value, so a replay re-raises what that value did and sends
  nothing: no redelivery, no `FlakyFailure`.
- Attempts are bounded (`--shrink-budget`, and `SHRINK_SECONDS` of wall
  time). Then the run stops and the smallest failure seen is reported.

The minimal example's Hypothesis choice sequence becomes a replay token
(`<call>:<hypothesis version>:<blob>`) that `--replay` hands back to
Hypothesis's `reproduce_failure`, so the reproduce command sends that
example again (freshened, as always).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, reproduce_failure, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import DidNotReproduce, Flaky

from fakemeta.contract_tests.errors import ContractUsageError, Failure
from fakemeta.simulator.targets import Exchange

__all__ = [
    "DEFAULT_SHRINK_BUDGET",
    "SHRINK_SECONDS",
    "ReplayToken",
    "Shrunk",
    "freshen",
    "measure",
    "run_examples",
]

T = TypeVar("T")

#: Deliveries sent while shrinking one failure. Hypothesis needs a few dozen
#: to take a generated batch of several kilobytes down to one short message;
#: against a local receiver 100 take a few seconds.
DEFAULT_SHRINK_BUDGET = 100

#: Wall time one failure may spend shrinking, whatever is left of the budget.
#: Four property checks can fail in one run: at most 40 s of shrinking keeps a
#: failing run under a minute even against a slow or paced receiver.
SHRINK_SECONDS = 10.0

_FRESH = random.SystemRandom()


# --- sizes -------------------------------------------------------------------


@dataclass(frozen=True)
class Shrunk:
    """How far a failure was shrunk: sizes of the first and the final failing example."""

    original_bytes: int
    shrunk_bytes: int
    original_messages: int | None
    shrunk_messages: int | None
    attempts: int

    def describe(self) -> str:
        """`shrunk from 4,213 bytes (3 messages) to 212 bytes (1 message) in 37 attempts`."""
        attempts = _count(self.attempts, "attempt")
        shrunk = _size(self.shrunk_bytes, self.shrunk_messages)
        if (self.shrunk_bytes, self.shrunk_messages) == (
            self.original_bytes,
            self.original_messages,
        ):
            return f"no smaller failing example in {attempts}: {shrunk}"
        original = _size(self.original_bytes, self.original_messages)
        return f"shrunk from {original} to {shrunk} in {attempts}"

    def to_json(self) -> dict[str, int | None]:
        return {
            "original_bytes": self.original_bytes,
            "shrunk_bytes": self.shrunk_bytes,
            "original_messages": self.original_messages,
            "shrunk_messages": self.shrunk_messages,
            "attempts": self.attempts,
        }


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _size(size: int, messages: int | None) -> str:
    return _count(size, "byte") + (f" ({_count(messages, 'message')})" if messages else "")


def measure(exchange: Exchange) -> tuple[int, int | None]:
    """(bytes, messages) of what an exchange sent: the body and the messages
    in it, or for a handshake the challenge's bytes."""
    request = exchange.request
    if request.body:
        return len(request.body), _messages_in(request.body)
    query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
    challenge = query.get("hub.challenge", [""])[0]
    return len(challenge.encode("utf-8")), None


def _messages_in(body: bytes) -> int | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    found: list[int] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                if key == "messages" and isinstance(child, list):
                    found.append(len(child))
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(document)
    return sum(found) if found else None


# --- fresh attempts ------------------------------------------------------------

# Where a delivery names the parties and messages it is about. Every other
# string equal to one of these (a reply's `context.id`, a reaction's
# `message_id`, a system message's `wa_id`) is a reference and moves with it.
_IDENTITIES = {
    "messages": ("id", "from", "from_user_id"),
    "statuses": ("id", "recipient_id", "recipient_user_id"),
    "contacts": ("wa_id", "user_id"),
}


def freshen(value: T, rng: random.Random = _FRESH) -> T:
    """`value` with every message id, sender number and user id in any delivery
    inside it replaced by a fresh one, consistently (one old id, one new id).

    A fresh id keeps the old one's shape: the same length, and every character
    that is not a letter or digit where it was (`wamid.`, the `/` and `+` of
    base64, the `US.` of a user id); a phone number keeps its first digits
    (the country code). So escaping, and the bytes a receiver might choke on,
    stay what the drawn example had, and a failure stays a function of the
    drawn value.
    """
    mapping: dict[str, str] = {}
    _collect(value, mapping, rng)
    return _replaced(value, mapping) if mapping else value


def _collect(value: Any, mapping: dict[str, str], rng: random.Random) -> None:
    if isinstance(value, dict):
        for key, keys in _IDENTITIES.items():
            items = value.get(key)
            if not isinstance(items, list):
                continue
            for item in items:
                if not isinstance(item, dict):
                    continue
                for name in keys:
                    old = item.get(name)
                    if isinstance(old, str) and old and old not in mapping:
                        mapping[old] = _fresh_like(old, rng, taken=mapping)
        children: Any = value.values()
    elif isinstance(value, list | tuple):
        children = value
    else:
        return
    for child in children:
        _collect(child, mapping, rng)


def _replaced(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, dict):
        return {key: _replaced(child, mapping) for key, child in value.items()}
    if isinstance(value, list):
        return [_replaced(child, mapping) for child in value]
    if type(value) is tuple:
        return tuple(_replaced(child, mapping) for child in value)
    return value


_PREFIX = re.compile(r"[A-Za-z]+\.")
_DIGITS, _LOWER, _UPPER = "0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _fresh_like(old: str, rng: random.Random, *, taken: dict[str, str]) -> str:
    prefix = match.group() if (match := _PREFIX.match(old)) else ""
    if old.isdigit():
        # A number keeps its country code (and so stays a valid number).
        prefix = old[:3] if len(old) >= 10 else old[:1]
    rest = old[len(prefix) :]
    new = old
    for _ in range(20):
        chars = []
        for c in rest:
            if c.isascii() and c.isdigit():
                chars.append(rng.choice(_DIGITS))
            elif c.isascii() and c.islower():
                chars.append(rng.choice(_LOWER))
            elif c.isascii() and c.isupper():
                chars.append(rng.choice(_UPPER))
            else:
                chars.append(c)
        new = prefix + "".join(chars)
        if new != old and new not in taken.values():
            break
    return new


# --- replay tokens -------------------------------------------------------------

_TOKEN = re.compile(r"(\d{1,4}):(\d+\.\d+\.\d+):([A-Za-z0-9+/]+={0,2})")


@dataclass(frozen=True)
class ReplayToken:
    """One example of one `examples()` call of a check: `<call>:<version>:<blob>`."""

    call: int
    version: str
    blob: bytes

    @classmethod
    def parse(cls, text: str) -> ReplayToken:
        match = _TOKEN.fullmatch(text.strip())
        if match is None:
            raise ContractUsageError(
                f"--replay {text!r}: expected the token of a reproduce command, "
                "CALL:HYPOTHESIS-VERSION:BLOB such as 0:6.170.17:AXicY2BkAAAABAAC"
            )
        call, version, blob = match.groups()
        if version != hypothesis.__version__:
            raise ContractUsageError(
                f"--replay: the token was made with Hypothesis {version} and this is "
                f"{hypothesis.__version__}; install that version or rerun without --replay"
            )
        return cls(int(call), version, blob.encode("ascii"))

    def __str__(self) -> str:
        return f"{self.call}:{self.version}:{self.blob.decode('ascii')}"


def _choices() -> tuple[Any, ...] | None:
    """The choice sequence Hypothesis drew the current example from.

    `reproduce_failure` takes it back as a blob; Hypothesis has no public way to
    hand it over, so a Hypothesis that moved it costs the token, not the run.
    """
    try:
        from hypothesis.control import current_build_context

        return tuple(current_build_context().data.choices)
    except Exception:  # pragma: no cover - another Hypothesis's internals
        return None


def _token(call: int, choices: tuple[Any, ...] | None) -> str | None:
    if choices is None:
        return None
    try:
        from hypothesis.core import encode_failure

        blob = encode_failure(choices)
    except Exception:  # pragma: no cover - another Hypothesis's internals
        return None
    return str(ReplayToken(call, hypothesis.__version__, blob))


# --- the search ----------------------------------------------------------------


class _Stop(BaseException):
    """Ends the Hypothesis run at once. A BaseException: Hypothesis would treat
    an Exception as another failure and shrink it."""


@dataclass
class _Failed:
    failure: Failure
    size: tuple[int, int | None]
    choices: tuple[Any, ...] | None


class _Search:
    def __init__(
        self,
        attempt: Callable[[Any], None],
        exchanges: Sequence[Exchange],
        *,
        budget: int,
        seconds: float,
    ) -> None:
        self.attempt = attempt
        self.exchanges = exchanges
        self.budget = budget
        self.seconds = seconds
        self.outcomes: dict[str, _Failed | None] = {}
        self.failed: list[_Failed] = []
        self.fatal: BaseException | None = None
        self.attempts = 0  # deliveries after the first failure
        self.started = 0.0  # when the first failure was seen
        self.ran = False

    def test(self, value: Any) -> None:
        key = repr(value)
        if key in self.outcomes:
            known = self.outcomes[key]
            if known is not None:
                raise known.failure
            return
        if self.failed:
            spent = time.monotonic() - self.started >= self.seconds
            if self.attempts >= self.budget or spent:
                raise _Stop
            self.attempts += 1
        self.ran = True
        start = len(self.exchanges)
        try:
            self.attempt(value)
        except Failure as failure:
            exchange = failure.exchange
            if exchange is None and len(self.exchanges) > start:
                exchange = self.exchanges[-1]
            size = measure(exchange) if exchange is not None else (0, None)
            failed = _Failed(failure, size, _choices())
            self.outcomes[key] = failed
            if not self.failed:
                self.started = time.monotonic()
            self.failed.append(failed)
            raise
        except Exception as error:
            # Skipped, a TransportError, a bug in the check: before any failure
            # it ends the check as it is; while shrinking it ends the shrinking
            # (each could cost a timeout) and the smallest failure stands.
            if not self.failed:
                self.fatal = error
            raise _Stop from error
        self.outcomes[key] = None


def run_examples(
    strategy: st.SearchStrategy[T],
    attempt: Callable[[T], None],
    *,
    examples: int,
    seed_value: int,
    call: int,
    budget: int,
    exchanges: Sequence[Exchange],
    replay: ReplayToken | None = None,
    seconds: float = SHRINK_SECONDS,
) -> None:
    """Run `attempt` on up to `examples` values of `strategy` (reproducible from
    `seed_value`); on a failure shrink it within `budget` attempts and raise the
    minimal `Failure`, carrying its replay token and, when it was shrunk, how far.

    With `replay`, run exactly that example (`call` must be the token's).
    `exchanges` is the list every attempt appends its requests to.
    """
    search = _Search(attempt, exchanges, budget=budget, seconds=seconds)
    shrinking = budget > 0 and replay is None
    phases = (Phase.generate, Phase.shrink) if shrinking else (Phase.generate,)

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=phases,
        report_multiple_bugs=False,
        print_blob=False,  # the token is built from the choices, not from the note
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
    )
    @seed(seed_value)
    @given(strategy)
    def run(value: Any) -> None:
        search.test(value)

    if replay is not None:
        run = reproduce_failure(replay.version, replay.blob)(run)

    final: _Failed | None = None
    try:
        run()
    except Failure as raised:
        final = next((f for f in search.failed if f.failure is raised), None)
    except DidNotReproduce:
        if search.fatal is not None:
            raise search.fatal from None
        if not search.ran:
            raise ContractUsageError(
                f"--replay {replay}: the token does not fit this check's examples; "
                "select the check its reproduce command names (-k ID::check)"
            ) from None
        return  # the example passes now
    except (_Stop, Flaky):
        pass
    if search.fatal is not None:
        raise search.fatal
    if not search.failed:
        return
    if final is None:
        final = min(search.failed, key=lambda f: f.size[0])
    failure = final.failure
    if replay is not None:
        failure.minimal(replay=str(replay), shrink=None)
    else:
        first = search.failed[0]
        shrunk = (
            Shrunk(first.size[0], final.size[0], first.size[1], final.size[1], search.attempts)
            if shrinking
            else None
        )
        failure.minimal(replay=_token(call, final.choices), shrink=shrunk)
    # Hypothesis's notes (the example's repr, kilobytes of it) would follow the
    # failure into pytest's output; the reports show the exchange instead.
    failure.__dict__.pop("__notes__", None)
    raise failure
