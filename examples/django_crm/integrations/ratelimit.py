"""`@rate_limit_webhook(max_requests=100, window=60)`: per client IP (seed section 9).

A small cache-based limiter instead of a dependency: it needs `Retry-After`
on its 429, and a window that opens at a client's first request (a window
aligned to the clock would let a burst straddling the boundary through
twice). `cache.add` and `cache.incr` are atomic in Django's local-memory and
Redis caches, so parallel requests are counted exactly.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def client_ip(request: HttpRequest) -> str:
    # Behind a reverse proxy, have it set REMOTE_ADDR (or trust exactly its
    # X-Forwarded-For hop here); never trust a client-supplied header as is.
    return str(request.META.get("REMOTE_ADDR", "unknown"))


def rate_limit_webhook(
    max_requests: int | None = None, window: int | None = None
) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @functools.wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            limit, seconds = settings.WHATSAPP_RATE_LIMIT
            limit, seconds = max_requests or limit, window or seconds
            ip = client_ip(request)
            now = time.time()
            cache.add(f"wa-rl:start:{ip}", now, timeout=seconds)
            started = cache.get(f"wa-rl:start:{ip}", now)
            key = f"wa-rl:count:{ip}:{started}"
            cache.add(key, 0, timeout=seconds + 1)
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr
                count = 1
            if count > limit:
                response = HttpResponse(
                    "Too Many Requests\n", status=429, content_type="text/plain"
                )
                response["Retry-After"] = str(max(1, math.ceil(started + seconds - now)))
                return response
            return view(request, *args, **kwargs)

        return limited

    return decorate
