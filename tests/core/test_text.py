"""``labkit._text.UNSAFE``: every invisible, control, format, private-use or separator character, and nothing else."""

from __future__ import annotations

import sys
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from labkit._text import UNSAFE, has_unsafe, safe_text
from tests.helpers import examples

# Default_Ignorable_Code_Point, Unicode 15.1 DerivedCoreProperties.txt (not exposed by ``unicodedata``).
DEFAULT_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
                     (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
                     (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
                     (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))
REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}


def _ignorable(code: int) -> bool:
    return any(low <= code <= high for low, high in DEFAULT_IGNORABLE)


def test_unsafe_is_exactly_ignorables_and_refused_categories() -> None:
    """Derived from ``unicodedata``: each code point is matched iff ignorable or in a refused category (or, for code
    points the runtime's older Unicode leaves unassigned, a format character of a newer version)."""
    everything = "".join(chr(code) for code in range(sys.maxunicode + 1))
    matched = {ord(char) for char in UNSAFE.findall(everything)}
    for code in range(sys.maxunicode + 1):
        category = unicodedata.category(chr(code))
        expected = _ignorable(code) or category in REFUSED_CATEGORIES
        if category == "Cn" and not expected:
            continue  # unassigned in this runtime's Unicode: may be a newer version's format character
        assert (code in matched) == expected, (hex(code), category)


def test_invisible_characters_from_the_review_are_escaped() -> None:
    for code in (0xE0000, 0xE0041, 0xE007F, 0x00AD, 0x180E, 0x034F, 0xFE00, 0xFE0F, 0x1D173, 0x1D17A,
                 0x115F, 0x1160, 0x3164, 0xFFA0, 0xE000, 0x2028, 0x202E):
        shown = safe_text(f"A{chr(code)}B")
        assert UNSAFE.search(shown) is None and shown != f"A{chr(code)}B", hex(code)
    assert safe_text("A\U000e0041B") == "A\\U000e0041B"


@settings(max_examples=examples(300))
@given(st.text())
def test_safe_text_never_returns_an_unsafe_character(value: str) -> None:
    assert UNSAFE.search(safe_text(value)) is None


def test_ordinary_text_is_kept() -> None:
    for text in ("Météo-Bot für Zürich ☀ 天気", "한국어 클라이언트", "emoji 👩‍💻", "ﷺ", "x" * 10):
        assert safe_text(text) == text.replace("\u200d", "\\u200d")


@settings(max_examples=examples(300))
@given(st.text())
def test_the_ascii_fast_path_agrees_with_unsafe(value: str) -> None:
    assert has_unsafe(value) == (UNSAFE.search(value) is not None)
