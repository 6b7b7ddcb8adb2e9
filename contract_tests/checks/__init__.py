"""The checks, one module per requirement family; importing registers them."""

from contract_tests.checks import (
    handshake,  # noqa: F401
    rate,  # noqa: F401
    robustness,  # noqa: F401
    signature,  # noqa: F401
    store,  # noqa: F401
    store_content,  # noqa: F401
    timing,  # noqa: F401
)
