"""Eras: which of Meta's webhook shapes a payload follows.

Meta changes what a webhook carries without changing its envelope, and a
receiver written before a change keeps running against the old shapes until
its owners move. fakemeta generates the current shapes by default; an era
pins the older ones for a receiver that is still on them.

Two eras, named for the year their shapes were what Meta sent:

- **2025**: Graph API v23.0 and before, as sent until the business-scoped
  user id rollout. A user is a phone number: `contacts[] {profile {name},
  wa_id}`, `from`, `statuses[].recipient_id`. Statuses carry `conversation`
  with `pricing`; pricing is conversation-based (CBP) until 2025-07-01 and
  per-message (PMP) after it, so both occur.
- **2026** (current): Graph API v24.0 and later with business-scoped user ids.
  Every contact carries `user_id` (and `parent_user_id` for businesses
  with parent ids enabled), every message `from_user_id`; a user who set a
  username may have no `wa_id`/`from` at all; `sent`, `delivered` and
  `read` statuses come with a `contacts` array and `recipient_user_id`;
  `user_changed_user_id` system messages and the `user_id_update` field
  exist; `conversation` is gone from statuses except in a free entry point
  window; pricing is PMP only; media messages always carry `url` and
  unsupported messages their `unsupported {type}` (both arrived during 2025);
  messages from group chats carry `group_id`, and group statuses
  `recipient_type` "group" (Meta's group messages reference, Updated Jun 17,
  2026, and the business-scoped user id guide's group status syntax).

Boundaries and sources:
- 2025-07-01, per-message pricing: Meta's "Pricing updates on the WhatsApp
  Business Platform" (CBP ends 2025-07-01; `pricing_model` "PMP",
  `pricing.type`).
- 2025-10-08, Graph API v24.0: Meta's status messages webhook reference
  (Updated May 21, 2026): `conversation` "Omitted entirely for v24.0+
  unless webhook is for a free entry point conversation".
- 2026-03-31, business-scoped user ids in webhooks: Meta's "Business-scoped
  user IDs" guide (Updated Mar 31, 2026; major update Mar 18, 2026) and its
  messages webhook reference (Updated Jun 17, 2026); BSPs' rollout notes
  (YCloud "BSUID rollout starting March 31, 2026", Sinch March 2026).

The 2026 era starts at the BSUID rollout: v24.0's status changes landed in
late 2025, but receivers met both changes as "the 2026 shapes", and no
receiver needs v24.0 statuses without business-scoped ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fakemeta.simulator.errors import UnknownEra

__all__ = ["CURRENT", "ERAS", "ERA_NAMES", "Era", "era"]


@dataclass(frozen=True)
class Era:
    """What one era's payloads carry. Builders and strategies read these
    flags; nothing else should compare era names."""

    name: str
    #: Contacts carry `user_id`, messages `from_user_id`, statuses
    #: `recipient_user_id`, and status deliveries a `contacts` array.
    business_scoped_ids: bool
    #: `sent`/`delivered`/`read` statuses carry a `conversation` object;
    #: when False, only those in a free entry point window do (v24.0+).
    conversation_on_statuses: bool
    #: The `pricing.pricing_model` values statuses of this era carry.
    pricing_models: tuple[str, ...]
    #: Every media message carries its download `url` and every unsupported
    #: message its `unsupported {type}`; False: some do (both arrived in 2025).
    complete_media_and_unsupported: bool
    #: Messages from group chats (`group_id`) and group statuses
    #: (`recipient_type` "group") occur.
    groups: bool
    #: The share of generated users with a username and no phone number.
    phoneless_share: float
    #: The Graph API version whose webhooks this era follows.
    graph_version: str

    def __str__(self) -> str:
        return self.name


ERAS: Final = {
    "2025": Era(
        name="2025",
        business_scoped_ids=False,
        conversation_on_statuses=True,
        pricing_models=("CBP", "PMP"),
        complete_media_and_unsupported=False,
        groups=False,
        phoneless_share=0.0,
        graph_version="v23.0",
    ),
    "2026": Era(
        name="2026",
        business_scoped_ids=True,
        conversation_on_statuses=False,
        pricing_models=("PMP",),
        complete_media_and_unsupported=True,
        groups=True,
        phoneless_share=0.1,
        graph_version="v24.0",
    ),
}

ERA_NAMES: Final = tuple(ERAS)

#: The era everything generates unless told otherwise: what Meta sends now.
CURRENT: Final = ERAS["2026"]


def era(value: Era | str | int | None) -> Era:
    """The era named by `value` (an `Era`, "2025", 2026, ...); None is `CURRENT`."""
    if value is None:
        return CURRENT
    if isinstance(value, Era):
        return value
    found = ERAS.get(str(value).strip())
    if found is None:
        raise UnknownEra(
            f"unknown era {value!r}: use one of {', '.join(ERA_NAMES)} "
            f"(the current shapes are {CURRENT.name})"
        )
    return found
