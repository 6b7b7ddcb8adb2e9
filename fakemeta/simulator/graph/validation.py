"""Checking a send request the way the Cloud API does, and its errors.

`api.handle` parses the body and calls `outgoing(body)`; a bad request raises
`GraphError`, which `api` renders as Meta's error object. No state, no HTTP.

Wording, from live responses captured in public repositories unless noted:

- missing: `(#100) The parameter text['body'] is required.`
- bad value or type: `(#100) Param <path> <problem>`; an unknown `type` is
  `(#100) Param type must be one of {AUDIO, ..., VIDEO} - got "x".`;
  an unknown media id `(#100) Param image['id'] is not a valid whatsapp
  business account media attachment ID` (checked in `api`, which has state).
- interactive limits: `(#131009) Parameter value is not valid` with details
  `Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: 3` and
  `Button title length invalid. Min length: 1, Max length: 20`; the other
  limits (rows, sections, list button, header, footer) follow that pattern in
  our own words.
- a malformed `to` (letters, a `00` prefix, too short or long): `(#100)
  Invalid parameter` (seen live for `0033...`); details name `to`.
- `recipient` (2026 era): a business-scoped user id (BSUID,
  `US.13491208655302741918`) or parent BSUID (`US.ENT.11815799212886844830`)
  instead of, or beside, `to`; "If you do, `to` (phone number) will take
  precedence" (Meta's "Business-scoped user IDs" guide, Updated May 7, 2026,
  "Send message requests"; sending to BSUIDs is available "starting in July
  2026" per its Jun 29, 2026 changelog). The format: the user's ISO 3166
  alpha-2 country code and a period, "followed by up to 128 alphanumeric
  characters", `ENT.` between them for a parent BSUID (same guide). A
  malformed one is `(#100) Invalid parameter` with details naming
  `recipient`, like a malformed `to` (Meta documents no wording of its own);
  without `to` or `recipient` the error stays Meta's missing-`to` one. The
  2025 era (v23.0) has no `recipient`: refused, code 100, details pointing
  to `--era 2026`.

Every error names the offending parameter in `error_data.details`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from fakemeta.simulator import eras
from fakemeta.simulator.eras import Era
from fakemeta.simulator.meta_errors import META_ERRORS, MetaError, meta_error

__all__ = [
    "BSUID",
    "MESSAGE_TYPES",
    "GraphError",
    "Outgoing",
    "invalid",
    "is_parent_bsuid",
    "outgoing",
    "required",
]

#: The `type` values the send endpoint takes (live error text lists these).
MESSAGE_TYPES: Final = (
    "audio", "contacts", "document", "image", "interactive", "link_preview", "location",
    "reaction", "sticker", "template", "text", "video",
)  # fmt: skip
MEDIA_TYPES: Final = ("audio", "document", "image", "sticker", "video")
INTERACTIVE_TYPES: Final = (
    "button", "catalog_message", "cta_url", "flow", "list", "location_request_message",
    "product", "product_list",
)  # fmt: skip

_FORMATTING = re.compile(r"[\s\-().]")

#: A business-scoped user id or parent BSUID: "prefixed with the user's ISO
#: 3166 alpha-2 two-letter country code and a period, followed by up to 128
#: alphanumeric characters", parent ones with `ENT` "between the country
#: code and the alphanumeric identifier" (Meta's business-scoped user id
#: guide, Updated May 7, 2026).
BSUID: Final = re.compile(r"(?P<country>[A-Z]{2})\.(?P<parent>ENT\.)?[A-Za-z0-9]{1,128}")


class GraphError(Exception):
    """A request the Graph API refuses: rendered by `api` as Meta's error body.

    Built from the `META_ERRORS` entry for `code`; `message`, `type`,
    `http_status` and `subcode` override it. A code outside the table needs
    `message` (its type is then OAuthException and its status 400, as for
    the Messages API's other codes). `details=None` leaves `error_data` out
    (Graph-level errors such as 190 carry none).
    """

    def __init__(
        self,
        code: int,
        *,
        details: str | None = None,
        message: str | None = None,
        type: str | None = None,  # Meta's key
        http_status: int | None = None,
        subcode: int | None = None,
    ) -> None:
        if code not in META_ERRORS and message is not None:
            known = MetaError(code, message, details or message)
        else:
            known = meta_error(code)
        self.code = code
        self.message = message if message is not None else known.message
        self.type = type if type is not None else known.graph_type
        self.http_status = http_status if http_status is not None else known.http_status
        self.subcode = subcode if subcode is not None else known.error_subcode
        self.details = details
        super().__init__(self.message)

    def error(self, fbtrace_id: str) -> dict[str, Any]:
        """The `error` object in Meta's key order."""
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = fbtrace_id
        return error


def required(path: str) -> GraphError:
    sentence = f"The parameter {path} is required."
    return GraphError(100, message=f"(#100) {sentence}", details=sentence)


def invalid(path: str, problem: str) -> GraphError:
    sentence = f"Param {path} {problem}"
    return GraphError(100, message=f"(#100) {sentence}", details=sentence)


def not_valid(details: str) -> GraphError:
    return GraphError(131009, details=details)


@dataclass(frozen=True)
class Outgoing:
    """A send request that passed validation: to a phone number (`to`, its
    digits `wa_id`) or, without `to`, to a business-scoped user id or parent
    BSUID (`recipient`; then `to` and `wa_id` are None)."""

    to: str | None
    wa_id: str | None
    type: str
    content: Any
    context: str | None = None
    biz_opaque_callback_data: str | None = None
    recipient: str | None = None

    @property
    def template_name(self) -> str | None:
        return str(self.content["name"]) if self.type == "template" else None

    @property
    def input(self) -> str:
        """What the response's `contacts[].input` echoes: the `to` as given,
        else the `recipient`."""
        found = self.to if self.to is not None else self.recipient
        assert found is not None
        return found


def _key(path: str, key: str | int) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}['{key}']"


def _obj(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        raise required(path)
    if not isinstance(value, dict):
        raise invalid(path, "must be a JSON object.")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        raise required(path)
    if not isinstance(value, list):
        raise invalid(path, "must be an array.")
    return value


def _str(
    parent: dict[str, Any], key: str, path: str, *, max_len: int | None = None, need: bool = True
) -> str | None:
    value = parent.get(key)
    where = _key(path, key) if path else key
    if value is None or (need and value == ""):
        if need:
            raise required(where)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid(where, "must be a string.")
    text = value if isinstance(value, str) else str(value)
    if max_len is not None and len(text) > max_len:
        raise invalid(where, f"must be at most {max_len} characters long.")
    return text


def _length(value: str | None, label: str, low: int, high: int) -> None:
    if value is None or not low <= len(value) <= high:
        raise not_valid(f"{label} length invalid. Min length: {low}, Max length: {high}")


def wa_id_of(to: str) -> str | None:
    """The digits Meta keeps of `to` (+, spaces, dashes, dots, brackets
    dropped), or None when it is not a phone number."""
    digits = _FORMATTING.sub("", to.strip())
    digits = digits.removeprefix("+")
    if not digits.isascii() or not digits.isdigit() or digits.startswith("0"):
        return None
    return digits if 7 <= len(digits) <= 15 else None


def is_parent_bsuid(user_id: str) -> bool:
    """Whether a well-formed business-scoped id is a parent BSUID (`US.ENT.…`)."""
    found = BSUID.fullmatch(user_id)
    return found is not None and found["parent"] is not None


def outgoing(body: dict[str, Any], era: Era | str | None = None) -> Outgoing:
    """Validate a send request (not a mark-as-read) and return what to send.

    `era` (default: the current one) decides whether `recipient` (a
    business-scoped user id) may stand in for `to`: from 2026 on.
    """
    _product(body)
    recipient_type = body.get("recipient_type", "individual")
    if recipient_type != "individual":
        raise invalid("recipient_type", f'must be one of {{INDIVIDUAL}} - got "{recipient_type}".')
    to, wa_id, recipient = _addressee(body, eras.era(era))
    kind = body.get("type", "text")
    if not isinstance(kind, str) or kind.lower() not in MESSAGE_TYPES:
        names = ", ".join(t.upper() for t in MESSAGE_TYPES)
        raise invalid("type", f'must be one of {{{names}}} - got "{kind}".')
    kind = kind.lower()
    value = body.get(kind)
    content: Any
    if kind == "contacts":
        content = _contacts(_list(value, kind), kind)
    else:
        content = _CHECKS.get(kind, _any)(_obj(value, kind), kind)
    context = None
    if body.get("context") is not None:
        context = _str(_obj(body["context"], "context"), "message_id", "context")
    callback = _str(body, "biz_opaque_callback_data", "", max_len=512, need=False)
    return Outgoing(to, wa_id, kind, content, context, callback, recipient)


def _addressee(body: dict[str, Any], era: Era) -> tuple[str | None, str | None, str | None]:
    """(`to`, its digits, None) for a send to a number, (None, None,
    `recipient`) for one to a business-scoped id: `to` wins when both are
    given, and only the one used is checked."""
    if body.get("recipient") is not None and not era.business_scoped_ids:
        raise GraphError(
            100,
            details=(
                f"Invalid parameter 'recipient': sending to a business-scoped user id needs the "
                f"2026 era (`fakemeta serve --era 2026`); in the {era.name} era (Graph API "
                f"{era.graph_version}) a message goes to the phone number in 'to'."
            ),
        )
    if body.get("to") in (None, "") and body.get("recipient") not in (None, ""):
        recipient = _str(body, "recipient", "")
        assert recipient is not None
        if BSUID.fullmatch(recipient) is None:
            raise GraphError(
                100,
                details=(
                    f"Invalid parameter 'recipient': {recipient!r} is not a business-scoped user "
                    f"id: a two-letter country code, '.', 'ENT.' for a parent id, then up to 128 "
                    f"letters and digits (US.13491208655302741918)."
                ),
            )
        return None, None, recipient
    to = _str(body, "to", "")
    assert to is not None
    wa_id = wa_id_of(to)
    if wa_id is None:
        raise GraphError(100, details=f"Invalid parameter 'to': {to!r} is not a phone number.")
    return to, wa_id, None


def _product(body: dict[str, Any]) -> None:
    product = body.get("messaging_product")
    if product is None or product == "":
        raise required("messaging_product")
    if product != "whatsapp":
        raise invalid("messaging_product", f'must be one of {{WHATSAPP}} - got "{product}".')


def mark_read(body: dict[str, Any]) -> str:
    """Validate a mark-as-read request; the message id it marks."""
    _product(body)
    if body.get("status") != "read":
        raise invalid("status", f'must be one of {{READ}} - got "{body.get("status")}".')
    message_id = _str(body, "message_id", "")
    assert message_id is not None
    if body.get("typing_indicator") is not None:
        indicator = _obj(body["typing_indicator"], "typing_indicator")
        if indicator.get("type") != "text":
            raise invalid("typing_indicator['type']", "must be one of {TEXT}.")
    return message_id


def _any(obj: dict[str, Any], path: str) -> dict[str, Any]:
    return obj


def _text(obj: dict[str, Any], path: str) -> dict[str, Any]:
    _str(obj, "body", path, max_len=4096)
    if "preview_url" in obj and not isinstance(obj["preview_url"], bool):
        raise invalid(_key(path, "preview_url"), "must be a boolean.")
    return obj


def _media(obj: dict[str, Any], path: str) -> dict[str, Any]:
    media_id = _str(obj, "id", path, need=False)
    link = _str(obj, "link", path, need=False)
    if media_id is None and link is None:
        raise required(f"{_key(path, 'id')} or {_key(path, 'link')}")
    if link is not None and not link.startswith(("http://", "https://")):
        raise invalid(_key(path, "link"), "must be a valid http or https URL.")
    if path in ("image", "video", "document"):
        _str(obj, "caption", path, max_len=1024, need=False)
    if path == "document":
        _str(obj, "filename", path, max_len=240, need=False)
    return obj


def _template(obj: dict[str, Any], path: str) -> dict[str, Any]:
    _str(obj, "name", path, max_len=512)
    language = _obj(obj.get("language"), _key(path, "language"))
    _str(language, "code", _key(path, "language"))
    if obj.get("components") is not None:
        components = _list(obj["components"], _key(path, "components"))
        for i, component in enumerate(components):
            where = _key(_key(path, "components"), i)
            _str(_obj(component, where), "type", where)
            if component.get("parameters") is not None:
                for j, parameter in enumerate(_list(component["parameters"], where)):
                    at = _key(_key(where, "parameters"), j)
                    _str(_obj(parameter, at), "type", at)
    return obj


def _reaction(obj: dict[str, Any], path: str) -> dict[str, Any]:
    _str(obj, "message_id", path)
    if "emoji" not in obj:
        raise required(_key(path, "emoji"))
    _str(obj, "emoji", path, need=False)  # "" removes the reaction
    return obj


def _location(obj: dict[str, Any], path: str) -> dict[str, Any]:
    for key, bound in (("latitude", 90.0), ("longitude", 180.0)):
        value = obj.get(key)
        where = _key(path, key)
        if value is None or value == "":
            raise required(where)
        try:
            number = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or not -bound <= number <= bound:
            raise invalid(where, f"must be a number between -{bound:g} and {bound:g}.")
    _str(obj, "name", path, need=False)
    _str(obj, "address", path, need=False)
    return obj


def _contacts(value: list[Any], path: str) -> list[Any]:
    if not value:
        raise required(_key(path, 0))
    for i, contact in enumerate(value):
        where = _key(path, i)
        name = _obj(_obj(contact, where).get("name"), _key(where, "name"))
        _str(name, "formatted_name", _key(where, "name"))
    return value


def _interactive(obj: dict[str, Any], path: str) -> dict[str, Any]:
    kind = _str(obj, "type", path)
    if kind not in INTERACTIVE_TYPES:
        names = ", ".join(INTERACTIVE_TYPES)
        raise invalid(_key(path, "type"), f'must be one of {{{names}}} - got "{kind}".')
    if obj.get("header") is not None:
        header = _obj(obj["header"], _key(path, "header"))
        if _str(header, "type", _key(path, "header")) == "text":
            _length(_str(header, "text", _key(path, "header")), "Header text", 1, 60)
    if obj.get("footer") is not None:
        footer = _obj(obj["footer"], _key(path, "footer"))
        _length(_str(footer, "text", _key(path, "footer")), "Footer text", 1, 60)
    action = _obj(obj.get("action"), _key(path, "action"))
    if kind in ("button", "list", "cta_url"):
        body = _obj(obj.get("body"), _key(path, "body"))
        _str(body, "text", _key(path, "body"), max_len=1024)
    if kind == "button":
        _buttons(action, _key(path, "action"))
    elif kind == "list":
        _sections(action, _key(path, "action"))
    elif kind == "cta_url":
        if action.get("name") != "cta_url":
            raise invalid(_key(_key(path, "action"), "name"), 'must be "cta_url".')
        where = _key(_key(path, "action"), "parameters")
        parameters = _obj(action.get("parameters"), where)
        _length(_str(parameters, "display_text", where), "Display text", 1, 20)
        url = _str(parameters, "url", where)
        if url is None or not url.startswith(("http://", "https://")):
            raise invalid(_key(where, "url"), "must be a valid http or https URL.")
    return obj


def _buttons(action: dict[str, Any], path: str) -> None:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise not_valid("Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: 3")
    ids: set[str] = set()
    titles: set[str] = set()
    for i, button in enumerate(buttons):
        where = _key(_key(path, "buttons"), i)
        button = _obj(button, where)
        if button.get("type") != "reply":
            got = button.get("type")
            raise invalid(_key(where, "type"), f'must be one of {{REPLY}} - got "{got}".')
        reply = _obj(button.get("reply"), _key(where, "reply"))
        button_id = _str(reply, "id", _key(where, "reply"), max_len=256)
        title = _str(reply, "title", _key(where, "reply"), need=False)
        _length(title, "Button title", 1, 20)
        if button_id in ids or title in titles:
            raise not_valid("Buttons must have unique ids and titles.")
        ids.add(str(button_id))
        titles.add(str(title))


def _sections(action: dict[str, Any], path: str) -> None:
    _length(_str(action, "button", path, need=False), "Button text", 1, 20)
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        raise not_valid("Invalid sections count. Min allowed sections: 1, Max allowed sections: 10")
    row_ids: set[str] = set()
    for i, section in enumerate(sections):
        where = _key(_key(path, "sections"), i)
        section = _obj(section, where)
        title = _str(section, "title", where, need=False)
        if title is not None or len(sections) > 1:
            _length(title, "Section title", 1, 24)
        rows = _list(section.get("rows"), _key(where, "rows"))
        for j, row in enumerate(rows):
            at = _key(_key(where, "rows"), j)
            row = _obj(row, at)
            row_id = _str(row, "id", at, max_len=200)
            _length(_str(row, "title", at, need=False), "Row title", 1, 24)
            _str(row, "description", at, max_len=72, need=False)
            if row_id in row_ids:
                raise not_valid("Row ids must be unique across sections.")
            row_ids.add(str(row_id))
    if not 1 <= len(row_ids) <= 10:
        raise not_valid("Invalid rows count. Min allowed rows: 1, Max allowed rows: 10")


_CHECKS: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    "text": _text,
    "template": _template,
    "reaction": _reaction,
    "location": _location,
    "interactive": _interactive,
    **{kind: _media for kind in MEDIA_TYPES},
}
