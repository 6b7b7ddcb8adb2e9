"""Access tokens at rest: encrypted with Fernet, read from the raw row, rotated between keys."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from receiver_helpers import base_config, build_app

from fakemeta.reference_receiver.accounts import rotate_tokens
from fakemeta.reference_receiver.crypto import TokenCipher
from fakemeta.reference_receiver.state import receiver_state

TOKEN = "EAAG-secret-access-token"


def raw_token(tmp_path: Path) -> tuple[str, str]:
    connection = sqlite3.connect(tmp_path / "receiver.sqlite3")
    try:
        row = connection.execute(
            'SELECT access_token_encrypted, "metadata" FROM integration_account'
        ).fetchone()
    finally:
        connection.close()
    return row[0], row[1]


def test_access_token_is_encrypted_in_the_raw_row(tmp_path: Path, app) -> None:
    stored, metadata = raw_token(tmp_path)
    assert TOKEN not in stored
    assert TOKEN not in metadata
    assert stored.startswith("gAAAAA")  # a Fernet token
    assert receiver_state(app).cipher.decrypt(stored) == TOKEN


def test_rotation_reencrypts_with_the_new_key_and_old_key_can_go(tmp_path: Path) -> None:
    old = Fernet.generate_key().decode()
    new = Fernet.generate_key().decode()
    app = build_app(base_config(tmp_path, INTEGRATION_ENCRYPTION_KEY=old))
    state = receiver_state(app)
    before, _ = raw_token(tmp_path)
    assert rotate_tokens(state.sessions, TokenCipher([new, old])) == 1
    after, _ = raw_token(tmp_path)
    assert after != before
    assert TokenCipher([new]).decrypt(after) == TOKEN
    with pytest.raises(InvalidToken):
        TokenCipher([old]).decrypt(after)
    state.close()


def test_rotation_without_the_old_key_changes_nothing(tmp_path: Path) -> None:
    app = build_app(base_config(tmp_path))
    state = receiver_state(app)
    before, _ = raw_token(tmp_path)
    with pytest.raises(InvalidToken):
        rotate_tokens(state.sessions, TokenCipher([Fernet.generate_key().decode()]))
    assert raw_token(tmp_path)[0] == before
    state.close()


def test_cipher_repr_hides_keys() -> None:
    key = Fernet.generate_key().decode()
    assert key not in repr(TokenCipher([key]))
