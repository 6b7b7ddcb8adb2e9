"""The `fakemeta` command line: send, verify, sign, fixtures.

In-process through `main()` where output and exit codes are enough, and as a
real subprocess where it matters that a user sees one line and no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Cli, run

from fakemeta.simulator import fixtures
from fakemeta.simulator.graph.state import user_id_of
from fakemeta.simulator.signing import sign


def run_process(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-c", "from fakemeta.simulator.cli import main; main()", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env=env,
    )


def _messages(request: Any) -> list[dict[str, Any]]:
    payload = json.loads(request.body)
    return [
        m
        for entry in payload["entry"]
        for change in entry["changes"]
        for m in change["value"].get("messages", [])
    ]


# --- send ------------------------------------------------------------------


def test_send_text_arrives_signed_and_is_reported(
    loopback_cli: Cli, loopback_receiver: Any
) -> None:
    code, out, _ = loopback_cli(
        "send", "text", "--phone-number-id", "106540352242922", "--from", "966501234567"
    )
    assert code == 0
    (request,) = loopback_receiver.requests
    assert request.signature_ok
    assert request.header("User-Agent") == "facebookexternalua"
    assert request.header("Content-Type") == "application/json"
    payload = json.loads(request.body)
    value = payload["entry"][0]["changes"][0]["value"]
    assert value["metadata"]["phone_number_id"] == "106540352242922"
    assert [m["type"] for m in value["messages"]] == ["text"]
    assert value["messages"][0]["from"] == "966501234567"
    assert "HTTP 200" in out
    assert "1 of 1 deliveries acknowledged" in out


def test_send_fixture_sends_its_exact_bytes(
    loopback_cli: Cli, loopback_receiver: Any, loopback_secret: str
) -> None:
    code, _, _ = loopback_cli("send", "--fixture", "messages/image")
    assert code == 0
    (request,) = loopback_receiver.requests
    wire = fixtures.load("messages/image").wire
    assert request.body == wire
    assert request.header("X-Hub-Signature-256") == sign(wire, loopback_secret)


def test_send_overrides_batch_and_repeat(loopback_cli: Cli, loopback_receiver: Any) -> None:
    code, _, _ = loopback_cli(
        "send", "text", "--set", "message.text.body=مرحبا 👋 https://x.y/z", "--batch", "3",
        "--repeat", "2",
    )  # fmt: skip
    assert code == 0
    assert len(loopback_receiver.requests) == 2
    ids = []
    for request in loopback_receiver.requests:
        assert request.signature_ok
        assert (
            b"\\u0645\\u0631\\u062d\\u0628\\u0627 \\ud83d\\udc4b https:\\/\\/x.y\\/z"
            in request.body
        )
        found = _messages(request)
        assert len(found) == 3
        assert found[0]["text"]["body"] == "مرحبا 👋 https://x.y/z"
        ids += [m["id"] for m in found]
    assert len(set(ids)) == 6, "every built payload has fresh message ids"


def test_send_status_and_field_variants(loopback_cli: Cli, loopback_receiver: Any) -> None:
    for variant in ("statuses/read", "fields/template_approved", "batches/two_changes_one_entry"):
        code, _, _ = loopback_cli("send", variant)
        assert code == 0, variant
    fields = [
        json.loads(r.body)["entry"][0]["changes"][0]["field"] for r in loopback_receiver.requests
    ]
    assert fields == ["messages", "message_template_status_update", "messages"]


def test_send_not_acknowledged_exits_1(loopback_cli: Cli, loopback_receiver: Any) -> None:
    loopback_receiver.respond(500)
    code, out, _ = loopback_cli("send")
    assert code == 1
    assert "HTTP 500" in out
    assert "0 of 1 deliveries acknowledged" in out
    assert len(loopback_receiver.requests) == 1, "no retries unless asked"


def test_send_retry_follows_metas_schedule_on_a_compressed_clock(
    loopback_cli: Cli, loopback_receiver: Any
) -> None:
    loopback_receiver.respond(500, 503)
    started = time.monotonic()
    code, out, _ = loopback_cli("send", "--retry", "--time-scale", "100000")
    assert code == 0
    assert time.monotonic() - started < 10
    assert len(loopback_receiver.requests) == 3
    assert len({r.body for r in loopback_receiver.requests}) == 1, "a retry resends the same bytes"
    assert "attempt 3" in out
    retries = [line.split("retry at ")[1] for line in out.splitlines() if "retry at" in line]
    assert len(retries) == 2
    assert retries[0].endswith("ms")  # at once: within milliseconds of the failure
    assert retries[1] == "+15s"  # Meta's second wait


def test_send_duplicates_deliver_the_same_bytes_twice(
    loopback_cli: Cli, loopback_receiver: Any
) -> None:
    code, out, _ = loopback_cli("send", "--repeat", "2", "--duplicates", "1")
    assert code == 0
    bodies = [r.body for r in loopback_receiver.requests]
    assert len(bodies) == 3
    assert len(set(bodies)) == 2
    assert "(duplicate)" in out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["send", "http://127.0.0.1:9/x", "nope", "--app-secret", "s"], "no variant named 'nope'"),
        (["send", "http://127.0.0.1:9/x", "--app-secret", "s", "--set", "message.txt.body=x"],
         "no key 'txt'"),
        (["send", "http://127.0.0.1:9/x"], "no app secret"),
        (["send", "http://127.0.0.1:9/x", "--app-secret", "s", "--from", "+1555"], "digits only"),
        (["send", "http://127.0.0.1:9/x", "--app-secret", "s", "--source-ip", "10.0.0.1"],
         "127"),
        (["send", "http://a/", "http://b/"], "at most a URL and a variant"),
        (["fixtures", "show", "nope"], "no variant named 'nope'"),
        (["send", "http://127.0.0.1:9/x", "sent_cbp_pricing", "--app-secret", "s"],
         "add --era 2025"),
        (["send", "http://127.0.0.1:9/x", "--app-secret", "s", "--era", "1999"],
         "UnknownEra: --era 1999"),
        (["fixtures", "show", "text_phoneless", "--era", "2025"], "add --era 2026"),
        (["verify", "http://127.0.0.1:9/x"], "no verify token"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    code, _, err = run(capsys, *args)
    assert code == 2
    assert says in err
    assert len(err.strip().splitlines()) == 1, err


def test_unreachable_receiver_is_one_line_no_traceback(loopback_closed_url: str) -> None:
    done = run_process("send", loopback_closed_url, "--app-secret", "s")
    assert done.returncode == 2
    err = done.stderr.decode()
    assert "ReceiverUnreachable" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_timeout_is_one_line_and_exit_2(loopback_cli: Cli, loopback_receiver: Any) -> None:
    def slow(request: Any) -> tuple[int, bytes, dict[str, str]]:
        time.sleep(1.5)
        return 200, b"late", {}

    loopback_receiver.handler = slow
    code, _, err = loopback_cli("send", "--timeout", "0.3")
    assert code == 2
    assert "ReceiverTimeout" in err


def test_tls_to_a_plain_http_server_is_one_line(
    capsys: pytest.CaptureFixture[str], loopback_receiver: Any
) -> None:
    url = loopback_receiver.url.replace("http://", "https://")
    code, _, err = run(capsys, "send", url, "--app-secret", "s")
    assert code == 2
    assert err.startswith("fakemeta: ")
    assert ("TlsError" in err) or ("ReceiverProtocolError" in err)


def test_send_and_verify_without_url_use_the_reference_receiver() -> None:
    sent = run_process("send", "text")
    assert sent.returncode == 0, sent.stderr.decode()
    assert b"started the reference receiver at http://127.0.0.1:" in sent.stderr
    assert b"1 of 1 deliveries acknowledged" in sent.stdout
    verified = run_process("verify")
    assert verified.returncode == 0, verified.stderr.decode()
    assert b"verified" in verified.stdout


# --- send --era ------------------------------------------------------------


def _value(request: Any) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(request.body)["entry"][0]["changes"][0]["value"]
    return value


def test_send_by_default_carries_business_scoped_user_ids(
    loopback_cli: Cli, loopback_receiver: Any
) -> None:
    for _ in range(2):
        code, _, _ = loopback_cli("send", "text", "--from", "966501234567", "--name", "Layla")
        assert code == 0
    first, second = (_value(r) for r in loopback_receiver.requests)
    [message], [contact] = first["messages"], first["contacts"]
    assert message["from"] == contact["wa_id"] == "966501234567"
    assert message["from_user_id"] == contact["user_id"]
    assert contact["user_id"].startswith("SA."), "a business-scoped id of the number's country"
    assert contact["user_id"] == user_id_of("966501234567"), "the id `fakemeta serve` gives it"
    assert contact["profile"]["name"] == "Layla"
    assert second["contacts"][0]["user_id"] == contact["user_id"], "the same user, the same id"
    assert second["messages"][0]["id"] != message["id"]


def test_send_era_2025_has_phone_numbers_only(loopback_cli: Cli, loopback_receiver: Any) -> None:
    code, out, _ = loopback_cli("send", "text", "--from", "966501234567", "--era", "2025")
    assert code == 0, out
    (request,) = loopback_receiver.requests
    assert request.signature_ok
    value = _value(request)
    assert value["messages"][0]["from"] == value["contacts"][0]["wa_id"] == "966501234567"
    assert b"user_id" not in request.body


def test_send_statuses_follow_the_era(loopback_cli: Cli, loopback_receiver: Any) -> None:
    for era in ("2026", "2025"):
        code, _, _ = loopback_cli("send", "statuses/sent", "--from", "4915112345678", "--era", era)
        assert code == 0, era
    current, older = (_value(r) for r in loopback_receiver.requests)
    [status] = current["statuses"]
    assert current["contacts"][0]["wa_id"] == status["recipient_id"] == "4915112345678"
    assert current["contacts"][0]["user_id"] == status["recipient_user_id"]
    assert "conversation" not in status
    [status] = older["statuses"]
    assert "contacts" not in older
    assert status["recipient_id"] == "4915112345678"
    assert "recipient_user_id" not in status
    assert "conversation" in status


def test_send_a_2025_only_variant_and_fixture_with_era_2025(
    loopback_cli: Cli, loopback_receiver: Any
) -> None:
    code, out, _ = loopback_cli("send", "sent_cbp_pricing", "--era", "2025")
    assert code == 0
    assert "statuses/sent_cbp_pricing" in out
    assert _value(loopback_receiver.requests[0])["statuses"][0]["pricing"]["pricing_model"] == (
        "CBP"
    )
    code, _, _ = loopback_cli("send", "--fixture", "messages/text", "--era", "2025")
    assert code == 0
    wire = fixtures.load("messages/text", "2025").wire
    assert loopback_receiver.requests[1].body == wire
    assert wire != fixtures.load("messages/text").wire


def test_send_unknown_era_is_one_line_without_a_traceback() -> None:
    done = run_process("send", "http://127.0.0.1:9/x", "--app-secret", "s", "--era", "1999")
    assert done.returncode == 2
    err = done.stderr.decode()
    assert err.startswith("fakemeta: UnknownEra: --era 1999")
    assert "2025, 2026" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_send_a_2025_only_variant_in_the_current_era_says_add_era_2025() -> None:
    done = run_process("send", "http://127.0.0.1:9/x", "sent_cbp_pricing", "--app-secret", "s")
    assert done.returncode == 2
    err = done.stderr.decode()
    assert "--era 2025" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


# --- verify ----------------------------------------------------------------


def test_verify_echo_passes_and_wrong_answers_fail(
    capsys: pytest.CaptureFixture[str], loopback_receiver: Any
) -> None:
    def echo(request: Any) -> tuple[int, bytes, dict[str, str]]:
        return 200, request.args["hub.challenge"].encode(), {"Content-Type": "text/plain"}

    loopback_receiver.handler = echo
    code, out, _ = run(
        capsys, "verify", loopback_receiver.url, "--verify-token", "tok", "--challenge", "a b&c=d/é"
    )
    assert code == 0
    assert "verified" in out
    request = loopback_receiver.requests[-1]
    assert request.method == "GET"
    assert request.args == {
        "hub.mode": "subscribe",
        "hub.challenge": "a b&c=d/é",
        "hub.verify_token": "tok",
    }

    def wrapped(request: Any) -> tuple[int, bytes, dict[str, str]]:
        return 200, json.dumps({"challenge": request.args["hub.challenge"]}).encode(), {}

    loopback_receiver.handler = wrapped
    code, out, _ = run(capsys, "verify", loopback_receiver.url, "--verify-token", "tok")
    assert code == 1
    assert "not verified" in out


# --- sign and fixtures -----------------------------------------------------


def test_sign_signs_the_exact_bytes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    body = '{"a":"é"}\n'.encode()
    path = tmp_path / "body.json"
    path.write_bytes(body)
    code, out, _ = run(capsys, "sign", str(path), "--app-secret", "s3cret")
    assert code == 0
    assert out.strip() == sign(body, "s3cret")


def test_sign_meta_encode_and_stdin() -> None:
    done = run_process(
        "sign", "-", "--app-secret", "k", "--meta-encode", stdin='{"u": "a/é"}'.encode()
    )
    assert done.returncode == 0
    wire, signature = done.stdout.decode().splitlines()
    assert wire == '{"u":"a\\/\\u00e9"}'
    assert signature == sign(wire.encode(), "k")
    bad = run_process("sign", "-", "--app-secret", "k", "--meta-encode", stdin=b"not json")
    assert bad.returncode == 2
    assert b"is not JSON" in bad.stderr
    assert b"Traceback" not in bad.stderr


def test_sign_missing_file_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "sign", str(tmp_path / "absent.json"), "--app-secret", "s")
    assert code == 2
    assert "absent.json" in err


def test_fixtures_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "fixtures", "list")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == fixtures.names()
    assert any(line.split()[0] == "messages/text" and "messages: text" in line for line in lines)
    code, out, _ = run(capsys, "fixtures", "show", "reaction_removed")
    assert code == 0
    assert json.loads(out) == fixtures.load("messages/reaction_removed").payload
    done = run_process("fixtures", "show", "messages/text", "--wire")
    assert done.stdout == fixtures.load("messages/text").wire  # piped: the bytes alone


def test_fixtures_list_and_show_take_the_era(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "fixtures", "list", "--era", "2025")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines()]
    assert listed == fixtures.names("2025")
    assert "statuses/sent_cbp_pricing" in listed
    assert "messages/text_phoneless" not in listed
    code, out, _ = run(capsys, "fixtures", "list")
    assert code == 0
    current = [line.split()[0] for line in out.splitlines()]
    assert "messages/text_phoneless" in current
    assert "statuses/sent_cbp_pricing" not in current
    code, out, _ = run(capsys, "fixtures", "show", "sent_cbp_pricing", "--era", "2025")
    assert code == 0
    assert json.loads(out) == fixtures.load("statuses/sent_cbp_pricing", "2025").payload
    done = run_process("fixtures", "show", "messages/text", "--wire", "--era", "2025")
    assert done.stdout == fixtures.load("messages/text", "2025").wire


def test_the_era_comes_from_fakemeta_era_too() -> None:
    done = run_process("fixtures", "list", env={**os.environ, "FAKEMETA_ERA": "2025"})
    assert done.returncode == 0, done.stderr.decode()
    assert b"statuses/sent_cbp_pricing" in done.stdout


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("send", "verify", "sign", "fixtures", "receiver"):
        assert command in out
    for command in ("send", "serve"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0
        assert "--era [2025|2026]" in out
        assert "2025 (phone numbers only, v23 statuses)" in " ".join(out.split())
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert "fakemeta" in out
