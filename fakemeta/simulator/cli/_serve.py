"""`fakemeta serve`: a fake Graph API and Meta's webhook sender on loopback."""

from __future__ import annotations

import logging
import secrets
import sys
from typing import TYPE_CHECKING, NoReturn

import click

from fakemeta.simulator.cli._common import ERA_SHAPES, era_option
from fakemeta.simulator.eras import Era
from fakemeta.simulator.errors import InvalidTargetError
from fakemeta.simulator.graph.dispatch import Dispatcher
from fakemeta.simulator.graph.state import (
    DEFAULT_MAX_MEDIA_BYTES,
    DEFAULT_MAX_MESSAGES,
    DEFAULT_MAX_PENDING_WEBHOOKS,
    DEFAULT_MAX_USERS,
    DEFAULT_PHONE_NUMBER,
    GraphSettings,
    GraphState,
    PhoneNumber,
)
from fakemeta.simulator.graph.subscriptions import DEFAULT_APP_ID

if TYPE_CHECKING:
    from fakemeta.simulator.graph.server import Running

__all__ = ["serve_command"]

EXIT_USAGE = 2


def _digits(ctx: click.Context, param: click.Parameter, value: object) -> object:
    values = value if isinstance(value, tuple) else (value,)
    for item in values:
        if item is not None and not (isinstance(item, str) and item.isdigit()):
            raise click.BadParameter(f"{item!r} is not digits (no '+', spaces or dashes)")
    return value


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}
# Kept in step with `server.MAX_BODY_BYTES` (not imported: werkzeug loads late).
_MAX_BODY_DEFAULT = 100 * 1024 * 1024 * 4 // 3 + 1024 * 1024


def _bytes(ctx: click.Context, param: click.Parameter, value: object) -> int:
    """`1048576`, `512K`, `256M`, `1G` (binary units) -> bytes, at least 1."""
    if isinstance(value, int):
        return value
    text = str(value).strip().upper().removesuffix("IB").removesuffix("B")
    unit = text[-1:] if text[-1:] in _UNITS else ""
    number = text[: len(text) - len(unit)]
    if not number.isdigit() or int(number) * _UNITS[unit] < 1:
        raise click.BadParameter(f"{value!r} is not a size: give bytes, or e.g. 512K, 256M, 1G")
    return int(number) * _UNITS[unit]


def _seconds(text: str) -> float | None:
    return None if text.lower() in ("off", "never", "none") else float(text)


@click.command("serve")
@click.option("--webhook", metavar="URL", help="The receiver's callback URL (verified at start).")
@click.option(
    "--verify-token",
    envvar="META_WEBHOOK_VERIFY_TOKEN",
    help="The token the receiver expects [env: META_WEBHOOK_VERIFY_TOKEN].",
)
@click.option(
    "--app-secret",
    envvar="META_CLIENT_SECRET",
    help="Signs every webhook [env: META_CLIENT_SECRET; default: generated].",
)
@click.option(
    "--app-id",
    envvar="META_CLIENT_ID",
    default=DEFAULT_APP_ID,
    show_default=True,
    help="The app id in /v23.0/<app-id>/subscriptions [env: META_CLIENT_ID].",
)
@click.option(
    "--access-token",
    envvar="WHATSAPP_ACCESS_TOKEN",
    help="The token the bot must send [env: WHATSAPP_ACCESS_TOKEN; default: generated].",
)
@click.option(
    "--phone-number-id",
    envvar="FAKEMETA_PHONE_NUMBER_ID",
    callback=_digits,
    default=DEFAULT_PHONE_NUMBER.phone_number_id,
    show_default=True,
    help="The business phone number id [env: FAKEMETA_PHONE_NUMBER_ID].",
)
@click.option(
    "--display-phone-number",
    callback=_digits,
    show_default=True,
    default=DEFAULT_PHONE_NUMBER.display_phone_number,
    help="The number customers see.",
)
@click.option(
    "--waba-id",
    callback=_digits,
    default=DEFAULT_PHONE_NUMBER.waba_id,
    show_default=True,
    help="The WhatsApp Business Account id (entry.id).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--allow-host",
    multiple=True,
    metavar="NAME",
    help="Another Host name the console and control API answer under (repeatable);"
    " localhost, 127.0.0.1, [::1] and --host always are.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8787, show_default=True)
@click.option(
    "--throughput",
    type=click.IntRange(min=1),
    default=80,
    show_default=True,
    help="Messages per second per phone number before error 130429.",
)
@click.option(
    "--sent-after",
    type=click.FloatRange(min=0),
    default=0.5,
    show_default=True,
    help="Seconds from accepting a message to its 'sent' webhook.",
)
@click.option(
    "--delivered-after",
    default="1.0",
    show_default=True,
    metavar="SECONDS|off",
    help="Seconds to the 'delivered' webhook; off: none.",
)
@click.option(
    "--read-after",
    default="3.0",
    show_default=True,
    metavar="SECONDS|off",
    help="Seconds to the 'read' webhook; off: none.",
)
@click.option(
    "--no-read", is_flag=True, help="The customer never reads (same as --read-after off)."
)
@click.option(
    "--undeliverable",
    multiple=True,
    metavar="NUMBER",
    callback=_digits,
    help="A customer number that fails with 131026 (repeatable).",
)
@click.option(
    "--max-body-bytes",
    type=str,
    callback=_bytes,
    default=_MAX_BODY_DEFAULT,
    show_default=True,
    metavar="SIZE",
    help="Larger request bodies are refused with 413, unread.",
)
@click.option(
    "--max-media-bytes",
    type=str,
    callback=_bytes,
    default=DEFAULT_MAX_MEDIA_BYTES,
    show_default=True,
    metavar="SIZE",
    help="Uploaded media kept, in all; the least recently used go first.",
)
@click.option(
    "--max-messages",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_MESSAGES,
    show_default=True,
    help="Messages kept (both directions); the oldest go first.",
)
@click.option(
    "--max-pending-webhooks",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_PENDING_WEBHOOKS,
    show_default=True,
    help="Webhooks waiting to be delivered; past it the oldest is dropped, as Meta drops"
    " one whose retries ran out.",
)
@click.option(
    "--max-users",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_USERS,
    show_default=True,
    help="Customers whose windows, rate buckets, billing and contact-book entries are kept;"
    " the least recently used go first.",
)
@click.option(
    "--max-deliveries",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Delivery attempts kept in the log; the oldest go first.",
)
@era_option
@click.option("-v", "--verbose", is_flag=True, help="Log every HTTP request.")
def serve_command(
    webhook: str | None,
    verify_token: str | None,
    app_secret: str | None,
    app_id: str,
    access_token: str | None,
    phone_number_id: str,
    display_phone_number: str,
    waba_id: str,
    host: str,
    allow_host: tuple[str, ...],
    port: int,
    throughput: int,
    sent_after: float,
    delivered_after: str,
    read_after: str,
    no_read: bool,
    undeliverable: tuple[str, ...],
    max_body_bytes: int,
    max_media_bytes: int,
    max_messages: int,
    max_pending_webhooks: int,
    max_users: int,
    max_deliveries: int,
    era: Era,
    verbose: bool,
) -> None:
    """Run a fake Graph API and deliver webhooks to URL as Meta does.

    Point the bot's Graph API base URL at the printed address and its access
    token at the printed token; talk to it as a customer from the console or
    the control API (/_fakemeta/). Webhooks are signed with the app secret
    and delivered only once the callback has passed the verification
    handshake, in the shapes of --era. Ctrl-C stops the server.
    """
    if webhook is not None and not verify_token:
        _fail(
            "--webhook needs --verify-token (or META_WEBHOOK_VERIFY_TOKEN):"
            " the token the receiver expects"
        )
    try:
        delivered = _seconds(delivered_after)
        read = None if no_read else _seconds(read_after)
    except ValueError:
        _fail("--delivered-after and --read-after take seconds or 'off'")
    generated = []
    if not app_secret:
        app_secret = secrets.token_hex(16)
        generated.append("app secret")
    if not access_token:
        access_token = "EAAF" + secrets.token_urlsafe(24)
        generated.append("access token")
    number = PhoneNumber(phone_number_id, display_phone_number, waba_id)
    try:
        settings = GraphSettings(
            access_tokens=frozenset({access_token}),
            phone_numbers={phone_number_id: number},
            throughput_per_second=throughput,
            undeliverable=frozenset(undeliverable),
            sent_after=sent_after,
            delivered_after=delivered,
            read_after=read,
            era=era,
            max_media_bytes=max_media_bytes,
            max_messages=max_messages,
            max_pending_webhooks=max_pending_webhooks,
            max_users=max_users,
        )
    except ValueError as exc:
        _fail(str(exc))
    _logging(verbose)
    # Imported here so that the other commands run even where the Graph API is not installed.
    from fakemeta.simulator.graph.server import CONSOLE, FakeMeta, serve

    state = GraphState(settings)
    dispatcher = Dispatcher(state, app_secret=app_secret, log_limit=max_deliveries)
    app = FakeMeta(
        state, dispatcher, app_id=app_id, allowed_hosts=allow_host, max_body_bytes=max_body_bytes
    )

    def ready(running: Running) -> None:
        url = running.url
        click.echo(f"fakemeta serve: listening on {url}")
        click.echo(
            f"  Graph API base URL  {url}  (e.g. POST {url}/v23.0/{phone_number_id}/messages)"
        )
        click.echo(f"  access token        {access_token}")
        click.echo(
            f"  phone number id     {phone_number_id}"
            f" (display {display_phone_number}, WABA {waba_id})"
        )
        click.echo(f"  app id              {app_id}")
        click.echo(f"  era                 {era.name} ({ERA_SHAPES.get(era.name, era.name)})")
        if "app secret" in generated:
            click.echo(
                f"  app secret          {app_secret}  (generated; the receiver verifies with it)"
            )
        click.echo(f"  console             {url}{CONSOLE}")
        click.echo(f"  control API         {url}/_fakemeta/")
        if webhook is None:
            click.echo(f"  webhook             none yet: POST {url}/v23.0/{app_id}/subscriptions")
        else:
            sub = dispatcher.subscribe(webhook, verify_token)
            if sub.verified:
                click.echo(f"  webhook             {webhook}  verified")
            else:
                reason = sub.reason.removeprefix("verification failed: ")
                click.echo(f"  webhook             {webhook}  NOT verified: {reason}")
                click.echo(
                    "                      fix the receiver, then"
                    f" POST {url}/_fakemeta/subscription/verify"
                )
        click.echo("Ctrl-C to stop")

    try:
        if webhook is not None:
            dispatcher.subscribe(webhook, verify_token, verify=False)  # a bad URL fails early
        serve(app, host, port, on_ready=ready)
    except InvalidTargetError as exc:
        _fail(" ".join(str(exc).split()))
    except OSError as exc:
        _fail(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            " — choose another --port or --host"
        )
    click.echo("fakemeta serve: stopped")


def _fail(message: str) -> NoReturn:
    click.echo(f"fakemeta: {message}", err=True)
    raise click.exceptions.Exit(EXIT_USAGE)


def _logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("fakemeta: %(message)s"))
    logger = logging.getLogger("fakemeta.serve")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logging.getLogger("fakemeta.serve.http").setLevel(logging.INFO if verbose else logging.WARNING)
