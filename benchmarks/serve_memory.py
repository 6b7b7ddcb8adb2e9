"""Does `fakemeta serve` stay flat in memory as distinct customers pile up?

Starts `fakemeta serve` as a subprocess on 127.0.0.1 (a free port, no
webhook receiver: every webhook waits in the bounded queue), then, for each
of N distinct customer numbers, sends one customer message through the
control API (`POST /_fakemeta/inbound`) and one business reply through the
Graph API (`POST /v23.0/<phone-number-id>/messages`), the way the tests in
tests/simulator/graph do. It reads the server's resident set size
(`/proc/<pid>/status`, VmRSS) before the first customer, after
`--first` customers (5,000) and after `--count` customers (50,000 in all).

Messages (`--max-messages`, 10,000 by default) and pending webhooks
(`--max-pending-webhooks`, 10,000) are full once 5,000 customers have each
written and been answered, so whatever still grows between the two
readings is kept per customer: windows, rate buckets, billing
conversations, the contact book. The ratio of the two growths tells: about
`count / first` (10) means it grows with every customer, about 1 means flat.

    python benchmarks/serve_memory.py [--first 5000] [--count 50000]
        [--workers 8] [--max-users N]

`--max-users N` is passed to `fakemeta serve` (a server too old to have the
option refuses to start). Linux only (reads /proc). Takes about a minute or
two for the default counts; `--timeout` (300 s) bounds it.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "serve-memory-benchmark-token"
PNID = "106540352242922"  # fakemeta serve's default phone number id
CLI = "import sys; from fakemeta.simulator.cli import main; sys.argv[0] = 'fakemeta'; main()"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def launch(port: int, max_users: int | None) -> subprocess.Popen[str]:
    args = [
        sys.executable, "-c", CLI, "serve",
        "--host", "127.0.0.1", "--port", str(port),
        "--access-token", TOKEN,
        "--throughput", str(10**9),  # not what is measured: no 130429
        "--sent-after", "0", "--delivered-after", "off", "--no-read",
    ]  # fmt: skip
    if max_users is not None:
        args += ["--max-users", str(max_users)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("META_WEBHOOK_VERIFY_TOKEN", "META_CLIENT_SECRET", "WHATSAPP_ACCESS_TOKEN"):
        env.pop(name, None)
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )


def wait_ready(process: subprocess.Popen[str], base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, err = process.communicate()
            raise SystemExit(f"fakemeta serve exited {process.returncode}: {err.strip()}")
        try:
            if httpx.get(f"{base}/_fakemeta/", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("fakemeta serve did not answer in time")


def customer(n: int) -> str:
    return f"1555{n:07d}"


def drive(base: str, start: int, stop: int, workers: int, deadline: float) -> None:
    """Customers start..stop-1: each writes once and is answered once."""
    local = threading.local()
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def one(n: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base, timeout=30)
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark ran past --timeout")
        wa_id = customer(n)
        sent = client.post("/_fakemeta/inbound", json={"from": wa_id, "text": f"hello {n}"})
        if sent.status_code != 202:
            raise RuntimeError(f"inbound {n}: {sent.status_code} {sent.text}")
        reply = {"messaging_product": "whatsapp", "to": wa_id, "type": "text",
                 "text": {"body": f"reply {n}"}}  # fmt: skip
        answer = client.post(f"/v23.0/{PNID}/messages", headers=headers, json=reply)
        if answer.status_code != 200:
            raise RuntimeError(f"reply {n}: {answer.status_code} {answer.text}")

    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(one, range(start, stop), chunksize=64):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", type=int, default=5_000)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--max-users", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=300.0)
    options = parser.parse_args()
    if not 0 < options.first < options.count:
        parser.error("expected 0 < --first < --count")
    deadline = time.monotonic() + options.timeout
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = launch(port, options.max_users)
    try:
        wait_ready(process, base)
        drive(base, 0, 50, options.workers, deadline)  # warm up: imports, threads, caches
        baseline = rss_kib(process.pid)
        started = time.monotonic()
        drive(base, 50, 50 + options.first, options.workers, deadline)
        at_first = rss_kib(process.pid)
        drive(base, 50 + options.first, 50 + options.count, options.workers, deadline)
        at_count = rss_kib(process.pid)
        elapsed = time.monotonic() - started
        limits = httpx.get(f"{base}/_fakemeta/", timeout=10).json()["limits"]
    finally:
        process.terminate()
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
    first_growth = at_first - baseline
    count_growth = at_count - baseline
    print(f"fakemeta serve, {'default' if options.max_users is None else options.max_users}"
          f" --max-users, {options.count} customers x (1 inbound + 1 reply)"
          f" in {elapsed:.1f} s")  # fmt: skip
    print(f"  RSS before              {baseline / 1024:8.1f} MiB")
    print(f"  RSS growth after {options.first:>6}  {first_growth / 1024:8.1f} MiB")
    print(f"  RSS growth after {options.count:>6}  {count_growth / 1024:8.1f} MiB")
    ratio = count_growth / first_growth if first_growth > 0 else float("inf")
    print(f"  ratio                   {ratio:8.2f}  (customers x{options.count / options.first:g};"
          " ~1 is flat)")  # fmt: skip
    shown = {k: v for k, v in limits.items() if k in ("messages", "pending_webhooks", "users",
                                                      "max_users", "evicted")}  # fmt: skip
    print(f"  limits                  {shown}")


if __name__ == "__main__":
    main()
