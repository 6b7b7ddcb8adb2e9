"""The `fakemeta` command line: the one place that wires the simulator, the
contract suite and the reference receiver together.

Every command reports a problem the user can fix as one line on standard
error and exits 2 (usage, configuration, an unreachable receiver); it never
shows a traceback for those.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from fakemeta.simulator.cli._lazy import LazyCommand, LazyGroup
from fakemeta.simulator.errors import SimulatorError

__all__ = ["cli", "main"]

#: Exit status for a usage or configuration error or an unreachable receiver.
EXIT_USAGE = 2

#: Each command as "module:attribute", imported only when it is run, and its
#: short help, so that `fakemeta --help` imports no command at all (it took
#: 0.7 s when it imported them all): `fakemeta send` does not pay for the
#: contract suite's or the reference receiver's imports. A test holds each
#: short help equal to the command's own.
COMMANDS = {
    "send": LazyCommand(
        "fakemeta.simulator.cli._send:send_command",
        "Send signed webhook deliveries to URL, as Meta would.",
    ),
    "verify": LazyCommand(
        "fakemeta.simulator.cli._verify:verify_command",
        "Perform the verification handshake against URL.",
    ),
    "sign": LazyCommand(
        "fakemeta.simulator.cli._sign:sign_command",
        "Print the signature header value of FILE's exact bytes (`-` for standard input).",
    ),
    "fixtures": LazyCommand(
        "fakemeta.simulator.cli._fixtures:fixtures_group",
        "The canonical payloads shipped with fakemeta (one per message type, status, field).",
    ),
    "check": LazyCommand(
        "fakemeta.contract_tests.cli:check_command",
        "Check the webhook receiver at URL against the contract.",
    ),
    "serve": LazyCommand(
        "fakemeta.simulator.cli._serve:serve_command",
        "Run a fake Graph API and deliver webhooks to URL as Meta does.",
    ),
    "load": LazyCommand(
        "fakemeta.simulator.cli._load:load_command",
        "Load URL with signed, Meta-encoded webhook deliveries, each body unique.",
    ),
    "receiver": LazyCommand(
        "fakemeta.reference_receiver.cli:receiver",
        "The reference receiver: a WhatsApp webhook for a small CRM (Flask + SQLAlchemy).",
    ),
}
#: Commands whose dependencies are an extra: without it they are listed, and
#: running one says in one line which extra to install.
EXTRA_COMMANDS = {"receiver": "receiver"}


@click.group(
    cls=LazyGroup,
    lazy_subcommands=COMMANDS,
    extras=EXTRA_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
# The version is looked up when asked for: importing importlib.metadata at
# start-up costs every command some 20 ms.
@click.version_option(package_name="fakemeta", prog_name="fakemeta")
def cli() -> None:
    """A fake Meta for WhatsApp Cloud API webhooks."""
    # Before the subcommand parses its options, so that their environment
    # defaults ($META_CLIENT_SECRET, ...) see the file.
    load_env_file()


#: Read by every command from the current directory, as `fakemeta receiver`
#: always read it.
ENV_FILE = ".env"


def load_env_file(path: str | Path | None = None) -> None:
    """Put the variables of `path` (a `.env` file), when there is one, into
    the environment; a variable already set in the real environment wins.

    `path` defaults to `$FAKEMETA_ENV_FILE`, else `.env` in the current
    directory; `FAKEMETA_ENV_FILE=` (empty) reads none (the test suite sets
    that, so that a developer's own `.env` cannot leak into its runs)."""
    if path is None:
        path = os.environ.get("FAKEMETA_ENV_FILE", ENV_FILE)
    if not path or not Path(path).is_file():
        return
    # Imported here: most runs of most commands have no .env to read.
    from dotenv import load_dotenv

    load_dotenv(path, override=False)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        status = cli.main(args=argv, prog_name="fakemeta", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("fakemeta: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # `fakemeta` alone: the help
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        # click prints a usage block; one line says what was wrong and where to look.
        where = exc.ctx.command_path if exc.ctx is not None else "fakemeta"
        click.echo(f"fakemeta: {exc.format_message()} (see '{where} --help')", err=True)
        sys.exit(exc.exit_code)
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
