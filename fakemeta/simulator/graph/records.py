"""What the fake Graph API remembers: messages both ways and uploaded media.

Plain records held by `GraphState` (under its lock) and rendered as dicts for
the control API, the respx mock's assertions and the tests. No HTTP here.

An outbound message carries its *timeline*: the statuses Meta will report and
when (clock time), fixed when the message is accepted. Its current status is
read off the timeline against the clock, so the ticks move with time even when
no dispatcher runs (the in-process respx mock) and jump when the control API
advances the clock. `notified` lists the status webhooks the dispatcher has
actually delivered (`GraphState.mark_status`).

A user is a number (`wa_id`) and, from the 2026 era, a business-scoped
`user_id`; a message sent to a business-scoped id keeps it as `recipient`
(with no `to`), and a user the server knows by id only has no `wa_id`.
`user` is the key their conversation is kept under: the number when the
server knows it, else the business-scoped id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["TICKS", "InboundMessage", "Media", "OutboundMessage"]

#: Ticks as the customer's phone shows them: 0 a clock (not yet sent) or a
#: failure, 1 one grey tick, 2 two grey ticks, 3 two blue ticks.
TICKS: Final = {"accepted": 0, "failed": 0, "sent": 1, "delivered": 2, "read": 3}


@dataclass
class OutboundMessage:
    """A message the business sent through `POST /{phone-number-id}/messages`."""

    id: str
    phone_number_id: str
    to: str | None  # as the request gave it; None for a send to `recipient`
    wa_id: str | None  # digits only; None: sent to a user id whose number is unknown
    type: str
    content: Any  # the object under the type's key (`{"body": ...}` for text)
    request: dict[str, Any]
    created_at: float
    category: str  # pricing category: service, utility, marketing, authentication
    context: str | None = None  # the message id it replies to
    failure: int | None = None  # the error code of its `failed` status, if any
    timeline: list[tuple[str, float]] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    #: The business-scoped user id or parent BSUID the request's `recipient`
    #: named (a send without `to`).
    recipient: str | None = None
    #: The recipient's business-scoped ids as its statuses carry them (2026).
    user_id: str | None = None
    parent_user_id: str | None = None

    @property
    def user(self) -> str:
        """The key of the conversation it belongs to: the number, else the user id."""
        found = self.wa_id or self.user_id or self.recipient
        assert found is not None
        return found

    def status_at(self, now: float) -> str:
        """The latest status due by `now` (`accepted` before the first)."""
        current = "accepted"
        for status, due_at in self.timeline:
            if due_at <= now:
                current = status
        return current

    def as_dict(self, now: float) -> dict[str, Any]:
        status = self.status_at(now)
        result: dict[str, Any] = {
            "direction": "outbound",
            "id": self.id,
            "phone_number_id": self.phone_number_id,
            "to": self.to,
            "wa_id": self.wa_id,
            **_present(
                recipient=self.recipient,
                user_id=self.user_id,
                parent_user_id=self.parent_user_id,
            ),
            "type": self.type,
            "content": self.content,
            "timestamp": str(int(self.created_at)),
            "status": status,
            "ticks": TICKS[status],
            "category": self.category,
            "timeline": [{"status": s, "at": at} for s, at in self.timeline],
            "notified": list(self.notified),
            "request": self.request,
        }
        if self.context is not None:
            result["context"] = {"message_id": self.context}
        if self.failure is not None:
            result["error_code"] = self.failure
        return result


@dataclass
class InboundMessage:
    """A customer's message, as the control API delivered it to the receiver."""

    id: str
    phone_number_id: str
    wa_id: str | None  # None: a user who wrote without sharing their number
    type: str
    content: Any
    timestamp: str
    message: dict[str, Any]  # the whole webhook message object
    read: bool = False  # the business marked it as read
    user_id: str | None = None  # the message's `from_user_id` (2026)

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "direction": "inbound",
            "id": self.id,
            "phone_number_id": self.phone_number_id,
            "wa_id": self.wa_id,
            **_present(user_id=self.user_id),
            "type": self.type,
            "content": self.content,
            "timestamp": self.timestamp,
            "status": "read" if self.read else "received",
            "message": self.message,
        }


@dataclass
class Media:
    """An uploaded file. `sha256` is hex, as `GET /{media-id}` reports it."""

    id: str
    phone_number_id: str
    data: bytes
    mime_type: str
    sha256: str
    filename: str | None
    uploaded_at: float

    @property
    def file_size(self) -> int:
        return len(self.data)


def _present(**values: str | None) -> dict[str, str]:
    """The given keys whose value is not None, in order."""
    return {key: value for key, value in values.items() if value is not None}
