"""Requests per second of Locust with the shipped user class, next to a bare FastHttpUser.

Starts nginx on 127.0.0.1 (`return 200` to everything, keep-alive, no
access log; its own prefix in a temporary directory), or, when no nginx is
installed (`apt-get install nginx`), the asyncio endpoint of
`sender_throughput.py` in a process of its own; the output says which.
Then runs Locust headless in one process, `--seconds` each, with the same
number of users, in turns:

- bare: a `FastHttpUser` whose one task posts one fixed body (made by
  `BodyFactory`, of the mix's median size) with fixed headers, nothing else;
- shipped: `fakemeta/simulator/load/locustfile.py` as it is (`WhatsAppWebhookUser`
  with its defaults: a fresh, signed body of the default mix every request,
  a non-200 answer counted as a failure).

The rate of a run is its steady state: requests in Locust's per-second
counts, the first and last (partial) seconds left out. Beside it, requests
per CPU-second of Locust's process while the test ran: on a busy machine
the wall-clock rate swings with what else runs, the CPU cost per request
much less. Every side runs `--rounds` times, alternating, and the best
round of each counts. Prints both measures and their ratios. Target:
shipped at least 0.8 of bare in requests/s.

    python benchmarks/locust_user.py [--seconds 10] [--users 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _nginx import find_nginx, start_nginx

from fakemeta.simulator.eras import CURRENT
from fakemeta.simulator.graph.state import DEFAULT_PHONE_NUMBER
from fakemeta.simulator.load.bodies import BodyFactory, BodySpec
from fakemeta.simulator.load.mix import DEFAULT_MIX, parse_mix

ROOT = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret"
TARGET = 0.8
SHIPPED = ROOT / "fakemeta" / "simulator" / "load" / "locustfile.py"

BARE = """
import json
from pathlib import Path

from locust import FastHttpUser, task

_fixed = json.loads(Path(__file__).with_name("fixed.json").read_text())
BODY = _fixed["body"].encode("utf-8")
HEADERS = _fixed["headers"]


class Bare(FastHttpUser):
    @task
    def post(self):
        self.client.post("", data=BODY, headers=HEADERS)
"""

# Loaded beside either locustfile (`-f a.py,cpu.py`): the CPU time Locust's
# process spent while the test ran, which a busy machine disturbs far less
# than the wall-clock rate.
CPU = """
import json
import os
import time
from pathlib import Path

from locust import events

_start = []


@events.test_start.add_listener
def _started(**_):
    _start.append(time.process_time())


@events.test_stop.add_listener
def _stopped(environment, **_):
    cpu = time.process_time() - _start[0]
    requests = environment.stats.total.num_requests
    Path(os.environ["FAKEMETA_BENCH_CPU"]).write_text(json.dumps([cpu, requests]))
"""


def start_stub() -> tuple[subprocess.Popen[bytes], str]:
    """The asyncio endpoint of sender_throughput.py in a process of its own."""
    code = (
        "import asyncio, sys; sys.path.insert(0, sys.argv[1]);"
        "from sender_throughput import _Endpoint;"
        "loop = asyncio.new_event_loop();"
        "server = loop.run_until_complete(loop.create_server(_Endpoint, '127.0.0.1', 0));"
        "print(server.sockets[0].getsockname()[1], flush=True); loop.run_forever()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(Path(__file__).parent)], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    port = process.stdout.readline().decode().strip()
    if not port:
        process.kill()
        raise SystemExit("the stub endpoint did not start")
    return process, f"http://127.0.0.1:{port}/webhook"


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            if httpx.post(url, content=b"{}").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the endpoint at {url} does not answer 200")
        time.sleep(0.05)


def write_fixed(directory: Path) -> None:
    """A body of the median size of the default mix, and its headers, for the bare user."""
    spec = BodySpec(parse_mix(DEFAULT_MIX), CURRENT, DEFAULT_PHONE_NUMBER.account, SECRET)
    factory = BodyFactory(spec, random.Random(1))
    made = sorted((factory.make() for _ in range(201)), key=lambda m: len(m[0]))
    body, sha256, sha1 = made[100]
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "facebookexternalua",
        "X-Hub-Signature-256": sha256.decode(),
        "X-Hub-Signature": sha1.decode(),
    }
    fixed = {"body": body.decode("utf-8"), "headers": headers}
    (directory / "fixed.json").write_text(json.dumps(fixed))


def run_locust(
    locustfile: Path, url: str, users: int, seconds: float, out: Path
) -> tuple[float, float]:
    """Run Locust headless, one process; return its steady requests per second
    and its requests per CPU-second."""
    stats = out.with_suffix("")
    cpu_file = out.with_suffix(".cpu")
    command = [
        sys.executable, "-m", "locust", "-f", f"{locustfile},{out.parent / 'cpu.py'}", "--headless",
        "--users", str(users), "--spawn-rate", str(max(users, 100)),
        "--run-time", f"{seconds:g}s", "--stop-timeout", "2", "--host", url,
        "--only-summary", "--json-file", str(stats),
    ]  # fmt: skip
    if locustfile == SHIPPED:
        command += ["--fakemeta-app-secret", SECRET]
    env = {**os.environ, "FAKEMETA_BENCH_CPU": str(cpu_file)}
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
        cwd=out.parent,
        env=env,
    )
    if result.returncode != 0:
        raise SystemExit(f"locust -f {locustfile.name} failed:\n{result.stderr[-3000:]}")
    (entry,) = [e for e in json.loads(stats.with_suffix(".json").read_text()) if e["method"]]
    if entry["num_failures"]:
        raise SystemExit(f"locust -f {locustfile.name}: {entry['num_failures']} failures")
    per_second = sorted((int(s), n) for s, n in entry["num_reqs_per_sec"].items())[1:-1]
    if not per_second:
        raise SystemExit(f"locust -f {locustfile.name}: too short a run to measure")
    cpu, requests = json.loads(cpu_file.read_text())
    return sum(n for _, n in per_second) / len(per_second), requests / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fakemeta-locust-bench-") as temp:
        directory = Path(temp)
        nginx = find_nginx()
        if nginx is None:
            server = "the asyncio stub endpoint (no nginx installed)"
            process, url = start_stub()
        else:
            (directory / "nginx").mkdir()
            # One worker: the machine's other cores are Locust's.
            server = "nginx"
            process, url = start_nginx(nginx, directory / "nginx", workers="1")
        try:
            wait_ready(url)
            write_fixed(directory)
            bare_file = directory / "bare_locustfile.py"
            bare_file.write_text(BARE)
            print(
                f"endpoint: {server} at {url}; {args.users} users, {args.seconds:g} s a run,"
                f" {args.rounds} round(s)"
            )
            (directory / "cpu.py").write_text(CPU)
            best = {"bare": (0.0, 0.0), "shipped": (0.0, 0.0)}
            for round_ in range(args.rounds):
                for side, locustfile in (("bare", bare_file), ("shipped", SHIPPED)):
                    rate, per_cpu = run_locust(
                        locustfile, url, args.users, args.seconds, directory / f"{side}.out"
                    )
                    best[side] = (max(best[side][0], rate), max(best[side][1], per_cpu))
                    print(
                        f"  round {round_ + 1} {side:8} {rate:9,.0f} requests/s"
                        f" {per_cpu:9,.0f} requests/CPU-s (load average {os.getloadavg()[0]:.1f})"
                    )
        finally:
            process.terminate()
            process.wait(timeout=10)
    (bare, bare_cpu), (shipped, shipped_cpu) = best["bare"], best["shipped"]
    ratio = shipped / bare
    print(
        f"bare FastHttpUser, fixed body:  {bare:9,.0f} requests/s {bare_cpu:9,.0f} requests/CPU-s"
    )
    print(
        f"WhatsAppWebhookUser (shipped):  {shipped:9,.0f} requests/s"
        f" {shipped_cpu:9,.0f} requests/CPU-s"
    )
    verdict = "meets" if ratio >= TARGET else "misses"
    print(
        f"ratio shipped/bare: {ratio:.2f} requests/s ({verdict} the target of {TARGET}),"
        f" {shipped_cpu / bare_cpu:.2f} requests/CPU-s"
    )


if __name__ == "__main__":
    main()
