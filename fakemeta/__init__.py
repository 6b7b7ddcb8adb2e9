"""fakemeta: a fake Meta for WhatsApp Cloud API webhooks.

Three sub-packages: `fakemeta.simulator` (Meta's side: payloads, encoding,
signing, delivery, the fake Graph API, load), `fakemeta.contract_tests` (the
conformance suite, its runner and the pytest plugin) and
`fakemeta.reference_receiver` (a receiver that passes the suite).

The names below are the public API, re-exported from where they live. Each is
imported when first asked for, so that `import fakemeta` (and with it every
`fakemeta` command, `--help` included) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakemeta.contract_tests.config import SuiteConfig
    from fakemeta.contract_tests.plugin import ContractTarget
    from fakemeta.contract_tests.runner import run
    from fakemeta.simulator.clock import CompressedClock, ManualClock, RealClock
    from fakemeta.simulator.delivery import Delivery
    from fakemeta.simulator.encoding import encode
    from fakemeta.simulator.envelopes import Account, Customer
    from fakemeta.simulator.handshake import handshake
    from fakemeta.simulator.sender import NO_RETRIES, Sender
    from fakemeta.simulator.signing import sign, verify_signature
    from fakemeta.simulator.targets import AsgiTarget, HttpTarget, WsgiTarget, target_for

#: Public name -> the module it lives in.
_LAZY = {
    "Account": "fakemeta.simulator.envelopes",
    "AsgiTarget": "fakemeta.simulator.targets",
    "CompressedClock": "fakemeta.simulator.clock",
    "ContractTarget": "fakemeta.contract_tests.plugin",
    "Customer": "fakemeta.simulator.envelopes",
    "Delivery": "fakemeta.simulator.delivery",
    "HttpTarget": "fakemeta.simulator.targets",
    "ManualClock": "fakemeta.simulator.clock",
    "NO_RETRIES": "fakemeta.simulator.sender",
    "RealClock": "fakemeta.simulator.clock",
    "Sender": "fakemeta.simulator.sender",
    "SuiteConfig": "fakemeta.contract_tests.config",
    "WsgiTarget": "fakemeta.simulator.targets",
    "encode": "fakemeta.simulator.encoding",
    "handshake": "fakemeta.simulator.handshake",
    "run": "fakemeta.contract_tests.runner",
    "sign": "fakemeta.simulator.signing",
    "target_for": "fakemeta.simulator.targets",
    "verify_signature": "fakemeta.simulator.signing",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
    elif name == "__version__":
        from importlib.metadata import version

        value = version("fakemeta")
    else:
        raise AttributeError(f"module 'fakemeta' has no attribute {name!r}")
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "NO_RETRIES",
    "Account",
    "AsgiTarget",
    "CompressedClock",
    "ContractTarget",
    "Customer",
    "Delivery",
    "HttpTarget",
    "ManualClock",
    "RealClock",
    "Sender",
    "SuiteConfig",
    "WsgiTarget",
    "__version__",
    "encode",
    "handshake",
    "run",
    "sign",
    "target_for",
    "verify_signature",
]
