"""The ROBUST checks pass the reference receiver, fail each broken receiver on
exactly the requirements its bug violates, and send what they say they send."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_helpers import reference_config
from signing_receiver import FAMILY_IDS, SigningReceiver, details, failed, outcomes

from fakemeta.contract_tests.checks.robustness import (
    _CHANGES,
    _NOT_JSON,
    _PLACEHOLDER,
    _RAW,
    _mutants,
)
from fakemeta.contract_tests.checks.robustness import _changed as changed
from fakemeta.contract_tests.checks.robustness import _raw as raw_body
from fakemeta.contract_tests.runner import run
from fakemeta.reference_receiver.serve import Running
from fakemeta.simulator.encoding import encode
from fakemeta.simulator.envelopes import Account, Customer, message_payload
from fakemeta.simulator.messages import text
from fakemeta.simulator.strategies import message_payloads
from fakemeta.simulator.types import Payload

ROBUST_IDS = [i for i in FAMILY_IDS if i.startswith("ROBUST-")]
ACCOUNT = Account("102290129340398", "106540352242922", "15550783881")


def test_the_reference_receiver_passes_every_robust_check(reference: Running) -> None:
    config = reference_config(reference, seed=9, examples=5, select=("ROBUST",))
    report = run(config)
    assert {i: outcomes(report)[i] for i in ROBUST_IDS} == dict.fromkeys(ROBUST_IDS, "passed")
    assert report.results
    assert all(r.outcome == "passed" for r in report.results), details(report)


ROBUSTNESS_BUGS = {
    # json.loads without try: 500 for non-JSON (ROBUST-1) and for JSON that
    # Python cannot parse, a 5000-digit number or deep nesting (ROBUST-2).
    "unguarded_json": {"ROBUST-1", "ROBUST-2"},
    "naive_envelope": {"ROBUST-2"},
    "put_as_post": {"ROBUST-3"},
}


@pytest.mark.parametrize("bug", sorted(ROBUSTNESS_BUGS))
def test_each_robustness_bug_fails_exactly_its_requirements(bug: str) -> None:
    report = run(SigningReceiver(bug).config(examples=2))
    assert failed(report) == ROBUSTNESS_BUGS[bug], details(report)


def test_a_crash_on_an_odd_envelope_is_reported_with_the_500() -> None:
    report = run(SigningReceiver("naive_envelope").config(select=("ROBUST-2",)))
    result = next(r for r in report.results if r.outcome == "failed")
    assert "made the receiver answer HTTP 500" in result.detail
    assert result.exchange is not None
    assert result.exchange["response"]["status"] == 500
    assert result.reproduce.endswith("-k ROBUST-2")


def _rewriting(app: Callable[..., Any], rewrite: Callable[[str, str], str]) -> Callable[..., Any]:
    """`app` with its status line rewritten by `rewrite(method, status)`."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            return start_response(rewrite(environ["REQUEST_METHOD"], status), headers, *rest)

        result: Iterable[bytes] = app(environ, start)
        return result

    return wrapped


def test_non_json_refused_with_422_passes_only_under_meta() -> None:
    receiver = SigningReceiver()
    app = _rewriting(receiver.app, lambda _, s: "422 Unprocessable" if s.startswith("400") else s)
    strict = run(receiver.config(target=app, select=("ROBUST-1",)))
    assert failed(strict) == {"ROBUST-1"}, details(strict)
    assert "HTTP 422" in strict.results[0].detail
    assert "HTTP 400" in strict.results[0].expected
    meta = run(receiver.config(target=app, select=("ROBUST-1",), profile="meta"))
    assert outcomes(meta)["ROBUST-1"] == "passed", details(meta)


def test_head_and_options_are_held_only_to_no_server_error() -> None:
    receiver = SigningReceiver()
    lenient = _rewriting(
        receiver.app, lambda m, s: "200 OK" if m in ("HEAD", "OPTIONS") else s
    )  # what many frameworks and proxies do
    report = run(receiver.config(target=lenient, select=("ROBUST-3",)))
    assert outcomes(report)["ROBUST-3"] == "passed", details(report)
    crashing = _rewriting(receiver.app, lambda m, s: "500 Oops" if m == "OPTIONS" else s)
    report = run(receiver.config(target=crashing, select=("ROBUST-3",)))
    assert failed(report) == {"ROBUST-3"}
    assert "OPTIONS" in report.results[0].detail


# --- the bodies themselves -------------------------------------------------------


@pytest.mark.parametrize(("what", "body"), _NOT_JSON, ids=[w for w, _ in _NOT_JSON])
def test_robust1_bodies_are_not_json(what: str, body: bytes) -> None:
    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)):
        json.loads(body)


def _valid() -> Payload:
    sender = Customer("4915112345678", "Test")
    message = text(
        sender, "Hello", id="wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFDAwMDAA", timestamp="1767225600"
    )
    return message_payload(ACCOUNT, message, sender)


def test_every_robust2_change_changes_the_envelope_and_stays_json() -> None:
    valid = _valid()
    bodies = set()
    for what, path, new in _CHANGES:
        body = encode(changed(valid, path, new))
        assert json.loads(body) != valid, what
        bodies.add(body)
    assert len(bodies) == len(_CHANGES), "two changes send the same body"
    assert valid == _valid(), "changes work on copies"


def test_every_raw_robust2_body_has_its_raw_part_in_place() -> None:
    for what, path, raw in _RAW:
        body = raw_body(_valid(), path, raw)
        assert _PLACEHOLDER.encode() not in body, what
        assert raw in body, what
        assert len(body) < 3 * 1024 * 1024, "under Meta's (and the reference's) body cap"


@settings(max_examples=30)
@given(_mutants(message_payloads(account=ACCOUNT, max_entries=2, max_messages=3)))
def test_mutants_say_what_changed_and_encode(mutant: tuple[str, Any]) -> None:
    what, payload = mutant
    assert what
    assert json.loads(encode(payload)) == payload


@given(st.data())
@settings(max_examples=30)
def test_mutants_of_one_envelope_differ_from_it(data: st.DataObject) -> None:
    valid = _valid()
    what, mutant = data.draw(_mutants(st.just(valid)))
    if "dropped" in what:
        assert mutant != valid
    assert valid == _valid()
