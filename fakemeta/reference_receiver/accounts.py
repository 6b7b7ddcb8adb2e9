"""Administrative writes shared by the CLI and `serve`: companies, accounts, key rotation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .crypto import TokenCipher
from .models import Company, IntegrationAccount

__all__ = ["AccountExists", "add_account", "rotate_tokens"]


class AccountExists(Exception):
    """A WhatsApp account with this phone number id is already registered.

    Fix: use another phone number id, or remove the existing account first.
    """


@dataclass(frozen=True)
class AddedAccount:
    account_id: int
    company_id: int
    company_created: bool


def add_account(
    sessions: sessionmaker[Session],
    cipher: TokenCipher,
    *,
    company: str,
    phone_number_id: str,
    phone_number: str,
    access_token: str,
    status: str = "connected",
) -> AddedAccount:
    """Create (or reuse) `company` and a connected WhatsApp account with an encrypted token."""
    with sessions() as session, session.begin():
        existing = session.execute(
            select(IntegrationAccount.id).where(
                IntegrationAccount.platform == "whatsapp",
                IntegrationAccount.phone_number_id == phone_number_id,
            )
        ).scalar()
        if existing is not None:
            raise AccountExists(
                f"a WhatsApp account with phone number id {phone_number_id} already exists"
            )
        owner = session.execute(select(Company).where(Company.name == company)).scalar()
        created = owner is None
        if owner is None:
            owner = Company(name=company)
            session.add(owner)
            session.flush()
        account = IntegrationAccount(
            company_id=owner.id,
            platform="whatsapp",
            status=status,
            phone_number_id=phone_number_id,
            meta={"phone_number_id": phone_number_id, "phone_number": phone_number},
            access_token_encrypted=cipher.encrypt(access_token),
        )
        session.add(account)
        session.flush()
        return AddedAccount(account.id, owner.id, created)


def rotate_tokens(sessions: sessionmaker[Session], cipher: TokenCipher) -> int:
    """Re-encrypt every stored access token with the first configured key; returns the count.

    Raises `cryptography.fernet.InvalidToken` (and changes nothing) when a
    token cannot be opened with any configured key.
    """
    with sessions() as session, session.begin():
        accounts = session.execute(select(IntegrationAccount)).scalars().all()
        for account in accounts:
            if account.access_token_encrypted:
                account.access_token_encrypted = cipher.rotate(account.access_token_encrypted)
        return len(accounts)
