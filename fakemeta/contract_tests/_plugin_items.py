"""The contract suite as pytest items: one `fakemeta::<ID>::<check>` test per check.

Items are ordinary `pytest.Function`s added at the end of collection (so `-k`,
`-m`, `--lf`, JUnit and xdist see them like any test). Each sits under the
directory whose `conftest.py` overrides `fakemeta_target`, so that override
is the one it gets; with no override they sit at the session and the
default fixture takes `--fakemeta-url`. Every item runs one check through the
runner's `run_check` and turns its `CheckResult` into a pass, a failure with
the report's detail, or a skip with the reason.

One `ContractSession` per pytest session keeps what checks share across
items: the run nonce (fresh senders every run) and the client addresses (a
receiver that rate-limits per IP never throttles the suite).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fakemeta.contract_tests.addresses import AddressPlan
from fakemeta.contract_tests.config import DEFAULT_RATE_LIMIT, SuiteConfig
from fakemeta.contract_tests.context import new_run_nonce
from fakemeta.contract_tests.registry import CHECKS, Check
from fakemeta.contract_tests.report import CheckResult, Report
from fakemeta.contract_tests.reporting import printable
from fakemeta.contract_tests.requirements import REQUIREMENTS
from fakemeta.contract_tests.shrinking import DEFAULT_SHRINK_BUDGET
from fakemeta.simulator import eras
from fakemeta.simulator.errors import TransportError
from fakemeta.simulator.handshake import handshake

__all__ = [
    "CONTRACT_ITEM",
    "ContractItem",
    "ContractSession",
    "collect_contract_items",
    "contract_session",
    "registered_checks",
    "run_contract_check",
]


def registered_checks() -> list[Check]:
    """Every check, imported only when the suite is asked for: a host whose run
    does not add the suite never imports (or breaks on) the checks."""
    import fakemeta.contract_tests.checks  # noqa: F401 - registers every check

    return list(CHECKS)


#: Set on the stash of every contract item.
CONTRACT_ITEM = pytest.StashKey[Check]()
_SESSION = pytest.StashKey["ContractSession"]()
_DIRECTORIES = pytest.StashKey[dict[Path, pytest.Directory]]()


@dataclass
class ContractSession:
    nonce: str = field(default_factory=new_run_nonce)
    addresses: dict[tuple[str, str], AddressPlan] = field(default_factory=dict)
    unreachable: dict[str, str | None] = field(default_factory=dict)
    results: list[CheckResult] = field(default_factory=list)
    targets: set[str] = field(default_factory=set)

    def address_plan(self, config: SuiteConfig) -> AddressPlan:
        key = (config.url, str(config.rate_limit))
        if key not in self.addresses:
            self.addresses[key] = AddressPlan(config)
        return self.addresses[key]


def contract_session(config: pytest.Config) -> ContractSession:
    if _SESSION not in config.stash:
        config.stash[_SESSION] = ContractSession()
    return config.stash[_SESSION]


# --- collection ---------------------------------------------------------------


def remember_directory(config: pytest.Config, collector: pytest.Collector) -> None:
    """Record every directory collector: contract items are placed under one."""
    if isinstance(collector, pytest.Directory):
        config.stash.setdefault(_DIRECTORIES, {})[collector.path] = collector


def _anchors(session: pytest.Session) -> list[pytest.Session | pytest.Directory]:
    """Where contract items go: each directory whose conftest overrides
    `fakemeta_target`, or the session when the rootdir's (or none) does."""
    directories = session.config.stash.get(_DIRECTORIES, {})
    found: list[pytest.Session | pytest.Directory] = []
    for plugin in session.config.pluginmanager.get_plugins():
        filename = getattr(plugin, "__file__", None) or ""
        if Path(filename).name != "conftest.py" or "fakemeta_target" not in vars(plugin):
            continue
        node = directories.get(Path(filename).parent)
        if node is not None and node.path != session.config.rootpath and node not in found:
            found.append(node)
    found.sort(key=lambda n: str(n.path))
    return found or [session]


class ContractItem(pytest.Function):
    """One check: a `pytest.Function` (so fixtures resolve as for any test)."""

    check: Check

    def reportinfo(self) -> tuple[Path, int | None, str]:
        code = self.check.function.__code__
        return Path(code.co_filename), code.co_firstlineno - 1, f"fakemeta::{self.check.id}"


class ContractSuite(pytest.File):
    """The suite's place in the collection tree: a virtual `<directory>/fakemeta`."""

    def collect(self) -> list[ContractItem]:
        items = []
        for check in sorted(registered_checks(), key=lambda c: c.last):
            item = ContractItem.from_parent(
                self, name=check.id, callobj=_item_function(check), originalname=check.id
            )
            item.check = check
            item.add_marker(getattr(pytest.mark, f"fakemeta_{check.requirement.level.lower()}"))
            item.stash[CONTRACT_ITEM] = check
            items.append(item)
        return items


def _item_function(check: Check) -> Callable[..., None]:
    def fakemeta(fakemeta_config: SuiteConfig, request: pytest.FixtureRequest) -> None:
        run_contract_check(check, fakemeta_config, request.config)

    fakemeta.__doc__ = f"{check.requirement.id} ({check.requirement.level}): {check.description}"
    return fakemeta


def collect_contract_items(session: pytest.Session) -> list[pytest.Item]:
    """The suite under each anchor, collected and reported as pytest collects any file."""
    items: list[pytest.Item] = []
    for anchor in _anchors(session):
        directory = anchor.path if isinstance(anchor, pytest.Directory) else session.config.rootpath
        suite = ContractSuite.from_parent(anchor, path=directory / "fakemeta")
        items.extend(session.genitems(suite))
    return items


# --- running ------------------------------------------------------------------


def run_contract_check(check: Check, config: SuiteConfig, pytest_config: pytest.Config) -> None:
    from fakemeta.contract_tests.runner import (
        open_target,
        run_check,
    )  # lazily: see registered_checks

    state = contract_session(pytest_config)
    state.targets.add(config.url)
    addresses = state.address_plan(config)
    with open_target(config) as target:
        if not config.in_process:
            # Reachability once per URL: an unreachable receiver fails every
            # item with one line, not with a connection error per request.
            if config.url not in state.unreachable:
                try:
                    handshake(target, config.verify_token, source_ip=addresses.fresh())
                    state.unreachable[config.url] = None
                except TransportError as error:
                    state.unreachable[config.url] = error.one_line()
            if (why := state.unreachable[config.url]) is not None:
                pytest.fail(f"fakemeta: the receiver cannot be reached: {why}", pytrace=False)
        result = run_check(check, config, target, addresses, state.nonce)
    state.results.append(result)
    if result.outcome == "skipped":
        pytest.skip(f"{check.id} ({check.requirement.level}): {pytest_words(result.detail)}")
    if result.outcome == "failed":
        pytest.fail(failure_text(result, config, pytest_config), pytrace=False)


_CLI_OPTION = re.compile(
    r"(?<![\w-])--(probe|phone-number-id|rate-limit|profile|era|examples|seed)\b"
)


def pytest_words(text: str) -> str:
    """The runner's words with this plugin's option names (`--probe` -> `--fakemeta-probe`)."""
    return _CLI_OPTION.sub(r"--fakemeta-\1", text)


def pytest_reproduce(result: CheckResult, config: SuiteConfig, pytest_config: pytest.Config) -> str:
    """The pytest command that reruns this check with the same options and traffic."""
    parts = ["python", "-m", "pytest", *_contract_args(pytest_config)]
    parts += ["--fakemeta-contract", "-k", result.check, "--fakemeta-seed", str(config.seed)]
    if config.profile != "strict":
        parts += ["--fakemeta-profile", config.profile]
    if config.era != eras.CURRENT:
        parts += ["--fakemeta-era", config.era.name]
    if config.rate_limit != DEFAULT_RATE_LIMIT:
        parts += ["--fakemeta-rate-limit", str(config.rate_limit or "off")]
    if config.examples != 10:
        parts += ["--fakemeta-examples", str(config.examples)]
    if config.shrink_budget != DEFAULT_SHRINK_BUDGET:
        parts += ["--fakemeta-shrink-budget", str(config.shrink_budget)]
    if isinstance(config.target, str):
        parts += ["--fakemeta-url", config.target]
    return shlex.join(parts)


def _contract_args(pytest_config: pytest.Config) -> list[str]:
    """The paths the run was given (options are rebuilt from the config)."""
    params = pytest_config.invocation_params
    paths = []
    for arg in params.args:
        arg = str(arg)
        if not arg.startswith("-") and (params.dir / arg.split("::")[0]).exists():
            paths.append(arg)
    return paths


def _block(title: str, value: Any) -> list[str]:
    if value is None or value == "":
        return []
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    lines = printable(text).splitlines() or [""]
    return [f"{title}: {lines[0]}", *(f"    {line}" for line in lines[1:])]


def _exchange_lines(exchange: dict[str, Any]) -> list[str]:
    """The exchange for pytest's report. Everything the receiver sent back is
    untrusted: `printable` keeps its control characters from driving the terminal."""
    request, response = exchange["request"], exchange["response"]
    source = f" from {request['source_ip']}" if request.get("source_ip") else ""
    lines = [printable(f"sent: {request['method']} {request['url']}{source}")]
    lines += [printable(f"    {name}: {value}") for name, value in request["headers"]]
    if request["body"]:
        lines.append("    " + printable(request["body"]))
    lines.append(f"came back: HTTP {response['status']} after {exchange['latency_ms']} ms")
    lines += [printable(f"    {name}: {value}") for name, value in response["headers"]]
    if response["body"]:
        lines.append("    " + printable(response["body"]))
    return lines


def failure_text(result: CheckResult, config: SuiteConfig, pytest_config: pytest.Config) -> str:
    requirement = result.requirement
    lines = [
        f"{requirement.id} ({requirement.level}): {requirement.title}",
        f"check: {result.check} - {result.description}",
        *_block("failed", pytest_words(result.detail)),
        *_block("expected", pytest_words(result.expected)),
    ]
    if result.exchange is not None:
        lines += _exchange_lines(result.exchange)
    lines.append(f"reproduce: {pytest_reproduce(result, config, pytest_config)}")
    if isinstance(config.target, str):
        from fakemeta.contract_tests.runner import reproduce_command

        again = reproduce_command(config, requirement.id, check=result.check, replay=result.replay)
        lines.append(f"       or: {again}")
    return "\n".join(lines)


# --- the summary ----------------------------------------------------------------


def session_report(pytest_config: pytest.Config) -> Report | None:
    """The contract checks that ran in this session, as a report; None if none ran."""
    state = pytest_config.stash.get(_SESSION, None)
    if state is None or not state.results:
        return None
    return Report(", ".join(sorted(state.targets)), "", 0, results=list(state.results))


def summary_lines(pytest_config: pytest.Config) -> list[str]:
    """One line per requirement that ran, as the JSON report aggregates them."""
    state = pytest_config.stash.get(_SESSION, None)
    report = session_report(pytest_config)
    if state is None or report is None:
        return []
    lines = []
    ran = {r.requirement.id for r in state.results}
    requirements = report.requirements(i for i in REQUIREMENTS if i in ran)
    for requirement in requirements:
        lines.append(
            f"{requirement.outcome.upper():8} {requirement.requirement.id:9} "
            f"{requirement.requirement.level:7}{requirement.detail}"
        )
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for requirement in requirements:
        counts[requirement.outcome] += 1
    lines.append(
        f"requirements: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped"
    )
    from fakemeta.contract_tests.runner import address_notes  # lazily: see registered_checks

    for plan in state.addresses.values():
        lines += [f"note: {note}" for note in address_notes(plan)]
    return lines


def close_contract_session(pytest_config: pytest.Config) -> None:
    """Free the session's client addresses once a rate-limit window has passed."""
    state = pytest_config.stash.get(_SESSION, None)
    if state is not None:
        for plan in state.addresses.values():
            plan.close()
