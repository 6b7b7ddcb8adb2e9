"""`fakemeta serve` as a user runs it: a subprocess on a free port, stopped by a signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner
from serve_helpers import APP_SECRET, VERIFY_TOKEN, BotReceiver, wait_for

from fakemeta.simulator.cli import cli

pytestmark = pytest.mark.timeout(60)

COMMAND = [sys.executable, "-c", "from fakemeta.simulator.cli import main; main()", "serve"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def launch(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("META_WEBHOOK_VERIFY_TOKEN", "META_CLIENT_SECRET", "WHATSAPP_ACCESS_TOKEN"):
        env.pop(name, None)
    return subprocess.Popen(
        [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def read_banner(process: subprocess.Popen[str], timeout: float = 15) -> list[str]:
    """Standard output up to "Ctrl-C to stop"."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Ctrl-C to stop"):
            return lines
    process.kill()
    raise AssertionError(f"no banner; got {lines!r}")


@pytest.fixture
def receiver() -> Iterator[BotReceiver]:
    with BotReceiver() as bot:
        yield bot


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_starts_delivers_and_stops_on_a_signal(
    receiver: BotReceiver, sig: signal.Signals
) -> None:
    port = free_port()
    process = launch("--port", str(port), "--webhook", receiver.url,
                     "--verify-token", VERIFY_TOKEN, "--app-secret", APP_SECRET,
                     "--access-token", "tok-123")  # fmt: skip
    try:
        banner = "\n".join(read_banner(process))
        base = f"http://127.0.0.1:{port}"
        assert f"Graph API base URL  {base}" in banner
        assert "access token        tok-123" in banner
        assert "phone number id     106540352242922" in banner
        assert f"console             {base}/_fakemeta/console" in banner
        assert f"{receiver.url}  verified" in banner
        sent = httpx.post(f"{base}/_fakemeta/inbound", json={"from": "15551234567", "text": "hi"})
        assert sent.status_code == 202
        wait_for(lambda: receiver.posts, what="the webhook")
        assert receiver.posts[0].signature_ok
        process.send_signal(sig)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert out.strip().splitlines()[-1] == "fakemeta serve: stopped"
    assert "Traceback" not in err


def test_a_failed_handshake_is_explained_at_start(receiver: BotReceiver) -> None:
    process = launch("--port", "0", "--webhook", receiver.url, "--verify-token", "wrong")
    try:
        banner = "\n".join(read_banner(process))
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert "NOT verified: status 403" in banner
    assert "/_fakemeta/subscription/verify" in banner
    assert "app secret" in banner  # generated, so printed
    assert "webhook NOT verified" in err
    assert process.returncode == 0


def test_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        process = launch("--port", str(port))
        out, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert out == ""
    [line] = err.strip().splitlines()
    assert line.startswith(f"fakemeta: cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--webhook", "http://127.0.0.1:1/x"], "--verify-token"),
        (["--webhook", "not a url", "--verify-token", "t"], "invalid receiver URL"),
        (["--read-after", "soon"], "seconds or 'off'"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args: list[str], words: str) -> None:
    result = CliRunner().invoke(cli, ["serve", *args], env={"META_WEBHOOK_VERIFY_TOKEN": ""})
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    assert words in line


def test_help() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--webhook", "--verify-token", "--app-secret", "--access-token",
                   "--phone-number-id", "--port", "--throughput", "--undeliverable"):  # fmt: skip
        assert option in result.output


def test_the_bounds_and_allowed_hosts_reach_the_server() -> None:
    port = free_port()
    process = launch("--port", str(port), "--max-media-bytes", "2M", "--max-messages", "50",
                     "--max-body-bytes", "512K", "--max-deliveries", "7", "--max-users", "9",
                     "--allow-host", "dev.example")  # fmt: skip
    try:
        read_banner(process)
        base = f"http://127.0.0.1:{port}"
        limits = httpx.get(f"{base}/_fakemeta/").json()["limits"]
        assert limits["max_media_bytes"] == 2 * 1024 * 1024
        assert limits["max_messages"] == 50
        assert limits["max_body_bytes"] == 512 * 1024
        assert limits["max_deliveries"] == 7
        assert (limits["max_users"], limits["users"], limits["evicted"]["users"]) == (9, 0, 0)
        allowed = httpx.get(f"{base}/_fakemeta/", headers={"Host": "dev.example"})
        assert allowed.status_code == 200
        refused = httpx.get(f"{base}/_fakemeta/", headers={"Host": "other.example"})
        assert refused.status_code == 403
        too_big = httpx.post(f"{base}/_fakemeta/inbound", content=b"x" * (512 * 1024 + 1),
                             headers={"Content-Type": "application/json"})  # fmt: skip
        assert too_big.status_code == 413
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_a_size_that_is_not_one_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["serve", "--max-media-bytes", "lots"])
    assert result.exit_code == 2
    assert "'lots' is not a size" in result.output
