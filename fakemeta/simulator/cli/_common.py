"""What the commands share: the receiver to talk to, printing, and `--era`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from fakemeta.simulator import eras
from fakemeta.simulator._extras import needs_builtin_receiver
from fakemeta.simulator.eras import Era
from fakemeta.simulator.errors import UnknownEra

if TYPE_CHECKING:
    # For an annotation only: `fakemeta fixtures` needs neither the targets nor asyncio.
    from fakemeta.simulator.targets import Exchange

__all__ = ["Receiver", "era_option", "looks_like_url", "receiver_at", "show_exchange", "trim"]

F = TypeVar("F", bound=Callable[..., Any])

#: What each era's webhooks are, in a few words (see `fakemeta.simulator.eras`).
ERA_SHAPES = {
    "2026": "business-scoped user ids, v24+ statuses",
    "2025": "phone numbers only, v23 statuses",
}
ERA_HELP = (
    f"Webhook shapes: 2026 (current: {ERA_SHAPES['2026']})"
    f" or 2025 ({ERA_SHAPES['2025']}) [env: FAKEMETA_ERA]."
)


class _EraChoice(click.Choice):  # type: ignore[type-arg]
    """`eras.ERA_NAMES`, converted to the `Era`; a wrong name is the one-line
    `UnknownEra` (exit 2 through `main()`), not click's usage block."""

    def __init__(self) -> None:
        super().__init__(eras.ERA_NAMES)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Era:
        if isinstance(value, Era):
            return value
        try:
            return eras.era(value)
        except UnknownEra as exc:
            raise UnknownEra(f"--era {value}: {exc}") from None


def era_option(function: F) -> F:
    """`--era 2025|2026` (default: `eras.CURRENT`), passed on as `era: Era`."""
    option = click.option(
        "--era",
        type=_EraChoice(),
        default=eras.CURRENT.name,
        envvar="FAKEMETA_ERA",
        help=ERA_HELP,
    )
    return option(function)


@dataclass(frozen=True)
class Receiver:
    """Where to send, and the secrets that go with it."""

    url: str
    app_secret: str | None
    verify_token: str | None
    phone_number_id: str | None
    builtin: bool
    #: The built-in receiver's store, read in bulk in this process: message id ->
    #: log entries (`fakemeta load --probe`); None for a receiver at a URL.
    stored: Callable[[list[str]], Mapping[str, int]] | None = None


def looks_like_url(text: str) -> bool:
    return "://" in text


@contextlib.contextmanager
def receiver_at(
    url: str | None,
    *,
    app_secret: str | None,
    verify_token: str | None,
    phone_number_id: str | None,
    rate_limit: str | None = None,
) -> Iterator[Receiver]:
    """The receiver at `url`, or without one the built-in reference receiver,
    started on a free loopback port with generated secrets (and `rate_limit`,
    "off" say, instead of its default) for as long as the block runs."""
    if url is not None:
        yield Receiver(url, app_secret, verify_token, phone_number_id, builtin=False)
        return
    # The one place the simulator's commands reach into the reference receiver.
    with needs_builtin_receiver():
        from fakemeta.reference_receiver.serve import start_background

    config = {"app_secret": app_secret, "verify_token": verify_token}
    if phone_number_id:
        config["phone_number_id"] = phone_number_id
    if rate_limit is not None:
        config["rate_limit"] = rate_limit
    limited = "" if rate_limit is None else f", rate limit {rate_limit}"
    with start_background(config) as running:
        click.echo(
            f"started the reference receiver at {running.url} "
            f"(phone number id {running.phone_number_id}{limited})",
            err=True,
        )
        yield Receiver(
            running.url,
            running.app_secret,
            running.verify_token,
            running.phone_number_id,
            builtin=True,
            stored=running.stored_message_counts,
        )


def trim(data: bytes | str, limit: int = 300, *, cut: bool = False) -> str:
    """One line of at most `limit` characters, control characters made visible.

    `cut`: the text is the start of a body fakemeta stopped reading (`Response.truncated`).
    """
    from fakemeta.simulator.targets import RESPONSE_BODY_LIMIT, printable

    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = printable(text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t"))
    if cut:
        return f"{text[:limit]}… (cut at {RESPONSE_BODY_LIMIT // 1024} KiB: the receiver sent more)"
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def show_exchange(exchange: Exchange, *, verbose: bool) -> None:
    """The request and response of one exchange, headers and bodies trimmed.

    Everything printed goes through `trim`: the receiver chose the response's
    headers and body, and escape sequences in them must not reach the terminal.
    """
    request, response = exchange.request, exchange.response
    if verbose:
        click.echo(f"  > {trim(f'{request.method} {request.url}', 2000)}")
        for name, value in request.headers:
            click.echo(f"  > {trim(f'{name}: {value}', 2000)}")
        if request.body:
            click.echo(f"  > {trim(request.body)}")
        for name, value in response.headers:
            click.echo(f"  < {trim(f'{name}: {value}', 2000)}")
    if response.body:
        click.echo(f"  < {trim(response.body, cut=response.truncated)}")
