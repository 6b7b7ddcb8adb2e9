"""`fakemeta sign FILE`: the X-Hub-Signature-256 Meta would send for a body."""

from __future__ import annotations

import sys
from typing import BinaryIO

import click

from fakemeta.simulator.encoding import decode, encode
from fakemeta.simulator.errors import BadInput
from fakemeta.simulator.signing import sign

__all__ = ["sign_command"]


@click.command("sign")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--app-secret",
    envvar="META_CLIENT_SECRET",
    help="The app secret [env: META_CLIENT_SECRET].",
)
@click.option(
    "--meta-encode",
    is_flag=True,
    help="Re-encode FILE's JSON the way Meta does first; print those bytes, then the signature.",
)
def sign_command(file: BinaryIO, app_secret: str | None, meta_encode: bool) -> None:
    """Print the signature header value of FILE's exact bytes (`-` for standard input).

    The signature covers the bytes as they are: a file saved with a trailing
    newline or pretty-printed JSON signs differently from what Meta sends.
    """
    if not app_secret:
        raise BadInput("no app secret: pass --app-secret or set META_CLIENT_SECRET")
    body: bytes = file.read()
    if meta_encode:
        try:
            body = encode(decode(body))
        except ValueError as exc:
            raise BadInput(
                f"{file.name} is not JSON ({exc}); drop --meta-encode to sign raw bytes"
            ) from None
        sys.stdout.buffer.write(body + b"\n")
    click.echo(sign(body, app_secret))
