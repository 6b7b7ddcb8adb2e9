"""Nothing lost, measured: after a load run, what the receiver stored
against what it acknowledged.

For every inbound message id in an acknowledged delivery this asks the
receiver's probe (`GET {probe}/messages?id=<wamid>`, DESIGN.md's probe
protocol) how many log entries it holds: none is a message acknowledged but
not stored, two or more a message stored twice. A receiver may store after
answering, so ids not found are asked again after 1 s and 2 s before they
count as missing. Requests go `concurrency` at a time; statuses are not
counted, as the probe protocol has no statuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import httpx

from simulator.errors import UsageError
from simulator.load.report import ProbeCount

__all__ = ["ProbeUnusable", "count_stored"]

_RECHECKS = (1.0, 2.0)


class ProbeUnusable(UsageError):
    """The probe did not answer, refused the token, or answered without a list.

    Cause: a wrong `--probe` URL or `--probe-token`, or a receiver without the
    probe API. Fix: point `--probe` at the probe's base URL (the one that
    serves `/messages?id=`) and give its token.
    """


def count_stored(
    probe_url: str,
    token: str | None,
    message_ids: Sequence[str],
    *,
    timeout: float = 10.0,
    concurrency: int = 16,
    on_progress: Callable[[int, int], None] | None = None,
) -> ProbeCount:
    """Ask the probe about each of `message_ids`; see the module docstring."""
    return asyncio.run(
        _count(
            probe_url, token, list(dict.fromkeys(message_ids)), timeout, concurrency, on_progress
        )
    )


async def _count(
    probe_url: str,
    token: str | None,
    message_ids: list[str],
    timeout: float,
    concurrency: int,
    on_progress: Callable[[int, int], None] | None,
) -> ProbeCount:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    base = probe_url.rstrip("/") + "/messages"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        headers=headers, timeout=timeout, trust_env=False, limits=limits
    ) as client:
        counts: dict[str, int] = {}
        done = 0

        async def ask(queue: asyncio.Queue[str]) -> None:
            nonlocal done
            while True:
                try:
                    message_id = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                counts[message_id] = await _stored(client, base, message_id)
                done += 1
                if on_progress is not None and done % 500 == 0:
                    on_progress(done, len(message_ids))

        pending = message_ids
        for delay in (0.0, *_RECHECKS):
            if not pending:
                break
            await asyncio.sleep(delay)
            queue: asyncio.Queue[str] = asyncio.Queue()
            for message_id in pending:
                queue.put_nowait(message_id)
            await asyncio.gather(*(ask(queue) for _ in range(concurrency)))
            pending = [m for m in pending if counts[m] == 0]
    missing = tuple(m for m in message_ids if counts[m] == 0)
    doubled = tuple(m for m in message_ids if counts[m] > 1)
    return ProbeCount(len(message_ids), missing, doubled)


async def _stored(client: httpx.AsyncClient, base: str, message_id: str) -> int:
    try:
        response = await client.get(base, params={"id": message_id})
    except httpx.HTTPError as exc:
        raise ProbeUnusable(f"probe {base} did not answer ({exc or type(exc).__name__})") from None
    if response.status_code in (401, 403):
        raise ProbeUnusable(
            f"probe {base} refused the token (HTTP {response.status_code}); check --probe-token"
        )
    if response.status_code != 200:
        raise ProbeUnusable(f"probe {base} answered HTTP {response.status_code}; check --probe")
    try:
        records = response.json()["messages"]
    except (ValueError, KeyError, TypeError):
        raise ProbeUnusable(
            f"probe {base} answered without a 'messages' list: {response.text[:80]!r}"
        ) from None
    if not isinstance(records, list):
        raise ProbeUnusable(f"probe {base}: 'messages' is not a list")
    return len(records)
