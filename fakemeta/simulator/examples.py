"""Named examples: one canonical message per inbound variant, and the
statuses, `value.errors` deliveries and other fields a receiver must accept.

The catalog (fixtures, `fakemeta send URL <name>`) and the contract suite
build from these. Every function is deterministic given the `random.Random`
it is passed.
"""

from __future__ import annotations

from fakemeta.simulator._examples import (
    error_examples,
    field_examples,
    status_example_payloads,
    status_examples,
)
from fakemeta.simulator._message_examples import identity_examples, message_examples

__all__ = [
    "error_examples",
    "field_examples",
    "identity_examples",
    "message_examples",
    "status_example_payloads",
    "status_examples",
]
