"""The checks, one module per requirement family; importing registers them."""

from contract_tests.checks import handshake  # noqa: F401
