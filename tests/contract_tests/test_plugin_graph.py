"""The `fakemeta_graph` fixture, tested with pytester: a host's bot answers
through graph.facebook.com and gets its status webhooks in-process."""

from __future__ import annotations

import importlib
import shutil
import textwrap
from pathlib import Path

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

BOT = Path(__file__).resolve().parents[1] / "simulator" / "graph" / "bot_app.py"

CONFTEST = """
import pytest
from bot_app import PHONE_NUMBER_ID, SECRET, VERIFY_TOKEN, make_bot
from fakemeta.contract_tests.plugin import ContractTarget

BOTS = {}

@pytest.fixture
def fakemeta_target():
    app, seen = make_bot()
    BOTS["seen"] = seen
    return ContractTarget(app=app, path="/webhook/", app_secret=SECRET,
                          verify_token=VERIFY_TOKEN, phone_number_id=PHONE_NUMBER_ID)
"""


def _project(pytester: pytest.Pytester, test: str) -> None:
    shutil.copy(BOT, pytester.path / "bot_app.py")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_bot=textwrap.dedent(test))


def test_the_fixture_answers_the_bot_and_delivers_its_statuses(pytester: pytest.Pytester) -> None:
    _project(
        pytester,
        """
        import pytest
        from bot_app import TOKEN
        from conftest import BOTS

        @pytest.mark.fakemeta(access_token=TOKEN)
        def test_bot_replies(fakemeta_graph):
            fakemeta_graph.customer_says("hello")
            reply = fakemeta_graph.last_message()
            assert reply["request"]["text"]["body"] == "you said: hello"
            fakemeta_graph.deliver()
            statuses = [s["status"] for s in BOTS["seen"]["statuses"]]
            assert statuses == ["sent", "delivered", "read"]
        """,
    )
    result = pytester.runpytest("-p", "fakemeta", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_bot_with_the_wrong_token_gets_metas_190(pytester: pytest.Pytester) -> None:
    _project(
        pytester,
        """
        import pytest
        from conftest import BOTS

        @pytest.mark.fakemeta(access_token="the-right-token")
        def test_bot_uses_another_token(fakemeta_graph):
            fakemeta_graph.customer_says("hello")
            assert fakemeta_graph.sent_messages() == []
            assert BOTS["seen"]["errors"][0]["error"]["code"] == 190
        """,
    )
    result = pytester.runpytest("-p", "fakemeta", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_without_secrets_the_fixture_says_what_is_missing(pytester: pytest.Pytester) -> None:
    shutil.copy(BOT, pytester.path / "bot_app.py")
    pytester.makeconftest(
        """
        import pytest
        from bot_app import make_bot
        from fakemeta.contract_tests.plugin import ContractTarget

        @pytest.fixture
        def fakemeta_target():
            return ContractTarget(app=make_bot()[0], path="/webhook/")
        """
    )
    pytester.makepyfile(test_bot="def test_x(fakemeta_graph):\n    pass\n")
    result = pytester.runpytest(
        "-p", "fakemeta", "-p", "no:cacheprovider", "--fakemeta-app-secret", "x"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fakemeta_graph needs the app secret and the verify token*"])
    assert "Traceback" not in result.stdout.str()
