"""pytest plugin entry point (`pytest11`): fakemeta inside a host project's test run.

A host points the contract suite at its app by overriding one fixture:

    # conftest.py
    import pytest
    from fakemeta.contract_tests.plugin import ContractTarget

    @pytest.fixture
    def fakemeta_target():
        return ContractTarget(app=create_app(), path="/webhooks/whatsapp/",
                              probe=(clients_for, messages_for, clients_by_user_id_for),
                              app_secret="...",
                              verify_token="...", phone_number_id="...")

and runs `pytest --fakemeta-contract`: one test per check, named
`fakemeta::<ID>::<check>`, selectable with `-k` (`-k VERIFY`, `-k SIG-3`) and
`-m fakemeta_must` / `-m fakemeta_should`. Its own tests get
`fakemeta_deliveries` (signed deliveries and their negatives),
`fakemeta_strategies` and `fakemeta_config`; `@pytest.mark.fakemeta(...)`
changes options per test, the closest marker winning. Option precedence is
documented in `_plugin_options`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NoReturn

import pytest

from fakemeta.contract_tests._plugin_deliveries import Deliveries
from fakemeta.contract_tests._plugin_items import (
    CONTRACT_ITEM,
    close_contract_session,
    collect_contract_items,
    registered_checks,
    remember_directory,
    session_report,
    summary_lines,
)
from fakemeta.contract_tests._plugin_options import (
    Resolved,
    add_options,
    check_options,
    contract_enabled,
    fail_on_skipped_must,
    resolve,
)
from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.errors import ContractUsageError
from fakemeta.contract_tests.probes import CallableProbe, HttpProbe, Probe
from fakemeta.simulator import ids
from fakemeta.simulator.envelopes import Account
from fakemeta.simulator.errors import SimulatorError

__all__ = ["ContractTarget", "Deliveries"]

Record = dict[str, Any]
ProbeSpec = Probe | tuple[Callable[[str], list[Record]], Callable[[str], list[Record]]] | str


@dataclass(frozen=True)
class ContractTarget:
    """Where the contract suite sends, and what it needs to know about the receiver.

    `app` is a WSGI or ASGI callable run in-process, with `path` its webhook
    route; or `url` is a running receiver. `probe` shows the receiver's store:
    an object with `clients(phone)` and `messages(message_id)` methods, a pair
    of callables `(clients_for, messages_for)`, or a probe API's base URL;
    each returns a list of dicts as DESIGN.md's probe protocol says. Secrets
    left None come from the options and the environment.
    """

    app: Callable[..., Any] | None = None
    url: str | None = None
    path: str = "/"
    probe: ProbeSpec | None = None
    verify_token: str | None = None
    app_secret: str | None = None
    phone_number_id: str | None = None

    def __post_init__(self) -> None:
        if self.app is not None and self.url is not None:
            raise ContractUsageError("ContractTarget takes an app or a url, not both")
        if self.app is not None and not callable(self.app):
            raise ContractUsageError(
                f"ContractTarget(app={self.app!r}): expected a WSGI or ASGI callable"
            )

    def options(self) -> dict[str, Any]:
        """The fields that are set, as an option layer."""
        fields = {
            "app": self.app,
            "url": self.url,
            "probe": self.probe,
            "verify_token": self.verify_token,
            "app_secret": self.app_secret,
            "phone_number_id": self.phone_number_id,
        }
        return {"path": self.path, **{k: v for k, v in fields.items() if v is not None}}


# --- hooks ----------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fakemeta(**options): per-test fakemeta options (app_secret, phone_number_id, "
        "verify_token, url, path, probe, probe_token, profile, era, rate_limit, seed, "
        "examples, shrink_budget, insecure); "
        "the closest marker wins",
    )
    config.addinivalue_line("markers", "fakemeta_must: a contract check of a MUST requirement")
    config.addinivalue_line("markers", "fakemeta_should: a contract check of a SHOULD requirement")
    check_options(config)


def pytest_collectstart(collector: pytest.Collector) -> None:
    if contract_enabled(collector.config):
        remember_directory(collector.config, collector)


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if contract_enabled(config):
        items.extend(collect_contract_items(session))


def pytest_report_header(config: pytest.Config) -> str | None:
    if not contract_enabled(config):
        return None
    return (
        f"fakemeta: contract suite of {len(registered_checks())} checks, "
        "tests named fakemeta::<ID>::<check> (select with -k)"
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    close_contract_session(session.config)
    if _skipped_musts(session.config) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines = summary_lines(config)
    if note := _skipped_musts(config):
        lines.append(f"note: {note}")
    if lines:
        terminalreporter.section("fakemeta contract requirements")
        for line in lines:
            terminalreporter.write_line(line)


def _skipped_musts(config: pytest.Config) -> str | None:
    """The note `--fakemeta-fail-on-skipped-must` fails the run with, or None."""
    if not fail_on_skipped_must(config):
        return None
    report = session_report(config)
    return None if report is None else report.skipped_musts("--fakemeta-fail-on-skipped-must")


# --- fixtures -------------------------------------------------------------------


@pytest.fixture
def fakemeta_target() -> ContractTarget:
    """Where the contract suite sends: override it to return a `ContractTarget`.

    The default has no app, so the suite needs `--fakemeta-url`.
    """
    return ContractTarget()


def _usage_error(request: pytest.FixtureRequest, message: str) -> NoReturn:
    if CONTRACT_ITEM in request.node.stash:
        # The whole suite cannot run: one line, not the same error per check.
        pytest.exit(f"fakemeta: {message}", returncode=pytest.ExitCode.USAGE_ERROR)
    pytest.fail(f"fakemeta: {message}", pytrace=False)


def _resolved(request: pytest.FixtureRequest, target: object) -> Resolved:
    if isinstance(target, str):
        target = ContractTarget(url=target)
    if not isinstance(target, ContractTarget):
        _usage_error(
            request,
            f"the fakemeta_target fixture returned {target!r}; "
            "return fakemeta.contract_tests.plugin.ContractTarget(app=..., path=...) or a URL",
        )
    try:
        return resolve(request.config, target.options(), request.node)
    except ContractUsageError as error:
        _usage_error(request, str(error))


def _probe(resolved: Resolved) -> tuple[Probe | None, str | None]:
    probe = resolved.probe
    if probe is None or (hasattr(probe, "clients") and hasattr(probe, "messages")):
        return probe, None
    if isinstance(probe, str):
        return HttpProbe(probe, resolved.probe_token, verify_tls=not resolved.insecure), probe
    if isinstance(probe, tuple | list) and len(probe) in (2, 3) and all(map(callable, probe)):
        return CallableProbe(*probe), None
    raise ContractUsageError(
        f"probe {probe!r}: expected an object with clients(), clients_by_user_id() and "
        "messages(), a (clients_for, messages_for[, clients_by_user_id_for]) tuple of "
        "callables, or the probe API's URL"
    )


@pytest.fixture
def fakemeta_config(
    request: pytest.FixtureRequest, fakemeta_target: object
) -> Iterator[SuiteConfig]:
    """The contract suite's `SuiteConfig` for this test, from every option layer."""
    resolved = _resolved(request, fakemeta_target)
    if resolved.target is None:
        _usage_error(
            request,
            "no receiver: override the fakemeta_target fixture in a conftest.py "
            "(return ContractTarget(app=..., path=...)) or pass --fakemeta-url",
        )
    if not resolved.app_secret:
        _usage_error(
            request,
            "no app secret: pass --fakemeta-app-secret, set META_CLIENT_SECRET, or return "
            "ContractTarget(app_secret=...) from fakemeta_target",
        )
    if not resolved.verify_token:
        _usage_error(
            request,
            "no verify token: pass --fakemeta-verify-token, set META_WEBHOOK_VERIFY_TOKEN, "
            "or return ContractTarget(verify_token=...) from fakemeta_target",
        )
    try:
        probe, probe_url = _probe(resolved)
        config = SuiteConfig(
            target=resolved.target,
            verify_token=resolved.verify_token,
            app_secret=resolved.app_secret,
            phone_number_id=resolved.phone_number_id,
            path=resolved.path,
            probe=probe,
            probe_url=probe_url,
            profile=resolved.profile,  # type: ignore[arg-type]  # checked by _convert
            rate_limit=resolved.rate_limit,
            seed=resolved.seed,
            examples=resolved.examples,
            access_token=resolved.access_token,
            shrink_budget=resolved.shrink_budget,
            era=resolved.era,
            verify_tls=not resolved.insecure,
        )
    except ContractUsageError as error:
        _usage_error(request, str(error))
    yield config
    if isinstance(probe, HttpProbe) and probe_url is not None:
        probe.close()


@pytest.fixture
def fakemeta_graph(request: pytest.FixtureRequest, fakemeta_target: object) -> Iterator[Any]:
    """The fake Graph API for this test: the app's httpx calls to
    graph.facebook.com are answered (and refused) as Meta would, and the
    status webhooks they cause are delivered to the `fakemeta_target` app,
    in-process and signed, after the verification handshake.

    `fakemeta_graph.customer_says("hi")`, `.deliver()`, `.last_message()`,
    `.sent_messages(to=...)`, `.deliveries`; see `fakemeta.simulator.graph.inprocess`.
    The app must use the token of --fakemeta-access-token, $WHATSAPP_ACCESS_TOKEN
    or `@pytest.mark.fakemeta(access_token=...)`.
    """
    from fakemeta.simulator.graph.inprocess import InProcessGraph

    resolved = _resolved(request, fakemeta_target)
    if resolved.target is None:
        _usage_error(request, "fakemeta_graph needs the app: override fakemeta_target")
    if not resolved.app_secret or not resolved.verify_token:
        _usage_error(
            request,
            "fakemeta_graph needs the app secret and the verify token: return them in "
            "ContractTarget(...) from fakemeta_target, or pass --fakemeta-app-secret and "
            "--fakemeta-verify-token",
        )
    target = resolved.target
    graph = InProcessGraph(
        None if isinstance(target, str) else target,
        url=target if isinstance(target, str) else None,
        path=resolved.path,
        app_secret=resolved.app_secret,
        verify_token=resolved.verify_token,
        access_token=resolved.access_token,
        phone_number_id=resolved.phone_number_id,
        era=resolved.era,
        verify_tls=not resolved.insecure,
    )
    try:
        graph.start()
    except SimulatorError as error:
        _usage_error(request, error.one_line())
    try:
        yield graph
    finally:
        graph.stop()


@pytest.fixture
def fakemeta_deliveries(
    request: pytest.FixtureRequest, fakemeta_target: object
) -> Iterator[Deliveries]:
    """Deliveries signed with this test's app secret, for its phone number id,
    in the webhook shapes of its era (`--fakemeta-era`).

    `fakemeta_deliveries.text("hi")`, `.build("image")`, `.of(payload)` return
    a `fakemeta.simulator.delivery.Delivery`; its negatives are `.unsigned()`,
    `.tampered()`, `.signed_with(other)`, ...; `.post(delivery)` sends one to
    the `fakemeta_target` app.
    """
    resolved = _resolved(request, fakemeta_target)
    if not resolved.app_secret:
        _usage_error(
            request,
            "fakemeta_deliveries needs the app secret: pass --fakemeta-app-secret, set "
            "META_CLIENT_SECRET, return ContractTarget(app_secret=...) from fakemeta_target, "
            "or mark the test @pytest.mark.fakemeta(app_secret=...)",
        )
    rng = random.Random()
    account = Account(
        ids.waba_id(rng),
        resolved.phone_number_id or ids.phone_number_id(rng),
        SuiteConfig.display_phone_number,
    )
    deliveries = Deliveries(
        resolved.app_secret,
        account,
        target=resolved.target,
        path=resolved.path,
        rng=rng,
        era=resolved.era,
        verify_tls=not resolved.insecure,
    )
    yield deliveries
    deliveries.close()


@pytest.fixture
def fakemeta_strategies() -> ModuleType:
    """`fakemeta.simulator.strategies`: Hypothesis strategies for everything Meta sends.

    For `@given` import it instead: `from fakemeta.simulator import strategies as wa`.
    """
    from fakemeta.simulator import strategies

    return strategies
