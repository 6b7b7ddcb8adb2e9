"""`fakemeta load` against wrk, both on the same nginx endpoint, in one run.

Starts nginx (Debian's package) on a free loopback port with a server that
answers every request `200 OK`, then alternates, `--rounds` times:

- wrk: `wrk -t2 -c<connections> -d<seconds>s` with a Lua script that POSTs
  one fixed signed body (one `fakemeta load` makes, of the mix's typical
  size) with Meta's headers, so request sizes match;
- fakemeta: `fakemeta load URL --rate max --duration <seconds>` with the
  same connections, every body unique and signed, rate read from its
  `--report-json`.

Prints each round, then the best round of each side and their ratio (the
goal: at least 0.5; the best round is the one the machine disturbed least,
as in `sender_throughput.py`) and the median of the rounds' ratios; then
the CPU time per request of each client (wrk's from its rusage, fakemeta's
workers' from `--report-json`) and of nginx under each: where the gap goes. nginx is stopped at the
end. Without nginx or wrk it installs them with apt-get when run as root,
or prints how and exits 2.

`--profile` also runs one worker's engine in this process under cProfile
for a few seconds and prints where its time goes, with the CPU seconds
(user and system) it spends per request.

    python benchmarks/load_vs_wrk.py [--seconds 5] [--rounds 3] [--connections 32] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _nginx import find_nginx, start_nginx, stop_nginx

from fakemeta.simulator import eras
from fakemeta.simulator.envelopes import Account
from fakemeta.simulator.load._http import Endpoint
from fakemeta.simulator.load.bodies import BodyFactory, BodySpec
from fakemeta.simulator.load.engine import Engine, WorkerPlan
from fakemeta.simulator.load.mix import DEFAULT_MIX, parse_mix

SECRET = "benchmark-secret"


def ensure_tools() -> tuple[str, str]:
    nginx = find_nginx()
    wrk = shutil.which("wrk")
    if nginx and wrk:
        return nginx, wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing nginx and wrk (Debian packages) ...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx", "wrk"], check=True)
        return ensure_tools()
    sys.exit("this benchmark needs nginx and wrk: sudo apt-get install -y nginx wrk")


def typical_body() -> tuple[bytes, bytes, bytes]:
    """One signed body of the default mix, the one nearest the mix's mean size."""
    spec = BodySpec(parse_mix(DEFAULT_MIX), eras.CURRENT, _account(), SECRET, seed=7)
    sample = [BodyFactory(spec, random.Random(7)).make() for _ in range(200)]
    mean = statistics.mean(len(body) for body, _, _ in sample)
    return min(sample, key=lambda made: abs(len(made[0]) - mean))


def _account() -> Account:
    return Account("102290129340398", "106540352242922", "15550783881")


def wrk_script(directory: Path) -> Path:
    body, sha256, sha1 = typical_body()
    text = body.decode("ascii")
    assert "]==]" not in text
    script = directory / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = [==[{text}]==]\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["User-Agent"] = "facebookexternalua"\n'
        f'wrk.headers["X-Hub-Signature-256"] = "{sha256.decode()}"\n'
        f'wrk.headers["X-Hub-Signature"] = "{sha1.decode()}"\n'
    )
    return script


def nginx_cpu(master: int) -> float:
    """CPU seconds used so far by the nginx workers under `master`."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:  # ppid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


@dataclass
class Round:
    """One side of one round: rate, and CPU µs per request of the client and of nginx."""

    rate: float
    client_us: float
    nginx_us: float


def run_wrk(wrk: str, script: Path, url: str, connections: int, seconds: float) -> Round:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            rate = float(line.split()[1])
            return Round(rate, cpu / (rate * seconds) * 1e6, 0.0)
    raise SystemExit(f"wrk printed no rate:\n{out}")


def run_fakemeta(url: str, connections: int, seconds: float, directory: Path) -> Round:
    report = directory / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from fakemeta.simulator.cli import main; main()",
            "load",
            url,
            "--rate",
            "max",
            "--duration",
            f"{seconds:g}",
            "--connections",
            str(connections),
            "--app-secret",
            SECRET,
            "--report-json",
            str(report),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # its progress lines
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"fakemeta load failed ({result.returncode}):\n{result.stderr}")
    data = json.loads(report.read_text())
    assert data["status_codes"] == {"200": data["requests"]}, data["status_codes"]
    cpu = data["cpu_s"]["user"] + data["cpu_s"]["system"]
    return Round(float(data["rate"]), cpu / data["requests"] * 1e6, 0.0)


def measured(master: int, run: Callable[[], Round]) -> Round:
    """`run()`, with nginx's CPU per request filled in."""
    before, started = nginx_cpu(master), time.monotonic()
    result = run()
    spent = nginx_cpu(master) - before
    # nginx also idles between the runs: count only the run's own seconds.
    result.nginx_us = spent / (result.rate * (time.monotonic() - started)) * 1e6
    return result


def _engine_run(plan: WorkerPlan, profiler: cProfile.Profile | None) -> tuple[int, float, float]:
    """Requests, and user and system CPU seconds, of one engine run in this process."""

    async def main() -> tuple[int, float, float]:
        engine = Engine(plan, lambda *message: None)
        await engine.connect()
        before = resource.getrusage(resource.RUSAGE_SELF)
        if profiler is not None:
            profiler.enable()
        await engine.run()
        if profiler is not None:
            profiler.disable()
        after = resource.getrusage(resource.RUSAGE_SELF)
        return (
            engine.counters.requests,
            after.ru_utime - before.ru_utime,
            after.ru_stime - before.ru_stime,
        )

    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    return uvloop.run(main())


def profile(url: str, connections: int, seconds: float = 3.0) -> None:
    """Where one worker's CPU goes: the whole engine, making and signing
    bodies alone, and a cProfile of the engine's functions."""
    spec = BodySpec(parse_mix(DEFAULT_MIX), eras.CURRENT, _account(), SECRET, seed=1)
    plan = WorkerPlan(url, spec, connections, None, seconds, None, timeout=5.0)
    count, user, system = _engine_run(plan, None)
    print(f"\nprofile: one worker in this process, {count / seconds:,.0f} req/s")
    print(
        f"  CPU a request, whole engine: {(user + system) / count * 1e6:.1f} µs"
        f" (user {user / count * 1e6:.1f}, kernel {system / count * 1e6:.1f})"
    )
    factory, endpoint = BodyFactory(spec, random.Random(1)), Endpoint(url)
    made, started = 0, time.process_time()
    while time.process_time() - started < 1.0:
        factory.requests(64, endpoint.head_to_digest, endpoint.middle)
        made += 64
    making = (time.process_time() - started) / made * 1e6
    print(
        f"  of which making and signing bodies (measured alone): {making:.1f} µs;"
        f" the rest (response parsing, counting, scheduling, uvloop): about"
        f" {user / count * 1e6 - making:.1f} µs"
    )
    profiler = cProfile.Profile()
    _engine_run(plan, profiler)
    print("  cProfile of the engine (wall time; `answered` includes the write syscall):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    nginx, wrk = ensure_tools()
    with tempfile.TemporaryDirectory(prefix="fakemeta-nginx-") as name:
        directory = Path(name)
        process, url = start_nginx(nginx, directory)
        try:
            script = wrk_script(directory)
            theirs: list[Round] = []
            ours: list[Round] = []
            for round_ in range(1, args.rounds + 1):
                theirs.append(
                    measured(
                        process.pid,
                        lambda: run_wrk(wrk, script, url, args.connections, args.seconds),
                    )
                )
                ours.append(
                    measured(
                        process.pid,
                        lambda: run_fakemeta(url, args.connections, args.seconds, directory),
                    )
                )
                print(
                    f"round {round_}: wrk {theirs[-1].rate:,.0f} req/s, fakemeta load"
                    f" {ours[-1].rate:,.0f} req/s, ratio {ours[-1].rate / theirs[-1].rate:.2f}",
                    flush=True,
                )
            best_wrk = max(theirs, key=lambda r: r.rate)
            best_ours = max(ours, key=lambda r: r.rate)
            median_ratio = statistics.median(
                o.rate / w.rate for o, w in zip(ours, theirs, strict=True)
            )
            print(
                f"best rounds: wrk {best_wrk.rate:,.0f} req/s, fakemeta load"
                f" {best_ours.rate:,.0f} req/s (every body unique and signed):"
                f" ratio {best_ours.rate / best_wrk.rate:.2f} (goal >= 0.5);"
                f" median of the rounds' ratios {median_ratio:.2f}"
            )
            print(
                "CPU per request, medians: client"
                f" wrk {statistics.median(r.client_us for r in theirs):.1f} µs,"
                f" fakemeta load {statistics.median(r.client_us for r in ours):.1f} µs;"
                f" nginx {statistics.median(r.nginx_us for r in theirs):.1f} µs under wrk,"
                f" {statistics.median(r.nginx_us for r in ours):.1f} µs under fakemeta load"
                f" ({os.cpu_count()} CPUs)"
            )
            if args.profile:
                profile(url, args.connections)
        finally:
            stop_nginx(process)


if __name__ == "__main__":
    main()
