"""The `fakemeta` group's lazy subcommands (`fakemeta.simulator.cli._lazy.LazyGroup`).

`fakemeta send` must not import the contract suite, the reference receiver
or the load generator (a subprocess, so that this test run's own imports do
not count); the group must still list every command, resolve each, and
refuse an unknown one as click does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import click
import pytest
from cli_helpers import run
from click.testing import CliRunner

from fakemeta.simulator.cli import COMMANDS, cli
from fakemeta.simulator.cli._lazy import LazyGroup

#: Packages (and subpackages of ours) that sending never needs.
HEAVY = (
    "fakemeta.contract_tests",
    "fakemeta.reference_receiver",
    "fakemeta.simulator.load",
    "flask",
    "sqlalchemy",
    "hypothesis",
    "faker",
)

#: Runs `main(argv)`, then prints as its last line which of `HEAVY` got imported.
PROBE = f"""
import json, sys
from fakemeta.simulator.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = {HEAVY!r}
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
print(json.dumps({{"code": code, "loaded": loaded}}))
"""


def probe(*args: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.splitlines()[-1])
    return last["code"], last["loaded"]


# --- what `send` imports ---------------------------------------------------


def test_send_help_imports_none_of_the_other_commands() -> None:
    code, loaded = probe("send", "--help")
    assert code == 0
    assert loaded == []


def test_a_real_send_imports_none_of_the_other_commands(
    loopback_receiver: Any, loopback_secret: str
) -> None:
    code, loaded = probe("send", loopback_receiver.url, "text", "--app-secret", loopback_secret)
    assert code == 0
    assert loaded == []
    assert len(loopback_receiver.requests) == 1


def test_importing_the_package_imports_no_command() -> None:
    code, loaded = probe("--version")
    assert code == 0
    assert loaded == []


# --- listing and resolving -------------------------------------------------


def test_help_lists_every_command_with_its_short_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    listed = out.split("Commands:", 1)[1].splitlines()
    names = {line.split()[0] for line in listed if line.strip()}
    expected = {"send", "verify", "sign", "fixtures", "check", "serve", "load", "receiver"}
    assert names == expected
    assert all(len(line.split()) > 1 for line in listed if line.strip())  # each has its help


def test_every_command_resolves_to_a_command_of_its_own_name() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        assert command.name == name


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out == f"fakemeta, version {metadata.version('fakemeta')}\n"


def test_an_unknown_command_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "nope")
    assert code == 2
    assert out == ""
    assert err == "fakemeta: No such command 'nope'. (see 'fakemeta --help')\n"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("check", "--nope"), "fakemeta: No such option '--nope'."),
        (("check", "--examples", "0"), "fakemeta: Invalid value for '--examples': 0 is not in"),
        (
            ("send", "http://127.0.0.1:9/", "--repeat", "x"),
            "fakemeta: Invalid value for '--repeat'",
        ),
        (("sign",), "fakemeta: Missing argument 'FILE'."),
    ],
)
def test_a_usage_error_is_one_line_naming_the_help(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], said: str
) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.startswith(said), err
    assert err.count("\n") == 1, err
    assert err.rstrip().endswith(f"(see 'fakemeta {args[0]} --help')"), err


def test_fakemeta_alone_shows_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 2
    assert "Usage: fakemeta [OPTIONS] COMMAND [ARGS]..." in out + err


def test_sign_without_a_secret_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("META_CLIENT_SECRET", raising=False)
    body = tmp_path / "body.json"
    body.write_bytes(b"{}")
    code, _, err = run(capsys, "sign", str(body))
    assert code == 2
    assert err == "fakemeta: BadInput: no app secret: pass --app-secret or set META_CLIENT_SECRET\n"


# --- LazyGroup on its own --------------------------------------------------


def _group(**kwargs: Any) -> LazyGroup:
    return LazyGroup(
        "tool",
        lazy_subcommands={
            "sign": "fakemeta.simulator.cli._sign:sign_command",
            "gone": "no_such_package_for_fakemeta.cli:gone",
        },
        **kwargs,
    )


def test_an_optional_command_that_cannot_be_imported_is_left_out() -> None:
    group = _group(optional=["gone"])
    result = CliRunner().invoke(group, ["--help"])
    assert result.exit_code == 0
    assert "sign" in result.output
    assert "gone" not in result.output
    result = CliRunner().invoke(group, ["gone"])
    assert result.exit_code == 2
    assert "No such command 'gone'" in result.output


def test_a_required_command_that_cannot_be_imported_raises() -> None:
    group = _group()
    with pytest.raises(ModuleNotFoundError):
        group.get_command(click.Context(group), "gone")


def test_an_attribute_that_is_not_a_command_raises() -> None:
    group = LazyGroup("tool", lazy_subcommands={"x": "fakemeta.simulator.cli:EXIT_USAGE"})
    with pytest.raises(TypeError) as raised:
        group.get_command(click.Context(group), "x")
    assert (
        str(raised.value) == "fakemeta.simulator.cli:EXIT_USAGE: expected a click command, got int"
    )
