"""The Graph API's app subscriptions endpoint: how a callback gets registered.

`POST /v{N}/{app-id}/subscriptions` with `object=whatsapp_business_account`,
`callback_url`, `verify_token` and `fields` (form or JSON, as Meta takes
either) makes Meta perform the verification handshake against the callback
at once; Meta answers `{"success": true}` when it passed and a `(#2200)`
error when it did not. `GET` lists the subscription, `DELETE` removes it.
An app access token (`{app-id}|{app-secret}`) authorises these calls; the
bot's own access token is accepted too, for convenience.

Unlike Meta, a subscription whose handshake failed is kept (unverified), so
that `POST /_fakemeta/subscription/verify` can try again once the receiver
is fixed; nothing is delivered to it until then.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Collection
from typing import Any

from werkzeug.wrappers import Request, Response

from fakemeta.simulator.errors import InvalidTargetError
from fakemeta.simulator.graph.dispatch import Dispatcher
from fakemeta.simulator.meta_errors import meta_error

__all__ = ["DEFAULT_APP_ID", "PATH", "graph_error", "handle"]

#: `/v23.0/<app-id>/subscriptions`
PATH = re.compile(r"^/v(?P<version>\d+(?:\.\d+)?)/(?P<app_id>[^/]+)/subscriptions/?$")
OBJECT = "whatsapp_business_account"
#: The app id `fakemeta serve` answers to unless told another (`--app-id`).
DEFAULT_APP_ID = "1029384756102938"


def graph_error(
    message: str, code: int, *, status: int = 400, type: str = "OAuthException"
) -> Response:
    """Meta's Graph error shape."""
    error = {"message": message, "type": type, "code": code, "fbtrace_id": _trace_id()}
    return Response(json.dumps({"error": error}), status=status, mimetype="application/json")


def handle(
    request: Request,
    dispatcher: Dispatcher,
    *,
    version: str,
    app_id: str,
    expected_app_id: str | None,
    tokens: Collection[str],
) -> Response:
    """Answer one request to the subscriptions edge."""
    params = _params(request)
    if isinstance(params, Response):
        return params
    token = _token(request, params)
    if not token:
        return graph_error("An access token is required to request this resource.", 104)
    if token not in tokens:
        bad = meta_error(190)
        return graph_error(bad.message, bad.code, status=bad.http_status)
    if expected_app_id is not None and app_id != expected_app_id:
        return graph_error(
            f"(#100) Unsupported request - app {app_id} does not exist or the token is not"
            f" its app token (this server's app id is {expected_app_id})",
            100,
        )
    if request.method == "GET":
        return _json({"data": _listing(dispatcher, version)})
    if request.method == "DELETE":
        dispatcher.unsubscribe()
        return _json({"success": True})
    if request.method != "POST":
        return graph_error(f"(#100) Unsupported {request.method} request.", 100, status=405)
    return _subscribe(dispatcher, params)


def _subscribe(dispatcher: Dispatcher, params: dict[str, Any]) -> Response:
    obj = params.get("object")
    if obj != OBJECT:
        return graph_error(
            f"(#100) The parameter object is required and must be {OBJECT!r}, got {obj!r}", 100
        )
    url = params.get("callback_url")
    if not isinstance(url, str) or not url:
        return graph_error("(#100) The parameter callback_url is required", 100)
    token = params.get("verify_token")
    if not isinstance(token, str) or not token:
        return graph_error("(#100) The parameter verify_token is required", 100)
    fields = _fields(params.get("fields", "messages"))
    if fields is None:
        return graph_error(
            "(#100) Param fields must be a comma-separated list or an array of field names", 100
        )
    try:
        subscription = dispatcher.subscribe(url, token, fields=fields)
    except InvalidTargetError as exc:
        return graph_error(f"(#100) Param callback_url is not a valid URI: {exc}", 100)
    if not subscription.verified:
        reason = subscription.reason.removeprefix("verification failed: ")
        return graph_error(
            f"(#2200) Callback verification failed with the following errors: {reason}", 2200
        )
    return _json({"success": True})


def _listing(dispatcher: Dispatcher, version: str) -> list[dict[str, Any]]:
    sub = dispatcher.subscription
    if sub.callback_url is None:
        return []
    return [
        {
            "object": sub.object,
            "callback_url": sub.callback_url,
            "active": sub.verified,
            "fields": [{"name": name, "version": f"v{version}"} for name in sub.fields],
        }
    ]


def _params(request: Request) -> dict[str, Any] | Response:
    """Query string, then form or JSON body, later ones winning (as the Graph API merges them)."""
    params: dict[str, Any] = dict(request.args.items())
    if request.mimetype == "application/json":
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            return graph_error("(#100) The request body is not valid JSON", 100)
        if not isinstance(body, dict):
            return graph_error("(#100) The request body must be a JSON object", 100)
        params.update(body)
    else:
        params.update(request.form.items())
    return params


def _token(request: Request, params: dict[str, Any]) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    token = params.get("access_token")
    return token if isinstance(token, str) and token else None


def _fields(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                return None
        else:
            names = tuple(f.strip() for f in text.split(",") if f.strip())
            return names or None
    if isinstance(value, list) and value and all(isinstance(f, str) and f for f in value):
        return tuple(value)
    return None


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


def _trace_id() -> str:
    return secrets.token_urlsafe(8)[:11]
