"""The SIG checks pass the reference receiver and a bug-free one, and fail each
broken receiver on exactly the requirements its bug violates."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from reference_helpers import reference_config as base_config
from signing_receiver import (
    APP_SECRET,
    FAMILY_IDS,
    SigningReceiver,
    context,
    details,
    failed,
    message_parties,
    outcomes,
    sent_envelopes,
)

from fakemeta.contract_tests.checks._deliveries import fresh_text
from fakemeta.contract_tests.checks.signature import (
    _TAMPER_TEXT,
    _TAMPERINGS,
    ENCODINGS,
    raw_byte_cases,
)
from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.runner import run
from fakemeta.reference_receiver.serve import Running
from fakemeta.simulator.encoding import encode
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.signing import sign
from fakemeta.simulator.strategies import message_payloads
from fakemeta.simulator.types import Payload

SIG_IDS = [i for i in FAMILY_IDS if i.startswith("SIG-")]


def reference_config(running: Running, **overrides: Any) -> SuiteConfig:
    defaults: dict[str, Any] = {"seed": 5, "examples": 5, "select": ("SIG",)}
    return base_config(running, **{**defaults, **overrides})


# --- against whole receivers ---------------------------------------------------


def test_the_reference_receiver_passes_every_sig_check(reference: Running) -> None:
    report = run(reference_config(reference))
    assert outcomes(report) == {i: "passed" for i in SIG_IDS} | {
        i: "skipped" for i in FAMILY_IDS if i not in SIG_IDS
    }, details(report)
    assert report.results
    assert all(r.outcome == "passed" for r in report.results), details(report)


@pytest.mark.parametrize("probe", [True, False], ids=["with probe", "without probe"])
def test_a_bug_free_receiver_passes_every_check_and_none_is_skipped(probe: bool) -> None:
    receiver = SigningReceiver()
    report = run(receiver.config() if probe else receiver.config(probe=None))
    assert outcomes(report) == dict.fromkeys(FAMILY_IDS, "passed"), details(report)
    assert all(r.outcome == "passed" for r in report.results), details(report)


# Each bug and the requirements it must fail, no more and no fewer (SIG, ROBUST
# and TIME all run, so a bug blamed on the wrong requirement shows up here).
SIGNATURE_BUGS = {
    # Meta's own everyday bytes already differ from json.dumps() (separators),
    # so this one cannot even acknowledge a plain delivery.
    "reserialise_dumps": {"SIG-1", "SIG-3", "SIG-6", "TIME-1"},
    # Mimics Meta's usual encoding: plain deliveries verify, other bytes of the
    # same JSON do too (SIG-3, SIG-4's appended space), raw-byte forms do not.
    "reserialise_meta": {"SIG-3", "SIG-4", "SIG-6"},
    # JSON.stringify-like: breaks on `\/` (SIG-1's image) and `\uXXXX` (TIME's batch).
    "reserialise_non_ascii": {"SIG-1", "SIG-3", "SIG-6", "TIME-1"},
    "strip_body": {"SIG-4", "SIG-6"},
    "unsigned_accepted": {"SIG-2"},
    "legacy_fallback": {"SIG-2"},
    # Every variant that leaves Meta's valid sha1 header in place gets through.
    "sha1_only": {"SIG-2", "SIG-5", "SIG-7"},
    "stores_before_verifying": {"SIG-2", "SIG-3"},
    "bare_digest": {"SIG-5"},
    "any_algorithm": {"SIG-5"},
    "first_32": {"SIG-7"},
    "startswith": {"SIG-7"},
    # The keys receivers confuse with the app secret (near misses of SIG-3).
    "verify_token_as_secret": {"SIG-3"},
    "access_token_as_secret": {"SIG-3"},
    # Near misses of the verify token.
    "token_startswith": {"VERIFY-2"},
    "token_extension": {"VERIFY-2"},
    "token_ignores_case": {"VERIFY-2"},
    "token_stripped": {"VERIFY-2"},
    # A safe refusal with another code than the seed's: the code requirement
    # only, never the security one.
    "status_403": {"CODE-2"},
    "handshake_401": {"CODE-1"},
}


@pytest.mark.parametrize("bug", sorted(SIGNATURE_BUGS))
def test_each_signature_bug_fails_exactly_its_requirements(bug: str) -> None:
    report = run(SigningReceiver(bug).config(examples=2))
    assert failed(report) == SIGNATURE_BUGS[bug], details(report)


def test_storing_a_refused_delivery_needs_the_probe_to_be_seen() -> None:
    receiver = SigningReceiver("stores_before_verifying")
    report = run(receiver.config(probe=None, select=("SIG-2", "SIG-3")))
    # The refusals are still judged without a probe: nothing is skipped.
    assert outcomes(report)["SIG-2"] == outcomes(report)["SIG-3"] == "passed", details(report)
    assert receiver.logs, "the refused deliveries should have reached the buggy store"

    report = run(receiver.config(select=("SIG-2",)))
    [result] = [r for r in report.results if r.outcome == "failed"]
    assert "logged its message wamid." in result.detail
    assert result.exchange is not None
    assert result.exchange["response"]["status"] == 401


def test_a_failure_carries_the_exchange_the_expectation_and_a_reproduce_command() -> None:
    report = run(SigningReceiver("first_32").config(select=("SIG-7",)))
    [result] = [r for r in report.results if r.outcome == "failed"]
    assert result.check == "SIG-7::partly_matching_digest_is_refused"
    assert result.detail.endswith("was answered HTTP 200")
    assert "4xx" in result.expected
    assert result.exchange is not None
    assert result.exchange["response"]["status"] == 200
    assert result.exchange["response"]["body"] == "EVENT_RECEIVED"
    request = result.exchange["request"]
    assert request["method"] == "POST"
    signature = dict((k.lower(), v) for k, v in request["headers"])["x-hub-signature-256"]
    assert signature.startswith("sha256=")
    assert signature != sign(request["body"].encode(), APP_SECRET)
    assert json.loads(request["body"])["object"] == "whatsapp_business_account"
    assert result.reproduce.startswith("fakemeta check")
    assert result.reproduce.endswith("--examples 5 --seed 11 -k SIG-7")


def test_a_403_for_a_forgery_is_a_safe_refusal_and_only_code_2_names_the_code() -> None:
    receiver = SigningReceiver("status_403")
    meta = run(receiver.config(profile="meta"))
    assert failed(meta) == set(), details(meta)
    assert outcomes(meta)["CODE-2"] == "skipped"
    assert outcomes(meta)["SIG-3"] == outcomes(meta)["SIG-4"] == "passed"
    strict = run(receiver.config())
    assert failed(strict) == {"CODE-2"}, details(strict)
    [code] = [r for r in strict.results if r.outcome == "failed"]
    assert code.requirement.level == "SHOULD"
    # It names every requirement whose refusals used another code.
    for requirement in ("SIG-2", "SIG-3", "SIG-4", "SIG-5", "SIG-7"):
        assert requirement in code.detail
    assert "HTTP 403" in code.detail
    assert "401" in code.expected


def test_the_access_token_is_tried_only_when_known() -> None:
    receiver = SigningReceiver("access_token_as_secret")
    report = run(receiver.config(access_token=None, select=("SIG-3",)))
    assert outcomes(report)["SIG-3"] == "passed", details(report)
    report = run(receiver.config(select=("SIG-3",)))
    [result] = [r for r in report.results if r.outcome == "failed"]
    assert "signed with the access token" in result.detail


def test_two_runs_with_one_seed_never_reuse_a_sender_or_a_message_id() -> None:
    receiver = SigningReceiver()
    seen: list[tuple[set[str], set[str]]] = []
    for _ in range(2):
        receiver.requests.clear()
        assert run(receiver.config(examples=2)).ok
        ids: set[str] = set()
        senders: set[str] = set()
        for envelope in sent_envelopes(receiver):
            found_ids, found_senders = message_parties(envelope)
            ids |= found_ids
            senders |= found_senders
        assert len(ids) > 1000
        assert len(senders) > 100
        seen.append((ids, senders))
    (ids1, senders1), (ids2, senders2) = seen
    assert not ids1 & ids2
    assert not senders1 & senders2


# --- the deliveries themselves ---------------------------------------------------

ACCOUNT = Account("102290129340398", "106540352242922", "15550783881")


def _customers() -> Callable[[str | None], Customer]:
    numbers = iter(range(100))
    return lambda name: Customer(f"4915112{next(numbers):06d}", name or "Test")


# The ways a receiver re-serialises before verifying, each of which must get
# at least one SIG-6 body wrong: every common JSON library's defaults and the
# re-encoding that mimics Meta's usual bytes.
REENCODERS: dict[str, Callable[[Any], bytes]] = {
    "json.dumps(obj)": lambda o: json.dumps(o).encode(),
    "json.dumps(obj, ensure_ascii=False)": lambda o: json.dumps(o, ensure_ascii=False).encode(),
    "compact, ensure_ascii=False (JSON.stringify)": lambda o: json.dumps(
        o, ensure_ascii=False, separators=(",", ":")
    ).encode(),
    "compact, ASCII": lambda o: json.dumps(o, separators=(",", ":")).encode(),
    "compact, ASCII, `\\/` (PHP json_encode, Meta mimic)": lambda o: (
        json.dumps(o, separators=(",", ":")).replace("/", "\\/").encode()
    ),
    "sorted keys": lambda o: json.dumps(o, sort_keys=True, separators=(",", ":")).encode(),
}


@pytest.mark.parametrize("reencoder", sorted(REENCODERS))
def test_every_naive_reserialisation_gets_some_sig6_body_wrong(reencoder: str) -> None:
    reencode = REENCODERS[reencoder]
    wrong = [
        what
        for what, _, body in raw_byte_cases(ACCOUNT, _customers())
        if reencode(json.loads(body)) != body
    ]
    assert wrong, f"{reencoder} would verify every SIG-6 body"


def test_sig6_bodies_are_the_json_of_their_payloads_and_all_different() -> None:
    cases = raw_byte_cases(ACCOUNT, _customers())
    for what, payload, body in cases:
        assert json.loads(body) == payload, what
    assert len({body for _, _, body in cases}) == len(cases)
    senders = [p["entry"][0]["changes"][0]["value"]["messages"][0]["from"] for _, p, _ in cases]
    assert len(set(senders)) == len(senders), "every case has a sender of its own"
    # Meta escapes every non-ASCII character; no SIG-6 body is raw UTF-8, so a
    # receiver that re-escapes before hashing (whatsapp-api-js) is not failed.
    assert all(body.isascii() for _, _, body in cases)


@settings(max_examples=20)
@given(message_payloads(account=ACCOUNT, max_entries=2, max_messages=3))
def test_every_encoding_writes_the_same_json(payload: Payload) -> None:
    for what, form in ENCODINGS:
        body = form(payload)
        assert json.loads(body) == payload, what
    assert ENCODINGS[0][1](payload) == encode(payload)


def test_each_tampering_changes_one_byte_of_the_field_it_names() -> None:
    receiver = SigningReceiver()
    ctx = context(receiver.config(), "SIG-4")
    fields: dict[str, Callable[[Any], Any]] = {
        "text": lambda p: p["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"],
        "message id": lambda p: p["entry"][0]["changes"][0]["value"]["messages"][0]["id"],
        "phone number id": lambda p: p["entry"][0]["changes"][0]["value"]["metadata"],
        "sender": lambda p: p["entry"][0]["changes"][0]["value"]["messages"][0]["from"],
        "timestamp": lambda p: p["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"],
    }
    for what, change in _TAMPERINGS:
        sent = fresh_text(ctx, _TAMPER_TEXT)
        original = sent.delivery.body
        body = change(sent.delivery).body
        assert body != original, what
        parsed = json.loads(body)  # still JSON: only the signature can tell
        if len(body) == len(original):
            assert sum(a != b for a, b in zip(body, original, strict=True)) == 1, what
            name = next(n for n in fields if n in what.replace("sender's number", "sender"))
            assert fields[name](parsed) != fields[name](sent.payload), what
        else:
            assert len(body) == len(original) + 1, what
            assert body.strip() == original, what
            assert parsed == sent.payload, what
