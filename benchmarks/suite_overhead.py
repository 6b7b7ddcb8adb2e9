"""The contract suite's overhead: its wall time over the same requests sent by a bare loop.

For each transport (HTTP on loopback, and in-process WSGI) the full strict
suite runs against a fresh reference receiver while every request it makes,
probe requests included, is recorded. Then the recorded requests are sent
again, as they were (same bytes, headers and source addresses), by a bare
httpx loop against another fresh receiver with the same configuration.
Prints both wall times and their ratio. Target: at most 2x.

    python benchmarks/suite_overhead.py [--examples 10] [--seed 1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.probes import HttpProbe, Record
from fakemeta.contract_tests.runner import run
from fakemeta.reference_receiver.serve import Running, start_background
from fakemeta.simulator.targets import Exchange, Target, WsgiTarget, target_for

SECRETS = {
    "app_secret": "benchmark-app-secret",
    "verify_token": "benchmark-verify-token",
    "probe_token": "benchmark-probe-token",
    "phone_number_id": "106540352242922",
    "rate_limit": "100/60",
}
PROBE_PATH = "/_fakemeta/probe"


@dataclass(frozen=True)
class Sent:
    kind: str  # "webhook" or "probe"
    method: str
    query: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    source_ip: str | None


class RecordingTarget:
    def __init__(self, inner: Target, log: list[Sent]) -> None:
        self.inner, self.log, self.url = inner, log, inner.url

    def send(
        self,
        method: str,
        query: str = "",
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        *,
        source_ip: str | None = None,
    ) -> Exchange:
        headers = tuple(headers)
        self.log.append(Sent("webhook", method, query, body, headers, source_ip))
        return self.inner.send(method, query, body, headers, source_ip=source_ip)

    def close(self) -> None:
        self.inner.close()


class RecordingProbe(HttpProbe):
    def __init__(self, base_url: str, log: list[Sent], **kwargs: Any) -> None:
        super().__init__(base_url, SECRETS["probe_token"], **kwargs)
        self.log = log

    def _get(self, what: str, params: dict[str, str]) -> list[Record]:
        query = httpx.QueryParams(params)
        self.log.append(Sent("probe", "GET", f"{what}?{query}", b"", (), None))
        return super()._get(what, params)


def suite(
    receiver: Running, in_process: bool, examples: int, seed: int
) -> tuple[float, list[Sent]]:
    log: list[Sent] = []
    if in_process:
        path = receiver.url.removeprefix(receiver.base_url)
        inner: Target = WsgiTarget(receiver.app, path)
        transport = httpx.WSGITransport(app=receiver.app)
        probe = RecordingProbe("http://testserver" + PROBE_PATH, log, transport=transport)
        target_spec: Any = receiver.app
    else:
        inner = target_for(receiver.url)
        probe = RecordingProbe(receiver.probe_url, log)
        path, target_spec = "/", receiver.url
    config = SuiteConfig(
        target_spec, SECRETS["verify_token"], SECRETS["app_secret"], SECRETS["phone_number_id"],
        path=path, probe=probe, probe_url=receiver.probe_url, seed=seed, examples=examples,
    )  # fmt: skip
    recording = RecordingTarget(inner, log)
    started = time.perf_counter()
    report = run(config, target=recording)
    elapsed = time.perf_counter() - started
    recording.close()
    summary = report.summary()
    if summary["failed"] or summary["skipped"]:
        raise SystemExit(f"the suite did not pass the reference receiver cleanly: {summary}")
    return elapsed, log


def bare(receiver: Running, in_process: bool, log: list[Sent]) -> float:
    """The same requests, sent by a plain loop: one client per source address."""
    clients: dict[str | None, httpx.Client] = {}
    headers = {"Authorization": f"Bearer {SECRETS['probe_token']}"}

    def client(ip: str | None) -> httpx.Client:
        if ip not in clients:
            if in_process:
                transport: httpx.BaseTransport = httpx.WSGITransport(
                    app=receiver.app, remote_addr=ip or "127.0.0.1"
                )
            else:
                transport = httpx.HTTPTransport(local_address=ip)
            clients[ip] = httpx.Client(transport=transport, trust_env=False, timeout=30)
        return clients[ip]

    base = "http://testserver" if in_process else receiver.base_url
    webhook = base + receiver.url.removeprefix(receiver.base_url)
    started = time.perf_counter()
    for sent in log:
        if sent.kind == "probe":
            client(None).get(f"{base}{PROBE_PATH}/{sent.query}", headers=headers)
            continue
        url = webhook + ("?" + sent.query if sent.query else "")
        drop = {"host", "content-length"}
        kept = [(k, v) for k, v in sent.headers if k.lower() not in drop]
        client(sent.source_ip).request(sent.method, url, content=sent.body, headers=kept)
    elapsed = time.perf_counter() - started
    for c in clients.values():
        c.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for in_process in (False, True):
        with start_background(SECRETS) as first, start_background(SECRETS) as second:
            wall, log = suite(first, in_process, args.examples, args.seed)
            loop = bare(second, in_process, log)
        name = "in-process (WSGI)" if in_process else "HTTP on loopback "
        print(
            f"{name}: suite {wall:6.2f} s, bare loop {loop:6.2f} s over the same "
            f"{len(log)} requests, ratio {wall / loop:.2f} (target <= 2)"
        )


if __name__ == "__main__":
    main()
