"""The catalog: named variants, fresh or fixed."""

from __future__ import annotations

import pytest

from fakemeta.simulator import catalog
from fakemeta.simulator.encoding import encode
from fakemeta.simulator.envelopes import Account
from fakemeta.simulator.errors import UnknownVariant


def _first_message_id(payload: dict) -> str:  # type: ignore[type-arg]
    return str(payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"])


def test_fresh_builds_get_new_ids_and_fixed_builds_repeat() -> None:
    one, two = catalog.build("text"), catalog.build("text")
    assert _first_message_id(one) != _first_message_id(two)  # type: ignore[arg-type]
    fixed = catalog.Context.fixed()
    assert encode(catalog.build("text", fixed)) == encode(catalog.build("text", fixed))


def test_fresh_build_is_addressed_to_the_given_account() -> None:
    account = Account("1" * 15, "2" * 15, "15550001111")
    payload = catalog.build("messages/image", catalog.Context.fresh(account))
    value = payload["entry"][0]["changes"][0]["value"]
    assert value["metadata"]["phone_number_id"] == "2" * 15  # type: ignore[typeddict-item]
    assert payload["entry"][0]["id"] == "1" * 15


def test_resolve_names() -> None:
    assert catalog.resolve("read") == "statuses/read"
    assert catalog.resolve("fields/template_approved") == "fields/template_approved"
    with pytest.raises(UnknownVariant, match="no variant named 'nope'"):
        catalog.resolve("nope")


def test_every_group_is_populated() -> None:
    groups = {name.split("/")[0] for name in catalog.names()}
    assert groups == set(catalog.GROUPS)


def test_batches_hold_several_senders_changes_and_entries() -> None:
    built = catalog.build_all(catalog.Context.fixed())
    one_change = built["batches/three_senders_one_change"]["entry"][0]["changes"][0]["value"]
    assert len(one_change["contacts"]) == 3  # type: ignore[typeddict-item]
    assert len(one_change["messages"]) == 4  # type: ignore[typeddict-item]
    assert len(built["batches/two_changes_one_entry"]["entry"][0]["changes"]) == 2
    assert len(built["batches/messages_and_statuses_three_entries"]["entry"]) == 3
