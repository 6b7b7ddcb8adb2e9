"""Second opinions on the current era's payloads: libraries nobody here wrote.

Every update of the current era (the whole catalogue and a fixed Hypothesis
sample of messages, statuses, errors and fields, split into the one-item
updates Meta usually sends) must parse in pywa and type-check against
whatsapp-api-js's `PostData` with tsc. Where a library disagrees with Meta,
the disagreement is listed below with the Meta source that shows who is
right; a disagreement not listed fails, and so does a listed one that no
longer occurs (the list stays true).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from fakemeta.simulator import catalog, eras
from fakemeta.simulator.drift import derandomized_examples, sampled_payloads
from fakemeta.simulator.strategies import field_payloads
from fakemeta.simulator.types import Payload

pywa_parse = pytest.importorskip(
    "pywa_parse", reason="pywa is not installed: pip install -e '.[test]'"
)

from typescript_check import NodeMissing, NodeModulesMissing, typecheck  # noqa: E402

SAMPLES = 60  # per strategy; derandomized, so every run checks the same updates


@dataclass(frozen=True)
class Deviation:
    """A library's disagreement with Meta: which updates, what it says, who is right."""

    kind: str  # regex over the update kind ("status:failed", "message:edit", ...)
    what: str  # regex over the library's error (and, for tsc, the JSON path)
    source: str  # the Meta source that shows Meta's shape


PYWA_DEVIATIONS = (
    Deviation(
        "status:failed",
        r"KeyError: 'contacts'",
        "Meta's business-scoped user id guide (Updated May 7, 2026): for failed status "
        "messages 'the contacts block is omitted entirely'; pywa 4.5.0 reads "
        "value['contacts'][0] for every status (types/message_status.py).",
    ),
    Deviation(
        "status:played",
        r"KeyError: 'contacts'",
        "Meta's business-scoped user id guide (Updated May 7, 2026): 'contacts -- New array. "
        "Only included for sent, delivered, and read status messages.'",
    ),
    Deviation(
        "message:system",
        r"KeyError: 'from'",
        "Meta's business-scoped user id guide (Updated May 7, 2026; Feb 6, 2026 changelog): "
        '`from` is omitted, never set to "", for a user whose number cannot be shared; '
        "pywa 4.5.0 reads msg['from'] in types/system.py.",
    ),
)

TSC_DEVIATIONS = (
    Deviation(
        "message:(edit|revoke)",
        r"messages\[\]\.type .*TS2322: Type '\"(edit|revoke)\"' is not assignable",
        "Meta's messages webhook reference documents edit and revoke messages (and its "
        "changelog of Jun 12, 2026 gave them from_user_id); whatsapp-api-js 6.3.0's message "
        "union lacks both.",
    ),
    Deviation(
        "message:location",
        r"location\.(latitude|longitude) .*Type 'number' is not assignable to type 'string'",
        "Meta's location messages reference: latitude and longitude are numbers (Float), "
        "unquoted on the wire; whatsapp-api-js types them as strings.",
    ),
    Deviation(
        "message:image",
        r"messages\[\]\.image .*Property 'static_url' is missing",
        "Meta's image messages reference lists caption, mime_type, sha256, id and url; "
        "whatsapp-api-js 6.3.0 requires an undocumented static_url.",
    ),
    Deviation(
        "message:(text|image|video)",
        r"messages\[\]\.referral .*Property 'welcome_message' is missing",
        "Meta's OpenAPI ReferralObject (v23.0) does not require welcome_message (only ads with "
        "a greeting have one); whatsapp-api-js requires it.",
    ),
    Deviation(
        "message:contacts",
        r"messages\[\]\.contacts .*Source has \d+ element\(s\) but target allows only 1",
        "Meta's contacts messages reference: `contacts` is an array of contact objects (a user "
        "may share several); whatsapp-api-js types a one-element tuple.",
    ),
    Deviation(
        "status:failed",
        r"statuses\[\]",
        "Meta's status messages webhook reference (Updated May 21, 2026): a failed status has "
        "errors and no conversation or pricing; whatsapp-api-js 6.3.0's error branch requires "
        "the keys conversation and pricing (typed undefined), so no real failed status fits "
        "and tsc then reports it against the `calls` shape (wacid, RINGING, ...).",
    ),
    Deviation(
        "status:(delivered|read)",
        r"statuses\[\]\.recipient_participant_(parent_)?user_id .*does not exist in type",
        "Meta's business-scoped user id guide (Updated May 7, 2026), group status syntax: "
        "recipient_participant_user_id and recipient_participant_parent_user_id; "
        "whatsapp-api-js 6.3.0's group branch predates them.",
    ),
)


@cache
def current_updates() -> list[tuple[str, dict[str, Any]]]:
    """(kind, one-item update) for the current era: catalogue plus sample."""
    payloads = list(catalog.build_all(catalog.Context.fixed(era=eras.CURRENT)).values())
    payloads += sampled_payloads(SAMPLES, eras.CURRENT)
    payloads += derandomized_examples(field_payloads(era=eras.CURRENT), SAMPLES // 2)
    return [pair for payload in payloads for pair in pywa_parse.single_updates(payload)]


def _unexplained(
    findings: list[tuple[str, str]], deviations: tuple[Deviation, ...]
) -> Iterator[str]:
    for kind, what in findings:
        if not any(re.fullmatch(d.kind, kind) and re.search(d.what, what) for d in deviations):
            yield f"{kind}: {what}"


def _unused(findings: list[tuple[str, str]], deviations: tuple[Deviation, ...]) -> list[str]:
    return [
        f"{d.kind} / {d.what}"
        for d in deviations
        if not any(
            re.fullmatch(d.kind, kind) and re.search(d.what, what) for kind, what in findings
        )
    ]


def test_the_sample_covers_every_kind_of_update() -> None:
    kinds = {kind.split(":")[0] for kind, _ in current_updates()}
    assert kinds == {"message", "status", "errors", "field"}
    statuses = {kind for kind, _ in current_updates() if kind.startswith("status:")}
    assert statuses == {f"status:{s}" for s in ("sent", "delivered", "read", "failed", "played")}


# pywa 4.5.0 does not know Meta's account_update event VERIFIED_ACCOUNT and
# warns (it parses it as UNKNOWN): pywa's gap, not a parse failure.
@pytest.mark.filterwarnings("ignore:Unknown AccountUpdateEvent value")
def test_every_current_update_parses_in_pywa_but_for_its_listed_deviations() -> None:
    outcomes = pywa_parse.parse_all([_payload(u) for _, u in current_updates()])
    findings = [(o.kind, o.error) for o in outcomes if o.error is not None]
    unexplained = sorted(set(_unexplained(findings, PYWA_DEVIATIONS)))
    assert not unexplained, "pywa fails on updates no deviation explains:\n" + "\n".join(
        unexplained[:20]
    )
    assert not _unused(findings, PYWA_DEVIATIONS), "listed pywa deviations that no longer occur"
    # Every message and status reached one of pywa's handlers (pywa has none for
    # value.errors and some fields, which only its raw-update handler sees).
    assert all(o.handler is not None for o in outcomes if o.kind.startswith(("message", "status")))
    parsed = sum(o.error is None for o in outcomes)
    assert parsed / len(outcomes) > 0.9


def test_every_current_update_type_checks_against_whatsapp_api_js_but_its_listed_deviations() -> (
    None
):
    # PostData types the `messages` field (messages and statuses) only: other
    # fields and value.errors are outside what the library models at all.
    updates = [
        (kind, update)
        for kind, update in current_updates()
        if kind.startswith(("message:", "status:"))
    ]
    try:
        errors = typecheck([u for _, u in updates])
    except (NodeMissing, NodeModulesMissing) as exc:
        pytest.skip(str(exc))
    findings = [(updates[e["index"]][0], f"{_indexless(e['path'])} {e['message']}") for e in errors]
    unexplained = sorted(set(_unexplained(findings, TSC_DEVIATIONS)))
    assert not unexplained, "tsc disagrees where no deviation explains it:\n" + "\n".join(
        unexplained[:20]
    )
    assert not _unused(findings, TSC_DEVIATIONS), "listed tsc deviations that no longer occur"
    clean = len(updates) - len({e["index"] for e in errors})
    assert clean / len(updates) > 0.6


def test_the_2025_era_is_what_pywa_4_5_no_longer_parses() -> None:
    """The measurement behind eras: pywa follows Meta's 2026 shapes, so 2025
    messages (no user_id in contacts) fail in it, the current ones do not."""
    old = sampled_payloads(20, "2025")
    outcomes = pywa_parse.parse_all(old)
    messages = [o for o in outcomes if o.kind.startswith("message:") and o.kind != "message:system"]
    assert messages
    assert all(o.error == "KeyError: 'user_id'" for o in messages)


def _indexless(path: str) -> str:
    return re.sub(r"\[\d+\]", "[]", path)


def _payload(update: dict[str, Any]) -> Payload:
    return update  # type: ignore[return-value]
