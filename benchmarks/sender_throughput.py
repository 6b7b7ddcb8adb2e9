"""Requests per second through the sender, next to a bare httpx loop.

Starts a trivial HTTP endpoint on 127.0.0.1 (asyncio, answers every request
`200 ok` at once, keep-alive) in a background thread, builds N unique signed
deliveries once, then sends them:

- bare: one `httpx.Client`, `client.post(url, content=body, headers=headers)`
  in a loop, nothing recorded;
- sender: `Sender(HttpTarget(url)).send(deliveries)`, every attempt recorded
  as an `Attempt` with its `Exchange`, on the real clock.

Both sides run `--rounds` times, alternating, and the best round of each
counts (least disturbed by the machine). Prints both rates and the ratio.

    python benchmarks/sender_throughput.py [--count 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time

import httpx

from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.envelopes import Account, Customer, message_payload
from fakemeta.simulator.sender import NO_RETRIES, Sender
from fakemeta.simulator.targets import HttpTarget

SECRET = "benchmark-secret"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class _Endpoint(asyncio.Protocol):
    """HTTP/1.1 just enough for this benchmark: read a request, answer 200."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(RESPONSE)


def start_endpoint() -> str:
    """Run the endpoint on a free loopback port in a daemon thread; return its URL."""
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(_Endpoint, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}/webhook"


def build(count: int) -> list[Delivery]:
    account = Account("102290129340398", "106540352242922", "15550783881")
    deliveries = []
    for n in range(count):
        customer = Customer(f"49151{n:08d}", f"Kunde {n} ✓")
        message = {
            "from": customer.wa_id,
            "id": f"wamid.BENCH{n:08d}",
            "timestamp": str(1_718_000_000 + n),
            "type": "text",
            "text": {"body": f"مرحبا {n} https://example.com/{n}"},
        }
        payload = message_payload(account, message, customer)  # type: ignore[arg-type]
        deliveries.append(Delivery.of(payload, SECRET))
    assert len({d.body for d in deliveries}) == count
    return deliveries


def bare(url: str, deliveries: list[Delivery]) -> float:
    with httpx.Client() as client:
        start = time.perf_counter()
        for delivery in deliveries:
            response = client.post(url, content=delivery.body, headers=delivery.headers)
            assert response.status_code == 200
        return len(deliveries) / (time.perf_counter() - start)


def sender(url: str, deliveries: list[Delivery]) -> float:
    with HttpTarget(url) as target:
        start = time.perf_counter()
        result = Sender(target, schedule=NO_RETRIES).send(deliveries)
        elapsed = time.perf_counter() - start
    assert len(result.acknowledged) == len(deliveries) == len(result.attempts)
    return len(deliveries) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="deliveries per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    url = start_endpoint()
    deliveries = build(args.count)
    bare(url, deliveries[:100])  # warm up both paths
    sender(url, deliveries[:100])
    best_bare = best_sender = 0.0
    for _ in range(args.rounds):
        best_bare = max(best_bare, bare(url, deliveries))
        best_sender = max(best_sender, sender(url, deliveries))
    print(f"endpoint: {url} (asyncio, answers 200)")
    print(f"deliveries per round: {args.count}, unique and signed; best of {args.rounds} rounds")
    print(f"bare httpx loop: {best_bare:8.0f} requests/s")
    print(f"sender:          {best_sender:8.0f} requests/s")
    print(f"sender / bare:   {best_sender / best_bare:8.2f}")


if __name__ == "__main__":
    main()
