"""`fakemeta send [URL] [VARIANT]`: signed deliveries with Meta's habits."""

from __future__ import annotations

import copy
from typing import Any

import click

from simulator import catalog, fixtures, ids
from simulator.catalog import Context
from simulator.cli._common import era_option, looks_like_url, receiver_at, show_exchange
from simulator.cli._overrides import apply_overrides
from simulator.clock import Clock, CompressedClock, RealClock
from simulator.delivery import Delivery
from simulator.encoding import encode
from simulator.envelopes import Account, Customer, batch
from simulator.eras import Era
from simulator.errors import BadInput, TransportError
from simulator.fixtures import describe
from simulator.graph.state import user_id_of
from simulator.sender import DEFAULT_SCHEDULE, NO_RETRIES, Attempt, Sender
from simulator.targets import HttpTarget
from simulator.types import Payload

__all__ = ["send_command"]


def _split_arguments(arguments: tuple[str, ...]) -> tuple[str | None, str | None]:
    """URL and VARIANT, both optional: the one with `://` is the URL."""
    urls = [a for a in arguments if looks_like_url(a)]
    others = [a for a in arguments if not looks_like_url(a)]
    if len(arguments) > 2 or len(urls) > 1 or len(others) > 1:
        raise BadInput(
            f"expected at most a URL and a variant name, got {' '.join(arguments)!r}: "
            "e.g. `fakemeta send http://127.0.0.1:8000/webhook/ text`"
        )
    return (urls[0] if urls else None, others[0] if others else None)


def _customer(number: str | None, name: str, era: Era) -> Customer:
    """The customer who writes: `--from` or a random number, and in an era of
    business-scoped ids the user id that goes with the number: the one
    `fakemeta serve` gives it too, the same on every run, as Meta keeps a
    user's id for a business."""
    number = number or ids.wa_id()
    if not era.business_scoped_ids:
        return Customer(number, name)
    return Customer(number, name, user_id=user_id_of(number))


def _payloads(
    variant: str,
    fixture: str | None,
    count: int,
    account: Account,
    customer: Customer,
    era: Era,
) -> list[Payload]:
    if fixture is not None:
        payload: Any = fixtures.load(fixture, era).payload
        return [copy.deepcopy(payload) for _ in range(count)]
    catalog.resolve(variant, era)  # an unknown name fails before anything is sent
    # Fresh ids for every copy: a receiver deduplicating by message id must
    # see `count` different messages, not one message `count` times.
    return [catalog.build(variant, Context.fresh(account, customer, era=era)) for _ in range(count)]


@click.command("send")
@click.argument("arguments", nargs=-1, metavar="[URL] [VARIANT]")
@click.option("--fixture", metavar="NAME", help="Send this fixture (`fakemeta fixtures list`).")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Change the payload: `message.text.body=hi`,"
    " `value.metadata.phone_number_id=1`,"
    " `entry.0.time:=17` (`:=` takes JSON). Repeatable.",
)
@click.option(
    "--batch",
    "batch_size",
    type=click.IntRange(1, 1000),
    default=1,
    help="Join N payloads, each with fresh ids, into one delivery (Meta batches).",
)
@click.option(
    "--repeat",
    type=click.IntRange(1, 100_000),
    default=1,
    help="Send N deliveries, each built anew.",
)
@click.option(
    "--duplicates",
    type=click.IntRange(0),
    default=0,
    help="Deliver N of the deliveries twice, as Meta sometimes does.",
)
@click.option("--app-secret", envvar="META_CLIENT_SECRET", help="[env: META_CLIENT_SECRET]")
@click.option(
    "--phone-number-id",
    envvar="FAKEMETA_PHONE_NUMBER_ID",
    help="The business phone number id the message goes to [env: FAKEMETA_PHONE_NUMBER_ID].",
)
@click.option("--display-phone-number", help="The business's display number.")
@click.option("--from", "sender", metavar="WA_ID", help="The customer's number (digits).")
@click.option("--name", default="Test User", show_default=True, help="The customer's profile name.")
@click.option(
    "--legacy-escapes", is_flag=True, help="Also escape <, % and @ (older Meta encoding)."
)
@click.option(
    "--retry",
    is_flag=True,
    help="Retry failures on Meta's schedule (at once, 15 s, 1 min, ... 7 days).",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(min=1),
    default=1.0,
    show_default=True,
    help="Run the retry clock N times faster (3600: an hour a second).",
)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
@click.option("--source-ip", help="Send from this 127.x.y.z address (loopback receivers only).")
@click.option("--insecure", is_flag=True, help="Do not verify the receiver's TLS certificate.")
@era_option
@click.option("-v", "--verbose", is_flag=True, help="Show request and response headers and bodies.")
def send_command(
    arguments: tuple[str, ...],
    fixture: str | None,
    overrides: tuple[str, ...],
    batch_size: int,
    repeat: int,
    duplicates: int,
    app_secret: str | None,
    phone_number_id: str | None,
    display_phone_number: str | None,
    sender: str | None,
    name: str,
    legacy_escapes: bool,
    retry: bool,
    time_scale: float,
    timeout: float,
    source_ip: str | None,
    insecure: bool,
    era: Era,
    verbose: bool,
) -> None:
    """Send signed webhook deliveries to URL, as Meta would.

    VARIANT names what to send (default `text`): a message type, status, field
    or batch from `fakemeta fixtures list`, built with fresh ids and the current
    time, in the shapes of --era. Without URL, the built-in reference receiver
    is started and used.

    Exit status: 0 when every delivery was acknowledged with 200, 1 when one
    was not, 2 for bad arguments or an unreachable receiver.
    """
    url, variant = _split_arguments(arguments)
    if fixture is not None and variant is not None:
        raise BadInput(f"give a VARIANT ({variant!r}) or --fixture ({fixture!r}), not both")
    if sender is not None and not sender.isdigit():
        raise BadInput(f"--from {sender!r}: a WhatsApp number is digits only, without '+'")
    if url is not None and not app_secret:
        raise BadInput("no app secret: pass --app-secret or set META_CLIENT_SECRET")
    if duplicates > repeat:
        raise BadInput(f"--duplicates {duplicates} is more than the {repeat} deliveries sent")

    with receiver_at(
        url, app_secret=app_secret, verify_token=None, phone_number_id=phone_number_id
    ) as receiver:
        assert receiver.app_secret is not None
        account = Account(
            ids.waba_id(),
            receiver.phone_number_id or ids.phone_number_id(),
            display_phone_number or ids.wa_id(),
        )
        customer = _customer(sender, name, era)
        deliveries: list[Delivery] = []
        for _ in range(repeat):
            parts = _payloads(variant or "text", fixture, batch_size, account, customer, era)
            payload: Any = parts[0] if batch_size == 1 else batch(parts)
            payload = apply_overrides(payload, list(overrides))
            if fixture is not None and not overrides and batch_size == 1 and not legacy_escapes:
                body = fixtures.load(fixture, era).wire  # the fixture's exact bytes
            else:
                body = encode(payload, legacy_escapes=legacy_escapes)
            delivery = Delivery.signed(body, receiver.app_secret)
            label = fixture or catalog.resolve(variant or "text", era)
            click.echo(
                f"delivery {len(deliveries)}: {label} ({describe(payload)}), {len(body)} bytes,"
                f" signed {(delivery.signature or '')[:19]}…"
            )
            deliveries.append(delivery)

        clock: Clock = CompressedClock(time_scale) if time_scale > 1 else RealClock()
        origin = clock.now()

        def show(attempt: Attempt) -> None:
            click.echo(attempt.describe(origin))
            if attempt.exchange is not None:
                show_exchange(attempt.exchange, verbose=verbose)

        with HttpTarget(receiver.url, timeout=timeout, verify_tls=not insecure) as target:
            result = Sender(
                target,
                clock=clock,
                schedule=DEFAULT_SCHEDULE if retry else NO_RETRIES,
                duplicates=duplicates,
                source_ips=(source_ip,) if source_ip else (),
                on_attempt=show,
            ).send(deliveries)

    last_errors = _final_transport_errors(result.attempts)
    if last_errors and len(last_errors) == len(deliveries):
        raise last_errors[0]  # nothing reached the receiver: one line, exit 2
    done = len(result.acknowledged)
    click.echo(f"{done} of {len(deliveries)} deliveries acknowledged")
    if done != len(deliveries):
        raise click.exceptions.Exit(1)


def _final_transport_errors(attempts: tuple[Attempt, ...]) -> list[TransportError]:
    """The transport error each delivery ended on, for those that ended on one."""
    last: dict[tuple[int, int], Attempt] = {}
    for attempt in attempts:
        last[(attempt.index, attempt.copy)] = attempt
    return [a.error for a in last.values() if isinstance(a.error, TransportError)]
