"""Which client a message belongs to: one client per WhatsApp user and account.

Part of the store step (`store.py`). Until 2026 Meta named a user by phone
number (`from`); now a message may carry the number, a business-scoped user
id (`from_user_id`), or both, and system messages announce that a user
changed either (CLIENT-9, CLIENT-10). The rules, the same for a batch and
for one message at a time:

- A message's client is the one that holds its number or its user id. An
  identifier the message carries and its client lacks is added to it (a
  client first seen by number gains the user id, and the other way round);
  an ordinary message never overwrites one.
- A message whose number names one client and whose user id names another
  shows that both are one user: they are merged into the older client,
  unless their identifiers contradict (each has its own, different value of
  the other), in which case the user id's client is used and a warning logged.
- `user_changed_number` moves the client of the old number (failing that,
  of the sender's user id) to the new number, and to the new user id when
  the message carries one (from 2026 a new number means a new
  business-scoped id); `user_changed_user_id` moves
  the client of the old user id (failing that, of the sender's number) to
  the new user id. Without such a client nothing is created.

`ClientPlan` works the rules out in memory, message after message, over the
clients that the messages name (loaded with one query per kind of
identifier); `apply()` then writes the outcome with a fixed number of
statements. Merges are rare and cost a few statements each.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from . import bulk
from .models import Client, IntegrationLog, Notification
from .payload import InboundMessage

__all__ = ["ClientPlan", "IdentityConflict"]

logger = logging.getLogger(__name__)

_CLIENTS = cast(Table, Client.__table__)
# Rows that point at a client: a merge moves them to the client that stays.
_REFERRERS = (cast(Table, IntegrationLog.__table__), cast(Table, Notification.__table__))

# ("phone", digits) or ("user", business-scoped user id).
_Key = tuple[str, str]


class IdentityConflict(RuntimeError):
    """A client this transaction meant to create exists meanwhile with other identifiers.

    Cause: a concurrent delivery for the same user got there first. Fix:
    none needed; the store stores the change again message by message,
    which looks the clients up afresh.
    """


def _keys(phone: str | None, user_id: str | None) -> list[_Key]:
    keys: list[_Key] = []
    if phone:
        keys.append(("phone", phone))
    if user_id:
        keys.append(("user", user_id))
    return keys


def _contradict(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a != b


@dataclass
class _Client:
    phone: str | None
    user_id: str | None
    id: int | None  # None until inserted
    stored: tuple[str | None, str | None] | None  # (phone, user_id) as stored; None when new
    creator: InboundMessage | None = None  # the message that creates a new client


def _age(ref: int) -> tuple[int, int]:
    # Stored clients (positive refs: their ids) are older than new ones (-1, -2, ...).
    return (0, ref) if ref > 0 else (1, -ref)


class ClientPlan:
    """The clients of one account that some messages name, and what the messages do to them.

    `assign()` and `change_identity()` are called in message order and only
    change the plan; `apply()` writes it in the caller's transaction.
    A ref is a stored client's id, or a negative number for a new client.
    """

    def __init__(self, account_id: int, rows: Iterable[Sequence[Any]]) -> None:
        self._account_id = account_id
        self._clients: dict[int, _Client] = {}
        self._refs: dict[_Key, int] = {}
        self._alias: dict[int, int] = {}  # merged-away ref -> the ref it was merged into
        self._merges: list[tuple[int, int]] = []  # (kept id, merged-away id), both stored
        self._new = 0
        for client_id, phone, user_id in rows:
            ref = int(client_id)
            self._clients[ref] = _Client(phone, user_id, ref, (phone, user_id))
            for key in _keys(phone, user_id):
                self._refs.setdefault(key, ref)

    @classmethod
    def load(
        cls, session: Session, account_id: int, messages: Iterable[InboundMessage]
    ) -> ClientPlan:
        """A plan over the account's clients that hold any identifier `messages` name."""
        phones: set[str] = set()
        users: set[str] = set()
        for message in messages:
            phones.update(value for value in (message.sender, message.new_phone) if value)
            users.update(value for value in (message.sender_user_id, message.new_user_id) if value)
        table = _CLIENTS
        rows: dict[int, Sequence[Any]] = {}
        for column, values in ((table.c.phone, phones), (table.c.user_id, users)):
            for condition in bulk.matching(session, column, sorted(values)):
                query = select(table.c.id, table.c.phone, table.c.user_id).where(
                    table.c.account_id == account_id, condition
                )
                rows.update((int(row[0]), row) for row in session.execute(query))
        return cls(account_id, [rows[client_id] for client_id in sorted(rows)])

    # -- the rules, in memory ------------------------------------------------------

    def assign(self, message: InboundMessage, *, create: bool) -> int | None:
        """The ref of `message`'s client, adding or merging identifiers; None if it has none."""
        phone, user_id = message.sender, message.sender_user_id
        by_phone = self._refs.get(("phone", phone)) if phone else None
        by_user = self._refs.get(("user", user_id)) if user_id else None
        if by_phone is None and by_user is None:
            return self._create(message) if create else None
        if by_phone is not None and by_user is not None and by_phone != by_user:
            kept = self._merge(by_phone, by_user)
            if kept is None:
                logger.warning(
                    "WhatsApp message %s: its number and its user id belong to two clients "
                    "with other identifiers; the user id's client is used, nothing merged",
                    message.message_id,
                )
                return by_user
            return kept
        ref = by_user if by_user is not None else by_phone
        assert ref is not None
        client = self._clients[ref]
        if phone and client.phone is None:
            client.phone = phone
            self._refs[("phone", phone)] = ref
        if user_id and client.user_id is None:
            client.user_id = user_id
            self._refs[("user", user_id)] = ref
        return ref

    def change_identity(self, message: InboundMessage) -> None:
        """Apply a `user_changed_number` / `user_changed_user_id` system message."""
        if message.new_phone is not None and message.new_user_id is not None:
            self._renumber(message, message.new_phone, message.new_user_id)
        elif message.new_phone is not None:
            self._move(message, "phone", message.new_phone)
        elif message.new_user_id is not None:
            self._move(message, "user", message.new_user_id)

    def _renumber(self, message: InboundMessage, new_phone: str, new_user: str) -> None:
        """A 2026 number change: a new number and a new user id at once (Meta
        regenerates the business-scoped id with the number). A client that
        already holds either new identifier, and no other number or user id,
        is the same user seen first (Meta keeps no order): merged."""
        ref = self._changing(message, "phone")
        if ref is None:
            return
        client = self._clients[ref]
        if (client.phone, client.user_id) == (new_phone, new_user):
            return  # a redelivery, or Meta told us twice
        new = {"phone": new_phone, "user": new_user}
        held = {kind: self._refs.get((kind, value)) for kind, value in new.items()}
        for holder in {h for h in held.values() if h is not None and h != ref}:
            other = self._clients[holder]
            if _contradict(other.phone, new_phone) or _contradict(other.user_id, new_user):
                logger.warning(
                    "WhatsApp system message %s: client %s already holds the new number "
                    "or user id and belongs to another user; nothing changed",
                    message.message_id,
                    other.id,
                )
                return
        for key in _keys(client.phone, client.user_id):
            if self._refs.get(key) == ref:
                del self._refs[key]
        client.phone = new_phone if held["phone"] in (None, ref) else None
        client.user_id = new_user if held["user"] in (None, ref) else None
        for key in _keys(client.phone, client.user_id):
            self._refs[key] = ref
        for holder in dict.fromkeys(h for h in held.values() if h is not None and h != ref):
            ref = self._merge(ref, self._alias.get(holder, holder)) or ref

    def _create(self, message: InboundMessage) -> int:
        self._new -= 1
        ref = self._new
        self._clients[ref] = _Client(
            message.sender, message.sender_user_id, None, None, creator=message
        )
        for key in _keys(message.sender, message.sender_user_id):
            self._refs[key] = ref
        return ref

    def _merge(self, a: int, b: int) -> int | None:
        """Merge two clients of one user into the older one; None when they contradict."""
        first, second = self._clients[a], self._clients[b]
        if _contradict(first.phone, second.phone) or _contradict(first.user_id, second.user_id):
            return None
        kept, gone = sorted((a, b), key=_age)
        into, away = self._clients[kept], self._clients.pop(gone)
        into.phone = into.phone or away.phone
        into.user_id = into.user_id or away.user_id
        for key in _keys(away.phone, away.user_id):
            self._refs[key] = kept
        self._alias[gone] = kept
        if away.id is not None:  # then `into` is stored too: older than any new client
            self._merges.append((kept, gone))
        return kept

    def _changing(self, message: InboundMessage, kind: str) -> int | None:
        """The client an identity change is about: found by the sender's
        identifier of `kind` (the one that changes), else by the other; None,
        logged, when neither is known (nothing is created for a change)."""
        by_phone = _keys(message.sender, None)
        by_user = _keys(None, message.sender_user_id)
        candidates = by_phone + by_user if kind == "phone" else by_user + by_phone
        ref = next((self._refs[key] for key in candidates if key in self._refs), None)
        if ref is None:
            logger.info(
                "WhatsApp system message %s: no client to change; nothing created",
                message.message_id,
            )
        return ref

    def _move(self, message: InboundMessage, kind: str, new: str) -> None:
        ref = self._changing(message, kind)
        if ref is None:
            return
        client = self._clients[ref]
        current = client.phone if kind == "phone" else client.user_id
        if current == new:
            return  # a redelivery, or Meta told us twice
        holder = self._refs.get((kind, new))
        if holder is not None:
            other = self._clients[holder]
            if kind == "phone":
                theirs = (client.user_id, other.user_id)
            else:
                theirs = (client.phone, other.phone)
            # Another client already holds the new identifier: a message from the new
            # number or user id that came first (Meta does not keep order), or, for a
            # number, the client of its previous owner. The user id tells them apart
            # where both have one: the same user's clients are merged (unique
            # constraints allow nothing else); two different users' are left as they
            # are, with a warning, for a person to sort out.
            if _contradict(*theirs):
                logger.warning(
                    "WhatsApp system message %s: client %s already holds the new %s and "
                    "belongs to another user; nothing changed",
                    message.message_id,
                    other.id,
                    "number" if kind == "phone" else "user id",
                )
                return
        if current is not None:
            del self._refs[(kind, current)]
        if kind == "phone":
            client.phone = None if holder is not None else new
        else:
            client.user_id = None if holder is not None else new
        if holder is None:
            self._refs[(kind, new)] = ref
        else:
            self._merge(ref, holder)

    # -- writing it --------------------------------------------------------------

    def client_id(self, ref: int) -> int:
        """The database id of the client `ref` ended as (after `apply()`)."""
        while ref in self._alias:
            ref = self._alias[ref]
        client_id = self._clients[ref].id
        assert client_id is not None, "apply() first"
        return client_id

    def apply(
        self, session: Session, company_id: int, now: datetime, *, skip_conflicts: bool
    ) -> dict[int, tuple[str | None, datetime]]:
        """Write the plan; returns the clients it created, with their initial name and time.

        With `skip_conflicts` (SQLite, PostgreSQL) new clients are inserted
        in one `INSERT ... ON CONFLICT DO NOTHING`, and one that a concurrent
        delivery created meanwhile is looked up and used (`IdentityConflict`
        when it does not fit); without, they are plain inserts and a conflict
        raises `IntegrityError`, for the caller to look again.
        """
        for kept, gone in self._merges:
            _merge_rows(session, kept, gone)
        self._update_identifiers(session)
        created = sorted(
            ((ref, client) for ref, client in self._clients.items() if client.id is None),
            key=lambda item: _keys(item[1].phone, item[1].user_id),  # key order: lock alike
        )
        if not created:
            return {}
        rows = []
        initial: list[tuple[str | None, datetime]] = []
        for _, client in created:
            creator = client.creator
            assert creator is not None
            initial.append((creator.name, creator.sent_at or now))
            rows.append(
                {
                    "company_id": company_id,
                    "account_id": self._account_id,
                    "source": "whatsapp",
                    "phone": client.phone,
                    "user_id": client.user_id,
                    "name": creator.name,
                    "last_message_at": creator.sent_at or now,
                    "created_at": now,
                }
            )
        fresh: dict[int, tuple[str | None, datetime]] = {}
        if skip_conflicts:
            table = _CLIENTS
            inserted = bulk.insert_rows(
                session, table, rows, table.c.id, table.c.phone, table.c.user_id,
                skip_conflicts=True,
            )  # fmt: skip
            ids = {(phone, user_id): int(client_id) for client_id, phone, user_id in inserted}
            for (_, client), values in zip(created, initial, strict=True):
                client.id = ids.get((client.phone, client.user_id))
                if client.id is not None:
                    fresh[client.id] = values
                else:
                    # Refused: a concurrent delivery created this user's client meanwhile.
                    client.id = self._created_meanwhile(session, client)
        else:
            for (_, client), row, values in zip(created, rows, initial, strict=True):
                result = cast(CursorResult[Any], session.execute(insert(_CLIENTS).values(**row)))
                key = result.inserted_primary_key
                assert key is not None
                client.id = int(key[0])
                fresh[client.id] = values
        return fresh

    def _update_identifiers(self, session: Session) -> None:
        """Give stored clients their new identifiers: the old ones released first, so that
        swaps and chains within one batch do not trip the unique constraints."""
        changed = [
            (ref, client)
            for ref, client in sorted(self._clients.items())
            if client.stored is not None and (client.phone, client.user_id) != client.stored
        ]
        if not changed:
            return
        table = _CLIENTS
        for index, column in enumerate((table.c.phone, table.c.user_id)):
            released = [
                {"b_id": ref}
                for ref, client in changed
                if client.stored is not None
                and client.stored[index] is not None
                and client.stored[index] != (client.phone, client.user_id)[index]
            ]
            if released:
                statement = (
                    update(table).where(table.c.id == bindparam("b_id")).values({column: None})
                )
                session.connection().execute(statement, released)
        # coalesce: what a concurrent delivery attached meanwhile stays.
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                phone=func.coalesce(table.c.phone, bindparam("b_phone", type_=table.c.phone.type)),
                user_id=func.coalesce(
                    table.c.user_id, bindparam("b_user", type_=table.c.user_id.type)
                ),
            )
        )
        session.connection().execute(
            statement,
            [{"b_id": ref, "b_phone": c.phone, "b_user": c.user_id} for ref, c in changed],
        )

    def _created_meanwhile(self, session: Session, client: _Client) -> int:
        table = _CLIENTS
        conditions = []
        if client.phone:
            conditions.append(table.c.phone == client.phone)
        if client.user_id:
            conditions.append(table.c.user_id == client.user_id)
        found = session.execute(
            select(table.c.id, table.c.phone, table.c.user_id).where(
                table.c.account_id == self._account_id, or_(*conditions)
            )
        ).all()
        if len(found) != 1:
            raise IdentityConflict(f"{len(found)} clients for one new user")
        client_id, phone, user_id = found[0]
        if _contradict(phone, client.phone) or _contradict(user_id, client.user_id):
            raise IdentityConflict(f"client {client_id} has other identifiers")
        if (phone, user_id) != (client.phone, client.user_id):
            session.execute(
                update(table)
                .where(table.c.id == client_id)
                .values(
                    phone=func.coalesce(table.c.phone, client.phone),
                    user_id=func.coalesce(table.c.user_id, client.user_id),
                )
            )
        return int(client_id)


def _merge_rows(session: Session, kept: int, gone: int) -> None:
    """Move `gone`'s logs and notifications to `kept`, delete it, keep the better values."""
    table = _CLIENTS
    row = session.execute(
        select(table.c.name, table.c.last_message_at).where(table.c.id == gone)
    ).first()
    if row is None:
        return  # a concurrent delivery merged it first
    for referrer in _REFERRERS:
        session.execute(update(referrer).where(referrer.c.client_id == gone).values(client_id=kept))
    session.execute(delete(table).where(table.c.id == gone))
    values: dict[str, Any] = {"name": func.coalesce(table.c.name, row.name)}
    if row.last_message_at is not None:
        when = bindparam("b_when", row.last_message_at, type_=table.c.last_message_at.type)
        column = table.c.last_message_at
        values["last_message_at"] = case(
            (column.is_(None), when), (column < when, when), else_=column
        )
    session.execute(update(table).where(table.c.id == kept).values(values))
    logger.info("WhatsApp client %s merged into client %s: one user", gone, kept)
