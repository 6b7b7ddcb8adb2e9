"""`fakemeta check` as its end-to-end tests run it: as a real process, with
none of the environment variables its options fall back on."""

from __future__ import annotations

import subprocess
import sys

#: The environment variables `fakemeta check` reads its options from.
ENV_NAMES = (
    "META_WEBHOOK_VERIFY_TOKEN",
    "META_CLIENT_SECRET",
    "FAKEMETA_PHONE_NUMBER_ID",
    "FAKEMETA_PROBE_URL",
    "FAKEMETA_PROBE_TOKEN",
    "FAKEMETA_ERA",
)


def check_process(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`fakemeta check ARGS...` as a real process (what a user sees: one line,
    no traceback), with PATH and `env` its only environment."""
    return subprocess.run(
        [sys.executable, "-c", "from fakemeta.simulator.cli import main; main()", "check", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )
