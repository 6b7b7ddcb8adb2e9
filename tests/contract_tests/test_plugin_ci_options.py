"""The plugin's equivalents of `fakemeta check --insecure` and
`--fail-on-skipped-must`: a command-line flag, an ini setting, and for
`insecure` a marker, as every other plugin option has."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator

import pytest
from flask import Flask, Response, request
from werkzeug.serving import make_server

from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.runner import reproduce_command

for _module in (  # loaded before pytester's inner runs: see test_plugin.py
    "fakemeta.contract_tests._plugin_deliveries",
    "fakemeta.contract_tests.checks",
    "fakemeta.contract_tests.plugin",
    "fakemeta.contract_tests.runner",
    "fakemeta.simulator.catalog",
):
    importlib.import_module(_module)

pytest_plugins = ["pytester"]

TOKEN = "ci-options-token"
SECRET = "ci-options-secret"


def _app() -> Flask:
    """Right about the handshake; acknowledges every POST (no signature check needed here)."""
    app = Flask("ci_options_receiver")

    @app.route("/hook", methods=["GET", "POST"])
    def hook() -> Response | tuple[str, int]:
        if request.method == "GET":
            if request.args.get("hub.verify_token") != TOKEN:
                return "Forbidden", 403
            return Response(request.args.get("hub.challenge", ""), mimetype="text/plain")
        return "OK", 200

    return app


@pytest.fixture(scope="module")
def self_signed_url() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, _app(), threaded=True, ssl_context="adhoc")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _no_fakemeta_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("META_CLIENT_SECRET", "META_WEBHOOK_VERIFY_TOKEN", "FAKEMETA_PROBE_URL"):
        monkeypatch.delenv(name, raising=False)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "fakemeta", "-p", "no:cacheprovider", *args)


def url_host(pytester: pytest.Pytester, url: str, ini: str = "") -> None:
    pytester.makeconftest(
        "import pytest\n"
        "from fakemeta.contract_tests.plugin import ContractTarget\n\n"
        "@pytest.fixture\n"
        "def fakemeta_target():\n"
        f"    return ContractTarget(url={url!r}, verify_token={TOKEN!r}, app_secret={SECRET!r})\n"
    )
    pytester.makeini(f"[pytest]\n{ini}\n")


# --- insecure ----------------------------------------------------------------------


def test_a_self_signed_receiver_fails_without_insecure(
    pytester: pytest.Pytester, self_signed_url: str
) -> None:
    url_host(pytester, self_signed_url)
    result = run(pytester, "--fakemeta-contract", "-k", "VERIFY-1")
    assert result.ret != pytest.ExitCode.OK
    assert "TLS" in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize(
    ("args", "ini"),
    [(("--fakemeta-insecure",), ""), ((), "fakemeta_insecure = true")],
    ids=["flag", "ini"],
)
def test_insecure_checks_a_self_signed_receiver(
    pytester: pytest.Pytester, self_signed_url: str, args: tuple[str, ...], ini: str
) -> None:
    url_host(pytester, self_signed_url, ini)
    result = run(pytester, "--fakemeta-contract", "-k", "VERIFY-1", *args)
    result.assert_outcomes(passed=1)


def test_the_insecure_marker_reaches_fakemeta_deliveries(
    pytester: pytest.Pytester, self_signed_url: str
) -> None:
    url_host(pytester, self_signed_url)
    pytester.makepyfile(
        test_host="""
        import pytest

        @pytest.mark.fakemeta(insecure=True)
        def test_posted(fakemeta_deliveries):
            assert fakemeta_deliveries.post(fakemeta_deliveries.text("hi")).status_code == 200

        def test_refused(fakemeta_deliveries):
            with pytest.raises(Exception, match="TLS"):
                fakemeta_deliveries.post(fakemeta_deliveries.text("hi"))

        @pytest.mark.fakemeta(insecure="yes")
        def test_not_a_bool(fakemeta_deliveries):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*fakemeta: --fakemeta-insecure * 'yes': expected True or False"])


def test_the_insecure_marker_reaches_fakemeta_graph(
    pytester: pytest.Pytester, self_signed_url: str
) -> None:
    # fakemeta_graph subscribes the receiver with the handshake, over TLS here.
    url_host(pytester, self_signed_url)
    pytester.makepyfile(
        test_host="""
        import pytest

        @pytest.mark.fakemeta(insecure=True)
        def test_subscribed(fakemeta_graph):
            assert fakemeta_graph.state is not None

        def test_refused(fakemeta_graph):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*did not pass the verification handshake*TLS*"])


def test_the_reproduce_command_keeps_insecure() -> None:
    config = SuiteConfig("https://127.0.0.1:8443/hook", TOKEN, SECRET, verify_tls=False)
    assert " --insecure" in reproduce_command(config, "VERIFY-1")
    secure = SuiteConfig("https://127.0.0.1:8443/hook", TOKEN, SECRET)
    assert "--insecure" not in reproduce_command(secure, "VERIFY-1")


# --- fail on skipped MUST requirements --------------------------------------------

IN_PROCESS = f"""
import pytest
from flask import Flask, request

from fakemeta.contract_tests.plugin import ContractTarget
import hashlib, hmac

def make_app():
    app = Flask(__name__)

    @app.route("/hook", methods=["GET", "POST"])
    def hook():
        if request.method == "GET":
            if request.args.get("hub.verify_token") != {TOKEN!r}:
                return "Forbidden", 403
            return request.args.get("hub.challenge", ""), 200, {{"Content-Type": "text/plain"}}
        digest = hmac.new({SECRET!r}.encode(), request.get_data(), hashlib.sha256).hexdigest()
        if request.headers.get("X-Hub-Signature-256") != "sha256=" + digest:
            return "Unauthorized", 401
        return "OK", 200

    return app

@pytest.fixture
def fakemeta_target():
    # No probe: CLIENT-1 (MUST) cannot see the store and is skipped.
    return ContractTarget(app=make_app(), path="/hook", verify_token={TOKEN!r},
                          app_secret={SECRET!r})
"""


@pytest.mark.parametrize(
    ("args", "ini"),
    [(("--fakemeta-fail-on-skipped-must",), ""), ((), "fakemeta_fail_on_skipped_must = true")],
    ids=["flag", "ini"],
)
def test_a_skipped_must_fails_the_run_only_when_asked(
    pytester: pytest.Pytester, args: tuple[str, ...], ini: str
) -> None:
    pytester.makeconftest(IN_PROCESS)
    selected = ("--fakemeta-contract", "-k", "VERIFY-1 or CLIENT-1")
    quiet = run(pytester, *selected)
    assert quiet.ret == pytest.ExitCode.OK
    assert quiet.parseoutcomes()["skipped"] >= 1

    pytester.makeini(f"[pytest]\n{ini}\n")
    strict = run(pytester, *selected, *args)
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.stdout.fnmatch_lines(
        [
            "*fakemeta contract requirements*",
            "note: --fakemeta-fail-on-skipped-must: 1 MUST requirement was skipped, "
            "so the run fails: CLIENT-1 (*",
        ]
    )


def test_fail_on_skipped_must_passes_when_every_must_ran(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(IN_PROCESS)
    result = run(
        pytester, "--fakemeta-contract", "-k", "VERIFY-1", "--fakemeta-fail-on-skipped-must"
    )
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    assert "MUST requirement was skipped" not in result.stdout.str()


def test_the_options_show_in_help(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--help")
    for line in (
        "*--fakemeta-insecure*",
        "*--fakemeta-fail-on-skipped-must*",
        "*fakemeta_insecure (bool):*",
        "*fakemeta_fail_on_skipped_must (bool):*",
    ):
        result.stdout.fnmatch_lines([line])


@pytest.mark.parametrize("name", ["fakemeta_insecure", "fakemeta_fail_on_skipped_must"])
def test_a_bad_ini_value_is_a_one_line_usage_error(pytester: pytest.Pytester, name: str) -> None:
    pytester.makeini(f"[pytest]\n{name} = maybe\n")
    pytester.makepyfile(test_nothing="def test_nothing(): pass")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: fakemeta: {name} in the ini file is not true or false*"])
    assert "Traceback" not in result.stderr.str()
