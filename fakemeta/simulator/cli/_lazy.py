"""`LazyGroup`: a click group that imports a subcommand's module only when the
subcommand is asked for.

The `fakemeta` commands reach into heavy packages: the contract suite
(Hypothesis), the reference receiver (Flask, SQLAlchemy), the load
generator. Importing them all at start-up cost `fakemeta send` most of a
second it never used. Each command is named here by "module:attribute" and
imported by `get_command`, the pattern of click's "Lazily Loading
Subcommands". A command whose entry also carries its short help
(`LazyCommand`) is not imported for the group's `--help` either: that
listing once imported every command and took most of a second.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import click

from fakemeta.simulator._extras import needs_extra
from fakemeta.simulator.errors import MissingExtra

__all__ = ["LazyCommand", "LazyGroup"]


class LazyCommand(NamedTuple):
    """A subcommand by "module:attribute", with the short help the group's
    `--help` shows for it without importing it.

    `short_help` must be what the command itself would show: the first
    sentence of its help, whole (the listing shortens it to the terminal's
    width as click would). A test holds the two equal.
    """

    path: str
    short_help: str


class LazyGroup(click.Group):
    """A group whose `lazy_subcommands` map a name to "module:attribute",
    imported on first use.

    The names in `optional` are commands from other packages: when their
    import fails they are left out, as if never mounted (no line in `--help`,
    "No such command" when called). `extras` maps a command to the extra its
    dependencies come from: without them the command is still listed, and
    running it (with any arguments, `--help` too) says in one line which
    extra to install. Any other failed import is a bug and raises.
    """

    def __init__(
        self,
        *args: Any,
        lazy_subcommands: Mapping[str, str | LazyCommand] | None = None,
        optional: Iterable[str] = (),
        extras: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = {
            name: entry if isinstance(entry, LazyCommand) else LazyCommand(entry, "")
            for name, entry in (lazy_subcommands or {}).items()
        }
        self.optional = frozenset(optional)
        self.extras = dict(extras or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            return self._load(cmd_name, ctx.command_path)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing of `--help`, as click writes it, with each command that
        has its short help in the table standing in for itself unimported."""
        stand_ins = click.Group(self.name)
        for name in self.list_commands(ctx):
            command = self._stand_in(name) or self.get_command(ctx, name)
            if command is not None:
                stand_ins.add_command(command, name)
        stand_ins.format_commands(ctx, formatter)

    def _stand_in(self, name: str) -> click.Command | None:
        entry = self.lazy_subcommands.get(name)
        if entry is None or not entry.short_help:
            return None
        if name in self.optional and not _importable(entry.path):
            return None  # left out, as `get_command` would leave it out
        # As help text, not short_help: click then shortens it to the width
        # exactly as it shortens the real command's help.
        return click.Command(name, help=entry.short_help)

    def _load(self, name: str, command_path: str) -> click.Command | None:
        entry = self.lazy_subcommands[name]
        path = entry.path
        module_name, _, attribute = path.partition(":")
        extra = self.extras.get(name)
        guard = (
            needs_extra(extra, f"`{command_path} {name}`") if extra else contextlib.nullcontext()
        )
        try:
            with guard:
                command = getattr(importlib.import_module(module_name), attribute)
        except MissingExtra as error:
            return _unavailable(name, entry.short_help, error)
        except (ImportError, AttributeError):
            # As `from module import attribute` failing: the package is not there.
            if name in self.optional:
                return None
            raise
        if not isinstance(command, click.Command):
            raise TypeError(f"{path}: expected a click command, got {type(command).__name__}")
        return command


def _unavailable(name: str, short_help: str, error: MissingExtra) -> click.Command:
    """A stand-in for a command whose extra is not installed: listed with its
    help, and whatever it is given, it raises `error` (one line, exit 2)."""

    def fail() -> None:
        raise error

    return click.Command(
        name,
        help=short_help,
        callback=fail,
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


def _importable(path: str) -> bool:
    """Whether the top package of "module:attribute" is installed, found
    without importing anything (a command that is there but fails to
    import is still listed, and then said not to exist when called)."""
    return importlib.util.find_spec(path.partition(":")[0].partition(".")[0]) is not None
