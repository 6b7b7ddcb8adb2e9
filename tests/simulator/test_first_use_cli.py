"""A user's first minutes with the `fakemeta` command line: `--help` that
imports no command, `.env` read by every command, `fixtures show --wire`
piped to `sign -`, and `--set` typos that are errors.

Subprocesses where the user's own process matters (imports, the working
directory, a pipe); in-process otherwise.
"""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import click
import pytest
from cli_helpers import fakemeta_process
from click.testing import CliRunner

from fakemeta.simulator import fixtures
from fakemeta.simulator.cli import COMMANDS, cli
from fakemeta.simulator.cli._lazy import LazyCommand, LazyGroup
from fakemeta.simulator.cli._overrides import apply_overrides
from fakemeta.simulator.errors import BadOverride

#: `fakemeta ARGS...` in a process of its own, as the console script runs it:
#: output in bytes, `stdin` (empty unless given) its input, this process's
#: PATH and `env` its only environment.
fakemeta = partial(fakemeta_process, stdin=b"")


# --- `fakemeta --help` ------------------------------------------------------


def test_help_imports_no_command_module() -> None:
    probe = (
        "import sys\nfrom fakemeta.simulator.cli import main\ntry:\n    main(['--help'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('fakemeta.simulator.cli._send', "
        "'fakemeta.simulator.cli._verify', 'fakemeta.simulator.cli._sign', "
        "'fakemeta.simulator.cli._fixtures', 'fakemeta.simulator.cli._serve', "
        "'fakemeta.simulator.cli._load', 'fakemeta.contract_tests', "
        "'fakemeta.reference_receiver'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines()[-1] == "[]"
    assert "Commands:" in done.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_tables_short_help_is_the_commands_own(name: str) -> None:
    """So the two cannot drift: change a command's first sentence, change the table."""
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    assert isinstance(COMMANDS[name], LazyCommand)
    assert COMMANDS[name].short_help == command.get_short_help_str(limit=10_000)


def _eager_listing(width: int) -> str:
    """The Commands section click writes for the real, imported commands."""
    ctx = click.Context(cli, terminal_width=width, max_content_width=width)
    eager = click.Group("fakemeta")
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        eager.add_command(command, name)
    formatter = ctx.make_formatter()
    eager.format_commands(ctx, formatter)
    return formatter.getvalue()


@pytest.mark.parametrize("width", [100, 60, 40])
def test_help_lists_what_the_imported_commands_would_at_any_width(width: int) -> None:
    ctx = click.Context(cli, terminal_width=width, max_content_width=width)
    formatter = ctx.make_formatter()
    cli.format_commands(ctx, formatter)
    assert formatter.getvalue() == _eager_listing(width)


def test_an_optional_command_whose_package_is_missing_is_not_listed() -> None:
    group = LazyGroup(
        "tool",
        lazy_subcommands={
            "sign": LazyCommand("fakemeta.simulator.cli._sign:sign_command", "Print a signature."),
            "gone": LazyCommand("no_such_package_for_fakemeta.cli:gone", "Never there."),
        },
        optional=["gone"],
    )
    result = CliRunner().invoke(group, ["--help"])
    assert result.exit_code == 0
    assert "Print a signature." in result.output
    assert "gone" not in result.output


# --- `.env` in the working directory ----------------------------------------


def test_send_reads_the_app_secret_from_dot_env(
    tmp_path: Path, loopback_receiver: Any, loopback_secret: str
) -> None:
    (tmp_path / ".env").write_text(f"META_CLIENT_SECRET={loopback_secret}\n")
    done = fakemeta("send", loopback_receiver.url, "text", cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert [r.signature_ok for r in loopback_receiver.requests] == [True]


def test_the_real_environment_wins_over_dot_env(
    tmp_path: Path, loopback_receiver: Any, loopback_secret: str
) -> None:
    (tmp_path / ".env").write_text("META_CLIENT_SECRET=not-the-secret\n")
    done = fakemeta(
        "send",
        loopback_receiver.url,
        "text",
        cwd=tmp_path,
        env={"META_CLIENT_SECRET": loopback_secret},
    )
    assert done.returncode == 0, done.stderr.decode()
    assert [r.signature_ok for r in loopback_receiver.requests] == [True]


def test_without_dot_env_a_missing_secret_is_still_one_line(tmp_path: Path) -> None:
    done = fakemeta("send", "http://127.0.0.1:9/x", "text", cwd=tmp_path)
    assert done.returncode == 2
    assert b"Traceback" not in done.stderr
    assert b"META_CLIENT_SECRET" in done.stderr


# --- `fixtures show --wire | sign -` ------------------------------------------


@pytest.mark.parametrize("name", ["messages/text", "messages/reaction_removed"])
def test_wire_piped_to_sign_gives_the_golden_signature(name: str) -> None:
    shown = fakemeta("fixtures", "show", name, "--wire")
    assert shown.returncode == 0, shown.stderr.decode()
    signed = fakemeta(
        "sign", "-", env={"META_CLIENT_SECRET": fixtures.TEST_APP_SECRET}, stdin=shown.stdout
    )
    assert signed.returncode == 0, signed.stderr.decode()
    assert signed.stdout.decode().strip() == fixtures.load(name).signature


# --- `--set` typos ----------------------------------------------------------

PAYLOAD = {
    "entry": [
        {
            "id": "1",
            "changes": [
                {"value": {"messages": [{"from": "1", "type": "text", "text": {"body": "hi"}}]}}
            ],
        }
    ]
}


@pytest.mark.parametrize(
    ("override", "meant"),
    [
        ("message.text.bdy=x", "body"),
        ("message.text.Body=x", "body"),
        ("message.txt=x", "text"),
        ("message.form=x", "from"),
        ("message.tpye=x", "type"),
    ],
)
def test_a_typo_in_the_last_key_is_an_error_naming_the_key_meant(override: str, meant: str) -> None:
    with pytest.raises(BadOverride, match=f"did you mean '{meant}'"):
        apply_overrides(PAYLOAD, [override])


def test_a_new_optional_key_is_still_added_and_plus_forces_one() -> None:
    result = apply_overrides(
        PAYLOAD,
        ['message.context:={"forwarded": true}', "entry.0.time:=17", "message.text.+bdy=x"],
    )
    message = result["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["context"] == {"forwarded": True}
    assert message["text"] == {"body": "hi", "bdy": "x"}
    assert result["entry"][0]["time"] == 17


def test_send_with_a_typo_in_the_last_key_exits_2_and_sends_nothing(
    loopback_receiver: Any, loopback_secret: str
) -> None:
    done = fakemeta(
        "send",
        loopback_receiver.url,
        "text",
        "--set",
        "message.text.bdy=hello",
        env={"META_CLIENT_SECRET": loopback_secret},
    )
    assert done.returncode == 2
    assert "did you mean 'body'" in done.stderr.decode()
    assert b"Traceback" not in done.stderr
    assert loopback_receiver.requests == []


def test_an_empty_fakemeta_env_file_reads_no_dot_env(
    tmp_path: Path, loopback_receiver: Any, loopback_secret: str
) -> None:
    (tmp_path / ".env").write_text(f"META_CLIENT_SECRET={loopback_secret}\n")
    done = fakemeta(
        "send", loopback_receiver.url, "text", cwd=tmp_path, env={"FAKEMETA_ENV_FILE": ""}
    )
    assert done.returncode == 2
    assert b"META_CLIENT_SECRET" in done.stderr
    assert loopback_receiver.requests == []


def test_fakemeta_env_file_names_another_file(
    tmp_path: Path, loopback_receiver: Any, loopback_secret: str
) -> None:
    (tmp_path / "staging.env").write_text(f"META_CLIENT_SECRET={loopback_secret}\n")
    done = fakemeta(
        "send",
        loopback_receiver.url,
        "text",
        cwd=tmp_path,
        env={"FAKEMETA_ENV_FILE": "staging.env"},
    )
    assert done.returncode == 0, done.stderr.decode()
    assert [r.signature_ok for r in loopback_receiver.requests] == [True]
