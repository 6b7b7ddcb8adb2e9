"""The `fakemeta` command line: the one place that wires the simulator, the
contract suite and the reference receiver together.

Every command reports a problem the user can fix as one line on standard
error and exits 2 (usage, configuration, an unreachable receiver); it never
shows a traceback for those.
"""

from __future__ import annotations

import sys

import click

from simulator.cli._lazy import LazyGroup
from simulator.errors import SimulatorError

__all__ = ["cli", "main"]

#: Exit status for a usage or configuration error or an unreachable receiver.
EXIT_USAGE = 2

#: Each command as "module:attribute", imported only when it is run (or for
#: `--help`): `fakemeta send` does not pay for the contract suite's or the
#: reference receiver's imports.
COMMANDS = {
    "send": "simulator.cli._send:send_command",
    "verify": "simulator.cli._verify:verify_command",
    "sign": "simulator.cli._sign:sign_command",
    "fixtures": "simulator.cli._fixtures:fixtures_group",
    "check": "contract_tests.cli:check_command",
    "serve": "simulator.cli._serve:serve_command",
    "load": "simulator.cli._load:load_command",
    "receiver": "reference_receiver.cli:receiver",
}
#: Commands from the other packages, mounted when they are installed.
OPTIONAL_COMMANDS = ("receiver",)


@click.group(
    cls=LazyGroup,
    lazy_subcommands=COMMANDS,
    optional=OPTIONAL_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
# The version is looked up when asked for: importing importlib.metadata at
# start-up costs every command some 20 ms.
@click.version_option(package_name="fakemeta", prog_name="fakemeta")
def cli() -> None:
    """A fake Meta for WhatsApp Cloud API webhooks."""


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
