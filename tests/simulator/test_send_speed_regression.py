"""`fakemeta send --repeat` at the speed of the sender, every delivery still fresh.

It once ran at 45 requests/s against 1,400/s for `Sender`: every repetition
resolved the variant name three times (each resolve builds the whole
catalog) and built the variant's whole group. Now the name is resolved once
and the copies are made from the variant's learnt shape (`_FreshCopies`);
these tests pin both the speed-relevant counts and that a copy is what a
fresh catalog build would have been.
"""

from __future__ import annotations

import json
import ssl
import time
from typing import Any

import pytest
from cli_helpers import Cli

from fakemeta.simulator import catalog, eras, ids
from fakemeta.simulator.catalog import Context
from fakemeta.simulator.cli import _send as send_module
from fakemeta.simulator.cli._send import _SAMPLES, _Builder, _customer, _parse_wamid
from fakemeta.simulator.envelopes import Account
from fakemeta.simulator.targets import HttpTarget


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        return [leaf for key, value in node.items() for leaf in _leaves(value, (*path, key))]
    if isinstance(node, list):
        return [leaf for i, value in enumerate(node) for leaf in _leaves(value, (*path, i))]
    return [(path, node)]


def _is_time(value: Any, now: int) -> bool:
    """A timestamp of about now, or now plus a fixed offset (an expiry): digits, 10 of them."""
    text = str(value)
    return text.isdigit() and abs(int(text) - now) < 400 * 86400


# --- the command ------------------------------------------------------------


def test_send_repeat_sends_fresh_signed_deliveries_and_prints_every_line(
    loopback_cli: Cli, loopback_receiver: Any
) -> None:
    count = 3 * _SAMPLES
    before = int(time.time())
    code, out, _ = loopback_cli("send", "text", "--from", "966501234567", "--repeat", str(count))
    after = int(time.time())
    assert code == 0
    requests = loopback_receiver.requests
    assert len(requests) == count
    assert all(r.signature_ok for r in requests)
    assert len({r.body for r in requests}) == count
    messages = [json.loads(r.body)["entry"][0]["changes"][0]["value"]["messages"] for r in requests]
    assert all(len(m) == 1 and m[0]["type"] == "text" for m in messages)
    message_ids = [m[0]["id"] for m in messages]
    assert len(set(message_ids)) == count, "every delivery has a message id of its own"
    assert {_parse_wamid(i) for i in message_ids} == {("966501234567", True)}
    assert all(before <= int(m[0]["timestamp"]) <= after for m in messages)
    assert {m[0]["from"] for m in messages} == {"966501234567"}

    lines = out.splitlines()
    built = [line for line in lines if line.startswith("delivery ") and " bytes, signed " in line]
    assert [line.split(":")[0] for line in built] == [f"delivery {i}" for i in range(count)]
    assert all("messages/text (messages: text)" in line for line in built)
    attempts = [line for line in lines if " attempt 1 at " in line]
    assert len(attempts) == count
    assert all("HTTP 200" in line and line.endswith("acknowledged") for line in attempts)
    assert lines.index(built[-1]) < lines.index(attempts[0]), "built first, then sent"
    assert lines[-1] == f"{count} of {count} deliveries acknowledged"


def test_send_repeat_resolves_once_and_builds_no_group_per_delivery(
    loopback_cli: Cli, loopback_receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The root cause of 45 requests/s: 3 resolves and a group build per delivery."""
    calls = {"resolve": 0, "messages": 0}
    resolve, build_messages = catalog.resolve, catalog._BUILDERS["messages"]

    def counting_resolve(*args: Any, **kwargs: Any) -> str:
        calls["resolve"] += 1
        return resolve(*args, **kwargs)

    def counting_build(ctx: Context) -> Any:
        calls["messages"] += 1
        return build_messages(ctx)

    monkeypatch.setattr(catalog, "resolve", counting_resolve)
    monkeypatch.setitem(catalog._BUILDERS, "messages", counting_build)
    code, _, _ = loopback_cli("send", "text", "--repeat", "200")
    assert code == 0
    assert len(loopback_receiver.requests) == 200
    # One resolve (it builds every group once to list the names), then the
    # samples the shape of `text` is learnt from; none per delivery.
    assert calls == {"resolve": 1, "messages": 1 + _SAMPLES}


def test_send_repeat_with_overrides_and_batches_keeps_ids_fresh(
    loopback_cli: Cli, loopback_receiver: Any
) -> None:
    code, _, _ = loopback_cli(
        "send", "reaction", "--batch", "4", "--repeat", "5", "--set", "message.reaction.emoji=✓"
    )
    assert code == 0
    assert len(loopback_receiver.requests) == 5
    found = []
    for request in loopback_receiver.requests:
        assert request.signature_ok
        payload = json.loads(request.body)
        assert len(payload["entry"]) == 4
        first = payload["entry"][0]["changes"][0]["value"]["messages"][0]
        assert first["reaction"]["emoji"] == "✓"
        found += [e["changes"][0]["value"]["messages"][0] for e in payload["entry"]]
    assert len({m["id"] for m in found}) == 20
    assert len({m["reaction"]["message_id"] for m in found}) == 20


def test_send_repeat_of_a_variant_that_is_built_whole_each_time(
    loopback_cli: Cli, loopback_receiver: Any
) -> None:
    """Media ids, hashes and URLs are not learnt: an image is built whole, ids still fresh."""
    code, _, _ = loopback_cli("send", "image", "--repeat", str(_SAMPLES + 2))
    assert code == 0
    images = [
        json.loads(r.body)["entry"][0]["changes"][0]["value"]["messages"][0]
        for r in loopback_receiver.requests
    ]
    assert len(images) == _SAMPLES + 2
    assert len({m["id"] for m in images}) == len(images)
    assert len({m["image"]["id"] for m in images}) == len(images)
    assert len({m["image"]["sha256"] for m in images}) == len(images)


# --- the copies -------------------------------------------------------------


@pytest.mark.parametrize("era", list(eras.ERAS.values()), ids=lambda e: e.name)
def test_copies_are_what_a_fresh_catalog_build_is(era: eras.Era) -> None:
    """For every variant of every era: a copy has the keys, order and fixed
    values of a fresh build, and differs from it only in ids and times."""
    account = Account(ids.waba_id(), ids.phone_number_id(), ids.wa_id())
    customer = _customer(None, "Test User", era)
    learnt = set()
    for name in catalog.names(era):
        builder = _Builder(name, None, account, customer, era, count=_SAMPLES + 1)
        if builder._copies is None:
            continue
        learnt.add(name)
        now = int(time.time())
        copies = [_leaves(builder.payload()) for _ in range(3)]
        fresh = _leaves(catalog.build(name, Context.fresh(account, customer, era=era)))
        for copy in copies:
            assert [path for path, _ in copy] == [path for path, _ in fresh], name
            for (path, value), (_, expected) in zip(copy, fresh, strict=True):
                assert type(value) is type(expected), (name, path)
                if value == expected:
                    continue
                if _is_time(expected, now):
                    assert _is_time(value, now), (name, path, value)
                    assert abs(int(value) - int(expected)) <= 2, (name, path, value, expected)
                elif _parse_wamid(expected) is not None:
                    assert _parse_wamid(value) == _parse_wamid(expected), (name, path)
                else:
                    assert len(value) == len(expected) == 32, (name, path, value)
                    int(value, 16)
        wamids = [
            {v for _, v in c if isinstance(v, str) and v.startswith("wamid.")} for c in copies
        ]
        assert not wamids[0] & wamids[1], name
        assert not wamids[1] & wamids[2], name
    # The common variants stay on the fast path.
    assert {"messages/text", "messages/reaction", "statuses/sent", "statuses/read"} <= learnt


def test_a_wamid_quoted_twice_stays_the_same_id_in_a_copy() -> None:
    era = eras.CURRENT
    account = Account(ids.waba_id(), ids.phone_number_id(), ids.wa_id())
    customer = _customer(None, "Test User", era)

    def build(ctx: Context) -> Any:
        message = catalog.build("messages/text", ctx)
        body = message["entry"][0]["changes"][0]["value"]["messages"][0]
        body["context"] = {"from": "15550001111", "id": body["id"]}
        return message

    copies = send_module._FreshCopies.learn(build, account, customer, era)
    assert copies is not None
    seen = set()
    for _ in range(5):
        message = copies.make()["entry"][0]["changes"][0]["value"]["messages"][0]
        assert message["context"]["id"] == message["id"]
        seen.add(message["id"])
    assert len(seen) == 5


def test_a_variant_with_values_it_cannot_make_is_not_learnt() -> None:
    era = eras.CURRENT
    account = Account(ids.waba_id(), ids.phone_number_id(), ids.wa_id())
    customer = _customer(None, "Test User", era)

    def build(ctx: Context) -> Any:
        message = catalog.build("messages/text", ctx)
        message["entry"][0]["id"] = ids.media_id()  # a random id of a kind not made anew
        return message

    assert send_module._FreshCopies.learn(build, account, customer, era) is None


# --- the target ---------------------------------------------------------------


def test_plain_http_to_loopback_loads_no_ca_bundle(
    loopback_receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the CA bundle took 40-60 ms per client, for TLS never spoken on plain HTTP."""
    loads = []
    load = ssl.SSLContext.load_verify_locations

    def counting_load(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        load(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting_load)
    with HttpTarget(loopback_receiver.url) as target:
        assert target.send("POST", "", b"{}").status == 200
        assert target.send("POST", "", b"{}", source_ip="127.0.0.2").status == 200
    assert loads == []
    with HttpTarget(loopback_receiver.url.replace("http://", "https://")) as target:
        target._client(None)  # TLS: the bundle is loaded, certificates verified
    assert len(loads) == 1
