"""`fakemeta.simulator.load.locust` under Locust itself: a master and two workers on
loopback against the reference receiver, counted at the receiver.

Locust runs in subprocesses only: importing it monkey-patches the standard
library with gevent, which this test process must not be. The distributed
run's locustfile subclasses the shipped user class the way a user would,
with `record_ids` on, and each user writes the ids of its acknowledged
bodies to a file when it stops. The test then checks, against Locust's own
count (`--json-file`) and the reference receiver's probe: no failures (so
every signature verified), as many acknowledged bodies as Locust counted,
every message id distinct (so every body unique, across workers too), and
each stored exactly once, for the phone number id the master was given.
The ready locustfile, a missing app secret and the settings' precedence
are checked the same way, in subprocesses. The marker and the helpers are
`load_helpers`', the receiver fixture conftest's.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from load_helpers import (
    LOCUST_TIMEOUT,
    NEEDS_LOCUST,
    PHONE_NUMBER_ID,
    READY_LOCUSTFILE,
    finish,
    locust_environment,
    run_locustfile_briefly,
)

from fakemeta.reference_receiver.serve import Running

pytestmark = NEEDS_LOCUST

RUN_SECONDS = 4
BATCH = 2

LOCUSTFILE = """
import os
from pathlib import Path

from locust import constant_pacing

from fakemeta.simulator.load.locust import WhatsAppWebhookUser


class Recorded(WhatsAppWebhookUser):
    record_ids = True
    wait_time = constant_pacing(0.05)  # ~20 bodies a second a user: a bounded count

    def on_stop(self):
        out = Path(os.environ["FAKEMETA_TEST_IDS"]) / f"{os.getpid()}-{id(self)}.ids"
        out.write_text("\\n".join(self.acknowledged_ids))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _locust(*args: str | Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "locust", *map(str, args)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _totals(json_file: Path) -> dict[str, Any]:
    """Locust's final POST stats from `--json-file PREFIX` (written to PREFIX.json)."""
    entries = json.loads(json_file.with_suffix(".json").read_text())
    posts = [e for e in entries if e["method"] == "POST"]
    assert len(posts) == 1, entries
    return dict(posts[0])


def test_master_and_two_workers_deliver_every_acknowledged_message_once(
    receiver: Running, tmp_path: Path
) -> None:
    locustfile = tmp_path / "webhook_locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    ids_dir = tmp_path / "ids"
    ids_dir.mkdir()
    env = locust_environment(ids_dir)
    port = str(_free_port())
    stats = tmp_path / "stats"
    logs = [tmp_path / "master.log", tmp_path / "worker-0.log", tmp_path / "worker-1.log"]
    master_args = (
        "-f", locustfile, "--master", "--master-bind-host", "127.0.0.1",
        "--master-bind-port", port, "--expect-workers", "2", "--expect-workers-max-wait", "20",
        "--headless", "--users", "4", "--spawn-rate", "4", "--run-time", f"{RUN_SECONDS}s",
        "--stop-timeout", "5", "--host", receiver.url, "--json-file", stats,
        # Only the master is told these (and the phone number id, in its
        # environment): the workers must take them from it.
        "--fakemeta-app-secret", receiver.app_secret,
        "--fakemeta-mix", "text=3,image=1,location=1", "--fakemeta-batch", str(BATCH),
    )  # fmt: skip
    master_env = {**env, "FAKEMETA_PHONE_NUMBER_ID": PHONE_NUMBER_ID}
    master = _locust(*master_args, env=master_env, log=logs[0])
    worker = ("-f", locustfile, "--worker", "--master-host", "127.0.0.1", "--master-port", port)
    workers = [_locust(*worker, env=env, log=log) for log in logs[1:]]
    codes = finish([master, *workers], logs)
    master_log = logs[0].read_text()
    assert codes == [0, 0, 0], master_log[-3000:]

    totals = _totals(stats)
    assert totals["num_failures"] == 0, master_log[-3000:]
    acknowledged = [
        line for f in sorted(ids_dir.glob("*.ids")) for line in f.read_text().split("\n") if line
    ]
    pids = {f.name.split("-")[0] for f in ids_dir.glob("*.ids")}
    assert len(pids) == 2, "both workers ran users"
    assert totals["num_requests"] > 20, "the run sent too little to show anything"
    assert len(acknowledged) == BATCH * totals["num_requests"]
    assert len(set(acknowledged)) == len(acknowledged), "every body's messages are new"

    headers = {"Authorization": f"Bearer {receiver.probe_token}"}
    with httpx.Client(base_url=receiver.probe_url, headers=headers, timeout=10) as probe:
        stored = {}
        for message_id in acknowledged:
            response = probe.get("/messages", params={"id": message_id})
            response.raise_for_status()
            stored[message_id] = response.json()["messages"]
    missing = [i for i, found in stored.items() if len(found) != 1]
    assert not missing, f"{len(missing)} of {len(stored)} not stored exactly once: {missing[:3]}"
    assert {m[0]["account"] for m in stored.values()} == {PHONE_NUMBER_ID}


def test_the_ready_locustfile_runs_against_the_reference_receiver(
    receiver: Running, tmp_path: Path
) -> None:
    stats = tmp_path / "stats"
    log = tmp_path / "locust.log"
    env = locust_environment(tmp_path)
    env["META_CLIENT_SECRET"] = receiver.app_secret
    command = [
        *READY_LOCUSTFILE, "--headless", "--users", "2", "--spawn-rate", "2", "--run-time", "2s",
        "--stop-timeout", "5", "--host", receiver.url, "--json-file", str(stats),
        "--fakemeta-phone-number-id", PHONE_NUMBER_ID,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    assert finish([process], [log]) == [0], log.read_text()[-3000:]
    totals = _totals(stats)
    assert totals["num_requests"] > 0
    assert totals["num_failures"] == 0, log.read_text()[-3000:]


def test_a_missing_app_secret_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_locustfile_briefly(tmp_path)
    assert result.returncode == 2, result.stderr
    assert "fakemeta: BadInput: no app secret: pass --fakemeta-app-secret" in result.stderr
    assert "Traceback" not in result.stderr


SETTINGS_SCRIPT = """
import argparse
import json

from fakemeta.simulator.errors import UsageError
from fakemeta.simulator.load.locust import WhatsAppWebhookUser, settings_for


class Mine(WhatsAppWebhookUser):
    app_secret = "from-class"
    mix = "text=1"
    batch = 3
    webhook_path = "/hook"


def options(**given):
    return argparse.Namespace(**given)


def described(settings):
    return [settings.app_secret, settings.mix, settings.batch, settings.webhook_path]


result = {
    "class": described(settings_for(Mine, None)),
    "options": described(
        settings_for(Mine, options(fakemeta_app_secret="from-option", fakemeta_batch=2))
    ),
    "empty option": described(settings_for(Mine, options(fakemeta_mix=""))),
    "errors": [],
}
for bad in ({"fakemeta_batch": 0}, {"fakemeta_era": "1999"}, {"fakemeta_mix": "nope=1"},
            {"fakemeta_phone_number_id": "+1 555"}):
    try:
        settings_for(Mine, options(**bad))
    except UsageError as exc:
        result["errors"].append(type(exc).__name__)
print(json.dumps(result))
"""


def test_settings_take_options_over_class_attributes_and_refuse_bad_ones() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SETTINGS_SCRIPT],
        capture_output=True,
        text=True,
        timeout=LOCUST_TIMEOUT,
        check=True,
    )
    found = json.loads(result.stdout)
    assert found["class"] == ["from-class", "text=1", 3, "/hook"]
    assert found["options"] == ["from-option", "text=1", 2, "/hook"]
    assert found["empty option"] == ["from-class", "text=1", 3, "/hook"]
    assert found["errors"] == ["BadInput", "UnknownEra", "BadInput", "BadInput"]
