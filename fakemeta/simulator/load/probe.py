"""Nothing lost, measured: after a load run, what the receiver stored
against what it acknowledged.

For every inbound message id in an acknowledged delivery this asks the
receiver's probe (`GET {probe}/messages?id=<wamid>`, DESIGN.md's probe
protocol) how many log entries it holds: none is a message acknowledged but
not stored, two or more a message stored twice. A receiver may store after
answering (the reference receiver applies its inbox after the 200, and a
load run can leave a backlog of many seconds), so ids not found are asked
again, after 0.5 s, 1 s, then every 2 s, for as long as each round finds
more of them stored; they count as missing once `settle` seconds pass
without one more found. Requests go `concurrency` at a time; statuses are not
counted, as the probe protocol has no statuses.

A probe is as untrusted as the receiver it belongs to: each request ends
within `timeout` as a whole (`fakemeta.simulator.deadlines`), not per read,
and at most `PROBE_ANSWER_LIMIT` bytes of its answer are read.

`probe_get`, `probe_records` and `probe_unanswered` read any answer of the
probe protocol; the contract suite's HTTP probe
(`fakemeta.contract_tests.probes`) uses them too, with its own error class.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from fakemeta.simulator.bodies import ACCEPT_ENCODING, BoundedBody
from fakemeta.simulator.deadlines import attempt_deadline, enforce_deadlines
from fakemeta.simulator.errors import UsageError

__all__ = [
    "PROBE_ANSWER_LIMIT",
    "Lookup",
    "ProbeCount",
    "ProbeUnusable",
    "count_stored",
    "probe_get",
    "probe_records",
    "probe_unanswered",
    "settled_count",
]

#: Pauses before asking again about ids not found yet; the last repeats.
_RECHECKS = (0.5, 1.0, 2.0)
#: Seconds without one more id found after which those not found are missing.
SETTLE_SECONDS = 10.0
#: The most of one probe answer that is read (a few records are a few hundred bytes).
PROBE_ANSWER_LIMIT = 1024 * 1024


class ProbeUnusable(UsageError):
    """The probe did not answer, refused the token, or answered without a list.

    Cause: a wrong `--probe` URL or `--probe-token`, or a receiver without the
    probe API. Fix: point `--probe` at the probe's base URL (the one that
    serves `/messages?id=`) and give its token.
    """


@dataclass(frozen=True)
class ProbeCount:
    """What the receiver stored against what it acknowledged, by message id."""

    checked: int
    missing: tuple[str, ...]  # acknowledged, not stored
    doubled: tuple[str, ...]  # stored more than once
    statuses_skipped: bool = True

    @property
    def gap(self) -> int:
        return len(self.missing) + len(self.doubled)


#: How many of each message id the receiver stored, for a list of ids.
Lookup = Callable[[list[str]], Mapping[str, int]]


def count_stored(
    probe_url: str,
    token: str | None,
    message_ids: Sequence[str],
    *,
    timeout: float = 10.0,
    concurrency: int = 16,
    on_progress: Callable[[int, int], None] | None = None,
    settle: float = SETTLE_SECONDS,
) -> ProbeCount:
    """Ask the probe about each of `message_ids`; see the module docstring."""

    def lookup(pending: list[str]) -> Mapping[str, int]:
        return asyncio.run(_ask(probe_url, token, pending, timeout, concurrency, on_progress))

    return settled_count(lookup, message_ids, settle=settle)


def settled_count(
    lookup: Lookup, message_ids: Sequence[str], *, settle: float = SETTLE_SECONDS
) -> ProbeCount:
    """Count `message_ids` with `lookup` (the probe over HTTP, or a receiver's own
    store in this process), asking again about ids not found yet as the module
    docstring says."""
    unique = list(dict.fromkeys(message_ids))
    counts: dict[str, int] = {}
    pending = unique
    found_at = time.monotonic()
    for round_number in itertools.count():
        if round_number:
            time.sleep(_RECHECKS[min(round_number, len(_RECHECKS)) - 1])
        counts.update(lookup(pending))
        still = [m for m in pending if not counts.get(m)]
        if len(still) < len(pending):
            found_at = time.monotonic()
        pending = still
        if not pending or time.monotonic() - found_at >= settle:
            break
    missing = tuple(m for m in unique if not counts.get(m))
    doubled = tuple(m for m in unique if counts.get(m, 0) > 1)
    return ProbeCount(len(unique), missing, doubled)


async def _ask(
    probe_url: str,
    token: str | None,
    message_ids: list[str],
    timeout: float,
    concurrency: int,
    on_progress: Callable[[int, int], None] | None,
) -> dict[str, int]:
    """One round over HTTP: `GET {probe}/messages?id=` for each id, `concurrency` at a time."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    base = probe_url.rstrip("/") + "/messages"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for message_id in message_ids:
        queue.put_nowait(message_id)
    counts: dict[str, int] = {}
    client = httpx.AsyncClient(headers=headers, timeout=timeout, trust_env=False, limits=limits)
    async with enforce_deadlines(client):

        async def ask() -> None:
            while True:
                try:
                    message_id = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                counts[message_id] = await _stored(client, base, message_id)
                if on_progress is not None and len(counts) % 500 == 0:
                    on_progress(len(counts), len(message_ids))

        await asyncio.gather(*(ask() for _ in range(concurrency)))
    return counts


async def _stored(client: httpx.AsyncClient, base: str, message_id: str) -> int:
    response = await aprobe_get(client, base, {"id": message_id})
    return len(probe_records(response, base, "messages"))


def probe_get(
    client: httpx.Client,
    url: str,
    params: Mapping[str, str],
    *,
    error: type[UsageError] = ProbeUnusable,
) -> httpx.Response:
    """`GET url?params` on a client that went through `enforce_deadlines`:
    the answer, read within the client's read timeout as a whole and at most
    `PROBE_ANSWER_LIMIT` bytes of it, or `error` in one line."""
    timeout = client.timeout.read
    try:
        with (
            attempt_deadline(timeout),
            client.stream("GET", url, params=params, headers=_CODINGS) as response,
        ):
            body = BoundedBody(response.headers.get("content-encoding", ""), PROBE_ANSWER_LIMIT)
            body.read(response.iter_raw())
    except httpx.TimeoutException:
        raise _too_slow(url, timeout, error) from None
    except httpx.HTTPError as exc:
        raise probe_unanswered(url, exc, error=error) from None
    return _answer(url, response, body, error)


async def aprobe_get(
    client: httpx.AsyncClient,
    url: str,
    params: Mapping[str, str],
    *,
    error: type[UsageError] = ProbeUnusable,
) -> httpx.Response:
    """`probe_get` for an asyncio client."""
    timeout = client.timeout.read
    try:
        with attempt_deadline(timeout):
            async with client.stream("GET", url, params=params, headers=_CODINGS) as response:
                body = BoundedBody(response.headers.get("content-encoding", ""), PROBE_ANSWER_LIMIT)
                await body.aread(response.aiter_raw())
    except httpx.TimeoutException:
        raise _too_slow(url, timeout, error) from None
    except httpx.HTTPError as exc:
        raise probe_unanswered(url, exc, error=error) from None
    return _answer(url, response, body, error)


_CODINGS = {"Accept-Encoding": ACCEPT_ENCODING}


def _too_slow(url: str, timeout: float | None, error: type[UsageError]) -> UsageError:
    waited = "in time" if timeout is None else f"after {timeout:g} s"
    return error(f"probe {url} had not answered in full {waited}; check --probe")


def _answer(
    url: str, response: httpx.Response, body: BoundedBody, error: type[UsageError]
) -> httpx.Response:
    if body.truncated:
        raise error(
            f"probe {url} answered more than {PROBE_ANSWER_LIMIT // 1024} KiB; "
            "a probe answers with the few records of one id"
        )
    # The bytes are decoded already: no Content-Encoding goes with them.
    kind = response.headers.get("content-type", "application/json")
    return httpx.Response(
        response.status_code, headers={"content-type": kind}, content=bytes(body.kept)
    )


def probe_unanswered(
    url: str, exc: httpx.HTTPError, *, error: type[UsageError] = ProbeUnusable
) -> UsageError:
    """The `error` to raise when a request to the probe at `url` got no answer."""
    return error(f"probe {url} did not answer ({exc or type(exc).__name__}); check --probe")


def probe_records(
    response: httpx.Response, url: str, key: str, *, error: type[UsageError] = ProbeUnusable
) -> list[Any]:
    """The `key` list ("messages", "clients") of the probe's answer from
    `url`, or `error` saying in one line what is wrong with the answer."""
    if response.status_code in (401, 403):
        raise error(
            f"probe {url} refused the token (HTTP {response.status_code}); check --probe-token"
        )
    if response.status_code != 200:
        raise error(f"probe {url} answered HTTP {response.status_code}; check --probe")
    try:
        records = response.json()[key]
    except (ValueError, KeyError, TypeError):
        raise error(
            f"probe {url} answered without a {key!r} list: {response.text[:120]!r}"
        ) from None
    if not isinstance(records, list):
        raise error(f"probe {url}: {key!r} is not a list")
    return records
