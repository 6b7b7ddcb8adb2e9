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
    """The fields of a multipart/form-data body, in order.

    Found by position and sliced once: a 100 MB upload costs its part's
    bytes, not a copy of the body per step.
    """
    boundary = _header_params("content-type", content_type).get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("multipart body without a boundary")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    if body.startswith(delimiter[2:]):  # the first boundary needs no CRLF before it
        start = len(delimiter) - 2
    else:
        found = body.find(delimiter)
        if found < 0:
            raise ValueError("multipart body without any part")
        start = found + len(delimiter)
    parts: list[Part] = []
    while True:
        if body.startswith(b"--", start):
            return parts
        end = body.find(delimiter, start)
        stop = end if end >= 0 else len(body)
        head_end = body.find(b"\r\n\r\n", start, stop)
        if head_end < 0:
            raise ValueError("multipart part without a blank line after its headers")
        headers: dict[str, str] = {}
        for line in body[start:head_end].decode("latin-1").split("\r\n"):
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        disposition = _header_params("content-disposition", headers.get("content-disposition", ""))
        name = disposition.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("multipart part without a name")
        filename = disposition.get_filename()
        parts.append(Part(name, filename, headers.get("content-type"), body[head_end + 4 : stop]))
        if end < 0:
            raise ValueError("multipart body without its closing boundary")
        start = end + len(delimiter)


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
