"""The runner behind `fakemeta check` and the pytest plugin.

Selects the checks for the profile and options, runs each against the
target with a fresh `CheckContext`, and collects a `Report`. Rate-limit
checks run last: their traffic exhausts a client address's window.
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

import fakemeta.contract_tests.checks  # noqa: F401 - registers every check
from fakemeta.contract_tests.addresses import AddressPlan
from fakemeta.contract_tests.config import DEFAULT_RATE_LIMIT, SuiteConfig
from fakemeta.contract_tests.context import CheckContext, new_run_nonce
from fakemeta.contract_tests.errors import ContractUsageError, Failure, Skipped
from fakemeta.contract_tests.registry import CHECKS, Check
from fakemeta.contract_tests.report import CheckResult, Report, exchange_summary
from fakemeta.contract_tests.requirements import REQUIREMENTS
from fakemeta.contract_tests.shrinking import DEFAULT_SHRINK_BUDGET, ReplayToken
from fakemeta.simulator import eras
from fakemeta.simulator.eras import Era
from fakemeta.simulator.errors import TransportError
from fakemeta.simulator.handshake import handshake
from fakemeta.simulator.targets import Target, target_for

__all__ = [
    "address_notes",
    "check_selection",
    "era_note",
    "not_applicable",
    "open_target",
    "reproduce_command",
    "run",
    "selected_checks",
]


_FAMILIES = {requirement_id.split("-")[0] for requirement_id in REQUIREMENTS}


def _matches(term: str, check: Check) -> bool:
    """A requirement ID (`SIG-2`) or family (`SIG`) matches by ID only; a
    check ID (`SIG-6::generated_bodies_are_verified`, as reproduce commands
    write it) matches that check; any other term matches check names by
    substring (`unsigned`), so that `-k RATE` never picks up
    `generated_bodies_are_verified`."""
    wanted = term.strip()
    requirement = check.requirement.id
    if wanted.upper() in REQUIREMENTS or wanted.upper() in _FAMILIES:
        return wanted.upper() in (requirement, requirement.split("-")[0])
    return wanted == check.id or wanted.lower() in check.name.lower()


def check_selection(terms: tuple[str, ...], *, replay: str | None = None) -> None:
    """Raise `ContractUsageError` for a `-k` term that selects nothing, or a
    `--replay` token that is malformed or not given exactly one check."""
    for term in terms:
        if not any(_matches(term, c) for c in CHECKS):
            raise ContractUsageError(
                f"-k {term!r} matches no requirement or check: the IDs are "
                f"{', '.join(REQUIREMENTS)}"
            )
    if replay is not None:
        ReplayToken.parse(replay)
        chosen = [c for c in CHECKS if any(_matches(t, c) for t in terms)]
        if len(chosen) != 1:
            raise ContractUsageError(
                "--replay sends one check's example: select that check alone with "
                "-k ID::check, as the reproduce command does"
            )


def selected_checks(config: SuiteConfig) -> list[Check]:
    """The checks `-k` selects (requirement IDs, families, check names), rate checks last."""
    checks = list(CHECKS)
    if config.select or config.replay:
        check_selection(config.select, replay=config.replay)
        checks = [c for c in checks if any(_matches(t, c) for t in config.select)]
    return sorted(checks, key=lambda c: c.last)


def not_applicable(check: Check, config: SuiteConfig) -> str | None:
    """Why `check` does not run under this configuration, or None when it does."""
    requirement = check.requirement
    if config.profile == "meta" and requirement.strict_only:
        return "the seed's exact status codes: checked under --profile strict only"
    if config.profile == "meta" and requirement.level != "MUST":
        return "a SHOULD requirement: not checked under --profile meta"
    if "rate_limit" in requirement.needs and config.rate_limit is None:
        return "--rate-limit off: the receiver is not expected to limit"
    if "probe" in requirement.needs and config.probe is None:
        return "needs a probe to see the receiver's store (--probe)"
    if "phone_number_id" in requirement.needs and not config.phone_number_id:
        return "needs the phone number id of a connected account (--phone-number-id)"
    return None


def reproduce_command(
    config: SuiteConfig,
    requirement_id: str,
    *,
    builtin: bool = False,
    check: str | None = None,
    replay: str | None = None,
) -> str:
    """The command that reruns one requirement's checks with the same traffic.

    `builtin`: the built-in receiver was checked; its URL and probe die with
    the run, so the command starts a new one instead. `replay`: the failure
    was a generated example; the command runs only `check` and sends exactly
    that (shrunk) example.
    """
    parts = ["fakemeta", "check"]
    if isinstance(config.target, str) and not builtin:
        parts.append(config.target)
    if config.phone_number_id:
        parts += ["--phone-number-id", config.phone_number_id]
    if config.probe_url and not builtin:
        parts += ["--probe", config.probe_url]
    if config.profile != "strict":
        parts += ["--profile", config.profile]
    if config.rate_limit != DEFAULT_RATE_LIMIT:
        parts += ["--rate-limit", str(config.rate_limit) if config.rate_limit else "off"]
    if config.examples != 10:
        parts += ["--examples", str(config.examples)]
    if config.era != eras.CURRENT:
        parts += ["--era", config.era.name]
    if not config.verify_tls:
        parts.append("--insecure")
    if replay is not None and check is not None:
        parts += ["--seed", str(config.seed), "-k", check, "--replay", replay]
        return shlex.join(parts)
    if config.shrink_budget != DEFAULT_SHRINK_BUDGET:
        parts += ["--shrink-budget", str(config.shrink_budget)]
    parts += ["--seed", str(config.seed), "-k", requirement_id]
    return shlex.join(parts)


@contextmanager
def open_target(config: SuiteConfig) -> Iterator[Target]:
    target = target_for(
        config.target, config.path, timeout=config.timeout, verify_tls=config.verify_tls
    )
    try:
        yield target
    finally:
        target.close()


def run_check(
    check: Check, config: SuiteConfig, target: Target, addresses: AddressPlan, nonce: str
) -> CheckResult:
    reason = not_applicable(check, config)
    if reason is not None:
        return CheckResult(check.id, check.requirement, check.description, "skipped", reason)
    ctx = CheckContext(
        config, check.requirement, target, addresses, run_nonce=nonce, check_name=check.name
    )
    started = time.monotonic()
    try:
        check.function(ctx)
    except Failure as failure:
        exchange = failure.exchange
        return CheckResult(
            check.id,
            check.requirement,
            check.description,
            "failed",
            failure.message,
            failure.expected,
            exchange_summary(exchange) if exchange is not None else None,
            reproduce_command(config, check.requirement.id, check=check.id, replay=failure.replay),
            time.monotonic() - started,
            shrink=failure.shrink,
            replay=failure.replay,
        )
    except Skipped as skipped:
        return CheckResult(
            check.id,
            check.requirement,
            check.description,
            "skipped",
            skipped.reason,
            duration=time.monotonic() - started,
        )
    except TransportError as error:
        # The receiver stopped answering (a timeout, a dropped connection) on
        # this check's traffic: that is the receiver's failure, not a usage error.
        return CheckResult(
            check.id,
            check.requirement,
            check.description,
            "failed",
            error.one_line(),
            "an HTTP answer",
            exchange_summary(ctx.last_exchange) if ctx.last_exchange else None,
            reproduce_command(config, check.requirement.id),
            time.monotonic() - started,
        )
    return CheckResult(
        check.id,
        check.requirement,
        check.description,
        "passed",
        duration=time.monotonic() - started,
    )


def address_notes(addresses: AddressPlan) -> list[str]:
    """What the report says about the client addresses a run used."""
    notes = []
    if (described := addresses.describe()) is not None:
        notes.append(described)
    return notes + addresses.events


def era_note(era: Era) -> str:
    """What the report says about the webhook shapes a run sent."""
    ids = "business-scoped user ids" if era.business_scoped_ids else "phone numbers only"
    return f"era {era.name}: webhook shapes of Graph API {era.graph_version}, {ids}"


def run(
    config: SuiteConfig,
    *,
    on_result: Callable[[CheckResult], None] | None = None,
    target: Target | None = None,
    era: Era | str | None = None,
) -> Report:
    """Run the selected checks against the receiver; raises `TransportError`
    when the receiver cannot be reached at all (before any check).

    `target` replaces the one made from `config.target` (a recording or
    instrumented target); the caller closes it. `era` ("2025", "2026" or an
    `Era`), when given, replaces `config.era`: whose webhook shapes every
    check sends.
    """
    if era is not None:
        config = dataclasses.replace(config, era=eras.era(era))  # UnknownEra for a wrong name
    checks = selected_checks(config)
    report = Report(config.url, config.profile, config.seed)
    addresses = AddressPlan(config)
    nonce = new_run_nonce()
    started = time.monotonic()
    try:
        with open_target(config) if target is None else nullcontext(target) as target:
            # Reachability first: an unreachable receiver is a usage error
            # (exit 2), not 33 failed requirements.
            handshake(target, config.verify_token, source_ip=addresses.fresh())
            for check in checks:
                result = run_check(check, config, target, addresses, nonce)
                report.results.append(result)
                if on_result is not None:
                    on_result(result)
    finally:
        addresses.close()
    report.duration = time.monotonic() - started
    report.notes.append(era_note(config.era))
    report.notes.extend(address_notes(addresses))
    if not addresses.spread and config.rate_limit is not None:
        where = (
            "only 127.0.0.1 can be bound here"
            if addresses.no_aliases
            else "the receiver is not on loopback"
        )
        report.notes.append(
            f"{where}: the suite paced itself under {config.rate_limit} "
            f"per client IP (waited {addresses.paced_seconds:.0f} s) and could not check RATE-2"
        )
    return report
