"""A failing property check reports its smallest failing example, every
shrink attempt is a fresh delivery, and the reproduce command replays it.

Against small in-process receivers with one bug each: one refuses any body
with `\\/` in it (as if it verified a re-serialisation), one refuses such a
body only while its message ids are new (a receiver whose state would fake a
pass if shrinking redelivered), one strips the handshake challenge.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import shlex
import threading
from typing import Any

import hypothesis
import pytest
from flask import Flask, Response, request
from signing_receiver import APP_SECRET, PATH, PHONE_NUMBER_ID, VERIFY_TOKEN

from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.errors import ContractUsageError
from fakemeta.contract_tests.report import CheckResult, Report
from fakemeta.contract_tests.runner import reproduce_command, run, selected_checks
from fakemeta.contract_tests.shrinking import (
    DEFAULT_SHRINK_BUDGET,
    ReplayToken,
    Shrunk,
    freshen,
    measure,
)
from fakemeta.simulator.cli import main
from fakemeta.simulator.envelopes import Account, Customer, message_payload
from fakemeta.simulator.messages import reaction, text
from fakemeta.simulator.targets import Exchange, Request
from fakemeta.simulator.targets import Response as SentResponse

GENERATED = "SIG-6::generated_bodies_are_verified"
HANDSHAKE = "VERIFY-1::right_token_echoes_any_challenge"


class Receiver:
    """Verifies signatures over the raw bytes, then applies its one bug; records
    every POST: the client address, and the message ids and senders in it."""

    def __init__(self, bug: str) -> None:
        self.bug = bug
        self.posts: list[tuple[str | None, bytes, list[str], list[str], int]] = []
        self.seen: set[str] = set()
        self._lock = threading.Lock()
        self.app = Flask(f"shrink_{bug}")
        self.app.add_url_rule(PATH, "hook", self._hook, methods=["GET", "POST"])

    def config(self, **overrides: Any) -> SuiteConfig:
        settings: dict[str, Any] = {
            "target": self.app,
            "verify_token": VERIFY_TOKEN,
            "app_secret": APP_SECRET,
            "phone_number_id": PHONE_NUMBER_ID,
            "path": PATH,
            "seed": 3,
            "examples": 10,
            "select": (GENERATED,),
        }
        settings.update(overrides)
        return SuiteConfig(**settings)

    def _hook(self) -> Response:
        if request.method == "GET":
            challenge = request.args.get("hub.challenge", "")
            if request.args.get("hub.verify_token") != VERIFY_TOKEN:
                return Response("forbidden", 403)
            if self.bug == "strip_challenge":
                challenge = challenge.strip()
            return Response(challenge, 200, mimetype="text/plain")
        raw = request.get_data()
        expected = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Hub-Signature-256", ""), expected):
            return Response("bad signature", 401)
        ids, senders = _parties(json.loads(raw))
        with self._lock:
            new = [i for i in ids if i not in self.seen]
            self.seen.update(ids)
            status = 200
            if self.bug == "refuses_escaped_slash" and b"\\/" in raw:
                status = 401
            if self.bug == "refuses_escaped_slash_on_first_sight" and b"\\/" in raw and new:
                status = 401
            self.posts.append((request.remote_addr, raw, ids, senders, status))
        return Response("EVENT_RECEIVED" if status == 200 else "refused", status)


def _parties(envelope: Any) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    senders: list[str] = []
    for entry in envelope.get("entry", []):
        for change in entry.get("changes", []):
            for message in change.get("value", {}).get("messages", []):
                ids.append(message["id"])
                senders.append(message.get("from") or message.get("from_user_id"))
    return ids, senders


def _only(results: list[CheckResult]) -> CheckResult:
    assert len(results) == 1, [r.check for r in results]
    return results[0]


def _body(result: CheckResult) -> str:
    assert result.exchange is not None
    body: str = result.exchange["request"]["body"]
    return body


@pytest.fixture(scope="module")
def slash() -> tuple[Receiver, Report]:
    """One shrunk failure, with the default budget, for the tests that read it."""
    receiver = Receiver("refuses_escaped_slash")
    return receiver, run(receiver.config())


# --- shrinking ---------------------------------------------------------------------


def test_a_failure_is_shrunk_to_a_smaller_example_that_still_fails(
    slash: tuple[Receiver, Report],
) -> None:
    _, report = slash
    result = _only(report.results)
    assert result.outcome == "failed"
    shrink = result.shrink
    assert shrink is not None
    assert shrink.shrunk_bytes < shrink.original_bytes
    assert 1 <= shrink.attempts <= DEFAULT_SHRINK_BUDGET
    assert "\\/" in _body(result)
    assert len(_body(result).encode()) == shrink.shrunk_bytes
    assert f"shrunk from {shrink.original_bytes:,} bytes" in result.detail
    assert f"in {shrink.attempts} attempt" in result.detail
    entry = report.to_json()["checks"][0]
    assert entry["shrink"] == {
        "original_bytes": shrink.original_bytes,
        "shrunk_bytes": shrink.shrunk_bytes,
        "original_messages": shrink.original_messages,
        "shrunk_messages": shrink.shrunk_messages,
        "attempts": shrink.attempts,
    }
    assert shrink.shrunk_messages == 1


def test_every_attempt_is_a_fresh_delivery_and_none_is_sent_twice(
    slash: tuple[Receiver, Report],
) -> None:
    receiver, report = slash
    result = _only(report.results)
    assert result.shrink is not None
    posts = receiver.posts
    # Generation up to the first failure, then one POST per shrink attempt:
    # Hypothesis's replays of values it has tried sent nothing.
    assert len(posts) <= receiver.config().examples + result.shrink.attempts
    assert len({raw for _, raw, _, _, _ in posts}) == len(posts)
    addresses = [address for address, _, _, _, _ in posts]
    assert len(set(addresses)) == len(addresses)
    ids = [i for _, _, message_ids, _, _ in posts for i in message_ids]
    assert len(set(ids)) == len(ids)
    senders_per_post = [set(senders) for _, _, _, senders, _ in posts]
    for n, senders in enumerate(senders_per_post):
        assert not any(senders & other for other in senders_per_post[n + 1 :])


def test_a_receiver_that_fails_only_on_first_sight_cannot_fake_a_pass() -> None:
    # It accepts any id it has seen: had shrinking redelivered an example,
    # that example would have passed and the failure would have slipped away.
    receiver = Receiver("refuses_escaped_slash_on_first_sight")
    result = _only(run(receiver.config()).results)
    assert result.outcome == "failed", result.detail
    assert result.shrink is not None
    assert result.shrink.shrunk_bytes < result.shrink.original_bytes
    assert result.shrink.shrunk_messages == 1
    # The same --seed again draws the same examples, sent with new ids: it
    # fails again, and the receiver never saw one message id twice.
    again = _only(run(receiver.config(shrink_budget=5)).results)
    assert again.outcome == "failed"
    ids = [i for _, _, message_ids, _, _ in receiver.posts for i in message_ids]
    assert len(set(ids)) == len(ids)


def test_attempts_stay_within_the_budget() -> None:
    receiver = Receiver("refuses_escaped_slash_on_first_sight")
    result = _only(run(receiver.config(shrink_budget=3)).results)
    assert result.shrink is not None
    assert result.shrink.attempts <= 3
    first = receiver.posts.index(next(p for p in receiver.posts if p[4] == 401))
    assert len(receiver.posts) - first - 1 <= 3


def test_a_budget_of_0_reports_the_first_failure_unshrunk() -> None:
    receiver = Receiver("refuses_escaped_slash")
    report = run(receiver.config(shrink_budget=0))
    result = _only(report.results)
    assert result.outcome == "failed"
    assert result.shrink is None
    assert "shrunk" not in result.detail
    assert report.to_json()["checks"][0]["shrink"] is None
    # The first failing example ended the check: nothing was sent after it.
    assert receiver.posts[-1][4] == 401
    assert [p[4] for p in receiver.posts[:-1]] == [200] * (len(receiver.posts) - 1)
    assert result.replay is not None  # the failing example can still be replayed


def test_a_challenge_is_shrunk_too() -> None:
    receiver = Receiver("strip_challenge")
    result = _only(run(receiver.config(select=(HANDSHAKE,), examples=100)).results)
    assert result.outcome == "failed", result.detail
    assert result.shrink is not None
    assert result.shrink.shrunk_messages is None
    assert result.shrink.shrunk_bytes == 1 < result.shrink.original_bytes
    assert "with challenge ' ' was not verified" in result.detail


# --- replay ------------------------------------------------------------------------


def test_the_replay_token_sends_exactly_the_shrunk_example_again(
    slash: tuple[Receiver, Report],
) -> None:
    # A receiver of its own: the other tests count the shared one's POSTs.
    receiver = Receiver("refuses_escaped_slash")
    first = _only(slash[1].results)
    assert first.shrink is not None
    assert first.replay is not None
    argv = shlex.split(first.reproduce)
    assert argv[argv.index("-k") + 1] == GENERATED
    assert argv[argv.index("--replay") + 1] == first.replay

    again = run(receiver.config(replay=first.replay))
    result = _only(again.results)
    assert result.check == GENERATED
    assert result.outcome == "failed"
    assert len(receiver.posts) == 1
    address, raw, ids, _, _ = receiver.posts[0]
    assert len(raw) == first.shrink.shrunk_bytes
    assert "\\/" in raw.decode()
    assert _parties(json.loads(_body(first)))[0] != ids
    # Freshened as always: a new address and new message ids.
    original = slash[0].posts
    assert address not in {p[0] for p in original}
    assert not set(ids) & {i for p in original for i in p[2]}
    assert result.replay == first.replay
    assert "--replay" in result.reproduce


def test_a_replayed_example_that_passes_now_passes(slash: tuple[Receiver, Report]) -> None:
    token = _only(slash[1].results).replay
    assert token is not None
    fixed = Receiver("none")
    assert _only(run(fixed.config(replay=token)).results).outcome == "passed"
    assert len(fixed.posts) == 1


def test_replay_needs_exactly_one_check(slash: tuple[Receiver, Report]) -> None:
    token = _only(slash[1].results).replay
    assert token is not None
    with pytest.raises(ContractUsageError, match="select that check alone"):
        run(Receiver("none").config(select=("SIG",), replay=token))


def test_a_check_id_selects_exactly_that_check() -> None:
    config = Receiver("none").config(select=(GENERATED,))
    assert [c.id for c in selected_checks(config)] == [GENERATED]


def test_the_reproduce_command_of_a_generated_failure_replays_it() -> None:
    config = Receiver("none").config(shrink_budget=7)
    command = reproduce_command(config, "SIG-6", check=GENERATED, replay="0:6.0.0:AAAA")
    assert command.endswith(f"-k {GENERATED} --replay 0:6.0.0:AAAA")
    plain = reproduce_command(config, "SIG-6")
    assert "--shrink-budget 7" in plain
    assert plain.endswith("-k SIG-6")
    default = Receiver("none").config(shrink_budget=DEFAULT_SHRINK_BUDGET)
    assert "--shrink-budget" not in reproduce_command(default, "SIG-6")


# --- the pieces --------------------------------------------------------------------


def test_freshen_renews_every_party_and_id_consistently_keeping_their_shape() -> None:
    account = Account("123456789012345", PHONE_NUMBER_ID, "15550783881")
    ann = Customer("15551234567", "Ann", user_id="US.1234567890123456")
    first = text(ann, "hi /there", rng=random.Random(1))
    liked = reaction(ann, first["id"], "👍", rng=random.Random(2))
    payload = message_payload(account, [first, liked], ann)
    drawn = (payload, "form")

    fresh, form = freshen(drawn)
    assert form == "form"
    old_value = payload["entry"][0]["changes"][0]["value"]
    value = fresh["entry"][0]["changes"][0]["value"]
    new_first, new_liked = value["messages"]
    assert new_first["id"] != first["id"]
    assert len(new_first["id"]) == len(first["id"])
    assert new_first["id"].startswith("wamid.")
    assert [c for c in new_first["id"] if not c.isalnum()] == [
        c for c in first["id"] if not c.isalnum()
    ]
    assert new_liked["reaction"]["message_id"] == new_first["id"]
    assert new_first["from"] == new_liked["from"] == value["contacts"][0]["wa_id"]
    assert new_first["from"] != ann.wa_id
    assert new_first["from"][:3] == "155"
    assert list(new_first) == list(first)  # Meta's key order kept
    assert value["metadata"] == old_value["metadata"]
    assert fresh["entry"][0]["id"] == payload["entry"][0]["id"]
    assert freshen("just a challenge") == "just a challenge"
    assert freshen(drawn) != fresh  # fresh every time


def test_measure_counts_body_bytes_and_messages_or_the_challenge() -> None:
    body = json.dumps({"entry": [{"changes": [{"value": {"messages": [{}, {}]}}]}]}).encode()
    post = Exchange(Request("POST", "http://x/", (), body, None), SentResponse(200, (), b""), 0)
    assert measure(post) == (len(body), 2)
    get = Exchange(
        Request("GET", "http://x/?hub.mode=subscribe&hub.challenge=%C3%A7ab", (), b"", None),
        SentResponse(200, (), b""),
        0,
    )
    assert measure(get) == (4, None)


def test_shrunk_describes_itself() -> None:
    assert Shrunk(4213, 212, 3, 1, 37).describe() == (
        "shrunk from 4,213 bytes (3 messages) to 212 bytes (1 message) in 37 attempts"
    )
    assert Shrunk(96, 1, None, None, 1).describe() == "shrunk from 96 bytes to 1 byte in 1 attempt"
    assert "no smaller failing example in 5 attempts" in Shrunk(9, 9, 1, 1, 5).describe()


@pytest.mark.parametrize(
    "token",
    ["", "nonsense", "x:6.1.1:AAAA", "0:6.1:AAAA", "0:6.1.1:not base64!"],
)
def test_a_malformed_token_is_a_usage_error(token: str) -> None:
    with pytest.raises(ContractUsageError, match="--replay"):
        ReplayToken.parse(token)


def test_a_token_from_another_hypothesis_is_a_usage_error() -> None:
    with pytest.raises(ContractUsageError, match=r"made with Hypothesis 1\.2\.3"):
        ReplayToken.parse("0:1.2.3:AAAA")


# --- the command line --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--shrink-budget", "lots"), "--shrink-budget 'lots'"),
        (("--shrink-budget", "-1"), "--shrink-budget '-1'"),
        (("--replay", "garbage", "-k", GENERATED), "--replay 'garbage'"),
        (("--replay", f"0:{hypothesis.__version__}:AAAA"), "select that check"),
    ],
)
def test_bad_shrink_options_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    with pytest.raises(SystemExit) as exited:
        main(["check", "--verify-token", "t", "--app-secret", "s", *args])
    out, err = capsys.readouterr()
    assert exited.value.code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fakemeta: ")
    assert message in lines[0]
