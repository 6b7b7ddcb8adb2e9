"""Request bodies the Graph API takes: JSON, form-encoded, multipart/form-data.

Framework-free parsing for `api.handle`: the server hands over raw bytes.
Malformed input raises `ValueError` with a short reason; `api` turns it into
Meta's `(#100)` error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["Part", "form_fields", "json_body", "media_type", "multipart"]


@dataclass(frozen=True)
class Part:
    """One multipart field: its name, the file name and type if a file, the bytes."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def media_type(content_type: str | None) -> str:
    """`image/jpeg; charset=x` -> `image/jpeg`, lowercase."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _header_params(name: str, value: str) -> Message:
    message = Message()
    message[name] = value
    return message


def multipart(content_type: str, body: bytes) -> list[Part]:
    """The fields of a multipart/form-data body, in order."""
    boundary = _header_params("content-type", content_type).get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("multipart body without a boundary")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 2:
        raise ValueError("multipart body without any part")
    parts: list[Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return parts
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart part without a blank line after its headers")
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        disposition = _header_params("content-disposition", headers.get("content-disposition", ""))
        name = disposition.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("multipart part without a name")
        filename = disposition.get_filename()
        parts.append(Part(name, filename, headers.get("content-type"), data))
    raise ValueError("multipart body without its closing boundary")


def form_fields(body: bytes) -> dict[str, Any]:
    """An `application/x-www-form-urlencoded` body; values that hold JSON
    objects or arrays (`text={"body": "hi"}`) are decoded, as Graph does."""
    fields: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True):
        if value[:1] in ("{", "["):
            try:
                fields[key] = json.loads(value)
                continue
            except ValueError:
                pass
        fields[key] = value
    return fields


def json_body(body: bytes) -> Any:
    """Parse JSON text; `ValueError` for invalid UTF-8 or JSON."""
    if not body.strip():
        return {}
    return json.loads(body.decode("utf-8"))
