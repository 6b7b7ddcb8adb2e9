"""The message mix of a load run: which kinds of update, in what shares.

`fakemeta load --mix text=8,image=1,status=3` (or `--mix FILE` holding the
same entries, one a line or comma-separated, `#` starting a comment) is
parsed here into a `Mix`, before anything is built or sent. `status` is
short for `sent`, `delivered` and `read` in equal parts: the statuses a
business sees for each message it sends.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from fakemeta.simulator.errors import BadInput

__all__ = ["DEFAULT_MIX", "MESSAGE_KINDS", "STATUS_KINDS", "Mix", "parse_mix"]

#: Inbound message kinds, each the builder of `fakemeta.simulator.messages` of that name.
MESSAGE_KINDS = (
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "interactive",
    "button",
)
#: Status kinds, each the builder of `fakemeta.simulator.statuses` of that name.
STATUS_KINDS = ("sent", "delivered", "read", "failed")

#: Names that stand for several kinds in equal parts.
_ALIASES = {"status": ("sent", "delivered", "read"), "statuses": ("sent", "delivered", "read")}

DEFAULT_MIX = "text=8,image=1,status=3"

_ENTRY = re.compile(r"\s*([A-Za-z_]+)\s*=\s*([0-9]*\.?[0-9]+)\s*")


@dataclass(frozen=True)
class Mix:
    """Kinds and their weights (positive), in the order given."""

    weights: tuple[tuple[str, float], ...]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind, _ in self.weights)

    def shares(self) -> dict[str, float]:
        """Each kind's share of the updates, summing to 1."""
        total = sum(w for _, w in self.weights)
        return {kind: w / total for kind, w in self.weights}

    def describe(self) -> str:
        return ",".join(f"{kind}={_number(w)}" for kind, w in self.weights)

    def table(self, size: int) -> list[str]:
        """`size` kinds laid out in proportion to their weights (every kind
        at least once), for a draw by random index."""
        shares = self.shares()
        counts = {kind: max(1, round(share * size)) for kind, share in shares.items()}
        table = [kind for kind, count in counts.items() for _ in range(count)]
        # Rounding may leave the table a few entries off `size`: trim or pad
        # with the most common kind, which moves its share least.
        common = max(shares, key=lambda k: shares[k])
        while len(table) > size:
            table.remove(common)
        table.extend([common] * (size - len(table)))
        return table


def _number(weight: float) -> str:
    return str(int(weight)) if weight == int(weight) else f"{weight:.3g}"


def parse_mix(text: str) -> Mix:
    """The `Mix` for `--mix`: `kind=weight` entries, or a file holding them.

    A value without `=` is read as the path of a file; `@path` always is.
    Raises `BadInput` with one line naming what is wrong.
    """
    source = "--mix"
    if text.startswith("@") or ("=" not in text and text.strip()):
        path = Path(text.removeprefix("@"))
        try:
            content = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BadInput(
                f"--mix {text}: neither kind=weight entries (e.g. {DEFAULT_MIX})"
                f" nor a readable file ({exc.strerror or exc})"
            ) from None
        source = f"--mix file {path}"
        text = "\n".join(line.split("#", 1)[0] for line in content.splitlines())
    entries = [e for e in re.split(r"[,\n]", text) if e.strip()]
    if not entries:
        raise BadInput(f"{source}: no entries; give kind=weight pairs, e.g. {DEFAULT_MIX}")
    weights: dict[str, float] = {}
    for entry in entries:
        match = _ENTRY.fullmatch(entry)
        if match is None:
            raise BadInput(
                f"{source}: {entry.strip()!r} is not kind=weight (a name, '=', a number >= 0),"
                f" e.g. {DEFAULT_MIX}"
            )
        name, weight = match.group(1).lower(), float(match.group(2))
        if not math.isfinite(weight):
            raise BadInput(f"{source}: {entry.strip()!r}: the weight must be a finite number")
        for kind in _expand(name, source):
            share = weight / len(_ALIASES.get(name, (name,)))
            weights[kind] = weights.get(kind, 0.0) + share
    positive = tuple((kind, w) for kind, w in weights.items() if w > 0)
    if not positive:
        raise BadInput(f"{source}: every weight is 0; give at least one kind a weight above 0")
    return Mix(positive)


def _expand(name: str, source: str) -> tuple[str, ...]:
    if name in _ALIASES:
        return _ALIASES[name]
    if name in MESSAGE_KINDS or name in STATUS_KINDS:
        return (name,)
    known = ", ".join((*MESSAGE_KINDS, *STATUS_KINDS, "status"))
    raise BadInput(f"{source}: unknown kind {name!r}; use one of {known}")
