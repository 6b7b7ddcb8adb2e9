"""The seed's CRM as SQLAlchemy 2 models: companies, accounts, clients, logs,
and the inbox of acknowledged deliveries waiting to be applied to them.

Idempotency lives here, in unique constraints, so that it holds across
threads, processes and servers: one client per (account, phone) and one log
per (account, action, message id). The schema itself is created by the
Alembic migrations in `migrations/`, never by `create_all` in production.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "ACTION_EVENT",
    "ACTION_MESSAGE_RECEIVED",
    "ACTION_STATUS_UNKNOWN",
    "Base",
    "Client",
    "Company",
    "InboxDelivery",
    "IntegrationAccount",
    "IntegrationLog",
    "Notification",
    "OutboundMessage",
    "utcnow",
]

ACTION_MESSAGE_RECEIVED = "whatsapp_message_received"
ACTION_STATUS_UNKNOWN = "whatsapp_status_unknown_message"
ACTION_EVENT = "whatsapp_webhook_event"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Company(Base):
    __tablename__ = "company"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    accounts: Mapped[list[IntegrationAccount]] = relationship(back_populates="company")


class IntegrationAccount(Base):
    """A company's connection to a platform; for WhatsApp, one business phone number."""

    __tablename__ = "integration_account"
    __table_args__ = (
        UniqueConstraint("platform", "phone_number_id", name="uq_account_platform_phone_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), index=True)
    platform: Mapped[str] = mapped_column(String(32), default="whatsapp")
    status: Mapped[str] = mapped_column(String(32), default="connected")
    # The seed keeps phone_number_id in metadata; a column copy makes the
    # lookup on every delivery an indexed one and lets the database keep it unique.
    phone_number_id: Mapped[str] = mapped_column(String(64))
    # "metadata" is reserved by SQLAlchemy's declarative base.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    access_token_encrypted: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    company: Mapped[Company] = relationship(back_populates="accounts")

    def __repr__(self) -> str:
        return (
            f"IntegrationAccount(id={self.id}, platform={self.platform!r}, "
            f"status={self.status!r}, phone_number_id={self.phone_number_id!r})"
        )


class Client(Base):
    """A contact of the company, created from the first message it sends."""

    __tablename__ = "client"
    __table_args__ = (
        UniqueConstraint("account_id", "phone", name="uq_client_account_phone"),
        UniqueConstraint("account_id", "user_id", name="uq_client_account_user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("integration_account.id"))
    source: Mapped[str] = mapped_column(String(32), default="whatsapp")
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    # A business-scoped user id (2026): present when Meta hides the number.
    user_id: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(512))
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    account: Mapped[IntegrationAccount] = relationship()


class IntegrationLog(Base):
    """What happened on an integration; one `whatsapp_message_received` per inbound message."""

    __tablename__ = "integration_log"
    __table_args__ = (
        UniqueConstraint("account_id", "action", "message_id", name="uq_log_account_action_msg"),
        Index("ix_log_message_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("integration_account.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    action: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(256))
    message_type: Mapped[str | None] = mapped_column(String(64))
    sender: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    account: Mapped[IntegrationAccount | None] = relationship()


class OutboundMessage(Base):
    """A message the company sent; Meta's status webhooks move its status forward."""

    __tablename__ = "outbound_message"
    __table_args__ = (UniqueConstraint("account_id", "message_id", name="uq_outbound_account_msg"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("integration_account.id"))
    message_id: Mapped[str] = mapped_column(String(256))
    recipient: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(32), default="accepted")
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    errors: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Notification(Base):
    """The outbox: one row per new inbound message for the company's apps to pick up."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    log_id: Mapped[int | None] = mapped_column(ForeignKey("integration_log.id"))
    channel: Mapped[str] = mapped_column(String(32), default="outbox")
    title: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InboxDelivery(Base):
    """A verified delivery, stored as received before the 200 and deleted once applied.

    `digest` is the delivery's verified HMAC-SHA256 (the signature header's
    32 bytes): an identical redelivery that arrives while the first is still
    waiting adds no second row. Rows are applied in `id` order by the drainer
    (`fakemeta/reference_receiver/drainer.py`); a row whose processing keeps failing is
    retried `attempts` times and then left here, with `last_error`, for a person.
    """

    __tablename__ = "webhook_inbox"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
