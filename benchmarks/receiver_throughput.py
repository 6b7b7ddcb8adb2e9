"""Messages stored per second by the reference receiver under gunicorn (2 workers).

Runs, one after the other on loopback, in the same process run:
  1. the reference receiver on SQLite,
  2. the reference receiver on PostgreSQL (skipped when unreachable),
  3. a minimal receiver that only verifies signatures (benchmarks/receiver_minimal.py),
and sends each the same N unique signed deliveries (one text message each,
Meta-encoded) from C client threads. Prints messages/s for each, the ratio
to the minimal receiver, and checks that every message was stored once
(rows counted in the database). The rate limit is off for the run.

    python benchmarks/receiver_throughput.py [--messages 2000] [--clients 8]
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
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reference_receiver.accounts import add_account  # noqa: E402
from reference_receiver.crypto import TokenCipher  # noqa: E402
from reference_receiver.db import create_db_engine, make_session_factory, migrate  # noqa: E402
from reference_receiver.models import ACTION_MESSAGE_RECEIVED, IntegrationLog  # noqa: E402

SECRET = "bench-secret"
PHONE_NUMBER_ID = "106540352242922"
WEBHOOK = "/api/integrations/webhooks/whatsapp/"
POSTGRES_URL = os.environ.get(
    "FAKEMETA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass
class Result:
    name: str
    messages: int
    seconds: float
    ok: int
    stored: int | None

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def deliveries(count: int, senders: int) -> list[tuple[bytes, str]]:
    out = []
    for i in range(count):
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550783881",
                                    "phone_number_id": PHONE_NUMBER_ID,
                                },
                                "contacts": [
                                    {
                                        "profile": {"name": f"Sender {i % senders}"},
                                        "wa_id": f"2010{i % senders:07d}",
                                    }
                                ],
                                "messages": [
                                    {
                                        "from": f"2010{i % senders:07d}",
                                        "id": f"wamid.{uuid.uuid4().hex}",
                                        "timestamp": "1700000000",
                                        "type": "text",
                                        "text": {"body": f"مرحبا {i} https://x.y/z"},
                                    }
                                ],
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        }
        body = json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        out.append((body, signature))
    return out


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
            "2",
            "--threads",
            "4",
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


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def blast(url: str, work: list[tuple[bytes, str]], clients: int, limit: float) -> tuple[float, int]:
    ok = 0
    lock = threading.Lock()
    position = iter(range(len(work)))
    deadline = time.monotonic() + limit

    def worker() -> None:
        nonlocal ok
        with httpx.Client(timeout=30) as http:
            for index in position:
                if time.monotonic() > deadline:
                    return
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


def receiver_env(database_url: str) -> dict[str, str]:
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
    }


def stored(database_url: str) -> int:
    engine = create_db_engine(database_url)
    with engine.connect() as connection:
        logs = connection.execute(
            select(func.count())
            .select_from(IntegrationLog)
            .where(IntegrationLog.action == ACTION_MESSAGE_RECEIVED)
        ).scalar_one()
    engine.dispose()
    return int(logs)


def run_receiver(
    name: str, url_db: str, work: list[tuple[bytes, str]], args: argparse.Namespace, cwd: Path
) -> Result:
    process, url = start_gunicorn("reference_receiver:create_app()", receiver_env(url_db), cwd)
    try:
        seconds, ok = blast(url, work, args.clients, args.time_limit)
    finally:
        stop(process)
    return Result(name, len(work), seconds, ok, stored(url_db))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--senders", type=int, default=200)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per target")
    args = parser.parse_args()
    work_dir = Path(tempfile.mkdtemp(prefix="fakemeta-bench-"))
    results: list[Result] = []
    try:
        results.append(
            run_receiver(
                "reference receiver, SQLite",
                f"sqlite:///{work_dir / 'bench.sqlite3'}",
                deliveries(args.messages, args.senders),
                args,
                work_dir,
            )
        )
        try:
            socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
            pg_ok = True
        except OSError:
            pg_ok = False
            print("PostgreSQL unreachable at 127.0.0.1:5432: skipped")
        if pg_ok:
            schema = f"fakemeta_bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(POSTGRES_URL)
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
                results.append(
                    run_receiver(
                        "reference receiver, PostgreSQL",
                        url,
                        deliveries(args.messages, args.senders),
                        args,
                        work_dir,
                    )
                )
            finally:
                with admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
        process, url = start_gunicorn(
            "receiver_minimal:app", {"META_CLIENT_SECRET": SECRET}, work_dir
        )
        try:
            seconds, ok = blast(
                url, deliveries(args.messages, args.senders), args.clients, args.time_limit
            )
        finally:
            stop(process)
        results.append(Result("minimal (signature only)", args.messages, seconds, ok, None))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)

    baseline = results[-1].rate
    print(
        f"\n{args.messages} unique signed messages, {args.clients} client threads, "
        f"gunicorn -w 2 --threads 4, loopback"
    )
    print(f"{'target':34} {'msg/s':>9} {'ratio':>7} {'200s':>6} {'stored':>7}")
    lost = False
    for result in results:
        ratio = result.rate / baseline if baseline else 0.0
        shown = "-" if result.stored is None else str(result.stored)
        print(f"{result.name:34} {result.rate:9.1f} {ratio:7.2f} {result.ok:6d} {shown:>7}")
        if result.ok != result.messages or (
            result.stored is not None and result.stored != result.messages
        ):
            lost = True
    print("nothing lost" if not lost else "MESSAGES LOST OR NOT ACKNOWLEDGED")
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
