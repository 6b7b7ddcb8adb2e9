"""How many payloads per second are built, encoded and signed.

Three rates, measured one after another in this process on one core:

- baseline: `json.dumps` and HMAC of one prebuilt dict (no building, no
  Meta escapes): the floor any approach pays;
- builders: a fresh customer, message id and text message built, wrapped in
  Meta's envelope, encoded with Meta's escapes and signed, every body unique;
- strategies: whole batched envelopes drawn by Hypothesis
  (`message_payloads()`), encoded and signed.

Prints each rate and its ratio to the baseline. Target for the builders:
at least 20,000 payloads per second.

    python benchmarks/build_encode_sign.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import random
import time

from hypothesis import HealthCheck, given, settings

from fakemeta.simulator import envelopes, messages
from fakemeta.simulator.encoding import encode
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.signing import sign
from fakemeta.simulator.strategies import message_payloads
from fakemeta.simulator.types import Payload

SECRET = "benchmark-secret"
TARGET = 20_000


def rate(work: object, seconds: float) -> float:
    """Calls of `work` per second, over at least `seconds`."""
    assert callable(work)
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            work()
        count += 200
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--strategy-examples", type=int, default=300)
    args = parser.parse_args()

    rng = random.Random(1)
    account = Account.generate(rng)
    names = ["Layla Hassan", "محمد العتيبي", "Zoë Ångström", "山田太郎"]

    prebuilt = envelopes.message_payload(
        account,
        messages.text(Customer("15551234567", "x"), "hello", rng=rng),
        Customer("15551234567", "x"),
    )

    def baseline() -> None:
        body = json.dumps(prebuilt).encode()
        hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

    counter = iter(range(10**12))

    def builders() -> None:
        n = next(counter)
        customer = Customer(str(15550000000 + n), names[n % 4])
        message = messages.text(customer, f"مرحبا {n} https://example.com/o/{n} 👋", rng=rng)
        sign(encode(envelopes.message_payload(account, message, customer)), SECRET)

    base_rate = rate(baseline, args.seconds)
    build_rate = rate(builders, args.seconds)

    drawn = 0

    @settings(
        max_examples=args.strategy_examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(message_payloads(account=account))
    def strategies(payload: Payload) -> None:
        nonlocal drawn
        sign(encode(payload), SECRET)
        drawn += 1

    start = time.perf_counter()
    strategies()
    strategy_rate = drawn / (time.perf_counter() - start)

    print(f"baseline   (json.dumps + hmac, prebuilt): {base_rate:10,.0f} payloads/s")
    print(
        f"builders   (build + encode + sign):       {build_rate:10,.0f} payloads/s  "
        f"ratio {build_rate / base_rate:.2f}  target {TARGET:,}/s: "
        f"{'met' if build_rate >= TARGET else 'NOT met'}"
    )
    print(
        f"strategies (draw batch + encode + sign):  {strategy_rate:10,.0f} payloads/s  "
        f"ratio {strategy_rate / base_rate:.4f}"
    )


if __name__ == "__main__":
    main()
