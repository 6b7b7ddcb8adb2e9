"""Strategies for statuses, status sequences, value.errors and other fields."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from fakemeta.simulator import encoding, fields, statuses
from fakemeta.simulator.envelopes import Customer
from fakemeta.simulator.strategies._fields import (
    account_updates,
    field_values,
    template_status_updates,
)
from fakemeta.simulator.strategies._statuses import error_values, status_sequences
from fakemeta.simulator.strategies._statuses import statuses as status_objects

FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RANK = {"sent": 0, "delivered": 1, "read": 2, "played": 3, "failed": 1}


@FEW
@given(status_objects())
def test_statuses_are_valid(s):
    assert s["status"] in statuses.STATUS_KINDS
    assert list(s)[:3] == ["id", "status", "timestamp"]
    assert ("errors" in s) == (s["status"] == "failed")
    assert "recipient_id" in s or "recipient_user_id" in s
    encoding.encode(s)


@FEW
@given(status_objects(Customer("16505551234", "A"), kinds=["read", "played"]))
def test_statuses_respect_kinds_and_recipient(s):
    assert s["status"] in ("read", "played")
    assert s["recipient_id"] == "16505551234"


@FEW
@given(status_sequences())
def test_sequences_follow_causality(seq):
    assert len({s["id"] for s in seq}) == 1
    assert len({s.get("biz_opaque_callback_data") for s in seq}) == 1
    kinds = [s["status"] for s in sorted(seq, key=lambda s: RANK[s["status"]])]
    ordered = sorted(seq, key=lambda s: RANK[s["status"]])
    stamps = [int(s["timestamp"]) for s in ordered]
    assert stamps == sorted(stamps)  # time never runs backwards in causal order
    assert len(kinds) == len(set(kinds))
    if "failed" in kinds:
        assert set(kinds) <= {"sent", "failed"}
    if "played" in kinds:
        assert "read" in kinds
    if len(kinds) > 1:
        assert "sent" in kinds


def test_sequences_are_sometimes_shuffled_and_read_skips_delivered():
    seen_shuffled = seen_read_alone = False

    @settings(max_examples=150, deadline=None)
    @given(status_sequences())
    def look(seq):
        nonlocal seen_shuffled, seen_read_alone
        ranks = [RANK[s["status"]] for s in seq]
        seen_shuffled |= ranks != sorted(ranks)
        kinds = {s["status"] for s in seq}
        seen_read_alone |= "read" in kinds and "delivered" not in kinds

    look()
    assert seen_shuffled
    assert seen_read_alone


@FEW
@given(error_values())
def test_error_values(value):
    assert list(value) == ["messaging_product", "metadata", "errors"]
    assert all(e["code"] in (130429, 131000, 131026, 131056) for e in value["errors"])


@FEW
@given(field_values())
def test_field_values_are_wrapped_with_an_int_time(pair):
    field, value = pair
    assert field in fields.FIELDS
    payload = fields.payload("102290129340398", field, value, time=1750000000)
    entry = payload["entry"][0]
    assert (entry.get("time") == 1750000000) == (field in fields.TIMED_FIELDS)
    encoding.encode(payload)


@FEW
@given(field_values(fields=["security", "account_review_update"]))
def test_field_values_respect_fields(pair):
    assert pair[0] in ("security", "account_review_update")


@FEW
@given(template_status_updates(), account_updates())
def test_per_field_strategies(template, account):
    assert isinstance(template["message_template_id"], int)
    assert account["event"] in fields.ACCOUNT_UPDATE_EVENTS


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: status_objects(kinds=["seen"]),
         "Expected a status kind from STATUS_KINDS but got kinds=['seen']"),
        (lambda: status_objects(kinds="sent"), "non-empty list of status kinds"),
        (lambda: field_values(fields=["bogus"]),
         "Expected a field from FIELDS but got fields=['bogus']"),
        (lambda: field_values(fields=[]), "non-empty list of fields"),
    ],
)  # fmt: skip
def test_arguments_are_validated_eagerly(make, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make()


def test_wrong_types_are_refused_eagerly():
    with pytest.raises(TypeError, match="Expected Customer"):
        status_objects("16505551234")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Expected Account"):
        error_values("acct")  # type: ignore[arg-type]


def test_strategies_are_reproducible():
    def run() -> list[object]:
        seen: list[object] = []

        @settings(max_examples=10, deadline=None, database=None, derandomize=True)
        @given(status_sequences(), field_values())
        def collect(seq, pair):
            seen.append((seq, pair))

        collect()
        return seen

    assert run() == run()  # every id comes from the Hypothesis draw
