"""`--set path=value` overrides on a payload before it is encoded.

`path=value` sets a string; `path:=json` sets any JSON value (numbers,
booleans, objects). Paths are dotted, list items by index, and three
shortcuts name the first message, status and value of the first change:
`message.text.body`, `status.status`, `value.metadata.phone_number_id`.
Every key on the way must exist. Only the last may be new (Meta's
optional keys: `message.context`, `entry.0.time`), and not when it is a near
miss of a key that is there (`message.text.bdy`, `value.Metadata`): that is
a typo, an error that names the key meant, never a silently added key. A
`+` before the last key (`message.text.+bdy=x`) adds it all the same.
"""

from __future__ import annotations

import copy
import difflib
import json
from typing import Any

from fakemeta.simulator.errors import BadOverride

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
        if last and part.startswith("+"):
            return node, part[1:]  # a new key, asked for by name
        if part in node:
            return node, part
        keys = ", ".join(node) or "none"
        if not last:
            raise BadOverride(f"--set {text}: no key {part!r} in {where} (keys: {keys})")
        meant = _near_miss(part, node)
        if meant is not None:
            raise BadOverride(
                f"--set {text}: no key {part!r} in {where}: did you mean {meant!r}? "
                f"(keys: {keys}; to add {part!r} as a new key, write +{part})"
            )
        return node, part
    raise BadOverride(f"--set {text}: {where} is a {type(node).__name__}, not an object or list")


def _near_miss(part: str, node: dict[str, Any]) -> str | None:
    """The key of `node` that `part` looks like a typo of, if any: the same
    but for case or surrounding spaces, or close by difflib's measure (one
    letter left out, added, swapped or wrong in a word of four letters or more)."""
    keys = [key for key in node if isinstance(key, str)]
    folded = part.strip().casefold()
    for key in keys:
        if key.casefold() == folded:
            return key
    close = difflib.get_close_matches(part, keys, n=1, cutoff=_TYPO_CUTOFF)
    return close[0] if close else None


#: How alike a new key and an existing one must be to call it a typo:
#: `bdy`/`body` and `txt`/`text` are 0.86, `form`/`from` 0.75; the optional
#: keys one adds stay clear (`context` by `contacts` 0.67, `time`/`type` 0.5).
_TYPO_CUTOFF = 0.75


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
