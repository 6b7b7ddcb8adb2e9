"""A WhatsApp echo bot, for trying `fakemeta serve` (README walk-through).

It verifies Meta's handshake and signatures, answers every text with
"you said: …", answers "menu" with reply buttons, and sends everything
through the Graph API at GRAPH_API_URL (fakemeta serve's URL instead of
https://graph.facebook.com).

    META_CLIENT_SECRET=... META_WEBHOOK_VERIFY_TOKEN=... WHATSAPP_ACCESS_TOKEN=... \\
    GRAPH_API_URL=http://127.0.0.1:8787 python examples/echo_bot/bot.py
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os

import httpx
from flask import Flask, Response, request

SECRET = os.environ["META_CLIENT_SECRET"]
VERIFY_TOKEN = os.environ["META_WEBHOOK_VERIFY_TOKEN"]
ACCESS_TOKEN = os.environ["WHATSAPP_ACCESS_TOKEN"]
GRAPH = os.environ.get("GRAPH_API_URL", "https://graph.facebook.com").rstrip("/") + "/v23.0"

app = Flask(__name__)


def send(phone_number_id: str, message: dict[str, object]) -> None:
    httpx.post(
        f"{GRAPH}/{phone_number_id}/messages",
        headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
        json={"messaging_product": "whatsapp", **message},
        timeout=10,
    )


def answer(phone_number_id: str, message: dict[str, object]) -> None:
    to = message["from"]
    if message["type"] == "text":
        text = message["text"]["body"]  # type: ignore[index]
        if text.strip().lower() == "menu":
            buttons = [
                {"type": "reply", "reply": {"id": i, "title": i.title()}} for i in ("yes", "no")
            ]
            send(
                phone_number_id,
                {
                    "to": to,
                    "type": "interactive",
                    "interactive": {
                        "type": "button",
                        "body": {"text": "Do you like it?"},
                        "action": {"buttons": buttons},
                    },
                },
            )
            return
        send(phone_number_id, {"to": to, "type": "text", "text": {"body": f"you said: {text}"}})
    elif message["type"] == "interactive":
        reply = message["interactive"]["button_reply"]  # type: ignore[index]
        send(
            phone_number_id,
            {"to": to, "type": "text", "text": {"body": f"you chose {reply['title']}"}},
        )


@app.route("/webhook/", methods=["GET", "POST"])
def webhook() -> Response:
    if request.method == "GET":
        if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
            request.args.get("hub.verify_token", ""), VERIFY_TOKEN
        ):
            return Response(request.args.get("hub.challenge", ""), mimetype="text/plain")
        return Response("Forbidden", 403)
    raw = request.get_data()
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(request.headers.get("X-Hub-Signature-256", ""), expected):
        return Response("Invalid signature", 401)
    for entry in json.loads(raw).get("entry", []):
        for change in entry.get("changes", []):
            value = change.get("value", {})
            for message in value.get("messages", []):
                answer(value["metadata"]["phone_number_id"], message)
    return Response("EVENT_RECEIVED", mimetype="text/plain")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8000")), threaded=True)
