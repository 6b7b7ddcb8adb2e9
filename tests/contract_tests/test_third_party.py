"""`fakemeta check` against webhook receivers nobody here wrote, as their own docs set them up.

Each receiver runs as a subprocess on a free loopback port (examples/third_party/): pywa's
Flask webhook (pywa_receiver.py) and whatsapp-api-js's node:http middleware (node/server.mjs).
The suite runs under both profiles with no probe (CLIENT-* skip), and each test pins the exact
set of failed requirement IDs. Every expected failure names the line in the receiver's own
source that explains it (paths inside the installed package): a failure that no such line
explains is a false alarm of the suite, not of the receiver.

The sets are for the catalogue in DESIGN.md: security refusals pass on any 4xx, and the seed's
exact codes are CODE-1 (403 handshake) and CODE-2 (401 signature), strict only.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
THIRD_PARTY = ROOT / "examples" / "third_party"
NODE_DIR = THIRD_PARTY / "node"
TOKEN = "third-party-verify-token"
SECRET = "third-party-app-secret"
PHONE_ID = "100000000000001"
STARTUP_SECONDS = 30.0

# --- expected failures, per receiver and profile --------------------------------------------

PYWA_STRICT = {
    # pywa/server.py:217 `if vt == self._verify_token:` -> `return ch, 200` (line 222):
    # only the token is compared, hub.mode is never read (pywa/_helpers.py:1433-1436 passes
    # only hub.verify_token and hub.challenge), so hub.mode=unsubscribe is echoed.
    "VERIFY-4",
    # pywa/utils.py:339 `hmac.compare_digest(signature, x_hub_signature.removeprefix("sha256="))`:
    # the prefix is optional, so a bare digest without `sha256=` verifies.
    "SIG-5",
    # pywa/types/base_update.py:203 `return self["entry"][0]["changes"][0]["field"]` raises on
    # `[]`, `{}` or `"changes": []`; pywa/server.py:386-393 catches it and then evaluates
    # `raw_update.field,` again inside the except block, so the error escapes to Flask: 500.
    "ROBUST-2",
    # pywa/server.py:265 `return "Forbidden", 403` for a signature that does not match (the
    # refusal itself is right; only the seed's 401 is missed). A missing header gets 401
    # (server.py:250 `return "Unauthorized", 401`).
    "CODE-2",
}
# Every MUST passes.
PYWA_META: set[str] = set()

NODE_META = {
    # lib/middleware/node-http.js:53 `if (typeof signature !== "string") throw 400;` throws a
    # number, not a WhatsAppAPIError, so :65 `return e instanceof WhatsAppAPIError ?
    # e.httpStatus : 500;` answers an unsigned delivery 500 (refused, but not with a 4xx).
    "SIG-2",
    # Not SIG-6: lib/index.js:744 `encoder.encode(escapeUnicode(raw_body))` HMACs the body
    # with non-ASCII re-escaped as \uXXXX (lib/utils.js:2), the identity on every body Meta
    # sends. SIG-6 once sent a raw UTF-8 form that Meta never sends and failed it: a false
    # alarm, removed from the suite.
    # lib/middleware/node-http.js:62 `await this.post(JSON.parse(body || "{}"), body, signature);`
    # parses before anything else; the SyntaxError is not a WhatsAppAPIError, so :65 gives 500.
    "ROBUST-1",
}
NODE_STRICT = NODE_META | {
    # lib/middleware/node-http.js:79-80, the documented GET usage (`response.statusCode = 200;
    # response.end(Whatsapp.handle_get(request));`), which server.mjs follows: handle_get
    # returns the bare challenge (lib/index.js:691 `return challenge;`) and no Content-Type is
    # ever set, so a browser may sniff an echoed challenge as HTML.
    "VERIFY-5",
    # lib/index.js:743 `Buffer.from(signature, "hex")`: Node's hex decoder drops an odd
    # trailing digit (and stops at the first non-hex character), so the right digest with a
    # hex digit appended verifies.
    "SIG-7",
    # lib/index.js:508 `if (!data.object) {` throws TypeError on a signed `null`, and :511
    # `const { field, value } = data.entry[0].changes[0];` on `"entry": []`; neither is a
    # WhatsAppAPIError, so lib/middleware/node-http.js:65 answers 500.
    "ROBUST-2",
    # lib/index.js:687 `if (!mode || !token) {` throws WhatsAppAPIMissingSearchParamsError,
    # which is `super("Missing search params", 400);` (lib/errors.js:107): a missing or empty
    # verify token is refused with 400, not the seed's 403.
    "CODE-1",
}


# --- starting the receivers -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(command: list[str], port: int, log: Path) -> Iterator[str]:
    """Run `command` until it answers the handshake on `port`; yield its URL; stop it."""
    url = f"http://127.0.0.1:{port}/"
    params = {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": TOKEN}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                if process.poll() is not None:
                    pytest.fail(f"{command[:2]} exited {process.returncode}:\n{log.read_text()}")
                try:
                    if httpx.get(url, params=params, timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{command[:2]} did not answer in time:\n{log.read_text()}")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _arguments(port: int) -> list[str]:
    return ["--port", str(port), "--verify-token", TOKEN, "--app-secret", SECRET]


@pytest.fixture(scope="module")
def pywa_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("pywa") is None:
        pytest.skip("pywa is not installed: pip install -e '.[test]' (the test extra pins it)")
    port = _free_port()
    command = [sys.executable, str(THIRD_PARTY / "pywa_receiver.py"), *_arguments(port)]
    command += ["--phone-id", PHONE_ID]
    yield from _start(command, port, tmp_path_factory.mktemp("pywa") / "receiver.log")


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (Node.js 20 or later), then run: npm ci --prefix "
                    "examples/third_party/node")  # fmt: skip
    if not (NODE_DIR / "node_modules" / "whatsapp-api-js" / "package.json").is_file():
        pytest.skip("examples/third_party/node has no node_modules: npm ci --prefix "
                    "examples/third_party/node")  # fmt: skip
    port = _free_port()
    command = [node, str(NODE_DIR / "server.mjs"), *_arguments(port)]
    yield from _start(command, port, tmp_path_factory.mktemp("node") / "receiver.log")


# --- running the suite ----------------------------------------------------------------------


def _failed(url: str, profile: str, report: Path) -> set[str]:
    """Run `fakemeta check` as a user would; return the failed requirement IDs."""
    done = subprocess.run(
        [
            sys.executable, "-c", "from fakemeta.simulator.cli import main; main()", "check", url,
            "--verify-token", TOKEN, "--app-secret", SECRET, "--phone-number-id", PHONE_ID,
            "--profile", profile, "--rate-limit", "off", "--seed", "1",
            "--report-json", str(report),
        ],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
        env={**_environment(), "NO_COLOR": "1"},
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout + done.stderr
    data = json.loads(report.read_text())
    outcomes = {r["id"]: r["outcome"] for r in data["requirements"]}
    failed = {rid for rid, outcome in outcomes.items() if outcome == "failed"}
    assert done.returncode == (1 if failed else 0), done.stdout
    # No probe: nothing about the store can have been judged.
    assert all(o == "skipped" for rid, o in outcomes.items() if rid.startswith("CLIENT-"))
    return failed


def _environment() -> dict[str, str]:
    drop = {
        "META_WEBHOOK_VERIFY_TOKEN",
        "META_CLIENT_SECRET",
        "FAKEMETA_PHONE_NUMBER_ID",
        "FAKEMETA_PROBE_URL",
        "FAKEMETA_PROBE_TOKEN",
        "WHATSAPP_ACCESS_TOKEN",
    }
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.mark.parametrize(("profile", "expected"), [("strict", PYWA_STRICT), ("meta", PYWA_META)])
def test_pywa(pywa_url: str, profile: str, expected: set[str], tmp_path: Path) -> None:
    assert _failed(pywa_url, profile, tmp_path / "report.json") == expected


@pytest.mark.parametrize(("profile", "expected"), [("strict", NODE_STRICT), ("meta", NODE_META)])
def test_whatsapp_api_js(node_url: str, profile: str, expected: set[str], tmp_path: Path) -> None:
    assert _failed(node_url, profile, tmp_path / "report.json") == expected
