"""Client-supplied text made safe to store and print: bounded, with control and format characters escaped.

Terminal escape sequences (ESC, CSI), CR/LF, NUL, bidi overrides, zero-width characters and lone surrogates
become visible ``\\xNN``/``\\uNNNN`` escapes; text past the limit is cut with a ``…(+N)`` marker.
"""

from __future__ import annotations

import re

__all__ = ["MAX_TEXT", "UNSAFE", "safe_text"]

MAX_TEXT = 128
_MARKER_ROOM = 16  # room kept for "…(+N)" when text is cut
UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
                     r"\ud800-\udfff]")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(value: object, limit: int = MAX_TEXT) -> str:
    """``value`` as printable text of at most ``limit`` characters plus a ``…(+N)`` marker when cut."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit and not UNSAFE.search(text):
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
