"""`fakemeta check [URL]`: the contract suite from the command line.

Options, environment defaults, exit status and the JSON report are the
public contract of DESIGN.md ("Public contracts"): keep their names. This
module resolves the options into a `SuiteConfig`, starts the built-in
reference receiver when no URL is given (the command line is the one place
that wires the packages together), runs the suite with live progress, and
writes the reports. Usage errors are raised as `ContractUsageError` (an
unreachable receiver as a `TransportError`); `fakemeta.simulator.cli.main` prints
either as one line and exits 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import click

from fakemeta.contract_tests.config import (
    DEFAULT_RATE_LIMIT,
    PROFILES,
    Profile,
    RateLimit,
    SuiteConfig,
)
from fakemeta.contract_tests.errors import ContractUsageError
from fakemeta.contract_tests.probes import HttpProbe
from fakemeta.contract_tests.report import Report
from fakemeta.contract_tests.reporting import (
    TerminalReporter,
    check_writable,
    redact,
    render_html,
    render_junit,
    write_atomic,
)
from fakemeta.contract_tests.runner import check_selection, reproduce_command, run
from fakemeta.contract_tests.shrinking import DEFAULT_SHRINK_BUDGET
from fakemeta.simulator import eras
from fakemeta.simulator._extras import needs_builtin_receiver
from fakemeta.simulator.eras import Era
from fakemeta.simulator.errors import TlsError, UnknownEra
from fakemeta.simulator.targets import target_for

__all__ = ["check_command"]

#: Exit status when a requirement failed (0: all passed; 2: usage, via main()).
EXIT_FAILED = 1


@dataclasses.dataclass(frozen=True)
class _Receiver:
    url: str
    verify_token: str | None
    app_secret: str | None
    phone_number_id: str | None
    probe_url: str | None
    probe_token: str | None
    access_token: str | None
    builtin: bool


@contextlib.contextmanager
def _receiver(given: _Receiver, rate_limit: RateLimit | None) -> Iterator[_Receiver]:
    """The receiver the options describe, or without a URL the reference
    receiver, started for this run with the options' secrets or generated ones."""
    if not given.builtin:
        yield given
        return
    with needs_builtin_receiver():
        from fakemeta.reference_receiver.serve import start_background

    config = {
        "rate_limit": str(rate_limit) if rate_limit else "off",
        "verify_token": given.verify_token,
        "app_secret": given.app_secret,
        "phone_number_id": given.phone_number_id,
        "access_token": given.access_token,
    }
    with start_background(config) as running:
        click.echo(f"started the reference receiver at {running.url}", err=True)
        yield _Receiver(
            running.url,
            running.verify_token,
            running.app_secret,
            running.phone_number_id,
            running.probe_url,
            running.probe_token,
            running.access_token,
            builtin=True,
        )


#: Each secret option a reproduce command needs, with the variable it
#: reads: the command names the variable, never the value (reports are
#: shared), so that it runs when pasted where the variable is set.
_SECRET_OPTIONS = {
    "verify_token": ("--verify-token", "META_WEBHOOK_VERIFY_TOKEN"),
    "app_secret": ("--app-secret", "META_CLIENT_SECRET"),
    "probe_token": ("--probe-token", "FAKEMETA_PROBE_TOKEN"),
    "access_token": ("--access-token", "WHATSAPP_ACCESS_TOKEN"),
}


def _with_secret_placeholders(command: str, given: _Receiver) -> str:
    """`command` and `--app-secret "$META_CLIENT_SECRET"` for each secret the
    run used (those a built-in receiver generated die with it, so they are
    left out)."""
    placeholders = [
        f'{option} "${variable}"'
        for field, (option, variable) in _SECRET_OPTIONS.items()
        if getattr(given, field)
    ]
    return " ".join([command, *placeholders])


def _properties(report: Report, config: SuiteConfig) -> dict[str, str]:
    """What JUnit's <properties> and the HTML page's header show about the run."""
    properties = {
        "target": config.url,
        "profile": config.profile,
        "era": config.era.name,
        "seed": str(config.seed),
        "rate_limit": str(config.rate_limit) if config.rate_limit else "off",
        "examples": str(config.examples),
        "shrink_budget": str(config.shrink_budget),
        "select": " ".join(config.select),
        "fakemeta_version": report.version,
    }
    return {name: value for name, value in properties.items() if value}


_FILE = click.Path(dir_okay=False, path_type=Path)


class _EraChoice(click.Choice):  # type: ignore[type-arg]
    """`--era`: one of `eras.ERA_NAMES`, converted to its `Era`; a wrong name
    is one line (`UnknownEra`, exit 2 through `main()`), like every usage error."""

    def __init__(self) -> None:
        super().__init__(eras.ERA_NAMES)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Era:
        if isinstance(value, Era):
            return value
        try:
            return eras.era(value)
        except UnknownEra:
            raise UnknownEra(
                f"--era {value!r}: use one of {', '.join(eras.ERA_NAMES)} "
                f"(the current shapes are {eras.CURRENT.name})"
            ) from None


def _shrink_budget(text: str) -> int:
    """`--shrink-budget`, read here so a bad value is one line, like every usage error."""
    try:
        budget = int(text.strip())
    except ValueError:
        budget = -1
    if not 0 <= budget <= 10_000:
        raise ContractUsageError(
            f"--shrink-budget {text!r}: expected a number of deliveries, 0 (no shrinking) to 10000"
        )
    return budget


@click.command("check")
@click.argument("url", required=False)
@click.option(
    "--verify-token",
    envvar="META_WEBHOOK_VERIFY_TOKEN",
    help="The token the receiver expects in the handshake [env: META_WEBHOOK_VERIFY_TOKEN].",
)
@click.option(
    "--app-secret",
    envvar="META_CLIENT_SECRET",
    help="The app secret deliveries are signed with [env: META_CLIENT_SECRET].",
)
@click.option(
    "--phone-number-id",
    envvar="FAKEMETA_PHONE_NUMBER_ID",
    help="The phone number id of a connected account in the receiver "
    "[env: FAKEMETA_PHONE_NUMBER_ID].",
)
@click.option(
    "--probe",
    "probe_url",
    metavar="URL",
    envvar="FAKEMETA_PROBE_URL",
    help="Base URL of the receiver's probe API [env: FAKEMETA_PROBE_URL].",
)
@click.option(
    "--probe-token",
    envvar="FAKEMETA_PROBE_TOKEN",
    help="Bearer token for the probe API [env: FAKEMETA_PROBE_TOKEN].",
)
@click.option(
    "--access-token",
    envvar="WHATSAPP_ACCESS_TOKEN",
    help="The receiver's Graph API access token, if known: SIG-3 checks that a delivery signed "
    "with it is refused [env: WHATSAPP_ACCESS_TOKEN].",
)
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default="strict",
    show_default=True,
    help="meta: only MUST requirements, any 4xx is a refusal; strict: every requirement, "
    "with the status codes of the CRM webhook spec the requirements come from (403 for a "
    "refused handshake, 401 for a refused signature, 429 over the rate limit).",
)
@click.option(
    "--era",
    type=_EraChoice(),
    default=eras.CURRENT.name,
    show_default=True,
    envvar="FAKEMETA_ERA",
    help="Whose webhook shapes to send: 2026 has business-scoped user ids, 2025 phone numbers "
    "only [env: FAKEMETA_ERA].",
)
@click.option(
    "--rate-limit",
    "rate_limit_text",
    metavar="N/SECONDS|off",
    default=str(DEFAULT_RATE_LIMIT),
    show_default=True,
    help="The limit the receiver should enforce per client IP.",
)
@click.option(
    "--seed",
    type=int,
    metavar="INT",
    help="Makes generated traffic reproducible (default: random, printed and in the report).",
)
@click.option(
    "--examples",
    type=click.IntRange(1, 10_000),
    metavar="N",
    default=10,
    show_default=True,
    help="Generated examples per property check.",
)
@click.option(
    "--shrink-budget",
    "shrink_budget_text",
    metavar="N",
    default=str(DEFAULT_SHRINK_BUDGET),
    show_default=True,
    help="Deliveries a failing property check may send to shrink its example to the "
    "smallest that still fails (also capped at 10 s per check); 0: no shrinking.",
)
@click.option(
    "--replay",
    metavar="TOKEN",
    help="Send exactly the generated example a reproduce command names (with -k ID::check).",
)
@click.option(
    "-k",
    "select",
    multiple=True,
    metavar="ID",
    help="Run only these requirements or checks (IDs, check names, or parts such as SIG); "
    "repeatable.",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Do not verify the receiver's TLS certificate (a local test certificate); "
    "Meta verifies it.",
)
@click.option(
    "--fail-on-skipped-must",
    is_flag=True,
    help="Exit 1, as for a failure, when a MUST requirement was skipped (no --probe, no "
    "--phone-number-id): for CI that must prove every MUST.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    default=10.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)
@click.option("--report-json", type=_FILE, metavar="FILE", help="Write the JSON report.")
@click.option("--junitxml", type=_FILE, metavar="FILE", help="Write JUnit XML, one test per check.")
@click.option("--report-html", type=_FILE, metavar="FILE", help="Write a self-contained HTML page.")
def check_command(
    url: str | None,
    verify_token: str | None,
    app_secret: str | None,
    phone_number_id: str | None,
    probe_url: str | None,
    probe_token: str | None,
    access_token: str | None,
    profile: str,
    era: Era,
    rate_limit_text: str,
    seed: int | None,
    examples: int,
    shrink_budget_text: str,
    replay: str | None,
    select: tuple[str, ...],
    insecure: bool,
    fail_on_skipped_must: bool,
    timeout: float,
    report_json: Path | None,
    junitxml: Path | None,
    report_html: Path | None,
) -> None:
    """Check the webhook receiver at URL against the contract.

    Sends Meta's handshakes and signed deliveries, judges the answers (and,
    with --probe, what the receiver stored) and reports one outcome per
    requirement ID. Without URL, the built-in reference receiver is started
    on loopback and checked.

    Exit status: 0 every applicable requirement passed, 1 one failed (or,
    with --fail-on-skipped-must, a MUST requirement was skipped), 2 for a
    usage or configuration error or an unreachable receiver.
    """
    # Everything that can be wrong with the options fails here, before any traffic.
    rate_limit = RateLimit.parse(rate_limit_text)
    shrink_budget = _shrink_budget(shrink_budget_text)
    check_selection(select, replay=replay)  # before anything starts or is printed
    reports = {"--report-json": report_json, "--junitxml": junitxml, "--report-html": report_html}
    for option, path in reports.items():
        if path is not None:
            check_writable(path, option)
    if seed is None:
        seed = secrets.randbelow(2**32)

    given = _Receiver(
        url or "",
        verify_token,
        app_secret,
        phone_number_id,
        probe_url,
        probe_token,
        access_token,
        builtin=url is None,
    )
    with _receiver(given, rate_limit) as receiver:
        probe = (
            HttpProbe(
                receiver.probe_url,
                receiver.probe_token,
                timeout=timeout,
                verify_tls=not insecure,
            )
            if receiver.probe_url
            else None
        )
        target = None
        try:
            config = SuiteConfig(
                receiver.url,
                receiver.verify_token or "",
                receiver.app_secret or "",
                receiver.phone_number_id,
                probe=probe,
                probe_url=receiver.probe_url,
                profile=cast(Profile, profile),  # click.Choice(PROFILES) checked it
                rate_limit=rate_limit,
                seed=seed,
                examples=examples,
                select=select,
                timeout=timeout,
                shrink_budget=shrink_budget,
                replay=replay,
                access_token=receiver.access_token,
                era=era,
                verify_tls=not insecure,
            )
            target = target_for(receiver.url, timeout=timeout, verify_tls=config.verify_tls)
            terminal = TerminalReporter()
            terminal.start(config)
            try:
                report = run(config, on_result=terminal.result, target=target)
            except TlsError as error:
                if insecure:
                    raise
                raise TlsError(
                    f"{error} (--insecure turns verification off)", url=error.url
                ) from None
        finally:
            if target is not None:
                target.close()
            if probe is not None:
                probe.close()

    if receiver.builtin:
        report.results[:] = [
            dataclasses.replace(
                result,
                reproduce=reproduce_command(
                    dataclasses.replace(config, phone_number_id=phone_number_id),
                    result.requirement.id,
                    builtin=True,
                    check=result.check,
                    replay=result.replay,
                ),
            )
            if result.reproduce
            else result
            for result in report.results
        ]
        report.notes.append("checked the built-in reference receiver, started for this run")
    redact(
        report,
        {
            "verify-token": receiver.verify_token,
            "app-secret": receiver.app_secret,
            "probe-token": receiver.probe_token,
            "access-token": receiver.access_token,
        },
    )
    report.results[:] = [
        dataclasses.replace(result, reproduce=_with_secret_placeholders(result.reproduce, given))
        if result.reproduce
        else result
        for result in report.results
    ]
    skipped_musts = report.skipped_musts("--fail-on-skipped-must") if fail_on_skipped_must else None
    if skipped_musts is not None:
        report.notes.append(skipped_musts)
    terminal.finish(report)

    properties = _properties(report, config)
    if report_json is not None:
        write_atomic(report_json, (report.dumps() + "\n").encode("utf-8"))
    if junitxml is not None:
        write_atomic(junitxml, render_junit(report, properties))
    if report_html is not None:
        write_atomic(report_html, render_html(report, properties).encode("utf-8"))
    for path in (report_json, junitxml, report_html):
        if path is not None:
            click.echo(f"wrote {path}")
    if not report.ok or skipped_musts is not None:
        raise click.exceptions.Exit(EXIT_FAILED)
