"""`fakemeta fixtures list|show`: the canonical payload files."""

from __future__ import annotations

import json
import sys

import click

from fakemeta.simulator import fixtures
from fakemeta.simulator.cli._common import era_option
from fakemeta.simulator.eras import Era

__all__ = ["fixtures_group"]


@click.group("fixtures")
def fixtures_group() -> None:
    """The canonical payloads shipped with fakemeta (one per message type, status, field)."""


@fixtures_group.command("list")
@era_option
def list_command(era: Era) -> None:
    """List every fixture of --era with what it holds (plain text, one a line)."""
    names = fixtures.names(era)
    width = max(map(len, names), default=0)
    for name in names:
        click.echo(f"{name:<{width}}  {fixtures.describe(fixtures.load(name, era).payload)}")


@fixtures_group.command("show")
@click.argument("name")
@click.option(
    "--wire",
    is_flag=True,
    help="Print the exact bytes Meta sends instead of indented JSON (and nothing else when "
    "piped, so that `| fakemeta sign -` gives the golden signature).",
)
@era_option
def show_command(name: str, wire: bool, era: Era) -> None:
    """Print fixture NAME of --era (`messages/text`, or `text` when unambiguous)."""
    fixture = fixtures.load(name, era)
    if wire:
        # A newline of our own would be signed along with the body by
        # `| fakemeta sign -`; only a terminal gets one, for the prompt.
        sys.stdout.buffer.write(fixture.wire + (b"\n" if sys.stdout.isatty() else b""))
    else:
        click.echo(json.dumps(fixture.payload, ensure_ascii=False, indent=2))
