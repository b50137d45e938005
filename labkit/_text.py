"""Client-supplied text made safe to store and print: bounded, with control and format characters escaped.

Terminal escape sequences (ESC, CSI), CR/LF, NUL, bidi overrides, zero-width and other invisible characters (tag
characters, variation selectors, Hangul fillers), private-use and lone surrogates become visible
``\\xNN``/``\\uNNNN``/``\\UNNNNNNNN`` escapes; text past the limit is cut with a ``…(+N)`` marker.
"""

from __future__ import annotations

import re

__all__ = ["MAX_TEXT", "UNSAFE", "has_unsafe", "safe_text"]

MAX_TEXT = 128
_MARKER_ROOM = 16  # room kept for "…(+N)" when text is cut
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 15.1: soft hyphen, CGJ, Hangul
# fillers, Mongolian and variation selectors, musical format controls, the E0000-E0FFF tag/selector plane), united
# with the general categories Cc (controls, ESC, CR/LF, NUL), Cf (format: zero-width, bidi overrides and isolates),
# Cs (lone surrogates), Co (private use: no agreed glyph), Zl and Zp (line and paragraph separators).
# tests/core/test_text.py re-derives the categories from ``unicodedata`` and checks this table covers them and
# refuses nothing else. A compiled class, not a per-character lookup: ``safe_text`` is on the audit hot path.
UNSAFE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u115f-\u1160"
    r"\u17b4-\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ud800-\uf8ff\ufe00-\ufe0f"
    r"\ufeff\uffa0\ufff0-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    r"\U0001d173-\U0001d17a\U000e0000-\U000e0fff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
_ASCII_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")  # UNSAFE restricted to ASCII: the common case, 3-4x faster


def has_unsafe(text: str) -> bool:
    """Whether ``text`` holds a character of ``UNSAFE`` (ASCII text is checked with the short class)."""
    return (_ASCII_UNSAFE if text.isascii() else UNSAFE).search(text) is not None


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def safe_text(value: object, limit: int = MAX_TEXT) -> str:
    """``value`` as printable text of at most ``limit`` characters plus a ``…(+N)`` marker when cut."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit and not has_unsafe(text):
        return text
    budget = limit if len(text) <= limit else max(limit - _MARKER_ROOM, 1)
    pieces: list[str] = []
    size = used = 0
    for char in text[: budget + 1]:
        piece = _escape(char) if UNSAFE.match(char) else char
        if size + len(piece) > budget:
            break
        pieces.append(piece)
        size += len(piece)
        used += 1
    rest = len(text) - used
    return "".join(pieces) + (f"\u2026(+{rest})" if rest else "")
