"""Requests per second of `fakemeta send URL text --repeat N`, next to the Sender API.

Starts a trivial HTTP endpoint on 127.0.0.1 in a process of its own (the
asyncio endpoint of `sender_throughput.py`: answers every request `200 ok`
at once, keep-alive), or uses `--url`, another endpoint on loopback (nginx
answering `return 200`, say). Then, against that same endpoint, in turns:

- sender: N unique signed deliveries built beforehand, sent by
  `Sender(HttpTarget(url), schedule=NO_RETRIES).send(deliveries)` in this
  process (what `sender_throughput.py` measures);
- cli: `fakemeta send URL text --repeat N` as a subprocess, the way users
  run it: it builds N deliveries (fresh ids, Meta-encoded, signed), prints a
  line for each, sends them and prints every attempt. Its output goes to a
  pipe that is read and checked (`N of N deliveries acknowledged`);
- cli startup: the same command with `--repeat 1` (3 runs a round):
  interpreter start, imports (subcommands load lazily, so `send` imports
  neither the reference receiver nor the contract suite), one build and
  one request: the part of a run that does not grow with N.

Every side runs `--rounds` times, alternating, and the best round of each
counts. Prints the sender's rate, the command's rate end to end (startup
included) and per request (`(N - 1) / (time(N) - time(1))`, startup taken
out), and the ratio of each to the sender. Target: at least 0.5 of the
sender, whole command included.

    python benchmarks/send_repeat.py [--count 2000] [--rounds 3] [--url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fakemeta.simulator.sender import NO_RETRIES, Sender
from fakemeta.simulator.targets import HttpTarget

ROOT = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret"
TIMEOUT = 300.0  # seconds for one command run, however slow
STARTUP_RUNS = 3
CLI = "import sys; from fakemeta.simulator.cli import main; sys.argv[0] = 'fakemeta'; main()"


def serve_endpoint() -> None:
    """The endpoint process: print the URL, then answer until killed."""
    from sender_throughput import _Endpoint

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(_Endpoint, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}/webhook", flush=True)
    loop.run_forever()


def start_endpoint() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-endpoint"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url:
        process.kill()
        raise SystemExit("the endpoint did not start")
    return process, url


def check_loopback(url: str) -> None:
    host = httpx.URL(url).host
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"{url}: this benchmark sends to loopback addresses only")


def sender(url: str, count: int) -> float:
    """The Sender API's rate on `count` deliveries built before the clock starts."""
    from sender_throughput import build

    deliveries = build(count)
    with HttpTarget(url) as target:
        start = time.perf_counter()
        result = Sender(target, schedule=NO_RETRIES).send(deliveries)
        elapsed = time.perf_counter() - start
    assert len(result.acknowledged) == count == len(result.attempts)
    return count / elapsed


def cli(url: str, count: int) -> float:
    """Seconds for `fakemeta send URL text --repeat count`, start to exit."""
    command = [sys.executable, "-c", CLI, "send", url, "text", "--repeat", str(count)]
    env = {**os.environ, "META_CLIENT_SECRET": SECRET}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or f"{count} of {count} deliveries acknowledged" not in done.stdout:
        raise SystemExit(f"fakemeta send failed ({done.returncode}): {done.stderr.strip()}")
    built = sum(
        1 for line in done.stdout.splitlines() if line.startswith("delivery ") and "bytes" in line
    )
    assert built == count, (built, count)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="deliveries per round (2..100000)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", help="an endpoint on loopback answering 200 (default: start one)")
    parser.add_argument("--serve-endpoint", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_endpoint:
        serve_endpoint()
        return
    if not 2 <= args.count <= 100_000:
        parser.error("--count must be between 2 and 100000")

    process = None
    if args.url:
        check_loopback(args.url)
        url = args.url
    else:
        process, url = start_endpoint()
    try:
        sender(url, 100)  # warm up the endpoint and this process's imports
        best_sender = 0.0
        best_cli = best_startup = float("inf")
        for _ in range(args.rounds):
            best_sender = max(best_sender, sender(url, args.count))
            best_cli = min(best_cli, cli(url, args.count))
            for _ in range(STARTUP_RUNS):  # short runs: more of them, for a steadier minimum
                best_startup = min(best_startup, cli(url, 1))
    finally:
        if process is not None:
            process.kill()
            process.wait()

    end_to_end = args.count / best_cli
    per_request = (args.count - 1) / max(best_cli - best_startup, 1e-9)
    where = url if args.url else f"{url} (asyncio, own process, answers 200)"
    print(f"endpoint: {where}")
    print(f"deliveries per round: {args.count}, unique and signed; best of {args.rounds} rounds")
    print(f"sender API:                 {best_sender:8.0f} requests/s")
    print(
        f"fakemeta send --repeat:     {end_to_end:8.0f} requests/s end to end"
        f" ({best_cli:.2f} s, of which startup {best_startup:.2f} s)"
    )
    print(f"fakemeta send, per request: {per_request:8.0f} requests/s (startup taken out)")
    print(f"end to end / sender:        {end_to_end / best_sender:8.2f}")
    print(f"per request / sender:       {per_request / best_sender:8.2f}  (target >= 0.5)")


if __name__ == "__main__":
    main()
