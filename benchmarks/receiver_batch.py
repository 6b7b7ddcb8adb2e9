"""Seconds to acknowledge one batched delivery, to apply it, and to acknowledge it again.

Meta batches up to 1000 updates in one POST and TIME-1 wants every valid
delivery acknowledged within 3 s. This posts one change with N text messages
from N new senders (Meta-encoded and signed), waits until the receiver's
drainer has applied it (its inbox is empty again), then posts the same bytes
again (a redelivery: nothing new to store), to each of, one after the other
on loopback under gunicorn (2 workers, 4 threads, as receiver_throughput.py):
  1. the reference receiver on SQLite,
  2. the reference receiver on PostgreSQL (skipped when unreachable),
  3. the minimal receiver that only verifies signatures (receiver_minimal.py).
Each size is posted --repeats times with fresh senders and ids; the median is
printed with its ratio to the minimal receiver for the same size. Afterwards
the clients and message logs in each database are counted: one per message.

    python benchmarks/receiver_batch.py [--sizes 1,100,1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from receiver_throughput import (
    SECRET,
    Counter,
    postgres_schema,
    receiver_env,
    signed_text_change,
    start_gunicorn,
    stop,
)
from sqlalchemy import func, select

from fakemeta.reference_receiver.db import create_db_engine
from fakemeta.reference_receiver.models import ACTION_MESSAGE_RECEIVED, Client, IntegrationLog


@dataclass
class Timings:
    name: str
    new: dict[int, list[float]] = field(default_factory=dict)
    applied: dict[int, list[float]] = field(default_factory=dict)  # POST until inbox empty
    again: dict[int, list[float]] = field(default_factory=dict)
    failures: int = 0
    stored: tuple[int, int] | None = None  # (clients, logs)


def batch(size: int, run: str) -> tuple[bytes, str]:
    """One signed change with `size` text messages from `size` senders never seen before."""
    senders = [f"20{run}{i:05d}" for i in range(size)]
    return signed_text_change(senders, [f"wamid.{uuid.uuid4().hex}" for _ in senders])


def measure(
    name: str, url: str, sizes: list[int], repeats: int, counter: Counter | None = None
) -> tuple[Timings, int]:
    """Post every size `repeats` times, new then again; returns timings and messages sent.
    With `counter` (a reference receiver), waits for the inbox to empty after each POST."""
    timings = Timings(name)
    sent = 0
    runs = iter(range(10**6))
    with httpx.Client(timeout=120) as http:

        def post(body: bytes, signature: str) -> tuple[float, float]:
            """(seconds to the 200, seconds until the inbox was empty again)."""
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
            started = time.perf_counter()
            response = http.post(url, content=body, headers=headers)
            seconds = time.perf_counter() - started
            if response.status_code != 200:
                timings.failures += 1
            applied = seconds
            if counter is not None:
                while counter.waiting():
                    time.sleep(0.002)
                applied = time.perf_counter() - started
            return seconds, applied

        for _ in range(2):  # warm both workers' connections and statement caches
            warm = batch(10, f"{next(runs):04d}")
            post(*warm)
            sent += 10
        for size in sizes:
            for _ in range(repeats):
                body, signature = batch(size, f"{next(runs):04d}")
                new, applied = post(body, signature)
                timings.new.setdefault(size, []).append(new)
                timings.applied.setdefault(size, []).append(applied)
                timings.again.setdefault(size, []).append(post(body, signature)[0])
                sent += size
    return timings, sent


def counted(database_url: str) -> tuple[int, int]:
    engine = create_db_engine(database_url)
    with engine.connect() as connection:
        clients = connection.execute(select(func.count()).select_from(Client)).scalar_one()
        logs = connection.execute(
            select(func.count())
            .select_from(IntegrationLog)
            .where(IntegrationLog.action == ACTION_MESSAGE_RECEIVED)
        ).scalar_one()
    engine.dispose()
    return int(clients), int(logs)


def run_reference(
    name: str, database_url: str, args: argparse.Namespace, cwd: Path
) -> tuple[Timings, int]:
    process, url = start_gunicorn(
        "fakemeta.reference_receiver:create_app()", receiver_env(database_url), cwd
    )
    counter = Counter(database_url)
    try:
        timings, sent = measure(name, url, args.sizes, args.repeats, counter)
    finally:
        counter.close()
        stop(process)
    timings.stored = counted(database_url)
    return timings, sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,100,1000", help="comma-separated batch sizes")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",")]
    work_dir = Path(tempfile.mkdtemp(prefix="fakemeta-bench-"))
    results: list[tuple[Timings, int]] = []
    try:
        results.append(
            run_reference(
                "reference, SQLite", f"sqlite:///{work_dir / 'bench.sqlite3'}", args, work_dir
            )
        )
        with postgres_schema() as url:
            if url is not None:
                results.append(run_reference("reference, PostgreSQL", url, args, work_dir))
        process, url = start_gunicorn(
            "receiver_minimal:app", {"META_CLIENT_SECRET": SECRET}, work_dir
        )
        try:
            results.append(measure("minimal (signature only)", url, args.sizes, args.repeats))
        finally:
            stop(process)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)

    baseline = results[-1][0]
    print(
        f"\none change of N text messages from N new senders, applied, then the same bytes "
        f"again; median of {args.repeats}, gunicorn -w 2 --threads 4, loopback"
    )
    print(
        f"{'N':>5} {'target':26} {'ack s':>8} {'ratio':>7} {'applied s':>10} "
        f"{'again s':>8} {'ratio':>7}"
    )
    for size in args.sizes:
        base_new = statistics.median(baseline.new[size])
        base_again = statistics.median(baseline.again[size])
        for timings, _ in results:
            new = statistics.median(timings.new[size])
            applied = statistics.median(timings.applied[size])
            again = statistics.median(timings.again[size])
            print(
                f"{size:5d} {timings.name:26} {new:8.3f} {new / base_new:7.1f} {applied:10.3f} "
                f"{again:8.3f} {again / base_again:7.1f}"
            )
    wrong = False
    for timings, sent in results:
        if timings.failures:
            print(f"{timings.name}: {timings.failures} POST(s) not answered 200")
            wrong = True
        if timings.stored is not None:
            clients, logs = timings.stored
            print(f"{timings.name}: {sent} messages sent, {clients} clients, {logs} logs stored")
            wrong = wrong or clients != sent or logs != sent
    print("nothing lost, nothing doubled" if not wrong else "WRONG COUNTS OR FAILED POSTS")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
