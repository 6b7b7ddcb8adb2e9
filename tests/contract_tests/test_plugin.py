"""The pytest plugin, tested the way respx and pytest-httpx test theirs: with pytester.

Each test writes a small host project (a Flask receiver in a conftest that
overrides `fakemeta_target`) and runs pytest on it in a subprocess, with
the plugin switched on by `-p fakemeta` (the project's own run disables it).
"""

from __future__ import annotations

import importlib
import re
import textwrap

import pytest

# pytester's in-process runs drop the modules first imported inside them. A
# module dropped and imported again beside kept ones breaks them: a second
# `Customer` class fails isinstance checks, re-imported check modules register
# their checks twice. So everything the inner runs use is loaded here, first.
for _module in (
    "fakemeta.contract_tests._plugin_deliveries",
    "fakemeta.contract_tests.checks",
    "fakemeta.contract_tests.plugin",
    "fakemeta.contract_tests.runner",
    "fakemeta.simulator.catalog",
    "fakemeta.simulator.graph.inprocess",
):
    importlib.import_module(_module)

pytest_plugins = ["pytester"]

# A receiver that gets the handshake and the signature right; `faults` breaks it.
RECEIVER = """
import hashlib
import hmac

import pytest
from flask import Flask, request

from fakemeta.contract_tests.plugin import ContractTarget

SECRET = "host-secret"
TOKEN = "host-token"
SEEN = []


def make_app(faults=()):
    app = Flask(__name__)

    @app.route("/webhooks/whatsapp/", methods=["GET", "POST"])
    def webhook():
        SEEN.append(request.remote_addr)
        if request.method == "GET":
            args = request.args
            right = "any_token" in faults or args.get("hub.verify_token") == TOKEN
            if args.get("hub.mode") == "subscribe" and right:
                return args.get("hub.challenge", ""), 200, {"Content-Type": "text/plain"}
            return "Forbidden", 403, {"Content-Type": "text/plain"}
        header = request.headers.get("X-Hub-Signature-256", "")
        digest = hmac.new(SECRET.encode(), request.get_data(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(header, "sha256=" + digest):
            return "Unauthorized", 401, {"Content-Type": "text/plain"}
        return "OK", 200, {"Content-Type": "text/plain"}

    return app
"""

CONFTEST = (
    "from receiver import *\n"
    + """

@pytest.fixture
def fakemeta_target():
    return ContractTarget(
        app=make_app(FAULTS), path="/webhooks/whatsapp/", verify_token=TOKEN, app_secret=SECRET
    )
"""
)


def host(pytester: pytest.Pytester, *, faults: tuple[str, ...] = (), tests: str = "") -> None:
    pytester.makepyfile(receiver=RECEIVER)
    pytester.makeconftest(f"FAULTS = {faults!r}\n" + CONFTEST)
    if tests:
        pytester.makepyfile(test_host=textwrap.dedent(tests))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # In-process (pytester restores sys.modules afterwards); the environment
    # variables the options default to are cleared by an autouse fixture.
    return pytester.runpytest("-p", "fakemeta", "-p", "no:cacheprovider", *args)


@pytest.fixture(autouse=True)
def _no_fakemeta_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "META_CLIENT_SECRET",
        "META_WEBHOOK_VERIFY_TOKEN",
        "FAKEMETA_PHONE_NUMBER_ID",
        "FAKEMETA_PROBE_URL",
        "FAKEMETA_PROBE_TOKEN",
        "FAKEMETA_ERA",
    ):
        monkeypatch.delenv(name, raising=False)


# --- options ----------------------------------------------------------------------


def test_options_show_in_help(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--help")
    result.stdout.fnmatch_lines(["fakemeta: WhatsApp webhook contract suite:"])
    for option in (
        "--fakemeta-contract",
        "--fakemeta-url=URL",
        "--fakemeta-verify-token=TEXT",
        "--fakemeta-app-secret=TEXT",
        "--fakemeta-phone-number-id=ID",
        "--fakemeta-probe=URL",
        "--fakemeta-probe-token=TEXT",
        "--fakemeta-profile=strict|meta",
        "--fakemeta-era=2025|2026",
        "--fakemeta-rate-limit=N/SECONDS|off",
        "--fakemeta-seed=INT",
        "--fakemeta-examples=N",
    ):
        assert option in result.stdout.str(), option
    result.stdout.fnmatch_lines(
        [
            "*fakemeta_contract (bool):*",
            "*fakemeta_profile (string):*",
            "*fakemeta_era (string):*",
        ]
    )


def test_a_bad_option_is_a_one_line_usage_error(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--fakemeta-rate-limit", "lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: fakemeta: --fakemeta-rate-limit *'lots': "
            "expected N/SECONDS such as 100/60, or off"
        ]
    )
    assert "Traceback" not in result.stderr.str()


ERA_TESTS = """
import json

import pytest

from fakemeta.simulator import eras


def _value(delivery):
    return json.loads(delivery.body)["entry"][0]["changes"][0]["value"]


def test_era(fakemeta_config, fakemeta_deliveries, request):
    era = eras.era(request.config.getoption("expected_era"))
    assert fakemeta_config.era is era
    assert fakemeta_deliveries.era is era
    (contact,) = _value(fakemeta_deliveries.text("hi"))["contacts"]
    assert ("user_id" in contact) is era.business_scoped_ids
    statuses = _value(fakemeta_deliveries.build("statuses/sent"))
    assert ("conversation" in statuses["statuses"][0]) is era.conversation_on_statuses


@pytest.mark.fakemeta(era="2025")
def test_marker(fakemeta_config, fakemeta_deliveries):
    assert fakemeta_config.era is eras.ERAS["2025"]
    assert "user_id" not in fakemeta_deliveries.text().body.decode()
"""


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        ((), "", "2026"),
        (("--fakemeta-era", "2025"), "", "2025"),
        ((), "fakemeta_era = 2025", "2025"),
        (("--fakemeta-era=2026",), "fakemeta_era = 2025", "2026"),
    ],
)
def test_the_era_option_reaches_the_config_and_the_deliveries(
    pytester: pytest.Pytester, args: tuple[str, ...], ini: str, expected: str
) -> None:
    host(pytester, tests=ERA_TESTS)
    pytester.makeconftest(
        f"FAULTS = ()\n{CONFTEST}\n\n"
        "def pytest_addoption(parser):\n"
        f"    parser.addoption('--expected-era', default={expected!r})\n"
    )
    pytester.makeini(f"[pytest]\n{ini}\n")
    result = run(pytester, *args)
    result.assert_outcomes(passed=2)


def test_an_unknown_era_is_a_one_line_usage_error(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--fakemeta-era", "1999")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: fakemeta: --fakemeta-era *'1999': expected one of 2025, 2026"]
    )
    assert "Traceback" not in result.stderr.str()


def test_without_the_flag_no_contract_items_are_collected(pytester: pytest.Pytester) -> None:
    host(pytester, tests="def test_own(): pass\n")
    result = run(pytester, "--collect-only", "-q")
    assert "fakemeta::" not in result.stdout.str()
    result.stdout.fnmatch_lines(["test_host.py::test_own", "1 test collected*"])


# --- the contract suite -----------------------------------------------------------


def test_contract_collects_one_test_per_check_named_by_id(pytester: pytest.Pytester) -> None:
    from fakemeta.contract_tests.registry import CHECKS

    host(pytester, tests="def test_own(): pass\n")
    result = run(pytester, "--fakemeta-contract", "--collect-only", "-q")
    names = re.findall(r"^fakemeta::(\S+)$", result.stdout.str(), re.MULTILINE)
    assert names == [c.id for c in sorted(CHECKS, key=lambda c: c.last)]
    assert "VERIFY-2::wrong_token_is_refused" in names
    result.stdout.fnmatch_lines(["test_host.py::test_own", f"{len(CHECKS) + 1} tests collected*"])


def test_the_ini_option_adds_the_suite_too(pytester: pytest.Pytester) -> None:
    host(pytester)
    pytester.makeini("[pytest]\nfakemeta_contract = true\n")
    result = run(pytester, "--collect-only", "-q", "-k", "VERIFY-1")
    result.stdout.fnmatch_lines(["fakemeta::VERIFY-1::*"])


def test_k_selects_and_a_passing_receiver_passes(pytester: pytest.Pytester) -> None:
    host(pytester)
    result = run(pytester, "--fakemeta-contract", "-k", "VERIFY", "-v")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [
            "*fakemeta::VERIFY-1::right_token_echoes_any_challenge PASSED*",
            "*fakemeta contract requirements*",
            "PASSED   VERIFY-1  MUST*",
            "PASSED   VERIFY-4  SHOULD*",
            "requirements: 5 passed, 0 failed, 0 skipped",
        ]
    )
    assert "SIG-" not in result.stdout.str()


def test_the_suite_reaches_the_in_process_app_from_many_client_addresses(
    pytester: pytest.Pytester,
) -> None:
    host(pytester)
    pytester.makeconftest(
        "FAULTS = ()\n"
        + CONFTEST
        + """

def pytest_sessionfinish(session):
    import pathlib
    pathlib.Path("seen.txt").write_text("\\n".join(SEEN))
"""
    )
    result = run(pytester, "--fakemeta-contract", "-k", "VERIFY")
    result.assert_outcomes(passed=5)
    seen = (pytester.path / "seen.txt").read_text().split()
    assert len(seen) > 10
    # In-process, every check's requests come from its own REMOTE_ADDR.
    assert len(set(seen)) >= 5
    assert all(address.startswith("127.") for address in seen)


def test_a_broken_receiver_fails_the_right_item_with_id_and_reproduce(
    pytester: pytest.Pytester,
) -> None:
    host(pytester, faults=("any_token",))
    result = run(pytester, "--fakemeta-contract", "-k", "VERIFY", "--fakemeta-seed", "7")
    result.assert_outcomes(passed=3, failed=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*_ fakemeta::VERIFY-2::wrong_token_is_refused _*",
            "VERIFY-2 (MUST): a wrong verify token is refused*",
            "failed: the handshake with another token was answered HTTP 200",
            "expected: a 4xx refusal",
            "sent: GET http://testserver/webhooks/whatsapp/?hub.mode=subscribe* from 127.*",
            "came back: HTTP 200 after * ms",
            "reproduce: python -m pytest --fakemeta-contract "
            "-k VERIFY-2::wrong_token_is_refused --fakemeta-seed 7",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "FAILED fakemeta::VERIFY-2::wrong_token_is_refused - *",
            "FAILED fakemeta::VERIFY-3::missing_or_empty_token_is_refused - *",
        ]
    )
    assert "Traceback" not in out
    assert "FAILED   VERIFY-2  MUST" in out


def test_skips_show_their_reason(pytester: pytest.Pytester) -> None:
    from fakemeta.contract_tests.registry import CHECKS

    if not any("probe" in c.requirement.needs for c in CHECKS):
        pytest.skip("no check needs a probe yet")
    host(pytester)
    result = run(pytester, "--fakemeta-contract", "-k", "CLIENT-1", "-rs")
    result.stdout.fnmatch_lines(
        [
            "SKIPPED * CLIENT-1::* (MUST): needs a probe to see the receiver's store "
            "(--fakemeta-probe)"
        ]
    )


def test_meta_profile_skips_should_requirements(pytester: pytest.Pytester) -> None:
    host(pytester)
    result = run(
        pytester, "--fakemeta-contract", "-k", "VERIFY", "--fakemeta-profile", "meta", "-rs"
    )
    result.assert_outcomes(passed=3, skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED * VERIFY-4::* (SHOULD): a SHOULD requirement*"])


def test_levels_are_markers(pytester: pytest.Pytester) -> None:
    host(pytester)
    result = run(pytester, "--fakemeta-contract", "-k", "VERIFY", "-m", "fakemeta_should")
    result.assert_outcomes(passed=2)


def test_a_missing_secret_is_a_usage_error_not_a_traceback(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        RECEIVER
        + """

@pytest.fixture
def fakemeta_target():
    return ContractTarget(app=make_app(), path="/webhooks/whatsapp/", verify_token=TOKEN)
"""
    )
    result = run(pytester, "--fakemeta-contract", "-k", "VERIFY")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        ["*fakemeta: no app secret: pass --fakemeta-app-secret, set META_CLIENT_SECRET*"]
    )
    assert "Traceback" not in result.stdout.str()
    assert "def fakemeta_config" not in result.stdout.str()


def test_secret_from_the_environment_and_the_command_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(
        RECEIVER
        + """

@pytest.fixture
def fakemeta_target():
    return ContractTarget(app=make_app(), path="/webhooks/whatsapp/")
"""
    )
    pytester.makepyfile(
        test_host="""
        def test_config(fakemeta_config):
            assert fakemeta_config.app_secret == "from-command-line"
            assert fakemeta_config.verify_token == "from-environment"
        """
    )
    result = run(pytester, "--fakemeta-app-secret", "from-command-line")
    result.assert_outcomes(errors=1)  # no verify token yet
    monkeypatch.setenv("META_WEBHOOK_VERIFY_TOKEN", "from-environment")
    monkeypatch.setenv("META_CLIENT_SECRET", "from-environment")
    result = run(pytester, "--fakemeta-app-secret", "from-command-line")
    result.assert_outcomes(passed=1)


def test_without_a_target_the_suite_says_what_to_do(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        "--fakemeta-contract",
        "-k",
        "VERIFY-1",
        "--fakemeta-app-secret=s",
        "--fakemeta-verify-token=t",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*fakemeta: no receiver: override the fakemeta_target fixture*"])


def test_an_unreachable_url_fails_with_one_line(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        "--fakemeta-contract",
        "-k",
        "VERIFY-1 or VERIFY-2",
        "--fakemeta-url=http://127.0.0.1:9/webhook",
        "--fakemeta-app-secret=s",
        "--fakemeta-verify-token=t",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*fakemeta: the receiver cannot be reached: *"])
    assert "Traceback" not in result.stdout.str()


def test_conftest_in_a_subdirectory_gets_its_own_suite(pytester: pytest.Pytester) -> None:
    sub = pytester.mkpydir("webhooks")
    pytester.makepyfile(receiver=RECEIVER)
    (sub / "conftest.py").write_text("FAULTS = ()\n" + CONFTEST)
    (sub / "test_x.py").write_text("def test_x(): pass\n")
    result = run(pytester, "--fakemeta-contract", "-k", "VERIFY-1 or test_x", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["webhooks/fakemeta::VERIFY-1::* PASSED*"])


# --- fixtures for the host's own tests ------------------------------------------


def test_deliveries_are_signed_with_the_hosts_secret(pytester: pytest.Pytester) -> None:
    host(
        pytester,
        tests="""
        import hashlib, hmac, json

        import pytest
        from fakemeta.simulator.signing import sign

        def test_text(fakemeta_deliveries):
            delivery = fakemeta_deliveries.text("مرحبا 👋 https://x.test/a")
            assert delivery.signature == sign(delivery.body, "host-secret")
            assert b"\\\\/" in delivery.body and b"\\\\u" in delivery.body
            assert fakemeta_deliveries.post(delivery).status == 200
            assert fakemeta_deliveries.post(delivery.unsigned()).status == 401
            assert fakemeta_deliveries.post(delivery.tampered()).status == 401
            assert fakemeta_deliveries.post(delivery.signed_with("other")).status == 401

        def test_catalog(fakemeta_deliveries):
            delivery = fakemeta_deliveries.build("image")
            message = json.loads(delivery.body)["entry"][0]["changes"][0]["value"]["messages"][0]
            assert message["type"] == "image"
            assert fakemeta_deliveries.post(delivery).status == 200

        @pytest.mark.fakemeta(app_secret="marker-secret", phone_number_id="1234567")
        def test_marker(fakemeta_deliveries):
            delivery = fakemeta_deliveries.text()
            assert delivery.signature == sign(delivery.body, "marker-secret")
            value = json.loads(delivery.body)["entry"][0]["changes"][0]["value"]
            assert value["metadata"]["phone_number_id"] == "1234567"
            assert fakemeta_deliveries.post(delivery).status == 401

        @pytest.mark.fakemeta(app_secret="class-secret")
        class TestClosestMarkerWins:
            @pytest.mark.fakemeta(app_secret="method-secret")
            def test_method(self, fakemeta_deliveries):
                delivery = fakemeta_deliveries.text()
                assert delivery.signature == sign(delivery.body, "method-secret")

            def test_class(self, fakemeta_deliveries):
                delivery = fakemeta_deliveries.text()
                assert delivery.signature == sign(delivery.body, "class-secret")

        @pytest.mark.fakemeta(profile="meta", rate_limit="off", seed=3)
        def test_config(fakemeta_config):
            assert fakemeta_config.profile == "meta"
            assert fakemeta_config.rate_limit is None
            assert fakemeta_config.seed == 3
            assert fakemeta_config.in_process
            assert fakemeta_config.path == "/webhooks/whatsapp/"

        def test_strategies(fakemeta_strategies):
            from fakemeta.simulator import strategies
            assert fakemeta_strategies is strategies
        """,
    )
    result = run(pytester)
    result.assert_outcomes(passed=7)


def test_deliveries_without_a_secret_fail_the_test_in_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_host="""
        import pytest

        def test_no_secret(fakemeta_deliveries):
            pass

        @pytest.mark.fakemeta(app_secret="s")
        def test_secret_from_marker(fakemeta_deliveries):
            pass

        @pytest.mark.fakemeta(colour="blue")
        def test_unknown_option(fakemeta_deliveries):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*fakemeta: fakemeta_deliveries needs the app secret: pass --fakemeta-app-secret*",
            "*fakemeta: @pytest.mark.fakemeta: unknown option(s) colour; expected *",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_receiver_text_in_pytest_failures_cannot_drive_the_terminal() -> None:
    from fakemeta.contract_tests._plugin_items import _block, _exchange_lines

    hostile = "ok\x1b[2J\x1b]0;owned\x07\u202eevil"
    exchange = {
        "request": {"method": "POST", "url": "http://testserver/", "source_ip": None,
                    "headers": [["content-type", "application/json"]], "body": "{}"},
        "response": {"status": 200, "headers": [["x-evil", hostile]], "body": hostile},
        "latency_ms": 1.0,
    }  # fmt: skip
    lines = [*_exchange_lines(exchange), *_block("failed", hostile)]
    text = "\n".join(lines)
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in text
    assert "ok\\x1b[2J\\x1b]0;owned\\x07\\u202eevil" in text
