"""`HttpTarget` makes one TLS context, not one per client address.

`fakemeta check` spreads its requests over dozens of loopback source
addresses, one httpx client each; every client used to build a TLS context
of its own (loading the CA bundle, tens of milliseconds, for an https URL)
even for plain HTTP, where none is ever used.
"""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from fakemeta.simulator.targets import HttpTarget


@pytest.fixture
def contexts_made(monkeypatch: pytest.MonkeyPatch) -> list[ssl.SSLContext]:
    made: list[ssl.SSLContext] = []
    real_new = ssl.SSLContext.__new__

    def new(cls: type[ssl.SSLContext], *args: Any, **kwargs: Any) -> ssl.SSLContext:
        context = real_new(cls, *args, **kwargs)
        made.append(context)
        return context

    monkeypatch.setattr(ssl.SSLContext, "__new__", new)
    return made


def test_plain_http_from_many_addresses_makes_at_most_one_context(
    loopback_receiver: Any, contexts_made: list[ssl.SSLContext]
) -> None:
    with HttpTarget(loopback_receiver.url, max_clients=4) as target:
        for host in range(1, 11):  # more addresses than clients kept: some are evicted
            assert target.send("GET", source_ip=f"127.0.0.{host}").status == 200
    assert len({r.remote_addr for r in loopback_receiver.requests}) == 10
    assert len(contexts_made) <= 1


@pytest.mark.parametrize(
    ("verify_tls", "mode"), [(True, ssl.CERT_REQUIRED), (False, ssl.CERT_NONE)]
)
def test_https_clients_share_one_context_that_verifies_unless_asked(
    contexts_made: list[ssl.SSLContext], verify_tls: bool, mode: ssl.VerifyMode
) -> None:
    target = HttpTarget("https://127.0.0.1:9/hook", verify_tls=verify_tls)
    try:
        for host in range(1, 6):
            target._client(f"127.0.0.{host}")
    finally:
        target.close()
    assert len(contexts_made) == 1
    assert contexts_made[0].verify_mode == mode
    assert contexts_made[0].check_hostname is verify_tls
