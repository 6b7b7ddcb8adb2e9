"""Settings for the reference receiver, resolved once into a frozen object.

Precedence: an explicit mapping (tests, `serve.start_background`) over the
process environment over a `.env` file over defaults. Every missing secret or
malformed key is reported as one `ConfigError` line that names the variable
and says how to make a value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

__all__ = [
    "DEFAULT_DATABASE_TIMEOUT",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_MAX_BODY_BYTES",
    "INBOX_DRAIN_MODES",
    "ConfigError",
    "RateLimit",
    "Settings",
    "database_url",
    "load_settings",
    "parse_rate_limit",
]

DEFAULT_DATABASE_URL = "sqlite:///fakemeta_receiver.sqlite3"
DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024
#: Seconds to connect, to wait for a pooled connection, and for one statement
#: (PostgreSQL): a hung database answers 503 after this, instead of holding
#: every request (and thread) until it comes back.
DEFAULT_DATABASE_TIMEOUT = 10
DEFAULT_RATE_LIMIT = "100/60"
#: `thread`: every app process drains the inbox in a thread of its own (zero
#: setup); `external`: only `fakemeta receiver drain` processes do.
INBOX_DRAIN_MODES = ("thread", "external")

_TOKEN_HINT = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'  # noqa: S105 - a hint, not a secret
_KEY_HINT = (
    "generate one with: python3 -c "
    '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


class ConfigError(Exception):
    """The receiver's configuration is missing or malformed.

    Cause: an environment variable (or `.env` entry, or config key) is unset,
    empty or unparsable. Fix: set the variable the message names; the message
    says how to generate a value.
    """


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` per `seconds` per client IP."""

    requests: int
    seconds: int

    def as_limits_string(self) -> str:
        return f"{self.requests} per {self.seconds} second"


@dataclass(frozen=True)
class Settings:
    """Everything the receiver reads from its environment, validated."""

    app_secret: str
    verify_token: str
    encryption_keys: tuple[str, ...]
    client_id: str = ""
    api_base_url: str = "http://localhost:8000"
    database_url: str = DEFAULT_DATABASE_URL
    database_timeout: int = DEFAULT_DATABASE_TIMEOUT
    rate_limit: RateLimit | None = RateLimit(100, 60)
    rate_limit_storage_uri: str = "memory://"
    trusted_proxy_hops: int = 0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    probe_token: str = ""
    fcm_project_id: str = ""
    fcm_credentials_file: str = ""
    fcm_access_token: str = ""
    fcm_endpoint: str = "https://fcm.googleapis.com"
    inbox_drain: str = "thread"

    def __repr__(self) -> str:
        # Never print secrets, even in a traceback or a debug session.
        return (
            f"Settings(database_url={_redact_url(self.database_url)!r}, "
            f"database_timeout={self.database_timeout}, "
            f"rate_limit={self.rate_limit!r}, "
            f"rate_limit_storage_uri={_redact_url(self.rate_limit_storage_uri)!r}, "
            f"trusted_proxy_hops={self.trusted_proxy_hops}, "
            f"max_body_bytes={self.max_body_bytes}, probe={'on' if self.probe_token else 'off'}, "
            f"fcm={'on' if self.fcm_enabled else 'off'}, inbox_drain={self.inbox_drain!r})"
        )

    @property
    def fcm_enabled(self) -> bool:
        return bool(self.fcm_project_id and (self.fcm_credentials_file or self.fcm_access_token))


def _redact_url(url: str) -> str:
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


def parse_rate_limit(text: str, *, variable: str = "RATE_LIMIT") -> RateLimit | None:
    """`"100/60"` means 100 requests per 60 seconds; `"off"` disables the limit."""
    if text.strip().lower() in {"off", "none", "0"}:
        return None
    match = _RATE.fullmatch(text)
    if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise ConfigError(
            f"{variable}={text!r} is not valid: write REQUESTS/SECONDS (e.g. 100/60) or off"
        )
    return RateLimit(int(match.group(1)), int(match.group(2)))


_PRODUCTION_EXTRA = "pip install 'fakemeta[production]'"
# Spellings other programs use for the receiver's two databases.
_URL_ALIASES = {
    "postgres": "postgresql+psycopg",  # Heroku, Render, Fly.io
    "postgresql": "postgresql+psycopg",  # SQLAlchemy would pick psycopg2
    "postgresql+psycopg3": "postgresql+psycopg",
}
_DRIVERS = {"postgresql+psycopg": "psycopg", "sqlite": "sqlite3", "sqlite+pysqlite": "sqlite3"}


def database_url(text: str, *, variable: str = "DATABASE_URL") -> str:
    """`text` as the URL the receiver's engine is made from, or `ConfigError` in one line.

    `postgres://` (Heroku's form) and `postgresql://` mean PostgreSQL through
    psycopg 3; SQLite and PostgreSQL are the databases the receiver is built and
    tested for, so anything else (`mysql://`...) is refused here rather than with
    a traceback halfway through a migration; a driver that is not installed is
    named together with the extra that installs it.
    """
    import importlib.util

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    scheme, separator, rest = text.strip().partition("://")
    if not separator:
        raise ConfigError(
            f"{variable}={_redact_url(text)!r} is not a database URL: write "
            "postgresql+psycopg://USER:PASSWORD@HOST/DB or sqlite:///PATH"
        )
    scheme = _URL_ALIASES.get(scheme.lower(), scheme.lower())
    url = f"{scheme}://{rest}"
    try:
        make_url(url)
    except (ArgumentError, ValueError) as error:
        raise ConfigError(f"{variable}={_redact_url(text)!r} is not valid: {error}") from None
    driver = _DRIVERS.get(scheme)
    if driver is None:
        raise ConfigError(
            f"{variable}: {scheme!r} is not supported: the receiver runs on PostgreSQL "
            "(postgresql+psycopg://USER:PASSWORD@HOST/DB) or SQLite (sqlite:///PATH)"
        )
    if importlib.util.find_spec(driver) is None:
        raise ConfigError(
            f"{variable} needs the {driver} driver, which is not installed: {_PRODUCTION_EXTRA}"
        )
    return url


def _parse_keys(text: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    if not keys:
        raise ConfigError(f"INTEGRATION_ENCRYPTION_KEY is not set: {_KEY_HINT}")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ConfigError(
                f"INTEGRATION_ENCRYPTION_KEY key #{position} is not a Fernet key "
                f"(32 url-safe base64 bytes): {_KEY_HINT}"
            ) from None
    return keys


def _int(values: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = values.get(name, "").strip()
    if not raw:
        return default
    try:
        number = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if number < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return number


def _read_env_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load_settings(
    overrides: Mapping[str, object] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    env_file: str | Path | None = ".env",
) -> Settings:
    """Resolve the settings: `overrides` over `environ` (default `os.environ`) over `env_file`.

    Raises `ConfigError` with one line naming the variable when a secret, the
    verify token or the encryption key is missing, or a value is malformed.
    """
    values: dict[str, str] = {}
    if env_file is not None:
        values.update(_read_env_file(Path(env_file)))
    values.update(os.environ if environ is None else environ)
    for key, value in (overrides or {}).items():
        values[key] = "" if value is None else str(value)

    secret = values.get("META_CLIENT_SECRET", "")
    if not secret:
        raise ConfigError(
            "META_CLIENT_SECRET is not set: copy the App Secret from your Meta app's "
            "Settings > Basic page (for local tests, any random string)"
        )
    token = values.get("META_WEBHOOK_VERIFY_TOKEN", "")
    if not token:
        raise ConfigError(f"META_WEBHOOK_VERIFY_TOKEN is not set: {_TOKEN_HINT}")
    keys = _parse_keys(values.get("INTEGRATION_ENCRYPTION_KEY", ""))
    hops = _int(values, "TRUSTED_PROXY_HOPS", 0, 0)
    max_body = _int(values, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024)
    rate = parse_rate_limit(values.get("RATE_LIMIT", "") or DEFAULT_RATE_LIMIT)
    storage = values.get("RATE_LIMIT_STORAGE_URI", "") or "memory://"
    if not re.match(r"^(memory|redis|rediss|redis\+cluster|redis\+sentinel)://", storage):
        raise ConfigError(
            f"RATE_LIMIT_STORAGE_URI={_redact_url(storage)!r} is not supported: "
            "use memory:// or redis://HOST:PORT"
        )
    credentials = values.get("FCM_CREDENTIALS_FILE", "")
    if credentials and not Path(credentials).is_file():
        raise ConfigError(
            f"FCM_CREDENTIALS_FILE={credentials!r} does not exist: download a service account "
            "key (JSON) from Firebase console > Project settings > Service accounts"
        )
    project = values.get("FCM_PROJECT_ID", "")
    if (credentials or values.get("FCM_ACCESS_TOKEN")) and not project:
        raise ConfigError("FCM_PROJECT_ID is not set: it is the Firebase project id")
    drain = (values.get("INBOX_DRAIN", "") or "thread").strip().lower()
    if drain not in INBOX_DRAIN_MODES:
        raise ConfigError(
            f"INBOX_DRAIN={drain!r} is not valid: thread (drain in every app process) "
            "or external (run `fakemeta receiver drain`)"
        )
    return Settings(
        app_secret=secret,
        verify_token=token,
        encryption_keys=keys,
        client_id=values.get("META_CLIENT_ID", ""),
        api_base_url=values.get("API_BASE_URL", "") or "http://localhost:8000",
        database_url=database_url(values.get("DATABASE_URL", "") or DEFAULT_DATABASE_URL),
        database_timeout=_int(values, "DATABASE_TIMEOUT", DEFAULT_DATABASE_TIMEOUT, 1),
        rate_limit=rate,
        rate_limit_storage_uri=storage,
        trusted_proxy_hops=hops,
        max_body_bytes=max_body,
        probe_token=values.get("FAKEMETA_PROBE_TOKEN", ""),
        fcm_project_id=project,
        fcm_credentials_file=credentials,
        fcm_access_token=values.get("FCM_ACCESS_TOKEN", ""),
        fcm_endpoint=values.get("FCM_ENDPOINT", "") or "https://fcm.googleapis.com",
        inbox_drain=drain,
    )
