"""Encryption at rest for integration access tokens (Fernet, with key rotation).

`INTEGRATION_ENCRYPTION_KEY` holds one or more Fernet keys separated by
commas: the first encrypts, all of them decrypt. To rotate, put a new key
first, keep the old ones after it, run `fakemeta receiver rotate-key`, then
drop the old keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["InvalidToken", "TokenCipher"]


class TokenCipher:
    """Encrypts and decrypts access tokens with a list of Fernet keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is needed")
        self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in keys])

    def __repr__(self) -> str:
        return "TokenCipher(<keys hidden>)"

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """The clear token; raises `InvalidToken` when no configured key opens it."""
        return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")

    def rotate(self, ciphertext: str) -> str:
        """The same token re-encrypted with the first (newest) key."""
        return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
