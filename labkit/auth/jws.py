"""Strict reading of a JWS Compact Serialization (RFC 7515 §7.1) before joserfc verifies it.

joserfc does the cryptography; this layer refuses what a lenient reader would repair: padding,
whitespace, non-canonical base64url (RFC 7515 §2, RFC 4648 §3.5), duplicate JSON members
(RFC 7515 §5.2 / RFC 8259 §4), NaN and Infinity, a BOM, JWE and JSON serializations, oversized input.
"""

from __future__ import annotations

import binascii
import functools
import json
import json.scanner
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from ..errors import AuthError, Reason

__all__ = ["MAX_TOKEN_BYTES", "CompactJWS", "DuplicateMemberError", "b64url_decode", "parse_compact", "strict_json"]

MAX_TOKEN_BYTES = 8192
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_SEGMENT_BYTES = re.compile(rb"[A-Za-z0-9_-]*")
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_PADS = (b"", b"", b"==", b"=")  # by length % 4 (1 is never valid)
_a2b = binascii.a2b_base64
# RFC 4648 §3.5 canonical encoding: the unused bits of the last character must be zero.
_LAST_CHAR_OK = {
    2: frozenset(b"AQgw"),
    3: frozenset(b"AEIMQUYcgkosw048"),
}


class CompactJWS(NamedTuple):
    """The three segments of a compact JWS, decoded; nothing here is verified yet (a tuple: cheap to build)."""

    header: dict[str, Any]  # shared between tokens with the same header: never mutate it
    payload: bytes
    signature: bytes
    signing_input: bytes


def b64url_decode(segment: str) -> bytes:
    """Decode unpadded, canonical base64url; raises ``ValueError`` on anything else."""
    if not _SEGMENT.fullmatch(segment):
        raise ValueError("not base64url")
    return _decode_alphabet_checked(segment.encode("ascii"))


def _decode_alphabet_checked(segment: bytes) -> bytes:
    """``b64url_decode`` of a segment whose alphabet is known to be base64url; raises ``ValueError``."""
    remainder = len(segment) % 4
    if remainder == 1:
        raise ValueError("not base64url")
    if remainder and segment[-1] not in _LAST_CHAR_OK[remainder]:
        raise ValueError("non-canonical base64url (unused bits set)")
    # The alphabet was checked, so the standard decoder cannot skip or repair anything here.
    return binascii.a2b_base64((segment + b"==="[: -remainder % 4]).translate(_FROM_URLSAFE))


class DuplicateMemberError(ValueError):
    """A JSON object names one member twice (parsers disagree on which one wins)."""

    def __init__(self, member: str) -> None:
        super().__init__(f"duplicate member {member[:64]!r}")
        self.member = member


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateMemberError(key)
            seen.add(key)
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
# The scanner decode() runs, without its whitespace handling (typeshed types make_scanner as a class).
_scan = json.scanner.make_scanner(_DECODER)  # type: ignore[arg-type]


def strict_json(data: bytes) -> Any:
    """Parse UTF-8 JSON strictly (no BOM, NaN, Infinity or duplicate members); raises ``ValueError``."""
    try:
        text = data.decode("utf-8")
        try:
            value, end = _scan(text, 0)  # the common case: one value, no surrounding whitespace
        except StopIteration:
            end = -1
        # Anything else (whitespace, trailing data, an error) goes through decode(), which says what is wrong.
        return value if end == len(text) else _DECODER.decode(text)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc.__class__.__name__)) from None


_HEADER_MEMO_SIZE = 256
_HEADER_MEMO_MAX_SEGMENT = 1024


def _decode_header(segment: bytes) -> dict[str, Any]:
    # Tokens of one issuer share a handful of headers: remember the decoded ones (bounded, public data).
    if len(segment) <= _HEADER_MEMO_MAX_SEGMENT:
        return _remembered_header(segment)
    return _read_header(segment)


@functools.lru_cache(maxsize=_HEADER_MEMO_SIZE)
def _remembered_header(segment: bytes) -> dict[str, Any]:
    return _read_header(segment)  # a refusal raises and is not remembered


def _read_header(segment: bytes) -> dict[str, Any]:
    if not segment:
        raise AuthError(Reason.MALFORMED, "empty header segment")
    try:
        header = strict_json(_b64url_decode_bytes(segment))
    except ValueError as exc:
        raise AuthError(Reason.MALFORMED, f"header segment is not base64url strict JSON: {exc}") from None
    if not isinstance(header, dict):
        raise AuthError(Reason.MALFORMED, "header is not a JSON object")
    return header


def parse_compact(token: object) -> CompactJWS:
    """Split and decode a compact JWS strictly; raises ``AuthError`` with a precise reason."""
    if not isinstance(token, str) or not token:
        raise AuthError(Reason.MALFORMED, "empty or non-string token")
    if len(token) > MAX_TOKEN_BYTES:
        raise AuthError(Reason.SIZE, f"token longer than {MAX_TOKEN_BYTES} bytes")
    if token.isascii():
        raw = token.encode("ascii")
        # The shape of almost every token, in one pass: base64url characters and exactly two dots. Such a
        # token skips the per-segment alphabet checks; any other takes the step-by-step path and its errors.
        if raw.translate(None, _ALPHABET) == b"..":
            head, body, tail = raw.split(b".")
            if head and body:
                header = _decode_header(head)
                if "enc" in header:
                    raise AuthError(Reason.TOKEN_TYPE, "JWE where a signed JWT was expected")
                # RFC 4648 §3.5: canonical, unpadded segments (the alphabet was checked above)
                body_rest, tail_rest = len(body) % 4, len(tail) % 4
                if (body_rest != 1 and tail_rest != 1
                        and (not body_rest or body[-1] in _LAST_CHAR_OK[body_rest])
                        and (not tail_rest or tail[-1] in _LAST_CHAR_OK[tail_rest])):
                    return CompactJWS(header, _a2b((body + _PADS[body_rest]).translate(_FROM_URLSAFE)),
                                      _a2b((tail + _PADS[tail_rest]).translate(_FROM_URLSAFE)),
                                      raw[: len(head) + 1 + len(body)])
                return _parse_shaped(raw, head, body, tail)  # says which segment is wrong
    if not token.isascii():
        raise AuthError(Reason.MALFORMED, "non-ASCII character in token")
    if token.startswith("{"):
        raise AuthError(Reason.MALFORMED, "JSON serialization where compact JWS was expected")
    parts = token.split(".")
    header = _decode_header(parts[0].encode("ascii"))
    if "enc" in header:
        raise AuthError(Reason.TOKEN_TYPE, "JWE where a signed JWT was expected")
    if len(parts) != 3:
        if "b64" in header:
            raise AuthError(Reason.HEADER, "b64 (RFC 7797 unencoded payload) is not accepted")
        raise AuthError(Reason.MALFORMED, f"{len(parts)} segments; a compact JWS has 3")
    if not parts[1]:
        raise AuthError(Reason.MALFORMED, "empty payload segment (detached content is not accepted)")
    head, body, tail = (part.encode("ascii") for part in parts)
    return _parse_shaped(token.encode("ascii"), head, body, tail, decode=_b64url_decode_bytes)


def _b64url_decode_bytes(segment: bytes) -> bytes:
    """``b64url_decode`` of ASCII bytes; raises ``ValueError``."""
    if not _SEGMENT_BYTES.fullmatch(segment):
        raise ValueError("not base64url")
    return _decode_alphabet_checked(segment)


def _parse_shaped(
    raw: bytes, header_seg: bytes, payload_seg: bytes, signature_seg: bytes,
    decode: Callable[[bytes], bytes] = _decode_alphabet_checked,
) -> CompactJWS:
    """The last steps of ``parse_compact``; ``decode`` checks the alphabet unless the one-pass check did."""
    header = _decode_header(header_seg)
    if "enc" in header:
        raise AuthError(Reason.TOKEN_TYPE, "JWE where a signed JWT was expected")
    try:
        payload = decode(payload_seg)
        signature = decode(signature_seg)
    except ValueError as exc:
        raise AuthError(Reason.MALFORMED, f"payload or signature segment: {exc}") from None
    return CompactJWS(header, payload, signature, raw[: len(header_seg) + 1 + len(payload_seg)])
