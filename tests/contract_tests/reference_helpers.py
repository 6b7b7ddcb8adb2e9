"""The reference receiver as the suite's passing target, for the check tests."""

from __future__ import annotations

from typing import Any

from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.probes import HttpProbe
from fakemeta.reference_receiver.serve import Running


def reference_config(running: Running, **overrides: Any) -> SuiteConfig:
    """A `SuiteConfig` for `running` with its secrets, phone number id and probe."""
    settings: dict[str, Any] = {
        "target": running.url,
        "verify_token": running.verify_token,
        "app_secret": running.app_secret,
        "phone_number_id": running.phone_number_id,
        "probe": HttpProbe(running.probe_url, running.probe_token),
        "probe_url": running.probe_url,
    }
    settings.update(overrides)
    return SuiteConfig(**settings)
