"""The drift check: documented paths from a spec, generated paths from
payloads, both directions of difference, the reviewed exceptions and the exit
codes of `python -m fakemeta.simulator.drift`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fakemeta.simulator import drift
from fakemeta.simulator._drift_spec import SpecError, documented_paths, render, repair
from fakemeta.simulator.drift import Drift, compare, generated_paths, load_exceptions, main

yaml = pytest.importorskip("yaml")

SPEC_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference" / "meta-openapi"
REAL_SPEC = SPEC_DIR / "business-messaging-api_v23.0.yaml"

#: A tiny webhook spec: refs, oneOf, allOf, arrays, additionalProperties, a cycle.
TINY: dict[str, Any] = {
    "openapi": "3.1.0",
    "components": {
        "schemas": {
            "WebhookPayload": {
                "type": "object",
                "properties": {
                    "object": {"type": "string"},
                    "entry": {"type": "array", "items": {"$ref": "#/components/schemas/Entry"}},
                },
            },
            "Entry": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "changes": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}},
                },
            },
            "Change": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "enum": ["messages"]},
                    "value": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/Text"},
                            {"$ref": "#/components/schemas/Labels"},
                        ]
                    },
                },
            },
            "Text": {
                "allOf": [
                    {"type": "object", "properties": {"kind": {"type": "string"}}},
                    {"properties": {"text": {"properties": {"body": {"type": "string"}}}}},
                ]
            },
            "Labels": {
                "type": "object",
                "properties": {
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "node": {"$ref": "#/components/schemas/Node"},
                },
            },
            "Node": {  # refers to itself: walked once per branch
                "type": "object",
                "properties": {"child": {"$ref": "#/components/schemas/Node"}},
            },
        }
    },
}

CHANGE = "entry[].changes[]"


def _rendered(spec: dict[str, Any]) -> set[str]:
    return {render(p) for p in documented_paths(spec).paths}


def _payload(value: dict[str, Any], field: str = "messages") -> dict[str, Any]:
    return {"object": "o", "entry": [{"id": "1", "changes": [{"value": value, "field": field}]}]}


def _write_spec(tmp_path: Path, spec: dict[str, Any] = TINY) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def _write_exceptions(tmp_path: Path, *entries: tuple[str, str]) -> Path:
    path = tmp_path / "known.toml"
    body = "".join(
        f'[[exception]]\npath = "{p}"\ndirection = "{d}"\nsource = "a test"\n\n' for d, p in entries
    )
    path.write_text(body, encoding="utf-8")
    return path


def test_paths_follow_refs_unions_arrays_wildcards_and_stop_at_cycles() -> None:
    assert _rendered(TINY) == {
        "object", "entry", "entry[]", "entry[].id", "entry[].changes", f"{CHANGE}",
        f"{CHANGE}.field", f"{CHANGE}.value", f"{CHANGE}.value.kind", f"{CHANGE}.value.text",
        f"{CHANGE}.value.text.body", f"{CHANGE}.value.labels", f"{CHANGE}.value.labels.*",
        f"{CHANGE}.value.node", f"{CHANGE}.value.node.child",
    }  # fmt: skip
    assert documented_paths(TINY).enums[("entry", "[]", "changes", "[]", "field")] == {"messages"}


def test_a_ref_that_points_nowhere_is_a_spec_error() -> None:
    broken = repair(TINY)
    broken["components"]["schemas"]["Entry"]["properties"]["id"] = {"$ref": "#/nowhere"}
    with pytest.raises(SpecError, match="points nowhere"):
        documented_paths(broken)


def test_the_colliding_bare_names_are_repaired() -> None:
    fixed = repair(
        {"$ref": "#/components/schemas/TextMessage", "mapping": {"a": "#/x/ImageMessage"}}
    )
    assert fixed["$ref"] == "#/components/schemas/TextMessage_2"
    assert fixed["mapping"] == {"a": "#/x/ImageMessage"}  # only components/schemas refs


def test_generated_paths_leave_out_fields_the_spec_does_not_cover() -> None:
    paths, skipped = generated_paths(
        [_payload({"kind": "t"}), _payload({"x": 1}, "account_update")], {"messages"}
    )
    assert {render(p) for p in paths} >= {f"{CHANGE}.value.kind", "entry[].id"}
    assert not any("x" in p for p in paths)
    assert skipped == {"account_update": 1}


def test_compare_reports_both_directions_at_the_top_of_each_subtree() -> None:
    generated, _ = generated_paths(
        [
            _payload({"kind": "t", "text": {"body": "b"}, "labels": {"any": "1", "other": "2"}}),
            _payload({"edit": {"original": "x", "message": {"type": "text"}}}),
        ],
        {"messages"},
    )
    assert compare(documented_paths(TINY).paths, generated) == [
        Drift("undocumented", f"{CHANGE}.value.edit"),  # its three keys below: one line
        Drift("ungenerated", f"{CHANGE}.value.node"),
    ]


def test_every_exception_needs_a_source(tmp_path: Path) -> None:
    path = tmp_path / "known.toml"
    path.write_text('[[exception]]\npath = "a"\ndirection = "undocumented"\n', encoding="utf-8")
    with pytest.raises(drift.UsageError, match="exactly path, direction and source"):
        load_exceptions(path)


@pytest.fixture
def no_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny spec's world: one known payload instead of the whole catalogue."""
    payload = _payload({"kind": "t", "text": {"body": "b"}, "surprise": True})
    monkeypatch.setattr(drift.catalog, "build_all", lambda ctx: {"one": payload})


def _run(tmp_path: Path, known: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(
        ["--check", str(_write_spec(tmp_path)), "--exceptions", str(known), "--samples", "0"]
    )
    return code, capsys.readouterr().out


def test_new_drift_exits_1_one_line_per_path(
    tmp_path: Path, no_catalogue: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(tmp_path, _write_exceptions(tmp_path), capsys)
    assert code == 1
    assert f"new drift: undocumented {CHANGE}.value.surprise " in out
    assert f"new drift: ungenerated {CHANGE}.value.labels " in out


def test_listed_drift_exits_0_and_a_stale_exception_exits_1(
    tmp_path: Path, no_catalogue: None, capsys: pytest.CaptureFixture[str]
) -> None:
    current = [
        ("undocumented", f"{CHANGE}.value.surprise"),
        ("ungenerated", f"{CHANGE}.value.labels"),
        ("ungenerated", f"{CHANGE}.value.node"),
    ]
    assert _run(tmp_path, _write_exceptions(tmp_path, *current), capsys)[0] == 0
    stale = ("undocumented", f"{CHANGE}.value.gone")
    code, out = _run(tmp_path, _write_exceptions(tmp_path, *current, stale), capsys)
    assert code == 1
    assert f"stale exception: undocumented {CHANGE}.value.gone " in out


def test_a_missing_spec_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check", str(tmp_path / "absent.yaml")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "no OpenAPI spec at" in captured.err
    assert "Traceback" not in captured.err


def test_a_spec_that_is_not_yaml_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [unclosed\n", encoding="utf-8")
    assert main(["--check", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("drift: SpecError: cannot read the OpenAPI spec")


def test_the_builders_have_no_unlisted_drift_from_metas_spec(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not REAL_SPEC.exists():
        pytest.skip(f"Meta's OpenAPI spec is not checked out at {REAL_SPEC}")
    code = main(["--check", str(REAL_SPEC)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "not compared: account_review_update, account_update" in out
