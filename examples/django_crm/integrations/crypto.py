"""Access tokens at rest: Fernet with INTEGRATION_ENCRYPTION_KEY (seed section 8)."""

from __future__ import annotations

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet() -> Fernet:
    key = settings.INTEGRATION_ENCRYPTION_KEY
    if not key:
        raise ImproperlyConfigured(
            "INTEGRATION_ENCRYPTION_KEY is not set: generate one with "
            '`python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"`'
        )
    try:
        return Fernet(key)
    except ValueError as error:
        raise ImproperlyConfigured(
            f"INTEGRATION_ENCRYPTION_KEY is not a Fernet key: {error}"
        ) from None


def encrypt(token: str) -> str:
    return _fernet().encrypt(token.encode("utf-8")).decode("ascii")


def decrypt(stored: str) -> str:
    return _fernet().decrypt(stored.encode("ascii")).decode("utf-8")
