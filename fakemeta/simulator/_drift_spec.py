"""Meta's OpenAPI spec of the webhook, read as a set of documented JSON paths.

Behind `fakemeta.simulator.drift`: it loads the spec (PyYAML, imported only here and
only when a spec is read), repairs the spec's own broken references, and
walks `components/schemas/WebhookPayload` into paths such as
`entry[].changes[].value.messages[].image.caption`.

A path is a tuple of segments: a property name, `[]` for the items of an
array, or `*` for `additionalProperties` (any key). `render()` joins them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakemeta.simulator.errors import UsageError

__all__ = [
    "ITEMS",
    "SPEC_REF_REPAIRS",
    "WILDCARD",
    "DocumentedPaths",
    "JsonPath",
    "SpecError",
    "documented_paths",
    "load_spec",
    "render",
    "repair",
    "repaired_components",
    "webhook_schema_names",
]

JsonPath = tuple[str, ...]
ITEMS = "[]"
WILDCARD = "*"

#: Bare name the webhook schemas refer to -> the webhook schema it means.
#: When Meta merged the webhook schemas into the spec, their names collided
#: with the send-message schemas and got suffixes (`TextMessage_2`, ...), but
#: the references kept the bare names: as published, every inbound message
#: points at the *outbound* schema. tests/simulator/test_openapi.py pins that
#: the published spec still needs this.
SPEC_REF_REPAIRS = {
    "BaseMessageProperties": "BaseMessageProperties_1",
    "TextMessage": "TextMessage_2",
    "ReactionMessage": "ReactionMessage_1",
    "AudioMessage": "AudioMessage_1",
    "DocumentMessage": "DocumentMessage_1",
    "ImageMessage": "ImageMessage_1",
    "StickerMessage": "StickerMessage_1",
    "VideoMessage": "VideoMessage_1",
    "LocationMessage": "LocationMessage_1",
    "ContactObject": "ContactObject_1",
    "ErrorObject": "ErrorObject_2",
}

_SCHEMAS = "#/components/schemas/"
_MAX_DEPTH = 64


class SpecError(UsageError):
    """The OpenAPI spec cannot be read or walked.

    Cause: the file is missing, is not YAML, has no `WebhookPayload` schema,
    has a `$ref` that points nowhere, or PyYAML is not installed. Fix: pass
    the path of Meta's `business-messaging-api_*.yaml`, or install PyYAML
    (`pip install 'fakemeta[test]'`).
    """


def load_spec(path: Path) -> dict[str, Any]:
    """The spec at `path` as a mapping; `SpecError` with one line otherwise."""
    try:
        import yaml
    except ImportError:
        raise SpecError(
            "reading the spec needs PyYAML: pip install pyyaml (or 'fakemeta[test]')"
        ) from None
    if not path.is_file():
        raise SpecError(f"no OpenAPI spec at {path}: pass the path of Meta's YAML file")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is 5x faster
    try:
        with path.open(encoding="utf-8") as f:
            loaded = yaml.load(f, Loader=loader)  # noqa: S506 - a safe loader
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"cannot read the OpenAPI spec {path}: {exc}") from None
    if not isinstance(loaded, dict):
        raise SpecError(f"{path} is not an OpenAPI document (no mapping at the top)")
    return loaded


def webhook_schema_names(
    schemas: dict[str, Any], first: str = "WebhookPayload", last: str = "SystemMessage"
) -> list[str]:
    """The webhook block of the spec: from `first` to `last` (or to the end)."""
    names = list(schemas)
    if first not in schemas:
        raise SpecError(f"the spec has no components/schemas/{first}")
    end = names.index(last) + 1 if last in schemas else len(names)
    return names[names.index(first) : end]


def repair(node: Any) -> Any:
    """`node` with its references to colliding bare names repaired."""
    if isinstance(node, dict):
        out = {k: repair(v) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(_SCHEMAS):
            name = ref.rsplit("/", 1)[1]
            out["$ref"] = _SCHEMAS + SPEC_REF_REPAIRS.get(name, name)
        if "mapping" in out and isinstance(out["mapping"], dict):
            out["mapping"] = {k: repair({"$ref": v})["$ref"] for k, v in out["mapping"].items()}
        return out
    if isinstance(node, list):
        return [repair(v) for v in node]
    return node


def repaired_components(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of the spec's `components`, the webhook block's references repaired."""
    components = copy.deepcopy(spec.get("components"))
    if not isinstance(components, dict) or not isinstance(components.get("schemas"), dict):
        raise SpecError("the spec has no components/schemas")
    schemas = components["schemas"]
    for name in webhook_schema_names(schemas):
        schemas[name] = repair(schemas[name])
    return components


@dataclass
class DocumentedPaths:
    """Every path the spec documents below the root, and the enums it lists."""

    paths: set[JsonPath] = field(default_factory=set)
    enums: dict[JsonPath, set[str]] = field(default_factory=dict)


def documented_paths(spec: dict[str, Any], root: str = "WebhookPayload") -> DocumentedPaths:
    """Walk `components/schemas/<root>` (repaired) into documented paths.

    oneOf/anyOf/allOf and a discriminator's mapping contribute the union of
    their paths; a schema already
    being walked higher up the same branch is not walked again (cycles).
    """
    document = {"components": repaired_components(spec)}
    found = DocumentedPaths()
    _walk(document, {"$ref": _SCHEMAS + root}, (), frozenset(), found)
    return found


def _resolve(document: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise SpecError(f"external $ref {ref!r} is not supported")
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise SpecError(f"$ref {ref!r} points nowhere in the spec")
        node = node[part]
    return node


def _walk(
    document: dict[str, Any],
    node: Any,
    at: JsonPath,
    active: frozenset[str],
    found: DocumentedPaths,
) -> None:
    if not isinstance(node, dict) or len(at) > _MAX_DEPTH:
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref not in active:
        _walk(document, _resolve(document, ref), at, active | {ref}, found)
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(key) or ():
            _walk(document, sub, at, active, found)
    # A discriminator's mapping names the shapes too; `interactive` lists its
    # reply shapes only there, with no oneOf beside it.
    mapping = (node.get("discriminator") or {}).get("mapping") or {}
    for target in dict.fromkeys(mapping.values()):
        _walk(document, {"$ref": target}, at, active, found)
    if isinstance(node.get("enum"), list) and at:
        found.enums.setdefault(at, set()).update(str(v) for v in node["enum"])
    for name, sub in (node.get("properties") or {}).items():
        _add(document, (*at, str(name)), sub, active, found)
    extra = node.get("additionalProperties")
    if extra is True or isinstance(extra, dict):
        _add(document, (*at, WILDCARD), extra if isinstance(extra, dict) else {}, active, found)
    if isinstance(node.get("items"), dict):
        _add(document, (*at, ITEMS), node["items"], active, found)


def _add(
    document: dict[str, Any],
    at: JsonPath,
    node: Any,
    active: frozenset[str],
    found: DocumentedPaths,
) -> None:
    found.paths.add(at)
    _walk(document, node, at, active, found)


def render(path: Iterable[str]) -> str:
    """`("entry", "[]", "id")` -> `entry[].id`."""
    text = ""
    for segment in path:
        text += segment if segment == ITEMS or not text else "." + segment
    return text
