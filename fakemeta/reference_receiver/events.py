"""Writing statuses and other events: outbound messages move forward, the
rest is logged. `Store` delegates here; messages live in `store.py`. Both
write in the caller's session and transaction (the drainer's).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from . import bulk
from .models import ACTION_STATUS_UNKNOWN, IntegrationLog, OutboundMessage, utcnow
from .payload import as_dict, as_str, sanitize, storable

__all__ = ["record_event", "record_statuses"]

# Later statuses never move back to earlier ones (Meta's order is not guaranteed).
_STATUS_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4}


def record_statuses(session: Session, company_id: int, account_id: int, statuses: list[Any]) -> int:
    """Move known outbound messages forward; log statuses of unknown ones. Returns updates."""
    items = [as_dict(item) for item in statuses]
    # An id no database can hold in a query (NUL...) matches no message: logged as unknown.
    wanted = sorted({mid for item in items if (mid := as_str(item.get("id"))) and storable(mid)})
    wanted_set = set(wanted)
    updated = 0
    now = utcnow()
    known: dict[str, OutboundMessage] = {}
    message_ids = cast(Table, OutboundMessage.__table__).c.message_id
    for condition in bulk.matching(session, message_ids, wanted):
        for outbound in session.execute(
            select(OutboundMessage).where(OutboundMessage.account_id == account_id, condition)
        ).scalars():
            known[outbound.message_id] = outbound
    unknown: list[dict[str, Any]] = []
    for status in items:
        message_id = as_str(status.get("id"))
        value = as_str(status.get("status"))
        found = known.get(message_id) if message_id and message_id in wanted_set else None
        if found is None:
            unknown.append(
                {
                    "company_id": company_id,
                    "account_id": account_id,
                    "action": ACTION_STATUS_UNKNOWN,
                    "details": sanitize({"status": status}),
                    "created_at": now,
                }
            )
            continue
        if value and _advances(found.status, value):
            found.status = value[:32]
            found.updated_at = now
            if value == "failed":
                found.errors = sanitize({"errors": status.get("errors")})
            updated += 1
    if unknown:
        session.execute(insert(IntegrationLog), unknown)
    return updated


def record_event(
    session: Session,
    company_id: int | None,
    account_id: int | None,
    action: str,
    details: dict[str, Any],
) -> None:
    """A log row for anything that is not an inbound message or a status."""
    session.add(
        IntegrationLog(
            company_id=company_id,
            account_id=account_id,
            action=action,
            details=sanitize(details),
        )
    )


def _advances(current: str, new: str) -> bool:
    if new == "failed":
        return current not in {"read", "played", "failed"}
    if new not in _STATUS_RANK:
        return False
    return _STATUS_RANK[new] > _STATUS_RANK.get(current, -1)
