"""Drift between what the builders generate and what Meta's OpenAPI spec documents.

`python -m fakemeta.simulator.drift --check SPEC` collects the JSON paths of every
catalogue payload plus a fixed, derandomized Hypothesis sample, of every era, collects the
paths the spec documents under `WebhookPayload` (`fakemeta.simulator._drift_spec`), and
lists both directions of difference:

- `undocumented`: we generate the path, the spec does not document it;
- `ungenerated`: the spec documents the path, we never generate it.

Only the changes whose `field` the spec's `Change.field` enum names are
compared (`messages`, and the group fields); the other fields
(`account_update`, ...) are outside the spec and are named as such, not
reported as drift. A difference is reported at the top of its subtree: an
undocumented object is one line, not one per key below it.

Known differences live in one reviewed list, `drift_exceptions.toml` beside
this file, each with its source. Exit 0 when every difference is listed
there, 1 for a new difference or a listed one that no longer occurs, 2 for a
usage error (missing spec, broken list), always with one line.
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fakemeta.simulator import catalog, eras
from fakemeta.simulator._drift_spec import (
    ITEMS,
    WILDCARD,
    JsonPath,
    SpecError,
    documented_paths,
    load_spec,
    render,
)
from fakemeta.simulator.eras import Era
from fakemeta.simulator.errors import UsageError
from fakemeta.simulator.types import Payload

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "DIRECTIONS",
    "EXCEPTIONS",
    "Drift",
    "compare",
    "derandomized_examples",
    "generated_paths",
    "main",
    "sampled_payloads",
]

T = TypeVar("T")

#: Where the reviewed list of known differences lives.
EXCEPTIONS = Path(__file__).resolve().parent / "drift_exceptions.toml"
DIRECTIONS = ("undocumented", "ungenerated")
_CHANGES: JsonPath = ("entry", ITEMS, "changes", ITEMS)
_FIELD: JsonPath = (*_CHANGES, "field")


@dataclass(frozen=True, order=True)
class Drift:
    """One difference: `path` (rendered) and its `direction` (see DIRECTIONS)."""

    direction: str
    path: str


def _paths_of(value: Any, at: JsonPath, out: set[JsonPath]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            out.add((*at, str(key)))
            _paths_of(sub, (*at, str(key)), out)
    elif isinstance(value, list):
        for sub in value:
            out.add((*at, ITEMS))
            _paths_of(sub, (*at, ITEMS), out)


def generated_paths(
    payloads: Iterable[Payload], fields: set[str]
) -> tuple[set[JsonPath], Counter[str]]:
    """The paths of `payloads`, counting only changes whose field is in `fields`;
    also how many changes of each other field were left out."""
    out: set[JsonPath] = set()
    skipped: Counter[str] = Counter()
    for payload in payloads:
        entries = []
        for entry in payload.get("entry", []):
            changes = [c for c in entry.get("changes", []) if c.get("field") in fields]
            skipped.update(c.get("field") for c in entry.get("changes", []) if c not in changes)
            if changes:
                entries.append({**entry, "changes": changes})
        if entries:
            _paths_of({**payload, "entry": entries}, (), out)
    return out, skipped


def _matches(documented: JsonPath, generated: JsonPath) -> bool:
    return len(documented) == len(generated) and all(
        d == g or (d == WILDCARD and g != ITEMS) for d, g in zip(documented, generated, strict=True)
    )


def _tops(paths: set[JsonPath]) -> list[JsonPath]:
    """The paths whose parent is not in `paths` too: one line per subtree."""
    return sorted(p for p in paths if p[:-1] not in paths)


def compare(documented: set[JsonPath], generated: set[JsonPath]) -> list[Drift]:
    """Both directions of difference, each at the top of its subtree."""
    undocumented = {g for g in generated if not any(_matches(d, g) for d in documented)}
    ungenerated = {d for d in documented if not any(_matches(d, g) for g in generated)}
    return sorted(
        [Drift("undocumented", render(p)) for p in _tops(undocumented)]
        + [Drift("ungenerated", render(p)) for p in _tops(ungenerated)]
    )


def load_exceptions(path: Path) -> dict[Drift, str]:
    """The reviewed list: each known `Drift` and its source."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read the exceptions list {path}: {exc}") from None
    known: dict[Drift, str] = {}
    for number, item in enumerate(data.get("exception", []), 1):
        where = f"{path.name}, exception {number}"
        if not isinstance(item, dict) or set(item) != {"path", "direction", "source"}:
            raise UsageError(f"{where}: give exactly path, direction and source")
        if item["direction"] not in DIRECTIONS:
            raise UsageError(f"{where}: direction must be one of {', '.join(DIRECTIONS)}")
        if not str(item["source"]).strip():
            raise UsageError(f"{where}: the source is empty; say where the difference is known")
        drift = Drift(item["direction"], item["path"])
        if drift in known:
            raise UsageError(f"{where}: {drift.direction} {drift.path} is listed twice")
        known[drift] = item["source"]
    return known


def derandomized_examples(strategy: SearchStrategy[T], count: int) -> list[T]:
    """`count` examples of `strategy`, derandomized: the same list on every
    run of the same Hypothesis, never stored in or replayed from its database."""
    from hypothesis import HealthCheck, Phase, given, settings

    out: list[T] = []

    @settings(
        max_examples=count, derandomize=True, database=None, deadline=None,
        phases=[Phase.generate], suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(strategy)
    def collect(example: T) -> None:
        out.append(example)

    collect()
    return out


def sampled_payloads(count: int, era: Era | str | None = None) -> list[Payload]:
    """`count` deliveries of the era from each of the message, status and
    error strategies, derandomized: the same sample on every run of the same
    Hypothesis."""
    from fakemeta.simulator.strategies import error_payloads, message_payloads, status_payloads

    out: list[Payload] = []
    for strategy in (message_payloads(era=era), status_payloads(era=era), error_payloads()):
        out += derandomized_examples(strategy, count)
    return out


def every_era_payloads(count: int) -> list[Payload]:
    """The whole catalogue and `count` samples per strategy, in every era."""
    payloads: list[Payload] = []
    for era in eras.ERAS.values():
        payloads += catalog.build_all(catalog.Context.fixed(era=era)).values()
        payloads += sampled_payloads(count, era) if count else []
    return payloads


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fakemeta.simulator.drift", description=__doc__)
    add = parser.add_argument
    add("--check", metavar="SPEC", required=True, type=Path,
        help="Meta's OpenAPI YAML (business-messaging-api_v23.0.yaml)")  # fmt: skip
    add("--exceptions", metavar="TOML", type=Path, default=EXCEPTIONS,
        help="the reviewed list of known differences (default: %(default)s)")  # fmt: skip
    add("--samples", metavar="N", type=int, default=100,
        help="Hypothesis examples per strategy (default: %(default)s)")  # fmt: skip
    add("--show-known", action="store_true",
        help="also list the differences the exceptions cover")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check; the exit status (0 clean, 1 drift, 2 usage error)."""
    args = _parser().parse_args(argv)
    started = time.monotonic()
    try:
        if args.samples < 0:
            raise UsageError(f"Expected --samples >= 0 but got --samples={args.samples}")
        known = load_exceptions(args.exceptions)
        spec = documented_paths(load_spec(args.check))
    except (SpecError, UsageError) as exc:
        print(f"drift: {exc.one_line()}", file=sys.stderr)
        return 2
    fields = spec.enums.get(_FIELD, {"messages"})
    payloads = every_era_payloads(args.samples)
    generated, skipped = generated_paths(payloads, fields)
    drifts = compare(spec.paths, generated)
    new = [d for d in drifts if d not in known]
    stale = sorted(d for d in known if d not in drifts)
    print(
        f"drift: {len(spec.paths)} documented paths, {len(generated)} generated paths from "
        f"{len(payloads)} payloads ({time.monotonic() - started:.1f} s); compared fields: "
        f"{', '.join(sorted(fields))}"
    )
    if skipped:
        print(f"drift: not in the spec, so not compared: {', '.join(sorted(skipped))}")
    for d in drifts:
        if args.show_known and d in known:
            print(f"known {d.direction} {d.path}  ({known[d]})")
    for d in new:
        what = "we generate it, the spec does not document it"
        if d.direction == "ungenerated":
            what = "the spec documents it, we never generate it"
        print(f"new drift: {d.direction} {d.path}  ({what})")
    for d in stale:
        print(f"stale exception: {d.direction} {d.path}  (no longer occurs: remove it)")
    verdict = "FAIL" if new or stale else "ok"
    print(
        f"drift: {verdict}: {len(drifts)} differences, {len(drifts) - len(new)} known, "
        f"{len(new)} new, {len(stale)} stale exceptions ({args.exceptions.name})"
    )
    return 1 if new or stale else 0


if __name__ == "__main__":
    sys.exit(main())
