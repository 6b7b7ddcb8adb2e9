"""What keeps the web pages a developer visits away from `fakemeta serve`.

The console and the control API (`/_fakemeta/`) take no token: whoever
reaches them can send signed messages to the bot, set faults or point the
subscription elsewhere. A browser lets any page *send* simple requests to
loopback (a form, a `text/plain` fetch), and DNS rebinding lets a page
*read* from loopback under its own host name. So, before routing
(`server.FakeMeta`), for `/_fakemeta/...` and `/`:

- `Host` must be a loopback name (`localhost`, `127.x.y.z`, `[::1]`) or one
  the server was started with (`--host`, `--allow-host`); any port. A
  rebinding page sends its own name: 403.
- A state-changing request (anything but GET and HEAD) with an `Origin`
  that is not this server's own, or with `Sec-Fetch-Site: cross-site` (or
  `same-site`: another port of localhost is another origin): 403.
- A body must be `application/json`: a JSON request from another origin
  then needs a CORS preflight, which this server never grants. 415.
- Console pages carry a Content-Security-Policy (scripts, styles and
  requests from this origin only; images also from `blob:` and `data:`,
  for the customer's image previews), `X-Frame-Options: DENY` and
  `X-Content-Type-Options: nosniff`.

The Graph API routes (`/v{N}/...`) keep working under any `Host`: like
Meta's, they need the access token, and a bot may reach this server by a
name of its own (a container's `host.docker.internal`, a LAN address with
`--host 0.0.0.0`). A page cannot read them across origins (no CORS) and,
without the token, cannot use them under a rebound name either.

Every refusal is the control API's `{"error": "..."}` with the reason.
Request bodies larger than the server's limit are refused 413 before they
are read (`too_large`), in the route's own error shape.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from werkzeug.wrappers import Request

__all__ = ["CONSOLE_HEADERS", "SECURITY_HEADERS", "Guard", "host_name", "too_large"]

#: On every `/_fakemeta/` response.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
#: The console's own needs: its module scripts, its stylesheet and its
#: `fetch()` calls are same-origin; the favicon is a `data:` URL and the
#: preview of an image the customer picked is a `blob:` URL.
CONSOLE_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_CROSS = frozenset({"cross-site", "same-site"})


def host_name(host: str) -> str:
    """`Host` without its port, brackets or trailing dot, lowercase:
    `[::1]:8787` -> `::1`, `LocalHost.:80` -> `localhost`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _loopback(name: str) -> bool:
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Guard:
    """The checks above, for a server listening on `host` (and `allowed` names)."""

    def __init__(self, host: str = "127.0.0.1", allowed: Iterable[str] = ()) -> None:
        self.names = frozenset(host_name(h) for h in (host, *allowed) if h)

    def host_allowed(self, host: str | None) -> bool:
        """A request without `Host` (HTTP/1.0) is no browser's: allowed."""
        if host is None:
            return True
        name = host_name(host)
        return _loopback(name) or name in self.names

    def refusal(self, request: Request) -> tuple[int, str] | None:
        """`(status, reason)` when a console or control request must be refused."""
        host = request.environ.get("HTTP_HOST")
        if not self.host_allowed(host):
            return 403, (
                f"Host {host!r} is not this server's: the console and the control API answer "
                "only under localhost, 127.0.0.1, [::1] or the --host / --allow-host names"
            )
        if request.method in _SAFE_METHODS:
            return None
        origin = request.headers.get("Origin")
        if origin is not None and not _same_origin(origin, request.scheme, host):
            return 403, (
                f"Origin {origin!r} is not this server's: the control API takes "
                "state-changing requests only from its own console, scripts and tools"
            )
        site = request.headers.get("Sec-Fetch-Site", "").lower()
        if site in _CROSS:
            return 403, f"a {site} request cannot change this server's state"
        if _has_body(request) and request.mimetype != "application/json":
            shown = request.headers.get("Content-Type") or "none"
            return 415, f"send the body as Content-Type: application/json, not {shown}"
        return None


def _same_origin(origin: str, scheme: str, host: str | None) -> bool:
    """`Origin` names this server: its scheme, and the `Host` it was asked by."""
    if host is None:
        return False
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != scheme or not parts.hostname:
        return False  # `null`: a sandboxed frame, a file, a redirect across origins
    default = 443 if parts.scheme == "https" else 80
    shown = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    mine = host.strip().lower()
    if ":" not in mine.rsplit("]", 1)[-1]:
        mine = f"{mine}:{default}"
    return f"{shown}:{port or default}" == mine


def _has_body(request: Request) -> bool:
    if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
        return True
    return (request.content_length or 0) > 0


def too_large(request: Request, limit: int) -> bool:
    """True when the declared `Content-Length` is over `limit` (answer 413 unread)."""
    return (request.content_length or 0) > limit
