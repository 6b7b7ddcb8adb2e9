"""`fakemeta verify [URL]`: the subscription handshake, as Meta performs it."""

from __future__ import annotations

import click

from fakemeta.simulator.cli._common import receiver_at, show_exchange
from fakemeta.simulator.errors import BadInput
from fakemeta.simulator.handshake import handshake
from fakemeta.simulator.targets import HttpTarget

__all__ = ["verify_command"]


@click.command("verify")
@click.argument("url", required=False)
@click.option(
    "--verify-token",
    envvar="META_WEBHOOK_VERIFY_TOKEN",
    help="The token the receiver expects [env: META_WEBHOOK_VERIFY_TOKEN].",
)
@click.option("--challenge", help="The challenge to send (default: 10 random digits, like Meta).")
@click.option("--mode", default="subscribe", show_default=True, help="The hub.mode to send.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
@click.option("--insecure", is_flag=True, help="Do not verify the receiver's TLS certificate.")
@click.option("-v", "--verbose", is_flag=True, help="Show request and response headers.")
def verify_command(
    url: str | None,
    verify_token: str | None,
    challenge: str | None,
    mode: str,
    timeout: float,
    insecure: bool,
    verbose: bool,
) -> None:
    """Perform the verification handshake against URL.

    Sends `GET URL?hub.mode=subscribe&hub.challenge=...&hub.verify_token=...`;
    the callback is verified only if it answers 200 with exactly the challenge.
    Without URL, the built-in reference receiver is started and used.

    Exit status: 0 verified, 1 not verified, 2 for bad arguments or an
    unreachable receiver.
    """
    if url is not None and not verify_token:
        raise BadInput("no verify token: pass --verify-token or set META_WEBHOOK_VERIFY_TOKEN")
    with (
        receiver_at(
            url, app_secret=None, verify_token=verify_token, phone_number_id=None
        ) as receiver,
        HttpTarget(receiver.url, timeout=timeout, verify_tls=not insecure) as target,
    ):
        result = handshake(target, receiver.verify_token, challenge=challenge, mode=mode)
    click.echo(
        f"GET {receiver.url} hub.challenge={result.challenge!r} -> HTTP {result.status} "
        f"in {result.exchange.latency * 1000:.0f} ms"
    )
    show_exchange(result.exchange, verbose=verbose)
    if result.verified:
        click.echo("verified: the receiver echoed the challenge")
        return
    click.echo(f"not verified: {result.reason}")
    raise click.exceptions.Exit(1)
