"""`LazyGroup`: a click group that imports a subcommand's module only when the
subcommand is asked for.

The `fakemeta` commands reach into heavy packages: the contract suite
(Hypothesis), the reference receiver (Flask, SQLAlchemy), the load
generator. Importing them all at start-up cost `fakemeta send` most of a
second it never used. Each command is named here by "module:attribute" and
imported by `get_command`, the pattern of click's "Lazily Loading
Subcommands"; `--help` imports them all to show their short help.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

import click

__all__ = ["LazyGroup"]


class LazyGroup(click.Group):
    """A group whose `lazy_subcommands` map a name to "module:attribute",
    imported on first use.

    The names in `optional` are commands from other packages: when their
    import fails they are left out, as if never mounted (no line in `--help`,
    "No such command" when called). Any other failed import is a bug and
    raises.
    """

    def __init__(
        self,
        *args: Any,
        lazy_subcommands: Mapping[str, str] | None = None,
        optional: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})
        self.optional = frozenset(optional)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> click.Command | None:
        path = self.lazy_subcommands[name]
        module_name, _, attribute = path.partition(":")
        try:
            command = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError):
            # As `from module import attribute` failing: the package is not there.
            if name in self.optional:
                return None
            raise
        if not isinstance(command, click.Command):
            raise TypeError(f"{path}: expected a click command, got {type(command).__name__}")
        return command
