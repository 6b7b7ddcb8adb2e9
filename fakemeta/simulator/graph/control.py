"""The control API of `fakemeta serve`: JSON under the reserved `/_fakemeta/` prefix.

moto's idea (a reserved URL prefix is the control plane): everything a test,
a script or the web console does to the fake Meta goes through here, never
through the Graph API the bot sees. Send a message as a customer, read and
replay delivery attempts, inject faults, move the clock, verify the
subscription, read conversations, and follow events by long-poll. HTTP only:
the state lives in the Graph state and the dispatcher.

Bad input is answered 400 with `{"error": "<what is wrong>"}`, an unknown
route 404, a wrong method 405: never a 5xx.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from fakemeta.simulator.envelopes import Account
from fakemeta.simulator.errors import UsageError
from fakemeta.simulator.graph import inbound
from fakemeta.simulator.graph.api import KIND_LIMITS
from fakemeta.simulator.graph.dispatch import WAITING, Dispatcher
from fakemeta.simulator.graph.validation import BSUID

__all__ = ["PREFIX", "ControlApi", "json_response"]

_MEDIA_TYPES = tuple(KIND_LIMITS)

PREFIX = "/_fakemeta"
MAX_POLL = 60.0  # seconds a long-poll may wait

_ROUTES = [
    ("/", "index", ["GET"]),
    ("/inbound", "inbound", ["POST"]),
    ("/deliveries", "deliveries", ["GET"]),
    ("/deliveries/<int:record_id>", "delivery", ["GET"]),
    ("/deliveries/<int:record_id>/replay", "replay", ["POST"]),
    ("/reset", "reset", ["POST"]),
    ("/faults", "faults", ["GET", "POST", "DELETE"]),
    ("/clock", "clock", ["GET", "POST"]),
    ("/subscription", "subscription", ["GET", "POST", "DELETE"]),
    ("/subscription/verify", "verify", ["POST"]),
    ("/conversations", "conversations", ["GET"]),
    ("/conversations/<phone_number_id>/<wa_id>", "conversation", ["GET"]),
    ("/events", "events", ["GET"]),
]


class BadRequest(Exception):
    """Answered 400 with the message as `error`."""


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, default=_jsonable)
    response = Response(body, status=status, mimetype="application/json", headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


class ControlApi:
    """`/_fakemeta/...` requests against one Graph state and its dispatcher.

    `account_for(phone_number_id or None)` gives the business account a
    customer writes to (None: the default number); it raises `KeyError`
    for a number this server does not have.
    """

    def __init__(
        self,
        state: Any,
        dispatcher: Dispatcher,
        *,
        account_for: Callable[[str | None], Account],
        info: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.state = state
        self.dispatcher = dispatcher
        self.account_for = account_for
        self.info = info or dict
        self._map = Map([Rule(PREFIX + p, endpoint=e, methods=m) for p, e, m in _ROUTES])

    def __call__(self, request: Request) -> Response:
        adapter = self._map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
            handler = getattr(self, f"_{endpoint}")
            response: Response = handler(request, **args)
            return response
        except BadRequest as exc:
            return json_response({"error": str(exc)}, 400)
        except UsageError as exc:
            return json_response({"error": " ".join(str(exc).split())}, 400)
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            message = f"{request.method} is not allowed on {request.path}: use {allowed}"
            return json_response({"error": message}, 405, {"Allow": allowed})
        except NotFound:
            return json_response(
                {"error": f"no control route {request.path}: GET {PREFIX}/ lists them"}, 404
            )
        except HTTPException as exc:  # pragma: no cover - werkzeug's other refusals
            return json_response({"error": exc.description}, exc.code or 400)

    def _shapes(self) -> dict[str, Any]:
        """`inbound.build`'s era and user ids: the state's, when it has them."""
        return {
            "era": getattr(self.state, "era", None),
            "user_id_for": getattr(self.state, "user_id", None),
        }

    def _publish(self, type: str, data: dict[str, Any]) -> None:
        self.dispatcher.events.publish(type, data, at=self.dispatcher.clock.now())

    # -- routes ------------------------------------------------------------------

    def _index(self, request: Request) -> Response:
        routes = [f"{' '.join(m)} {PREFIX}{p}" for p, _, m in _ROUTES]
        return json_response({**self.info(), "routes": routes})

    def _inbound(self, request: Request) -> Response:
        spec = _body(request)
        pnid = spec.get("phone_number_id")
        if pnid is not None and not isinstance(pnid, str):
            raise BadRequest("'phone_number_id' must be a string")
        try:
            account = self.account_for(pnid)
        except KeyError:
            raise BadRequest(f"no phone number id {pnid!r} on this server") from None
        spec = self._with_uploaded_media(spec, account.phone_number_id)
        payload = inbound.build(spec, account, **self._shapes())
        sent = list(inbound.messages_in(payload))
        record = getattr(self.state, "record_inbound", None)
        if record is not None:
            # At send time, as the customer's phone shows its own message at once;
            # the delivery log says when (and whether) the bot got it.
            for phone_number_id, message in sent:
                # By number, or by business-scoped id alone (a user who shares
                # no number): either way the server now knows the user.
                if "from" in message or "from_user_id" in message:
                    try:
                        record(phone_number_id, message.get("from"), message)
                    except KeyError as exc:
                        raise BadRequest(f"cannot record the message: {exc}") from None
        kind = inbound.kind_of(payload)
        job = self.dispatcher.queue.schedule(
            kind,  # type: ignore[arg-type]
            payload,
            label=_label(kind, [m for _, m in sent]),
            meta={"source": "control"},
        )
        self.dispatcher.wake()
        for phone_number_id, message in sent:
            self._publish(
                "message",
                {
                    "direction": "in",
                    "phone_number_id": phone_number_id,
                    "wa_id": message.get("from"),
                    **({"user_id": message["from_user_id"]} if "from_user_id" in message else {}),
                    "id": message.get("id"),
                    "type": message.get("type"),
                    "job": job.id,
                },
            )
        waiting = not self.dispatcher.subscription.verified
        return json_response(
            {
                "job": job.id,
                "kind": kind,
                "state": "waiting" if waiting else "scheduled",
                "reason": WAITING if waiting else "",
                "messages": [
                    {"id": m.get("id"), "from": m.get("from"), "type": m.get("type")}
                    for _, m in sent
                ],
                "payload": payload,
            },
            202,
        )

    def _with_uploaded_media(self, spec: dict[str, Any], phone_number_id: str) -> dict[str, Any]:
        """A media message with `data` (base64): the bytes go to the media store,
        so the bot can fetch them (`GET /{media-id}`, then the URL) as from Meta,
        and the webhook carries that media id and the file's real digest."""
        if "data" not in spec:
            return spec
        kind = spec.get("type")
        if kind not in _MEDIA_TYPES:
            raise BadRequest(f"'data' goes with a media message ({', '.join(_MEDIA_TYPES)})")
        if not isinstance(spec["data"], str) or not isinstance(spec.get("mime_type"), str):
            raise BadRequest("'data' must be base64 text and 'mime_type' must be given with it")
        try:
            data = base64.b64decode(spec["data"], validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("'data' is not valid base64") from None
        limit = KIND_LIMITS[kind]  # Meta's limit for the type, as for an upload
        if len(data) > limit:
            raise BadRequest(f"'data' is {len(data)} bytes; Meta takes at most {limit} for {kind}")
        filename = spec.get("filename") if isinstance(spec.get("filename"), str) else None
        try:
            media = self.state.add_media(phone_number_id, data, spec["mime_type"], filename)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        rest = {k: v for k, v in spec.items() if k != "data"}
        if kind != "document":
            rest.pop("filename", None)
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        return {**rest, "media_id": media.id, "sha256": digest}

    def _deliveries(self, request: Request) -> Response:
        after = _int_arg(request, "after", 0) or 0
        job = _int_arg(request, "job", None)
        records = self.dispatcher.log.records(after=after, job=job)
        return json_response(
            {
                "deliveries": [r.to_json() for r in records],
                "pending": self.dispatcher.pending(),
                "subscription": self.dispatcher.subscription.to_json(),
            }
        )

    def _delivery(self, request: Request, record_id: int) -> Response:
        record = self.dispatcher.log.get(record_id)
        if record is None:
            return json_response({"error": f"no delivery attempt {record_id} in the log"}, 404)
        return json_response(record.to_json())

    def _replay(self, request: Request, record_id: int) -> Response:
        job = self.dispatcher.replay(record_id)
        if job is None:
            return json_response({"error": f"no delivery attempt {record_id} in the log"}, 404)
        return json_response({"job": job.id, "replay_of": record_id, "label": job.label}, 202)

    def _reset(self, request: Request) -> Response:
        reset = getattr(self.state, "reset", None)
        if reset is not None:
            reset()
        self.dispatcher.reset()
        return json_response(
            {"reset": True, "subscription": self.dispatcher.subscription.to_json()}
        )

    def _faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.dispatcher.clear_faults()
        elif request.method == "POST":
            spec = _body(request)
            unknown = sorted(set(spec) - set(self.dispatcher.faults.NAMES))
            if unknown or not spec:
                what = f"unknown fault {unknown[0]!r}" if unknown else "no fault given"
                raise BadRequest(
                    f"{what}: give any of drop (count), delay (seconds), duplicate (count),"
                    " reorder (count)"
                )
            counts = {k: _count(spec, k) for k in ("drop", "duplicate", "reorder") if k in spec}
            delay = _seconds(spec, "delay") if "delay" in spec else None
            self.dispatcher.faults.set(delay=delay, **counts)
        if request.method != "GET":
            self._publish("faults", self.dispatcher.faults.to_json())
        return json_response({"faults": self.dispatcher.faults.to_json()})

    def _clock(self, request: Request) -> Response:
        clock = self.dispatcher.clock
        if request.method == "POST":
            spec = _body(request)
            if set(spec) != {"advance"}:
                raise BadRequest('give {"advance": <seconds>} to move the clock forward')
            clock.advance(_seconds(spec, "advance"))
            self.dispatcher.wake()
            self._publish("clock", {"now": clock.now(), "offset": clock.offset})
        return json_response({"now": clock.now(), "offset": clock.offset})

    def _subscription(self, request: Request) -> Response:
        if request.method == "POST":
            spec = _body(request)
            url = spec.get("callback_url")
            if not isinstance(url, str) or not url:
                raise BadRequest("'callback_url' is required: the receiver's webhook URL")
            token = spec.get("verify_token")
            if token is not None and not isinstance(token, str):
                raise BadRequest("'verify_token' must be a string")
            fields = spec.get("fields", ["messages"])
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                raise BadRequest("'fields' must be a list of field names, e.g. [\"messages\"]")
            self.dispatcher.subscribe(url, token, fields=tuple(fields))
        elif request.method == "DELETE":
            self.dispatcher.unsubscribe()
        return json_response(self.dispatcher.subscription.to_json())

    def _verify(self, request: Request) -> Response:
        if self.dispatcher.subscription.callback_url is None:
            raise BadRequest(self.dispatcher.subscription.reason)
        return json_response(self.dispatcher.verify().to_json())

    def _conversations(self, request: Request) -> Response:
        return json_response({"conversations": self.state.conversations()})

    def _conversation(self, request: Request, phone_number_id: str, wa_id: str) -> Response:
        """One user's transcript: `wa_id` is their number or a business-scoped
        id (for a user known by number, the number's conversation)."""
        if self.state.phone_number(phone_number_id) is None:
            return json_response({"error": f"no phone number id {phone_number_id!r}"}, 404)
        who: dict[str, Any] = {"wa_id": wa_id}
        addressee = getattr(self.state, "addressee", None)
        if BSUID.fullmatch(wa_id) and addressee is not None:
            user = addressee(wa_id)
            who = {
                "wa_id": user.wa_id if user else None,
                "user_id": user.user_id if user else wa_id,
            }
        return json_response(
            {
                "phone_number_id": phone_number_id,
                **who,
                "window_open": self.state.window_open(phone_number_id, wa_id),
                "window_expires_at": self.state.window_expires_at(phone_number_id, wa_id),
                "messages": self.state.conversation(phone_number_id, wa_id),
            }
        )

    def _events(self, request: Request) -> Response:
        after = _int_arg(request, "after", 0)
        timeout = request.args.get("timeout", "20")
        try:
            wait = float(timeout)
        except ValueError:
            raise BadRequest(f"'timeout' must be seconds, got {timeout!r}") from None
        if not 0 <= wait <= MAX_POLL:
            raise BadRequest(f"'timeout' must be between 0 and {MAX_POLL:g} seconds")
        events = self.dispatcher.events.after(after or 0, timeout=wait)
        return json_response({"events": events, "last": self.dispatcher.events.last})


def _body(request: Request) -> dict[str, Any]:
    """The JSON object in a request body ({} when empty)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"the request body must be a JSON object, got {type(value).__name__}")
    return value


def _int_arg(request: Request, name: str, default: int | None) -> int | None:
    text = request.args.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"{name!r} must be an integer, got {text!r}") from None


def _count(spec: dict[str, Any], name: str) -> int:
    value = spec[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest(f"{name!r} must be a count (an integer >= 0), got {value!r}")
    return value


def _seconds(spec: dict[str, Any], name: str) -> float:
    value = spec[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"{name!r} must be a number of seconds, got {value!r}")
    if value < 0:
        raise BadRequest(f"{name!r} must be >= 0 (the clock only moves forward), got {value!r}")
    return float(value)


def _label(kind: str, sent: list[dict[str, Any]]) -> str:
    if not sent:
        return f"{kind} (control API)"
    types = ", ".join(str(m.get("type")) for m in sent)
    return f"inbound {types} from {sent[0].get('from') or sent[0].get('from_user_id')}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, set | tuple | frozenset):
        return list(value)
    if hasattr(value, "to_json"):
        return value.to_json()
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    return str(value)
