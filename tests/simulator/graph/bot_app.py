"""A small bot for the in-process Graph tests: a webhook that verifies
signatures, records what arrives, and answers texts through the Graph API."""

from __future__ import annotations

import json
from typing import Any

import httpx
from flask import Flask, Response, request

from fakemeta.simulator.signing import verify_signature

SECRET = "bot-app-secret"
VERIFY_TOKEN = "bot-verify-token"
TOKEN = "EAAG-bot-token"
PHONE_NUMBER_ID = "106540352242922"


def make_bot(*, token: str = TOKEN, handshake: bool = True) -> tuple[Flask, dict[str, Any]]:
    seen: dict[str, Any] = {"messages": [], "statuses": [], "errors": [], "unsigned": 0}
    app = Flask(__name__)

    @app.route("/webhook/", methods=["GET", "POST"])
    def webhook() -> Response:
        if request.method == "GET":
            ok = handshake and request.args.get("hub.verify_token") == VERIFY_TOKEN
            challenge = request.args.get("hub.challenge", "") if ok else "no"
            return Response(challenge, 200 if ok else 403, mimetype="text/plain")
        raw = request.get_data()
        if not verify_signature(raw, request.headers.get("X-Hub-Signature-256"), SECRET):
            seen["unsigned"] += 1
            return Response("bad signature", 401)
        for entry in json.loads(raw)["entry"]:
            for change in entry["changes"]:
                value = change["value"]
                seen["statuses"] += value.get("statuses", [])
                for message in value.get("messages", []):
                    seen["messages"].append(message)
                    if message["type"] == "text":
                        answer = httpx.post(
                            f"https://graph.facebook.com/v23.0/{PHONE_NUMBER_ID}/messages",
                            headers={"Authorization": f"Bearer {token}"},
                            json={
                                "messaging_product": "whatsapp",
                                "to": message["from"],
                                "type": "text",
                                "text": {"body": "you said: " + message["text"]["body"]},
                            },
                        )
                        if answer.status_code != 200:
                            seen["errors"].append(answer.json())
        return Response("ok", 200)

    return app, seen
