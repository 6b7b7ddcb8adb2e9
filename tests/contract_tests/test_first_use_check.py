"""`fakemeta check` the first time round: `.env`, a reproduce command that
runs when pasted, `--insecure`, `--fail-on-skipped-must`, and a machine
where only 127.0.0.1 can be bound (macOS)."""

from __future__ import annotations

import errno
import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from check_helpers import ENV_NAMES
from cli_helpers import INSTALLED_PATH, fakemeta_process
from flask import Flask, Response, request
from reference_helpers import reference_config
from werkzeug.serving import make_server

from fakemeta.contract_tests.addresses import NO_LOOPBACK_ALIASES, AddressPlan, Leases
from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.runner import run
from fakemeta.reference_receiver.serve import Running

TOKEN = "first-use-verify-token"
SECRET = "first-use-app-secret"
#: `fakemeta` on PATH first, as after `pip install`.
PATH = INSTALLED_PATH


def fakemeta(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`fakemeta ARGS...` as a process with PATH, NO_COLOR and `env` its only environment."""
    return fakemeta_process(
        *args, text=True, cwd=cwd, env=env, path=PATH, no_color=True, timeout=180
    )


def _echoing_app() -> Flask:
    """Echoes the challenge for any verify token: VERIFY-2 fails."""
    app = Flask("echoing_receiver")

    @app.route("/hook", methods=["GET", "POST"])
    def hook() -> Response:
        return Response(request.args.get("hub.challenge", ""), mimetype="text/plain")

    return app


def _serve(ssl_context: Any = None) -> Iterator[str]:
    scheme = "https" if ssl_context else "http"
    server = make_server("127.0.0.1", 0, _echoing_app(), threaded=True, ssl_context=ssl_context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def echoing_url() -> Iterator[str]:
    yield from _serve()


@pytest.fixture(scope="module")
def self_signed_url() -> Iterator[str]:
    """The same receiver over HTTPS with a certificate nobody signed."""
    yield from _serve("adhoc")


# --- .env ---------------------------------------------------------------------


def test_check_reads_its_secrets_from_dot_env(tmp_path: Path, reference: Running) -> None:
    (tmp_path / ".env").write_text(
        f"META_WEBHOOK_VERIFY_TOKEN={reference.verify_token}\n"
        f"META_CLIENT_SECRET={reference.app_secret}\n"
    )
    done = fakemeta("check", reference.url, "-k", "VERIFY-1", "-k", "SIG-1", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


# --- the reproduce command ----------------------------------------------------------


def test_the_reproduce_command_names_the_secrets_and_runs_when_pasted(
    tmp_path: Path, echoing_url: str
) -> None:
    report = tmp_path / "report.json"
    done = fakemeta(
        "check", echoing_url, "--verify-token", TOKEN, "--app-secret", SECRET,
        "--seed", "7", "-k", "VERIFY-2", "--report-json", str(report),
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    (verify2,) = [
        r for r in json.loads(report.read_text())["requirements"] if r["id"] == "VERIFY-2"
    ]
    command = verify2["reproduce"]
    assert command.startswith(f"fakemeta check {echoing_url} --seed 7 -k VERIFY-2")
    assert '--verify-token "$META_WEBHOOK_VERIFY_TOKEN"' in command
    assert '--app-secret "$META_CLIENT_SECRET"' in command
    assert SECRET not in done.stdout
    assert TOKEN not in command
    assert f"reproduce  {command}" in done.stdout

    # Pasted into a shell where the variables are set: the same failure.
    env = {"PATH": PATH, "NO_COLOR": "1", "META_WEBHOOK_VERIFY_TOKEN": TOKEN}
    pasted = subprocess.run(
        ["sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=180,
        env={**env, "META_CLIENT_SECRET": SECRET},
    )
    assert pasted.returncode == 1, pasted.stdout + pasted.stderr
    assert "VERIFY-2::" in pasted.stdout
    assert "1 failed" in pasted.stdout or "failed" in pasted.stdout.splitlines()[-1]
    # Where they are not: one line saying which, not a traceback.
    unset = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env)
    assert unset.returncode == 2
    assert "META_CLIENT_SECRET" in unset.stderr
    assert "Traceback" not in unset.stderr


# --- --insecure -------------------------------------------------------------------


def test_a_self_signed_certificate_is_refused_and_the_error_names_insecure(
    self_signed_url: str,
) -> None:
    done = fakemeta(
        "check", self_signed_url, "--verify-token", TOKEN, "--app-secret", SECRET, "-k", "VERIFY-1"
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "TLS" in done.stderr
    assert "--insecure" in done.stderr
    assert "Traceback" not in done.stderr


def test_insecure_checks_a_receiver_with_a_self_signed_certificate(self_signed_url: str) -> None:
    done = fakemeta(
        "check", self_signed_url, "--verify-token", TOKEN, "--app-secret", SECRET,
        "-k", "VERIFY-1", "--insecure",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


# --- --fail-on-skipped-must ------------------------------------------------------


def test_skipped_must_requirements_fail_the_run_only_when_asked(reference: Running) -> None:
    # No --probe: CLIENT-1 (MUST) cannot see the store and is skipped.
    args = [
        "check", reference.url, "--verify-token", reference.verify_token,
        "--app-secret", reference.app_secret, "-k", "VERIFY-1", "-k", "CLIENT-1",
    ]  # fmt: skip
    assert fakemeta(*args).returncode == 0
    done = fakemeta(*args, "--fail-on-skipped-must")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "--fail-on-skipped-must: 1 MUST requirement was skipped" in done.stdout
    assert "CLIENT-1 (needs a probe" in done.stdout


def test_fail_on_skipped_must_passes_when_every_must_ran(reference: Running) -> None:
    done = fakemeta(
        "check", reference.url, "--verify-token", reference.verify_token,
        "--app-secret", reference.app_secret, "-k", "VERIFY-1", "-k", "VERIFY-4",
        "--fail-on-skipped-must",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


# --- only 127.0.0.1 can be bound (macOS) -------------------------------------------


@pytest.fixture
def only_127_0_0_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """Binding any loopback address but 127.0.0.1 fails, as on macOS."""
    real_bind = socket.socket.bind

    def bind(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else ""
        if isinstance(host, str) and host.startswith("127.") and host != "127.0.0.1":
            raise OSError(errno.EADDRNOTAVAIL, "Can't assign requested address")
        real_bind(self, address)

    monkeypatch.setattr(socket.socket, "bind", bind)


@pytest.mark.usefixtures("only_127_0_0_1")
def test_without_loopback_aliases_the_plan_paces_and_says_why(tmp_path: Path) -> None:
    plan = AddressPlan(
        SuiteConfig("http://127.0.0.1:9/hook", "t", "s"), leases=Leases(tmp_path / "leases")
    )
    assert not plan.spread
    assert plan.fresh() is None
    assert plan.describe() == NO_LOOPBACK_ALIASES
    assert plan.events == []  # nothing happened yet that the run must explain


def test_with_loopback_aliases_the_plan_spreads(tmp_path: Path) -> None:
    plan = AddressPlan(
        SuiteConfig("http://127.0.0.1:9/hook", "t", "s"), leases=Leases(tmp_path / "leases")
    )
    assert plan.spread
    address = plan.fresh()
    assert address is not None
    assert address.startswith("127.")
    assert address != "127.0.0.1"


@pytest.mark.usefixtures("only_127_0_0_1")
def test_without_loopback_aliases_a_run_passes_from_127_0_0_1(reference: Running) -> None:
    report = run(reference_config(reference, seed=3, select=("VERIFY-1", "SIG-1", "CLIENT-1")))
    assert report.ok, [(r.check, r.detail) for r in report.results if r.outcome == "failed"]
    assert NO_LOOPBACK_ALIASES in report.notes
    assert {r.outcome for r in report.results} == {"passed"}


@pytest.mark.usefixtures("only_127_0_0_1")
def test_without_loopback_aliases_the_notes_say_why_rate_2_was_not_checked(
    reference: Running,
) -> None:
    report = run(reference_config(reference, seed=3, select=("RATE-2",)))
    (result,) = report.results
    assert result.outcome == "skipped"
    assert "only 127.0.0.1 can be bound" in result.detail
    assert "not on loopback" not in " ".join(report.notes)


@pytest.fixture(autouse=True)
def _no_inherited_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
