"""The Flask application factory: wires settings, store, limiter, notifier, routes."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from .config import Settings, load_settings
from .crypto import TokenCipher
from .db import create_db_engine, make_session_factory
from .drainer import Drainer
from .inbox import Inbox
from .notify import build_notifier
from .probe import probe
from .ratelimit import install_rate_limit
from .state import EXTENSION_KEY, ReceiverState
from .store import Store
from .webhook import closing, webhook

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(config: Mapping[str, object] | Settings | None = None) -> Flask:
    """A receiver app. `config` overrides the environment (same names as the env vars).

    Raises `ConfigError` (one line, naming the variable) when a secret, the
    verify token or the encryption key is missing or malformed. The schema is
    not created here: run `fakemeta receiver migrate` (or `db.migrate`) first.
    Unless `INBOX_DRAIN=external`, the app starts a daemon thread that applies
    acknowledged deliveries (`drainer.py`); `receiver_state(app).close()` stops it.
    """
    settings = config if isinstance(config, Settings) else load_settings(config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    engine = create_db_engine(settings.database_url, timeout=settings.database_timeout)
    sessions = make_session_factory(engine)
    state = ReceiverState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        inbox=Inbox(engine),
        store=Store(engine),
        notifier=build_notifier(settings, sessions),
        cipher=TokenCipher(settings.encryption_keys),
    )
    app.extensions[EXTENSION_KEY] = state
    if settings.inbox_drain == "thread":
        state.drainer = Drainer(state)
        state.drainer.start()
    state.limiter = install_rate_limit(app, settings, webhook)
    app.register_blueprint(webhook)
    if settings.probe_token:
        app.register_blueprint(probe)

    @app.errorhandler(HTTPException)
    def _plain_error(error: HTTPException) -> Response:
        # Plain text, never an HTML page that reflects anything.
        response = error.get_response()
        response.set_data(f"{error.code} {error.name}\n")
        response.mimetype = "text/plain"
        if error.code == 413:
            # Werkzeug refused a Content-Length over MAX_CONTENT_LENGTH, unread.
            return closing(response)
        return response

    return app
