"""The fakemeta reference receiver: the seed's CRM webhook on Flask and SQLAlchemy.

`create_app()` builds the WSGI app (gunicorn: `'fakemeta.reference_receiver:create_app()'`);
`serve.start_background()` runs one on a free loopback port for `fakemeta check`.
It imports nothing from `fakemeta.simulator` or `fakemeta.contract_tests`.
"""

from __future__ import annotations

from .app import create_app
from .config import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Settings", "create_app", "load_settings"]
