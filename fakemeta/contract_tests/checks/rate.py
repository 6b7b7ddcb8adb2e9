"""RATE-*: the webhook's rate limit per client IP (seed section 9).

The seed limits the webhook to N requests per S seconds per client IP
(`@rate_limit_webhook(max_requests=100, window=60)`); `--rate-limit` says
what N and S the receiver should enforce. These checks run after every
other one (`last=True`): they exhaust an address's window on purpose.

What they send: signed status deliveries for message ids the receiver never
sent (a fresh one each time). Those are POSTs, as Meta's traffic is, so a
receiver that limits only POSTs is judged too, and they create no client and
no message log. A handshake GET would create nothing either, but a receiver
may fairly leave the handshake unlimited.

On loopback and in-process each check bursts from a client address of its
own. Against a remote receiver the suite cannot choose its address: RATE-1
and RATE-3 then burst from the suite's own address, after waiting out one
window so that the suite's earlier (paced) traffic does not count, and
RATE-2 is skipped.
"""

from __future__ import annotations

import re
import time
from email.utils import parsedate_to_datetime

from fakemeta.contract_tests.config import RateLimit
from fakemeta.contract_tests.context import CheckContext
from fakemeta.contract_tests.errors import Skipped
from fakemeta.contract_tests.registry import check
from fakemeta.simulator import ids
from fakemeta.simulator.statuses import delivered, statuses_payload
from fakemeta.simulator.targets import Exchange

_TOO_MANY = 429


def _limit(ctx: CheckContext) -> RateLimit:
    limit = ctx.config.rate_limit
    if limit is None:  # pragma: no cover - the runner skips these without a limit
        raise Skipped("--rate-limit off: the receiver is not expected to limit")
    return limit


def _request(
    ctx: CheckContext, source_ip: str | None, headers: tuple[tuple[str, str], ...] = ()
) -> Exchange:
    """One signed status delivery for a fresh message id, from `source_ip`.

    Never paced: where the suite cannot choose its address it would
    otherwise wait rather than go over the limit it is here to test.
    """
    recipient = ctx.customer("Rate Limit")
    outbound = ids.wamid(recipient.wa_id or "", inbound=False, rng=ctx.rng)
    status = delivered(outbound, recipient, era=ctx.era)
    delivery = ctx.signed(statuses_payload(ctx.account, status, [recipient]))
    for name, value in headers:
        delivery = delivery.with_header(name, value)
    return ctx.post(delivery, source_ip=source_ip, paced=False)


def _first_request(ctx: CheckContext, address: str | None) -> tuple[str | None, Exchange]:
    """The first request from a fresh address, moving on from addresses an
    earlier run left limited (their first request is already a 429)."""
    exchange = _request(ctx, address)  # `address` is fresh: this is its first request
    for _ in range(2):
        if exchange.status != _TOO_MANY or not ctx.addresses.spread:
            break
        ctx.addresses.already_limited(address, exchange.response.header("Retry-After"))
        address = ctx.fresh_address()
        exchange = _request(ctx, address)
    return address, exchange


def _own_window(ctx: CheckContext) -> str | None:
    """A client address whose window is empty: a fresh one, or (remote) the
    suite's own after one window without requests."""
    address = ctx.fresh_address()
    if address is None:
        # A second more, for receivers that count whole seconds.
        time.sleep(_limit(ctx).seconds + 1)
    return address


def _burst_until_limited(ctx: CheckContext, address: str | None) -> Exchange | None:
    """Up to N+1 requests from `address`, stopping at the first 429 (returned)."""
    for _ in range(_limit(ctx).requests + 1):
        exchange = _request(ctx, address)
        if exchange.status == _TOO_MANY:
            return exchange
    return None


def _limited_or_skip(ctx: CheckContext, address: str | None) -> Exchange:
    limited = _burst_until_limited(ctx, address)
    if limited is None:
        limit = _limit(ctx)
        raise Skipped(
            f"{limit.requests + 1} requests from one address were all served, so there is no "
            "429 to judge (RATE-1 reports the missing limit)"
        )
    return limited


@check("RATE-1", last=True)
def request_over_the_limit_is_refused(ctx: CheckContext) -> None:
    """From one client IP, N requests inside the window are served and request N+1 gets 429."""
    limit = _limit(ctx)
    started = time.monotonic()
    address, exchange = _first_request(ctx, _own_window(ctx))
    for number in range(1, limit.requests + 1):
        if number > 1:
            exchange = _request(ctx, address)
        if exchange.status == _TOO_MANY:
            ctx.fail(
                f"request {number} of {limit.requests} from {address or 'one address'} was "
                "answered 429",
                expected=f"the first {limit.requests} requests in {limit.seconds:g} s served "
                f"(--rate-limit {limit})",
                exchange=exchange,
            )
    exchange = _request(ctx, address)
    elapsed = time.monotonic() - started
    if exchange.status != _TOO_MANY:
        if elapsed >= limit.seconds:
            raise Skipped(
                f"the {limit.requests + 1} requests took {elapsed:.0f} s, longer than the "
                f"{limit.seconds:g}-s window: the receiver was too slow to judge its limit"
            )
        ctx.fail(
            f"request {limit.requests + 1} from {address or 'one address'}, {elapsed:.1f} s "
            f"after the first, was answered HTTP {exchange.status}",
            expected=f"HTTP 429: at most {limit.requests} requests per {limit.seconds:g} s per "
            "client IP",
            exchange=exchange,
        )


@check("RATE-2", last=True)
def limit_is_per_address(ctx: CheckContext) -> None:
    """While one client IP is limited, another is still served, and the first stays limited."""
    if not ctx.addresses.spread:
        if ctx.addresses.no_aliases:
            raise Skipped(
                "only 127.0.0.1 can be bound on this machine (macOS: alias more 127.x "
                "addresses on lo0): the suite cannot choose a second client address"
            )
        raise Skipped(
            "the receiver is not on loopback or in-process: the suite cannot choose a second "
            "client address"
        )
    limited = ctx.fresh_address()
    _limited_or_skip(ctx, limited)
    other, exchange = _first_request(ctx, ctx.fresh_address())
    if exchange.status == _TOO_MANY:
        ctx.fail(
            f"the first request from {other} was answered 429 while {limited} was limited",
            expected="a limit per client IP: another address is still served",
            exchange=exchange,
        )
    exchange = _request(ctx, limited)
    if exchange.status != _TOO_MANY:
        ctx.fail(
            f"{limited} was limited, then served again once {other} had sent a request",
            expected=f"HTTP 429 for {limited} until its window has passed",
            exchange=exchange,
        )


_DELTA_SECONDS = re.compile(r"[0-9]+")


@check("RATE-3", last=True)
def limited_answer_carries_retry_after(ctx: CheckContext) -> None:
    """A 429 carries Retry-After: whole seconds or an HTTP date."""
    address = ctx.fresh_address()
    exchange = _limited_or_skip(ctx, address)
    value = exchange.response.header("Retry-After")
    if value is None:
        ctx.fail(
            "the 429 has no Retry-After header",
            expected="Retry-After: <seconds> or an HTTP date, so a client knows when to retry",
            exchange=exchange,
        )
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        ctx.fail(
            f"the 429's Retry-After is {value!r}",
            expected="a non-negative whole number of seconds or an HTTP date "
            "(RFC 9110: Retry-After = HTTP-date / delay-seconds)",
            exchange=exchange,
        )


def _spoofed(ctx: CheckContext, number: int) -> str:
    """A different public-looking client address for every request (never contacted)."""
    first, second = ctx.rng.randint(11, 99), ctx.rng.randint(0, 255)
    return f"{first}.{second}.{number // 256 % 256}.{number % 256}"


@check("RATE-4", last=True)
def forged_forwarded_for_does_not_escape_the_limit(ctx: CheckContext) -> None:
    """One client sending its own X-Forwarded-For, a new address each time, is still limited."""
    limit = _limit(ctx)
    address = _own_window(ctx)
    started = time.monotonic()
    for number in range(1, limit.requests + 2):
        forged = (("X-Forwarded-For", _spoofed(ctx, number)),)
        exchange = _request(ctx, address, forged)
        if exchange.status == _TOO_MANY:
            return
    elapsed = time.monotonic() - started
    if elapsed >= limit.seconds:
        raise Skipped(
            f"the {limit.requests + 1} requests took {elapsed:.0f} s, longer than the "
            f"{limit.seconds:g}-s window: the receiver was too slow to judge its limit"
        )
    # No 429: the receiver keys on the forged header, or does not limit at all.
    if _burst_until_limited(ctx, _own_window(ctx)) is None:
        raise Skipped(
            f"{limit.requests + 1} requests from one address were all served even without "
            "X-Forwarded-For, so there is no limit to escape (RATE-1 reports the missing limit)"
        )
    ctx.fail(
        f"{limit.requests + 1} requests from {address or 'one address'}, each with its own "
        f"X-Forwarded-For, were all served in {elapsed:.1f} s, while the same number without "
        "the header got a 429: the limit keys on a header any client can set",
        expected=f"HTTP 429 by request {limit.requests + 1}: the limit keys on the socket address "
        "(or on the address a trusted proxy appends, the rightmost hops), never on what the "
        "client writes",
        exchange=exchange,
    )
