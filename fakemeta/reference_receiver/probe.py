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
from collections.abc import Sequence
from typing import cast

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import Table, func, select

from . import bulk
from .models import ACTION_MESSAGE_RECEIVED, Client, IntegrationAccount, IntegrationLog
from .state import receiver_state

__all__ = ["PROBE_PREFIX", "probe", "stored_message_counts"]

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


def stored_message_counts(app: Flask, message_ids: Sequence[str]) -> dict[str, int]:
    """How many `whatsapp_message_received` log entries the store holds for each
    of `message_ids` (an id it has none for is left out): what `GET /messages?id=`
    answers one id at a time, in a few statements, for a caller in the app's own
    process (`fakemeta load --probe` against the built-in receiver). Waits, as a
    probe read does, for this process's drainer first."""
    state = receiver_state(app)
    if state.drainer is not None:
        state.drainer.wait_idle(SETTLE_SECONDS)
    counts: dict[str, int] = {}
    column = cast(Table, IntegrationLog.__table__).c.message_id
    with state.sessions() as session:
        for condition in bulk.matching(session, column, list(message_ids)):
            rows = session.execute(
                select(column, func.count())
                .where(IntegrationLog.action == ACTION_MESSAGE_RECEIVED, condition)
                .group_by(column)
            )
            counts.update((str(message_id), int(count)) for message_id, count in rows)
    return counts
