"""Load generation: Meta's webhook traffic at load-test rates (`fakemeta load`).

The data flow, one module per step:

    mix.py      --mix text=8,image=1,status=3  ->  Mix
    bodies.py   builders -> templates -> unique, Meta-encoded, signed bodies
    engine.py   one worker: keep-alive connections, rate, Meta's duplicates and retries,
                in layers: _pacing.py (what to send when), _outcomes.py (answers,
                retries, duplicates), _connecting.py (connections and reconnects)
    runner.py   worker processes, merged counts, stall and Ctrl-C handling
    report.py   progress line, final table, JSON report, --fail-if thresholds
    probe.py    what the receiver stored against what it acknowledged

`fakemeta/simulator/cli/_load.py` wires them into the command. The bodies and the
mix are imported here; the engine, runner and reports (asyncio, sockets,
processes) only when first asked for, so that `fakemeta.simulator.load.bodies` stays
cheap to import (a Locust process imports it before gevent patches the
standard library).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from fakemeta.simulator.load.bodies import BodyFactory, BodySpec, Update, build_update
from fakemeta.simulator.load.mix import DEFAULT_MIX, Mix, parse_mix

_LAZY = {
    "WorkerPlan": "engine",
    "ProbeCount": "probe",
    "Summary": "report",
    "Threshold": "report",
    "parse_threshold": "report",
    "Progress": "runner",
    "RunResult": "runner",
    "plans_for": "runner",
    "run": "runner",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"fakemeta.simulator.load.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'fakemeta.simulator.load' has no attribute {name!r}")


__all__ = [
    "DEFAULT_MIX",
    "BodyFactory",
    "BodySpec",
    "Mix",
    "ProbeCount",
    "Progress",
    "RunResult",
    "Summary",
    "Threshold",
    "Update",
    "WorkerPlan",
    "build_update",
    "parse_mix",
    "parse_threshold",
    "plans_for",
    "run",
]
