"""The fake Graph API's state: configuration, windows, messages, media, rates.

State without HTTP (STYLE rule 7): `api.handle` reads and changes it, the
server, the respx mock (`mock.GraphMock`), the control API and the tests
share one instance. Every method takes the one `RLock`.

Public API (other modules depend on these names):

- `GraphSettings` (frozen): `access_tokens`, `phone_numbers` (phone number id
  -> `PhoneNumber`), `throughput_per_second` (80), `pair_rate_burst` (45) and
  `pair_rate_interval` (6 s; None turns the pair limit off),
  `undeliverable` numbers and `undeliverable_if` predicate, status timings
  `sent_after` / `delivered_after` / `read_after` (None skips that status),
  `templates` (name -> pricing category; None accepts any name),
  `default_template_category`, `window_seconds`, `media_url_ttl`,
  `media_base_url`, `era` (the webhook shapes, `fakemeta.simulator.eras`; default
  `eras.CURRENT`; a name such as "2025" is accepted too), and the memory
  bounds `max_media_bytes`, `max_messages`, `max_pending_webhooks` and
  `max_users` (see "Bounds" below).
- `GraphState(settings=None, *, clock=None, webhooks=None)`: `.settings`,
  `.era` (`settings.era`), `.clock` (`OffsetClock`), `.webhooks` (`WebhookQueue`).
- `record_inbound(phone_number_id, wa_id, message=None)`: a customer message
  was delivered: opens or extends the 24 h window, adds it to the transcript,
  and keeps the message's `from_user_id` as the number's user id (and its
  `from_parent_user_id`). `wa_id=None` with a message holding `from_user_id`
  records a user who wrote without sharing their number.
- `customer(wa_id)`: the user as this server's webhooks show them: in an era
  of business-scoped ids with `user_id(wa_id)`, the id an inbound message
  gave the number, else `user_id_of(wa_id)`, the id fakemeta derives from
  the number (the same on every run), and the parent id their messages
  carried, if any.
- `addressee(user_id)`: the user a business-scoped id or parent BSUID names
  (a send's `recipient`), or None when this server never met them. The
  server's contact book, like Meta's ("if you send a message/call to a
  user's phone number, or receive a message/call from a user's phone
  number, the user's phone number and BSUID will be added to your contact
  book", business-scoped user id guide, May 7, 2026): a user who wrote in
  (`record_inbound`) or whose number the business sent to (`remember`); the
  number is known only for those, never for a user who wrote by id alone.
- Conversations, windows and rate buckets are kept per user: under the
  number when the server knows it (a message sent to a user id whose number
  is known joins that number's conversation), else under the user id; the
  `wa_id` arguments of `window_open`, `conversation` and friends take either.
- `window_open(phone_number_id, wa_id)`, `window_expires_at(...)`.
- `conversation(phone_number_id, wa_id) -> list[dict]` (both directions, in
  order; see `records`), `conversations() -> list[dict]`,
  `sent_messages(phone_number_id=None, to=None)`, `message(message_id)`.
- `mark_status(message_id, status)`: the dispatcher calls it when it has
  delivered a status webhook. A message's *current* status is read off its
  timeline against the clock (so ticks move without a dispatcher too);
  `mark_status` records what the receiver has been told (`notified`).
- `reset()`: forget everything and empty the webhook queue.
- For `api` and `lifecycle`: `lock`, `phone_number(id)`, `valid_token(t)`,
  `undeliverable(wa_id)`, `template_category(name)`, `admit(id, wa_id)`,
  `record_outbound(m)`, `billing_conversation(...)`, `mark_read(id)`,
  `add_media` / `media` / `delete_media`, `media_url_hash(id, expires)`.

Bounds: a server left running for days, or loaded by a script, must not
grow without end. Media are kept up to `max_media_bytes` in all (default
256 MiB: two of Meta's largest, 100 MB documents), least recently used
evicted first; messages (both directions, transcripts included) up to
`max_messages` (default 10,000), oldest first; users up to `max_users`
(default 100,000), least recently used first. A user is what the server
keeps per customer: their windows, pair rate buckets and billing
conversations (per phone number id) and their contact-book entries (number,
user ids, parent id); any of `record_inbound`, `admit`, `remember`,
`record_outbound`, `billing_conversation`, `addressee` and the window
lookups uses them. Past the bound the least recently used user is forgotten
whole (as if never seen: no window, a fresh bucket, no contact-book entry
left behind); their transcript stays, bounded by `max_messages`. Entries
that no longer matter (a billing conversation past its expiry, a pair
bucket full again) are dropped when their user is used. `evicted()` counts
what was forgotten, `limits()` gives the bounds, and the first eviction of
each kind is logged on `fakemeta.serve`.

Rate limits: `throughput_per_second` accepted sends per phone number id in
any one second (Meta: 80 by default, error 130429); a token bucket per
(phone number, user) of `pair_rate_burst` messages refilled one every
`pair_rate_interval` seconds (Meta: one message every 6 s, bursts of up to
45 borrowed from the future, error 131056).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from fakemeta.simulator import eras, ids
from fakemeta.simulator.clock import OffsetClock
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.eras import Era
from fakemeta.simulator.graph.records import InboundMessage, Media, OutboundMessage
from fakemeta.simulator.graph.validation import BSUID
from fakemeta.simulator.graph.webhooks import Job, WebhookQueue

__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_PHONE_NUMBER",
    "GraphSettings",
    "GraphState",
    "PhoneNumber",
    "user_id_of",
]

log = logging.getLogger("fakemeta.serve")

DEFAULT_ACCESS_TOKEN = "fakemeta-access-token"  # noqa: S105 (a public test default)
DEFAULT_MAX_MEDIA_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_MESSAGES = 10_000
#: Webhooks waiting to be delivered (retries included), oldest dropped past it.
DEFAULT_MAX_PENDING_WEBHOOKS = 10_000
#: Customers whose windows, rate buckets, billing and contact-book entries are
#: kept (least recently used forgotten first).
DEFAULT_MAX_USERS = 100_000
_TEMPLATE_CATEGORIES = ("marketing", "utility", "authentication")


@dataclass(frozen=True)
class PhoneNumber:
    """A business phone number: its id, the number customers see, its WABA."""

    phone_number_id: str
    display_phone_number: str
    waba_id: str
    verified_name: str = "Fakemeta Test"

    @property
    def account(self) -> Account:
        """The webhook side's view of this number (`metadata`, `entry.id`)."""
        return Account(self.waba_id, self.phone_number_id, self.display_phone_number)


DEFAULT_PHONE_NUMBER = PhoneNumber("106540352242922", "15550783881", "102290129340398")


def user_id_of(wa_id: str) -> str:
    """The business-scoped user id fakemeta gives the user with number
    `wa_id` when nothing else named one: of the number's country, drawn from
    the number, so the same user keeps it across messages, statuses and runs."""
    return ids.bsuid(ids.country_of(wa_id), random.Random(wa_id))


def _default_numbers() -> Mapping[str, PhoneNumber]:
    return {DEFAULT_PHONE_NUMBER.phone_number_id: DEFAULT_PHONE_NUMBER}


@dataclass(frozen=True)
class GraphSettings:
    """How the fake Graph API behaves; resolved once, never changed."""

    access_tokens: frozenset[str] = frozenset({DEFAULT_ACCESS_TOKEN})
    phone_numbers: Mapping[str, PhoneNumber] = field(default_factory=_default_numbers)
    throughput_per_second: int = 80
    pair_rate_burst: int = 45
    pair_rate_interval: float | None = 6.0
    undeliverable: frozenset[str] = frozenset()
    undeliverable_if: Callable[[str], bool] | None = None
    sent_after: float = 0.5
    delivered_after: float | None = 1.0
    read_after: float | None = 3.0
    templates: Mapping[str, str] | None = None
    default_template_category: str = "utility"
    window_seconds: float = 24 * 60 * 60
    media_url_ttl: float = 5 * 60
    media_base_url: str | None = None
    #: The webhook shapes: business-scoped user ids and v24 statuses (2026),
    #: or numbers only and v23 statuses (2025). See `fakemeta.simulator.eras`.
    era: Era = eras.CURRENT
    #: Bytes of uploaded media kept (least recently used evicted first).
    max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES
    #: Messages kept, both directions (oldest evicted first).
    max_messages: int = DEFAULT_MAX_MESSAGES
    #: Webhooks waiting to be delivered (oldest dropped first, as Meta drops
    #: one whose retries ran out): an unverified or slow receiver must not
    #: grow the server without end.
    max_pending_webhooks: int = DEFAULT_MAX_PENDING_WEBHOOKS
    #: Users kept (windows, pair buckets, billing conversations, contact-book
    #: entries), least recently used forgotten first.
    max_users: int = DEFAULT_MAX_USERS

    def __post_init__(self) -> None:
        for bound in ("max_media_bytes", "max_messages", "max_pending_webhooks", "max_users"):
            value = getattr(self, bound)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Expected {bound} >= 1 but got {bound}={value!r}")
        object.__setattr__(self, "era", eras.era(self.era))
        tokens = frozenset(self.access_tokens)
        if not tokens or not all(isinstance(t, str) and t for t in tokens):
            raise ValueError(f"Expected non-empty token strings but got {self.access_tokens!r}")
        object.__setattr__(self, "access_tokens", tokens)
        numbers = dict(self.phone_numbers)
        for key, number in numbers.items():
            if not isinstance(number, PhoneNumber) or number.phone_number_id != key:
                raise ValueError(
                    f"Expected phone_numbers keyed by PhoneNumber.phone_number_id "
                    f"but got {key!r}: {number!r}"
                )
        object.__setattr__(self, "phone_numbers", MappingProxyType(numbers))
        object.__setattr__(self, "undeliverable", frozenset(self.undeliverable))
        if self.throughput_per_second < 1:
            raise ValueError(
                f"Expected throughput_per_second >= 1 but got {self.throughput_per_second!r}"
            )
        if self.pair_rate_burst < 1:
            raise ValueError(f"Expected pair_rate_burst >= 1 but got {self.pair_rate_burst!r}")
        if self.pair_rate_interval is not None and not self.pair_rate_interval > 0:
            raise ValueError(
                f"Expected pair_rate_interval > 0 or None but got {self.pair_rate_interval!r}"
            )
        for name in ("sent_after", "delivered_after", "read_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"Expected {name} >= 0 or None but got {name}={value!r}")
        categories = [self.default_template_category, *(self.templates or {}).values()]
        for category in categories:
            if category not in _TEMPLATE_CATEGORIES:
                raise ValueError(
                    f"Expected a template category from {_TEMPLATE_CATEGORIES} but got {category!r}"
                )
        if self.templates is not None:
            object.__setattr__(self, "templates", MappingProxyType(dict(self.templates)))


Pair = tuple[str, str]
BillingKey = tuple[str, str, str]
_MISSING = object()


class _User:
    """One user's entry in the state's LRU (`GraphState._users`): where their
    entries are in the per-user maps, so that forgetting them is O(their
    number), not a scan. Lists, not sets: they hold one entry per phone
    number id (and category) at most, and a user costs less memory."""

    __slots__ = ("billing", "ids", "pairs")

    def __init__(self) -> None:
        self.pairs: list[Pair] = []  # keys in `_last_inbound` and `_pair_buckets`
        self.billing: list[BillingKey] = []  # keys in `_billing`
        self.ids: list[str] = []  # user ids in `_numbers` (and `_parent_ids`) leading here

    def merge(self, other: _User) -> None:
        """Take over `other`'s entries (the same user, under another key until now)."""
        for pair in other.pairs:
            _add(self.pairs, pair)
        for billing in other.billing:
            _add(self.billing, billing)
        for user_id in other.ids:
            _add(self.ids, user_id)


def _add(keys: list[Any], key: Any) -> None:
    if key not in keys:
        keys.append(key)


class GraphState:
    """Everything the fake Graph API knows; see the module docstring."""

    def __init__(
        self,
        settings: GraphSettings | None = None,
        *,
        clock: OffsetClock | None = None,
        webhooks: WebhookQueue | None = None,
    ) -> None:
        self.settings = settings if settings is not None else GraphSettings()
        if webhooks is not None and clock is not None and webhooks.clock is not clock:
            raise ValueError("Expected webhooks built on the same clock as clock=")
        self.clock: OffsetClock = (
            clock if clock is not None else webhooks.clock if webhooks else OffsetClock()
        )
        self.webhooks = webhooks if webhooks is not None else WebhookQueue(self.clock)
        if self.webhooks.limit is None:
            self.webhooks.limit = self.settings.max_pending_webhooks
            self.webhooks.on_drop = self._dropped_webhook
        self.lock = threading.RLock()
        self._url_secret = secrets.token_bytes(16)
        self._evicted = {"messages": 0, "media": 0, "media_bytes": 0, "webhooks": 0, "users": 0}
        self._clear()

    def _clear(self) -> None:
        self._last_inbound: dict[Pair, float] = {}
        self._transcripts: dict[Pair, deque[InboundMessage | OutboundMessage]] = {}
        self._outbound: dict[str, OutboundMessage] = {}
        self._inbound: dict[str, InboundMessage] = {}
        # Every kept message, oldest first, with the transcript it is in.
        self._kept: deque[tuple[Pair, InboundMessage | OutboundMessage]] = deque()
        self._media: OrderedDict[str, Media] = OrderedDict()  # least recently used first
        self._media_bytes = 0
        self._sends: dict[str, deque[float]] = {}
        self._pair_buckets: dict[Pair, tuple[float, float]] = {}
        self._billing: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._user_ids: dict[str, str] = {}  # number -> the user id inbound messages gave it
        self._numbers: dict[str, str | None] = {}  # the contact book: user id -> number
        self._parents: dict[str, str] = {}  # parent BSUID -> user id
        self._parent_ids: dict[str, str] = {}  # user id -> parent BSUID
        # Every user the maps above hold, least recently used first, under the
        # key of their conversation (`_user`): their number when known, else
        # their user id. `_parents` and `_parent_ids` are each other's inverse;
        # every id in them, and every `_user_ids` value, is in `_numbers`.
        self._users: OrderedDict[str, _User] = OrderedDict()

    def reset(self) -> None:
        """Forget messages, windows, media and rates; empty the webhook queue."""
        with self.lock:
            self._clear()
            self.webhooks.clear()

    # -- configuration -------------------------------------------------------

    @property
    def era(self) -> Era:
        """The shapes of the webhooks this state's customers and statuses make."""
        return self.settings.era

    def customer(self, wa_id: str, name: str | None = None) -> Customer:
        """The user with number `wa_id`, as this era's webhooks show them: with
        a business-scoped `user_id` (the one their inbound messages carried,
        else `user_id_of(wa_id)`) where the era has them."""
        if not self.era.business_scoped_ids:
            return Customer(wa_id, name)
        user_id = self.user_id(wa_id)
        with self.lock:
            parent = self._parent_ids.get(user_id)
        return Customer(wa_id, name, user_id=user_id, parent_user_id=parent)

    def user_id(self, wa_id: str) -> str:
        """The business-scoped id of the user with number `wa_id`: the one
        their inbound messages carried, else `user_id_of(wa_id)`."""
        with self.lock:
            return self._user_ids.get(wa_id) or user_id_of(wa_id)

    def addressee(self, user_id: str) -> Customer | None:
        """The user `user_id` (a business-scoped id or a parent BSUID) names,
        as the statuses of a message sent to it show them: their user id, the
        parent id when known, and the number only when the contact book has
        it; None when this server has never met the user."""
        with self.lock:
            parent = None
            if user_id in self._parents:
                parent, user_id = user_id, self._parents[user_id]
            if user_id not in self._numbers:
                return None
            number = self._numbers[user_id]
            self._use(number or user_id)
            parent = parent or self._parent_ids.get(user_id)
            return Customer(number, user_id=user_id, parent_user_id=parent)

    def remember(self, wa_id: str) -> None:
        """The business sent to the number `wa_id`: its user id (the one its
        statuses carry) now leads to it (see `addressee`)."""
        user_id = self.user_id(wa_id)
        with self.lock:
            self._link(user_id, wa_id, self._touch(wa_id))
            self._trim()

    def _user(self, who: str) -> str:
        """The key of `who`'s conversation: a user id whose number is known
        leads to the number; anything else is its own key."""
        return self._numbers.get(who) or who

    def phone_number(self, phone_number_id: str) -> PhoneNumber | None:
        return self.settings.phone_numbers.get(phone_number_id)

    def valid_token(self, token: str | None) -> bool:
        return token is not None and any(
            hmac.compare_digest(token.encode(), known.encode())
            for known in self.settings.access_tokens
        )

    def undeliverable(self, wa_id: str) -> bool:
        predicate = self.settings.undeliverable_if
        return wa_id in self.settings.undeliverable or (
            predicate is not None and bool(predicate(wa_id))
        )

    def template_category(self, name: str) -> str | None:
        """The template's category, or None when templates are configured and
        `name` is not one of them."""
        templates = self.settings.templates
        if templates is None:
            return self.settings.default_template_category
        return templates.get(name)

    # -- the customer service window -----------------------------------------

    def record_inbound(
        self, phone_number_id: str, wa_id: str | None, message: Mapping[str, Any] | None = None
    ) -> None:
        """A customer message reached the business: open or extend the window
        and, given the webhook `message` object, add it to the transcript and
        keep its `from_user_id` as the user's id (see `customer`) and its
        `from_parent_user_id` as their parent id. `wa_id=None`: a user who
        wrote by business-scoped id alone (the message's `from_user_id`)."""
        with self.lock:
            now = self.clock.now()
            sender = _text(message, "from_user_id")
            if wa_id is not None:
                user_id = sender or self.user_id(wa_id)
            elif sender is not None:
                user_id = sender
            else:
                raise ValueError(
                    f"Expected a wa_id or a message with from_user_id but got {message!r}"
                )
            user = self._user(wa_id or user_id)
            known = self._touch(user)
            if wa_id is not None:
                if sender is not None:
                    self._user_ids[wa_id] = sender
                self._link(user_id, wa_id, known)
            elif user_id not in self._numbers:
                self._numbers[user_id] = None
                _add(known.ids, user_id)
            parent = _text(message, "from_parent_user_id")
            if parent is not None:
                self._set_parent(user_id, parent, known)
            self._last_inbound[(phone_number_id, user)] = now
            _add(known.pairs, (phone_number_id, user))
            self._trim()
            if message is None:
                return
            kind = str(message.get("type", "unknown"))
            entry = InboundMessage(
                id=str(message.get("id", "")),
                phone_number_id=phone_number_id,
                wa_id=wa_id,
                type=kind,
                content=message.get(kind),
                timestamp=str(message.get("timestamp", ids.timestamp(now))),
                message=dict(message),
                user_id=sender,
            )
            self._inbound[entry.id] = entry
            self._keep((phone_number_id, user), entry)

    def window_expires_at(self, phone_number_id: str, wa_id: str) -> float | None:
        with self.lock:
            user = self._user(wa_id)
            self._use(user)
            return self._expires(phone_number_id, user)

    def _expires(self, phone_number_id: str, user: str) -> float | None:
        """`window_expires_at` for a conversation key, using nobody."""
        last = self._last_inbound.get((phone_number_id, user))
        return None if last is None else last + self.settings.window_seconds

    def window_open(self, phone_number_id: str, wa_id: str) -> bool:
        expires = self.window_expires_at(phone_number_id, wa_id)
        return expires is not None and self.clock.now() < expires

    # -- rate limits ----------------------------------------------------------

    def admit(self, phone_number_id: str, wa_id: str) -> int | None:
        """Count one send against both limits: None when it may go, else the
        error code (130429 throughput, 131056 pair rate); a refused send
        counts against neither."""
        with self.lock:
            wa_id = self._user(wa_id)
            user = self._touch(wa_id)
            self._trim()
            now = self.clock.now()
            sends = self._sends.setdefault(phone_number_id, deque())
            while sends and sends[0] <= now - 1.0:
                sends.popleft()
            if len(sends) >= self.settings.throughput_per_second:
                return 130429
            interval = self.settings.pair_rate_interval
            if interval is not None:
                burst = float(self.settings.pair_rate_burst)
                tokens, then = self._pair_buckets.get((phone_number_id, wa_id), (burst, now))
                tokens = min(burst, tokens + max(0.0, now - then) / interval)
                if tokens < 1.0:
                    return 131056
                self._pair_buckets[(phone_number_id, wa_id)] = (tokens - 1.0, now)
                _add(user.pairs, (phone_number_id, wa_id))
            sends.append(now)
            return None

    # -- outbound messages ----------------------------------------------------

    def record_outbound(self, message: OutboundMessage) -> None:
        with self.lock:
            user = self._user(message.user)
            self._touch(user)
            self._trim()
            self._outbound[message.id] = message
            self._keep((message.phone_number_id, user), message)

    # -- users: the per-user maps, least recently used forgotten first ------------

    def _use(self, user: str) -> _User | None:
        """The LRU entry of the user whose conversation key is `user`, now
        the most recently used; None for a user this server does not keep."""
        found = self._users.get(user)
        if found is not None:
            self._users.move_to_end(user)
            self._prune(found)
        return found

    def _touch(self, user: str) -> _User:
        """`_use`, making the entry when there is none. The caller calls
        `_trim` once done: an operation may find two entries are one user."""
        found = self._use(user)
        if found is None:
            found = self._users[user] = _User()
        return found

    def _trim(self) -> None:
        """Past `max_users`, forget the least recently used users."""
        limit = self.settings.max_users
        while len(self._users) > limit:
            self._forget(next(iter(self._users)))
            self._evict("users", 1, f"--max-users {limit}")

    def _prune(self, user: _User) -> None:
        """Drop what no longer matters: billing conversations past their
        expiry, pair buckets full again (both as good as none)."""
        now = self.clock.now()
        if user.billing:
            for key in [k for k in user.billing if self._billing.get(k, ("", now))[1] <= now]:
                self._billing.pop(key, None)
                user.billing.remove(key)
        interval = self.settings.pair_rate_interval
        if interval is not None and user.pairs:
            burst = float(self.settings.pair_rate_burst)
            for pair in user.pairs:
                bucket = self._pair_buckets.get(pair)
                if bucket is not None and bucket[0] + max(0.0, now - bucket[1]) / interval >= burst:
                    del self._pair_buckets[pair]
            # A pair stays listed while it has a window too.
            user.pairs[:] = [
                p for p in user.pairs if p in self._pair_buckets or p in self._last_inbound
            ]

    def _forget(self, key: str) -> None:
        """Forget the user `key` whole: windows, pair buckets, billing
        conversations and contact-book entries (their transcript stays)."""
        user = self._users.pop(key)
        for pair in user.pairs:
            self._last_inbound.pop(pair, None)
            self._pair_buckets.pop(pair, None)
        for billing in user.billing:
            self._billing.pop(billing, None)
        for user_id in user.ids:
            number = self._numbers.get(user_id, _MISSING)
            if number is _MISSING or (number or user_id) != key:  # pragma: no cover - defensive
                continue
            del self._numbers[user_id]
            parent = self._parent_ids.pop(user_id, None)
            if parent is not None:
                self._parents.pop(parent, None)
        self._user_ids.pop(key, None)

    def _link(self, user_id: str, number: str, user: _User) -> None:
        """The contact book: `user_id` leads to `number`, whose LRU entry is
        `user`. A user known by id alone, or only sent to by id, until now is
        the same user: their entry joins the number's."""
        before = self._numbers.get(user_id, _MISSING)
        self._numbers[user_id] = number
        _add(user.ids, user_id)
        if isinstance(before, str) and before != number:
            # The id moved to another number: the old number no longer has it.
            moved_from = self._users.get(before)
            if moved_from is not None and user_id in moved_from.ids:
                moved_from.ids.remove(user_id)
            if self._user_ids.get(before) == user_id:
                del self._user_ids[before]
        self._join(user_id, user)

    def _join(self, key: str, user: _User) -> None:
        """The LRU entry under `key` (an id now known to lead elsewhere) is `user`'s."""
        other = self._users.get(key)
        if other is not None and other is not user:
            del self._users[key]
            user.merge(other)

    def _set_parent(self, user_id: str, parent: str, user: _User) -> None:
        """`parent` is `user_id`'s parent BSUID; each has one of the other."""
        old_parent = self._parent_ids.get(user_id)
        if old_parent is not None and old_parent != parent:
            self._parents.pop(old_parent, None)
        old_user_id = self._parents.get(parent)
        if old_user_id is not None and old_user_id != user_id:
            self._parent_ids.pop(old_user_id, None)
        self._parents[parent] = user_id
        self._parent_ids[user_id] = parent
        self._join(parent, user)

    def _keep(self, pair: Pair, message: InboundMessage | OutboundMessage) -> None:
        """Add to a transcript; past `max_messages`, forget the oldest message."""
        self._transcripts.setdefault(pair, deque()).append(message)
        self._kept.append((pair, message))
        while len(self._kept) > self.settings.max_messages:
            old_pair, old = self._kept.popleft()
            transcript = self._transcripts.get(old_pair)
            if transcript:
                # Transcripts grow in the same order as `_kept`: the oldest is first.
                if transcript[0] is old:
                    transcript.popleft()
                else:  # pragma: no cover - defensive
                    transcript.remove(old)
                if not transcript:
                    del self._transcripts[old_pair]
            found = self._outbound if isinstance(old, OutboundMessage) else self._inbound
            if found.get(old.id) is old:
                del found[old.id]
            self._evict("messages", 1, f"--max-messages {self.settings.max_messages}")

    def _evict(self, kind: str, size: int, bound: str) -> None:
        if self._evicted[kind] == 0:
            log.warning(
                "the %s store is full (%s): the oldest are now forgotten; "
                "GET /_fakemeta/ counts them",
                kind,
                bound,
            )
        self._evicted[kind] += 1
        if kind == "media":
            self._evicted["media_bytes"] += size

    def _dropped_webhook(self, job: Job) -> None:
        with self.lock:
            self._evict(
                "webhooks", 1, f"--max-pending-webhooks {self.settings.max_pending_webhooks}"
            )

    def evicted(self) -> dict[str, int]:
        """How many messages and media (and media bytes) the bounds have evicted."""
        with self.lock:
            return dict(self._evicted)

    def limits(self) -> dict[str, int]:
        """The bounds, and how full the stores are."""
        with self.lock:
            return {
                "max_users": self.settings.max_users,
                "users": len(self._users),
                "max_messages": self.settings.max_messages,
                "messages": len(self._kept),
                "max_media_bytes": self.settings.max_media_bytes,
                "media_bytes": self._media_bytes,
                "media": len(self._media),
                "max_pending_webhooks": self.settings.max_pending_webhooks,
                "pending_webhooks": self.webhooks.waiting(),
            }

    def billing_conversation(
        self, phone_number_id: str, wa_id: str, category: str
    ) -> tuple[str, float]:
        """The (id, expiration) of the open billing conversation of this
        category with this user, opening a 24 h one if none is open."""
        with self.lock:
            now = self.clock.now()
            user = self._user(wa_id)
            known = self._touch(user)
            self._trim()
            key = (phone_number_id, user, category)
            current = self._billing.get(key)
            if current is None or current[1] <= now:
                current = (secrets.token_hex(16), now + 24 * 60 * 60)
                self._billing[key] = current
                _add(known.billing, key)
            return current

    def mark_status(self, message_id: str, status: str) -> bool:
        """The dispatcher delivered `status` for `message_id`; False if unknown."""
        with self.lock:
            message = self._outbound.get(message_id)
            if message is None:
                return False
            message.notified.append(status)
            return True

    def mark_read(self, message_id: str) -> bool:
        """The business marked a customer's message as read; False if unknown."""
        with self.lock:
            message = self._inbound.get(message_id)
            if message is None:
                return False
            message.read = True
            return True

    def message(self, message_id: str) -> dict[str, Any] | None:
        """One message (either direction) as a dict, or None."""
        with self.lock:
            found = self._outbound.get(message_id) or self._inbound.get(message_id)
            return None if found is None else found.as_dict(self.clock.now())

    def sent_messages(
        self, phone_number_id: str | None = None, to: str | None = None
    ) -> list[dict[str, Any]]:
        """Outbound messages in the order they were accepted; `to` matches the
        request's `to` or its digits, or the business-scoped id it was sent to
        (`recipient`) or its recipient has."""
        digits = None if to is None else "".join(c for c in to if c.isdigit())
        with self.lock:
            now = self.clock.now()
            return [
                m.as_dict(now)
                for m in self._outbound.values()
                if (phone_number_id is None or m.phone_number_id == phone_number_id)
                and (to is None or to in (m.to, m.recipient, m.user_id) or m.wa_id == digits)
            ]

    def conversation(self, phone_number_id: str, wa_id: str) -> list[dict[str, Any]]:
        """The transcript with one user (a number or a user id), both
        directions, oldest first."""
        with self.lock:
            now = self.clock.now()
            entries = self._transcripts.get((phone_number_id, self._user(wa_id)), deque())
            return [entry.as_dict(now) for entry in entries]

    def conversations(self) -> list[dict[str, Any]]:
        """One summary per (phone number id, user) with a transcript or window."""
        with self.lock:
            now = self.clock.now()
            pairs = dict.fromkeys([*self._transcripts, *self._last_inbound])
            result = []
            for phone_number_id, user in pairs:
                entries = self._transcripts.get((phone_number_id, user), deque())
                expires = self._expires(phone_number_id, user)
                # A user known by number is kept under it; by id alone, under the id.
                wa_id = None if BSUID.fullmatch(user) else user
                ids_: dict[str, str] = {}
                if self.era.business_scoped_ids:
                    ids_["user_id"] = self.user_id(wa_id) if wa_id is not None else user
                result.append(
                    {
                        "phone_number_id": phone_number_id,
                        "wa_id": wa_id,
                        **ids_,
                        "messages": len(entries),
                        "last_message_id": entries[-1].id if entries else None,
                        "window_open": expires is not None and now < expires,
                        "window_expires_at": expires,
                    }
                )
            return result

    # -- media ----------------------------------------------------------------

    def add_media(
        self, phone_number_id: str, data: bytes, mime_type: str, filename: str | None = None
    ) -> Media:
        """Store a file, evicting the least recently used ones to stay within
        `max_media_bytes`; `ValueError` for a file larger than that alone."""
        limit = self.settings.max_media_bytes
        if len(data) > limit:
            raise ValueError(
                f"a file of {len(data)} bytes is larger than this server's media store "
                f"({limit} bytes, --max-media-bytes)"
            )
        with self.lock:
            while self._media and self._media_bytes + len(data) > limit:
                _, old = self._media.popitem(last=False)
                self._media_bytes -= old.file_size
                self._evict("media", old.file_size, f"--max-media-bytes {limit}")
            media_id = ids.media_id()
            while media_id in self._media:
                media_id = ids.media_id()
            media = Media(
                id=media_id,
                phone_number_id=phone_number_id,
                data=data,
                mime_type=mime_type,
                sha256=hashlib.sha256(data).hexdigest(),
                filename=filename,
                uploaded_at=self.clock.now(),
            )
            self._media[media_id] = media
            self._media_bytes += media.file_size
            return media

    def media(self, media_id: str) -> Media | None:
        with self.lock:
            found = self._media.get(media_id)
            if found is not None:
                self._media.move_to_end(media_id)
            return found

    def delete_media(self, media_id: str) -> bool:
        with self.lock:
            found = self._media.pop(media_id, None)
            if found is None:
                return False
            self._media_bytes -= found.file_size
            return True

    def media_url_hash(self, media_id: str, expires: int) -> str:
        """The `hash` of a download URL: binds the media id to its expiry."""
        digest = hmac.new(self._url_secret, f"{media_id}:{expires}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]


def _text(message: Mapping[str, Any] | None, key: str) -> str | None:
    """`message[key]` when it is a non-empty string, else None."""
    value = None if message is None else message.get(key)
    return value if isinstance(value, str) and value else None
