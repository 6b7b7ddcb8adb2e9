"""Hypothesis strategies for everything Meta sends to a WhatsApp webhook.

Plural nouns, composable, every value reproducible from the Hypothesis seed
(Faker is seeded from a draw). From parts to wholes:

- identifiers and parties: `wa_ids()`, `wamids()`, `customers()`, `accounts()`, ...
- text that hurts: `texts()`, `hostile_texts()`, `person_names()`
- messages: `text_messages(sender)`, ..., `inbound_messages(sender, types=...)`
- statuses, errors and other fields: `statuses()`, `status_sequences()`,
  `error_values()`, `field_values()`
- whole deliveries: `message_payloads()`, `status_payloads()`,
  `field_payloads()`, `error_payloads()`, `batches()`, `payloads()`
"""

from __future__ import annotations

from fakemeta.simulator.strategies import _envelopes, _fields, _ids, _messages, _statuses, _text
from fakemeta.simulator.strategies._envelopes import *  # noqa: F403
from fakemeta.simulator.strategies._fields import *  # noqa: F403
from fakemeta.simulator.strategies._ids import *  # noqa: F403
from fakemeta.simulator.strategies._messages import *  # noqa: F403
from fakemeta.simulator.strategies._statuses import *  # noqa: F403
from fakemeta.simulator.strategies._text import *  # noqa: F403

__all__ = sorted(
    {
        *_text.__all__,
        *_ids.__all__,
        *_messages.__all__,
        *_statuses.__all__,
        *_fields.__all__,
        *_envelopes.__all__,
    }
)
