"""`fakemeta receiver ...` through click's CliRunner on the `receiver` group."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from receiver_helpers import base_config, build_app, envelope, text_message

from fakemeta.reference_receiver.cli import receiver
from fakemeta.reference_receiver.state import receiver_state


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {k: str(v) for k, v in base_config(tmp_path).items()}


def run(env: dict[str, str], *args: str) -> object:
    return CliRunner().invoke(receiver, list(args), env=env, catch_exceptions=False)


def test_migrate_then_add_account_stores_an_encrypted_token(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run(env, "migrate").exit_code == 0  # type: ignore[attr-defined]
    result = run(
        env,
        "add-account",
        "--company",
        "Acme",
        "--phone-number-id",
        "123456",
        "--phone-number",
        "+15550001111",
        "--access-token",
        "EAAG-very-secret",
    )
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "EAAG-very-secret" not in result.output  # type: ignore[attr-defined]
    row = (
        sqlite3.connect(tmp_path / "receiver.sqlite3")
        .execute(
            'SELECT phone_number_id, "metadata", access_token_encrypted FROM integration_account'
        )
        .fetchone()
    )
    assert row[0] == "123456"
    assert '"phone_number": "15550001111"' in row[1]
    assert "EAAG-very-secret" not in row[2]


def test_add_account_twice_is_one_clear_line_exit_2(env: dict[str, str]) -> None:
    run(env, "migrate")
    args = [
        "add-account",
        "--company",
        "A",
        "--phone-number-id",
        "1",
        "--phone-number",
        "2",
        "--access-token",
        "t",
    ]
    assert run(env, *args).exit_code == 0  # type: ignore[attr-defined]
    result = CliRunner().invoke(receiver, args, env=env)
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        [
            "add-account",
            "--company",
            "A",
            "--phone-number-id",
            "12a",
            "--phone-number",
            "2",
            "--access-token",
            "t",
        ],
        ["add-account", "--company", "A", "--phone-number-id", "1"],
        ["clients", "--limit", "0"],
        ["run", "--port", "99999"],
        ["no-such-command"],
    ],
)
def test_bad_arguments_exit_2(env: dict[str, str], args: list[str]) -> None:
    result = CliRunner().invoke(receiver, args, env=env)
    assert result.exit_code == 2


@pytest.mark.parametrize("missing", ["META_CLIENT_SECRET", "INTEGRATION_ENCRYPTION_KEY"])
def test_missing_configuration_is_one_line_exit_2(env: dict[str, str], missing: str) -> None:
    env[missing] = ""
    result = CliRunner().invoke(receiver, ["migrate"], env=env)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert missing in lines[0]


def test_unmigrated_database_is_one_line_exit_2(env: dict[str, str]) -> None:
    result = CliRunner().invoke(receiver, ["clients"], env=env)
    assert result.exit_code == 2
    assert "migrate" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_clients_and_logs_print_tables(env: dict[str, str], tmp_path: Path) -> None:
    app = build_app(base_config(tmp_path))
    from receiver_helpers import WEBHOOK, meta_encode, sign

    body = meta_encode(envelope([text_message("مرحبا table", sender="2041")], name="Huda"))
    assert (
        app.test_client()
        .post(WEBHOOK, data=body, headers={"X-Hub-Signature-256": sign(body)})
        .status_code
        == 200
    )
    receiver_state(app).close()
    clients = run(env, "clients")
    assert clients.exit_code == 0  # type: ignore[attr-defined]
    assert "2041" in clients.output
    assert "Huda" in clients.output
    logs = run(env, "logs", "--action", "whatsapp_message_received")
    assert "whatsapp_message_received" in logs.output  # type: ignore[attr-defined]
    assert "مرحبا table" in logs.output  # type: ignore[attr-defined]


def test_rotate_key(env: dict[str, str], tmp_path: Path) -> None:
    build_app(base_config(tmp_path))
    new = Fernet.generate_key().decode()
    old = env["INTEGRATION_ENCRYPTION_KEY"]
    only_new = dict(env, INTEGRATION_ENCRYPTION_KEY=new)
    failed = CliRunner().invoke(receiver, ["rotate-key"], env=only_new)
    assert failed.exit_code == 2
    assert "keep the old key" in failed.output
    result = run(dict(env, INTEGRATION_ENCRYPTION_KEY=f"{new},{old}"), "rotate-key")
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert "1 account(s) re-encrypted" in result.output  # type: ignore[attr-defined]
    assert run(only_new, "rotate-key").exit_code == 0  # type: ignore[attr-defined]


def test_drain_once_applies_what_waits_and_inbox_counts_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    """INBOX_DRAIN=external: the app only acknowledges; `receiver drain` applies."""
    from receiver_helpers import WEBHOOK, meta_encode, sign

    external = dict(env, INBOX_DRAIN="external")
    app = build_app({**base_config(tmp_path), "INBOX_DRAIN": "external"}, settle=False)
    for sender in ("2051", "2052"):
        body = meta_encode(envelope([text_message(sender=sender)]))
        response = app.test_client().post(
            WEBHOOK, data=body, headers={"X-Hub-Signature-256": sign(body)}
        )
        assert response.status_code == 200
    receiver_state(app).close()
    waiting = run(external, "inbox")
    assert waiting.output.strip() == "2 waiting, 0 given up on"  # type: ignore[attr-defined]
    drained = run(external, "drain", "--once")
    assert drained.exit_code == 0  # type: ignore[attr-defined]
    assert "2 deliveries applied; 0 waiting, 0 given up on" in drained.output  # type: ignore[attr-defined]
    assert "2052" in run(env, "clients").output  # type: ignore[attr-defined]
    retried = run(external, "inbox", "--retry-failed")
    assert "0 deliveries will be tried again" in retried.output  # type: ignore[attr-defined]


def test_drain_on_an_unmigrated_database_is_one_line_exit_2(env: dict[str, str]) -> None:
    result = CliRunner().invoke(receiver, ["drain", "--once"], env=env)
    assert result.exit_code == 2
    assert "migrate" in result.output


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://crm@localhost/crm", "'mysql' is not supported"),
        ("mysql+pymysql://crm@localhost/crm", "'mysql+pymysql' is not supported"),
        ("oracle://crm@localhost/crm", "is not supported"),
        ("localhost:5432/crm", "is not a database URL"),
    ],
)
def test_a_database_url_the_receiver_cannot_use_is_one_line_exit_2(
    env: dict[str, str], url: str, said: str
) -> None:
    """Before, `mysql://` and `postgres://` ended in SQLAlchemy tracebacks."""
    env["DATABASE_URL"] = url
    result = CliRunner().invoke(receiver, ["migrate"], env=env)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert said in lines[0]
    assert "Traceback" not in result.output


def test_a_missing_driver_names_the_extra_to_install(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "psycopg" else real(name, *args),
    )
    env["DATABASE_URL"] = "postgres://crm@127.0.0.1/crm"
    result = CliRunner().invoke(receiver, ["migrate"], env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        "Error: DATABASE_URL needs the psycopg driver, which is not installed: "
        "pip install 'fakemeta[production]'"
    ]


@pytest.mark.postgres
def test_the_heroku_postgres_url_form_is_accepted(env: dict[str, str], postgres_url: str) -> None:
    """`postgres://` (Heroku, Render) is PostgreSQL through psycopg."""
    env["DATABASE_URL"] = postgres_url.replace("postgresql+psycopg://", "postgres://")
    result = CliRunner().invoke(receiver, ["migrate"], env=env)
    assert result.exit_code == 0, result.output
    assert "database is up to date" in result.output
