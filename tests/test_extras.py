"""The extras by user: the base install sends, signs and checks a URL; every
entry point that needs the built-in reference receiver says in one line,
without a traceback, to install `fakemeta[receiver]`; and `EXTRAS` (which
module needs which extra) matches pyproject.toml.

The processes here run with the receiver's modules made unimportable
(`sys.modules[name] = None`), as in an install without the extra."""

from __future__ import annotations

import re
import subprocess
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_helpers import fakemeta_process
from werkzeug.serving import make_server

from fakemeta.simulator._extras import EXTRAS, needs_extra
from fakemeta.simulator.errors import MissingExtra, UsageError

ROOT = Path(__file__).resolve().parents[1]

#: `fakemeta ARGS...` with every module of the `receiver` extra unimportable.
WITHOUT_RECEIVER = (
    "import sys\n"
    f"for name in {EXTRAS['receiver']!r}:\n"
    "    sys.modules[name] = None\n"
    "from fakemeta.simulator.cli import main\n"
    "main(sys.argv[1:])\n"
)


def without_receiver(*args: str) -> subprocess.CompletedProcess[str]:
    """`fakemeta ARGS...` so, in a process with this one's environment."""
    return fakemeta_process(*args, program=WITHOUT_RECEIVER, text=True, inherit_env=True)


@pytest.mark.parametrize(
    "args",
    [
        ["check"],
        ["send", "text"],
        ["verify"],
        ["load", "--duration", "1s"],
    ],
    ids=lambda args: args[0],
)
def test_a_command_without_url_names_the_receiver_extra(args: list[str]) -> None:
    done = without_receiver(*args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "fakemeta: MissingExtra: the built-in reference receiver (started when no URL is"
        " given) needs flask, which is not installed: pip install 'fakemeta[receiver]';"
        " or give the URL of a running receiver"
    ]


@pytest.mark.parametrize(
    "args", [["receiver"], ["receiver", "run", "--port", "8000"], ["receiver", "--help"]]
)
def test_the_receiver_command_is_there_and_names_its_extra(args: list[str]) -> None:
    done = without_receiver(*args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "fakemeta: MissingExtra: `fakemeta receiver` needs flask, which is not installed:"
        " pip install 'fakemeta[receiver]'"
    ]


def test_help_lists_every_command_without_the_receiver_extra() -> None:
    done = without_receiver("--help")
    assert done.returncode == 0, done.stderr
    listed = re.findall(r"^  (\w+) ", done.stdout, flags=re.MULTILINE)
    for command in ("check", "send", "verify", "load", "serve", "sign", "receiver"):
        assert command in listed


@pytest.fixture
def loopback_url() -> Iterator[str]:
    """A receiver on 127.0.0.1 that acknowledges everything."""

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/webhook"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_sending_to_a_url_needs_no_extra(loopback_url: str) -> None:
    done = without_receiver("send", loopback_url, "text", "--app-secret", "s3cret")
    assert done.returncode == 0, done.stderr
    assert "1 of 1 deliveries acknowledged" in done.stdout


def test_signing_needs_no_extra() -> None:
    done = without_receiver("fixtures", "list")
    assert done.returncode == 0, done.stderr


# --- needs_extra -------------------------------------------------------------


def test_needs_extra_turns_a_missing_module_of_the_extra_into_one_usage_line() -> None:
    with pytest.raises(MissingExtra) as raised, needs_extra("pytest", "the fake"):
        raise ModuleNotFoundError("No module named 'respx.models'", name="respx.models")
    assert isinstance(raised.value, UsageError)
    assert raised.value.one_line() == (
        "MissingExtra: the fake needs respx, which is not installed: pip install 'fakemeta[pytest]'"
    )


def test_needs_extra_lets_any_other_import_error_through() -> None:
    with pytest.raises(ModuleNotFoundError), needs_extra("receiver", "the receiver"):
        raise ModuleNotFoundError("No module named 'httpx'", name="httpx")
    with pytest.raises(ImportError), needs_extra("receiver", "the receiver"):
        raise ImportError("cannot import name 'gone' from 'fakemeta.reference_receiver'")


# --- pyproject.toml ----------------------------------------------------------


def _names(requirements: list[str]) -> set[str]:
    return {
        re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("-", "_")
        for requirement in requirements
    }


def test_extras_name_the_modules_pyproject_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    for extra, modules in EXTRAS.items():
        assert _names(optional[extra]) == set(modules), extra
        assert not _names(project["dependencies"]) & set(modules), extra
    assert "fakemeta[receiver]" in optional["production"]
    assert "fakemeta" in _names(optional["test"])
