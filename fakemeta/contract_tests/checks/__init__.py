"""The checks, one module per requirement family; importing registers them."""

from fakemeta.contract_tests.checks import (
    codes,  # noqa: F401
    handshake,  # noqa: F401
    identity,  # noqa: F401
    rate,  # noqa: F401
    robustness,  # noqa: F401
    signature,  # noqa: F401
    store,  # noqa: F401
    store_content,  # noqa: F401
    timing,  # noqa: F401
)
