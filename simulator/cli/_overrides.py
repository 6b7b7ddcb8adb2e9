"""`--set path=value` overrides on a payload before it is encoded.

`path=value` sets a string; `path:=json` sets any JSON value (numbers,
booleans, objects). Paths are dotted, list items by index, and three
shortcuts name the first message, status and value of the first change:
`message.text.body`, `status.status`, `value.metadata.phone_number_id`.
Every key on the way must exist; only the last may be new, so a typo is an
error rather than a silently added key.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from simulator.errors import BadOverride

__all__ = ["apply_overrides", "parse_override"]

_SHORTCUTS = {
    "message": "entry.0.changes.0.value.messages.0",
    "status": "entry.0.changes.0.value.statuses.0",
    "value": "entry.0.changes.0.value",
}


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `path=value` or `path:=json` into path parts and the value."""
    eq = text.find("=")
    if eq < 0:
        raise BadOverride(f"--set {text}: expected path=value or path:=json")
    is_json = eq > 0 and text[eq - 1] == ":"
    path, raw = text[: eq - 1 if is_json else eq], text[eq + 1 :]
    if not path:
        raise BadOverride(f"--set {text}: the path before '=' is empty")
    value: Any = raw
    if is_json:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BadOverride(
                f"--set {text}: {raw!r} is not JSON ({exc.msg}); use path=value for a string"
            ) from None
    head, _, rest = path.partition(".")
    if head in _SHORTCUTS:
        path = _SHORTCUTS[head] + ("." + rest if rest else "")
    return path.split("."), value


def _step(node: Any, part: str, where: str, text: str, *, last: bool) -> tuple[Any, Any]:
    if isinstance(node, list):
        if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
            raise BadOverride(
                f"--set {text}: {where} is a list of {len(node)}; {part!r} is no index in it"
            )
        return node, int(part)
    if isinstance(node, dict):
        if part not in node and not last:
            keys = ", ".join(node) or "none"
            raise BadOverride(f"--set {text}: no key {part!r} in {where} (keys: {keys})")
        return node, part
    raise BadOverride(f"--set {text}: {where} is a {type(node).__name__}, not an object or list")


def apply_overrides(payload: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of `payload` with every override applied in order."""
    result = copy.deepcopy(payload)
    for text in overrides:
        parts, value = parse_override(text)
        node: Any = result
        where = "the payload"
        for i, part in enumerate(parts):
            container, key = _step(node, part, where, text, last=i == len(parts) - 1)
            if i == len(parts) - 1:
                container[key] = value
            else:
                node = container[key]
                where = ".".join(parts[: i + 1])
    return result
