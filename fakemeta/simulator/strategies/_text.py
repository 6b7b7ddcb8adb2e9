"""Text that hurts receivers, and names from Faker seeded by Hypothesis.

Everything a WhatsApp user can type travels through these: right-to-left
scripts with their direction marks, emoji outside the Basic Multilingual
Plane (surrogate pairs on the wire), combining marks, zero-width characters,
and the characters Meta escapes (`/`, and in legacy encoding `<`, `%`, `@`),
plus quotes and backslashes that naive JSON handling mangles.
"""

from __future__ import annotations

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


def texts(*, min_size: int = 1, max_size: int = MAX_TEXT_LENGTH) -> st.SearchStrategy[str]:
    """Any text a user can send, from plain words to the hostile pieces above."""
    if not 0 <= min_size <= max_size:
        raise ValueError(f"Expected 0 <= min_size <= max_size but got {min_size=}, {max_size=}")
    pieces = st.lists(
        st.one_of(st.sampled_from(_PIECES), st.text(_characters, min_size=1, max_size=20)),
        min_size=1,
        max_size=12,
    ).map("".join)
    long_text = st.integers(min_value=max(min_size, 1), max_value=max_size).flatmap(
        lambda n: st.sampled_from(_PIECES).map(lambda p: (p * (n // len(p) + 1))[:n])
    )
    return (
        st.one_of(pieces, st.text(_characters, max_size=64), long_text)
        .map(lambda s: s[:max_size])
        .filter(lambda s: len(s) >= min_size and s.strip() != "" if min_size else True)
    )


def hostile_texts(*, max_size: int = MAX_TEXT_LENGTH) -> st.SearchStrategy[str]:
    """Texts that always contain at least one of the pieces that break receivers."""
    return (
        st.tuples(texts(max_size=max_size), st.sampled_from(_PIECES), texts(max_size=max_size))
        .map(lambda t: (t[0] + t[1] + t[2])[:max_size])
        .filter(lambda s: s.strip() != "")
    )


@cache
def _faker(locale: str) -> Faker:
    return Faker(locale)


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

    return st.builds(name, st.sampled_from(locales), st.integers(0, 2**32 - 1))
