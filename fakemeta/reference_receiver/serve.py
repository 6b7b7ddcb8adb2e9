"""Run a reference receiver in the background, for `fakemeta check` and `fakemeta send`.

    from fakemeta.reference_receiver.serve import start_background

    with start_background({"phone_number_id": "106540352242922"}) as running:
        running.url        # http://127.0.0.1:<port>/api/integrations/webhooks/whatsapp/
        running.probe_url  # http://127.0.0.1:<port>/_fakemeta/probe
        running.app_secret, running.verify_token, running.probe_token, running.access_token

`start_background(config)` migrates a fresh SQLite database in a temporary
directory, creates a company and a connected WhatsApp account for the phone
number id, and serves the app with werkzeug's threaded server on 127.0.0.1,
port 0 (a free port), in a daemon thread. Config keys, all optional:

- `verify_token`, `app_secret`, `probe_token`: generated when absent or empty;
  read them back from the returned object.
- `phone_number_id` (default "106540352242922"), `display_phone_number`
  (default "15550783881"), `access_token` (generated when absent): the
  connected account.
- `rate_limit`: "100/60" (default) or "off". The key is the socket's client
  address, so requests from different 127.0.0.0/8 source addresses are
  limited separately.
- `host` (default "127.0.0.1"), `port` (default 0), `quiet` (default True:
  no per-request lines and no receiver warnings on stderr).

`stop()` (or leaving the `with` block) shuts the server down and removes the
temporary directory.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.fernet import Fernet
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .accounts import add_account
from .app import create_app
from .config import Settings, load_settings
from .db import migrate
from .probe import PROBE_PREFIX, stored_message_counts
from .state import receiver_state
from .webhook import WEBHOOK_PATH

__all__ = ["RedactingRequestHandler", "Running", "start_background"]

DEFAULT_PHONE_NUMBER_ID = "106540352242922"
DEFAULT_DISPLAY_PHONE_NUMBER = "15550783881"


_TOKEN_IN_QUERY = re.compile(r"(hub(?:\.|%2e)verify_token=)[^&\s]*", re.IGNORECASE)


class RedactingRequestHandler(WSGIRequestHandler):
    """werkzeug's access log without the handshake's verify token (secrets are never logged)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.requestline = _TOKEN_IN_QUERY.sub(r"\1***", self.requestline)
        if hasattr(self, "path"):
            self.path = _TOKEN_IN_QUERY.sub(r"\1***", self.path)
        super().log_request(code, size)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class Running:
    """A receiver serving in a background thread; use as a context manager or call `stop()`."""

    url: str
    probe_url: str
    base_url: str
    settings: Settings
    phone_number_id: str
    display_phone_number: str
    access_token: str  # the connected account's Graph API token (stored encrypted)
    _server: BaseWSGIServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _directory: Path = field(repr=False)
    _app: Any = field(repr=False)

    @property
    def app(self) -> Any:
        """The Flask app itself, for in-process use (the server keeps serving it too)."""
        return self._app

    @property
    def app_secret(self) -> str:
        return self.settings.app_secret

    @property
    def verify_token(self) -> str:
        return self.settings.verify_token

    @property
    def probe_token(self) -> str:
        return self.settings.probe_token

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    def stored_message_counts(self, message_ids: Sequence[str]) -> dict[str, int]:
        """Log entries per message id, read from the store in this process, in
        bulk (`fakemeta.reference_receiver.probe.stored_message_counts`)."""
        return stored_message_counts(self._app, message_ids)

    def stop(self) -> None:
        """Stop serving, release the database and delete the temporary directory."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()
        receiver_state(self._app).close()
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> Running:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _value(config: Mapping[str, Any], key: str, default: str) -> str:
    value = config.get(key)
    return default if value is None or value == "" else str(value)


def start_background(config: Mapping[str, Any] | None = None) -> Running:
    """Start a fresh reference receiver on loopback; see the module docstring for `config`."""
    config = dict(config or {})
    quiet = bool(config.get("quiet", True))
    package_logger = logging.getLogger("fakemeta.reference_receiver")
    if quiet and not any(isinstance(h, logging.NullHandler) for h in package_logger.handlers):
        # Keeps warnings (unknown phone number ids, bad signatures: the suite
        # sends those on purpose) off stderr when no logging is configured.
        package_logger.addHandler(logging.NullHandler())
    directory = Path(tempfile.mkdtemp(prefix="fakemeta-receiver-"))
    try:
        rate = config.get("rate_limit")
        settings = load_settings(
            {
                "META_CLIENT_SECRET": _value(config, "app_secret", secrets.token_hex(16)),
                "META_WEBHOOK_VERIFY_TOKEN": _value(
                    config, "verify_token", secrets.token_urlsafe(24)
                ),
                "INTEGRATION_ENCRYPTION_KEY": Fernet.generate_key().decode("ascii"),
                "FAKEMETA_PROBE_TOKEN": _value(config, "probe_token", secrets.token_urlsafe(24)),
                "DATABASE_URL": f"sqlite:///{directory / 'receiver.sqlite3'}",
                "RATE_LIMIT": "100/60" if rate is None or rate == "" else str(rate),
                "RATE_LIMIT_STORAGE_URI": "memory://",
                "TRUSTED_PROXY_HOPS": "0",
                "FCM_PROJECT_ID": "",
                "FCM_CREDENTIALS_FILE": "",
                "FCM_ACCESS_TOKEN": "",
            },
            environ={},
            env_file=None,
        )
        migrate(settings.database_url)
        app = create_app(settings)
        state = receiver_state(app)
        phone_number_id = _value(config, "phone_number_id", DEFAULT_PHONE_NUMBER_ID)
        display = _value(config, "display_phone_number", DEFAULT_DISPLAY_PHONE_NUMBER)
        access_token = _value(config, "access_token", secrets.token_urlsafe(32))
        add_account(
            state.sessions,
            state.cipher,
            company="fakemeta",
            phone_number_id=phone_number_id,
            phone_number=display,
            access_token=access_token,
        )
        server = make_server(
            _value(config, "host", "127.0.0.1"),
            int(config.get("port") or 0),
            app,
            threaded=True,
            request_handler=_QuietHandler if quiet else RedactingRequestHandler,
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    server.daemon_threads = True  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name="fakemeta-receiver", daemon=True)
    thread.start()
    base = f"http://{server.host}:{server.server_port}"
    return Running(
        url=base + WEBHOOK_PATH,
        probe_url=base + PROBE_PREFIX,
        base_url=base,
        settings=settings,
        phone_number_id=phone_number_id,
        display_phone_number=display,
        access_token=access_token,
        _server=server,
        _thread=thread,
        _directory=directory,
        _app=app,
    )
