"""Per-client-IP rate limiting of the webhook with Flask-Limiter.

The key is the socket's peer address (`REMOTE_ADDR`). With
`TRUSTED_PROXY_HOPS=n`, werkzeug's `ProxyFix` first replaces it with the
n-th address from the right of `X-Forwarded-For`, so a client cannot spoof
its address past proxies we do not run. Storage is in-memory by default
(one process); `RATE_LIMIT_STORAGE_URI=redis://...` shares one limit between
gunicorn workers. The moving-window strategy makes "N per S seconds" hold
over any S-second span, not per clock-aligned window.

When the storage is unreachable the limiter logs it and falls back to
per-process memory (`in_memory_fallback_enabled`, `swallow_errors`), so a
Redis outage never turns a valid delivery into a 5xx.
"""

from __future__ import annotations

import math
import time

from flask import Blueprint, Flask, Response, request
from flask_limiter import Limiter, RateLimitExceeded
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Settings

__all__ = ["client_ip", "install_rate_limit"]


def client_ip() -> str:
    """The rate-limit key: the client address as the WSGI server (or ProxyFix) saw it."""
    return request.remote_addr or "unknown"


def install_rate_limit(app: Flask, settings: Settings, limited: Blueprint) -> Limiter | None:
    """Limit every route of `limited`; returns None when the limit is off."""
    if settings.trusted_proxy_hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxy_hops, x_proto=0, x_host=0
        )
    if settings.rate_limit is None:
        return None
    limiter = Limiter(
        key_func=client_ip,
        app=app,
        storage_uri=settings.rate_limit_storage_uri,
        strategy="moving-window",
        default_limits=[],
        headers_enabled=False,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        key_prefix="fakemeta-receiver",
    )
    limiter.limit(settings.rate_limit.as_limits_string())(limited)

    @app.errorhandler(RateLimitExceeded)
    def _too_many(error: RateLimitExceeded) -> Response:
        window = settings.rate_limit.seconds if settings.rate_limit else 60
        retry = window
        try:
            current = limiter.current_limit
            if current:
                # limits reports the reset rounded up to the next whole second.
                retry = min(window, max(1, math.ceil(current.reset_at - time.time())))
        except Exception:  # noqa: S110 - storage trouble: keep the full window
            pass
        response = Response("Too Many Requests\n", 429, mimetype="text/plain")
        response.headers["Retry-After"] = str(retry)
        return response

    return limiter
