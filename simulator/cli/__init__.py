"""The `fakemeta` command line: the one place that wires the simulator, the
contract suite and the reference receiver together.

Every command reports a problem the user can fix as one line on standard
error and exits 2 (usage, configuration, an unreachable receiver); it never
shows a traceback for those.
"""

from __future__ import annotations

import sys
from importlib import metadata

import click

from contract_tests.cli import check_command
from simulator.cli._fixtures import fixtures_group
from simulator.cli._load import load_command
from simulator.cli._send import send_command
from simulator.cli._serve import serve_command
from simulator.cli._sign import sign_command
from simulator.cli._verify import verify_command
from simulator.errors import SimulatorError

__all__ = ["cli", "main"]

#: Exit status for a usage or configuration error or an unreachable receiver.
EXIT_USAGE = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(metadata.version("fakemeta"), prog_name="fakemeta")
def cli() -> None:
    """A fake Meta for WhatsApp Cloud API webhooks."""


cli.add_command(send_command)
cli.add_command(verify_command)
cli.add_command(sign_command)
cli.add_command(fixtures_group)
cli.add_command(check_command)
cli.add_command(serve_command)
cli.add_command(load_command)


def _mount_optional_commands() -> None:
    """Commands from the other packages, mounted when they are installed."""
    try:
        from reference_receiver.cli import receiver
    except ImportError:  # pragma: no cover - present in every distribution
        return
    cli.add_command(receiver)


_mount_optional_commands()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        status = cli.main(args=argv, prog_name="fakemeta", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("fakemeta: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SimulatorError as exc:
        click.echo(f"fakemeta: {exc.one_line()}", err=True)
        sys.exit(EXIT_USAGE)
    except OSError as exc:
        click.echo(f"fakemeta: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("fakemeta: interrupted", err=True)
        sys.exit(130)
    # A command that ends with ctx.exit(n), --help or --version returns n here.
    sys.exit(status if isinstance(status, int) else 0)
