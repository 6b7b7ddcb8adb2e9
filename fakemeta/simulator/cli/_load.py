"""`fakemeta load [URL]`: Meta's webhook traffic at load-test rates.

Wires `fakemeta.simulator.load` together: options -> a `BodySpec` and `WorkerPlan`s
-> `runner.run()` (worker processes) -> `report.Summary` -> table, JSON,
thresholds, and with `--probe` the count of what the receiver stored.
Without URL it loads the built-in reference receiver, started with its rate
limit off (a load run is one client sending far more than 100 a minute).
With `--locust` the same traffic is sent by Locust, a headless master and
local workers running the ready locustfile (`locust_run.run()` in place of
`runner.run()`); the report, thresholds and probe are the same.

Exit status: 0, 1 when a `--fail-if` threshold held, the probe found a gap,
no delivery was acknowledged or the receiver stopped answering mid-run, 2
for bad options or a receiver unreachable from the start, 130 on Ctrl-C
(after a partial report).
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from fakemeta.simulator import ids
from fakemeta.simulator.cli._common import era_option, receiver_at
from fakemeta.simulator.envelopes import Account
from fakemeta.simulator.eras import Era
from fakemeta.simulator.errors import BadInput
from fakemeta.simulator.load import locust_run, runner
from fakemeta.simulator.load.bodies import BodySpec
from fakemeta.simulator.load.engine import WorkerPlan
from fakemeta.simulator.load.mix import DEFAULT_MIX, parse_mix
from fakemeta.simulator.load.probe import ProbeUnusable, count_stored, settled_count
from fakemeta.simulator.load.report import (
    Summary,
    Threshold,
    parse_seconds,
    parse_threshold,
    progress_line,
    table,
)
from fakemeta.simulator.load.runner import Progress, RunResult

__all__ = ["load_command"]

_DEFAULT_DURATION = 10.0
_TTY_EVERY = 0.5
_PIPED_EVERY = 5.0


class _Shown:
    """The live progress line: redrawn in place on a terminal, a plain line
    every few seconds when standard error is piped."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last = (0.0, 0)
        self.printed = 0.0
        self.dirty = False

    def __call__(self, progress: Progress) -> None:
        elapsed, requests = progress.elapsed, progress.counters.requests
        span = elapsed - self.last[0]
        rate = (requests - self.last[1]) / span if span > 0 else 0.0
        self.last = (elapsed, requests)
        line = progress_line(progress, rate)
        if self.tty:
            self.stream.write(f"\r{line}\x1b[K")
            self.dirty = True
        elif elapsed - self.printed >= _PIPED_EVERY:
            self.stream.write(line + "\n")
            self.printed = elapsed
        self.stream.flush()

    def end(self) -> None:
        if self.dirty:
            self.stream.write("\n")
            self.stream.flush()
            self.dirty = False


def _rate(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text.strip().lower().removesuffix("/s"))
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise BadInput(f"--rate {text!r}: give deliveries per second (e.g. 500) or max")
    return value


def _fraction(value: float, option: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise BadInput(f"{option} {value:g}: a fraction of deliveries, from 0 to 1 (0.05 is 5%)")
    return value


@click.command("load")
@click.argument("url", required=False)
@click.option("--rate", default="max", show_default=True, help="Deliveries per second, or max.")
@click.option("--duration", help="How long to send: 30, 30s, 2m.  [default: 10s]")
@click.option("--requests", type=click.IntRange(1), help="How many deliveries to send.")
@click.option("--connections", type=click.IntRange(1, 10_000), default=32, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes [default: 1 for the built-in receiver or a set rate, else up to 4].",
)
@click.option(
    "--mix",
    default=DEFAULT_MIX,
    show_default=True,
    help="Kinds and weights (text, image, video, audio, document, sticker, location, contacts,"
    " reaction, interactive, button, sent, delivered, read, failed, status), or a file of them.",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="Updates per POST (Meta batches up to 1,000).",
)
@click.option(
    "--duplicates",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of deliveries Meta sends twice at once (0.01: 1%).",
)
@click.option(
    "--retries",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of acknowledged deliveries retried anyway (Meta missed the 200). Failed"
    " attempts are always retried, on Meta's schedule 1000x faster, 6 attempts in all.",
)
@era_option
@click.option("--seed", type=int, help="Makes the traffic reproducible (ids, mix, habits).")
@click.option("--timeout", default="5s", show_default=True, help="Per request.")
@click.option("--app-secret", envvar="META_CLIENT_SECRET", help="[env: META_CLIENT_SECRET]")
@click.option(
    "--phone-number-id",
    envvar="FAKEMETA_PHONE_NUMBER_ID",
    help="The business number the receiver stores for [env: FAKEMETA_PHONE_NUMBER_ID].",
)
@click.option(
    "--probe",
    is_flag=False,
    flag_value="builtin",
    metavar="[URL]",
    help="After the run, count what the receiver stored against what it acknowledged"
    " (without URL: the built-in receiver's store, read in this process).",
)
@click.option("--probe-token", envvar="FAKEMETA_PROBE_TOKEN", help="[env: FAKEMETA_PROBE_TOKEN]")
@click.option(
    "--probe-settle",
    default="10s",
    show_default=True,
    metavar="DURATION",
    help="With --probe: ids not found yet are asked again while the receiver keeps"
    " storing; they count as missing after this long without one more found.",
)
@click.option("--report-json", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--fail-if",
    "fail_if",
    multiple=True,
    metavar="EXPR",
    help="Exit 1 when this holds: p99>500ms, p50>20ms, max>2s, errors>0.1%, rate<1000. Repeatable.",
)
@click.option("--insecure", is_flag=True, help="Do not verify the receiver's TLS certificate.")
@click.option(
    "--locust",
    "use_locust",
    is_flag=True,
    help="Send with Locust: a headless master and --locust-workers local worker processes"
    " (pip install 'fakemeta[load]'). Not with --requests, --workers, --duplicates,"
    " --retries or --seed.",
)
@click.option(
    "--locust-workers",
    type=click.IntRange(1, 256),
    help="Locust worker processes [default: the CPU count, at most one a connection].",
)
def load_command(
    url: str | None,
    rate: str,
    duration: str | None,
    requests: int | None,
    connections: int,
    workers: int | None,
    mix: str,
    batch: int,
    duplicates: float,
    retries: float,
    era: Era,
    seed: int | None,
    timeout: str,
    app_secret: str | None,
    phone_number_id: str | None,
    probe: str | None,
    probe_token: str | None,
    probe_settle: str,
    report_json: Path | None,
    fail_if: tuple[str, ...],
    insecure: bool,
    use_locust: bool,
    locust_workers: int | None,
) -> None:
    """Load URL with signed, Meta-encoded webhook deliveries, each body unique.

    Without URL the built-in reference receiver is started (rate limit off)
    and loaded. Prints a live progress line, then a table; --report-json
    writes the numbers (latency percentiles from an HdrHistogram). With a
    --rate, latency counts from when each delivery was due.

    Exit status: 0; 1 when a --fail-if held, --probe found a message
    acknowledged but not stored (or stored twice), nothing was acknowledged,
    or the receiver stopped answering; 2 for bad options or an unreachable
    receiver; 130 on Ctrl-C, after a partial report.

    With --locust, Locust sends: --connections users (one connection each),
    each paced at --rate/--connections a second when a rate is set, for a
    --duration of whole seconds; --locust-workers worker processes.
    """
    if use_locust:
        _refuse_for_locust(requests, workers, duplicates, retries, seed)
    elif locust_workers is not None:
        raise BadInput("--locust-workers needs --locust")
    mix_spec = parse_mix(mix)
    per_second = _rate(rate)
    seconds = parse_seconds(duration, "--duration") if duration is not None else None
    if seconds is None and requests is None:
        seconds = _DEFAULT_DURATION
    if seconds is not None and seconds <= 0:
        raise BadInput(f"--duration {duration}: must be more than 0")
    wait = parse_seconds(timeout, "--timeout")
    settle = parse_seconds(probe_settle, "--probe-settle")
    if wait <= 0:
        raise BadInput(f"--timeout {timeout}: must be more than 0")
    thresholds: list[Threshold] = [parse_threshold(text) for text in fail_if]
    _fraction(duplicates, "--duplicates")
    _fraction(retries, "--retries")
    if probe not in (None, "builtin") and "://" not in probe:
        raise BadInput(f"--probe {probe!r}: give the probe's base URL, or --probe alone")
    if probe == "builtin" and url is not None:
        raise BadInput("--probe needs the probe's URL when loading a URL: --probe URL")
    if probe is not None and url is not None and not phone_number_id:
        raise BadInput(
            "--probe needs --phone-number-id: the phone number id the receiver stores "
            "messages for (it ignores deliveries to numbers it does not know)"
        )
    if use_locust:
        assert seconds is not None  # --requests is refused
        if abs(seconds - round(seconds)) > 1e-6 or round(seconds) < 1:
            raise BadInput(
                f"--duration {duration}: Locust runs for whole seconds; give {math.ceil(seconds)}s"
            )
        workers = min(locust_workers or os.cpu_count() or 2, connections)
    run_seed = seed if seed is not None else random.SystemRandom().getrandbits(63)
    if workers is None:
        busy = url is not None and (per_second is None or per_second > 5000)
        workers = min(4, os.cpu_count() or 1) if busy else 1
    workers = max(1, min(workers, connections, requests or workers))

    if url is not None and not app_secret:
        raise BadInput("no app secret: pass --app-secret or set META_CLIENT_SECRET")
    # The built-in receiver's store is read in bulk in this process by --probe
    # (`Receiver.stored`): over HTTP, one id a request, the probe would share
    # this process's interpreter with the receiver.
    with receiver_at(
        url,
        app_secret=app_secret,
        verify_token=None,
        phone_number_id=phone_number_id,
        rate_limit="off",
    ) as receiver:
        target, number_id, stored = receiver.url, receiver.phone_number_id, receiver.stored
        secret = receiver.app_secret
        assert secret is not None  # refused above for a URL; generated for the built-in one
        config: dict[str, Any] = {
            "rate": "max" if per_second is None else per_second,
            "duration_s": seconds,
            "requests": requests,
            "connections": connections,
            "workers": workers,
            "mix": mix_spec.describe(),
            "batch": batch,
            "duplicates": duplicates,
            "retries": retries,
            "era": era.name,
            "seed": run_seed,
            "timeout_s": wait,
        }
        shown = _Shown(sys.stderr)
        try:
            if use_locust:
                locust_plan = locust_run.LocustPlan(
                    url=target,
                    app_secret=secret,
                    mix=mix_spec.describe(),
                    batch=batch,
                    era=era.name,
                    phone_number_id=number_id,
                    users=connections,
                    workers=workers,
                    duration=round(seconds or 0),
                    rate=per_second,
                    timeout=wait,
                    insecure=insecure,
                    record_ids=probe is not None,
                )
                result = _run_locust(locust_plan, config, shown)
            else:
                rng = random.Random(f"{run_seed}/account")
                account = Account(
                    ids.waba_id(rng), number_id or ids.phone_number_id(rng), ids.wa_id(rng)
                )
                body = BodySpec(mix_spec, era, account, secret, batch=batch, seed=run_seed)
                plan = WorkerPlan(
                    url=target,
                    body=body,
                    connections=connections,
                    rate=per_second,
                    duration=seconds,
                    requests=requests,
                    timeout=wait,
                    duplicates=duplicates,
                    retries=retries,
                    record_ids=probe is not None,
                    insecure=insecure,
                    seed=run_seed,
                )
                result = runner.run(runner.plans_for(plan, workers), shown)
        finally:
            shown.end()
        summary = Summary.of(result, target, config)
        if result.message and result.reason != "interrupted":
            click.echo(f"fakemeta: {result.message}", err=True)
        unusable: ProbeUnusable | None = None
        if probe is not None and result.reason == "completed":
            try:
                if probe == "builtin" and stored is not None:
                    summary.probe = settled_count(stored, result.acked_ids, settle=settle)
                else:
                    summary.probe = count_stored(
                        probe, probe_token, result.acked_ids, timeout=wait, settle=settle
                    )
            except KeyboardInterrupt:
                summary.reason = result.reason = "interrupted"
            except ProbeUnusable as exc:
                unusable = exc  # after the report: the run itself is worth seeing
    checked = [(t, *t.check(summary)) for t in thresholds]
    status = 2 if unusable is not None else _exit_status(summary, checked)
    click.echo(
        _locust_setup(table(summary, checked), config) if use_locust else table(summary, checked)
    )
    if report_json is not None:
        report_json.write_text(json.dumps(summary.to_json(checked, status), indent=2) + "\n")
    if unusable is not None:
        click.echo(f"fakemeta: {unusable.one_line()}", err=True)
    elif summary.reason == "interrupted":
        click.echo(f"fakemeta: interrupted after {summary.elapsed:.1f} s", err=True)
    elif summary.deliveries and not summary.acknowledged and summary.reason == "completed":
        codes = ", ".join(f"HTTP {code}" for code in summary.statuses) or "no answer"
        click.echo(f"fakemeta: no delivery was acknowledged ({codes}){_hint(summary)}", err=True)
    if status:
        raise click.exceptions.Exit(status)


def _refuse_for_locust(
    requests: int | None,
    workers: int | None,
    duplicates: float,
    retries: float,
    seed: int | None,
) -> None:
    """One line for an option the Locust run cannot honour."""
    if not locust_run.available():
        raise BadInput("--locust needs Locust: pip install 'fakemeta[load]'")
    if requests is not None:
        raise BadInput("--requests does not work with --locust: Locust runs for a --duration")
    if workers is not None:
        raise BadInput("--workers is the built-in engine's; with --locust give --locust-workers")
    for option, share in (("--duplicates", duplicates), ("--retries", retries)):
        if share:
            raise BadInput(f"{option} does not work with --locust: Locust posts each body once")
    if seed is not None:
        raise BadInput(
            "--seed does not work with --locust: each Locust process draws its own random bodies"
        )


def _run_locust(plan: locust_run.LocustPlan, config: dict[str, Any], shown: _Shown) -> RunResult:
    version = locust_run.version()
    config.update(
        engine="locust",
        requests=None,
        seed=None,
        locust={"version": version, "users": plan.users, "user_rate": plan.user_rate},
    )
    return locust_run.run(plan, shown)


def _locust_setup(text: str, config: dict[str, Any]) -> str:
    """The table with its setup line telling what Locust ran."""
    locust = config["locust"]
    rate = config["rate"]
    if locust["user_rate"] is not None:
        rate = f"{rate:g} ({locust['user_rate']:.3g} a user)"
    lines = text.split("\n")
    lines[1] = (
        f"  setup         Locust {locust['version']}: {config['workers']} worker process(es),"
        f" {locust['users']} users, rate {rate}, mix {config['mix']}, batch {config['batch']},"
        f" era {config['era']}"
    )
    return "\n".join(lines)


def _hint(summary: Summary) -> str:
    """What to check when nothing was acknowledged, from the answers."""
    codes = set(summary.statuses)
    if codes & {"401", "403"}:
        return "; check --app-secret"
    if codes & {"404", "405"}:
        return "; check the URL's path"
    if codes & {"429"}:
        return "; the receiver rate-limits: lower --rate"
    return ""


def _exit_status(summary: Summary, checked: list[tuple[Threshold, float, bool]]) -> int:
    if summary.reason == "interrupted":
        return 130
    if summary.reason != "completed" or any(failed for _, _, failed in checked):
        return 1
    if summary.probe is not None and summary.probe.gap:
        return 1
    return 1 if summary.deliveries and not summary.acknowledged else 0
