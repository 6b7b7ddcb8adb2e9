"""The `fakemeta` command line run in-process, as the CLI tests run it.

Through `main()`, so that a test sees the exit status and the captured
output without a subprocess; the tests that must see what a user sees (one
line, no traceback) run a real process instead.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fakemeta.simulator.cli import main

#: `fakemeta ARGS...` in-process: exit status, stdout, stderr.
Cli = Callable[..., tuple[int, str, str]]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`fakemeta ARGS...` through `main()`: its exit status, stdout and stderr."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err
