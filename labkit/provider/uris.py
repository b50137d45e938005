"""RFC 3986 syntax for URIs a client registers (RFC 7591 metadata, client ID metadata documents).

A registered URI is later written into a ``Location`` header or shown to a user, so it must be a URI, not any
string: an absolute URI (RFC 3986 §4.3) of visible ASCII from the URI character set, with well-formed
percent-encodings, a parseable authority and port; for a redirect URI no fragment (RFC 6749 §3.1.2).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["MAX_URI", "is_uri"]

MAX_URI = 512
# RFC 3986 §2: unreserved / reserved / "%"; nothing else (no controls, spaces, DEL, non-ASCII, quotes, "\", "<>")
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def is_uri(value: object, *, fragment: bool = True) -> bool:
    """Whether ``value`` is an absolute RFC 3986 URI of at most ``MAX_URI`` characters (no fragment when
    ``fragment`` is False; ``#`` alone counts as a fragment)."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_URI or not _URI_CHARS.fullmatch(value):
        return False
    # RFC 3986 §2.1: "%" only as a percent-encoding
    if _BAD_PERCENT.search(value) or value.count("#") > (1 if fragment else 0):
        return False
    scheme, colon, _rest = value.partition(":")
    # RFC 3986 §4.3: absolute-URI = scheme ":" hier-part [ "?" query ]
    if not colon or not _SCHEME.fullmatch(scheme):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return False
    # "[" and "]" only around an IP literal host (RFC 3986 §3.2.2)
    where = parts.netloc.rpartition("@")[2]
    brackets = sum(value.count(c) for c in "[]")
    return brackets == 0 or (brackets == 2 and where.startswith("[") and "]" in where)
