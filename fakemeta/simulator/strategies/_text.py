"""Text that hurts receivers, and names from Faker seeded by Hypothesis.

Everything a WhatsApp user can type travels through these: right-to-left
scripts with their direction marks, emoji outside the Basic Multilingual
Plane (surrogate pairs on the wire), combining marks, zero-width characters,
and the characters Meta escapes (`/`, and in legacy encoding `<`, `%`, `@`),
plus quotes and backslashes that naive JSON handling mangles.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache

from faker import Faker
from hypothesis import strategies as st

__all__ = ["LOCALES", "MAX_TEXT_LENGTH", "hostile_texts", "person_names", "texts"]

#: Meta's limit on a text message body.
MAX_TEXT_LENGTH = 4096

#: Faker locales the names are drawn from: many scripts and directions.
LOCALES = (
    "en_US", "ar_SA", "ar_EG", "fa_IR", "he_IL", "hi_IN", "bn_BD", "ja_JP", "zh_CN",
    "ko_KR", "ru_RU", "uk_UA", "el_GR", "th_TH", "tr_TR", "pt_BR", "es_MX", "de_DE",
    "fr_FR", "pl_PL", "vi_VN", "id_ID", "hy_AM", "ka_GE",
)  # fmt: skip

_PIECES = (
    "مرحبا، أحتاج معلومات",  # Arabic
    "שלום עולם",  # Hebrew
    "سلام دنیا",  # Persian
    "\u200f",  # RIGHT-TO-LEFT MARK
    "\u200e",  # LEFT-TO-RIGHT MARK
    "\u202b\u202c",  # RLE ... PDF embedding
    "\u2067\u2069",  # RLI ... PDI isolate
    "\u200b",  # ZERO WIDTH SPACE
    "\u200d",  # ZERO WIDTH JOINER
    "\ufeff",  # BOM inside text
    "👋",
    "👨‍👩‍👧‍👦",  # family: ZWJ sequence
    "🇸🇦",  # flag: regional indicators
    "👍🏽",  # skin tone modifier
    "e\u0301",  # e + COMBINING ACUTE (not NFC)
    "\u0627\u064e\u0644\u0652",  # Arabic letters with harakat
    "ñ",
    "𝕳𝖊𝖑𝖑𝖔",  # mathematical alphanumerics
    "https://example.com/a/b?x=1&y=%20",
    "user@example.com",
    "100%",
    "<script>alert(1)</script>",
    '"quoted"',
    "back\\slash",
    "\\/",
    "\\u0041",  # a literal backslash-u, not an escape
    "\n",
    "\t",
    "  ",
)

# Characters a phone can send: no lone surrogates (invalid UTF-16), no C0/C1
# controls other than newline and tab.
_characters = st.characters(
    blacklist_categories=("Cs", "Cc"),
    whitelist_characters="\n\t",
)

# Never blank (`str.isspace()` is False for each): what a text that would
# otherwise come out blank or short starts with, or is padded with.
_ANCHORS = ("a", "Z", "0", "ñ", "ش", "ש", "中", "👋", "𝕳", "%", "/")


def _repaired(min_size: int, max_size: int) -> Callable[[str], str]:
    """Cut a drawn text to `max_size` and, with `min_size`, make it non-blank
    and long enough by construction: no filter, so no retried draws. The
    anchor depends on the text alone, so the result is the draw's."""

    def repair(text: str) -> str:
        text = text[:max_size]
        if min_size == 0:
            return text
        anchor = _ANCHORS[len(text) % len(_ANCHORS)]
        if text.strip() == "":
            text = (anchor + text)[:max_size]
        if len(text) < min_size:
            text += anchor * (min_size - len(text))
        return text

    return repair


def _repeated(drawn: tuple[int, str]) -> str:
    n, piece = drawn
    return (piece * (n // len(piece) + 1))[:n]


def texts(*, min_size: int = 1, max_size: int = MAX_TEXT_LENGTH) -> st.SearchStrategy[str]:
    """Any text a user can send, from plain words to the hostile pieces above."""
    if not 0 <= min_size <= max_size:
        raise ValueError(f"Expected 0 <= min_size <= max_size but got {min_size=}, {max_size=}")
    return _texts(min_size, max_size)


# While drawing, each piece is one private-use character: a sequence of up
# to a dozen pieces is then one string draw (a list of pieces and runs was
# three draws an element), shrinking towards fewer and earlier pieces.
_MARKER = 0xE000
_MARKERS = "".join(chr(_MARKER + i) for i in range(len(_PIECES)))
_cuts = st.integers(min_value=0, max_value=2**32 - 1)


def _mixed(drawn: tuple[str, str, int]) -> str:
    """The pieces the markers stand for, in their order, with the run of
    characters cut between them at places the seed picks: any order of
    pieces and runs, from three draws."""
    markers, run, seed = drawn
    cuts = sorted(random.Random(seed).choices(range(len(run) + 1), k=len(markers)))
    parts: list[str] = []
    start = 0
    for marker, cut in zip(markers, cuts, strict=True):
        parts += (run[start:cut], _PIECES[ord(marker) - _MARKER])
        start = cut
    parts.append(run[start:])
    return "".join(parts)


@cache
def _texts(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    # One strategy object per size range: built and validated once, not for
    # every strategy (or every draw) that asks for texts. Each family is a
    # few draws, so that a batch of dozens of messages stays small.
    pieces = st.tuples(
        st.text(_MARKERS, min_size=1, max_size=12), st.text(_characters, max_size=64), _cuts
    ).map(_mixed)
    plain = st.text(_characters, max_size=min(64, max_size))
    long_text = st.tuples(
        st.integers(min_value=max(min_size, 1), max_value=max_size), st.sampled_from(_PIECES)
    ).map(_repeated)
    return st.one_of(pieces, plain, long_text).map(_repaired(min_size, max_size))


def hostile_texts(*, max_size: int = MAX_TEXT_LENGTH) -> st.SearchStrategy[str]:
    """Texts that always contain at least one of the pieces that break receivers."""
    return _hostile_texts(max_size)


def _hostile(drawn: tuple[str, str, str]) -> str:
    head, piece, tail = drawn
    return head + piece + tail


@cache
def _hostile_texts(max_size: int) -> st.SearchStrategy[str]:
    # `head` is a text: non-blank and at most `max_size` long, so the cut
    # keeps all of it and the result is never blank (no filter needed).
    return st.tuples(
        texts(max_size=max_size), st.sampled_from(_PIECES), texts(max_size=max_size)
    ).map(lambda t: _hostile(t)[:max_size])


@cache
def _faker(locale: str) -> Faker:
    # Only the person provider: names are all that is drawn, and loading
    # every provider of a locale took most of a draw's time (the names for a
    # seed are the same either way).
    return Faker(locale, providers=["faker.providers.person"])


def person_names(locales: tuple[str, ...] = LOCALES) -> st.SearchStrategy[str]:
    """Profile names from Faker in many locales.

    Faker is seeded from a Hypothesis draw, so shrinking and replay work: the
    same draw gives the same name.
    """
    if not locales:
        raise ValueError("Expected at least one locale but got locales=()")

    def name(locale: str, seed: int) -> str:
        fake = _faker(locale)
        fake.seed_instance(seed)
        return str(fake.name())

    def define() -> st.SearchStrategy[str]:
        # Load every locale when Hypothesis validates the strategy, before it
        # times any draw (loading one takes several milliseconds).
        for locale in locales:
            _faker(locale)
        return st.builds(name, st.sampled_from(locales), st.integers(0, 2**32 - 1))

    return st.deferred(define)
