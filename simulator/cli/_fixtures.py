"""`fakemeta fixtures list|show`: the canonical payload files."""

from __future__ import annotations

import json
import sys

import click

from simulator import fixtures

__all__ = ["fixtures_group"]


@click.group("fixtures")
def fixtures_group() -> None:
    """The canonical payloads shipped with fakemeta (one per message type, status, field)."""


@fixtures_group.command("list")
def list_command() -> None:
    """List every fixture with what it holds (plain text, one a line)."""
    names = fixtures.names()
    width = max(map(len, names))
    for name in names:
        click.echo(f"{name:<{width}}  {fixtures.describe(fixtures.load(name).payload)}")


@fixtures_group.command("show")
@click.argument("name")
@click.option(
    "--wire", is_flag=True, help="Print the exact bytes Meta sends instead of indented JSON."
)
def show_command(name: str, wire: bool) -> None:
    """Print fixture NAME (`messages/text`, or `text` when unambiguous)."""
    fixture = fixtures.load(name)
    if wire:
        sys.stdout.buffer.write(fixture.wire + b"\n")
    else:
        click.echo(json.dumps(fixture.payload, ensure_ascii=False, indent=2))
