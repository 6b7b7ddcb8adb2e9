"""pywa's own Flask webhook, set up the way pywa's documentation says, for `fakemeta check`.

    pip install "pywa==4.5.0"     # or: pip install -e '.[test]'
    python examples/third_party/pywa_receiver.py --port 8080 --verify-token T --app-secret S
    fakemeta check http://127.0.0.1:8080/ --verify-token T --app-secret S --rate-limit off

Everything that answers Meta is pywa's (pywa/_helpers.py register_routes_flask, pywa/server.py
webhook_challenge_handler / webhook_update_validator / webhook_update_handler); this script only
builds the client and serves the Flask app on 127.0.0.1. It makes no network call: with
`callback_url=None` pywa registers no callback URL with Meta (server.py `_register_routes` only
calls `_delayed_register_callback_url` when a callback URL is set), the handlers below never
reply, and the Graph API token is a placeholder that is never used.
"""

from __future__ import annotations

import argparse
import logging

from flask import Flask
from pywa import WhatsApp, types


def build_app(
    *, verify_token: str, app_secret: str, phone_id: str, webhook_endpoint: str = "/"
) -> Flask:
    """The Flask app with pywa's webhook routes registered on it."""
    flask_app = Flask(__name__)
    wa = WhatsApp(
        phone_id=phone_id,
        token="fakemeta-placeholder-token",  # noqa: S106 - never sent: the handlers do not reply
        server=flask_app,
        webhook_endpoint=webhook_endpoint,
        verify_token=verify_token,
        app_secret=app_secret,
        callback_url=None,  # nothing to register with Meta: no network at start-up
        validate_updates=True,  # pywa's default, stated: signatures are checked
    )
    received: list[str] = []

    @wa.on_message()
    def on_message(_: WhatsApp, msg: types.Message) -> None:
        received.append(msg.id)

    @wa.on_message_status()
    def on_status(_: WhatsApp, status: types.MessageStatus) -> None:
        received.append(status.id)

    return flask_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--verify-token", required=True)
    parser.add_argument("--app-secret", required=True)
    parser.add_argument("--phone-id", default="100000000000001")
    parser.add_argument("--webhook-endpoint", default="/")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    app = build_app(
        verify_token=args.verify_token,
        app_secret=args.app_secret,
        phone_id=args.phone_id,
        webhook_endpoint=args.webhook_endpoint,
    )
    # Flask's own server, threaded, on loopback only.
    app.run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
