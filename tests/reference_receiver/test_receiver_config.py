"""Settings: the seed's variable names, one clear line for anything missing or malformed."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from fakemeta.reference_receiver import create_app
from fakemeta.reference_receiver.config import (
    ConfigError,
    RateLimit,
    load_settings,
    parse_rate_limit,
)

KEY = Fernet.generate_key().decode()
GOOD = {
    "META_CLIENT_SECRET": "secret-value",
    "META_WEBHOOK_VERIFY_TOKEN": "verify-value",
    "INTEGRATION_ENCRYPTION_KEY": KEY,
}


def load(**overrides: str) -> object:
    return load_settings({**GOOD, **overrides}, environ={}, env_file=None)


@pytest.mark.parametrize(
    ("variable", "hint"),
    [
        ("META_CLIENT_SECRET", "App Secret"),
        ("META_WEBHOOK_VERIFY_TOKEN", "secrets.token_urlsafe"),
        ("INTEGRATION_ENCRYPTION_KEY", "Fernet.generate_key"),
    ],
)
def test_missing_secret_names_the_variable_and_how_to_make_one(variable: str, hint: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(**{variable: ""})
    message = str(error.value)
    assert variable in message
    assert hint in message
    assert "\n" not in message


@pytest.mark.parametrize("key", ["not-a-key", "a" * 44, KEY[:-2]])
def test_malformed_key_is_refused(key: str) -> None:
    with pytest.raises(ConfigError, match=r"INTEGRATION_ENCRYPTION_KEY key #1 is not a Fernet key"):
        load(INTEGRATION_ENCRYPTION_KEY=key)


def test_several_keys_for_rotation() -> None:
    other = Fernet.generate_key().decode()
    settings = load(INTEGRATION_ENCRYPTION_KEY=f"{KEY}, {other}")
    assert settings.encryption_keys == (KEY, other)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="key #2"):
        load(INTEGRATION_ENCRYPTION_KEY=f"{KEY},nope")


def test_defaults() -> None:
    settings = load()
    assert settings.rate_limit == RateLimit(100, 60)  # type: ignore[attr-defined]
    assert settings.rate_limit_storage_uri == "memory://"  # type: ignore[attr-defined]
    assert settings.trusted_proxy_hops == 0  # type: ignore[attr-defined]
    assert settings.max_body_bytes == 3 * 1024 * 1024  # type: ignore[attr-defined]
    assert settings.database_url.startswith("sqlite:///")  # type: ignore[attr-defined]
    assert settings.probe_token == ""  # type: ignore[attr-defined]
    assert settings.inbox_drain == "thread"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("100/60", RateLimit(100, 60)), (" 5 / 1 ", RateLimit(5, 1)), ("off", None), ("OFF", None)],
)
def test_parse_rate_limit(text: str, expected: RateLimit | None) -> None:
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize("text", ["100", "a/b", "0/60", "10/0", "-1/60", "100 per minute"])
def test_bad_rate_limit_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="RATE_LIMIT"):
        load(RATE_LIMIT=text)


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("TRUSTED_PROXY_HOPS", "x", "TRUSTED_PROXY_HOPS"),
        ("TRUSTED_PROXY_HOPS", "-1", "TRUSTED_PROXY_HOPS"),
        ("MAX_BODY_BYTES", "10", "MAX_BODY_BYTES"),
        ("RATE_LIMIT_STORAGE_URI", "mongodb://x", "RATE_LIMIT_STORAGE_URI"),
        ("FCM_CREDENTIALS_FILE", "/nonexistent.json", "FCM_CREDENTIALS_FILE"),
        ("FCM_ACCESS_TOKEN", "tok", "FCM_PROJECT_ID"),
        ("INBOX_DRAIN", "sometimes", "INBOX_DRAIN"),
    ],
)
def test_other_malformed_values_name_their_variable(name: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load(**{name: value})


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"META_CLIENT_SECRET=from-file\nMETA_WEBHOOK_VERIFY_TOKEN=file-token\n"
        f"INTEGRATION_ENCRYPTION_KEY={KEY}\nRATE_LIMIT=7/7\n"
    )
    settings = load_settings(environ={"RATE_LIMIT": "9/9"}, env_file=env_file)
    assert settings.app_secret == "from-file"
    assert settings.rate_limit == RateLimit(9, 9)


def test_repr_never_shows_secrets() -> None:
    settings = load(DATABASE_URL="postgresql+psycopg://user:dbpass@127.0.0.1/x")
    text = repr(settings)
    for secret in ("secret-value", "verify-value", KEY, "dbpass"):
        assert secret not in text


def test_create_app_refuses_to_start_without_the_secret() -> None:
    with pytest.raises(ConfigError, match="META_CLIENT_SECRET"):
        create_app({"META_CLIENT_SECRET": "", "META_WEBHOOK_VERIFY_TOKEN": "x"})


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://crm:pw@db:5432/crm", "postgresql+psycopg://crm:pw@db:5432/crm"),
        ("postgresql://crm@db/crm", "postgresql+psycopg://crm@db/crm"),
        ("postgresql+psycopg://crm@db/crm", "postgresql+psycopg://crm@db/crm"),
        ("sqlite:///crm.sqlite3", "sqlite:///crm.sqlite3"),
    ],
)
def test_database_url_spellings_of_postgres_mean_psycopg(given: str, used: str) -> None:
    settings = load(DATABASE_URL=given)
    assert settings.database_url == used  # type: ignore[attr-defined]


def test_database_timeout_default_and_override() -> None:
    assert load().database_timeout == 10  # type: ignore[attr-defined]
    assert load(DATABASE_TIMEOUT="3").database_timeout == 3  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="DATABASE_TIMEOUT"):
        load(DATABASE_TIMEOUT="0")
