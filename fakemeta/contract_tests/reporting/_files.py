"""Report files: checked before the run, written whole or not at all.

A CI job that reads `report.json` while fakemeta is writing it, or after a
crash mid-write, must never see half a report: each file is written to a
temporary file in the same directory and renamed over the target.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from fakemeta.contract_tests.errors import ContractUsageError

__all__ = ["check_writable", "write_atomic"]

_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def check_writable(path: Path, option: str) -> None:
    """Raise `ContractUsageError` (one line, exit 2) when `path` cannot be written.

    Called before the suite runs, so a typo in a report path costs nothing.
    """
    directory = path.parent
    if not directory.is_dir():
        raise ContractUsageError(
            f"{option} {path}: the directory {directory} does not exist; create it first"
        )
    if path.is_dir():
        raise ContractUsageError(f"{option} {path}: is a directory; give a file name")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ContractUsageError(f"{option} {path}: cannot write in {directory}")


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename."""
    # os.open with 0o666 lets the kernel apply the umask, as for any file we
    # write (tempfile's 0600 would make CI artifacts unreadable to others).
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
