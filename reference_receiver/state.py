"""What one receiver app holds: settings, database, store, notifier, cipher."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask_limiter import Limiter
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .crypto import TokenCipher
from .notify import Notifier
from .store import Store

__all__ = ["EXTENSION_KEY", "ReceiverState", "receiver_state"]

EXTENSION_KEY = "fakemeta_receiver"


@dataclass
class ReceiverState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: Store
    notifier: Notifier
    cipher: TokenCipher
    limiter: Limiter | None = None

    def close(self) -> None:
        self.notifier.close()
        self.engine.dispose()


def receiver_state(app: Flask) -> ReceiverState:
    state = app.extensions[EXTENSION_KEY]
    assert isinstance(state, ReceiverState)
    return state
