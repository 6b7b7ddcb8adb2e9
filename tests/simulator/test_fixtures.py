"""fixtures/: the files agree with the builders, byte for byte, and are found
from the code's own path."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from fakemeta.simulator import catalog, fixtures
from fakemeta.simulator.encoding import encode
from fakemeta.simulator.errors import UnknownVariant
from fakemeta.simulator.fields import FIELDS
from fakemeta.simulator.messages import MESSAGE_TYPES
from fakemeta.simulator.statuses import STATUS_KINDS

BUILT = catalog.build_all(catalog.Context.fixed())


def test_every_catalog_variant_has_a_fixture_and_no_fixture_is_stale() -> None:
    assert fixtures.names() == sorted(BUILT)


@pytest.mark.parametrize("name", sorted(BUILT))
def test_fixture_files_equal_what_the_builders_make_now(name: str) -> None:
    fixture = fixtures.load(name)
    assert fixture.payload == BUILT[name], "rerun `python -m fakemeta.simulator.fixtures`"
    assert list(fixture.payload) == list(BUILT[name])
    assert fixture.wire == encode(BUILT[name])
    assert fixture.wire == encode(fixture.payload)
    expected = hmac.new(fixtures.TEST_APP_SECRET.encode(), fixture.wire, hashlib.sha256)
    assert fixture.signature == "sha256=" + expected.hexdigest()


def test_key_order_survives_the_json_files() -> None:
    """The indented files keep Meta's key order, so re-encoding them gives the wire bytes."""
    directory = fixtures.fixtures_dir()
    for name in BUILT:
        text = (directory / f"{name}.json").read_text(encoding="utf-8")
        assert encode(json.loads(text)) == (directory / f"{name}.wire").read_bytes()


def test_fixtures_cover_every_type_status_and_field() -> None:
    types, kinds, fields = set(), set(), set()
    for payload in BUILT.values():
        for entry in payload["entry"]:
            for change in entry["changes"]:
                value: dict = change["value"]  # type: ignore[assignment]
                fields.add(change["field"])
                types.update(m["type"] for m in value.get("messages", []))
                kinds.update(s["status"] for s in value.get("statuses", []))
    assert set(MESSAGE_TYPES) <= types
    assert set(STATUS_KINDS) <= kinds
    assert set(FIELDS) <= fields | {"messages"}


def test_found_from_the_code_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert fixtures.load("messages/text").wire.startswith(b'{"object":"whatsapp_business_account"')
    assert fixtures.fixtures_dir().is_absolute()


def test_short_names_and_clear_errors() -> None:
    assert fixtures.load("text").name == "messages/text"
    with pytest.raises(UnknownVariant, match="no variant named 'txt'"):
        fixtures.load("txt")
    with pytest.raises(UnknownVariant, match="--era 2025"):
        fixtures.load("sent_cbp_pricing")
    assert fixtures.load("sent_cbp_pricing", era="2025").name == "statuses/sent_cbp_pricing"


def test_readme_lists_every_fixture() -> None:
    readme = (fixtures.fixtures_dir() / "README.md").read_text(encoding="utf-8")
    for name in BUILT:
        assert f"`{name}`" in readme


def test_writing_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    fixtures.write_all(tmp_path / "a")
    fixtures.write_all(tmp_path / "b")
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file():
            assert (
                path.read_bytes()
                == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()
            )
