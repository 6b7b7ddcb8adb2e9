"""The read-only probe API of DESIGN.md, for the contract suite to see the store.

Mounted at `/_fakemeta/probe` only when `FAKEMETA_PROBE_TOKEN` is set, and
every request must carry `Authorization: Bearer <that token>`.

Deliveries are applied after they are acknowledged (`drainer.py`). A probe
read first waits, up to `SETTLE_SECONDS`, for this process's drainer to
apply what was acknowledged before it, so that it reports the store as the
deliveries left it rather than a moment before (the suite would wait and
ask again otherwise). With `INBOX_DRAIN=external` it reads at once.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from .models import ACTION_MESSAGE_RECEIVED, Client, IntegrationAccount, IntegrationLog
from .state import receiver_state

__all__ = ["PROBE_PREFIX", "probe"]

PROBE_PREFIX = "/_fakemeta/probe"
#: The longest a probe read waits for acknowledged deliveries to be applied.
SETTLE_SECONDS = 3.0

probe = Blueprint("fakemeta_probe", __name__, url_prefix=PROBE_PREFIX)


@probe.before_request
def _authorize() -> Response | None:
    state = receiver_state(current_app)
    expected = state.settings.probe_token
    given = request.headers.get("Authorization", "")
    if expected and hmac.compare_digest(
        given.encode("utf-8", "replace"), f"Bearer {expected}".encode()
    ):
        if state.drainer is not None:
            state.drainer.wait_idle(SETTLE_SECONDS)
        return None
    response = Response("Unauthorized\n", 401, mimetype="text/plain")
    response.headers["WWW-Authenticate"] = 'Bearer realm="fakemeta-probe"'
    return response


@probe.get("/clients")
def clients() -> Response:
    """`?phone=<digits>` or `?user_id=<business-scoped user id>`: exactly one of them."""
    given = [name for name in ("phone", "user_id") if name in request.args]
    if len(given) != 1:
        return Response(
            "Bad Request: give exactly one of phone= and user_id=\n", 400, mimetype="text/plain"
        )
    column = Client.phone if given[0] == "phone" else Client.user_id
    sessions = receiver_state(current_app).sessions
    with sessions() as session:
        rows = session.execute(
            select(Client, IntegrationAccount.phone_number_id)
            .join(IntegrationAccount, Client.account_id == IntegrationAccount.id)
            .where(column == request.args[given[0]])
            .order_by(Client.id)
        ).all()
    return jsonify(
        clients=[
            {
                "phone": c.phone,
                "user_id": c.user_id,
                "name": c.name,
                "source": c.source,
                "account": account,
            }
            for c, account in rows
        ]
    )


@probe.get("/messages")
def messages() -> Response:
    message_id = request.args.get("id", "")
    sessions = receiver_state(current_app).sessions
    with sessions() as session:
        rows = session.execute(
            select(IntegrationLog, IntegrationAccount.phone_number_id)
            .join(IntegrationAccount, IntegrationLog.account_id == IntegrationAccount.id)
            .where(
                IntegrationLog.action == ACTION_MESSAGE_RECEIVED,
                IntegrationLog.message_id == message_id,
            )
            .order_by(IntegrationLog.id)
        ).all()
    return jsonify(
        messages=[
            {
                "id": log.message_id,
                "from": log.sender,
                "type": log.message_type,
                "text": log.text,
                "account": account,
            }
            for log, account in rows
        ]
    )
