"""`fakemeta send [URL] [VARIANT]`: signed deliveries with Meta's habits."""

from __future__ import annotations

import base64
import copy
import random
import time
from collections.abc import Callable
from typing import Any

import click

from fakemeta.simulator import catalog, fixtures, ids
from fakemeta.simulator.catalog import Context
from fakemeta.simulator.cli._common import era_option, looks_like_url, receiver_at, show_exchange
from fakemeta.simulator.cli._overrides import apply_overrides
from fakemeta.simulator.clock import Clock, CompressedClock, RealClock
from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.encoding import encode
from fakemeta.simulator.envelopes import Account, Customer, batch
from fakemeta.simulator.eras import Era
from fakemeta.simulator.errors import BadInput, TransportError
from fakemeta.simulator.fixtures import describe
from fakemeta.simulator.graph.state import user_id_of
from fakemeta.simulator.sender import DEFAULT_SCHEDULE, NO_RETRIES, Attempt, Sender
from fakemeta.simulator.targets import HttpTarget, printable
from fakemeta.simulator.types import Payload

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


#: Lines of "delivery N: ..." printed per write while building.
_LINES_PER_WRITE = 256
#: How many builds of a variant `_FreshCopies` learns its shape from.
_SAMPLES = 8
#: The builds' timestamps lie this far apart, so that no id can pass for a time.
_SAMPLE_SPACING = 1_000_003

_Spec = tuple[str, Any]
_Kind = tuple[Any, ...]


class _FreshCopies:
    """Copies of one catalog variant, each with fresh ids and the current time,
    without building the variant's whole group for each.

    A group builder makes every variant of its group (some thirty messages)
    to return one, about a millisecond a payload: more than sending it takes.
    The copies are made from the variant's shape, learnt once from
    `_SAMPLES` builds that differ in their random draws and their timestamps.
    A value the same in every build is fixed by the account, customer and era
    and is kept. A value that differs must be one of the kinds made here,
    each made anew for every copy with the generator the catalog uses: the
    timestamp (or the timestamp plus a fixed offset), a `wamid.` of the same
    number and direction (`ids.wamid`), a 32-hex-digit conversation id.
    Values that are equal to each other in every build stay equal (a message
    and a reference to it). A variant with any other varying value (media
    ids, hashes and URLs, random customers in batches, template ids, ...)
    is not learnt (`learn` returns None) and is built whole every time.
    """

    def __init__(self, spec: _Spec, kinds: list[_Kind]) -> None:
        self._spec = spec
        self._kinds = kinds
        self._rng = random.Random()  # unseeded, as `Context.fresh` draws

    @classmethod
    def learn(
        cls,
        build: Callable[[Context], Payload],
        account: Account,
        customer: Customer,
        era: Era,
    ) -> _FreshCopies | None:
        now = int(time.time())
        stamps = [now - k * _SAMPLE_SPACING for k in range(_SAMPLES)]
        samples = [build(Context(account, customer, stamp, era=era)) for stamp in stamps]
        slots: dict[tuple[Any, ...], int] = {}
        kinds: list[_Kind] = []
        spec = _learn(samples, stamps, slots, kinds)
        return None if spec is None else cls(spec, kinds)

    def make(self) -> Payload:
        now = int(time.time())
        values = [self._fresh(kind, now) for kind in self._kinds]
        payload: Payload = _fill(self._spec, values)
        return payload

    def _fresh(self, kind: _Kind, now: int) -> Any:
        if kind[0] == "time":
            _, as_text, offset = kind
            return str(now + offset) if as_text else now + offset
        if kind[0] == "wamid":
            _, number, inbound = kind
            return ids.wamid(number, inbound=inbound, rng=self._rng)
        return f"{self._rng.getrandbits(128):032x}"  # "hex": a conversation id


def _learn(
    nodes: list[Any], stamps: list[int], slots: dict[tuple[Any, ...], int], kinds: list[_Kind]
) -> _Spec | None:
    """The shape of `nodes` (one value from each build), or None when one of
    them varies in a way `_FreshCopies` cannot make anew."""
    first = nodes[0]
    if isinstance(first, dict):
        keys = list(first)
        if not all(isinstance(n, dict) and list(n) == keys for n in nodes):
            return None
        items = []
        for key in keys:
            child = _learn([n[key] for n in nodes], stamps, slots, kinds)
            if child is None:
                return None
            items.append((key, child))
        return ("dict", tuple(items))
    if isinstance(first, list):
        if not all(isinstance(n, list) and len(n) == len(first) for n in nodes):
            return None
        children = []
        for i in range(len(first)):
            child = _learn([n[i] for n in nodes], stamps, slots, kinds)
            if child is None:
                return None
            children.append(child)
        return ("list", tuple(children))
    if all(type(n) is type(first) and n == first for n in nodes):
        return ("const", first)
    kind = _kind_of(nodes, stamps)
    if kind is None:
        return None
    values = tuple(nodes)
    if values not in slots:
        slots[values] = len(kinds)
        kinds.append(kind)
    return ("fresh", slots[values])


def _kind_of(values: list[Any], stamps: list[int]) -> _Kind | None:
    if all(type(v) is int for v in values) or all(
        type(v) is str and v.isascii() and v.isdigit() for v in values
    ):
        offsets = {int(v) - stamp for v, stamp in zip(values, stamps, strict=True)}
        if len(offsets) == 1:
            return ("time", type(values[0]) is str, offsets.pop())
        return None
    if not all(type(v) is str for v in values):
        return None
    wamids = {_parse_wamid(v) for v in values}
    if len(wamids) == 1 and (wamid := wamids.pop()) is not None:
        return ("wamid", *wamid)
    if all(len(v) == 32 and _is_lower_hex(v) for v in values):
        return ("hex",)
    return None


def _is_lower_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def _parse_wamid(value: str) -> tuple[str, bool] | None:
    """(number, inbound) of a `wamid.` laid out as `ids.wamid` makes them, else None."""
    if not value.startswith("wamid."):
        return None
    try:
        raw = base64.b64decode(value[6:], validate=True)
    except ValueError:
        return None
    if raw[:2] != b"\x1c\x18" or len(raw) < 3:
        return None
    number, rest = raw[3 : 3 + raw[2]], raw[3 + raw[2] :]
    if len(rest) < 6 or rest[:3] != b"\x15\x02\x00" or rest[3] not in (0x11, 0x12):
        return None
    if rest[4] != 0x18 or rest[6 + rest[5] :] != b"\x00" or not number.isascii():
        return None
    return number.decode("ascii"), rest[3] == 0x12


def _fill(spec: _Spec, values: list[Any]) -> Any:
    tag, data = spec
    if tag == "const":
        return data
    if tag == "fresh":
        return values[data]
    if tag == "dict":
        return {key: _fill(child, values) for key, child in data}
    return [_fill(child, values) for child in data]


class _Builder:
    """Makes the payloads of one run: resolved and looked up once, built anew each time.

    A variant is resolved to its `<group>/<variant>` name once, not per
    delivery: `catalog.resolve` builds the whole catalog to list its names
    (milliseconds), and `catalog.build` resolves again on every call. Each
    payload is what `catalog.build(name, Context.fresh(...))` returns: its
    group's builder run in a fresh `Context` (fresh ids, the current time),
    or, for a run of more than `_SAMPLES` payloads of a variant
    `_FreshCopies` can learn, a copy of it with fresh ids and time. A
    fixture is loaded from disk once and deep-copied per payload.
    """

    def __init__(
        self,
        variant: str,
        fixture: str | None,
        account: Account,
        customer: Customer,
        era: Era,
        count: int,
    ) -> None:
        self.account, self.customer, self.era = account, customer, era
        self.fixture = fixtures.load(fixture, era) if fixture is not None else None
        # An unknown name fails here, before anything is sent.
        self.label = fixture if fixture is not None else catalog.resolve(variant, era)
        self._copies: _FreshCopies | None = None
        if fixture is None:
            self._build: Callable[[Context], Payload] = catalog.builder(self.label)
            if count > _SAMPLES:
                self._copies = _FreshCopies.learn(self._build, account, customer, era)

    def payload(self) -> Payload:
        if self.fixture is not None:
            fixture_payload: Any = self.fixture.payload
            return copy.deepcopy(fixture_payload)  # type: ignore[no-any-return]
        # Fresh ids for every payload: a receiver deduplicating by message id
        # must see `count` different messages, not one message `count` times.
        if self._copies is not None:
            return self._copies.make()
        return self._build(Context.fresh(self.account, self.customer, era=self.era))

    def payloads(self, count: int) -> list[Payload]:
        return [self.payload() for _ in range(count)]


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
        builder = _Builder(variant or "text", fixture, account, customer, era, repeat * batch_size)
        exact_fixture = (
            builder.fixture is not None and not overrides and batch_size == 1 and not legacy_escapes
        )
        deliveries: list[Delivery] = []
        lines: list[str] = []
        try:
            for index in range(repeat):
                parts = builder.payloads(batch_size)
                payload: Any = parts[0] if batch_size == 1 else batch(parts)
                if overrides:
                    payload = apply_overrides(payload, list(overrides))
                if exact_fixture:
                    assert builder.fixture is not None
                    body = builder.fixture.wire  # the fixture's exact bytes
                else:
                    body = encode(payload, legacy_escapes=legacy_escapes)
                delivery = Delivery.signed(body, receiver.app_secret)
                lines.append(
                    f"delivery {index}: {builder.label} ({describe(payload)}), {len(body)} bytes,"
                    f" signed {(delivery.signature or '')[:19]}…"
                )
                if len(lines) == _LINES_PER_WRITE:
                    _echo_lines(lines)
                deliveries.append(delivery)
        finally:
            _echo_lines(lines)  # what was built, even when building stopped with an error

        clock: Clock = CompressedClock(time_scale) if time_scale > 1 else RealClock()
        origin = clock.now()

        def show(attempt: Attempt) -> None:
            click.echo(printable(attempt.describe(origin)))  # an error may quote the receiver
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


def _echo_lines(lines: list[str]) -> None:
    """Print `lines` in one write (`click.echo` flushes on every call), then forget them."""
    if lines:
        click.echo("\n".join(lines))
        lines.clear()


def _final_transport_errors(attempts: tuple[Attempt, ...]) -> list[TransportError]:
    """The transport error each delivery ended on, for those that ended on one."""
    last: dict[tuple[int, int], Attempt] = {}
    for attempt in attempts:
        last[(attempt.index, attempt.copy)] = attempt
    return [a.error for a in last.values() if isinstance(a.error, TransportError)]
