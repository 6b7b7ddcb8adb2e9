"""The canonical payload files in `fixtures/`: where they are, how to read
them, and how they are written from the catalog.

Each variant `<group>/<name>` has `fixtures/<group>/<name>.json` (the payload
as the builders make it, indented for people) and `<name>.wire` (the exact
bytes Meta would send). `fixtures/signatures.txt` holds the golden signature
of every `.wire` file under `TEST_APP_SECRET`. The directory is found from this
file's own path: inside an installed wheel it is `fakemeta/simulator/fixtures/`, in a
checkout it is the repository's `fixtures/`. Never the working directory.

The files at the top are the current era's shapes (`fakemeta.simulator.eras.CURRENT`);
each older era has the same layout in a folder of its own, `fixtures/2025/`.

Regenerate after changing a builder: `python -m fakemeta.simulator.fixtures`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fakemeta.simulator import catalog, eras
from fakemeta.simulator.encoding import encode
from fakemeta.simulator.eras import Era
from fakemeta.simulator.errors import FixturesMissing, UnknownVariant
from fakemeta.simulator.signing import sign

__all__ = ["TEST_APP_SECRET", "Fixture", "describe", "fixtures_dir", "load", "names", "write_all"]

#: The app secret the golden signatures are made with. Test data only.
TEST_APP_SECRET = "fakemeta-test-app-secret"  # noqa: S105 - published test data

_HERE = Path(__file__).resolve().parent
#: The repository's `fixtures/` in a checkout: this file is fakemeta/simulator/fixtures.py.
_CHECKOUT_FIXTURES = _HERE.parents[1] / "fixtures"


def fixtures_dir() -> Path:
    """The fixtures directory shipped with this copy of the code."""
    for candidate in (_HERE / "fixtures", _CHECKOUT_FIXTURES):
        if (candidate / "signatures.txt").is_file():
            return candidate
    raise FixturesMissing(
        f"no fixtures directory beside {_HERE}: reinstall fakemeta, or in a checkout run "
        "`python -m fakemeta.simulator.fixtures` to write them"
    )


@dataclass(frozen=True)
class Fixture:
    name: str
    payload: dict[str, Any]
    wire: bytes
    signature: str


@cache
def _signatures(directory: Path) -> dict[str, str]:
    lines = (directory / "signatures.txt").read_text(encoding="ascii").splitlines()
    pairs = (line.split() for line in lines if line and not line.startswith("#"))
    return {name: signature for name, signature in pairs}


def _era_dir(root: Path, era: Era) -> Path:
    return root if era == eras.CURRENT else root / era.name


def names(era: Era | str | None = None) -> list[str]:
    """The names of the era's fixture files present, `<group>/<name>`, sorted."""
    return sorted(_signatures(_era_dir(fixtures_dir(), eras.era(era))))


def load(name: str, era: Era | str | None = None) -> Fixture:
    """The era's fixture `name` (`messages/text`, or `text` when unambiguous)."""
    chosen = eras.era(era)
    directory = _era_dir(fixtures_dir(), chosen)
    known = _signatures(directory)
    if name not in known:
        matches = [n for n in known if n.split("/", 1)[1] == name]
        if len(matches) != 1:
            # The catalog says why best: ambiguous, another era's, or unknown.
            name = catalog.resolve(name, chosen)
            raise UnknownVariant(
                f"no fixture file for {name!r}: run `python -m fakemeta.simulator.fixtures`"
            )
        name = matches[0]
    base = directory / name
    payload = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))
    return Fixture(name, payload, base.with_suffix(".wire").read_bytes(), known[name])


def write_all(directory: Path) -> list[str]:
    """Write every catalog variant of every era under `directory` (the current
    era at the top, the others in folders named for them); returns the names
    written, each older era's prefixed with its folder."""
    written: list[str] = []
    for era in eras.ERAS.values():
        target = _era_dir(directory, era)
        prefix = "" if target == directory else f"{era.name}/"
        written += [prefix + name for name in _write_era(target, era)]
    _signatures.cache_clear()
    return written


def _write_era(directory: Path, era: Era) -> list[str]:
    variants = catalog.build_all(catalog.Context.fixed(era=era))
    lines = [
        "# <fixture> <X-Hub-Signature-256 of <fixture>.wire>",
        f"# app secret: {TEST_APP_SECRET}",
        f"# era: {era.name}",
    ]
    for name, payload in variants.items():
        base = directory / name
        base.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
        base.with_suffix(".json").write_text(text, encoding="utf-8")
        wire = encode(payload)
        base.with_suffix(".wire").write_bytes(wire)
        lines.append(f"{name} {sign(wire, TEST_APP_SECRET)}")
    (directory / "signatures.txt").write_text("\n".join(lines) + "\n", encoding="ascii")
    _write_readme(directory, variants, era)
    return list(variants)


def describe(payload: dict[str, Any]) -> str:
    """What a payload holds, in a few words (`messages: text, image`)."""
    parts = []
    for entry in payload["entry"]:
        for change in entry["changes"]:
            value = change["value"]
            if "messages" in value:
                parts.append("messages: " + ", ".join(m["type"] for m in value["messages"]))
            elif "statuses" in value:
                parts.append("statuses: " + ", ".join(s["status"] for s in value["statuses"]))
            elif "errors" in value and change["field"] == "messages":
                parts.append("errors: " + ", ".join(str(e["code"]) for e in value["errors"]))
            else:
                parts.append(f"field {change['field']}")
    return "; ".join(parts)


def _write_readme(directory: Path, variants: dict[str, Any], era: Era) -> None:
    rows = "\n".join(f"| `{name}` | {describe(payload)} |" for name, payload in variants.items())
    where = (
        "These are the current shapes. Older eras' files are in folders named for "
        "them (`2025/`); `fakemeta/simulator/eras.py` says what each era is."
        if era == eras.CURRENT
        else f"These are the {era.name} shapes (`--era {era.name}`); the current "
        "ones are one folder up. `fakemeta/simulator/eras.py` says what each era is."
    )
    era_option = "" if era == eras.CURRENT else f" --era {era.name}"
    (directory / "README.md").write_text(
        f"""# fixtures ({era.name} shapes)

{where}

Canonical WhatsApp Cloud API webhook payloads, one variant per file, written by
`python -m fakemeta.simulator.fixtures` from the builders (do not edit by hand: a test
keeps these files and the builders in agreement).

For each variant `<group>/<name>`:
- `<name>.json`: the payload, indented, keys in Meta's order;
- `<name>.wire`: the exact bytes Meta sends (minified, `\\uXXXX` for non-ASCII,
  `\\/` for `/`);
- a line in `signatures.txt`: the `X-Hub-Signature-256` of the `.wire` bytes
  under the test app secret `{TEST_APP_SECRET}`.

Ids and timestamps are fixed (derived from one seed) so the files are stable.
`fakemeta fixtures show NAME [--wire]{era_option}` prints one;
`fakemeta send URL --fixture NAME{era_option}` sends its exact bytes.

| fixture | contents |
| --- | --- |
{rows}
""",
        encoding="utf-8",
    )


def main() -> None:
    target = _CHECKOUT_FIXTURES
    written = write_all(target)
    print(f"wrote {len(written)} fixtures to {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
