"""Messages acknowledged per second by the reference receiver under gunicorn, and nothing lost.

Starts, on loopback, each under the same gunicorn (2 workers, 4 threads):
  1. the reference receiver on SQLite (the zero-setup default),
  2. the reference receiver on PostgreSQL (skipped when unreachable),
  3. a minimal receiver that only verifies signatures (benchmarks/receiver_minimal.py),
and, for every size N in --sizes (default 1, 100 and 1,000 messages per
POST), sends each of them --posts unique signed deliveries (one change of N
text messages, Meta-encoded) from --clients threads, --rounds times, taking
turns, so that all three see the same machine at about the same moments.
A reference receiver is left to drain its inbox before the next blast.

Printed per size: the median messages acknowledged (answered 200) per second
of sending, the ratio to the minimal receiver, and for the reference
receiver the messages applied per second (from the first POST until its
inbox was empty) and whether anything was lost: every POST must be answered
200, and once the inbox is empty the message logs in the database must be
exactly the messages acknowledged. The rate limit is off for the run.

    python benchmarks/receiver_throughput.py [--sizes 1,100,1000] [--posts 800,240,60]
        [--rounds 3] [--clients 8] [--inbox-drain thread|external]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fakemeta.reference_receiver.accounts import add_account  # noqa: E402
from fakemeta.reference_receiver.crypto import TokenCipher  # noqa: E402
from fakemeta.reference_receiver.db import create_db_engine, make_session_factory, migrate  # noqa: E402
from fakemeta.reference_receiver.models import (  # noqa: E402
    ACTION_MESSAGE_RECEIVED,
    InboxDelivery,
    IntegrationLog,
)

SECRET = "bench-secret"
PHONE_NUMBER_ID = "106540352242922"
WEBHOOK = "/api/integrations/webhooks/whatsapp/"
POSTGRES_URL = os.environ.get(
    "FAKEMETA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
WORKERS, THREADS = 2, 4
#: Distinct senders per size: the first POSTs create clients, later ones find them.
SENDERS = 1000


@dataclass
class Round:
    """One blast of `posts` deliveries of `size` messages at one target."""

    size: int
    posts: int
    seconds: float
    ok: int
    applied_seconds: float | None = None  # first POST to empty inbox (reference only)
    logged: int | None = None  # message logs added (reference only)
    waiting: int | None = None  # inbox rows left when we stopped waiting

    @property
    def acknowledged(self) -> int:
        return self.ok * self.size

    @property
    def rate(self) -> float:
        return self.acknowledged / self.seconds if self.seconds else 0.0

    @property
    def applied_rate(self) -> float | None:
        if not self.applied_seconds:
            return None
        return self.acknowledged / self.applied_seconds

    @property
    def lost(self) -> bool:
        if self.ok != self.posts:
            return True
        return self.logged is not None and (self.logged != self.acknowledged or bool(self.waiting))


@dataclass
class Target:
    name: str
    url: str
    counter: Counter | None  # None for the minimal receiver: nothing to count
    rounds: dict[int, list[Round]] = field(default_factory=dict)

    def blast(self, size: int, posts: int, clients: int, drain_timeout: float) -> Round:
        work = deliveries(size, posts)
        before = self.counter.logs() if self.counter else 0
        started = time.perf_counter()
        seconds, ok = blast(self.url, work, clients)
        result = Round(size, posts, seconds, ok)
        if self.counter is not None:
            finished, result.waiting = self.counter.drained(drain_timeout)
            result.applied_seconds = finished - started
            result.logged = self.counter.logs() - before
        self.rounds.setdefault(size, []).append(result)
        return result

    def median_rate(self, size: int) -> float:
        return statistics.median(r.rate for r in self.rounds[size])

    def median_applied(self, size: int) -> float | None:
        rates = [r.applied_rate for r in self.rounds[size] if r.applied_rate is not None]
        return statistics.median(rates) if rates else None


def delivery(size: int, tag: str, first_sender: int) -> tuple[bytes, str]:
    """One signed change of `size` text messages, Meta-encoded."""
    senders = [f"2010{(first_sender + i) % SENDERS:07d}" for i in range(size)]
    ids = [f"wamid.{tag}{i:04d}{uuid.uuid4().hex[:12]}" for i in range(size)]
    return signed_text_change(senders, ids)


def signed_text_change(senders: list[str], ids: list[str]) -> tuple[bytes, str]:
    """A delivery of one change with a text message from each sender, Meta-encoded,
    and its signature header."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": f"Sender {s[-4:]}"}, "wa_id": s} for s in senders],
        "messages": [
            {
                "from": sender,
                "id": message_id,
                "timestamp": "1700000000",
                "type": "text",
                "text": {"body": f"مرحبا {i} https://x.y/z"},
            }
            for i, (sender, message_id) in enumerate(zip(senders, ids, strict=True))
        ],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}],
    }
    body = json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()
    return body, "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def deliveries(size: int, posts: int) -> list[tuple[bytes, str]]:
    run = uuid.uuid4().hex[:8]
    return [delivery(size, f"{run}{j:05d}", j * size) for j in range(posts)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(
    target: str, env: dict[str, str], cwd: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(WORKERS),
            "--threads",
            str(THREADS),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            target,
        ],
        env={**os.environ, **env, "PYTHONPATH": f"{ROOT}:{ROOT / 'benchmarks'}"},
        cwd=cwd,
    )
    url = f"http://127.0.0.1:{port}{WEBHOOK}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return process, url
        except httpx.TransportError:
            if process.poll() is not None:
                break
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"gunicorn did not start for {target}")


def start_drainer(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """`fakemeta receiver drain`, for --inbox-drain external."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from fakemeta.simulator.cli import main; main()",
            "receiver",
            "drain",
        ],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=cwd,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def blast(url: str, work: list[tuple[bytes, str]], clients: int) -> tuple[float, int]:
    """Post every delivery from `clients` threads; (seconds, deliveries answered 200)."""
    ok = 0
    lock = threading.Lock()
    position = iter(range(len(work)))

    def worker() -> None:
        nonlocal ok
        with httpx.Client(timeout=60) as http:
            for index in position:
                body, signature = work[index]
                response = http.post(
                    url,
                    content=body,
                    headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
                )
                if response.status_code == 200:
                    with lock:
                        ok += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, ok


def receiver_env(database_url: str, inbox_drain: str = "thread") -> dict[str, str]:
    key = Fernet.generate_key().decode()
    engine = create_db_engine(database_url)
    migrate(engine)
    add_account(
        make_session_factory(engine),
        TokenCipher([key]),
        company="Bench",
        phone_number_id=PHONE_NUMBER_ID,
        phone_number="15550783881",
        access_token="t",
    )
    engine.dispose()
    return {
        "META_CLIENT_SECRET": SECRET,
        "META_WEBHOOK_VERIFY_TOKEN": "bench",
        "INTEGRATION_ENCRYPTION_KEY": key,
        "DATABASE_URL": database_url,
        "RATE_LIMIT": "off",
        "FAKEMETA_PROBE_TOKEN": "",
        "INBOX_DRAIN": inbox_drain,
    }


class Counter:
    """Reads the receiver's database: message logs, and deliveries still in the inbox."""

    def __init__(self, database_url: str) -> None:
        self._engine = create_db_engine(database_url)

    def logs(self) -> int:
        with self._engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count())
                    .select_from(IntegrationLog)
                    .where(IntegrationLog.action == ACTION_MESSAGE_RECEIVED)
                ).scalar_one()
            )

    def waiting(self) -> int:
        with self._engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(InboxDelivery)).scalar_one()
            )

    def drained(self, timeout: float) -> tuple[float, int]:
        """Wait until the inbox is empty; (perf_counter when it was seen empty, rows left)."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.waiting()
            if not left or time.monotonic() > deadline:
                return time.perf_counter(), left
            time.sleep(0.05)

    def close(self) -> None:
        self._engine.dispose()


@contextmanager
def reference(
    name: str, database_url: str, args: argparse.Namespace, cwd: Path
) -> Iterator[Target]:
    """The reference receiver on `database_url` under gunicorn (and a drainer process
    with --inbox-drain external), for as long as the block runs."""
    env = receiver_env(database_url, args.inbox_drain)
    process, url = start_gunicorn("fakemeta.reference_receiver:create_app()", env, cwd)
    drainer = start_drainer(env, cwd) if args.inbox_drain == "external" else None
    counter = Counter(database_url)
    try:
        yield Target(name, url, counter)
    finally:
        counter.close()
        stop(process)
        if drainer is not None:
            stop(drainer)


@contextmanager
def minimal(cwd: Path) -> Iterator[Target]:
    process, url = start_gunicorn("receiver_minimal:app", {"META_CLIENT_SECRET": SECRET}, cwd)
    try:
        yield Target("minimal (signature only)", url, None)
    finally:
        stop(process)


@contextmanager
def postgres_schema() -> Iterator[str | None]:
    """A PostgreSQL URL on a fresh schema (dropped afterwards), or None when unreachable."""
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        print("PostgreSQL unreachable at 127.0.0.1:5432: skipped")
        yield None
        return
    schema = f"fakemeta_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def measure(targets: list[Target], args: argparse.Namespace) -> None:
    """Every size, `--rounds` times, each target in turn (the order rotating, so that
    no target always follows another's drain); each reference drained before the next."""
    for size, posts in zip(args.sizes, args.posts, strict=True):
        for target in targets:  # warm-up: connections, caches, the first clients
            target.blast(size, max(8, posts // 20), args.clients, args.drain_timeout)
            target.rounds[size].clear()
        for number in range(args.rounds):
            shift = number % len(targets)
            for target in targets[shift:] + targets[:shift]:
                target.blast(size, posts, args.clients, args.drain_timeout)


def report(references: list[Target], baseline: Target, args: argparse.Namespace) -> bool:
    print(
        f"\nunique signed deliveries of N text messages from {args.clients} client threads; "
        f"gunicorn -w {WORKERS} --threads {THREADS} on loopback, {os.cpu_count()} CPUs; "
        f"median of {args.rounds} rounds; inbox drained by "
        f"{'the app processes' if args.inbox_drain == 'thread' else 'fakemeta receiver drain'}"
    )
    print(
        f"{'N':>5} {'target':32} {'acked msg/s':>12} {'ratio':>6} "
        f"{'applied msg/s':>14} {'acked':>8} {'logged':>8}  result"
    )
    lost = False
    for size in args.sizes:
        base = baseline.median_rate(size)
        for target in [*references, baseline]:
            rate = target.median_rate(size)
            applied = target.median_applied(size)
            rounds = target.rounds[size]
            acked = sum(r.acknowledged for r in rounds)
            logged = sum(r.logged or 0 for r in rounds) if target.counter else None
            bad = any(r.lost for r in rounds)
            lost = lost or bad
            verdict = "LOST" if bad else "nothing lost" if target.counter else ""
            print(
                f"{size:5d} {target.name:32} {rate:12.0f} {rate / base if base else 0:6.2f} "
                f"{'-' if applied is None else f'{applied:.0f}':>14} {acked:8d} "
                f"{'-' if logged is None else logged:>8}  {verdict}"
            )
    print(
        "acked: answered 200, per second of sending; applied: per second from the first "
        "POST until the inbox was empty; nothing lost: every POST answered 200 and, once "
        "the inbox was empty, message logs = messages acknowledged"
    )
    print("nothing lost" if not lost else "MESSAGES LOST OR NOT ACKNOWLEDGED")
    return lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,100,1000", help="messages per POST")
    parser.add_argument("--posts", default="800,240,60", help="POSTs per size and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument(
        "--inbox-drain",
        choices=["thread", "external"],
        default="thread",
        help="thread: the app processes drain (default); external: one `receiver drain`",
    )
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",")]
    args.posts = [int(posts) for posts in args.posts.split(",")]
    if len(args.posts) != len(args.sizes):
        parser.error("--posts needs one count per size")
    work_dir = Path(tempfile.mkdtemp(prefix="fakemeta-bench-"))
    try:
        with ExitStack() as stack:
            references: list[Target] = []
            if not args.no_sqlite:
                url = f"sqlite:///{work_dir / 'bench.sqlite3'}"
                name = "reference receiver, SQLite"
                references.append(stack.enter_context(reference(name, url, args, work_dir)))
            pg = None if args.no_postgres else stack.enter_context(postgres_schema())
            if pg is not None:
                references.append(
                    stack.enter_context(
                        reference("reference receiver, PostgreSQL", pg, args, work_dir)
                    )
                )
            baseline = stack.enter_context(minimal(work_dir))
            measure([*references, baseline], args)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if report(references, baseline, args) else 0


if __name__ == "__main__":
    raise SystemExit(main())
