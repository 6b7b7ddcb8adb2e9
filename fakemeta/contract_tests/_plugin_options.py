"""The pytest plugin's options: command line, ini, environment, fixture and marker.

Every option is resolved once per test into a frozen `Resolved`, in this
order, the later winning (STYLE rule 10, with the two pytest-only layers
where they belong):

    default < ini file < environment < `fakemeta_target` fixture
            < command line < `@pytest.mark.fakemeta(...)` (closest wins)

The fixture sits above the environment because it knows the app it hands
over (the app's own secret beats a developer's `.env`); the command line
sits above the fixture because typing it is the most explicit thing a user
does; a marker is written on the very test it changes. Secrets are never
read from an ini file, which gets committed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from fakemeta.contract_tests.config import DEFAULT_RATE_LIMIT, PROFILES, RateLimit
from fakemeta.contract_tests.errors import ContractUsageError
from fakemeta.contract_tests.shrinking import DEFAULT_SHRINK_BUDGET
from fakemeta.simulator import eras
from fakemeta.simulator.eras import Era
from fakemeta.simulator.errors import UnknownEra

__all__ = [
    "MARKER_KEYS",
    "Resolved",
    "add_options",
    "check_options",
    "contract_enabled",
    "fail_on_skipped_must",
    "resolve",
]


@dataclass(frozen=True)
class _Option:
    name: str  # the key in Resolved, in markers and (fakemeta_<name>) in ini
    help: str
    env: str | None = None
    ini: bool = True
    metavar: str | None = None
    flag: bool = False  # takes no value: `--fakemeta-insecure`, `fakemeta_insecure = true`


_OPTIONS = (
    _Option("url", "the receiver's webhook URL (instead of an in-process app)", metavar="URL"),
    _Option(
        "verify_token",
        "the verify token of the handshake; default $META_WEBHOOK_VERIFY_TOKEN",
        env="META_WEBHOOK_VERIFY_TOKEN",
        ini=False,
        metavar="TEXT",
    ),
    _Option(
        "app_secret",
        "the app secret deliveries are signed with; default $META_CLIENT_SECRET",
        env="META_CLIENT_SECRET",
        ini=False,
        metavar="TEXT",
    ),
    _Option(
        "phone_number_id",
        "the phone number id of a connected account in the receiver; "
        "default $FAKEMETA_PHONE_NUMBER_ID",
        env="FAKEMETA_PHONE_NUMBER_ID",
        metavar="ID",
    ),
    _Option(
        "probe",
        "base URL of the receiver's probe API; default $FAKEMETA_PROBE_URL",
        env="FAKEMETA_PROBE_URL",
        metavar="URL",
    ),
    _Option(
        "probe_token",
        "bearer token for the probe API; default $FAKEMETA_PROBE_TOKEN",
        env="FAKEMETA_PROBE_TOKEN",
        ini=False,
        metavar="TEXT",
    ),
    _Option(
        "profile",
        "strict (default) or meta (MUST requirements only, any 4xx refuses)",
        metavar="strict|meta",
    ),
    _Option(
        "era",
        "whose webhook shapes to send: 2026 (business-scoped user ids) or 2025 (phone "
        f"numbers only); default $FAKEMETA_ERA or {eras.CURRENT.name}",
        env="FAKEMETA_ERA",
        metavar="|".join(eras.ERA_NAMES),
    ),
    _Option(
        "rate_limit",
        "N/SECONDS or off: the limit the receiver should enforce; default 100/60",
        metavar="N/SECONDS|off",
    ),
    _Option("seed", "makes generated traffic reproducible; default 0", metavar="INT"),
    _Option(
        "access_token",
        "the token the app uses against the fake Graph API (fakemeta_graph); "
        "default $WHATSAPP_ACCESS_TOKEN",
        env="WHATSAPP_ACCESS_TOKEN",
        ini=False,
        metavar="TEXT",
    ),
    _Option("examples", "generated examples per property check; default 10", metavar="N"),
    _Option(
        "insecure",
        "accept any TLS certificate from the receiver and its probe (a test certificate)",
        flag=True,
    ),
    _Option(
        "shrink_budget",
        "deliveries a failing property check may send to shrink its example; "
        f"0: no shrinking; default {DEFAULT_SHRINK_BUDGET}",
        metavar="N",
    ),
)

MARKER_KEYS = frozenset(o.name for o in _OPTIONS) | {"path"}

_DEFAULTS: dict[str, Any] = {
    "profile": "strict",
    "era": eras.CURRENT,
    "seed": 0,
    "examples": 10,
    "shrink_budget": DEFAULT_SHRINK_BUDGET,
    "path": "/",
}


def _flag(name: str) -> str:
    return "--fakemeta-" + name.replace("_", "-")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("fakemeta", "fakemeta: WhatsApp webhook contract suite")
    group.addoption(
        "--fakemeta-contract",
        action="store_true",
        default=None,
        help="add the contract suite to this run: one test per check, "
        "named fakemeta::<ID>::<check> (select with -k)",
    )
    parser.addini("fakemeta_contract", "add the contract suite to every run", type="bool")
    group.addoption(
        "--fakemeta-fail-on-skipped-must",
        action="store_true",
        default=None,
        help="fail the run when a MUST requirement of the contract suite was skipped "
        "(no probe, for example) instead of passing with skips",
    )
    parser.addini(
        "fakemeta_fail_on_skipped_must",
        "fail the run when a MUST requirement of the contract suite was skipped",
        type="bool",
    )
    for option in _OPTIONS:
        # A flag takes no value; any other option takes one, shown as its metavar.
        takes: dict[str, Any] = (
            {"action": "store_true"} if option.flag else {"metavar": option.metavar}
        )
        group.addoption(
            _flag(option.name),
            dest="fakemeta_" + option.name,
            default=None,
            help=option.help,
            **takes,
        )
        if option.ini and option.flag:
            parser.addini("fakemeta_" + option.name, option.help, type="bool")
        elif option.ini:
            parser.addini("fakemeta_" + option.name, option.help, type="string")


def contract_enabled(config: pytest.Config) -> bool:
    flag = config.getoption("fakemeta_contract")
    return flag if flag is not None else _ini_bool(config, "fakemeta_contract")


def fail_on_skipped_must(config: pytest.Config) -> bool:
    flag = config.getoption("fakemeta_fail_on_skipped_must")
    return flag if flag is not None else _ini_bool(config, "fakemeta_fail_on_skipped_must")


def _ini_bool(config: pytest.Config, name: str) -> bool:
    try:
        return bool(config.getini(name))
    except (ValueError, pytest.UsageError):
        raise pytest.UsageError(
            f"fakemeta: {name} in the ini file is not true or false; set it to true or false"
        ) from None


def _layers_from_config(config: pytest.Config) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ini and environment merged, command line), raw strings."""
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    for option in _OPTIONS:
        ini_name = "fakemeta_" + option.name
        if option.ini and option.flag and _ini_bool(config, ini_name):
            low[option.name] = True
        elif option.ini and not option.flag and (value := config.getini(ini_name)):
            low[option.name] = value
        if option.env and (value := os.environ.get(option.env)):
            low[option.name] = value
        if (value := config.getoption("fakemeta_" + option.name)) is not None:
            high[option.name] = value
    return low, high


def _where(name: str) -> str:
    return f"{_flag(name)} (or @pytest.mark.fakemeta({name}=...))"


def _convert(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Strings from the command line, ini and environment to typed values."""
    values = dict(raw)
    for name in ("seed", "examples", "shrink_budget"):
        if isinstance(values.get(name), str):
            try:
                values[name] = int(values[name])
            except ValueError:
                raise ContractUsageError(
                    f"{_where(name)} {values[name]!r}: expected an integer"
                ) from None
    if "rate_limit" in values:
        limit = values["rate_limit"]
        if isinstance(limit, str):
            try:
                values["rate_limit"] = RateLimit.parse(limit)
            except ContractUsageError:
                raise ContractUsageError(
                    f"{_where('rate_limit')} {limit!r}: expected N/SECONDS such as 100/60, or off"
                ) from None
        elif limit is not None and not isinstance(limit, RateLimit):
            raise ContractUsageError(
                f"{_where('rate_limit')} {limit!r}: expected '100/60', 'off', a RateLimit or None"
            )
    if "era" in values:
        try:
            values["era"] = eras.era(values["era"])
        except UnknownEra:
            raise ContractUsageError(
                f"{_where('era')} {values['era']!r}: expected one of {', '.join(eras.ERA_NAMES)}"
            ) from None
    if "insecure" in values and not isinstance(values["insecure"], bool):
        raise ContractUsageError(
            f"{_where('insecure')} {values['insecure']!r}: expected True or False"
        )
    if "profile" in values and values["profile"] not in PROFILES:
        raise ContractUsageError(
            f"{_where('profile')} {values['profile']!r}: expected strict or meta"
        )
    if "examples" in values and not 1 <= values["examples"] <= 10_000:
        raise ContractUsageError(f"{_where('examples')} {values['examples']}: expected 1 to 10000")
    if "shrink_budget" in values and not 0 <= values["shrink_budget"] <= 10_000:
        raise ContractUsageError(
            f"{_where('shrink_budget')} {values['shrink_budget']}: "
            "expected 0 (no shrinking) to 10000"
        )
    return values


def check_options(config: pytest.Config) -> None:
    """Fail the session early, in one line, on an option that cannot be used."""
    contract_enabled(config)
    fail_on_skipped_must(config)
    low, high = _layers_from_config(config)
    try:
        _convert(low)
        _convert(high)
    except ContractUsageError as error:
        raise pytest.UsageError(f"fakemeta: {error}") from None


def marker_options(node: pytest.Item) -> dict[str, Any]:
    """The `fakemeta` markers' keyword arguments, the closest marker winning."""
    merged: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers("fakemeta"))):
        if marker.args:
            raise ContractUsageError(
                f"@pytest.mark.fakemeta takes keyword arguments only, got {marker.args!r}"
            )
        unknown = set(marker.kwargs) - MARKER_KEYS
        if unknown:
            raise ContractUsageError(
                f"@pytest.mark.fakemeta: unknown option(s) {', '.join(sorted(unknown))}; "
                f"expected {', '.join(sorted(MARKER_KEYS))}"
            )
        merged.update(marker.kwargs)
    return merged


@dataclass(frozen=True)
class Resolved:
    """Every option's value for one test, after all layers."""

    target: str | Callable[..., Any] | None
    path: str
    verify_token: str | None
    app_secret: str | None
    phone_number_id: str | None
    probe: Any  # a Probe, a (clients, messages) pair, a probe URL, or None
    probe_token: str | None
    profile: str
    rate_limit: RateLimit | None
    seed: int
    examples: int
    access_token: str | None = None
    shrink_budget: int = DEFAULT_SHRINK_BUDGET
    era: Era = eras.CURRENT
    insecure: bool = False


def resolve(config: pytest.Config, fixture: Mapping[str, Any], node: pytest.Item) -> Resolved:
    """All layers merged for `node`; `fixture` holds the `fakemeta_target` fields that are set."""
    low, high = _layers_from_config(config)
    values: dict[str, Any] = {**_DEFAULTS, "rate_limit": DEFAULT_RATE_LIMIT}
    values.update(_convert(low))
    values.update(fixture)
    values.update(_convert(high))
    values.update(_convert(marker_options(node)))
    target = values.pop("url", None)
    if "app" in values:
        app = values.pop("app")
        # An app from the fixture yields to a URL only where the URL is more
        # explicit than the fixture: the command line or a marker.
        if "url" not in high and "url" not in marker_options(node):
            target = app
    return Resolved(
        target=target,
        path=values["path"],
        verify_token=values.get("verify_token"),
        app_secret=values.get("app_secret"),
        phone_number_id=values.get("phone_number_id"),
        probe=values.get("probe"),
        probe_token=values.get("probe_token"),
        profile=values["profile"],
        rate_limit=values["rate_limit"],
        seed=values["seed"],
        examples=values["examples"],
        shrink_budget=values["shrink_budget"],
        access_token=values.get("access_token"),
        era=values["era"],
        insecure=values.get("insecure", False),
    )
