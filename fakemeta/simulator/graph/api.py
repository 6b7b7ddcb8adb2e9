"""The fake Graph API's HTTP side: one request in, Meta's answer out.

`handle(state, method, path, query, headers, body)` knows no web framework:
the werkzeug server, the respx mock and the tests all call it with plain
values and get a `GraphResponse(status, headers, body)` back. HTTP without
state (STYLE rule 7): everything remembered lives in `GraphState`.

Routes (any `v<major>.<minor>` version segment, or none):

- `POST /{phone-number-id}/messages`: send (validation in `validation`,
  acceptance and status webhooks in `lifecycle`) or mark as read; from the
  2026 era a send may go to a business-scoped user id (`recipient`).
- `POST /{phone-number-id}/media`: multipart upload -> `{"id"}`.
- `GET /{media-id}` -> `url, mime_type, sha256, file_size, id,
  messaging_product` (the order and the integer `file_size` of live
  responses; the url lasts `media_url_ttl`, 5 minutes as at Meta);
  `DELETE /{media-id}` -> `{"success": true}`; `GET /{phone-number-id}`.
- `GET /whatsapp_business/attachments/?mid=&ext=&hash=`: the download URL,
  shaped like Meta's lookaside CDN and served here. Without a valid bearer
  token: 401; an unknown, deleted or expired URL: 404; both with an empty
  body, like a CDN rather than the Graph API.

Tokens: `Authorization: Bearer <token>` or `?access_token=`. None at all is
Graph's code 104 (HTTP 400); an unknown one is 190 "Invalid OAuth access
token - Cannot parse access token" (HTTP 401). An unknown object is code 100,
subcode 33, type GraphMethodException, "Unsupported <method> request. Object
with ID '...' does not exist, ...". Bodies are encoded as Meta encodes JSON
(`fakemeta.simulator.encoding`: `\\/`, `\\uXXXX`). Bad input never gets a 5xx.
"""

from __future__ import annotations

import json
import logging
import random
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

from fakemeta.simulator import encoding
from fakemeta.simulator.graph import _multipart, lifecycle, validation
from fakemeta.simulator.graph.state import GraphState, PhoneNumber
from fakemeta.simulator.graph.validation import GraphError

__all__ = ["DOWNLOAD_PATH", "KIND_LIMITS", "UPLOAD_LIMITS", "GraphResponse", "handle", "refuse"]

log = logging.getLogger(__name__)

DOWNLOAD_PATH = "/whatsapp_business/attachments/"
DEFAULT_MEDIA_BASE = "https://lookaside.fbsbx.com"
_VERSION = re.compile(r"v\d+\.\d+")
_MB = 1024 * 1024

#: Media types Meta accepts and their size limits (its "Supported media
#: types" table, https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types;
#: also in AWS's copy, https://docs.aws.amazon.com/social-messaging/latest/userguide/supported-media-types.html);
#: a sticker is limited to the animated size.
UPLOAD_LIMITS: Final = {
    **dict.fromkeys(("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"), 16 * _MB),
    **dict.fromkeys(
        (
            "text/plain",
            "application/pdf",
            "application/vnd.ms-powerpoint",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        100 * _MB,
    ),
    "image/jpeg": 5 * _MB,
    "image/png": 5 * _MB,
    "image/webp": 500 * 1024,
    "video/3gpp": 16 * _MB,
    "video/mp4": 16 * _MB,
}

#: The largest file of each media message type, from the same table (a
#: sticker: the animated one's 500 KB; a static one is 100 KB).
KIND_LIMITS: Final = {
    "image": 5 * _MB,
    "video": 16 * _MB,
    "audio": 16 * _MB,
    "document": 100 * _MB,
    "sticker": 500 * 1024,
}

_UNSUPPORTED = (
    "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due "
    "to missing permissions, or does not support this operation. Please read the Graph API "
    "documentation at https://developers.facebook.com/docs/graph-api"
)
_TRACE_ALPHABET = string.ascii_letters + string.digits + "-_"
_random = random.SystemRandom()


@dataclass(frozen=True)
class GraphResponse:
    """What to answer: status, headers and the exact body bytes."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    version: str | None
    segments: list[str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    base_url: str


def handle(
    state: GraphState,
    method: str,
    path: str,
    query: str | Mapping[str, str] = "",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    *,
    base_url: str | None = None,
) -> GraphResponse:
    """Answer one Graph API request as Meta would.

    `path` without the host (`/v23.0/123/messages`), `query` the raw query
    string or a mapping, `headers` any mapping (names matched without case),
    `base_url` where this fake is reachable, for media download URLs
    (default: `settings.media_base_url`, then `http://<Host>`, then Meta's
    own `https://lookaside.fbsbx.com` for in-process use).
    """
    request = _request(state, method, path, query, headers or {}, body, base_url)
    try:
        return _route(state, request)
    except GraphError as error:
        return _error(error, request.version)
    except Exception:  # never a traceback for the client; tests catch 5xx
        log.exception("fake Graph API failed on %s %s", method, path)
        return _error(GraphError(131000, details="An unknown error occurred."), request.version)


def _request(
    state: GraphState,
    method: str,
    path: str,
    query: str | Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    base_url: str | None,
) -> _Request:
    if isinstance(query, str):
        query = dict(parse_qsl(query.lstrip("?"), keep_blank_values=True))
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    version = segments.pop(0) if segments and _VERSION.fullmatch(segments[0]) else None
    base = base_url or state.settings.media_base_url
    if base is None:
        host = lowered.get("host")
        scheme = lowered.get("x-forwarded-proto", "http")
        base = f"{scheme}://{host}" if host else DEFAULT_MEDIA_BASE
    return _Request(
        method.upper(), path, version, segments, dict(query), lowered, body, base.rstrip("/")
    )


def _respond(payload: Any, version: str | None, status: int = 200) -> GraphResponse:
    return GraphResponse(status, _headers(version), encoding.encode(payload))


def _headers(version: str | None) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=UTF-8",
        "facebook-api-version": version or "v23.0",
        "x-fb-trace-id": _trace_id()[:11],
        "Cache-Control": "no-store",
    }


def _trace_id() -> str:
    return "A" + "".join(_random.choice(_TRACE_ALPHABET) for _ in range(22))


def refuse(path: str, error: GraphError) -> GraphResponse:
    """Meta's error answer for a request refused before `handle` (the server's
    body size limit), with the version its path names."""
    segments = [s for s in path.split("/") if s]
    version = segments[0] if segments and _VERSION.fullmatch(segments[0]) else None
    return _error(error, version)


def _error(error: GraphError, version: str | None) -> GraphResponse:
    headers = _headers(version)
    reason = "invalid_token" if error.code == 190 else "invalid_request"
    # The message may quote the path's object id: a header holds printable
    # ASCII only (`\uXXXX` for the rest), or a CR LF or an Arabic digit
    # in the path would break the response instead of answering it.
    message = json.dumps(error.message.replace('"', "'"))[1:-1]
    headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "{reason}" "{message}"'
    body = encoding.encode({"error": error.error(_trace_id())})
    return GraphResponse(error.http_status, headers, body)


def _token(request: _Request) -> str | None:
    authorization = request.headers.get("authorization", "").strip()
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and credentials.strip():
        return credentials.strip()
    return request.query.get("access_token") or None


def _authorize(state: GraphState, request: _Request) -> None:
    token = _token(request)
    if token is None:
        raise GraphError(104)
    if not state.valid_token(token):
        raise GraphError(190)


def _unsupported(request: _Request, object_id: str) -> GraphError:
    message = _UNSUPPORTED.format(method=request.method.lower(), id=object_id)
    return GraphError(100, message=message, type="GraphMethodException", subcode=33)


def _route(state: GraphState, request: _Request) -> GraphResponse:
    if request.version is None and "/".join(request.segments) + "/" == DOWNLOAD_PATH[1:]:
        return _download(state, request)
    _authorize(state, request)
    segments, method = request.segments, request.method
    if not segments:
        raise _unsupported(request, "")
    object_id = segments[0]
    phone = state.phone_number(object_id)
    if len(segments) == 2 and phone is not None and method == "POST":
        if segments[1] == "messages":
            return _messages(state, request, phone)
        if segments[1] == "media":
            return _upload(state, request, phone)
    if len(segments) == 1 and method in ("GET", "DELETE"):
        if phone is not None and method == "GET":
            return _phone_number(phone, request.version)
        media = state.media(object_id)
        owner = request.query.get("phone_number_id")
        if media is not None and owner in (None, media.phone_number_id):
            if method == "DELETE":
                state.delete_media(object_id)
                return _respond({"success": True}, request.version)
            return _media_url(state, request, object_id)
    raise _unsupported(request, object_id)


def _parse_body(request: _Request) -> dict[str, Any]:
    content_type = _multipart.media_type(request.headers.get("content-type"))
    try:
        if content_type == "application/x-www-form-urlencoded":
            parsed: Any = _multipart.form_fields(request.body)
        elif content_type == "multipart/form-data":
            parts = _multipart.multipart(request.headers["content-type"], request.body)
            parsed = {part.name: part.text for part in parts if part.filename is None}
        else:
            parsed = _multipart.json_body(request.body)
    except (ValueError, RecursionError) as exc:
        raise GraphError(100, details=f"The request body could not be parsed: {exc}") from None
    if not isinstance(parsed, dict):
        raise GraphError(100, details="The request body must be a JSON object.")
    return parsed


def _messages(state: GraphState, request: _Request, phone: PhoneNumber) -> GraphResponse:
    body = _parse_body(request)
    if "status" in body and "type" not in body:
        message_id = validation.mark_read(body)
        state.mark_read(message_id)
        return _respond({"success": True}, request.version)
    send = validation.outgoing(body, state.era)
    if send.type in validation.MEDIA_TYPES and send.content.get("id") is not None:
        media_id = str(send.content["id"])
        if state.media(media_id) is None:
            raise validation.invalid(
                f"{send.type}['id']", "is not a valid whatsapp business account media attachment ID"
            )
    message = lifecycle.accept(state, phone, send, body)
    sent: dict[str, Any] = {"id": message.id}
    if send.type == "template":
        sent["message_status"] = "accepted"
    # Sent to a business-scoped id: `input` and `user_id` are that id and
    # there is no `wa_id`, even for a user whose number the server knows
    # (Meta's business-scoped user id guide, May 7, 2026, "Send message
    # response": `wa_id` "Will return the user's phone number, if the
    # message was sent to the user's phone number. Otherwise, it will be
    # omitted"; its contact book feeds webhooks only, "not API responses").
    contact = (
        {"input": send.input, "wa_id": send.wa_id}
        if send.recipient is None
        else {"input": send.recipient, "user_id": send.recipient}
    )
    answer = {"messaging_product": "whatsapp", "contacts": [contact], "messages": [sent]}
    return _respond(answer, request.version)


def _upload(state: GraphState, request: _Request, phone: PhoneNumber) -> GraphResponse:
    content_type = request.headers.get("content-type", "")
    fields: dict[str, str] = {}
    file: _multipart.Part | None = None
    if _multipart.media_type(content_type) == "multipart/form-data":
        try:
            parts = _multipart.multipart(content_type, request.body)
        except ValueError as exc:
            raise GraphError(100, details=f"The request body could not be parsed: {exc}") from None
        for part in parts:
            if part.name == "file" and part.filename is not None:
                file = part
            else:
                fields[part.name] = part.text
    else:
        fields = {k: str(v) for k, v in _parse_body(request).items()}
    if not fields.get("messaging_product"):
        raise validation.required("messaging_product")
    if fields["messaging_product"] != "whatsapp":
        got = fields["messaging_product"]
        raise validation.invalid("messaging_product", f'must be one of {{WHATSAPP}} - got "{got}".')
    if file is None:
        raise validation.required("file")
    mime = _multipart.media_type(fields.get("type") or file.content_type)
    if not mime:
        raise validation.required("type")
    if mime not in UPLOAD_LIMITS:
        names = ", ".join(UPLOAD_LIMITS)
        raise validation.invalid("file", f"must be a file with one of the following types: {names}")
    if len(file.data) > UPLOAD_LIMITS[mime]:
        raise GraphError(
            131053,
            details=f"File of {len(file.data)} bytes is larger than the {UPLOAD_LIMITS[mime]} "
            f"bytes allowed for {mime}.",
        )
    try:
        media = state.add_media(phone.phone_number_id, file.data, mime, file.filename)
    except ValueError as exc:  # larger than the whole media store (--max-media-bytes)
        raise GraphError(131053, details=f"{exc}.") from None
    return _respond({"id": media.id}, request.version)


def _media_url(state: GraphState, request: _Request, media_id: str) -> GraphResponse:
    media = state.media(media_id)
    if media is None:
        raise _unsupported(request, media_id)
    expires = int(state.clock.now() + state.settings.media_url_ttl)
    url = (
        f"{request.base_url}{DOWNLOAD_PATH}?mid={media.id}&ext={expires}"
        f"&hash={state.media_url_hash(media.id, expires)}"
    )
    answer = {
        "url": url,
        "mime_type": media.mime_type,
        "sha256": media.sha256,
        "file_size": media.file_size,
        "id": media.id,
        "messaging_product": "whatsapp",
    }
    return _respond(answer, request.version)


def _download(state: GraphState, request: _Request) -> GraphResponse:
    plain = {"Content-Type": "text/plain"}
    if request.method != "GET":
        return GraphResponse(405, {**plain, "Allow": "GET"})
    if not state.valid_token(_token(request)):
        return GraphResponse(401, plain)
    media_id, ext = request.query.get("mid", ""), request.query.get("ext", "")
    media = state.media(media_id)
    if media is None or not ext.isdigit() or int(ext) < state.clock.now():
        return GraphResponse(404, plain)
    if request.query.get("hash") != state.media_url_hash(media_id, int(ext)):
        return GraphResponse(404, plain)
    headers = {"Content-Type": media.mime_type, "Content-Length": str(media.file_size)}
    if media.filename:
        safe = re.sub(r'[\x00-\x1f\x7f"\\]', "_", media.filename)
        headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return GraphResponse(200, headers, media.data)


def _phone_number(phone: PhoneNumber, version: str | None) -> GraphResponse:
    answer = {
        "verified_name": phone.verified_name,
        "code_verification_status": "VERIFIED",
        "display_phone_number": phone.display_phone_number,
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": {"level": "STANDARD"},
        "id": phone.phone_number_id,
    }
    return _respond(answer, version)
