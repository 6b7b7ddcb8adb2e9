"""Per-client-IP rate limiting of the webhook with Flask-Limiter.

The key is the socket's peer address (`REMOTE_ADDR`). With
`TRUSTED_PROXY_HOPS=n`, werkzeug's `ProxyFix` first replaces it with the
n-th address from the right of `X-Forwarded-For`, so a client cannot spoof
its address past proxies we do not run. Storage is in-memory by default
(one process); `RATE_LIMIT_STORAGE_URI=redis://...` shares one limit between
gunicorn workers. The moving-window strategy makes "N per S seconds" hold
over any S-second span, not per clock-aligned window.

Redis is reached through a bounded, blocking connection pool
(`REDIS_POOL_OPTIONS`): under a burst a request waits for a free connection
instead of failing, because a failure is what the limiter treats as an
outage. When Redis is unreachable (refused, or no connection within
`REDIS_POOL_OPTIONS["timeout"]` seconds) the limiter logs it and falls back
to per-process memory (`in_memory_fallback_enabled`), so an outage never
turns a valid delivery into a 5xx; that is a choice, made for outages only.
Errors are never swallowed: a request whose check fails while the fallback
is being switched on is answered 503 with `Retry-After`, never let through
unlimited.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from flask import Blueprint, Flask, Response, request
from flask_limiter import Limiter, RateLimitExceeded
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Settings

__all__ = ["REDIS_POOL_OPTIONS", "client_ip", "install_rate_limit"]

logger = logging.getLogger(__name__)

#: How the limiter talks to Redis (`redis.from_url` keywords). The default pool
#: of redis-py raises "Too many connections" when it is full, and opens a
#: connection per concurrent request until then (a burst of 1,500 ran Redis out
#: of clients), and Flask-Limiter took either for an outage and fell back to a
#: fresh in-memory count: half a burst got through. A blocking pool makes a
#: request wait (about a millisecond per queued check); `max_connections` in
#: the URL's query overrides the size.
REDIS_POOL_OPTIONS: dict[str, Any] = {
    "max_connections": 50,
    "timeout": 10,  # seconds to wait for a free connection before calling Redis down
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
_REDIS_SCHEMES = ("redis://", "rediss://")


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
    uri = settings.rate_limit_storage_uri
    limiter = Limiter(
        key_func=client_ip,
        app=app,
        storage_uri=uri,
        storage_options=_redis_pool(uri) if uri.startswith(_REDIS_SCHEMES) else {},
        strategy="moving-window",
        default_limits=[],
        headers_enabled=False,
        swallow_errors=False,
        in_memory_fallback_enabled=True,
        key_prefix="fakemeta-receiver",
    )
    limiter.limit(settings.rate_limit.as_limits_string())(limited)

    if uri.startswith("redis"):
        from redis.exceptions import RedisError

        @app.errorhandler(RedisError)
        def _storage_failed(error: RedisError) -> Response:
            logger.warning("rate limit storage failed (%s): answered 503", type(error).__name__)
            response = Response("Rate limit unavailable\n", 503, mimetype="text/plain")
            response.headers["Retry-After"] = "1"
            return response

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


def _redis_pool(uri: str) -> dict[str, Any]:
    """`storage_options` that hand limits' Redis storage a blocking pool for `uri`."""
    from redis import BlockingConnectionPool

    return {"connection_pool": BlockingConnectionPool.from_url(uri, **REDIS_POOL_OPTIONS)}
