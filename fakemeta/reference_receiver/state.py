"""What one receiver app holds: settings, database, inbox, drainer, store, notifier, cipher."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from flask import Flask
from flask_limiter import Limiter
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .crypto import TokenCipher
from .drainer import Drainer
from .inbox import Inbox
from .notify import Notifier
from .store import Store

__all__ = ["EXTENSION_KEY", "ReceiverState", "receiver_state"]

EXTENSION_KEY = "fakemeta_receiver"


@dataclass
class ReceiverState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    inbox: Inbox
    store: Store
    notifier: Notifier
    cipher: TokenCipher
    limiter: Limiter | None = None
    drainer: Drainer | None = None  # None with INBOX_DRAIN=external
    pid: int = field(default_factory=os.getpid)

    def in_this_process(self) -> None:
        """After a fork (gunicorn --preload): drop the parent's pooled connections and
        start this process's own drainer thread. Cheap when nothing forked."""
        if self.pid == os.getpid():
            return
        self.pid = os.getpid()
        self.engine.dispose(close=False)
        if self.drainer is not None:
            self.drainer.start()

    def close(self) -> None:
        if self.drainer is not None:
            self.drainer.stop()
        self.notifier.close()
        self.engine.dispose()


def receiver_state(app: Flask) -> ReceiverState:
    state = app.extensions[EXTENSION_KEY]
    assert isinstance(state, ReceiverState)
    return state
