"""Shared by the load tests: the marker that skips without Locust, Locust's
environment and the wait for its processes, the ready locustfile run in a
process, and the check that `fakemeta load` refuses bad options in one line.
(The reference receiver the Locust runs deliver to is conftest's `receiver`.)

Locust runs in subprocesses only: importing it monkey-patches the standard
library with gevent, which the test process must not be.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import run

#: For `pytestmark`: the test is skipped where Locust is not installed.
NEEDS_LOCUST = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None,
    reason="locust is not installed (pip install -e '.[load]')",
)

PHONE_NUMBER_ID = "109876543210987"  # not the default: must reach the workers from the master
LOCUST_TIMEOUT = 30.0  # seconds for a whole Locust run, start to exit
#: The ready locustfile, run as a program: `python -m ...locustfile ARGS...`.
READY_LOCUSTFILE = [sys.executable, "-m", "fakemeta.simulator.load.locustfile"]
#: A URL nothing answers at.
NOWHERE = "http://127.0.0.1:9/webhook"


def locust_environment(ids_dir: Path) -> dict[str, str]:
    """This process's environment without the settings the master passes on."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("META_CLIENT_SECRET", "FAKEMETA_PHONE_NUMBER_ID")
        and not k.startswith("LOCUST_")
    }
    env["FAKEMETA_TEST_IDS"] = str(ids_dir)
    return env


def finish(processes: list[subprocess.Popen[bytes]], logs: list[Path]) -> list[int]:
    """Wait for every process, the first (the master) within LOCUST_TIMEOUT and
    the rest within 10 s of it; kill what is left on failure and show the output."""
    deadline = time.monotonic() + LOCUST_TIMEOUT
    codes = []
    try:
        for process in processes:
            codes.append(process.wait(timeout=max(0.1, deadline - time.monotonic())))
            deadline = min(deadline, time.monotonic() + 10)
        return codes
    except subprocess.TimeoutExpired:
        output = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
        pytest.fail(f"Locust did not finish in {LOCUST_TIMEOUT:g} s\n{output}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def run_locustfile_briefly(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The ready locustfile headless for 1 s against a closed port, with ARGS,
    in `locust_environment(tmp_path)`: its exit status and text output."""
    return subprocess.run(
        [*READY_LOCUSTFILE, "--headless", "-t", "1s", "--host", "http://127.0.0.1:9/", *args],
        env=locust_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=LOCUST_TIMEOUT,
        check=False,
    )


def assert_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    """`fakemeta load NOWHERE --app-secret s ARGS...` exits 2 with one line
    saying `says`, no traceback and no output."""
    code, out, err = run(capsys, "load", NOWHERE, "--app-secret", "s", *args)
    assert code == 2
    assert says in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert out == ""
