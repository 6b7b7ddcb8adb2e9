"""Test-wide settings: Hypothesis profiles chosen by environment variable.

`ci` keeps the whole run within minutes; `dev` is the everyday default;
`thorough` is for a long local hunt. CI sets `CI=true`, which selects `ci`
unless HYPOTHESIS_PROFILE says otherwise.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The CLI reads `.env` from the current directory: not a developer's own,
# during this run (tests that want one run a subprocess with an environment
# of their own).
os.environ["FAKEMETA_ENV_FILE"] = ""

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
