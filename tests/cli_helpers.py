"""The `fakemeta` command line as the CLI tests run it: in-process, or as a
process of its own.

`run` goes through `main()`, so that a test sees the exit status and the
captured output without a subprocess; the tests that must see what a user
sees (one line, no traceback, the working directory, a pipe, `.env`) run a
real process with `fakemeta_process` instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, TypedDict, Unpack, overload

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


#: `fakemeta ARGS...` in a process of its own, as the console script runs it.
MAIN = "from fakemeta.simulator.cli import main; main()"
#: PATH with this interpreter's scripts (`fakemeta` among them) first, as after
#: `pip install`.
INSTALLED_PATH = f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin"


class ProcessOptions(TypedDict, total=False):
    """`fakemeta_process`'s options but `text` and `stdin` (whose types go together)."""

    program: str
    cwd: Path | None
    env: Mapping[str, str] | None
    inherit_env: bool
    path: str | None
    no_color: bool
    timeout: float


@overload
def fakemeta_process(
    *args: str,
    text: Literal[False] = ...,
    stdin: bytes | None = ...,
    **options: Unpack[ProcessOptions],
) -> subprocess.CompletedProcess[bytes]: ...
@overload
def fakemeta_process(
    *args: str, text: Literal[True], stdin: str | None = ..., **options: Unpack[ProcessOptions]
) -> subprocess.CompletedProcess[str]: ...


def fakemeta_process(
    *args: str,
    text: bool = False,
    stdin: bytes | str | None = None,
    program: str = MAIN,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = False,
    path: str | None = None,
    no_color: bool = False,
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes] | subprocess.CompletedProcess[str]:
    """`fakemeta ARGS...` as a process of its own; its output captured.

    `program` is the Python code run with `-c` (`MAIN`, or one that first
    changes what the process can import). `text`: the output as `str`, else
    `bytes`. `stdin`: what the process reads (`None`: this process's own
    standard input).

    The environment: with `inherit_env`, this process's own, `env` on top;
    otherwise nothing but PATH (`path`, or this process's PATH when `None`),
    NO_COLOR=1 when `no_color`, and `env`.
    """
    environment: dict[str, str] | None
    if inherit_env:
        environment = {**os.environ, **env} if env else None
    else:
        environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin") if path is None else path}
        if no_color:
            environment["NO_COLOR"] = "1"
        environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", program, *args],
        input=stdin,
        capture_output=True,
        text=text,
        timeout=timeout,
        cwd=cwd,
        env=environment,
        check=False,
    )
