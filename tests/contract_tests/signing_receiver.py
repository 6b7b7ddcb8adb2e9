"""A small in-memory Flask receiver for testing the SIG, ROBUST and TIME checks.

Without bugs it meets every one of those requirements; each bug breaks it
the way real receivers break (re-serialising before verifying, comparing
part of the digest, crashing on odd JSON, ...), so a test can show that the
suite fails exactly the requirements that bug violates. The suite reaches it
in-process (`SuiteConfig(target=app, path=PATH, probe=receiver.probe)`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from typing import Any

from flask import Flask, Response, request

from fakemeta.contract_tests.addresses import AddressPlan
from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.context import CheckContext, new_run_nonce
from fakemeta.contract_tests.probes import CallableProbe, Record
from fakemeta.contract_tests.report import Report
from fakemeta.contract_tests.requirements import REQUIREMENTS
from fakemeta.simulator.targets import target_for

__all__ = [
    "APP_SECRET",
    "BUGS",
    "FAMILY_IDS",
    "PATH",
    "PHONE_NUMBER_ID",
    "SigningReceiver",
    "context",
    "details",
    "failed",
    "message_parties",
    "outcomes",
    "sent_envelopes",
]

PATH = "/webhook"
APP_SECRET = "signing-secret-0123"
VERIFY_TOKEN = "signing-token-Abc"
ACCESS_TOKEN = "EAAGm0PX4ZCpsBAaccess"
PHONE_NUMBER_ID = "106540352242922"

BUGS = frozenset(
    {
        "reserialise_dumps",  # verifies json.dumps(json.loads(body))
        "reserialise_meta",  # verifies a re-encoding that mimics Meta's (compact, \/)
        "reserialise_non_ascii",  # verifies json.dumps(obj, ensure_ascii=False), compact
        "strip_body",  # verifies body.strip()
        "unsigned_accepted",  # no (or an empty) header: let it through
        "legacy_fallback",  # no X-Hub-Signature-256: verifies the sha1 X-Hub-Signature
        "sha1_only",  # verifies only the legacy sha1 X-Hub-Signature
        "bare_digest",  # header.removeprefix("sha256=") (pywa's check)
        "any_algorithm",  # "<algo>=<hex>" with hashlib.new(algo)
        "first_32",  # compares the first 32 hex digits only
        "startswith",  # expected.startswith(provided): a truncated digest passes
        "status_403",  # refuses a bad signature with 403 instead of 401 (pywa's answer)
        "handshake_401",  # refuses a bad handshake with 401 instead of 403
        "verify_token_as_secret",  # also accepts an HMAC keyed with the verify token
        "access_token_as_secret",  # also accepts an HMAC keyed with the access token
        "token_startswith",  # the token compared as a prefix: the first half passes
        "token_extension",  # given.startswith(token): the token plus anything passes
        "token_ignores_case",  # the token compared case-insensitively
        "token_stripped",  # the given token stripped of whitespace before comparing
        "stores_before_verifying",  # processes, then verifies and answers 401
        "unguarded_json",  # json.loads without try: 500 on bodies Python cannot parse
        "naive_envelope",  # envelope["entry"][...]["changes"]...: 500 on odd shapes
        "put_as_post",  # PUT handled like POST
        "slow_batches",  # 1 s for a delivery of more than 500 updates
    }
)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


class SigningReceiver:
    def __init__(self, *bugs: str) -> None:
        unknown = set(bugs) - BUGS
        if unknown:
            raise ValueError(f"unknown bugs {sorted(unknown)}")
        self.bugs = frozenset(bugs)
        self.clients: list[Record] = []
        self.logs: list[Record] = []
        self.requests: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.app = Flask(f"signing_receiver_{id(self)}")
        methods = ["GET", "POST", "PUT"] if "put_as_post" in self.bugs else ["GET", "POST"]
        self.app.add_url_rule(PATH, "webhook", self._webhook, methods=methods)
        self.probe = CallableProbe(self._clients_for, self._messages_for)

    def config(self, **overrides: Any) -> SuiteConfig:
        settings: dict[str, Any] = {
            "target": self.app,
            "verify_token": VERIFY_TOKEN,
            "app_secret": APP_SECRET,
            "phone_number_id": PHONE_NUMBER_ID,
            "path": PATH,
            "probe": self.probe,
            "seed": 11,
            "examples": 5,
            "select": ("VERIFY", "SIG", "ROBUST", "TIME", "CODE"),
            "access_token": ACCESS_TOKEN,
        }
        settings.update(overrides)
        return SuiteConfig(**settings)

    # -- the probe ---------------------------------------------------------------

    def _clients_for(self, phone: str) -> list[Record]:
        with self._lock:
            return [dict(c) for c in self.clients if c["phone"] == phone]

    def _messages_for(self, message_id: str) -> list[Record]:
        with self._lock:
            return [dict(x) for x in self.logs if x["id"] == message_id]

    # -- the webhook -------------------------------------------------------------

    def _webhook(self) -> Response:
        if request.method == "GET":
            args = request.args
            if args.get("hub.mode") == "subscribe" and self._token_matches(
                args.get("hub.verify_token")
            ):
                return Response(args.get("hub.challenge", ""), 200, mimetype="text/plain")
            return Response("forbidden", 401 if "handshake_401" in self.bugs else 403)
        raw = request.get_data()
        with self._lock:
            self.requests.append((request.method, raw))
        if "stores_before_verifying" in self.bugs:
            with contextlib.suppress(ValueError, RecursionError):
                self._process(json.loads(raw))
        try:
            verified = self._verified(raw)
        except (ValueError, RecursionError):  # a framework's get_json(): 400 Bad Request
            return Response("bad request", 400)
        if not verified:
            return Response("bad signature", 403 if "status_403" in self.bugs else 401)
        if "unguarded_json" in self.bugs:
            envelope = json.loads(raw)
        else:
            try:
                envelope = json.loads(raw)
            except (ValueError, RecursionError):
                return Response("not json", 400)
        if "slow_batches" in self.bugs and raw.count(b'"timestamp"') > 500:
            time.sleep(1.0)
        if "naive_envelope" in self.bugs:
            for entry in envelope["entry"]:
                for change in entry["changes"]:
                    change["value"]["metadata"]["phone_number_id"].strip()
        self._process(envelope)
        return Response("EVENT_RECEIVED", 200)

    def _token_matches(self, given: str | None) -> bool:
        if not given:
            return False
        if "token_startswith" in self.bugs:
            return VERIFY_TOKEN.startswith(given)
        if "token_extension" in self.bugs:
            return given.startswith(VERIFY_TOKEN)
        if "token_ignores_case" in self.bugs:
            return given.lower() == VERIFY_TOKEN.lower()
        if "token_stripped" in self.bugs:
            return given.strip() == VERIFY_TOKEN
        return hmac.compare_digest(given, VERIFY_TOKEN)

    def _signed_bytes(self, raw: bytes) -> bytes:
        if "reserialise_dumps" in self.bugs:
            return json.dumps(json.loads(raw)).encode()
        if "reserialise_meta" in self.bugs:
            text = json.dumps(json.loads(raw), separators=(",", ":"))
            return text.replace("/", "\\/").encode()
        if "reserialise_non_ascii" in self.bugs:
            text = json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":"))
            return text.encode()
        if "strip_body" in self.bugs:
            return raw.strip()
        return raw

    def _verified(self, raw: bytes) -> bool:
        header = request.headers.get("X-Hub-Signature-256")
        key = APP_SECRET.encode()
        if "sha1_only" in self.bugs:
            legacy = request.headers.get("X-Hub-Signature", "")
            return legacy == "sha1=" + hmac.new(key, raw, hashlib.sha1).hexdigest()
        if not header:
            if "unsigned_accepted" in self.bugs:
                return True
            legacy = request.headers.get("X-Hub-Signature")
            if "legacy_fallback" in self.bugs and legacy and header is None:
                return legacy == "sha1=" + hmac.new(key, raw, hashlib.sha1).hexdigest()
            return False
        expected = hmac.new(key, self._signed_bytes(raw), hashlib.sha256).hexdigest()
        if "bare_digest" in self.bugs:
            return hmac.compare_digest(header.removeprefix("sha256="), expected)
        if "any_algorithm" in self.bugs:
            algorithm, _, digest = header.partition("=")
            try:
                return hmac.compare_digest(digest, hmac.new(key, raw, algorithm).hexdigest())
            except ValueError:
                return False
        if not header.startswith("sha256="):
            return False
        provided = header.removeprefix("sha256=")
        if "first_32" in self.bugs:
            return provided[:32] == expected[:32]
        if "startswith" in self.bugs:
            return expected.startswith(provided)
        confused = {"verify_token_as_secret": VERIFY_TOKEN, "access_token_as_secret": ACCESS_TOKEN}
        for bug, other in confused.items():
            if bug in self.bugs:
                digest = hmac.new(other.encode(), raw, hashlib.sha256).hexdigest()
                if hmac.compare_digest(provided, digest):
                    return True
        return hmac.compare_digest(provided, expected)

    def _process(self, envelope: Any) -> None:
        if not isinstance(envelope, dict):
            return
        for entry in _dicts(envelope.get("entry")):
            for change in _dicts(entry.get("changes")):
                value = change.get("value")
                if not isinstance(value, dict) or change.get("field") != "messages":
                    continue
                metadata = value.get("metadata")
                if not isinstance(metadata, dict):
                    continue
                if metadata.get("phone_number_id") != PHONE_NUMBER_ID:
                    continue
                for message in _dicts(value.get("messages")):
                    self._message(message)

    def _message(self, message: dict[str, Any]) -> None:
        message_id, sender = message.get("id"), message.get("from")
        if not isinstance(message_id, str) or not isinstance(sender, str):
            return
        with self._lock:
            if any(x["id"] == message_id for x in self.logs):
                return
            self.logs.append(
                {"id": message_id, "from": sender, "type": message.get("type"), "text": None,
                 "account": PHONE_NUMBER_ID}
            )  # fmt: skip
            if not any(c["phone"] == sender for c in self.clients):
                self.clients.append(
                    {"phone": sender, "name": None, "source": "whatsapp",
                     "account": PHONE_NUMBER_ID}
                )  # fmt: skip


# -- helpers for the tests -------------------------------------------------------

#: The requirements these checks cover.
FAMILY_IDS = (
    *(f"VERIFY-{n}" for n in range(1, 6)),
    *(f"SIG-{n}" for n in range(1, 8)),
    *(f"ROBUST-{n}" for n in range(1, 4)),
    "TIME-1",
    "CODE-1",
    "CODE-2",
)


def outcomes(report: Report) -> dict[str, str]:
    """The outcome of every VERIFY, SIG, ROBUST, TIME and CODE requirement."""
    return {r.requirement.id: r.outcome for r in report.requirements(FAMILY_IDS)}


def failed(report: Report) -> set[str]:
    return {i for i, outcome in outcomes(report).items() if outcome == "failed"}


def details(report: Report) -> str:
    """What went wrong, for assertion messages."""
    return "\n".join(
        f"{r.check} {r.outcome}: {r.detail}" for r in report.results if r.outcome != "passed"
    )


def context(config: SuiteConfig, requirement_id: str = "SIG-1") -> CheckContext:
    """A check context on `config`'s target, as the runner builds one."""
    return CheckContext(
        config,
        REQUIREMENTS[requirement_id],
        target_for(config.target, config.path),
        AddressPlan(config),
        run_nonce=new_run_nonce(),
        check_name="test",
    )


def sent_envelopes(receiver: SigningReceiver) -> list[dict[str, Any]]:
    """Every POST body the receiver got that parses as a JSON object."""
    found = []
    for _, raw in receiver.requests:
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if isinstance(body, dict):
            found.append(body)
    return found


def message_parties(envelope: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The message ids and sender numbers of a (well-formed part of an) envelope."""
    message_ids: set[str] = set()
    senders: set[str] = set()
    for entry in _dicts(envelope.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            for message in _dicts(value.get("messages") if isinstance(value, dict) else None):
                if isinstance(message.get("id"), str) and len(message["id"]) > 20:
                    message_ids.add(message["id"])
                sender = message.get("from")
                if isinstance(sender, str) and len(sender) >= 8 and sender.isdigit():
                    senders.add(sender)
    return message_ids, senders
