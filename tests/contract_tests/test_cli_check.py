"""`fakemeta check` end to end: options, exit status, and every report format.

Against the built-in reference receiver (no URL) and against a small,
deliberately broken receiver that echoes the challenge for any token. The
checks are written alongside this command, so these tests select VERIFY-*
(`-k VERIFY`), which exist from the start, and hold whatever else exists.
In-process through `main()`; as a real subprocess where it matters that a
user sees one line and no traceback.
"""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import cli_helpers
import pytest
from check_helpers import ENV_NAMES, check_process
from flask import Flask, Response, request
from werkzeug.serving import make_server

from fakemeta.contract_tests.config import RateLimit, SuiteConfig
from fakemeta.contract_tests.runner import reproduce_command
from fakemeta.simulator.cli import main

TOKEN = "right-verify-token"
SECRET = "broken-receiver-app-secret"
ANSI = re.compile(r"\x1b\[")
# The handshake requirements, by full ID: `-k VERIFY` would also select any
# later check whose name happens to contain "verify".
VERIFY = tuple(part for n in range(1, 6) for part in ("-k", f"VERIFY-{n}"))

pytestmark = pytest.mark.usefixtures("check_environment")


def _broken_app() -> Flask:
    """Echoes the challenge for any token (VERIFY-2, VERIFY-3 fail), and
    answers wrong tokens with HTML holding a script and an escape sequence."""
    app = Flask("broken_receiver")

    @app.route("/hook", methods=["GET", "POST"])
    def hook() -> Response:
        challenge = request.args.get("hub.challenge", "")
        if request.args.get("hub.verify_token") == TOKEN:
            return Response(challenge, mimetype="text/plain")
        return Response(f"{challenge}<script>alert('owned')</script>\x1b[2J", mimetype="text/html")

    return app


@pytest.fixture(scope="module")
def broken_url() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, _broken_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def unreachable_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return cli_helpers.run(capsys, "check", *args)


def secrets_for_broken() -> tuple[str, ...]:
    return ("--verify-token", TOKEN, "--app-secret", SECRET)


# --- help ------------------------------------------------------------------


def test_help_names_every_contract_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "Usage: fakemeta check [OPTIONS] [URL]" in out
    for option in (
        "--verify-token TEXT", "--app-secret TEXT", "--phone-number-id TEXT", "--probe URL",
        "--probe-token TEXT", "--profile [strict|meta]", "--rate-limit N/SECONDS|off",
        "--seed INT", "--report-json FILE", "--junitxml FILE", "--report-html FILE",
        "--examples N", "-k ID", "--timeout SECONDS", "--era [2025|2026]",
    ):  # fmt: skip
        assert option in out
    words = " ".join(out.split())
    for env in ENV_NAMES:
        assert f"[env: {env}]" in words


def test_check_is_a_fakemeta_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert re.search(r"^\s+check\s", capsys.readouterr().out, re.MULTILINE)


# --- the built-in receiver -------------------------------------------------


def test_builtin_receiver_passes_and_exits_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, *VERIFY, "--report-json", str(tmp_path / "r.json"))
    assert code == 0, out + err
    assert "started the reference receiver at http://127.0.0.1:" in err
    seed = re.search(r"seed (\d+)", out)
    assert seed is not None  # random when not given, and printed
    for n in range(1, 6):
        assert re.search(rf"^✓ VERIFY-{n}::\w+", out, re.MULTILINE)
    assert re.search(r"^32 requirements: 5 passed, 0 failed, 27 skipped in ", out, re.M)
    assert not ANSI.search(out)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["seed"] == int(seed[1])
    assert report["summary"] == {"passed": 5, "failed": 0, "skipped": 27}


def test_builtin_reproduce_has_no_url_probe_or_secret() -> None:
    config = SuiteConfig(
        "http://127.0.0.1:40000/api/",
        "token",
        "secret",
        None,
        probe_url="http://127.0.0.1:40000/_fakemeta/probe",
        rate_limit=RateLimit(5, 10),
        seed=42,
    )
    assert reproduce_command(config, "SIG-2", builtin=True) == (
        "fakemeta check --rate-limit 5/10 --seed 42 -k SIG-2"
    )


# --- a failing receiver ----------------------------------------------------


def test_broken_receiver_fails_with_reports(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, broken_url: str
) -> None:
    files = {
        "--report-json": tmp_path / "report.json",
        "--junitxml": tmp_path / "junit.xml",
        "--report-html": tmp_path / "report.html",
    }
    file_args = [part for option, path in files.items() for part in (option, str(path))]
    code, out, err = run(
        capsys, broken_url, *secrets_for_broken(), *VERIFY, "--seed", "7", *file_args
    )
    assert code == 1, out + err
    # The secrets by name, never by value, so that the pasted command runs.
    reproduce = (
        f"fakemeta check {broken_url} --seed 7 -k VERIFY-2"
        ' --verify-token "$META_WEBHOOK_VERIFY_TOKEN" --app-secret "$META_CLIENT_SECRET"'
    )

    # Terminal: progress, table, the failure in full, summary; plain when piped.
    assert not ANSI.search(out)
    assert re.search(r"^✓ VERIFY-1::\w+", out, re.MULTILINE)
    assert re.search(
        r"^✗ VERIFY-2::wrong_token_is_refused  the handshake with .* HTTP 200", out, re.M
    )
    assert re.search(r"^VERIFY-2 +MUST +failed +the handshake with", out, re.MULTILINE)
    failure = out[out.index("✗ VERIFY-2 (MUST)") :]
    assert re.search(r"sent +GET http://127\.0\.0\.1:\d+/hook\?hub\.mode=subscribe", failure)
    assert re.search(r"came back +HTTP 200", failure)
    assert "expected   a 4xx refusal" in failure
    assert f"reproduce  {reproduce}" in failure
    assert "<script>alert('owned')</script>\\x1b[2J" in failure  # escaped, not executed
    assert "\x1b" not in out
    assert re.search(r"^32 requirements: \d+ passed, [1-9]\d* failed, 27 skipped", out, re.M)
    assert TOKEN not in out  # the wrong tokens derive from it: redacted
    assert "hub.verify_token=not-<verify-token>" in out
    assert [line for line in out.splitlines() if line.startswith("wrote ")] == [
        f"wrote {path}" for path in files.values()
    ]

    # JSON: DESIGN's shape exactly (plus the documented `checks` and `notes`).
    report = json.loads(files["--report-json"].read_text())
    assert set(report) == {
        "tool", "version", "target", "profile", "seed", "requirements", "summary",
        "checks", "notes",
    }  # fmt: skip
    assert report["tool"] == "fakemeta"
    assert isinstance(report["version"], str)
    assert (report["target"], report["profile"], report["seed"]) == (broken_url, "strict", 7)
    assert set(report["summary"]) == {"passed", "failed", "skipped"}
    assert len(report["requirements"]) == 32
    for entry in report["requirements"]:
        assert set(entry) == {"id", "level", "title", "outcome", "detail", "reproduce"}
        assert entry["level"] in ("MUST", "SHOULD")
        assert entry["outcome"] in ("passed", "failed", "skipped")
    verify2 = next(r for r in report["requirements"] if r["id"] == "VERIFY-2")
    assert verify2["outcome"] == "failed"
    assert "HTTP 200" in verify2["detail"]
    assert verify2["reproduce"] == reproduce
    assert TOKEN not in files["--report-json"].read_text()

    # JUnit: parses; VERIFY-2's testcase failed with the reason, exchange, reproduce.
    suite = ET.parse(files["--junitxml"]).getroot().find("testsuite")  # noqa: S314 - ours
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert (props["target"], props["profile"], props["seed"]) == (broken_url, "strict", "7")
    case = suite.find("testcase[@classname='fakemeta.VERIFY-2']")
    assert case is not None
    assert case.get("name") == "VERIFY-2::wrong_token_is_refused"
    junit_failure = case.find("failure")
    assert junit_failure is not None
    assert "HTTP 200" in (junit_failure.get("message") or "")
    assert "came back:" in (junit_failure.text or "")
    assert reproduce in (junit_failure.text or "")
    assert len(suite.findall("testcase")) == 5

    # HTML: the matrix, the failure with its exchange, the script as text.
    page = files["--report-html"].read_text()
    assert ">VERIFY-2</a>" in page
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert html.escape(reproduce) in page
    assert TOKEN not in page


def test_reproduce_command_reruns_the_same_traffic(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    broken_url: str,
) -> None:
    first = tmp_path / "first.json"
    code, _, _ = run(
        capsys, broken_url, *secrets_for_broken(), "-k", "VERIFY-2", "--seed", "11",
        "--report-json", str(first),
    )  # fmt: skip
    assert code == 1
    reproduce = json.loads(first.read_text())["checks"][0]["reproduce"]
    # The reproduce command reads the secrets from the environment.
    monkeypatch.setenv("META_WEBHOOK_VERIFY_TOKEN", TOKEN)
    monkeypatch.setenv("META_CLIENT_SECRET", SECRET)
    again = tmp_path / "again.json"
    # As a shell reads it: the secrets' "$VARIABLES" expanded.
    argv = [os.path.expandvars(part) for part in shlex.split(reproduce)]
    assert argv[:2] == ["fakemeta", "check"]
    code, _, _ = run(capsys, *argv[2:], "--report-json", str(again))
    assert code == 1
    sent = [json.loads(p.read_text())["checks"][0]["exchange"]["request"] for p in (first, again)]
    assert sent[0]["url"] == sent[1]["url"]


def test_meta_profile_skips_should_requirements(
    capsys: pytest.CaptureFixture[str], broken_url: str
) -> None:
    code, out, _ = run(capsys, broken_url, *secrets_for_broken(), "-k", "VERIFY-4",
                       "--profile", "meta")  # fmt: skip
    assert code == 0
    assert "– VERIFY-4::" in out
    assert "not checked under --profile meta" in out


# --- exit 2: usage and configuration errors, one line ----------------------


def test_unreachable_receiver_exits_2_with_one_line(unreachable_url: str) -> None:
    done = check_process(unreachable_url, *secrets_for_broken(), *VERIFY)
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("fakemeta: ")
    assert unreachable_url.split("/hook")[0] in lines[0]


def test_missing_app_secret_with_a_url_exits_2(
    capsys: pytest.CaptureFixture[str], broken_url: str
) -> None:
    code, out, err = run(capsys, broken_url, "--verify-token", TOKEN)
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [
        "fakemeta: ContractUsageError: no app secret: pass --app-secret or set META_CLIENT_SECRET"
    ]


def test_missing_verify_token_with_a_url_exits_2(
    capsys: pytest.CaptureFixture[str], broken_url: str
) -> None:
    code, _, err = run(capsys, broken_url, "--app-secret", SECRET)
    assert code == 2
    assert "no verify token" in err
    assert len(err.strip().splitlines()) == 1


def test_secrets_come_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, broken_url: str
) -> None:
    monkeypatch.setenv("META_WEBHOOK_VERIFY_TOKEN", TOKEN)
    monkeypatch.setenv("META_CLIENT_SECRET", SECRET)
    code, out, _ = run(capsys, broken_url, "-k", "VERIFY-1", "--seed", "3")
    assert code == 0
    assert "✓ VERIFY-1::" in out


@pytest.mark.parametrize("value", ["abc", "100", "0/60", "100/0", "-1/60"])
def test_bad_rate_limit_exits_2(
    capsys: pytest.CaptureFixture[str], unreachable_url: str, value: str
) -> None:
    code, out, err = run(capsys, unreachable_url, *secrets_for_broken(), "--rate-limit", value)
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [
        f"fakemeta: ContractUsageError: --rate-limit {value!r}: expected N/SECONDS such as "
        "100/60, or off"
    ]


@pytest.mark.parametrize("option", ["--report-json", "--junitxml", "--report-html"])
def test_report_in_a_missing_directory_exits_2_before_running(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, unreachable_url: str, option: str
) -> None:
    path = tmp_path / "no" / "such" / "report"
    code, out, err = run(capsys, unreachable_url, *secrets_for_broken(), option, str(path))
    # The receiver is unreachable too: the directory is reported, so it was checked first.
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [
        f"fakemeta: ContractUsageError: {option} {path}: the directory {path.parent} "
        "does not exist; create it first"
    ]


def test_unknown_selection_exits_2(capsys: pytest.CaptureFixture[str], broken_url: str) -> None:
    code, _, err = run(capsys, broken_url, *secrets_for_broken(), "-k", "NOPE-9")
    assert code == 2
    assert "-k 'NOPE-9' matches no requirement or check" in err
    assert len(err.strip().splitlines()) == 1


def test_bad_url_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "not-a-url", *secrets_for_broken())
    assert code == 2
    assert err.startswith("fakemeta: ")
    assert len(err.strip().splitlines()) == 1


def test_piped_subprocess_output_is_plain(broken_url: str) -> None:
    done = check_process(broken_url, *secrets_for_broken(), "-k", "VERIFY-2", "--seed", "5")
    assert done.returncode == 1
    assert not ANSI.search(done.stdout)
    assert "✗ VERIFY-2::wrong_token_is_refused" in done.stdout
    assert "Traceback" not in done.stderr


def test_an_unknown_selection_fails_before_anything_starts() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from fakemeta.simulator.cli import main; main()",
            "check",
            "-k",
            "NOPE",
        ],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"started the reference receiver" not in done.stderr
    assert done.stderr.decode().strip().startswith("fakemeta: ContractUsageError: -k 'NOPE'")
