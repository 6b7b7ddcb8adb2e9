"""What the host's own tests see from the fixtures, with pytester: a
`fakemeta_graph.customer_says()` the app refuses fails at the call, and
`fakemeta_deliveries.post()` answers like an httpx response."""

from __future__ import annotations

import importlib
import shutil
import textwrap
from pathlib import Path

import pytest

# Loaded here first, as in test_plugin.py: pytester's in-process runs drop
# the modules first imported inside them.
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

BOT = Path(__file__).resolve().parents[1] / "simulator" / "graph" / "bot_app.py"

CONFTEST = """
import pytest
from bot_app import PHONE_NUMBER_ID, SECRET, VERIFY_TOKEN, make_bot
from fakemeta.contract_tests.plugin import ContractTarget

@pytest.fixture
def fakemeta_target():
    app, _ = make_bot()
    return ContractTarget(app=app, path="/webhook/", app_secret=SECRET_USED,
                          verify_token=VERIFY_TOKEN, phone_number_id=PHONE_NUMBER_ID)
"""


def _project(pytester: pytest.Pytester, secret: str, test: str) -> None:
    shutil.copy(BOT, pytester.path / "bot_app.py")
    pytester.makeconftest(CONFTEST.replace("SECRET_USED", secret))
    pytester.makepyfile(test_bot=textwrap.dedent(test))


def test_customer_says_fails_at_the_call_with_the_apps_401(pytester: pytest.Pytester) -> None:
    _project(
        pytester,
        '"not-the-bots-secret"',
        """
        import pytest
        from bot_app import TOKEN

        @pytest.mark.fakemeta(access_token=TOKEN)
        def test_bot(fakemeta_graph):
            fakemeta_graph.customer_says("hello")
            assert fakemeta_graph.last_message()["request"]["text"]["body"] == "you said: hello"
        """,
    )
    result = pytester.runpytest("-p", "fakemeta", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*WebhookRefused: * answered the customer message with 401, not 200: 'bad signature'*"]
    )
    assert "last_message" not in "\n".join(
        line for line in result.outlines if line.startswith("E ")
    )


def test_posted_deliveries_answer_like_httpx_responses(pytester: pytest.Pytester) -> None:
    _project(
        pytester,
        "SECRET",
        """
        def test_answers(fakemeta_deliveries):
            answer = fakemeta_deliveries.post(fakemeta_deliveries.build("statuses/sent"))
            assert answer.status_code == 200 and answer.status == 200 and answer.is_success
            assert answer.text == "ok" and answer.content == b"ok"
            assert answer.headers["content-type"].startswith("text/html")
            refused = fakemeta_deliveries.post(fakemeta_deliveries.text("hi").unsigned())
            assert refused.status_code == 401 and not refused.is_success
            assert refused.text == "bad signature"
        """,
    )
    result = pytester.runpytest("-p", "fakemeta", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
