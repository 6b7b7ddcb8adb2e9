"""A small in-memory Flask receiver for testing the CLIENT and RATE checks.

Without faults it meets every CLIENT and RATE requirement; each fault
breaks it the way real receivers break, so a test can show that the suite
fails exactly the requirement that fault violates. The suite reaches it
in-process (`SuiteConfig(target=app, path=PATH, probe=receiver.probe)`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import unicodedata
from collections import defaultdict, deque
from typing import Any

from flask import Flask, Response, request

from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.probes import CallableProbe, Record

__all__ = ["FAULTS", "PATH", "MemoryReceiver"]

PATH = "/webhook"
APP_SECRET = "memory-secret"
VERIFY_TOKEN = "memory-token"
PHONE_NUMBER_ID = "106540352242922"

FAULTS = frozenset(
    {
        "client_per_message",  # CLIENT-2: no "find", only "create"
        "log_redeliveries",  # CLIENT-3: no deduplication by message id
        "ignore_phone_number_id",  # CLIENT-4: every delivery goes to the one account
        "racy_find_or_create",  # CLIENT-2: look up, then insert, not atomically
        "dedupe_by_body",  # CLIENT-3: remembers bodies, not message ids
        "last_id_only",  # CLIENT-3: remembers only the last message id
        "racy_dedupe",  # CLIENT-3: checks, then logs, not atomically
        "first_message_only",  # CLIENT-5: entry[0].changes[0].value.messages[0]
        "first_entry_only",  # CLIENT-5: entry[0] only
        "first_contact_name",  # CLIENT-5: every sender named after contacts[0]
        "crash_on_unknown_type",  # CLIENT-6: 500 for a type it does not know
        "crash_on_status",  # CLIENT-7: 500 for statuses
        "client_for_status_recipient",  # CLIENT-7: the status recipient becomes a client
        "nfc_text",  # CLIENT-8: NFC-normalises what it stores
        "strip_text",  # CLIENT-8: strips surrounding whitespace
        "phone_keyed_clients",  # CLIENT-9: clients keyed by `from` alone (phone-less users merge)
        "crash_without_from",  # CLIENT-9: message["from"]: 500 for a user with no number
        "user_id_not_attached",  # CLIENT-9: a client found by number never gets the user id
        "ignores_number_change",  # CLIENT-10: user_changed_number only logged
        "keeps_user_id_on_number_change",  # CLIENT-10 (2026): moves the number, not the user id
        "ignores_user_id_change",  # CLIENT-10: user_changed_user_id only logged
        "keys_on_forwarded_for",  # RATE-4: the limit keys on X-Forwarded-For when sent
        "never_limits",  # RATE-1
        "global_limit",  # RATE-2: one window for every client
        "no_retry_after",  # RATE-3
    }
)

_KNOWN_TYPES = frozenset(
    {
        "text", "image", "video", "audio", "document", "sticker", "location", "contacts",
        "interactive", "button", "reaction", "order", "system", "request_welcome",
        "unsupported", "edit", "revoke",
    }
)  # fmt: skip
_CLIENTLESS = frozenset({"reaction", "system", "edit", "revoke"})


def _text_of(message: dict[str, Any]) -> str | None:
    kind = message.get("type")
    content = message.get(kind) if isinstance(kind, str) else None
    if not isinstance(content, dict):
        return None
    if kind == "text":
        return content.get("body")
    if kind in ("image", "video", "document"):
        return content.get("caption")
    if kind == "button":
        return content.get("text")
    if kind == "interactive":
        reply = content.get(content.get("type", ""), {})
        return reply.get("title") if isinstance(reply, dict) else None
    return None


class MemoryReceiver:
    def __init__(
        self,
        *faults: str,
        rate_limit: tuple[int, float] | None = None,
        retry_after: str | None = None,
    ) -> None:
        """`rate_limit` is (requests, seconds) per client IP, POSTs only;
        `retry_after` replaces the computed Retry-After value."""
        unknown = set(faults) - FAULTS
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}")
        self.faults = frozenset(faults)
        self.rate_limit = rate_limit
        self.retry_after = retry_after
        self.clients: list[Record] = []
        self.logs: list[Record] = []
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._bodies: set[bytes] = set()
        self._last_id: str | None = None
        self.app = Flask(f"memory_receiver_{id(self)}")
        self.app.add_url_rule(PATH, "webhook", self._webhook, methods=["GET", "POST"])
        self.probe = CallableProbe(self._clients_for, self._messages_for, self._users_for)

    def config(self, **overrides: Any) -> SuiteConfig:
        settings: dict[str, Any] = {
            "target": self.app,
            "verify_token": VERIFY_TOKEN,
            "app_secret": APP_SECRET,
            "phone_number_id": PHONE_NUMBER_ID,
            "path": PATH,
            "probe": self.probe,
            "seed": 7,
            "examples": 3,
        }
        settings.update(overrides)
        return SuiteConfig(**settings)

    # -- the probe ---------------------------------------------------------------

    def _clients_for(self, phone: str) -> list[Record]:
        with self._lock:
            return [dict(c) for c in self.clients if c["phone"] == phone]

    def _users_for(self, user_id: str) -> list[Record]:
        with self._lock:
            return [dict(c) for c in self.clients if c["user_id"] == user_id]

    def _messages_for(self, message_id: str) -> list[Record]:
        with self._lock:
            return [dict(x) for x in self.logs if x["id"] == message_id]

    # -- the webhook -------------------------------------------------------------

    def _limited(self) -> Response | None:
        if self.rate_limit is None or "never_limits" in self.faults or request.method != "POST":
            return None
        requests, window = self.rate_limit
        key = "everyone" if "global_limit" in self.faults else (request.remote_addr or "")
        if "keys_on_forwarded_for" in self.faults:
            key = request.headers.get("X-Forwarded-For", key).split(",")[0].strip()
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and now - hits[0] >= window:
                hits.popleft()
            if len(hits) >= requests:
                response = Response("slow down", 429)
                if "no_retry_after" not in self.faults:
                    computed = str(int(window - (now - hits[0])) + 1)
                    response.headers["Retry-After"] = self.retry_after or computed
                return response
            hits.append(now)
        return None

    def _webhook(self) -> Response:
        limited = self._limited()
        if limited is not None:
            return limited
        if request.method == "GET":
            args = request.args
            if args.get("hub.mode") == "subscribe" and args.get("hub.verify_token") == VERIFY_TOKEN:
                return Response(args.get("hub.challenge", ""), 200, mimetype="text/plain")
            return Response("forbidden", 403)
        raw = request.get_data()
        expected = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Hub-Signature-256", ""), expected):
            return Response("bad signature", 401)
        if "dedupe_by_body" in self.faults:
            digest = hashlib.sha256(raw).digest()
            if digest in self._bodies:
                return Response("EVENT_RECEIVED", 200)
            self._bodies.add(digest)
        try:
            envelope = json.loads(raw)
        except ValueError:
            return Response("not json", 400)
        return self._process(envelope)

    def _process(self, envelope: dict[str, Any]) -> Response:
        entries = envelope.get("entry", [])
        if self.faults & {"first_message_only", "first_entry_only"}:
            entries = entries[:1]
        for entry in entries:
            changes = entry.get("changes", [])
            for change in changes[:1] if "first_message_only" in self.faults else changes:
                value = change.get("value", {})
                statuses = value.get("statuses", [])
                if statuses and "crash_on_status" in self.faults:
                    return Response("KeyError: 'messages'", 500)
                if statuses and "client_for_status_recipient" in self.faults:
                    for status in statuses:
                        self._client(status.get("recipient_id"), "status recipient", False)
                if change.get("field") != "messages":
                    continue
                phone_number_id = value.get("metadata", {}).get("phone_number_id")
                if phone_number_id != PHONE_NUMBER_ID and "ignore_phone_number_id" not in (
                    self.faults
                ):
                    continue
                contacts = value.get("contacts", [])
                names = {
                    key: c.get("profile", {}).get("name")
                    for c in contacts
                    for key in (c.get("wa_id"), c.get("user_id"))
                    if key
                }
                if contacts and "first_contact_name" in self.faults:
                    first = contacts[0].get("profile", {}).get("name")
                    names = dict.fromkeys(names, first)
                messages = value.get("messages", [])
                if "first_message_only" in self.faults:
                    messages = messages[:1]
                for message in messages:
                    if message["type"] not in _KNOWN_TYPES and "crash_on_unknown_type" in (
                        self.faults
                    ):
                        return Response("unknown type", 500)
                    if "crash_without_from" in self.faults:
                        message["from"].strip()
                    name = names.get(message.get("from")) or names.get(message.get("from_user_id"))
                    self._message(message, name)
        return Response("EVENT_RECEIVED", 200)

    def _message(self, message: dict[str, Any], name: str | None) -> None:
        text = _text_of(message)
        if text is not None and "nfc_text" in self.faults:
            text = unicodedata.normalize("NFC", text)
        if text is not None and "strip_text" in self.faults:
            text = text.strip()
        if "racy_dedupe" in self.faults:
            seen = any(x["id"] == message["id"] for x in self.logs)
            time.sleep(0.01)  # another request may log it meanwhile
            if seen:
                return
        with self._lock:
            if self._seen(message["id"]):
                return
            self._last_id = message["id"]
            self.logs.append(
                {
                    "id": message["id"],
                    "from": message.get("from") or message.get("from_user_id"),
                    "type": message["type"],
                    "text": text,
                    "account": PHONE_NUMBER_ID,
                }
            )
        phone, user_id = message.get("from"), message.get("from_user_id")
        if "phone_keyed_clients" in self.faults:
            user_id = None
        if message["type"] == "system":
            self._identity_change(phone, user_id, message.get("system", {}))
        elif message["type"] not in _CLIENTLESS:
            self._client(phone, name, "client_per_message" in self.faults, user_id)

    def _find(self, phone: str | None, user_id: str | None) -> list[Record]:
        by_user = [c for c in self.clients if user_id and c["user_id"] == user_id]
        return by_user or [
            c
            for c in self.clients
            if c["phone"] == phone and (phone or "phone_keyed_clients" in self.faults)
        ]

    def _identity_change(self, phone: str | None, user_id: str | None, system: Any) -> None:
        kind = system.get("type")
        with self._lock:
            found = self._find(phone, user_id)
            if not found:
                return
            if kind == "user_changed_number" and "ignores_number_change" not in self.faults:
                found[0]["phone"] = system.get("wa_id")
                # 2026: Meta regenerates the business-scoped id with the number.
                if "keeps_user_id_on_number_change" not in self.faults:
                    found[0]["user_id"] = system.get("user_id") or found[0]["user_id"]
            if kind == "user_changed_user_id" and "ignores_user_id_change" not in self.faults:
                found[0]["user_id"] = system.get("user_id")

    def _seen(self, message_id: str) -> bool:
        if self.faults & {"log_redeliveries", "dedupe_by_body", "racy_dedupe"}:
            return False
        if "last_id_only" in self.faults:
            return message_id == self._last_id
        return any(x["id"] == message_id for x in self.logs)

    def _client(
        self, phone: str | None, name: str | None, always: bool, user_id: str | None = None
    ) -> None:
        if "racy_find_or_create" in self.faults:
            always = always or not self._find(phone, user_id)
            time.sleep(0.01)  # another request may create it meanwhile
        with self._lock:
            found = self._find(phone, user_id)
            if found and not always:
                client = found[0]
                client["name"] = name or client["name"]
                if "user_id_not_attached" not in self.faults:
                    client["user_id"] = client["user_id"] or user_id
                    client["phone"] = client["phone"] or phone
                return
            self.clients.append(
                {"phone": phone, "user_id": user_id, "name": name, "source": "whatsapp",
                 "account": PHONE_NUMBER_ID}
            )  # fmt: skip
